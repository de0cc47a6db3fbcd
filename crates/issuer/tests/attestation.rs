//! Client attestation at `/token` beyond the basics of `rejects_token.rs`: the claim sets of
//! ABCA draft -07 (what OpenID4VCI 1.0 pins: `iss` in the attestation, `iss` and `exp` in
//! the PoP) and of the newest drafts (neither), attestations chained to X.509 trust anchors
//! (`x5c`), single-use challenges, third-party wallet providers with their own policy, and
//! error descriptions that say why a signature was not accepted. Every refusal is checked
//! through the real router with its protocol error code, and leaves the pre-authorized code
//! unredeemed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use client_attestation::{EvidenceType, KeyProtection, PopClaims};
use common::*;
use jose::{Curve, PrivateJwk, PublicJwk, SoftwareSigner};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    date_time_ymd,
};
use store::Backend;
use zeroize::Zeroizing;

fn pop(w: &Wallet, now: i64, legacy: Option<(String, i64)>) -> String {
    let mut jti = [0u8; 16];
    aws_lc_rs::rand::fill(&mut jti).unwrap();
    PopClaims {
        aud: w.aud.clone(),
        jti: jose::b64::encode(jti),
        iat: now,
        challenge: w.challenge.clone(),
        legacy,
    }
    .sign(&w.instance)
    .unwrap()
}

async fn token_with(h: &Harness, w: &Wallet, pop: String, code: &str) -> Reply {
    h.send(token_request(w, &pop, code)).await
}

/// An attestation in the newest drafts' form: no `iss`.
fn newest_attestation(h: &Harness, instance: &SoftwareSigner) -> String {
    attestation_claims(
        h,
        instance,
        None,
        environment(EvidenceType::Kubernetes, KeyProtection::Pkcs11),
    )
    .sign(&h.attester, None)
    .unwrap()
}

