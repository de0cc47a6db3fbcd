//! The engine end to end through a real WebSocket: Symbolon's attester, issuer and
//! verifier on loopback, the engine served by its router, and the API v2 client library
//! holding the keys and the credentials. Issuance (encrypted relay, transaction code
//! wrong then right, batch, plaintext only when allowed, untrusted issuer), presentation
//! for each client identifier prefix and response mode, decline, revoked credential; the
//! privacy tests watch every HTTP exchange the engine makes.

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

use std::collections::VecDeque;

use common::*;
use jose::Signer;
use serde_json::json;
use support::*;
use wallet::HeldCredential;
use wallet_client::{Client, Presented, ReceivePolicy};
use wallet_protocol::ErrorCode;

fn flow_error(e: wallet_client::ClientError) -> ErrorCode {
    match e {
        wallet_client::ClientError::Flow { code, .. } => code,
        other => panic!("expected a flow_error, got {other}"),
    }
}

async fn offer_uri(p: &Platform, extra: serde_json::Value) -> (String, serde_json::Value) {
    let offer = p.offer(extra).await;
    (offer["offer_uri"].as_str().unwrap().to_owned(), offer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_issuance_relays_ciphertext_the_client_decrypts_and_verifies() {
    let p = platform("").await;
    let served = serve_engine(&p, p.settings()).await;
    let mut client = served.client(&p).await;
    let mut holder = TestHolder::new(1);
    let (uri, _) = offer_uri(&p, json!({})).await;
    let receipt = client
        .receive(&uri, &mut holder, ReceivePolicy::default())
        .await
        .unwrap();
    assert!(receipt.encrypted, "the issuer encrypts to the client's key");
    assert_eq!(receipt.signed_metadata, Some(true));
    assert_eq!(receipt.issuer, p.issuer);
    assert_eq!(receipt.credentials.len(), 1);
    let c = &receipt.credentials[0];
    assert_eq!(c.credential.vct, issuer::demo::CLASSROOM_PASS_VCT);
    assert_eq!(c.credential.claims["given_name"], "Erika");
    assert!(
        c.credential
            .holder_key
            .as_ref()
            .unwrap()
            .same_key(holder.keys[0].public_jwk())
    );
    assert_eq!(c.display.name.as_deref(), Some("IMMERSE classroom pass"));
    assert!(c.display.claims.iter().any(|l| l.label == "Role"));
    let delivered = client
        .notify(
            &receipt,
            wallet_protocol::client::NotificationEvent::CredentialAccepted,
        )
        .await
        .unwrap();
    assert!(delivered, "the issuer accepted the notification");
    assert!(served.seen().contains("credential_accepted"));

    // The engine never held the credential: no HTTP body it sent or received carries
    // the issuer-signed JWT or a claim value; the credential endpoint answered a JWE.
    let issuer_jwt = c.credential.compact.split('~').next().unwrap();
    let seen = served.seen();
    assert!(seen.contains("credential endpoint") || seen.contains("/credential"));
    assert!(!seen.contains(issuer_jwt), "the engine saw the credential");
    assert!(!seen.contains("Erika"), "the engine saw a claim value");
    assert!(!seen.contains("Mustermann"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_wrong_transaction_code_is_asked_again_then_the_right_one_works() {
    let p = platform("").await;
    let served = serve_engine(&p, p.settings()).await;
    let mut client = served.client(&p).await;
    let (uri, offer) = offer_uri(
        &p,
        json!({"by_reference": true, "tx_code": {"length": 6, "input_mode": "numeric"}}),
    )
    .await;
    let right = offer["tx_code"].as_str().unwrap().to_owned();
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let mut holder = TestHolder::new(1);
    holder.tx_codes = VecDeque::from([wrong.to_owned(), right]);
    let receipt = client
        .receive(&uri, &mut holder, ReceivePolicy::default())
        .await
        .unwrap();
    assert_eq!(holder.tx_prompts, [false, true]);
    assert_eq!(receipt.credentials.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_declining_the_transaction_code_ends_the_flow_declined() {
    let p = platform("").await;
    let served = serve_engine(&p, p.settings()).await;
    let mut client = served.client(&p).await;
    let (uri, _) = offer_uri(&p, json!({"tx_code": {"length": 4}})).await;
    let mut holder = TestHolder::new(1);
    let receipt = client
        .receive(&uri, &mut holder, ReceivePolicy::default())
        .await
        .unwrap();
    assert!(receipt.declined);
    assert!(receipt.credentials.is_empty());
    assert!(!served.seen().contains("token endpoint"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_batch_gives_one_credential_per_holder_key() {
    let p = platform("batch_size = 2").await;
    let served = serve_engine(&p, p.settings()).await;
    let mut client = served.client(&p).await;
    let (uri, _) = offer_uri(&p, json!({})).await;
    let mut holder = TestHolder::new(3);
    let receipt = client
        .receive(&uri, &mut holder, ReceivePolicy::default())
        .await
        .unwrap();
    assert_eq!(
        receipt.credentials.len(),
        2,
        "the batch size caps the count"
    );
    for (c, key) in receipt.credentials.iter().zip(&holder.keys) {
        assert!(
            c.credential
                .holder_key
                .as_ref()
                .unwrap()
                .same_key(key.public_jwk())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_an_issuer_that_cannot_encrypt_is_refused_unless_plaintext_is_allowed() {
    let p = platform("[encryption]\nenabled = false").await;
    let served = serve_engine(&p, p.settings()).await;
    let mut client = served.client(&p).await;
    let (uri, _) = offer_uri(&p, json!({})).await;
    let mut holder = TestHolder::new(1);
    let err = client
        .receive(&uri, &mut holder, ReceivePolicy::default())
        .await
        .unwrap_err();
    assert_eq!(flow_error(err), ErrorCode::CredentialError);
    assert!(
        !served.seen().contains("token endpoint"),
        "refused before redeeming the offer"
    );

    let (uri, _) = offer_uri(&p, json!({})).await;
    let receipt = client
        .receive(
            &uri,
            &mut holder,
            ReceivePolicy {
                allow_plaintext: true,
            },
        )
        .await
        .unwrap();
    assert!(!receipt.encrypted);
    assert_eq!(receipt.credentials.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_an_untrusted_issuer_ends_at_trust_evaluated() {
    let p = platform("").await;
    let mut settings = p.settings();
    settings.issuers = wallet::IssuerTrust::Only(vec!["https://other.example".into()]);
    let served = serve_engine(&p, settings).await;
    let mut client = served.client(&p).await;
    let (uri, _) = offer_uri(&p, json!({})).await;
    let err = client
        .receive(&uri, &mut TestHolder::new(1), ReceivePolicy::default())
        .await
        .unwrap_err();
    match err {
        wallet_client::ClientError::Flow { code, step } => {
            assert_eq!(code, ErrorCode::UntrustedIssuer);
            assert_eq!(
                step,
                Some(wallet_protocol::FlowStep::Issuance(
                    wallet_protocol::IssuanceStep::TrustEvaluated
                ))
            );
        }
        other => panic!("{other}"),
    }
    assert!(!served.seen().contains("token endpoint"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_an_offer_on_a_private_address_is_refused_by_the_guard() {
    let p = platform("").await;
    let served = serve_engine(&p, p.settings()).await;
    let mut client = served.client(&p).await;
    for offer in [
        "openid-credential-offer://?credential_offer_uri=https%3A%2F%2F10.1.2.3%2Foffer",
        "openid-credential-offer://?credential_offer_uri=https%3A%2F%2F169.254.169.254%2Flatest",
    ] {
        let err = client
            .receive(offer, &mut TestHolder::new(1), ReceivePolicy::default())
            .await
            .unwrap_err();
        assert_eq!(flow_error(err), ErrorCode::OfferFetchError, "{offer}");
    }
    assert!(served.seen().is_empty(), "nothing was sent");
}

async fn issued(
    p: &Platform,
    served: &Served,
    client: &mut Client,
) -> (TestHolder, HeldCredential) {
    let holder_keys = TestHolder::new(1);
    let mut holder = holder_keys;
    let (uri, _) = offer_uri(p, json!({})).await;
    let receipt = client
        .receive(&uri, &mut holder, ReceivePolicy::default())
        .await
        .unwrap();
    let _ = served;
    (holder, receipt.credentials[0].credential.clone())
}

async fn present_through_engine(params: serde_json::Value) {
    let p = platform("").await;
    let served = serve_engine(&p, p.settings()).await;
    let mut client = served.client(&p).await;
    let (mut holder, credential) = issued(&p, &served, &mut client).await;
    let held = vec![credential];
    let ids = vec!["c-1".to_owned()];
    let (id, link) = p.transaction(params.clone()).await;
    let before = served.exchanges.lock().unwrap().len();
    let outcome = client
        .present(&link, &held, &ids, &mut holder)
        .await
        .unwrap();
    let Presented::Presented { disclosed, .. } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(disclosed[0].2, ["course", "role"]);
    let result = p.result(&id).await;
    assert_eq!(result["status"], "success", "{params}: {result}");
    let shown = &result["claims"]["classroom_pass"][0];
    assert_eq!(shown["role"], "student");
    assert!(shown.get("given_name").is_none(), "{shown}");
    // What the engine saw of this presentation: the chosen disclosures only.
    let seen: String = served.exchanges.lock().unwrap()[before..]
        .iter()
        .map(|e| {
            format!(
                "{}{}",
                e.request_body.clone().unwrap_or_default(),
                e.response_body
            )
        })
        .collect();
    assert!(
        !seen.contains("Erika"),
        "an undisclosed claim reached the engine"
    );
    assert!(!seen.contains("2004-08-12"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_presents_with_x509_san_dns_post_and_direct_post_jwt() {
    present_through_engine(json!({"client_id_prefix": "x509_san_dns",
        "request_uri_method": "post", "response_mode": "direct_post.jwt"}))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_presents_with_x509_hash_get_and_direct_post() {
    present_through_engine(json!({"client_id_prefix": "x509_hash",
        "request_uri_method": "get", "response_mode": "direct_post"}))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_presents_with_redirect_uri_by_value() {
    present_through_engine(
        json!({"client_id_prefix": "redirect_uri", "response_mode": "direct_post"}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_declining_at_consent_sends_access_denied() {
    let p = platform("").await;
    let served = serve_engine(&p, p.settings()).await;
    let mut client = served.client(&p).await;
    let (mut holder, credential) = issued(&p, &served, &mut client).await;
    holder.decline = true;
    let (id, link) = p.transaction(json!({})).await;
    let outcome = client
        .present(&link, &[credential], &["c-1".to_owned()], &mut holder)
        .await
        .unwrap();
    assert!(
        matches!(outcome, Presented::Declined { matched: true, .. }),
        "{outcome:?}"
    );
    let result = p.result(&id).await;
    assert_ne!(result["status"], "success");
    assert!(result.to_string().contains("access_denied"), "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_holding_nothing_that_matches_tells_the_verifier_access_denied() {
    let p = platform("").await;
    let served = serve_engine(&p, p.settings()).await;
    let mut client = served.client(&p).await;
    let mut holder = TestHolder::new(1);
    let (id, link) = p.transaction(json!({})).await;
    let outcome = client.present(&link, &[], &[], &mut holder).await.unwrap();
    assert!(
        matches!(outcome, Presented::Declined { matched: false, .. }),
        "{outcome:?}"
    );
    assert!(p.result(&id).await.to_string().contains("access_denied"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_revoked_credential_is_refused_by_the_verifier() {
    let p = platform("").await;
    let served = serve_engine(&p, p.settings()).await;
    let mut client = served.client(&p).await;
    let (mut holder, credential) = issued(&p, &served, &mut client).await;
    p.revoke(&holder.keys[0]).await;
    let (id, link) = p.transaction(json!({})).await;
    let err = client
        .present(&link, &[credential], &["c-1".to_owned()], &mut holder)
        .await
        .unwrap_err();
    assert_eq!(flow_error(err), ErrorCode::PresentationError);
    assert_ne!(p.result(&id).await["status"], "success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_session_without_the_present_permission_cannot_present() {
    let p = platform("").await;
    let served = serve_engine(&p, p.settings()).await;
    let mut client = Client::connect(&served.url, &served.token(&["receive"]), p.settings(), &[])
        .await
        .unwrap();
    assert_eq!(
        client.capabilities(),
        [wallet_protocol::common::Capability::Oid4vci]
    );
    let (_, link) = p.transaction(json!({})).await;
    let err = client
        .present(&link, &[], &[], &mut TestHolder::new(1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, wallet_client::ClientError::NotPermitted(_)),
        "{err}"
    );
}
