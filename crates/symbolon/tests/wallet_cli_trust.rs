//! The command-line wallet against `symbolon serve --mode=all` (real binaries), for what
//! a holder meets outside the happy path:
//! - a wallet made without `--trust-anchors` receives credentials, refuses a signed
//!   presentation request with a message saying how to add an anchor, and presents once
//!   `wallet trust add` has added it (`trust list`, `trust remove`); an unsigned request
//!   needs no anchor and comes with a warning;
//! - a request no stored credential answers is answered `access_denied` at once, so the
//!   verifier's transaction fails instead of waiting until it expires;
//! - `wallet list` shows the status `refresh` found (a revoked credential as revoked).

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;

use common::{RP, admin_offer, ok_json, start, wallet};
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

fn init(w: &Path, base: &str, anchors: Option<&Path>) {
    let attester = format!("{base}/attester");
    let mut args = vec![
        "--json",
        "init",
        "--allow-loopback",
        "--attester",
        &attester,
    ];
    let anchors = anchors.map(|a| a.to_str().unwrap().to_owned());
    if let Some(a) = &anchors {
        args.extend(["--trust-anchors", a.as_str()]);
    }
    ok_json(wallet(w, &args));
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_without_trust_anchors_the_wallet_receives_and_trust_add_lets_it_present() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start(dir.path());
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let w = dir.path().join("wallet");
    let cert = dir.path().join("vcert.pem");
    init(&w, &base, None);

    // Receiving needs no verifier anchor.
    let offer = admin_offer(&http, &base, dir.path()).await;
    let stored = ok_json(wallet(&w, &["--json", "accept", &offer]));
    assert_eq!(stored["stored"][0]["claims"]["course"], "Chemistry 101");
    let anchors = ok_json(wallet(&w, &["--json", "trust", "list"]));
    assert_eq!(anchors["anchors"], json!([]));

    // A signed request from a verifier nothing vouches for: refused, saying how to add
    // an anchor; nothing reached the verifier.
    let (tx, link) = transaction(&http, &base).await;
    let refused = wallet(&w, &["present", &link, "--yes"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("symbolon wallet trust add"),
        "{}",
        stderr(&refused)
    );
    assert_ne!(result(&http, &base, &tx).await["status"], "success");

    // An unsigned (redirect_uri) request needs no anchor; the consent screen warns that
    // nothing proves who asks.
    let r: Value = http
        .post(format!("{base}/verifier/transactions"))
        .bearer_auth(RP)
        .json(&json!({"client_id_prefix": "redirect_uri"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let unsigned = wallet(
        &w,
        &[
            "present",
            r["authorization_request"].as_str().unwrap(),
            "--yes",
        ],
    );
    assert!(unsigned.status.success(), "{}", stderr(&unsigned));
    assert!(
        stderr(&unsigned).contains("nothing proves who this verifier is"),
        "{}",
        stderr(&unsigned)
    );
    let done = result(&http, &base, r["transaction_id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "success", "{done}");

    // A file that is not a certificate is refused and changes nothing.
    let bad = wallet(
        &w,
        &[
            "trust",
            "add",
            dir.path().join("vkey.jwk").to_str().unwrap(),
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("not a usable trust anchor"),
        "{}",
        stderr(&bad)
    );
    assert_eq!(
        ok_json(wallet(&w, &["--json", "trust", "list"]))["anchors"],
        json!([])
    );

    // The holder decides to trust the verifier's certificate.
    let added = ok_json(wallet(
        &w,
        &["--json", "trust", "add", cert.to_str().unwrap()],
    ));
    assert_eq!(added["added"].as_array().unwrap().len(), 1);
    let fingerprint = added["added"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(fingerprint.len(), 64);
    assert!(
        added["added"][0]["subject"]
            .as_str()
            .unwrap()
            .contains("CN=localhost"),
        "{added}"
    );
    let again = ok_json(wallet(
        &w,
        &["--json", "trust", "add", cert.to_str().unwrap()],
    ));
    assert_eq!(again["added"], json!([]));
    assert_eq!(again["anchors"], 1);
    let listed = ok_json(wallet(&w, &["--json", "trust", "list"]));
    assert_eq!(listed["anchors"][0]["fingerprint"], fingerprint.as_str());

    let (tx, link) = transaction(&http, &base).await;
    let presented = ok_json(wallet(&w, &["--json", "present", &link, "--yes"]));
    assert_eq!(presented["outcome"], "presented");
    assert_eq!(result(&http, &base, &tx).await["status"], "success");

    // Removed again (by a prefix of its fingerprint): refused again.
    let short = wallet(&w, &["trust", "remove", "abc"]);
    assert_eq!(short.status.code(), Some(1));
    let removed = ok_json(wallet(
        &w,
        &["--json", "trust", "remove", &fingerprint[..12]],
    ));
    assert_eq!(removed["removed"]["fingerprint"], fingerprint.as_str());
    assert_eq!(removed["anchors"], 0);
    let (_, link) = transaction(&http, &base).await;
    let refused = wallet(&w, &["present", &link, "--yes"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("symbolon wallet trust add"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_cli_answers_access_denied_and_list_shows_the_refreshed_status() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start(dir.path());
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let cert = dir.path().join("vcert.pem");

    // An empty wallet cannot answer: the verifier hears access_denied at once.
    let empty = dir.path().join("empty");
    init(&empty, &base, Some(&cert));
    let (tx, link) = transaction(&http, &base).await;
    let out = wallet(&empty, &["present", &link, "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the verifier was told access_denied"),
        "{}",
        stderr(&out)
    );
    let r = result(&http, &base, &tx).await;
    assert_eq!(r["status"], "failed", "{r}");
    assert!(r.to_string().contains("access_denied"), "{r}");

    // `list` shows what the last check found, without going online.
    let w = dir.path().join("wallet");
    init(&w, &base, Some(&cert));
    let offer = admin_offer(&http, &base, dir.path()).await;
    let stored = ok_json(wallet(&w, &["--json", "accept", &offer]));
    let id = stored["stored"][0]["id"].as_str().unwrap().to_owned();
    let listed = ok_json(wallet(&w, &["--json", "list"]));
    assert_eq!(listed["credentials"][0]["status"], Value::Null);
    let refreshed = ok_json(wallet(&w, &["--json", "refresh"]));
    assert_eq!(refreshed["credentials"][0]["status"], "valid");
    let listed = ok_json(wallet(&w, &["--json", "list"]));
    assert_eq!(listed["credentials"][0]["status"], "valid");
    assert!(listed["credentials"][0]["checked_at"].is_i64());

    // The issuer revokes it; `refresh` finds out, and `list` says so afterwards.
    let admin = std::fs::read_to_string(dir.path().join("data/issuer/admin_token")).unwrap();
    let all: Value = http
        .get(format!("{base}/issuer/admin/credentials"))
        .bearer_auth(admin.trim())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for c in all["credentials"].as_array().unwrap() {
        let r = http
            .post(format!(
                "{base}/issuer/admin/credentials/{}/status",
                c["id"].as_str().unwrap()
            ))
            .bearer_auth(admin.trim())
            .json(&json!({"status": "INVALID"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let refreshed = ok_json(wallet(&w, &["--json", "refresh"]));
    assert_eq!(refreshed["credentials"][0]["status"], "revoked");
    let listed = ok_json(wallet(&w, &["--json", "list"]));
    assert_eq!(listed["credentials"][0]["id"], id.as_str());
    assert_eq!(listed["credentials"][0]["status"], "revoked");
    let text = wallet(&w, &["list"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("revoked"));
}
