//! Signing keys in a PKCS#11 token (the SoftHSM2 test token): each rotation period's key is
//! generated inside the token (label `<key_label>-<period>`), credentials and status list tokens
//! are signed there, and a rotated key stays published so what it signed still verifies.
//!
//! Needs `SOFTHSM2_CONF` and `TEST_PKCS11_*` (scripts/test.sh sets them); holds the token
//! lock for the whole test. The clock is moved to a random period far ahead so the key
//! labels are this test's own, and the keys are destroyed at the end.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use issuer::{KeyStore, ManualClock};
use jose::{Clock, Signer};
use store::Backend;

fn kid_of(credential: &str) -> String {
    jose::CompactJws::parse(credential.split('~').next().unwrap())
        .unwrap()
        .header()
        .kid()
        .unwrap()
        .to_owned()
}

async fn signs_and_rotates_keys_inside_a_pkcs11_token(b: Backend) {
    let _lock = keys::testing::lock_token().unwrap();
    let t = keys::testing::test_token().unwrap();
    let token = keys::pkcs11::Pkcs11Token::open_with_pin(&t.module, &t.label, t.pin, 4).unwrap();
    let mut offset = [0u8; 4];
    aws_lc_rs::rand::fill(&mut offset).unwrap();
    let days = i64::from(u32::from_le_bytes(offset) % 1_000_000) + 1000;
    let clock = ManualClock::new(jose::SystemClock.now() + days * 86_400);

    let mut o = Options::new(b);
    o.key_store = Some(KeyStore::Pkcs11 {
        token: token.clone(),
        label_prefix: "test-credential-key".into(),
    });
    o.clock = Some(clock.clone());
    let h = Harness::start(o).await;
    let period = h.state.signing_keys().period_of(h.now());
    let labels = [
        format!("test-credential-key-{period}"),
        format!("test-credential-key-{}", period + 1),
    ];

    let (first, _, _) = h.issue_one(&h.wallet()).await;
    let in_token = token.signer(&labels[0]).unwrap();
    assert_eq!(kid_of(&first), in_token.public_jwk().thumbprint());
    verify_with_published_keys(&h, &first).await;

    // The status list token is signed in the token as well.
    let listed = h.admin_get("/admin/credentials").await.json();
    let uri = listed["credentials"][0]["status_list"]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = uri.strip_prefix(ISSUER).unwrap();
    let r = h
        .send(Request::get(path).body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let header = jose::CompactJws::parse(&r.text()).unwrap();
    assert_eq!(
        header.header().kid(),
        Some(in_token.public_jwk().thumbprint().as_str())
    );

    // Next period: a new key in the token; the old one is still published.
    clock.advance(86_400);
    let (second, _, _) = h.issue_one(&h.wallet()).await;
    assert_eq!(
        kid_of(&second),
        token.signer(&labels[1]).unwrap().public_jwk().thumbprint()
    );
    assert_ne!(kid_of(&first), kid_of(&second));
    verify_with_published_keys(&h, &first).await;
    verify_with_published_keys(&h, &second).await;
    let keys = h
        .send(Request::get("/jwks").body(Body::empty()).unwrap())
        .await
        .json();
    assert_eq!(keys["keys"].as_array().unwrap().len(), 2, "{keys}");
    assert!(keys["keys"][0].get("d").is_none());

    drop(h);
    for label in &labels {
        token.destroy_key(label).unwrap();
    }
}

both_backends!(signs_and_rotates_keys_inside_a_pkcs11_token);
