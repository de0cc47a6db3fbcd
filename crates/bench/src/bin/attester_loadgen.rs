//! Load generator for the attester: attestations signed per server CPU-second, with the
//! software A-Key and with the A-Key inside the SoftHSM2 token.
//!
//! ```sh
//! source /work/svc.env          # or: eval "$(scripts/softhsm-setup.sh /tmp/x)"
//! # the raw ES256 sign rate of each key store, in this process (the ceiling)
//! cargo run --release -p symbolon-bench --bin attester_loadgen -- raw 5000
//! # over HTTP against the release binary, measuring the server process's CPU time
//! cargo build --release -p symbolon
//! cargo run --release -p symbolon-bench --bin attester_loadgen -- http 5000 target/release/symbolon 8 softhsm
//! cargo run --release -p symbolon-bench --bin attester_loadgen -- http 5000 target/release/symbolon 8 software
//! ```
//!
//! Every attestation is the full wallet flow against `symbolon serve --mode=attester`:
//! `POST /v1/challenge`, the challenge signed with the wallet's CI-Key (ES256), `POST
//! /v1/attestations` with `dev` evidence (so no TokenReview round trip is measured); the
//! attester parses the request, checks the rate limit (one identity, limit set out of the
//! way), verifies the proof of possession, consumes the challenge, appends the audit
//! record to SQLite (batched commits) and signs with the A-Key. The figure is attestations
//! divided by the *server process's* user + system CPU time during the timed phase (from
//! `/proc/<pid>/stat`), so the load generator's own CPU (its CI-Key signatures, HTTP
//! client) does not count; the wall-clock rate is printed too.
//!
//! The SoftHSM runs take the test token's cross-process lock for their whole duration and
//! create (and afterwards destroy) a key of their own in it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use client_attestation::proof::sign_challenge_response;
use jose::{Algorithm, Clock, Signer, SoftwareSigner, SystemClock};
use serde_json::{Value, json};

/// User + system CPU seconds of process `pid` so far.
fn cpu_of(pid: u32) -> f64 {
    measure::process_cpu(pid).unwrap().as_secs_f64()
}

fn own_cpu() -> f64 {
    cpu_of(std::process::id())
}

fn report(what: &str, n: usize, cpu: f64, wall: Duration) {
    println!(
        "{what:<44} {n:>6} in {:>6.2} s wall, {:>6.2} s CPU: {:>7.0}/CPU-s, {:>7.0}/s wall",
        wall.as_secs_f64(),
        cpu,
        n as f64 / cpu.max(0.001),
        n as f64 / wall.as_secs_f64()
    );
}

/// A key of our own in the SoftHSM2 test token, with the token lock held.
struct HsmKey {
    _lock: keys::testing::TokenLock,
    token: keys::testing::TestToken,
    label: String,
}

impl HsmKey {
    fn create() -> HsmKey {
        let lock = keys::testing::lock_token().unwrap();
        let token = keys::testing::test_token().unwrap();
        let label = format!("attester-loadgen-{}", std::process::id());
        let t = Self::open(&token);
        let _ = t.destroy_key(&label);
        t.init_key(&label).unwrap();
        HsmKey {
            _lock: lock,
            token,
            label,
        }
    }

    fn open(t: &keys::testing::TestToken) -> keys::pkcs11::Pkcs11Token {
        keys::pkcs11::Pkcs11Token::open_with_pin(&t.module, &t.label, t.pin.clone(), 4).unwrap()
    }

    fn signer(&self) -> keys::pkcs11::Pkcs11Signer {
        Self::open(&self.token).signer(&self.label).unwrap()
    }
}

impl Drop for HsmKey {
    fn drop(&mut self) {
        let _ = Self::open(&self.token).destroy_key(&self.label);
    }
}

