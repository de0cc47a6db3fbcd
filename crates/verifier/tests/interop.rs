//! Interop over HTTP: the OpenID4VP wallet of `@openid4vc/openid4vp` with SD-JWT VCs from
//! `@sd-jwt/sd-jwt-vc` answers Symbolon's requests for every client identifier prefix,
//! `request_uri_method` and response mode, and is accepted; presentations made with the
//! Python `sd-jwt` reference implementation are accepted; tampered and replayed ones are
//! refused.
//!
//! Needs `npm ci` in `interop/` and the venv `interop/python/.venv` (scripts/test.sh
//! installs both).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use axum::http::StatusCode;
use common::*;
use jose::{PrivateJwk, Signer};
use serde_json::{Value, json};
use verifier::demo::CLASSROOM_PASS_VCT;

fn interop() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../interop"))
}

fn private_jwk(s: &jose::SoftwareSigner) -> Value {
    serde_json::from_str(&s.to_private_jwk().unwrap().to_json()).unwrap()
}

/// Runs a script with `input` on stdin and returns its stdout as JSON.
fn run(mut command: Command, input: &Value) -> Value {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "script failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&out.stdout)))
}

fn node() -> Command {
    let dir = interop();
    assert!(
        dir.join("node_modules/@openid4vc/openid4vp").is_dir(),
        "interop/node_modules is missing: run `npm ci` in interop/ (scripts/test.sh does)"
    );
    let mut c = Command::new("node");
    c.arg("--dns-result-order=ipv4first")
        .arg(dir.join("js/verifier-wallet.mjs"))
        .current_dir(&dir);
    c
}

fn python() -> Command {
    let dir = interop().join("python");
    let py = dir.join(".venv/bin/python");
    assert!(
        py.is_file(),
        "interop/python/.venv is missing: create it and `pip install -r interop/python/requirements.txt` (scripts/test.sh does)"
    );
    let mut c = Command::new(py);
    c.arg(dir.join("verifier_present.py")).current_dir(&dir);
    c
}

async fn js_wallet(h: &Harness, options: Value, replay: bool) -> (String, Value) {
    let (id, link) = h.start(options).await;
    let input = json!({
        "authorization_request": link,
        "issuer_jwk": private_jwk(&h.issuer.signer),
        "issuer_kid": h.issuer.signer.key_id(),
        "holder_jwk": private_jwk(&h.holder),
        "iss": h.issuer.iss,
        "vct": CLASSROOM_PASS_VCT,
        "status": {"idx": 0, "uri": h.list_uri},
        "trusted_cert": jose::b64::encode_std(&h.cert),
        "wallet_nonce": "js-wallet-nonce-1",
        "replay": replay,
    });
    let out = tokio::task::spawn_blocking(move || run(node(), &input))
        .await
        .unwrap();
    (id, out)
}

#[tokio::test]
async fn openid4vc_ts_wallet_is_accepted_for_every_prefix_method_and_mode() {
    let (h, _) = http_harness(Setup::default()).await;
    for prefix in ["x509_san_dns", "x509_hash", "redirect_uri"] {
        for mode in ["direct_post", "direct_post.jwt"] {
            let methods: &[&str] = if prefix == "redirect_uri" {
                &["get"]
            } else {
                &["get", "post"]
            };
            for method in methods {
                let options = json!({"client_id_prefix": prefix, "response_mode": mode,
                                     "request_uri_method": method});
                let (id, out) = js_wallet(&h, options, false).await;
                assert_eq!(out["status"], 200, "{prefix} {mode} {method}: {out}");
                assert!(
                    out["client_id"]
                        .as_str()
                        .unwrap()
                        .starts_with(&format!("{prefix}:"))
                );
                assert!(
                    out["body"]["redirect_uri"]
                        .as_str()
                        .unwrap()
                        .contains("#response_code="),
                    "{out}"
                );
                let v = h.view(&id).await;
                assert_eq!(v["status"], "success", "{prefix} {mode} {method}: {v}");
                assert_eq!(
                    v["claims"]["classroom_pass"][0]["course"],
                    "Immersive Physics 101"
                );
            }
        }
    }
}

