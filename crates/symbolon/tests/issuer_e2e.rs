//! The issuer through the real binary: `examples/issuer.toml` passes `config check`, and
//! two `symbolon serve --mode=issuer` processes sharing one PostgreSQL schema and one Redis
//! refuse a pre-authorized code, a `c_nonce` and a PoP `jti` the second time, whichever
//! process sees them — also after one of them restarts — and sign with the same key; and
//! one process in the embedded default (SQLite, no cache section) refuses the same replays
//! after a restart.
//!
//! Needs `TEST_POSTGRES_URL` and `TEST_REDIS_URL` (scripts/test.sh starts both).

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use client_attestation::{AttestationClaims, Environment, EvidenceType, KeyProtection, PopClaims};
use common::{Server, free_port, symbolon};
use jose::{Algorithm, Clock, Signer, SoftwareSigner};
use serde_json::{Map, Value, json};

const ADMIN: &str = "e2e-issuer-admin-token";
const CLIENT_ID: &str = "https://wallet.example/client";
const CONFIG_ID: &str = "student_card";

#[test]
fn the_example_issuer_configuration_is_accepted() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = symbolon()
        .args(["config", "check", "--config", "examples/issuer.toml"])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("[issuer.credentials.student_card]"), "{text}");
    assert!(text.contains("admin_token = \"<redacted>\""), "{text}");
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: start the test services (scripts/test.sh, or scripts/pg-setup.sh and scripts/redis-setup.sh)")
    })
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A fresh PostgreSQL schema of its own; the URL makes it the search path.
async fn schema() -> String {
    let base = env("TEST_POSTGRES_URL");
    let name = format!("issuer_e2e_{}", random_hex(6));
    let admin = store::Database::connect(&base).await.unwrap();
    // The store's migration runner is the one way this crate runs SQL; the name is hex.
    let sql: &'static str = Box::leak(format!("CREATE SCHEMA {name}").into_boxed_str());
    let component: &'static str = Box::leak(name.clone().into_boxed_str());
    let migrations: &'static [store::Migration] =
        Box::leak(vec![store::Migration::portable(1, "schema", sql)].into_boxed_slice());
    admin.migrate(component, migrations).await.unwrap();
    admin.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}options[search_path]={name}")
}

struct Replica {
    _server: Server,
    url: String,
}

async fn start(dir: &Path, name: &str, port: u16, shared: &str, kek: &str) -> Replica {
    let config = format!(
        "data_dir = \"{data}\"\n[server]\nlisten = \"127.0.0.1:{port}\"\nallow_http_loopback = true\n\
         [metrics]\nenabled = false\n{shared}",
        data = dir.join(name).display(),
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, config).unwrap();
    let child = symbolon()
        .args(["serve", "--mode=issuer", "--config"])
        .arg(&path)
        .env("ISSUER_E2E_KEK", kek)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap())
        .spawn()
        .unwrap();
    let server = Server(child);
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{url}/readyz")).send().await
            && r.status() == 200
        {
            return Replica {
                _server: server,
                url,
            };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the issuer {name} did not become ready");
}

struct Wallet {
    instance: SoftwareSigner,
    holder: SoftwareSigner,
    attestation: String,
    aud: String,
}

fn now() -> i64 {
    jose::SystemClock.now()
}

impl Wallet {
    fn new(attester: &SoftwareSigner, aud: &str) -> Wallet {
        let instance = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let attestation = AttestationClaims {
            issuer: Some("https://attester.example".into()),
            client_id: CLIENT_ID.into(),
            iat: now(),
            exp: now() + 3600,
            cnf: instance.public_jwk().clone(),
            jti: None,
            environment: Some(Environment {
                evidence: EvidenceType::Kubernetes,
                key_protection: KeyProtection::Pkcs11,
                namespace: Some("cvm-wallets".into()),
                service_account: Some("wallet-sa".into()),
                extra: Map::new(),
            }),
            extra: Map::new(),
        }
        .sign(attester, None)
        .unwrap();
        Wallet {
            instance,
            holder: SoftwareSigner::generate(Algorithm::Es256).unwrap(),
            attestation,
            aud: aud.to_owned(),
        }
    }

    fn pop(&self, jti: &str) -> String {
        PopClaims {
            aud: self.aud.clone(),
            jti: jti.to_owned(),
            iat: now(),
            challenge: None,
            legacy: None,
        }
        .sign(&self.instance)
        .unwrap()
    }

