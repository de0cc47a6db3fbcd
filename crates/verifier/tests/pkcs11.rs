//! The request signing key inside a PKCS#11 token (SoftHSM2 in tests): request objects for
//! `x509_san_dns` and `x509_hash` are signed by the token, verified by the wallet, and the
//! flow completes. Needs the test token (`eval "$(scripts/softhsm-setup.sh /tmp/x)"`;
//! scripts/test.sh sets it up) and fails with that instruction otherwise.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::*;
use jose::Signer;
use serde_json::json;

#[tokio::test]
async fn request_objects_signed_in_a_pkcs11_token_are_accepted() {
    let token = keys::testing::test_token().unwrap();
    let _lock = keys::testing::lock_token().unwrap();
    let hsm = keys::pkcs11::Pkcs11Token::open_with_pin(&token.module, &token.label, token.pin, 2)
        .unwrap();
    let label = format!("verifier-request-{}", std::process::id());
    let signer = hsm.generate_key(&label).unwrap();
    assert!(signer.key_id().is_some());
    let h = harness(Setup {
        request_signer: Some(Arc::new(signer)),
        ..Setup::default()
    })
    .await;
    for prefix in ["x509_san_dns", "x509_hash"] {
        let (id, link) = h
            .start(json!({"client_id_prefix": prefix, "request_uri_method": "post"}))
            .await;
        let request = h
            .resolve(
                &link,
                Some(oid4vp::RequestUriPost {
                    wallet_metadata: None,
                    wallet_nonce: Some("hsm-nonce".into()),
                }),
            )
            .await;
        assert_eq!(request.wallet_nonce.as_deref(), Some("hsm-nonce"));
        let (qid, vp) = h.presentation(&h.pass(), &request, None);
        let a = h
            .form("/response", h.answer(&request, h.vp_token(&qid, vp)))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{prefix}: {}", a.text());
        assert_eq!(h.view(&id).await["status"], "success");
    }
    hsm.destroy_key(&label).unwrap();
}
