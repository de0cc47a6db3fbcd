//! The command-line wallet against third-party peers: it receives a credential from the
//! oid4vc-ts OID4VCI issuer (`interop/js/wallet-issuer.mjs`, which trusts the platform's
//! attester) and presents it to the oid4vc-ts OpenID4VP verifier
//! (`interop/js/wallet-verifier.mjs`, signing its requests with the platform's development
//! certificate), with exactly the claims chosen on the command line.
//!
//! Needs `npm ci` in `interop/` (scripts/test.sh does).

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
#[path = "../../../interop/rust/node_peer.rs"]
mod node_peer;

use std::path::Path;

use common::{ok_json, start, wallet};
use node_peer::NodePeer;
use serde_json::json;

const VCT: &str = "https://interop.example/vct/pass";

/// The base64 DER inside a one-certificate PEM file.
fn pem_body(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_wallet_receives_from_and_presents_to_oid4vc_ts_peers() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start(dir.path());
    let issuer = NodePeer::start(
        "js/wallet-issuer.mjs",
        "127.0.0.1",
        &[(
            "ATTESTER_JWKS_URL",
            format!("{base}/attester/.well-known/jwks.json"),
        )],
    );
    let verifier = NodePeer::start(
        "js/wallet-verifier.mjs",
        "localhost",
        &[
            (
                "ISSUER_JWKS_URL",
                format!("{}/.well-known/jwt-vc-issuer", issuer.base),
            ),
            ("VCT", VCT.to_owned()),
            ("CLAIMS", "given_name,role".to_owned()),
            ("CERT_DER", pem_body(&dir.path().join("vcert.pem"))),
            (
                "CERT_KEY_JWK",
                std::fs::read_to_string(dir.path().join("vkey.jwk")).unwrap(),
            ),
        ],
    );

    let w = dir.path().join("wallet");
    ok_json(wallet(
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

    let offer = issuer.post("/test/offer", &json!({})).await;
    let stored = ok_json(wallet(
        &w,
        &["--json", "accept", offer["offer_uri"].as_str().unwrap()],
    ));
    let held = &stored["stored"][0];
    assert_eq!(held["claims"]["role"], "student", "{stored}");
    assert_eq!(held["vct"], VCT, "{stored}");
    let events = issuer.get("/test/events").await;
    assert_eq!(events["tokens"].as_array().unwrap().len(), 1, "{events}");
    assert_eq!(
        events["notifications"][0]["event"], "credential_accepted",
        "{events}"
    );

    let request = verifier
        .post(
            "/test/request",
            &json!({"client_id_prefix": "x509_san_dns", "response_mode": "direct_post.jwt",
                    "by_reference": true, "request_uri_method": "post"}),
        )
        .await;
    let presented = ok_json(wallet(
        &w,
        &[
            "--json",
            "present",
            request["authorization_request"].as_str().unwrap(),
            "--disclose",
            "given_name,role",
        ],
    ));
    assert_eq!(presented["outcome"], "presented", "{presented}");
    let result = verifier
        .get(&format!("/test/result/{}", request["id"].as_str().unwrap()))
        .await;
    assert_eq!(result["status"], "verified", "{result}");
    assert_eq!(result["claims"]["given_name"], "Erika", "{result}");
    assert_eq!(result["claims"]["role"], "student", "{result}");
    assert!(result["claims"].get("family_name").is_none(), "{result}");
}