    fn proof(&self, nonce: &str) -> String {
        oid4vci::ProofClaims {
            aud: self.aud.clone(),
            iat: now(),
            nonce: Some(nonce.to_owned()),
            iss: None,
        }
        .sign(&self.holder)
        .unwrap()
    }
}

struct Client {
    http: reqwest::Client,
}

impl Client {
    async fn offer(&self, r: &Replica) -> String {
        let o: Value = self
            .http
            .post(format!("{}/admin/offers", r.url))
            .bearer_auth(ADMIN)
            .json(&json!({"credential_configuration_ids": [CONFIG_ID], "claims": {"given_name": "Ada"}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let uri = oid4vci::OfferUri::parse(
            o["offer_uri"].as_str().unwrap(),
            oid4vci::OfferUriOptions {
                allow_http_loopback: true,
            },
        )
        .unwrap();
        let oid4vci::OfferReference::ByValue(offer) = uri.offer else {
            panic!("offer by value expected")
        };
        offer.pre_authorized_code.unwrap().pre_authorized_code
    }

    /// `/token` with a PoP of the given `jti`: (status, body).
    async fn token(&self, r: &Replica, w: &Wallet, code: &str, jti: &str) -> (u16, Value) {
        let form = format!(
            "grant_type={}&pre-authorized_code={}",
            url::form_urlencoded::byte_serialize(oid4vci::PRE_AUTHORIZED_CODE_GRANT.as_bytes())
                .collect::<String>(),
            url::form_urlencoded::byte_serialize(code.as_bytes()).collect::<String>()
        );
        let resp = self
            .http
            .post(format!("{}/token", r.url))
            .header(client_attestation::ATTESTATION_HEADER, &w.attestation)
            .header(client_attestation::POP_HEADER, w.pop(jti))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    async fn nonce(&self, r: &Replica) -> String {
        let n: Value = self
            .http
            .post(format!("{}/nonce", r.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        n["c_nonce"].as_str().unwrap().to_owned()
    }

    async fn credential(&self, r: &Replica, w: &Wallet, at: &str, nonce: &str) -> (u16, Value) {
        self.credential_with_pop(r, w, at, nonce, &w.pop(&random_hex(16)))
            .await
    }

    /// `/credential` with a given attestation PoP (a captured one, for replays).
    async fn credential_with_pop(
        &self,
        r: &Replica,
        w: &Wallet,
        at: &str,
        nonce: &str,
        pop: &str,
    ) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}/credential", r.url))
            .bearer_auth(at)
            .header(client_attestation::ATTESTATION_HEADER, &w.attestation)
            .header(client_attestation::POP_HEADER, pop)
            .json(&json!({"credential_configuration_id": CONFIG_ID, "proofs": {"jwt": [w.proof(nonce)]}}))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }
}

fn kid(response: &Value) -> String {
    let credential = response["credentials"][0]["credential"].as_str().unwrap();
    jose::CompactJws::parse(credential.split('~').next().unwrap())
        .unwrap()
        .header()
        .kid()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_issuer_processes_sharing_postgres_and_redis_refuse_replays_also_after_a_restart() {
    let database_url = schema().await;
    let redis_url = env("TEST_REDIS_URL");
    let dir = tempfile::tempdir().unwrap();
    let attester = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let jwks = dir.path().join("attester-jwks.json");
    std::fs::write(
        &jwks,
        json!({"keys": [attester.public_jwk().to_value()]}).to_string(),
    )
    .unwrap();
    let mut kek = [0u8; 32];
    aws_lc_rs::rand::fill(&mut kek).unwrap();
    let kek = jose::b64::encode(kek);
    let (pa, pb) = (free_port(), free_port());
    // Both replicas answer under one identifier (as behind a load balancer).
    let identifier = format!("http://127.0.0.1:{pa}");
    let shared = format!(
        "[issuer]\nidentifier = \"{identifier}\"\nadmin_token = \"{ADMIN}\"\ndatabase_url = \"{database_url}\"\n\
         [issuer.cache]\nredis_url = \"{redis_url}\"\nredis_prefix = \"issuer-e2e-{prefix}:\"\n\
         [issuer.keys]\nkek = {{ key = {{ env = \"ISSUER_E2E_KEK\" }} }}\n\
         [issuer.attestation]\njwks_file = \"{jwks}\"\n\
         [issuer.credentials.{CONFIG_ID}]\nvct = \"urn:example:student-card\"\n\
         [[issuer.credentials.{CONFIG_ID}.claims]]\npath = [\"given_name\"]\nmandatory = true\n",
        prefix = random_hex(6),
        jwks = jwks.display(),
    );
    let a = start(dir.path(), "a", pa, &shared, &kek).await;
    let b = start(dir.path(), "b", pb, &shared, &kek).await;
    let c = Client {
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    };
    let w = Wallet::new(&attester, &identifier);

    // The code: redeemed at A, refused at B.
    let code = c.offer(&a).await;
    let (status, token) = c.token(&a, &w, &code, &random_hex(16)).await;
    assert_eq!(status, 200, "{token}");
    let at = token["access_token"].as_str().unwrap().to_owned();
    let (status, body) = c.token(&b, &w, &code, &random_hex(16)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // The PoP jti: accepted at B, refused at A.
    let jti = random_hex(16);
    let (status, _) = c.token(&b, &w, &c.offer(&b).await, &jti).await;
    assert_eq!(status, 200);
    let spare = c.offer(&a).await;
    let (status, body) = c.token(&a, &w, &spare, &jti).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client"))
    );

    // The nonce: from A, used at A, refused at B; the access token from A works at B.
    let nonce = c.nonce(&a).await;
    let (status, at_a) = c.credential(&a, &w, &at, &nonce).await;
    assert_eq!(status, 200, "{at_a}");
    let (status, body) = c.credential(&b, &w, &at, &nonce).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_nonce"))
    );
    let (status, at_b) = c.credential(&b, &w, &at, &c.nonce(&a).await).await;
    assert_eq!(status, 200, "{at_b}");
    assert_eq!(kid(&at_a), kid(&at_b), "one signing key per period");

    // A restarts: the spent code, nonce and jti stay spent; the spare code still works.
    drop(a);
    let a = start(dir.path(), "a", pa, &shared, &kek).await;
    let (status, body) = c.token(&a, &w, &code, &random_hex(16)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = c.credential(&a, &w, &at, &nonce).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_nonce"))
    );
    let (status, body) = c.token(&a, &w, &spare, &jti).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client"))
    );
    let (status, body) = c.token(&a, &w, &spare, &random_hex(16)).await;
    assert_eq!(status, 200, "{body}");
    let (status, after) = c.credential(&a, &w, &at, &c.nonce(&b).await).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(kid(&after), kid(&at_a), "the key survives the restart");
    drop(b);
}

/// The embedded default (SQLite under the data directory, no `[issuer.cache]`) keeps PoP
/// `jti`s, nonces and codes in the database: what was captured before a restart of the
/// binary cannot be replayed after it, neither at `/token` with a fresh code nor at
/// `/credential` with the access token and a fresh nonce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_embedded_default_refuses_replays_captured_before_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let attester = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let jwks = dir.path().join("attester-jwks.json");
    std::fs::write(
        &jwks,
        json!({"keys": [attester.public_jwk().to_value()]}).to_string(),
    )
    .unwrap();
    let mut kek = [0u8; 32];
    aws_lc_rs::rand::fill(&mut kek).unwrap();
    let kek = jose::b64::encode(kek);
    let port = free_port();
    let identifier = format!("http://127.0.0.1:{port}");
    // No database_url and no cache section: the defaults a single-node install runs with.
    // `bind_access_token` (the stricter policy) makes /credential consume an attestation PoP
    // too, so a captured one can be replayed there.
    let section = format!(
        "[issuer]\nidentifier = \"{identifier}\"\nadmin_token = \"{ADMIN}\"\n\
         [issuer.keys]\nkek = {{ key = {{ env = \"ISSUER_E2E_KEK\" }} }}\n\
         [issuer.attestation]\njwks_file = \"{jwks}\"\nbind_access_token = true\n\
         [issuer.credentials.{CONFIG_ID}]\nvct = \"urn:example:student-card\"\n\
         [[issuer.credentials.{CONFIG_ID}.claims]]\npath = [\"given_name\"]\nmandatory = true\n",
        jwks = jwks.display(),
    );
    let c = Client {
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    };
    let w = Wallet::new(&attester, &identifier);

    let server = start(dir.path(), "single", port, &section, &kek).await;
    let token_jti = random_hex(16);
    let (status, token) = c
        .token(&server, &w, &c.offer(&server).await, &token_jti)
        .await;
    assert_eq!(status, 200, "{token}");
    let at = token["access_token"].as_str().unwrap().to_owned();
    let nonce = c.nonce(&server).await;
    let captured_pop = w.pop(&random_hex(16));
    let (status, body) = c
        .credential_with_pop(&server, &w, &at, &nonce, &captured_pop)
        .await;
    assert_eq!(status, 200, "{body}");
    let pending_nonce = c.nonce(&server).await;

    // Killed, not stopped: nothing gets a chance to flush.
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &server._server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    drop(server);
    let server = start(dir.path(), "single", port, &section, &kek).await;

    // The token request's PoP with a fresh code.
    let (status, body) = c
        .token(&server, &w, &c.offer(&server).await, &token_jti)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client")),
        "{body}"
    );
    // The access token (bound to the instance key) and the credential request's PoP with a
    // fresh nonce.
    let (status, body) = c
        .credential_with_pop(&server, &w, &at, &c.nonce(&server).await, &captured_pop)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );
    // The spent nonce stays spent; one handed out before the restart still works once.
    let (status, body) = c.credential(&server, &w, &at, &nonce).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_nonce")),
        "{body}"
    );
    let (status, body) = c.credential(&server, &w, &at, &pending_nonce).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = c.credential(&server, &w, &at, &pending_nonce).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_nonce")),
        "{body}"
    );
}

