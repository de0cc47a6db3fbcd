//! Each REST role's OpenAPI document against the live server: `symbolon serve
//! --mode=<role>` on a free loopback port, then `schemathesis` (from the interop
//! virtualenv, a third-party conformance fuzzer) generates requests for every operation of
//! the served `/openapi.json` and checks each answer: no `5xx`, and status code, content
//! type, headers and body all as documented. The runs are bounded and deterministic so
//! they are reproducible and quick.

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::json;

mod common;

use common::{LoggedServer, free_port, symbolon};

/// The RP API token the server is started with and schemathesis sends.
const RP_TOKEN: &str = "openapi-conformance-token";
/// The issuer's admin token, likewise.
const ADMIN_TOKEN: &str = "openapi-conformance-admin-token";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `schemathesis` command of the interop virtualenv (next to its Python).
fn schemathesis() -> PathBuf {
    let python = std::env::var_os("INTEROP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("interop/python/.venv/bin/python"));
    let cli = python.with_file_name("schemathesis");
    assert!(
        cli.is_file(),
        "{} is missing: create the interop virtualenv (scripts/test.sh does it: \
         python3 -m venv interop/python/.venv && interop/python/.venv/bin/pip install -r \
         interop/python/requirements.txt)",
        cli.display()
    );
    cli
}

/// A verifier with one policy and a development request signing certificate.
fn start_verifier(dir: &std::path::Path, port: u16) -> LoggedServer {
    let key = dir.join("verifier-key.jwk");
    let cert = dir.join("verifier-cert.pem");
    let out = symbolon()
        .args(["verifier", "gen-cert", "--dns", "localhost", "--key-out"])
        .arg(&key)
        .arg("--cert-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let issuer = jose::SoftwareSigner::generate(jose::Algorithm::Es256)
        .unwrap()
        .with_kid("iss-1");
    let config = common::verifier_config(dir, port, RP_TOKEN, &key, &cert, &issuer);
    let config_path = dir.join("verifier.toml");
    std::fs::write(&config_path, config).unwrap();
    let mut command = symbolon();
    command
        .args(["serve", "--mode=verifier", "--config"])
        .arg(&config_path);
    LoggedServer::start(command)
}

/// Runs schemathesis against `role` served at `base` with `Authorization: Bearer <token>`
/// on every request and `max_examples` cases per operation; asserts that it found nothing,
/// completed, and tested every operation: each of `operations` with answers other than
/// `401`, and exactly those of `refused_only` (which the token cannot open) with nothing
/// but documented `401`s. Returns the JSON report, kept as `<role>.json` in the directory
/// `OPENAPI_REPORT` names, when set (the roles' runs go on in parallel).
fn conformance(
    dir: &std::path::Path,
    role: &str,
    base: &str,
    token: &str,
    max_examples: u32,
    operations: &[&str],
    refused_only: &[&str],
) -> serde_json::Value {
    let cli = schemathesis();
    let report = std::env::var_os("OPENAPI_REPORT")
        .map_or_else(|| dir.to_path_buf(), PathBuf::from)
        .join(format!("{role}.json"));
    let out = Command::new(cli)
        .arg("run")
        .arg(format!("{base}/openapi.json"))
        .args(["--url", base])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance",
        ])
        // Bounded and reproducible: deterministic generation (no seed, no example
        // database) makes the same cases on every run.
        .args([
            "--max-examples",
            &max_examples.to_string(),
            "--generation-deterministic",
        ])
        .args(["--workers", "1"])
        .args(["--request-timeout", "10", "--no-color"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--report", "json", "--report-json-path"])
        .arg(&report)
        .current_dir(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found responses that do not conform to the document at \
         {base}/openapi.json:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A run that tested nothing would also succeed: every operation must have been
    // exercised, and the run completed.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(report["complete"], true, "{report}");
    assert_eq!(report["failures"], json!([]), "{report}");
    assert_eq!(
        report["operations"]["tested"], report["operations"]["total"],
        "{report}"
    );
    let tested = report["valid_rates"].as_object().unwrap();
    // `/openapi.json` itself is the schema schemathesis loaded, not tested as an operation.
    for operation in operations {
        assert!(
            tested.contains_key(*operation),
            "{operation} was not tested:\n{stdout}"
        );
    }
    assert_eq!(
        report["warnings"]["missing_auth"],
        json!(refused_only),
        "{report}"
    );
    report
}

#[test]
fn issue11_verifier_conforms_to_its_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_verifier(dir.path(), port);
    let base = format!("http://127.0.0.1:{port}");
    let report = conformance(
        dir.path(),
        "verifier",
        &base,
        RP_TOKEN,
        50,
        &[
            "POST /transactions",
            "GET /transactions/{id}",
            "GET /transactions/{id}/qr",
            "GET /request/{request_id}",
            "POST /request/{request_id}",
            "POST /response",
            "GET /jwks",
        ],
        &[],
    );
    // The RP API was reached with the token: transactions were created.
    assert!(
        report["valid_rates"]["POST /transactions"]["fuzzing"]["accepted"]
            .as_u64()
            .unwrap()
            > 0,
        "{report}"
    );
}

/// An issuer (SQLite under `dir`, software keys under a KEK from the environment) trusting
/// one attester key, with the admin token schemathesis sends.
fn start_issuer(dir: &std::path::Path, port: u16) -> LoggedServer {
    let attester = jose::SoftwareSigner::generate(jose::Algorithm::Es256)
        .unwrap()
        .with_kid("attester-1");
    let jwks = dir.join("attester-jwks.json");
    let keys = json!({"keys": [jose::Signer::public_jwk(&attester).to_value()]});
    std::fs::write(&jwks, keys.to_string()).unwrap();
    let config = format!(
        r#"data_dir = {data:?}
[server]
listen = "127.0.0.1:{port}"
allow_http_loopback = true
[issuer]
identifier = "http://127.0.0.1:{port}"
admin_token = "{ADMIN_TOKEN}"
[issuer.keys]
kek = {{ key = {{ env = "OPENAPI_CONFORMANCE_KEK" }} }}
[issuer.attestation]
jwks_file = {jwks:?}
[issuer.credentials.student_card]
vct = "urn:example:student-card"
[[issuer.credentials.student_card.claims]]
path = ["given_name"]
mandatory = true
"#,
        data = dir.join("data").display().to_string(),
        jwks = jwks.display().to_string(),
    );
    let config_path = dir.join("issuer.toml");
    std::fs::write(&config_path, config).unwrap();
    let mut kek = [0u8; 32];
    aws_lc_rs::rand::fill(&mut kek).unwrap();
    let mut command = symbolon();
    command
        .args(["serve", "--mode=issuer", "--config"])
        .arg(&config_path)
        .env("OPENAPI_CONFORMANCE_KEK", jose::b64::encode(kek));
    LoggedServer::start(command)
}

#[test]
fn issue11_issuer_conforms_to_its_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_issuer(dir.path(), port);
    let base = format!("http://127.0.0.1:{port}");
    // Fifteen operations: fewer cases each than the verifier's seven keep the run as short.
    let report = conformance(
        dir.path(),
        "issuer",
        &base,
        ADMIN_TOKEN,
        25,
        &[
            "GET /.well-known/openid-credential-issuer",
            "GET /.well-known/oauth-authorization-server",
            "GET /.well-known/jwt-vc-issuer",
            "GET /jwks",
            "GET /status/{list}",
            "POST /token",
            "POST /challenge",
            "POST /nonce",
            "GET /offers/{handle}",
            "POST /admin/offers",
            "GET /admin/credentials",
            "GET /admin/credentials/{id}",
            "POST /admin/credentials/{id}/status",
        ],
        // The resources take an access token, which no static header can carry.
        &["POST /credential", "POST /notification"],
    );
    // The admin API was reached with the token: pages of credentials were listed.
    assert!(
        report["valid_rates"]["GET /admin/credentials"]["fuzzing"]["accepted"]
            .as_u64()
            .unwrap()
            > 0,
        "{report}"
    );
}

/// The admin token the attester is started with and schemathesis sends.
const ATTESTER_ADMIN_TOKEN: &str = "openapi-conformance-admin-token";

/// An attester alone with a software A-Key, `dev` evidence and no Kubernetes, as a
/// developer runs it.
fn start_attester(dir: &std::path::Path, port: u16) -> LoggedServer {
    let kek = dir.join("kek");
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    std::fs::write(&kek, jose::b64::encode_std(bytes)).unwrap();
    let admin = dir.join("admin_token");
    std::fs::write(&admin, ATTESTER_ADMIN_TOKEN).unwrap();
    let config = format!(
        r#"data_dir = {data:?}
[server]
listen = "127.0.0.1:{port}"
public_url = "http://localhost:{port}"
allow_http_loopback = true
[attester]
dev_evidence = true
admin_token = {{ file = {admin:?} }}
[attester.software_key]
key_file = {key:?}
kek = {{ key = {{ file = {kek:?} }} }}
[attester.kubernetes]
enabled = false
"#,
        data = dir.join("data").display().to_string(),
        admin = admin.display().to_string(),
        key = dir.join("a-key.sealed").display().to_string(),
        kek = kek.display().to_string(),
    );
    let config_path = dir.join("attester.toml");
    std::fs::write(&config_path, config).unwrap();
    let mut command = symbolon();
    command
        .args(["serve", "--mode=attester", "--config"])
        .arg(&config_path);
    LoggedServer::start(command)
}

#[test]
fn issue11_attester_conforms_to_its_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_attester(dir.path(), port);
    let base = format!("http://127.0.0.1:{port}");
    let report = conformance(
        dir.path(),
        "attester",
        &base,
        ATTESTER_ADMIN_TOKEN,
        25,
        &[
            "POST /v1/challenge",
            "POST /v1/attestations",
            "GET /.well-known/jwks.json",
            "GET /v1/certificate",
            "GET /admin/audit",
        ],
        &[],
    );
    // The admin API was reached with the token, and challenges were issued.
    for operation in ["GET /admin/audit", "POST /v1/challenge"] {
        assert!(
            report["valid_rates"][operation]["fuzzing"]["accepted"]
                .as_u64()
                .unwrap()
                > 0,
            "{operation}: {report}"
        );
    }
}

