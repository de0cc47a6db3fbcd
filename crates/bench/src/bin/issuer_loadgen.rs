//! Load generator: full issuances (token with client attestation + PoP, nonce, credential
//! with proof) against a `symbolon serve --mode=issuer` process on loopback, reported per
//! second of the server process's own CPU time (`/proc/<pid>/stat` utime + stime).
//!
//! ```text
//! cargo build --release -p symbolon --bin symbolon -p symbolon-bench --bin issuer_loadgen
//! target/release/issuer_loadgen [--binary target/release/symbolon] [--concurrency 16]
//!     [--seconds 10] [--runs 5] [--postgres <url>] [--redis <url>] [--port 18600]
//!     [--server-cpus <list>] [--dpop] [--bind-access-token]
//! ```
//!
//! The wallets behave like a standard OpenID4VCI 1.0 wallet against the default issuer
//! configuration: the access token is sent as a bearer token at `/credential`. `--dpop`
//! makes every wallet use DPoP (a proof at `/token` and one, with `ath`, at `/credential`;
//! the issuer's default `[issuer.dpop] mode = "offered"` binds the token). `--bind-access-token`
//! sets the stricter `[issuer.attestation] bind_access_token` policy and sends the
//! attestation and a fresh PoP at `/credential` too (how figures before DPoP were measured).
//!
//! Before the server starts, the same-run crypto ceiling is measured in this process: the
//! ES256 operations one issuance costs the server in the chosen mode (verifications: the
//! PoP at `/token`, the proof; plus two DPoP proofs, or the PoP at `/credential`; one
//! signature: the credential), on one core.
//!
//! `--server-cpus 0` starts the server under `taskset -c 0` (run the generator itself under
//! `taskset -c 1`): server and client then do not compete for the same cores, as in the
//! peers' measurements.
//!
//! It writes a config and an attester JWKS into a temporary directory, starts the server
//! (embedded SQLite, single-use values in it too, by default; PostgreSQL and Redis when given),
//! creates the offers through the admin API before timing, warms up, then runs. Each
//! issuance is checked (one credential with a `~`); errors are counted and reported.
//! Output: one line per run and a `RESULT` line in the peers' format.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use client_attestation::{AttestationClaims, Environment, EvidenceType, KeyProtection, PopClaims};
use jose::{Algorithm, Signer, SoftwareSigner};
use oid4vci::ProofClaims;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Args {
    binary: String,
    concurrency: usize,
    seconds: u64,
    runs: usize,
    postgres: Option<String>,
    redis: Option<String>,
    port: u16,
    server_cpus: Option<String>,
    dpop: bool,
    bind_access_token: bool,
}

fn args() -> Args {
    let mut a = Args {
        binary: "target/release/symbolon".into(),
        concurrency: 16,
        seconds: 5,
        runs: 5,
        postgres: None,
        redis: None,
        port: 18600,
        server_cpus: None,
        dpop: false,
        bind_access_token: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--dpop" => {
                a.dpop = true;
                continue;
            }
            "--bind-access-token" => {
                a.bind_access_token = true;
                continue;
            }
            _ => {}
        }
        let v = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--binary" => a.binary = v,
            "--concurrency" => a.concurrency = v.parse().unwrap(),
            "--seconds" => a.seconds = v.parse().unwrap(),
            "--runs" => a.runs = v.parse().unwrap(),
            "--postgres" => a.postgres = Some(v),
            "--redis" => a.redis = Some(v),
            "--port" => a.port = v.parse().unwrap(),
            "--server-cpus" => a.server_cpus = Some(v),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

fn now() -> i64 {
    jose::Clock::now(&jose::SystemClock)
}

/// User + system CPU seconds of process `pid` so far.
fn cpu_secs(pid: u32) -> f64 {
    measure::process_cpu(pid).unwrap().as_secs_f64()
}
const ADMIN: &str = "loadgen-admin-token";

struct Wallet {
    instance: SoftwareSigner,
    holder: SoftwareSigner,
    /// The DPoP key, when the wallets use DPoP.
    dpop: Option<SoftwareSigner>,
    /// Send the attestation and a fresh PoP at `/credential` too.
    bind: bool,
    attestation: String,
    aud: String,
}

fn random_id() -> String {
    let mut jti = [0u8; 16];
    aws_lc_rs::rand::fill(&mut jti).unwrap();
    jose::b64::encode(jti)
}