/// A throwaway PostgreSQL server of this test's own (`scripts/pg-setup.sh` in a temporary
/// directory, on a free port), so it can be restarted without disturbing other tests;
/// stopped when dropped.
struct OwnPostgres {
    dir: tempfile::TempDir,
    port: u16,
}

impl OwnPostgres {
    fn script() -> String {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg-setup.sh").to_owned()
    }

    fn start() -> (OwnPostgres, String) {
        let dir = tempfile::tempdir().unwrap();
        // The server runs as the `postgres` user, which must reach its directory.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let pg = OwnPostgres {
            dir,
            port: free_port(),
        };
        let url = pg.up();
        (pg, url)
    }

    /// Starts the server (again): its URL.
    fn up(&self) -> String {
        let out = std::process::Command::new(Self::script())
            .arg(self.dir.path())
            .arg(self.port.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8(out.stdout).unwrap();
        line.trim()
            .strip_prefix("export TEST_POSTGRES_URL=")
            .unwrap()
            .to_owned()
    }

    /// Stops it (fast shutdown: open sessions are terminated "due to administrator
    /// command").
    fn down(&self) {
        let out = std::process::Command::new(Self::script())
            .arg("--stop")
            .arg(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = std::process::Command::new(Self::script())
            .arg("--stop")
            .arg(self.dir.path())
            .output();
    }
}

/// One answer seen under load.
#[derive(Debug)]
struct Seen {
    step: &'static str,
    status: u16,
    retry_after: Option<String>,
    error: Option<String>,
}

async fn seen(
    step: &'static str,
    r: reqwest::Response,
    log: &std::sync::Mutex<Vec<Seen>>,
) -> Option<Value> {
    let status = r.status().as_u16();
    let retry_after = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Option<Value> = r.json().await.ok();
    let error = body
        .as_ref()
        .and_then(|b| b["error"].as_str())
        .map(str::to_owned);
    log.lock().unwrap().push(Seen {
        step,
        status,
        retry_after,
        error,
    });
    (200..300).contains(&status).then_some(body).flatten()
}

/// One issuance (offer, token, nonce, credential), recording every answer; stops at the
/// first that is not a success.
async fn issuance(
    http: &reqwest::Client,
    url: &str,
    w: &Wallet,
    log: &std::sync::Mutex<Vec<Seen>>,
) -> Option<()> {
    let r = http
        .post(format!("{url}/admin/offers"))
        .bearer_auth(ADMIN)
        .json(
            &json!({"credential_configuration_ids": [CONFIG_ID], "claims": {"given_name": "Ada"}}),
        )
        .send()
        .await
        .ok()?;
    let offer = seen("offer", r, log).await?;
    let uri = oid4vci::OfferUri::parse(
        offer["offer_uri"].as_str()?,
        oid4vci::OfferUriOptions {
            allow_http_loopback: true,
        },
    )
    .ok()?;
    let oid4vci::OfferReference::ByValue(offer) = uri.offer else {
        return None;
    };
    let code = offer.pre_authorized_code?.pre_authorized_code;
    let form = format!(
        "grant_type={}&pre-authorized_code={}",
        url::form_urlencoded::byte_serialize(oid4vci::PRE_AUTHORIZED_CODE_GRANT.as_bytes())
            .collect::<String>(),
        url::form_urlencoded::byte_serialize(code.as_bytes()).collect::<String>()
    );
    let r = http
        .post(format!("{url}/token"))
        .header(client_attestation::ATTESTATION_HEADER, &w.attestation)
        .header(client_attestation::POP_HEADER, w.pop(&random_hex(16)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .ok()?;
    let token = seen("token", r, log).await?;
    let at = token["access_token"].as_str()?.to_owned();
    let r = http.post(format!("{url}/nonce")).send().await.ok()?;
    let nonce = seen("nonce", r, log).await?;
    let nonce = nonce["c_nonce"].as_str()?.to_owned();
    let r = http
        .post(format!("{url}/credential"))
        .bearer_auth(&at)
        .header(client_attestation::ATTESTATION_HEADER, &w.attestation)
        .header(client_attestation::POP_HEADER, w.pop(&random_hex(16)))
        .json(&json!({"credential_configuration_id": CONFIG_ID, "proofs": {"jwt": [w.proof(&nonce)]}}))
        .send()
        .await
        .ok()?;
    seen("credential", r, log).await.map(drop)
}

/// `symbolon serve --mode=verifier` on `database_url` (its transactions and, by default,
/// its response codes there), without a request signing certificate: `redirect_uri`
/// transactions only.
async fn start_verifier(dir: &Path, port: u16, database_url: &str) -> Replica {
    let mut kek = [0u8; 32];
    aws_lc_rs::rand::fill(&mut kek).unwrap();
    let issuer = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let config = format!(
        "data_dir = \"{data}\"\n[server]\nlisten = \"127.0.0.1:{port}\"\nallow_http_loopback = true\n\
         [metrics]\nenabled = false\n\
         [verifier]\nrp_token = \"{ADMIN}\"\ndatabase_url = \"{database_url}\"\nkey_encryption_key = \"{kek}\"\n\
         [verifier.issuers.school]\niss = \"https://issuer.example\"\njwks = '{jwks}'\n\
         [verifier.policies.pass]\ntrusted_issuers = [\"school\"]\n\
         dcql_query = '{{\"credentials\": [{{\"id\": \"pass\", \"format\": \"dc+sd-jwt\", \"meta\": {{\"vct_values\": [\"urn:example:student-card\"]}}}}]}}'\n",
        data = dir.join("verifier").display(),
        kek = jose::b64::encode(kek),
        jwks = json!({"keys": [issuer.public_jwk().to_value()]}),
    );
    let path = dir.join("verifier.toml");
    std::fs::write(&path, config).unwrap();
    let child = symbolon()
        .args(["serve", "--mode=verifier", "--config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{url}/readyz")).send().await
            && r.status() == 200
        {
            return Replica {
                _server: server,
                url,
            };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the verifier did not become ready");
}

/// One RP round at the verifier: create a transaction, read it back.
async fn rp_round(
    http: &reqwest::Client,
    url: &str,
    log: &std::sync::Mutex<Vec<Seen>>,
) -> Option<()> {
    let r = http
        .post(format!("{url}/transactions"))
        .bearer_auth(ADMIN)
        .json(&json!({}))
        .send()
        .await
        .ok()?;
    let created = seen("transaction", r, log).await?;
    let id = created["transaction_id"].as_str()?;
    let r = http
        .get(format!("{url}/transactions/{id}"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .ok()?;
    seen("result", r, log).await.map(drop)
}

/// PostgreSQL restarted under load (the issuer's and the verifier's database): every answer
/// is a success or `503 temporarily_unavailable` with `Retry-After` — never a 500 — and
/// both serve again once the server is back, without being restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue10_postgres_restart_under_load_answers_503_with_retry_after_never_500() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let (pg, database_url) = OwnPostgres::start();
    let dir = tempfile::tempdir().unwrap();
    let attester = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let jwks = dir.path().join("attester-jwks.json");
    std::fs::write(
        &jwks,
        json!({"keys": [attester.public_jwk().to_value()]}).to_string(),
    )
    .unwrap();
    let mut kek = [0u8; 32];
    aws_lc_rs::rand::fill(&mut kek).unwrap();
    let kek = jose::b64::encode(kek);
    let port = free_port();
    let identifier = format!("http://127.0.0.1:{port}");
    // Everything in PostgreSQL: the issuer's tables and (the default) its single-use values.
    let section = format!(
        "[issuer]\nidentifier = \"{identifier}\"\nadmin_token = \"{ADMIN}\"\ndatabase_url = \"{database_url}\"\n\
         [issuer.keys]\nkek = {{ key = {{ env = \"ISSUER_E2E_KEK\" }} }}\n\
         [issuer.attestation]\njwks_file = \"{jwks}\"\n\
         [issuer.credentials.{CONFIG_ID}]\nvct = \"urn:example:student-card\"\n\
         [[issuer.credentials.{CONFIG_ID}.claims]]\npath = [\"given_name\"]\nmandatory = true\n",
        jwks = jwks.display(),
    );
    let server = start(dir.path(), "outage", port, &section, &kek).await;
    let url = server.url.clone();
    let verifier = start_verifier(dir.path(), free_port(), &database_url).await;
    let verifier_url = verifier.url.clone();
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..6 {
        let (http, url, log, stop) = (http.clone(), url.clone(), log.clone(), stop.clone());
        let w = Wallet::new(&attester, &identifier);
        load.push(tokio::spawn(async move {
            let mut done = 0u32;
            while !stop.load(Ordering::Relaxed) {
                if issuance(&http, &url, &w, &log).await.is_some() {
                    done += 1;
                }
            }
            done
        }));
    }
    for _ in 0..2 {
        let (http, url, log, stop) = (
            http.clone(),
            verifier_url.clone(),
            log.clone(),
            stop.clone(),
        );
        load.push(tokio::spawn(async move {
            let mut done = 0u32;
            while !stop.load(Ordering::Relaxed) {
                if rp_round(&http, &url, &log).await.is_some() {
                    done += 1;
                }
            }
            done
        }));
    }

    tokio::time::sleep(Duration::from_secs(2)).await;
    let pg = Arc::new(pg);
    for _ in 0..3 {
        // The script blocks: off the runtime's workers, which keep serving the load.
        let handle = Arc::clone(&pg);
        tokio::task::spawn_blocking(move || handle.down())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let handle = Arc::clone(&pg);
        let back = tokio::task::spawn_blocking(move || handle.up())
            .await
            .unwrap();
        assert_eq!(back, database_url, "the server comes back on its port");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut completed = 0;
    for task in load {
        completed += task.await.unwrap();
    }

    let log: Vec<Seen> = std::mem::take(&mut *log.lock().unwrap());
    let unavailable = log.iter().filter(|s| s.status == 503).count();
    // Every answer is a success, or 503 temporarily_unavailable with Retry-After.
    let wrong: Vec<&Seen> = log
        .iter()
        .filter(|s| match s.status {
            200..=299 => false,
            503 => s.error.as_deref() != Some("temporarily_unavailable") || s.retry_after.is_none(),
            _ => true,
        })
        .collect();
    if !wrong.is_empty() {
        let server_log = std::fs::read_to_string(dir.path().join("outage.log")).unwrap_or_default();
        let noted: Vec<&str> = server_log
            .lines()
            .filter(|l| l.contains("ERROR") || l.contains("WARN"))
            .collect();
        panic!(
            "during PostgreSQL restarts ({} answers, {unavailable} were 503): {wrong:?}\nissuer log:\n{}",
            log.len(),
            noted.join("\n")
        );
    }
    assert!(completed > 0, "no issuance completed: {log:?}");
    let by_step = |step: &str| log.iter().filter(|s| s.step == step).count();
    eprintln!(
        "{} answers ({unavailable} were 503; offer {}, token {}, nonce {}, credential {}, \
         transaction {}, result {}), {completed} issuances and RP rounds",
        log.len(),
        by_step("offer"),
        by_step("token"),
        by_step("nonce"),
        by_step("credential"),
        by_step("transaction"),
        by_step("result"),
    );

    // Recovered: a fresh wallet is served without restarting the issuer.
    let w = Wallet::new(&attester, &identifier);
    let after = Mutex::new(Vec::new());
    let mut recovered = false;
    for _ in 0..60 {
        if issuance(&http, &url, &w, &after).await.is_some() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(recovered, "{:?}", after.lock().unwrap());
    assert!(
        rp_round(&http, &verifier_url, &after).await.is_some(),
        "{:?}",
        after.lock().unwrap()
    );
    drop(verifier);
    drop(server);
    drop(pg);
}
