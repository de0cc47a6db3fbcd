//! The command-line wallet against `symbolon serve --mode=all` (real binaries): init,
//! accept, list, show, present with `--disclose` and `--yes`, refresh, delete; the store
//! on disk holds no claim value in clear; a wrong passphrase is refused. The same run goes
//! through the engine inside the wallet's process (the default) and through the server's
//! engine over a WebSocket (`--engine ws://…/engine/api/v2/wallet`).

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{RP, admin_offer, ok_json, start_with, symbolon};
use serde_json::{Value, json};

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
    receives_keeps_and_presents(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_the_cli_wallet_does_the_same_through_a_remote_engine() {
    receives_keeps_and_presents(true).await;
}

/// The whole run, with the flows on the server's engine over a WebSocket when `remote`.
async fn receives_keeps_and_presents(remote: bool) {
    let dir = tempfile::tempdir().unwrap();
    // The remote engine trusts the verifier's certificate by its own configuration.
    let extra = if remote {
        format!(
            "[engine.trust]\nverifier_anchors = {:?}\n",
            dir.path().join("vcert.pem").display().to_string()
        )
    } else {
        String::new()
    };
    let (_server, base) = start_with(dir.path(), &extra);
    let engine_url = format!("{}/engine/api/v2/wallet", base.replace("http://", "ws://"));
    let wallet = |w: &std::path::Path, args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        if remote {
            all.extend(["--engine", engine_url.as_str()]);
        }
        common::wallet(w, &all)
    };
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

/// On a terminal the passphrase is read with echo off: typed twice, it never appears on
/// the screen, and the wallet is created.
#[test]
fn the_passphrase_prompt_does_not_echo_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("wallet");
    let secret = "correct horse battery staple 42";
    let out = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/pty_passphrase.py"
        ))
        .arg(env!("CARGO_BIN_EXE_symbolon"))
        .arg(&w)
        .arg(secret)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let shown = report["shown"].as_str().unwrap();
    assert_eq!(report["exit"], 0, "{shown}");
    assert_eq!(
        report["echo_off_before_typing"],
        json!([true, true]),
        "{shown}"
    );
    assert!(shown.contains("Wallet passphrase:"), "{shown}");
    assert!(shown.contains("Repeat the passphrase:"), "{shown}");
    assert!(shown.contains("Created a wallet"), "{shown}");
    assert!(
        !shown.contains(secret),
        "the passphrase was echoed: {shown}"
    );
}
