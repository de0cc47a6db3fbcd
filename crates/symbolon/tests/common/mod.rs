//! Shared by the integration tests that run the real binary against a whole platform:
//! `symbolon serve --mode=all` on a free loopback port with its data in a temporary
//! directory and a development verifier certificate for `localhost`, the command-line
//! wallet, and the issuer's admin API.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The RP API bearer token of the platform [`start`] runs.
pub const RP: &str = "cli-test-rp";
/// The wallet passphrase [`wallet`] uses.
pub const PASS: &str = "correct horse battery";

/// A server process, stopped with SIGTERM when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// A server process whose stderr lines are collected ([`LoggedServer::wait_for`]), stopped
/// with SIGTERM when dropped.
pub struct LoggedServer(pub Child, pub mpsc::Receiver<String>);

impl LoggedServer {
    /// Spawns `command` (stdout discarded, stderr collected) and waits for its
    /// `listening` line.
    pub fn start(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let server = LoggedServer(child, rx);
        server.wait_for("listening");
        server
    }

    /// Waits (60 s at most: a cold start under a loaded CI machine) for a log line
    /// containing `needle`.
    pub fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.1.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return,
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        panic!("no log line with {needle:?}; saw:\n{}", seen.join("\n"));
    }
}

impl Drop for LoggedServer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// A loopback port that was free a moment ago (for configurations that must name their
/// real port, such as a public URL).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `--mode=verifier` configuration listening on `port` (public URL
/// `http://localhost:<port>`) with the RP token `rp_token`, the request signing `key` and
/// `cert`, data under `dir/data`, and one policy `classroom` (role and course of the
/// classroom pass) trusting the issuer `school` whose key is `issuer`'s.
pub fn verifier_config(
    dir: &Path,
    port: u16,
    rp_token: &str,
    key: &Path,
    cert: &Path,
    issuer: &jose::SoftwareSigner,
) -> String {
    let jwks = json!({"keys": [jose::Signer::public_jwk(issuer).to_value()]});
    let query = json!({"credentials": [{"id": "pass", "format": "dc+sd-jwt",
        "meta": {"vct_values": ["urn:symbolon:immerse:classroom-pass:1"]},
        "claims": [{"path": ["role"]}, {"path": ["course"]}]}]});
    format!(
        r#"data_dir = {data:?}
[server]
listen = "127.0.0.1:{port}"
public_url = "http://localhost:{port}"
allow_http_loopback = true
[verifier]
rp_token = "{rp_token}"
signing_key = {key:?}
certificate = {cert:?}
default_policy = "classroom"
[verifier.issuers.school]
iss = "https://issuer.example"
jwks = '{jwks}'
[verifier.policies.classroom]
essential_claims = ["role", "course"]
trusted_issuers = ["school"]
dcql_query = '{query}'
"#,
        data = dir.join("data").display().to_string(),
        key = key.display().to_string(),
        cert = cert.display().to_string(),
    )
}

/// The binary, without any `SYMBOLON_*` variable of the environment the tests run in.
pub fn symbolon() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_symbolon"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SYMBOLON_") {
            c.env_remove(name);
        }
    }
    c.env_remove("RUST_LOG");
    c
}

/// Runs `symbolon wallet --wallet-dir <dir> <args>` with the test passphrase.
pub fn wallet(dir: &Path, args: &[&str]) -> Output {
    symbolon()
        .env("SYMBOLON_WALLET_PASSPHRASE", PASS)
        .arg("wallet")
        .arg("--wallet-dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The JSON a successful command printed.
pub fn ok_json(out: Output) -> Value {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Starts `symbolon serve --mode=all` with its data under `dir/data`, a verifier key and
/// certificate for `localhost` in `dir/vkey.jwk` and `dir/vcert.pem`; returns the server
/// and its base URL once it listens.
pub fn start(dir: &Path) -> (LoggedServer, String) {
    start_with(dir, "")
}

/// [`start`] with `extra` appended to the configuration (it may name `dir/vcert.pem`).
pub fn start_with(dir: &Path, extra: &str) -> (LoggedServer, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let key = dir.join("vkey.jwk");
    let cert = dir.join("vcert.pem");
    let out = symbolon()
        .args(["verifier", "gen-cert", "--dns", "localhost", "--key-out"])
        .arg(&key)
        .arg("--cert-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(out.status.success());
    let base = format!("http://localhost:{port}");
    let config = format!(
        "data_dir = {:?}\n[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{base}\"\n[verifier]\nrp_token = \"{RP}\"\nsigning_key = {:?}\ncertificate = {:?}\n",
        dir.join("data").display().to_string(),
        key.display().to_string(),
        cert.display().to_string()
    ) + extra;
    let path = dir.join("all.toml");
    std::fs::write(&path, config).unwrap();
    let mut command = symbolon();
    command.args(["serve", "--mode=all", "--config"]).arg(&path);
    let server = LoggedServer::start(command);
    (server, base)
}

/// Creates an offer of the demo classroom pass through the issuer's admin API (token from
/// the data directory) and returns its `offer_uri`.
pub async fn admin_offer(http: &reqwest::Client, base: &str, dir: &Path) -> String {
    let admin = std::fs::read_to_string(dir.join("data/issuer/admin_token")).unwrap();
    let r: Value = http
        .post(format!("{base}/issuer/admin/offers"))
        .bearer_auth(admin.trim())
        .json(
            &json!({"credential_configuration_ids": ["immerse_classroom_pass"],
            "claims": {"given_name": "Erika", "family_name": "Mustermann",
              "affiliation": "School", "role": "student", "course": "Chemistry 101",
              "birthdate": "2004-08-12"}}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["offer_uri"].as_str().unwrap().to_owned()
}

/// `symbolon wallet init` for the platform at `base` (dev attestation from its attester,
/// its verifier certificate as trust anchor), then accepts one classroom pass.
pub async fn wallet_with_pass(
    http: &reqwest::Client,
    base: &str,
    dir: &Path,
) -> std::path::PathBuf {
    let w = dir.join("wallet");
    ok_json(wallet(
        &w,
        &[
            "--json",
            "init",
            "--allow-loopback",
            "--attester",
            &format!("{base}/attester"),
            "--trust-anchors",
            dir.join("vcert.pem").to_str().unwrap(),
        ],
    ));
    let offer = admin_offer(http, base, dir).await;
    ok_json(wallet(&w, &["--json", "accept", &offer]));
    w
}