impl Wallet {
    /// A DPoP proof for `POST url` (with `ath` for an access token), when DPoP is on.
    fn dpop_proof(&self, url: &str, access_token: Option<&str>) -> Option<String> {
        let key = self.dpop.as_ref()?;
        Some(
            oid4vci::DpopClaims {
                jti: random_id(),
                htm: "POST".into(),
                htu: url.to_owned(),
                iat: now(),
                access_token: access_token.map(str::to_owned),
                nonce: None,
            }
            .sign(key)
            .unwrap(),
        )
    }

    fn pop(&self) -> String {
        let mut jti = [0u8; 16];
        aws_lc_rs::rand::fill(&mut jti).unwrap();
        PopClaims {
            aud: self.aud.clone(),
            jti: jose::b64::encode(jti),
            iat: now(),
            challenge: None,
            legacy: None,
        }
        .sign(&self.instance)
        .unwrap()
    }
}

async fn issuance(
    http: &reqwest::Client,
    base: &str,
    w: &Wallet,
    code: &str,
) -> Result<(), String> {
    let form = format!(
        "grant_type={}&pre-authorized_code={}",
        url::form_urlencoded::byte_serialize(oid4vci::PRE_AUTHORIZED_CODE_GRANT.as_bytes())
            .collect::<String>(),
        code
    );
    let token_url = format!("{base}/token");
    let mut r = http
        .post(&token_url)
        .header(client_attestation::ATTESTATION_HEADER, &w.attestation)
        .header(client_attestation::POP_HEADER, w.pop())
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(proof) = w.dpop_proof(&token_url, None) {
        r = r.header("DPoP", proof);
    }
    let r = r.body(form).send().await.map_err(|e| e.to_string())?;
    if r.status() != 200 {
        return Err(format!(
            "token {} {}",
            r.status(),
            r.text().await.unwrap_or_default()
        ));
    }
    let token: Value = r.json().await.map_err(|e| e.to_string())?;
    let at = token["access_token"]
        .as_str()
        .ok_or("no access token")?
        .to_owned();
    let expected_type = if w.dpop.is_some() { "DPoP" } else { "Bearer" };
    if token["token_type"].as_str() != Some(expected_type) {
        return Err(format!(
            "token_type {} (expected {expected_type})",
            token["token_type"]
        ));
    }
    let n: Value = http
        .post(format!("{base}/nonce"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let nonce = n["c_nonce"].as_str().ok_or("no nonce")?;
    let proof = ProofClaims {
        aud: base.to_owned(),
        iat: now(),
        nonce: Some(nonce.to_owned()),
        iss: None,
    }
    .sign(&w.holder)
    .map_err(|e| e.to_string())?;
    let body = json!({"credential_configuration_id": issuer::demo::CLASSROOM_PASS_ID, "proofs": {"jwt": [proof]}});
    let credential_url = format!("{base}/credential");
    let mut r = http.post(&credential_url);
    r = match w.dpop_proof(&credential_url, Some(&at)) {
        Some(proof) => r
            .header("authorization", format!("DPoP {at}"))
            .header("DPoP", proof),
        None => r.bearer_auth(&at),
    };
    if w.bind {
        r = r
            .header(client_attestation::ATTESTATION_HEADER, &w.attestation)
            .header(client_attestation::POP_HEADER, w.pop());
    }
    let r = r.json(&body).send().await.map_err(|e| e.to_string())?;
    if r.status() != 200 {
        return Err(format!(
            "credential {} {}",
            r.status(),
            r.text().await.unwrap_or_default()
        ));
    }
    let c: Value = r.json().await.map_err(|e| e.to_string())?;
    let cred = c["credentials"][0]["credential"]
        .as_str()
        .ok_or("no credential")?;
    if cred.matches('~').count() != 7 {
        return Err(format!("unexpected credential {cred}"));
    }
    Ok(())
}

async fn offers(http: &reqwest::Client, base: &str, n: usize, parallel: usize) -> Vec<String> {
    let mut tasks = Vec::new();
    for p in 0..parallel {
        let (http, base) = (http.clone(), base.to_owned());
        let share = n / parallel + usize::from(p < n % parallel);
        tasks.push(tokio::spawn(async move {
            let claims = issuer::demo::example_claims();
            let mut out = Vec::with_capacity(share);
            for _ in 0..share {
                let o: Value = http
                    .post(format!("{base}/admin/offers"))
                    .bearer_auth(ADMIN)
                    .json(&json!({"credential_configuration_ids": [issuer::demo::CLASSROOM_PASS_ID], "claims": claims}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let uri = oid4vci::OfferUri::parse(o["offer_uri"].as_str().unwrap(), oid4vci::OfferUriOptions::default()).unwrap();
                let oid4vci::OfferReference::ByValue(offer) = uri.offer else { panic!() };
                out.push(offer.pre_authorized_code.unwrap().pre_authorized_code);
            }
            out
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

struct Run {
    ok: u64,
    errors: u64,
    wall: f64,
    server_cpu: f64,
}

async fn run(
    http: &reqwest::Client,
    base: &str,
    wallets: &[Arc<Wallet>],
    codes: &Arc<Vec<String>>,
    next: &Arc<AtomicUsize>,
    pid: u32,
    seconds: u64,
) -> Run {
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let c0 = cpu_secs(pid);
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for w in wallets {
        let (http, base, w, codes, next, ok, errors) = (
            http.clone(),
            base.to_owned(),
            Arc::clone(w),
            Arc::clone(codes),
            Arc::clone(next),
            Arc::clone(&ok),
            Arc::clone(&errors),
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(code) = codes.get(i) else { break };
                match issuance(&http, &base, &w, code).await {
                    Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("error: {e}");
                        }
                        0
                    }
                };
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let wall = start.elapsed().as_secs_f64();
    let server_cpu = cpu_secs(pid) - c0;
    Run {
        ok: ok.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        wall,
        server_cpu,
    }
}

/// CPU time (user + system) of this process, in seconds.
fn own_cpu() -> f64 {
    cpu_secs(std::process::id())
}

/// The crypto ceiling of one issuance in this mode, on one core: `verifies` ES256
/// verifications (key parsed once) and one ES256 signature, repeated; issuances per
/// CPU-second of this process.
fn crypto_ceiling(verifies: usize) -> f64 {
    let key = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let public = jose::VerifyingKey::from_jwk(key.public_jwk()).unwrap();
    let message = b"eyJhbGciOiJFUzI1NiJ9.eyJub25jZSI6Im4ifQ";
    let signature = key.sign(message).unwrap();
    let n = 4000;
    let c0 = own_cpu();
    for _ in 0..n {
        for _ in 0..verifies {
            public
                .verify(Algorithm::Es256, message, &signature)
                .unwrap();
        }
        key.sign(message).unwrap();
    }
    n as f64 / (own_cpu() - c0)
}

fn main() {
    let a = args();
    // PoP at /token and the proof; two DPoP proofs, or the PoP at /credential.
    let verifies = 2 + if a.dpop { 2 } else { 0 } + usize::from(a.bind_access_token);
    let ceilings: Vec<f64> = (0..3).map(|_| crypto_ceiling(verifies)).collect();
    let mut sorted = ceilings.clone();
    sorted.sort_by(f64::total_cmp);
    let ceiling = sorted[1];
    eprintln!(
        "crypto ceiling ({verifies} x ES256 verify + 1 x ES256 sign per issuance, one core): {ceiling:.0} per CPU-second ({})",
        ceilings
            .iter()
            .map(|c| format!("{c:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let attester = SoftwareSigner::generate(Algorithm::Es256).unwrap().with_kid("loadgen-attester");
        let jwks = dir.path().join("attester.json");
        std::fs::write(&jwks, json!({"keys": [attester.public_jwk().to_value()]}).to_string()).unwrap();
        let base = format!("http://127.0.0.1:{}", a.port);
        let database = match &a.postgres {
            Some(url) => format!("database_url = \"{url}\""),
            None => String::new(),
        };
        let cache = match &a.redis {
            Some(url) => format!("[issuer.cache]\nredis_url = \"{url}\"\n"),
            None => String::new(),
        };
        let config = format!(
            "data_dir = \"{data}\"\n[server]\nlisten = \"127.0.0.1:{port}\"\nallow_http_loopback = true\n[metrics]\nenabled = false\n\
             [issuer]\nadmin_token = \"{ADMIN}\"\ndemo = true\noffer_ttl = \"1h\"\n{database}\n\
             [issuer.keys]\nkek = {{ key = {{ env = \"LOADGEN_KEK\" }} }}\n\
             [issuer.attestation]\njwks_file = \"{jwks}\"\nbind_access_token = {bind}\n{cache}",
            data = dir.path().join("data").display(),
            port = a.port,
            jwks = jwks.display(),
            bind = a.bind_access_token,
        );
        let config_path = dir.path().join("issuer.toml");
        std::fs::write(&config_path, config).unwrap();
        let mut kek = [0u8; 32];
        aws_lc_rs::rand::fill(&mut kek).unwrap();
        let mut command = match &a.server_cpus {
            Some(cpus) => {
                let mut c = std::process::Command::new("taskset");
                c.args(["-c", cpus.as_str(), a.binary.as_str()]);
                c
            }
            None => std::process::Command::new(&a.binary),
        };
        let mut child = command
            .args(["serve", "--mode=issuer", "--config"])
            .arg(&config_path)
            .env("LOADGEN_KEK", jose::b64::encode(kek))
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start the symbolon binary (build it with --release first)");
        let pid = child.id();
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(a.concurrency * 2)
            .build()
            .unwrap();
        let mut ready = false;
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{base}/readyz")).send().await
                && r.status() == 200
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "the issuer did not become ready");

        let per_run_guess = 3500 * a.seconds as usize;
        let total = per_run_guess * (a.runs + 1) + 200;
        eprintln!("creating {total} offers ...");
        let codes = Arc::new(offers(&http, &base, total, a.concurrency).await);
        let env = Environment {
            evidence: EvidenceType::Kubernetes,
            key_protection: KeyProtection::Pkcs11,
            namespace: Some("cvm-wallets".into()),
            service_account: Some("wallet-sa".into()),
            extra: Map::new(),
        };
        let wallets: Vec<Arc<Wallet>> = (0..a.concurrency)
            .map(|_| {
                let instance = SoftwareSigner::generate(Algorithm::Es256).unwrap();
                let attestation = AttestationClaims {
                    issuer: Some("https://attester.example".into()),
                    client_id: "https://wallet.example/client".into(),
                    iat: now(),
                    exp: now() + 3600,
                    cnf: instance.public_jwk().clone(),
                    jti: None,
                    environment: Some(env.clone()),
                    extra: Map::new(),
                }
                .sign(&attester, None)
                .unwrap();
                Arc::new(Wallet {
                    instance,
                    holder: SoftwareSigner::generate(Algorithm::Es256).unwrap(),
                    dpop: a.dpop.then(|| SoftwareSigner::generate(Algorithm::Es256).unwrap()),
                    bind: a.bind_access_token,
                    attestation,
                    aud: base.clone(),
                })
            })
            .collect();
        let next = Arc::new(AtomicUsize::new(0));
        eprintln!("offers created; warming up (server pid {pid})");
        // One checked issuance, then a warm-up.
        issuance(&http, &base, &wallets[0], &codes[next.fetch_add(1, Ordering::Relaxed)]).await.expect("sanity issuance");
        run(&http, &base, &wallets, &codes, &next, pid, 2).await;
        let mut results = Vec::new();
        for i in 0..a.runs {
            let r = run(&http, &base, &wallets, &codes, &next, pid, a.seconds).await;
            let per_cpu = r.ok as f64 / r.server_cpu;
            eprintln!(
                "run {}: {:.0} issuances/s (ok={} err={}) server CPU {:.0}% -> {:.0} issuances per server-CPU-second",
                i + 1,
                r.ok as f64 / r.wall,
                r.ok,
                r.errors,
                100.0 * r.server_cpu / r.wall,
                per_cpu
            );
            results.push((per_cpu, r.ok as f64 / r.wall));
        }
        let _ = child.kill();
        let _ = child.wait();
        let mut per_cpu: Vec<f64> = results.iter().map(|r| r.0).collect();
        let mut per_wall: Vec<f64> = results.iter().map(|r| r.1).collect();
        per_cpu.sort_by(f64::total_cmp);
        per_wall.sort_by(f64::total_cmp);
        let label = match (&a.postgres, &a.redis) {
            (None, _) => "embedded (SQLite)",
            (Some(_), None) => "PostgreSQL",
            (Some(_), Some(_)) => "PostgreSQL + Redis",
        };
        let label = format!(
            "{label}, {}{}",
            if a.dpop { "DPoP" } else { "bearer" },
            if a.bind_access_token { ", bind_access_token" } else { "" }
        );
        let pinned = a
            .server_cpus
            .as_ref()
            .map(|c| format!(", server on cpu {c}"))
            .unwrap_or_default();
        println!(
            "RESULT\tsymbolon-issuer\tfull_issuance ({label}{pinned}, c={})\t{:.0}\t{:.0}\t{}",
            a.concurrency,
            per_cpu[per_cpu.len() / 2],
            per_wall[per_wall.len() / 2],
            results.iter().map(|r| format!("{:.0}", r.0)).collect::<Vec<_>>().join(" ")
        );
        println!(
            "RESULT\tcrypto-ceiling\tfull_issuance ({verifies} verify + 1 sign, one core)\t{ceiling:.0}\t{ceiling:.0}\t{}",
            ceilings.iter().map(|c| format!("{c:.0}")).collect::<Vec<_>>().join(" ")
        );
    });
}