#[tokio::test]
async fn openid4vc_ts_wallet_replay_is_refused() {
    let (h, _) = http_harness(Setup::default()).await;
    let (id, out) = js_wallet(
        &h,
        json!({"client_id_prefix": "x509_san_dns", "response_mode": "direct_post.jwt"}),
        true,
    )
    .await;
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(out["replay"]["status"], 400, "{out}");
    assert_eq!(out["replay"]["body"]["error"], "transaction_answered");
    assert_eq!(h.view(&id).await["status"], "success");
}

/// A presentation made by the Python reference implementation for `request`.
async fn python_presentation(h: &Harness, request: &oid4vp::AuthorizationRequest) -> String {
    let holder: Value = private_jwk(&h.holder);
    let input = json!({
        "credential": h.pass(),
        "holder_jwk": holder,
        "nonce": request.nonce,
        "aud": request.client_id.as_str(),
        "disclose": ["role", "course"],
    });
    let out = tokio::task::spawn_blocking(move || run(python(), &input))
        .await
        .unwrap();
    out["presentation"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn python_reference_presentations_are_accepted() {
    let (h, _) = http_harness(Setup::default()).await;
    for mode in ["direct_post", "direct_post.jwt"] {
        let (id, link) = h
            .start(json!({"client_id_prefix": "x509_hash", "response_mode": mode}))
            .await;
        let request = h.resolve(&link, None).await;
        let vp = python_presentation(&h, &request).await;
        let a = h
            .form(
                "/response",
                h.answer(&request, h.vp_token("classroom_pass", vp)),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{mode}: {}", a.text());
        let v = h.view(&id).await;
        assert_eq!(v["status"], "success", "{v}");
        assert_eq!(v["claims"]["classroom_pass"][0]["role"], "student");
    }
}

#[tokio::test]
async fn rejects_a_tampered_python_presentation() {
    let (h, _) = http_harness(Setup::default()).await;
    let (id, link) = h.start(json!({"response_mode": "direct_post"})).await;
    let request = h.resolve(&link, None).await;
    let vp = python_presentation(&h, &request).await;
    // Swap the role disclosure for one claiming "teacher": its digest is not in the
    // credential, and the KB-JWT's sd_hash no longer matches.
    let parts: Vec<&str> = vp.split('~').collect();
    let forged = jose::b64::encode(br#"["c2FsdHNhbHRzYWx0","role","teacher"]"#);
    let mut tampered: Vec<String> = parts.iter().map(|s| (*s).to_owned()).collect();
    tampered[1] = forged;
    let a = h
        .form(
            "/response",
            h.answer(&request, h.vp_token("classroom_pass", tampered.join("~"))),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    assert_eq!(a.error(), "invalid_disclosure", "{}", a.text());
    assert_eq!(h.view(&id).await["status"], "failed");
}

#[tokio::test]
async fn rejects_a_replayed_python_presentation() {
    let (h, _) = http_harness(Setup::default()).await;
    let (_, link) = h.start(json!({"response_mode": "direct_post"})).await;
    let request = h.resolve(&link, None).await;
    let vp = python_presentation(&h, &request).await;
    let form = h.answer(&request, h.vp_token("classroom_pass", vp.clone()));
    assert_eq!(
        h.form("/response", form.clone()).await.status,
        StatusCode::OK
    );
    let again = h.form("/response", form).await;
    assert_eq!(again.error(), "transaction_answered");
    // Into a new transaction: bound to the old nonce.
    let (id2, link2) = h.start(json!({"response_mode": "direct_post"})).await;
    let second = h.resolve(&link2, None).await;
    let a = h
        .form(
            "/response",
            h.answer(&second, h.vp_token("classroom_pass", vp)),
        )
        .await;
    assert_eq!(a.error(), "wrong_nonce");
    assert_eq!(h.view(&id2).await["status"], "failed");
}

#[test]
fn python_holder_key_is_a_private_jwk() {
    // The scripts take the holder key as a JWK with `d`; make sure ours round-trips.
    let s = jose::SoftwareSigner::generate(jose::Algorithm::Es256).unwrap();
    let v = private_jwk(&s);
    assert!(v["d"].is_string());
    assert!(PrivateJwk::from_json(v.to_string().as_bytes()).is_ok());
}