async fn draft_07_claim_sets_are_accepted(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    let claims = jose::CompactJws::parse(&w.attestation)
        .unwrap()
        .claims_unverified()
        .unwrap();
    assert_eq!(claims["iss"], "https://attester.example");
    let code = h.simple_offer().await;
    let p = pop(&w, h.now(), Some((CLIENT_ID.into(), h.now() + 60)));
    let r = token_with(&h, &w, p, &code).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

async fn newest_draft_claim_sets_are_accepted(b: Backend) {
    let h = harness(b).await;
    let mut w = h.wallet();
    w.attestation = newest_attestation(&h, &w.instance);
    let code = h.simple_offer().await;
    let r = token_with(&h, &w, pop(&w, h.now(), None), &code).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let at = r.json()["access_token"].as_str().unwrap().to_owned();
    // The binding PoP at `/credential` in the same form.
    let body = h.request_body(&w).await;
    let r = h
        .send(
            Request::post("/credential")
                .header(client_attestation::ATTESTATION_HEADER, &w.attestation)
                .header(client_attestation::POP_HEADER, pop(&w, h.now(), None))
                .header(header::AUTHORIZATION, format!("Bearer {at}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(h.issued().await, 1);
}

async fn rejects_token_with_draft_07_pop_naming_another_client(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    let code = h.simple_offer().await;
    let p = pop(
        &w,
        h.now(),
        Some(("https://other.example/client".into(), h.now() + 60)),
    );
    token_with(&h, &w, p, &code)
        .await
        .assert_error(400, "invalid_client");
    assert_eq!(h.redeemed().await, 0);
}

async fn rejects_token_with_expired_draft_07_pop(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    let code = h.simple_offer().await;
    let p = pop(&w, h.now() - 240, Some((CLIENT_ID.into(), h.now() - 180)));
    token_with(&h, &w, p, &code)
        .await
        .assert_error(400, "invalid_client");
    assert_eq!(h.redeemed().await, 0);
}

async fn rejects_token_with_attestation_of_wrong_typ(b: Backend) {
    let h = harness(b).await;
    let mut w = h.wallet();
    let claims = attestation_claims(
        &h,
        &w.instance,
        None,
        environment(EvidenceType::Kubernetes, KeyProtection::Pkcs11),
    );
    w.attestation = jose::HeaderBuilder::new()
        .typ("jwt")
        .kid("attester-1")
        .sign(
            serde_json::Value::Object(claims.to_object())
                .to_string()
                .as_bytes(),
            &h.attester,
        )
        .unwrap();
    let code = h.simple_offer().await;
    token_with(&h, &w, pop(&w, h.now(), None), &code)
        .await
        .assert_error(400, "invalid_client_attestation");
    assert_eq!(h.redeemed().await, 0);
}

async fn rejects_token_with_reused_challenge(b: Backend) {
    let mut o = Options::new(b);
    o.config = "[attestation]\nrequire_challenge = true".into();
    let h = Harness::start(o).await;
    let r = h
        .send(Request::post("/challenge").body(Body::empty()).unwrap())
        .await;
    let challenge = r.json()["attestation_challenge"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut w = h.wallet();
    w.challenge = Some(challenge);
    let first = h.simple_offer().await;
    let r = h.token(&w, &first, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let second = h.simple_offer().await;
    let r = h.token(&w, &second, None).await;
    r.assert_error(400, "use_attestation_challenge");
    assert!(
        r.headers
            .get(client_attestation::CHALLENGE_HEADER)
            .is_some()
    );
    assert_eq!(h.redeemed().await, 1);
}

/// A root CA and an attester leaf certificate under it, with the leaf's key as a signer.
struct Pki {
    root_pem: String,
    leaf_der: Vec<u8>,
    root_der: Vec<u8>,
    leaf: SoftwareSigner,
}

fn pki(root_name: &str) -> Pki {
    let mut root = CertificateParams::default();
    root.distinguished_name.push(DnType::CommonName, root_name);
    root.not_before = date_time_ymd(2025, 1, 1);
    root.not_after = date_time_ymd(2035, 1, 1);
    root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    root.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let root_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let root_cert = root.self_signed(&root_key).unwrap();
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name
        .push(DnType::CommonName, "Wallet attester");
    leaf.not_before = date_time_ymd(2025, 1, 1);
    leaf.not_after = date_time_ymd(2035, 1, 1);
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let leaf_der = leaf
        .signed_by(&leaf_key, &Issuer::from_params(&root, &root_key))
        .unwrap()
        .der()
        .to_vec();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &leaf_key.serialize_der())
            .unwrap();
    let d = pair.private_key().as_be_bytes().unwrap();
    let public = PublicJwk::from_ec_point(Curve::P256, pair.public_key().as_ref()).unwrap();
    let jwk = PrivateJwk::new(public, Zeroizing::new(d.as_ref().to_vec())).unwrap();
    Pki {
        root_pem: root_cert.pem(),
        root_der: root_cert.der().to_vec(),
        leaf_der,
        leaf: SoftwareSigner::from_private_jwk(&jwk).unwrap(),
    }
}

async fn anchored(b: Backend, trusted: &Pki) -> (Harness, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("anchors.pem");
    std::fs::write(&path, &trusted.root_pem).unwrap();
    let mut o = Options::new(b);
    o.anchors_file = Some(path);
    (Harness::start(o).await, dir)
}

fn chained_attestation(h: &Harness, pki: &Pki, instance: &SoftwareSigner) -> String {
    attestation_claims(
        h,
        instance,
        Some("https://attester.example"),
        environment(EvidenceType::Tpm, KeyProtection::Tpm),
    )
    .sign(
        &pki.leaf,
        Some(&[pki.leaf_der.clone(), pki.root_der.clone()]),
    )
    .unwrap()
}

async fn attestation_chained_to_an_x509_anchor_is_accepted(b: Backend) {
    let trusted = pki("Attester Root");
    let (h, _dir) = anchored(b, &trusted).await;
    let mut w = h.wallet();
    w.attestation = chained_attestation(&h, &trusted, &w.instance);
    let code = h.simple_offer().await;
    let r = h.token(&w, &code, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

async fn rejects_token_with_attestation_chained_to_another_anchor(b: Backend) {
    let trusted = pki("Attester Root");
    let stranger = pki("Unknown Root");
    let (h, _dir) = anchored(b, &trusted).await;
    let mut w = h.wallet();
    w.attestation = chained_attestation(&h, &stranger, &w.instance);
    let code = h.simple_offer().await;
    h.token(&w, &code, None)
        .await
        .assert_error(400, "invalid_client_attestation");
    assert_eq!(h.redeemed().await, 0);
    // Signed by the anchor's leaf but with a chain it does not end in: refused as well.
    let mut w = h.wallet();
    w.attestation = attestation_claims(
        &h,
        &w.instance,
        None,
        environment(EvidenceType::Tpm, KeyProtection::Tpm),
    )
    .sign(
        &trusted.leaf,
        Some(&[stranger.leaf_der.clone(), stranger.root_der.clone()]),
    )
    .unwrap();
    h.token(&w, &code, None)
        .await
        .assert_error(400, "invalid_client_attestation");
    assert_eq!(h.redeemed().await, 0);
}

/// Issue 10 item 4: our attester names its key (`kid`) and, with a certificate, sends the
/// chain (`x5c`). An issuer that trusts the chain's anchor (and not the attester's JWKS)
/// accepts it: the kid of a key it does not hold must not make it look elsewhere.
async fn issue10_attestation_with_kid_and_x5c_chain_to_an_anchor_is_accepted(b: Backend) {
    let trusted = pki("Attester Root");
    let (h, _dir) = anchored(b, &trusted).await;
    let leaf = clone_signer(&trusted.leaf).with_kid("a-key-thumbprint");
    let mut w = h.wallet();
    w.attestation = attestation_claims(
        &h,
        &w.instance,
        Some("https://attester.example"),
        environment(EvidenceType::Tpm, KeyProtection::Pkcs11),
    )
    .sign(
        &leaf,
        Some(&[trusted.leaf_der.clone(), trusted.root_der.clone()]),
    )
    .unwrap();
    let header = jose::CompactJws::parse(&w.attestation).unwrap();
    assert_eq!(header.header().kid(), Some("a-key-thumbprint"));
    let code = h.simple_offer().await;
    let r = h.token(&w, &code, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

/// Issue 10 item 3: the error description says whether the key is unknown (`kid`), not
/// trusted at all, or trusted with a signature that does not verify, instead of "signature
/// is invalid" for all three; and a chain to no trusted anchor says so.
async fn issue10_token_error_says_unknown_kid_untrusted_key_or_bad_signature(b: Backend) {
    let trusted = pki("Attester Root");
    let stranger = pki("Unknown Root");
    let (h, _dir) = anchored(b, &trusted).await;
    let code = h.simple_offer().await;
    let env = || environment(EvidenceType::Kubernetes, KeyProtection::Pkcs11);
    let refused = |r: Reply, needle: &str| {
        r.assert_error(400, "invalid_client_attestation");
        let d = r.json()["error_description"].as_str().unwrap().to_owned();
        assert!(d.contains(needle), "{needle:?} not in {d:?}");
        assert!(!d.contains("signature is invalid"), "{d}");
    };

    // Unknown kid.
    let mut w = h.wallet();
    let other = SoftwareSigner::generate(jose::Algorithm::Es256)
        .unwrap()
        .with_kid("someone-elses-key");
    w.attestation = attestation_for(&other, &w.instance, h.now(), Some(env()));
    refused(
        h.token(&w, &code, None).await,
        "unknown kid `someone-elses-key`",
    );

    // No kid, a key nobody trusts (carried in the header, so the signature is provably fine).
    let unnamed = SoftwareSigner::generate(jose::Algorithm::Es256).unwrap();
    let claims = attestation_claims(&h, &w.instance, None, env());
    w.attestation = jose::HeaderBuilder::new()
        .typ(client_attestation::ATTESTATION_TYP)
        .jwk(jose::Signer::public_jwk(&unnamed))
        .sign(
            serde_json::Value::Object(claims.to_object())
                .to_string()
                .as_bytes(),
            &unnamed,
        )
        .unwrap();
    refused(h.token(&w, &code, None).await, "untrusted key");

    // The trusted attester's kid, another key's signature: a bad signature.
    let impostor = SoftwareSigner::generate(jose::Algorithm::Es256)
        .unwrap()
        .with_kid("attester-1");
    w.attestation = attestation_for(&impostor, &w.instance, h.now(), Some(env()));
    refused(h.token(&w, &code, None).await, "bad signature");

    // An x5c chain to an anchor this issuer does not have.
    w.attestation = chained_attestation(&h, &stranger, &w.instance);
    refused(
        h.token(&w, &code, None).await,
        "untrusted certificate chain",
    );
    assert_eq!(h.redeemed().await, 0);
}

/// Collects the events logged on this thread as `message field=value …` lines.
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

struct Line(String);

impl tracing::field::Visit for Line {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = Line(String::new());
        event.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Issue 10 item 3: the operator's log says the same as the client's description.
#[tokio::test]
async fn issue10_refused_attestation_reason_is_logged() {
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let _guard = tracing::subscriber::set_default(Capture(std::sync::Arc::clone(&lines)));
    let h = harness(Backend::Sqlite).await;
    let code = h.simple_offer().await;
    let mut w = h.wallet();
    let other = SoftwareSigner::generate(jose::Algorithm::Es256)
        .unwrap()
        .with_kid("someone-elses-key");
    w.attestation = attestation_for(
        &other,
        &w.instance,
        h.now(),
        Some(environment(EvidenceType::Kubernetes, KeyProtection::Pkcs11)),
    );
    h.token(&w, &code, None)
        .await
        .assert_error(400, "invalid_client_attestation");
    let logged = lines.lock().unwrap().join("\n");
    assert!(
        logged.contains("client attestation refused")
            && logged.contains("unknown kid `someone-elses-key`"),
        "{logged}"
    );
}

both_backends!(
    issue10_attestation_with_kid_and_x5c_chain_to_an_anchor_is_accepted,
    issue10_token_error_says_unknown_kid_untrusted_key_or_bad_signature,
    draft_07_claim_sets_are_accepted,
    newest_draft_claim_sets_are_accepted,
    rejects_token_with_draft_07_pop_naming_another_client,
    rejects_token_with_expired_draft_07_pop,
    rejects_token_with_attestation_of_wrong_typ,
    rejects_token_with_reused_challenge,
    attestation_chained_to_an_x509_anchor_is_accepted,
    rejects_token_with_attestation_chained_to_another_anchor,
);
