//! The wallet core against Symbolon's attester, issuer and verifier over loopback HTTP:
//! issuance (offer by value and by reference, transaction code, batch, encrypted
//! responses, signed metadata, notifications, attestation challenge), presentation with
//! each client identifier prefix, request_uri method and response mode, consent,
//! revocation and withheld essential claims.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use jose::Signer;
use oid4vci::NotificationEvent;
use serde_json::json;
use wallet::lifecycle::Lifecycle;
use wallet::presentation::consent::parse_dotted;
use wallet::{IssuanceError, PeerError, PresentationError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issues_verifies_and_acknowledges_a_classroom_pass() {
    let p = platform("").await;
    let w = p.wallet();
    let holder = holder();
    let offer = p.offer(json!({})).await;
    let pending = w
        .resolve_offer(offer["offer_uri"].as_str().unwrap())
        .await
        .unwrap();
    assert!(pending.signed_metadata, "Symbolon serves signed metadata");
    assert_eq!(pending.issuer(), p.issuer);
    let display = pending.display(issuer::demo::CLASSROOM_PASS_ID);
    assert_eq!(display.name.as_deref(), Some("IMMERSE classroom pass"));
    assert!(display.claims.iter().any(|c| c.label == "Role"));

    let issued = w.accept(&pending, None, &[&holder]).await.unwrap();
    assert!(issued.encrypted, "the issuer offers response encryption");
    assert_eq!(issued.credentials.len(), 1);
    let c = &issued.credentials[0].credential;
    assert_eq!(c.vct, issuer::demo::CLASSROOM_PASS_VCT);
    assert_eq!(c.claims["role"], "student");
    assert!(c.holder_key.as_ref().unwrap().same_key(holder.public_jwk()));
    assert_eq!(c.disclosable().len(), 6);
    let handle = &issued.notifications[0];
    w.notify(handle, NotificationEvent::CredentialAccepted, None)
        .await
        .unwrap();
    assert_eq!(w.check(c).await, Lifecycle::Valid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_the_issuers_attestation_challenge() {
    // An issuer demanding a server-issued challenge in every PoP answers the first token
    // request `use_attestation_challenge`; the wallet takes the challenge and retries once.
    let p = platform("[attestation]\nrequire_challenge = true").await;
    let holder = holder();
    let c = issue(&p, &holder).await;
    assert!(c.holder_key.as_ref().unwrap().same_key(holder.public_jwk()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offer_by_reference_with_transaction_code_and_plain_responses() {
    let p = platform("").await;
    let mut settings = p.settings();
    settings.encrypt_credential_response = false;
    settings.prefer_signed_metadata = false;
    let w = p.wallet_with(settings);
    let holder = holder();
    let offer = p
        .offer(json!({"by_reference": true, "tx_code": {"length": 6, "input_mode": "numeric"}}))
        .await;
    let tx = offer["tx_code"].as_str().unwrap();
    let pending = w
        .resolve_offer(offer["offer_uri"].as_str().unwrap())
        .await
        .unwrap();
    assert!(!pending.signed_metadata);
    assert_eq!(pending.tx_code().unwrap().length, Some(6));
    let missing = w.accept(&pending, None, &[&holder]).await.unwrap_err();
    assert!(
        matches!(missing, IssuanceError::TxCodeRequired(_)),
        "{missing}"
    );
    let shape = w
        .accept(&pending, Some("12a"), &[&holder])
        .await
        .unwrap_err();
    assert!(
        matches!(shape, IssuanceError::TxCodeShape("length")),
        "{shape}"
    );
    let issued = w.accept(&pending, Some(tx), &[&holder]).await.unwrap();
    assert!(!issued.encrypted);
    assert_eq!(issued.credentials.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_gives_one_credential_per_holder_key() {
    let p = platform("batch_size = 2").await;
    let w = p.wallet();
    let (a, b, c) = (holder(), holder(), holder());
    let offer = p.offer(json!({})).await;
    let pending = w
        .resolve_offer(offer["offer_uri"].as_str().unwrap())
        .await
        .unwrap();
    let too_many = w.accept(&pending, None, &[&a, &b, &c]).await.unwrap_err();
    assert!(
        matches!(
            too_many,
            IssuanceError::BatchSize {
                requested: 3,
                allowed: 2
            }
        ),
        "{too_many}"
    );
    let issued = w.accept(&pending, None, &[&a, &b]).await.unwrap();
    assert_eq!(issued.credentials.len(), 2);
    assert!(
        issued.credentials[0]
            .credential
            .holder_key
            .as_ref()
            .unwrap()
            .same_key(a.public_jwk())
    );
    assert!(
        issued.credentials[1]
            .credential
            .holder_key
            .as_ref()
            .unwrap()
            .same_key(b.public_jwk())
    );
}

async fn present_with(p: &Platform, params: serde_json::Value) {
    let w = p.wallet();
    let holder = holder();
    let held = vec![issue(p, &holder).await];
    let (id, link) = p.transaction(params.clone()).await;
    let request = w.resolve_request(&link).await.unwrap();
    let consent = w.consent(&request, &held);
    assert!(consent.satisfiable());
    let claims = &consent.queries[0].candidates[0].claims;
    assert_eq!(claims.len(), 6, "every disclosable claim is offered");
    let mut recommended: Vec<&str> = claims
        .iter()
        .filter(|c| c.recommended)
        .map(|c| c.name.as_str())
        .collect();
    recommended.sort_unstable();
    assert_eq!(recommended, ["course", "role"], "{params}");
    let choice = consent.recommended_choice().unwrap();
    let presented = w.present(&request, &held, &choice, &holder).await.unwrap();
    assert_eq!(presented.disclosed[0].2, ["course", "role"]);
    let result = p.result(&id).await;
    assert_eq!(result["status"], "success", "{params}: {result}");
    let disclosed = &result["claims"]["classroom_pass"][0];
    assert_eq!(disclosed["role"], "student");
    assert!(disclosed.get("given_name").is_none(), "{disclosed}");
    assert!(disclosed.get("birthdate").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presents_with_x509_san_dns_post_and_direct_post_jwt() {
    let p = platform("").await;
    present_with(
        &p,
        json!({"client_id_prefix": "x509_san_dns", "request_uri_method": "post",
               "response_mode": "direct_post.jwt"}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presents_with_x509_hash_get_and_direct_post() {
    let p = platform("").await;
    present_with(
        &p,
        json!({"client_id_prefix": "x509_hash", "request_uri_method": "get",
               "response_mode": "direct_post"}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presents_with_redirect_uri_by_value() {
    let p = platform("").await;
    present_with(
        &p,
        json!({"client_id_prefix": "redirect_uri", "response_mode": "direct_post"}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_credential_is_reported_and_refused_by_the_verifier() {
    let p = platform("").await;
    let w = p.wallet();
    let holder = holder();
    let held = vec![issue(&p, &holder).await];
    p.revoke(&holder).await;
    assert_eq!(w.check(&held[0]).await, Lifecycle::Revoked);
    let (id, link) = p.transaction(json!({})).await;
    let request = w.resolve_request(&link).await.unwrap();
    let choice = w.consent(&request, &held).recommended_choice().unwrap();
    let err = w
        .present(&request, &held, &choice, &holder)
        .await
        .unwrap_err();
    assert!(matches!(err, PresentationError::Refused(_)), "{err}");
    assert_ne!(p.result(&id).await["status"], "success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withholding_an_essential_claim_is_denied() {
    let p = platform("").await;
    let w = p.wallet();
    let holder = holder();
    let held = vec![issue(&p, &holder).await];
    let (id, link) = p.transaction(json!({})).await;
    let request = w.resolve_request(&link).await.unwrap();
    let mut choice = w.consent(&request, &held).recommended_choice().unwrap();
    choice.picks[0].disclose = vec![parse_dotted("role")];
    let err = w
        .present(&request, &held, &choice, &holder)
        .await
        .unwrap_err();
    assert!(matches!(err, PresentationError::Refused(_)), "{err}");
    let result = p.result(&id).await;
    assert_ne!(result["status"], "success", "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declining_answers_access_denied() {
    let p = platform("").await;
    let w = p.wallet();
    let (id, link) = p.transaction(json!({})).await;
    let request = w.resolve_request(&link).await.unwrap();
    w.decline(&request).await.unwrap();
    let result = p.result(&id).await;
    assert_ne!(result["status"], "success", "{result}");
    assert!(result.to_string().contains("access_denied"), "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_explains_why_nothing_matches() {
    let p = platform("").await;
    let w = p.wallet();
    let (_, link) = p.transaction(json!({})).await;
    let request = w.resolve_request(&link).await.unwrap();
    let consent = w.consent(&request, &[]);
    assert!(!consent.satisfiable());
    assert!(!consent.unmet.is_empty());
    assert!(consent.recommended_choice().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_a_presentation_without_choice() {
    let p = platform("").await;
    let w = p.wallet();
    let holder = holder();
    let held = vec![issue(&p, &holder).await];
    let (_, link) = p.transaction(json!({})).await;
    let request = w.resolve_request(&link).await.unwrap();
    let err = w
        .present(
            &request,
            &held,
            &wallet::presentation::Choice::default(),
            &holder,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, PresentationError::NothingChosen), "{err}");
    let mut choice = w.consent(&request, &held).recommended_choice().unwrap();
    choice.picks[0].disclose = vec![parse_dotted("shoe_size")];
    let err = w
        .present(&request, &held, &choice, &holder)
        .await
        .unwrap_err();
    assert!(
        matches!(err, PresentationError::UnknownClaim(ref c) if c == "shoe_size"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_an_untrusted_issuer_before_any_token_request() {
    let p = platform("").await;
    let mut settings = p.settings();
    settings.issuers = wallet::IssuerTrust::Only(vec!["https://other.example".into()]);
    let w = p.wallet_with(settings);
    let offer = p.offer(json!({})).await;
    let err = w
        .resolve_offer(offer["offer_uri"].as_str().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, IssuanceError::UntrustedIssuer(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_a_reused_offer_with_the_issuers_error() {
    let p = platform("").await;
    let w = p.wallet();
    let holder = holder();
    let offer = p.offer(json!({})).await;
    let pending = w
        .resolve_offer(offer["offer_uri"].as_str().unwrap())
        .await
        .unwrap();
    w.accept(&pending, None, &[&holder]).await.unwrap();
    let err = w.accept(&pending, None, &[&holder]).await.unwrap_err();
    assert!(
        matches!(&err, IssuanceError::Peer(e @ PeerError::Refused { .. }) if e.error_code() == Some("invalid_grant")),
        "{err}"
    );
}
