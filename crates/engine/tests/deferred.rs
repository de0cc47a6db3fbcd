//! Deferred issuance through the engine (OpenID4VCI 1.0 §9): an issuer (the scripted
//! issuer of the wallet's test harness) answers the credential request `202` with a
//! `transaction_id` and asks to be polled; its deferred credential endpoint answers `202`
//! once more, then the credential. In plaintext the engine reads the transaction id and
//! polls (`deferred` step with `transaction_id`, `interval`); when the response is
//! encrypted to the client, the engine shows the JWE (`deferred` step with
//! `encrypted_response`), the client answers `continue_deferred` with what it decrypted,
//! and the credential arrives encrypted as usual.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../wallet/tests/common/mod.rs"]
mod common;
mod support;

use common::scripted::{Script, scripted_issuer};
use common::*;
use support::*;
use wallet_client::ReceivePolicy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_plaintext_deferral_is_polled_by_the_engine() {
    let p = platform("").await;
    let served = serve_engine(&p, p.settings()).await;
    let mut client = served.client(&p).await;
    let issuer = scripted_issuer(Script {
        defer: 2,
        ..Script::default()
    })
    .await;
    let offer = issuer.offer();
    let mut holder = TestHolder::new(1);
    let receipt = client
        .receive(
            &offer,
            &mut holder,
            ReceivePolicy {
                allow_plaintext: true,
            },
        )
        .await
        .unwrap();
    assert!(!receipt.encrypted);
    assert_eq!(receipt.credentials.len(), 1);
    assert_eq!(
        receipt.credentials[0].credential.claims["given_name"],
        "Erika"
    );
    assert_eq!(issuer.polls.lock().unwrap().len(), 2, "polled until issued");
    let deferred: Vec<_> = holder
        .steps
        .iter()
        .filter(|(s, _)| {
            *s == wallet_protocol::FlowStep::Issuance(wallet_protocol::IssuanceStep::Deferred)
        })
        .collect();
    assert_eq!(deferred.len(), 2, "one deferred step per 202");
    assert_eq!(
        deferred[0].1.transaction_id.as_deref(),
        Some(common::scripted::TRANSACTION_ID)
    );
    assert_eq!(deferred[0].1.interval, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_an_encrypted_deferral_is_read_by_the_client_and_polled_by_the_engine() {
    let p = platform("").await;
    let served = serve_engine(&p, p.settings()).await;
    let mut client = served.client(&p).await;
    let issuer = scripted_issuer(Script {
        encrypting: true,
        defer: 2,
        ..Script::default()
    })
    .await;
    let offer = issuer.offer();
    let mut holder = TestHolder::new(1);
    let receipt = client
        .receive(&offer, &mut holder, ReceivePolicy::default())
        .await
        .unwrap();
    assert!(
        receipt.encrypted,
        "the credential came encrypted to the client"
    );
    assert_eq!(
        receipt.credentials[0].credential.claims["given_name"],
        "Erika"
    );
    let polls = issuer.polls.lock().unwrap().clone();
    assert_eq!(polls.len(), 2);
    // Each poll asked for the response encrypted to the client's key again.
    assert!(
        polls
            .iter()
            .all(|p| p["credential_response_encryption"].is_object())
    );
    let deferred: Vec<_> = holder
        .steps
        .iter()
        .filter(|(s, _)| {
            *s == wallet_protocol::FlowStep::Issuance(wallet_protocol::IssuanceStep::Deferred)
        })
        .collect();
    assert_eq!(deferred.len(), 2);
    // The engine could not read the transaction id: it showed the JWE to the client.
    assert!(deferred[0].1.encrypted_response.is_some());
    assert!(deferred[0].1.transaction_id.is_none());
    // Nothing the engine saw carries the credential.
    let issuer_jwt = receipt.credentials[0]
        .credential
        .compact
        .split('~')
        .next()
        .unwrap()
        .to_owned();
    assert!(!served.seen().contains(&issuer_jwt));
}