/// Under `--mode=all` the verifier is mounted at `/verifier`: its document is at
/// `/verifier/openapi.json`, and its `servers` entry names that mount, so the paths in it
/// reach the verifier.
#[tokio::test]
async fn issue11_under_mode_all_the_served_document_names_the_verifier_mount() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = common::start(dir.path());
    let http = reqwest::Client::new();
    let served = http
        .get(format!("{base}/verifier/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    let doc: serde_json::Value = served.json().await.unwrap();
    let server = doc["servers"][0]["url"].as_str().unwrap().to_owned();
    assert_eq!(server, format!("{base}/verifier"));
    assert!(doc["paths"]["/transactions"]["post"].is_object());
    let created = http
        .post(format!("{server}/transactions"))
        .bearer_auth(common::RP)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
}

/// Under `--mode=all` the issuer is mounted at `/issuer`: its document is at
/// `/issuer/openapi.json`, its `servers` entry is the issuer identifier there, and the paths
/// in it reach the issuer.
#[tokio::test]
async fn issue11_under_mode_all_the_served_document_names_the_issuer_identifier() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = common::start(dir.path());
    let http = reqwest::Client::new();
    let served = http
        .get(format!("{base}/issuer/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    let doc: serde_json::Value = served.json().await.unwrap();
    let server = doc["servers"][0]["url"].as_str().unwrap().to_owned();
    assert_eq!(server, format!("{base}/issuer"));
    assert!(doc["paths"]["/nonce"]["post"].is_object());
    let nonce = http.post(format!("{server}/nonce")).send().await.unwrap();
    assert_eq!(nonce.status(), 200);
    assert_eq!(nonce.headers()["cache-control"], "no-store");
}

/// Under `--mode=all` the attester is mounted at `/attester`: its served document names
/// that mount, so the paths in it reach the attester.
#[tokio::test]
async fn issue11_under_mode_all_the_served_document_names_the_attester_mount() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = common::start(dir.path());
    let http = reqwest::Client::new();
    let served = http
        .get(format!("{base}/attester/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    let doc: serde_json::Value = served.json().await.unwrap();
    let server = doc["servers"][0]["url"].as_str().unwrap().to_owned();
    assert_eq!(server, format!("{base}/attester"));
    assert!(doc["paths"]["/v1/challenge"]["post"].is_object());
    let challenge = http
        .post(format!("{server}/v1/challenge"))
        .send()
        .await
        .unwrap();
    assert_eq!(challenge.status(), 200);
}
