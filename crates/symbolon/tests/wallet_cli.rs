//! The command-line wallet against `symbolon serve --mode=all` (real binaries): init,
//! accept, list, show, present with `--disclose` and `--yes`, refresh, delete; the store
//! on disk holds no claim value in clear; a wrong passphrase is refused.

#![cfg(unix)]
#![allow(
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

const RP: &str = "cli-test-rp";
const PASS: &str = "correct horse battery";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn symbolon() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_symbolon"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SYMBOLON_") {
            c.env_remove(name);
        }
    }
    c.env_remove("RUST_LOG");
    c
}

fn wallet(dir: &Path, args: &[&str]) -> Output {
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

fn ok_json(out: Output) -> Value {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn start(dir: &Path) -> (Server, String) {
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
    );
    let path = dir.join("all.toml");
    std::fs::write(&path, config).unwrap();
    let mut child = symbolon()
        .args(["serve", "--mode=all", "--config"])
        .arg(&path)
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
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .expect("the server did not start");
        if rx.recv_timeout(left).unwrap().contains("listening") {
            break;
        }
    }
    (server, base)
}

async fn admin_offer(http: &reqwest::Client, base: &str, dir: &Path) -> String {
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

async fn transaction(http: &reqwest::Client, base: &str) -> (String, String) {
    let r: Value = http
        .post(format!("{base}/verifier/transactions"))
        .bearer_auth(RP)
        .json(&json!({"client_id_prefix": "x509_san_dns"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        r["transaction_id"].as_str().unwrap().to_owned(),
        r["authorization_request"].as_str().unwrap().to_owned(),
    )
}

async fn result(http: &reqwest::Client, base: &str, id: &str) -> Value {
    http.get(format!("{base}/verifier/transactions/{id}"))
        .bearer_auth(RP)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_wallet_receives_keeps_and_presents_a_classroom_pass() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start(dir.path());
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let w = dir.path().join("wallet");
    let init = ok_json(wallet(
        &w,
        &[
            "--json",
            "init",
            "--allow-loopback",
            "--attester",
            &format!("{base}/attester"),
            "--trust-anchors",
            dir.path().join("vcert.pem").to_str().unwrap(),
        ],
    ));
    assert!(init["holder_key_thumbprint"].is_string());

    let offer = admin_offer(&http, &base, dir.path()).await;
    let stored = ok_json(wallet(&w, &["--json", "accept", &offer]));
    let id = stored["stored"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(stored["stored"][0]["claims"]["course"], "Chemistry 101");

    // At rest, nothing of the credential is readable.
    for entry in std::fs::read_dir(w.join("credentials")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("Chemistry") && !text.contains("eyJ"),
            "{text}"
        );
    }
    let wrong = symbolon()
        .env("SYMBOLON_WALLET_PASSPHRASE", "wrong")
        .args(["wallet", "--wallet-dir"])
        .arg(&w)
        .arg("list")
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong passphrase"));

    let list = ok_json(wallet(&w, &["--json", "list"]));
    assert_eq!(list["credentials"].as_array().unwrap().len(), 1);
    let shown = ok_json(wallet(&w, &["--json", "show", &id]));
    assert_eq!(shown["status"], "valid");
    let card = wallet(&w, &["show", &id]);
    assert!(String::from_utf8_lossy(&card.stdout).contains("IMMERSE classroom pass"));

    // Exactly the chosen claims: the recommended ones.
    let (tx, link) = transaction(&http, &base).await;
    let presented = ok_json(wallet(&w, &["--json", "present", &link, "--yes"]));
    assert_eq!(presented["outcome"], "presented");
    let r = result(&http, &base, &tx).await;
    assert_eq!(r["status"], "success", "{r}");
    assert!(r["claims"]["classroom_pass"][0].get("given_name").is_none());

    // Withholding the essential `course`: the verifier denies, the command fails.
    let (tx, link) = transaction(&http, &base).await;
    let denied = wallet(&w, &["present", &link, "--disclose", "role"]);
    assert_eq!(denied.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&denied.stderr).contains("refused"));
    assert_ne!(result(&http, &base, &tx).await["status"], "success");

    let refreshed = ok_json(wallet(&w, &["--json", "refresh"]));
    assert_eq!(refreshed["credentials"][0]["status"], "valid");
    ok_json(wallet(&w, &["--json", "delete", &id]));
    let missing = wallet(&w, &["show", &id]);
    assert_eq!(missing.status.code(), Some(1));
}
