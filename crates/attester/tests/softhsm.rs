//! The done-when path against real components: a wallet pod identity (through the
//! TokenReview stand-in) obtains an attestation signed inside the SoftHSM2 test token;
//! Symbolon's `AttestationVerifier` with the production environment policy accepts it with
//! a PoP; the signature is in the verified audit chain; no endpoint reveals private key
//! material; readiness follows the key.
//!
//! Needs `SOFTHSM2_CONF` and `TEST_PKCS11_*` (scripts/test.sh, or
//! `eval "$(scripts/softhsm-setup.sh /tmp/x)"`); fails without them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use attester::audit;
use axum::http::{StatusCode, header};
use client_attestation::{
    AttestationVerifier, EnvironmentPolicy, EvidenceType, PopClaims, TrustedAttester,
};
use common::*;
use jose::{Algorithm, CompactJws, FixedClock, JwsPolicy, PublicJwk, Signer, VerifyingKey};
use serde_json::Value;
use service::readiness::Readiness;

fn claims_of(jwt: &str) -> serde_json::Map<String, Value> {
    CompactJws::parse(jwt).unwrap().claims_unverified().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_pod_obtains_an_attestation_signed_inside_softhsm() {
    let h = Harness::new(Options {
        key: KeyChoice::Hsm("attester-e2e".into()),
        certificate: true,
        ..Options::default()
    })
    .await;
    let hsm = h.hsm.as_ref().unwrap();
    assert_eq!(
        h.state.akey().protection(),
        client_attestation::KeyProtection::Pkcs11
    );

    let token = h.wallet_token("wallet-engine-5d8f9-x2x7q");
    let ci = ci_key();
    let body = h
        .request(&ci, "wallet-instance-1", kube_evidence(&token))
        .await;
    let a = h.post_attestation(&body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(a.json["expires_in"], 3600);
    let jwt = a.json["client_attestation"].as_str().unwrap();

    // Signed by the key inside the token: verify with the public key the token holds.
    let in_token = hsm.token.list_keys(&hsm.label).unwrap();
    assert_eq!(in_token.len(), 1);
    let token_jwk = &in_token[0].public_jwk;
    let jws = CompactJws::parse(jwt).unwrap();
    assert_eq!(jws.header().typ(), Some("oauth-client-attestation+jwt"));
    assert_eq!(jws.header().alg(), Algorithm::Es256);
    assert_eq!(jws.header().kid(), token_jwk.kid());
    assert_eq!(jws.header().x5c().unwrap().len(), 2);
    let policy = JwsPolicy::new(&[Algorithm::Es256]).with_typ(&["oauth-client-attestation+jwt"]);
    jws.clone()
        .verify(&VerifyingKey::from_jwk(token_jwk).unwrap(), &policy)
        .unwrap();

    let c = claims_of(jwt);
    assert_eq!(c["iss"], IDENTIFIER);
    assert_eq!(c["sub"], "wallet-instance-1");
    assert_eq!(c["iat"], NOW);
    assert_eq!(c["exp"], NOW + 3600);
    assert!(
        PublicJwk::from_value(&c["cnf"]["jwk"])
            .unwrap()
            .same_key(ci.public_jwk())
    );
    let env = &c["environment"];
    assert_eq!(env["evidence"], "kubernetes");
    assert_eq!(env["key_protection"], "pkcs11");
    assert_eq!(env["namespace"], WALLET_NS);
    assert_eq!(env["service_account"], WALLET_SA);
    let jti = c["jti"].as_str().unwrap();

    // Symbolon's issuer-side verifier accepts it with a PoP by the CI-Key, under the
    // production policy (Kubernetes/TPM evidence, hardware-protected attester key).
    let verifier = AttestationVerifier {
        audience: "https://issuer.example".into(),
        attestation_algorithms: vec![Algorithm::Es256],
        pop_algorithms: vec![Algorithm::Es256],
        skew: 30,
        pop_max_age: 60,
        attesters: vec![TrustedAttester {
            issuer: Some(IDENTIFIER.into()),
            keys: vec![VerifyingKey::from_jwk(token_jwk).unwrap()],
        }],
    };
    let pop = PopClaims {
        aud: "https://issuer.example".into(),
        jti: "pop-1".into(),
        iat: NOW,
        challenge: None,
        legacy: None,
    }
    .sign(&ci)
    .unwrap();
    let verified = verifier
        .verify(jwt, &pop, Some("wallet-instance-1"), &FixedClock(NOW + 5))
        .unwrap();
    assert_eq!(verified.client_id(), "wallet-instance-1");
    let accepted = EnvironmentPolicy::production()
        .evaluate(verified.claims())
        .unwrap();
    assert_eq!(accepted.evidence, EvidenceType::Kubernetes);

    // The signature is in the audit chain, with the pod and the CI-Key thumbprint.
    let records = h.audit_store.as_ref();
    let summary = audit::verify(records, None).await.unwrap();
    assert_eq!(summary.records, 1);
    let page = audit::AuditStore::page(records, 0, 10).await.unwrap();
    let r = &page[0].entry;
    assert_eq!(r.identity, "system:serviceaccount:cvm-wallets:wallet-sa");
    assert_eq!(r.pod.as_deref(), Some("wallet-engine-5d8f9-x2x7q"));
    assert_eq!(r.client_id, "wallet-instance-1");
    assert_eq!(r.ci_thumbprint, ci.public_jwk().thumbprint());
    assert_eq!(r.jti, jti);
    assert_eq!(Some(r.kid.as_str()), token_jwk.kid());
    assert_eq!(r.exp, NOW + 3600);

    // Published keys are the token's public key, with the chain; nothing private.
    let jwks = h.get("/.well-known/jwks.json").await;
    assert_eq!(
        jwks.headers[header::CONTENT_TYPE],
        "application/jwk-set+json"
    );
    let published = PublicJwk::from_value(&jwks.json["keys"][0]).unwrap();
    assert!(published.same_key(token_jwk));
    assert!(!has_private_member(&jwks.json));
    let pem = h.get("/v1/certificate").await;
    assert_eq!(pem.status, StatusCode::OK);
    assert_eq!(jose::pem::certificates(&pem.text).unwrap().len(), 2);

    assert!(h.readiness().check().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_the_key_is_gone_from_the_token() {
    let h = Harness::new(Options {
        key: KeyChoice::Hsm("attester-ready".into()),
        kube: false,
        dev: true,
        ..Options::default()
    })
    .await;
    assert!(h.readiness().check().await.is_ok());
    let hsm = h.hsm.as_ref().unwrap();
    hsm.token.destroy_key(&hsm.label).unwrap();
    let err = h.readiness().check().await.unwrap_err();
    assert!(err.reason().contains("A-Key"), "{}", err.reason());
    // And nothing can be signed any more: the request fails as a server error, not as a
    // refusal of the caller.
    let ci = ci_key();
    let body = h
        .request(&ci, "w", serde_json::json!({"type": "dev"}))
        .await;
    let a = h.post_attestation(&body).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", a.text);
    assert_eq!(a.code(), "server_error");
}

/// Walks every endpoint, with good and bad requests, and checks that no answer carries a
/// private JWK member or the private key's bytes.
async fn scan_every_endpoint(h: &Harness, secret: Option<&str>) {
    let token = h.wallet_token("wallet-scan");
    let ci = ci_key();
    let mut answers = Vec::new();
    answers.push(h.get("/.well-known/jwks.json").await);
    answers.push(h.get("/v1/certificate").await);
    let good = h.request(&ci, "scan", kube_evidence(&token)).await;
    answers.push(h.post_attestation(&good).await);
    answers.push(h.post_attestation(&good).await); // replay: refused
    let other = ci_key();
    let mut bad = h.request(&ci, "scan", kube_evidence(&token)).await;
    bad["ci_jwk"] = other.public_jwk().to_value();
    answers.push(h.post_attestation(&bad).await);
    answers.push(h.post_attestation(&serde_json::json!({"x": 1})).await);
    answers.push(h.admin_get("/admin/audit", Some(ADMIN)).await);
    answers.push(h.admin_get("/admin/audit", None).await);
    answers.push(h.get("/nope").await);
    assert!(answers[2].status.is_success(), "{}", answers[2].text);
    for a in &answers {
        assert!(!has_private_member(&a.json), "{}", a.text);
        if let Some(d) = secret {
            assert!(
                !a.text.contains(d),
                "private key bytes in an answer: {}",
                a.text
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_endpoint_reveals_private_material_with_a_software_key() {
    let h = Harness::new(Options {
        certificate: true,
        ..Options::default()
    })
    .await;
    let private = h.software.as_ref().unwrap().to_private_jwk().unwrap();
    let d = jose::b64::encode(private.d());
    scan_every_endpoint(&h, Some(&d)).await;
    // Debug output of the state (what an error log could print) has no key either.
    assert!(!format!("{:?}", h.state).contains(&d));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_endpoint_reveals_private_material_with_the_softhsm_key() {
    let h = Harness::new(Options {
        key: KeyChoice::Hsm("attester-scan".into()),
        ..Options::default()
    })
    .await;
    scan_every_endpoint(&h, None).await;
    // The service holds only a handle: the signer's public JWK is all it can show.
    let hsm = h.hsm.as_ref().unwrap();
    assert!(!has_private_member(&hsm.signer.public_jwk().to_value()));
    assert!(!format!("{:?}", h.state).contains("\"d\""));
}

/// `symbolon attester init-key`: creates the A-Key once, then reports the existing key
/// without replacing it; the key it made is the one the service opens and signs with.
#[test]
fn init_key_creates_the_a_key_once_and_never_replaces_it() {
    let _lock = keys::testing::lock_token().unwrap();
    let t = keys::testing::test_token().unwrap();
    let token = keys::pkcs11::Pkcs11Token::open_with_pin(&t.module, &t.label, t.pin, 2).unwrap();
    let label = format!("attester-init-{}", std::process::id());
    let _ = token.destroy_key(&label);

    let created = attester::akey::init_pkcs11_key(&token, &label).unwrap();
    let attester::akey::InitOutcome::Created(jwk) = &created else {
        panic!("expected a new key, got {created:?}");
    };
    let again = attester::akey::init_pkcs11_key(&token, &label).unwrap();
    assert_eq!(again, attester::akey::InitOutcome::Existing(jwk.clone()));
    assert_eq!(token.list_keys(&label).unwrap().len(), 1);

    // What is printed is the public key only, as the JWKS publishes it.
    let printed = created.published();
    assert!(!has_private_member(&printed));
    assert_eq!(printed["kid"], jwk.thumbprint());
    assert_eq!(printed["alg"], "ES256");
    assert_eq!(printed["use"], "sig");
    assert_eq!(printed["crv"], "P-256");

    let signer = token.signer(&label).unwrap();
    assert!(jose::Signer::public_jwk(&signer).same_key(jwk));
    let akey = attester::AKey::new(std::sync::Arc::new(signer), Vec::new()).unwrap();
    assert_eq!(akey.jwks()["keys"][0], printed);
    akey.probe().unwrap();
    token.destroy_key(&label).unwrap();
}
