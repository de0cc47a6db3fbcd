//! Trust per attester entry (issue 10 item 2): besides Symbolon's own attester (whose
//! attestations must carry an `environment` claim the environment policy accepts), a
//! third-party wallet provider is trusted by its own keys, with its own policy — accepted
//! client_ids and required claims — and without Symbolon's `environment` claim. Each
//! entry's policy applies only to attestations its own keys verified.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::http::StatusCode;
use client_attestation::AttestationClaims;
use common::*;
use jose::{Algorithm, Signer, SoftwareSigner};
use serde_json::{Map, Value, json};
use store::Backend;

/// The provider entry as an operator writes it, trusting the keys in `jwks`.
fn provider_config(jwks: &std::path::Path) -> String {
    format!(
        r#"
[[attestation.wallet_providers]]
name = "acme-wallet"
jwks_file = "{}"
client_ids = ["https://wallet.example/client"]
[attestation.wallet_providers.required_claims]
"/wallet_name" = ["Acme Wallet"]
"#,
        jwks.display()
    )
}

/// An issuer trusting the harness attester (Symbolon, default policy) and `provider`,
/// whose public key is published in a JWK Set file.
async fn with_provider(b: Backend, provider: &SoftwareSigner) -> (Harness, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("acme-wallet-provider.jwks.json");
    std::fs::write(
        &jwks,
        json!({"keys": [provider.public_jwk().to_value()]}).to_string(),
    )
    .unwrap();
    let mut o = Options::new(b);
    o.config = provider_config(&jwks);
    // The trust sources exactly as the binary derives them from the configuration.
    o.wallet_providers =
        issuer::TrustSources::from_config(&typed_config(&o.config).attestation, None)
            .wallet_providers;
    (Harness::start(o).await, dir)
}

/// An attestation as a third-party wallet provider writes it (OpenID4VCI Appendix E): no
/// Symbolon `environment`, the provider's own claims.
fn provider_attestation(
    h: &Harness,
    provider: &SoftwareSigner,
    w: &Wallet,
    client_id: &str,
    extra: Value,
) -> String {
    let extra: Map<String, Value> = extra.as_object().cloned().unwrap_or_default();
    AttestationClaims {
        issuer: Some("https://wallet-provider.acme.example".into()),
        client_id: client_id.into(),
        iat: h.now() - 5,
        exp: h.now() + 3600,
        cnf: w.instance.public_jwk().clone(),
        jti: None,
        environment: None,
        extra,
    }
    .sign(provider, None)
    .unwrap()
}

fn provider_key() -> SoftwareSigner {
    SoftwareSigner::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("acme-wp-2026")
}

async fn issue10_third_party_wallet_provider_attestation_is_accepted_under_its_own_policy(
    b: Backend,
) {
    let provider = provider_key();
    let (h, _dir) = with_provider(b, &provider).await;
    let mut w = h.wallet();
    w.attestation = provider_attestation(
        &h,
        &provider,
        &w,
        CLIENT_ID,
        json!({"wallet_name": "Acme Wallet", "wallet_link": "https://acme.example"}),
    );
    let code = h.simple_offer().await;
    let r = h.token(&w, &code, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // The whole issuance works with it, token binding included.
    let at = r.json()["access_token"].as_str().unwrap().to_owned();
    let body = h.request_body(&w).await;
    let r = h.credential(&w, &at, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(h.issued().await, 1);

    // The Symbolon attester's entry keeps its own policy: without `environment` its
    // attestations are still refused.
    let mut w = h.wallet();
    w.attestation = attestation_for(&h.attester, &w.instance, h.now(), None);
    let code = h.simple_offer().await;
    let r = h.token(&w, &code, None).await;
    r.assert_error(400, "invalid_client_attestation");
    assert!(r.text().contains("environment"), "{}", r.text());
    assert_eq!(h.redeemed().await, 1);
}

async fn issue10_rejects_wallet_provider_attestation_outside_its_policy(b: Backend) {
    let provider = provider_key();
    let (h, _dir) = with_provider(b, &provider).await;
    let code = h.simple_offer().await;
    let cases = [
        // A client_id the provider entry does not accept.
        (
            "https://other.example/client",
            json!({"wallet_name": "Acme Wallet"}),
            "client_id `https://other.example/client` is not accepted",
        ),
        // A required claim missing or with another value.
        (CLIENT_ID, json!({}), "claim `/wallet_name`"),
        (
            CLIENT_ID,
            json!({"wallet_name": "Evil Wallet"}),
            "claim `/wallet_name`",
        ),
    ];
    for (client_id, extra, needle) in cases {
        let mut w = h.wallet();
        w.attestation = provider_attestation(&h, &provider, &w, client_id, extra);
        let r = h.token(&w, &code, None).await;
        r.assert_error(400, "invalid_client_attestation");
        let d = r.json()["error_description"].as_str().unwrap().to_owned();
        assert!(d.contains("wallet provider `acme-wallet`"), "{d}");
        assert!(d.contains(needle), "{needle:?} not in {d:?}");
    }
    // A provider-signed attestation that claims a Symbolon environment the Symbolon
    // attester's policy would accept does not get that policy: the provider's own still
    // applies (and wants `/wallet_name`).
    let mut w = h.wallet();
    w.attestation = provider_attestation(
        &h,
        &provider,
        &w,
        CLIENT_ID,
        json!({"environment": {"evidence": "tpm", "key_protection": "pkcs11"}}),
    );
    let r = h.token(&w, &code, None).await;
    r.assert_error(400, "invalid_client_attestation");
    assert!(r.text().contains("claim `/wallet_name`"), "{}", r.text());
    assert_eq!(h.redeemed().await, 0);
}

both_backends!(
    issue10_third_party_wallet_provider_attestation_is_accepted_under_its_own_policy,
    issue10_rejects_wallet_provider_attestation_outside_its_policy,
);
