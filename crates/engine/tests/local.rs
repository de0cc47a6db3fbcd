//! The flows are generic over any frame sink and stream: a complete issuance and a
//! complete presentation against Symbolon's issuer and verifier through the engine's
//! in-memory transport (`engine::local::connect`), with no socket anywhere — the client
//! library opened on the two ends of the local connection.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

#[path = "../../wallet/tests/common/mod.rs"]
mod common;
mod support;

use common::platform;
use engine::Limits;
use jose::Signer;
use serde_json::json;
use support::*;
use wallet_client::{Client, Presented, ReceivePolicy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_complete_issuance_and_presentation_over_the_in_memory_transport() {
    let p = platform("").await;
    let key = session_key();
    let engine = engine_with(p.wallet_with(p.settings()), &key, Limits::default(), None);
    let (sink, stream) = engine::local::connect(engine);
    let mut client = Client::open(
        sink,
        stream,
        &token(&key, &["receive", "present"]),
        p.settings(),
    )
    .await
    .unwrap();
    assert_eq!(
        client.capabilities(),
        [
            wallet_protocol::common::Capability::Oid4vci,
            wallet_protocol::common::Capability::Oid4vp
        ]
    );

    // Issuance: the credential comes encrypted to the client and verifies here.
    let mut holder = TestHolder::new(1);
    let offer = p.offer(json!({})).await;
    let receipt = client
        .receive(
            offer["offer_uri"].as_str().unwrap(),
            &mut holder,
            ReceivePolicy::default(),
        )
        .await
        .unwrap();
    assert!(receipt.encrypted);
    assert!(!receipt.declined);
    assert_eq!(receipt.issuer, p.issuer);
    assert_eq!(receipt.credentials.len(), 1);
    let credential = receipt.credentials[0].credential.clone();
    assert_eq!(credential.vct, issuer::demo::CLASSROOM_PASS_VCT);
    assert_eq!(credential.claims["given_name"], "Erika");
    assert!(
        credential
            .holder_key
            .as_ref()
            .unwrap()
            .same_key(holder.keys[0].public_jwk())
    );
    client
        .notify(
            &receipt,
            wallet_protocol::client::NotificationEvent::CredentialAccepted,
        )
        .await
        .unwrap();

    // Presentation of that credential, on the same in-memory connection.
    let (id, link) = p.transaction(json!({})).await;
    let outcome = client
        .present(&link, &[credential], &["c-1".to_owned()], &mut holder)
        .await
        .unwrap();
    let Presented::Presented { disclosed, .. } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(disclosed.len(), 1);
    assert_eq!(disclosed[0].1, 0);
    let result = p.result(&id).await;
    assert_eq!(result["status"], "success", "{result}");
    assert_eq!(result["claims"]["classroom_pass"][0]["role"], "student");
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_the_in_memory_transport_enforces_the_same_handshake() {
    let p = platform("").await;
    let key = session_key();
    let engine = engine_with(p.wallet_with(p.settings()), &key, Limits::default(), None);
    let (sink, stream) = engine::local::connect(engine);
    let other = session_key();
    let err = Client::open(sink, stream, &token(&other, &["receive"]), p.settings())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            wallet_client::ClientError::Refused(wallet_protocol::ErrorCode::AuthFailed)
        ),
        "{err}"
    );
}