/// Signs `n` messages with `signer` from `threads` threads.
fn sign_many(signer: Arc<dyn Signer>, n: usize, threads: usize) {
    let left = Arc::new(AtomicUsize::new(n));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let signer = Arc::clone(&signer);
            let left = Arc::clone(&left);
            std::thread::spawn(move || {
                let mut message = [0u8; 200];
                while left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
                    .is_ok()
                {
                    message[0] = message[0].wrapping_add(1);
                    signer.sign(&message).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
}

fn raw(n: usize) {
    let software = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let software: Arc<dyn Signer> = Arc::new(software);
    let hsm = HsmKey::create();
    let pkcs11: Arc<dyn Signer> = Arc::new(hsm.signer());
    for (name, signer) in [("software ES256", software), ("SoftHSM2 ES256", pkcs11)] {
        for threads in [1, 2] {
            let (cpu0, t0) = (own_cpu(), Instant::now());
            sign_many(Arc::clone(&signer), n, threads);
            report(
                &format!("raw sign, {name}, {threads} thread(s)"),
                n,
                own_cpu() - cpu0,
                t0.elapsed(),
            );
        }
    }
}

/// Where the attester under load keeps its A-Key.
enum KeyStore {
    Software,
    SoftHsm(HsmKey),
}

fn config(dir: &std::path::Path, port: u16, key: &KeyStore) -> String {
    let key_section = match key {
        KeyStore::Software => format!(
            "[attester.software_key]\nkey_file = {:?}\nkek = {{ key = {{ env = \"LOADGEN_KEK\" }} }}\n",
            dir.join("a-key.sealed").display().to_string()
        ),
        KeyStore::SoftHsm(k) => format!(
            "[attester.pkcs11]\nmodule = {:?}\ntoken_label = {:?}\nkey_label = {:?}\npin = {{ env = \"LOADGEN_HSM_PIN\" }}\nmax_sessions = 4\n",
            k.token.module.display().to_string(),
            k.token.label,
            k.label
        ),
    };
    format!(
        r#"data_dir = {data:?}
[server]
listen = "127.0.0.1:{port}"
allow_http_loopback = true
[metrics]
enabled = false
[attester]
dev_evidence = true
[attester.kubernetes]
enabled = false
[attester.rate_limit]
requests = 100000000
window = "1h"
{key_section}"#,
        data = dir.display().to_string(),
    )
}

/// One wallet's attestation, the whole flow.
async fn attest(client: &reqwest::Client, base: &str, ci: &SoftwareSigner, client_id: &str) {
    let challenge: Value = client
        .post(format!("{base}/v1/challenge"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let challenge = challenge["attestation_challenge"].as_str().unwrap();
    let response =
        sign_challenge_response(ci, challenge, base, client_id, SystemClock.now()).unwrap();
    let r = client
        .post(format!("{base}/v1/attestations"))
        .json(&json!({
            "client_id": client_id,
            "ci_jwk": ci.public_jwk().to_value(),
            "challenge_response": response,
            "evidence": {"type": "dev"},
        }))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body["client_attestation"].is_string(), "{body}");
}

async fn http(n: usize, binary: &str, concurrency: usize, key: KeyStore) {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let path = dir.path().join("attester.toml");
    std::fs::write(&path, config(dir.path(), port, &key)).unwrap();
    let mut command = std::process::Command::new(binary);
    command
        .args(["serve", "--mode=attester", "--config"])
        .arg(&path)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit());
    match &key {
        KeyStore::Software => {
            let mut kek = [0u8; 32];
            aws_lc_rs::rand::fill(&mut kek).unwrap();
            command.env("LOADGEN_KEK", jose::b64::encode_std(kek));
        }
        KeyStore::SoftHsm(k) => {
            use keys::ExposeSecret;
            command.env("LOADGEN_HSM_PIN", k.token.pin.expose_secret());
        }
    }
    let mut child = command.spawn().unwrap();
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the attester did not become ready");
    let keys: Vec<Arc<SoftwareSigner>> = (0..concurrency)
        .map(|_| Arc::new(SoftwareSigner::generate(Algorithm::Es256).unwrap()))
        .collect();
    // Warm up: connections, the SQLite file, the token sessions.
    for (i, ci) in keys.iter().enumerate() {
        attest(&client, &base, ci, &format!("wallet-{i}")).await;
    }

    let left = Arc::new(AtomicUsize::new(n));
    let (cpu0, t0) = (cpu_of(child.id()), Instant::now());
    let mut tasks = Vec::new();
    for (i, ci) in keys.into_iter().enumerate() {
        let left = Arc::clone(&left);
        let client = client.clone();
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            let client_id = format!("wallet-{i}");
            while left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
                .is_ok()
            {
                attest(&client, &base, &ci, &client_id).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (cpu, wall) = (cpu_of(child.id()) - cpu0, t0.elapsed());
    let name = match key {
        KeyStore::Software => "software",
        KeyStore::SoftHsm(_) => "SoftHSM2",
    };
    report(
        &format!("HTTP, {name} A-Key, concurrency {concurrency}"),
        n,
        cpu,
        wall,
    );
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    // The audit log holds every attestation (warm-up included), chained.
    let db = store::Database::connect(
        &store::Database::sqlite_url(&dir.path().join("attester").join("audit.db")).unwrap(),
    )
    .await
    .unwrap();
    let log = attester::audit::sql::SqlAudit::new(db).await.unwrap();
    let summary = attester::audit::verify(&log, None).await.unwrap();
    println!(
        "audit chain verified: {} records (expected {})",
        summary.records,
        n + concurrency
    );
    drop(key);
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2000);
    match args.get(1).map(String::as_str) {
        Some("raw") => raw(n),
        Some("http") => {
            let binary = args
                .get(3)
                .map_or("target/release/symbolon", String::as_str);
            let concurrency = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(8);
            let key = match args.get(5).map(String::as_str) {
                Some("software") => KeyStore::Software,
                _ => KeyStore::SoftHsm(HsmKey::create()),
            };
            http(n, binary, concurrency, key).await;
        }
        _ => eprintln!(
            "usage: attester_loadgen raw [N] | attester_loadgen http [N] [BINARY] [CONCURRENCY] [softhsm|software]"
        ),
    }
}
