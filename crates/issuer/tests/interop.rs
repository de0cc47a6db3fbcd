//! Interop with third-party code: the wallet client of `@openid4vc/openid4vci` +
//! `@openid4vc/oauth2` (npm, pinned in `interop/package.json`), unmodified — configured
//! through its public API only, no wrapped `fetch` — gets a credential from this issuer over
//! HTTP with client attestation, as a bearer token or DPoP-bound (DPoP off, offered,
//! required with server nonces); `@sd-jwt/sd-jwt-vc` verifies it (signature from the JWT VC
//! Issuer Metadata, status through the status list); after revocation
//! `@sd-jwt/jwt-status-list` decodes the re-signed list and finds the entry INVALID.
//!
//! Needs Node and `npm ci` in `interop/` (scripts/test.sh does it); fails otherwise.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;
use store::Backend;

fn interop_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../interop"));
    assert!(
        dir.join("node_modules/@openid4vc/openid4vci").is_dir(),
        "interop/node_modules is missing: run `npm ci` in interop/ (scripts/test.sh does it)"
    );
    dir
}

async fn node(args: &[&str], env: &[(&str, String)]) -> Value {
    let dir = interop_dir();
    let mut cmd = Command::new("node");
    cmd.current_dir(&dir).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("node must be installed");
    assert!(
        out.status.success(),
        "node {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

/// How the peer wallet and the issuer are set up for DPoP.
#[derive(Clone, Copy)]
struct Dpop {
    /// `[issuer.dpop]`.
    config: &'static str,
    /// The peer's `DPOP` (`auto`: use DPoP when offered; `never`).
    wallet: &'static str,
    /// The `token_type` the peer must have got.
    token_type: &'static str,
}

const DEFAULT: Dpop = Dpop {
    config: "",
    wallet: "auto",
    token_type: "DPoP",
};

async fn wallet_flow(backend: Backend, tx_code: bool) {
    wallet_flow_with(backend, tx_code, DEFAULT).await;
}

async fn wallet_flow_with(backend: Backend, tx_code: bool, dpop: Dpop) {
    let s = serve(backend, dpop.config).await;
    let h = &s.harness;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = json!({"credential_configuration_ids": [CONFIG_ID], "claims": issuer::demo::example_claims(), "by_reference": true});
    if tx_code {
        request["tx_code"] = json!({"length": 6, "description": "sent by e-mail"});
    }
    let offer: Value = http
        .post(format!("{}/admin/offers", s.base))
        .bearer_auth(ADMIN)
        .json(&request)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let attester = h.attester.to_private_jwk().unwrap().to_json().to_string();
    let mut env = vec![
        ("OFFER_URI", offer["offer_uri"].as_str().unwrap().to_owned()),
        ("CLIENT_ID", CLIENT_ID.to_owned()),
        ("ATTESTER_JWK", attester),
        ("DPOP", dpop.wallet.to_owned()),
    ];
    if let Some(t) = offer["tx_code"].as_str() {
        env.push(("TX_CODE", t.to_owned()));
    }
    let result = node(&["js/issuer-wallet.mjs"], &env).await;
    assert_eq!(result["token_type"], dpop.token_type, "{result}");
    assert_eq!(result["claims"]["vct"], issuer::demo::CLASSROOM_PASS_VCT);
    assert_eq!(result["claims"]["course"], "Immersive chemistry 101");
    assert_eq!(result["status"]["value"], 0);
    assert_eq!(h.issued().await, 1);
    let listed = h.admin_get("/admin/credentials").await.json();
    assert_eq!(
        listed["credentials"][0]["notification"]["event"],
        "credential_accepted"
    );

    // Revoke: the re-signed list shows it to a third-party decoder.
    let id = listed["credentials"][0]["id"].as_str().unwrap();
    let r = h
        .admin_post(
            &format!("/admin/credentials/{id}/status"),
            json!({"status": "INVALID"}),
        )
        .await;
    assert_eq!(r.status, axum::http::StatusCode::OK);
    let uri = result["status"]["uri"].as_str().unwrap().to_owned();
    let idx = result["status"]["idx"].to_string();
    let metadata = format!("{}/.well-known/jwt-vc-issuer/issuer", s.origin);
    let status = node(&["js/issuer-status.mjs", &uri, &idx, &metadata], &[]).await;
    assert_eq!(status["status"], 1, "{status}");
    assert_eq!(status["bits"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oid4vc_ts_wallet_gets_a_credential_with_client_attestation_sqlite() {
    wallet_flow(Backend::Sqlite, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oid4vc_ts_wallet_gets_a_credential_with_tx_code_postgres() {
    wallet_flow(Backend::Postgres, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_unmodified_oid4vc_ts_wallet_with_bearer_token_dpop_off() {
    wallet_flow_with(
        Backend::Sqlite,
        false,
        Dpop {
            config: "[dpop]\nmode = \"off\"",
            wallet: "auto",
            token_type: "Bearer",
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_unmodified_oid4vc_ts_wallet_with_bearer_token_dpop_offered() {
    wallet_flow_with(
        Backend::Sqlite,
        false,
        Dpop {
            config: "",
            wallet: "never",
            token_type: "Bearer",
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_unmodified_oid4vc_ts_wallet_with_dpop_offered() {
    wallet_flow_with(Backend::Sqlite, false, DEFAULT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_unmodified_oid4vc_ts_wallet_with_dpop_required_and_nonces() {
    wallet_flow_with(
        Backend::Postgres,
        true,
        Dpop {
            config: "[dpop]\nmode = \"required\"\nrequire_nonce = true",
            wallet: "auto",
            token_type: "DPoP",
        },
    )
    .await;
}
