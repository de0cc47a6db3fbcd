//! Every refusal of `POST /token`, through the real router on both databases: the protocol
//! error code, and that nothing was redeemed, no token issued and (unless the rule is about
//! counting them) no transaction code attempt counted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use client_attestation::{AttestationClaims, EvidenceType, KeyProtection, PopClaims};
use common::*;
use jose::{Algorithm, SoftwareSigner};
use serde_json::{Map, json};
use store::Backend;

fn form(code: &str) -> String {
    format!(
        "grant_type={}&pre-authorized_code={}",
        enc(oid4vci::PRE_AUTHORIZED_CODE_GRANT),
        enc(code)
    )
}

async fn post_token(
    h: &Harness,
    wallet: Option<&Wallet>,
    content_type: &str,
    body: String,
) -> Reply {
    let mut b = Request::post("/token").header(header::CONTENT_TYPE, content_type);
    if let Some(w) = wallet {
        b = w.authed(b, h.now());
    }
    h.send(b.body(Body::from(body)).unwrap()).await
}

/// Nothing redeemed, and the code still works afterwards.
async fn untouched(h: &Harness, code: &str) {
    assert_eq!(h.redeemed().await, 0);
    let r = h.token(&h.wallet(), code, None).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the code still works: {}",
        r.text()
    );
}

async fn rejects_token_without_form_content_type(b: Backend) {
    let h = harness(b).await;
    let code = h.simple_offer().await;
    let w = h.wallet();
    post_token(&h, Some(&w), "application/json", form(&code))
        .await
        .assert_error(400, "invalid_request");
    untouched(&h, &code).await;
}

async fn rejects_token_with_repeated_parameter(b: Backend) {
    let h = harness(b).await;
    let code = h.simple_offer().await;
    let w = h.wallet();
    let body = format!("{}&pre-authorized_code=other", form(&code));
    post_token(&h, Some(&w), FORM, body)
        .await
        .assert_error(400, "invalid_request");
    untouched(&h, &code).await;
}

async fn rejects_token_with_unsupported_grant_type(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    post_token(
        &h,
        Some(&w),
        FORM,
        "grant_type=authorization_code&code=x".into(),
    )
    .await
    .assert_error(400, "unsupported_grant_type");
}

async fn rejects_token_without_pre_authorized_code(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    let body = format!("grant_type={}", enc(oid4vci::PRE_AUTHORIZED_CODE_GRANT));
    post_token(&h, Some(&w), FORM, body)
        .await
        .assert_error(400, "invalid_request");
}

async fn accepts_token_with_unknown_parameters(b: Backend) {
    let h = harness(b).await;
    let code = h.simple_offer().await;
    let w = h.wallet();
    let body = format!(
        "{}&frobnicate=1&scope=whatever&resource={}",
        form(&code),
        enc(ISSUER)
    );
    let r = post_token(&h, Some(&w), FORM, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

async fn rejects_token_without_client_attestation(b: Backend) {
    let h = harness(b).await;
    let code = h.simple_offer().await;
    post_token(&h, None, FORM, form(&code))
        .await
        .assert_error(400, "invalid_client");
    untouched(&h, &code).await;
}

async fn rejects_token_with_two_attestation_headers(b: Backend) {
    let h = harness(b).await;
    let code = h.simple_offer().await;
    let w = h.wallet();
    let r = h
        .send(
            w.authed(Request::post("/token"), h.now())
                .header(client_attestation::ATTESTATION_HEADER, &w.attestation)
                .header(header::CONTENT_TYPE, FORM)
                .body(Body::from(form(&code)))
                .unwrap(),
        )
        .await;
    r.assert_error(400, "invalid_client");
    untouched(&h, &code).await;
}

async fn rejects_token_with_untrusted_attester(b: Backend) {
    let h = harness(b).await;
    let code = h.simple_offer().await;
    let rogue = SoftwareSigner::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("attester-1");
    let mut w = h.wallet();
    w.attestation = attestation_for(
        &rogue,
        &w.instance,
        h.now(),
        Some(environment(EvidenceType::Kubernetes, KeyProtection::Pkcs11)),
    );
    h.token(&w, &code, None)
        .await
        .assert_error(400, "invalid_client_attestation");
    untouched(&h, &code).await;
}

async fn rejects_token_with_expired_attestation(b: Backend) {
    let h = harness(b).await;
    let code = h.simple_offer().await;
    let mut w = h.wallet();
    w.attestation = AttestationClaims {
        issuer: Some("https://attester.example".into()),
        client_id: CLIENT_ID.into(),
        iat: h.now() - 7200,
        exp: h.now() - 3600,
        cnf: jose::Signer::public_jwk(&w.instance).clone(),
        jti: None,
        environment: Some(environment(EvidenceType::Kubernetes, KeyProtection::Pkcs11)),
        extra: Map::new(),
    }
    .sign(&h.attester, None)
    .unwrap();
    h.token(&w, &code, None)
        .await
        .assert_error(400, "use_fresh_attestation");
    untouched(&h, &code).await;
}

async fn pop_request(h: &Harness, w: &Wallet, pop: String, code: &str) -> Reply {
    h.send(
        Request::post("/token")
            .header(client_attestation::ATTESTATION_HEADER, &w.attestation)
            .header(client_attestation::POP_HEADER, pop)
            .header(header::CONTENT_TYPE, FORM)
            .body(Body::from(form(code)))
            .unwrap(),
    )
    .await
}

fn pop(signer: &SoftwareSigner, aud: &str, iat: i64, jti: &str) -> String {
    PopClaims {
        aud: aud.into(),
        jti: jti.into(),
        iat,
        challenge: None,
        legacy: None,
    }
    .sign(signer)
    .unwrap()
}

async fn rejects_token_with_pop_for_another_audience(b: Backend) {
    let h = harness(b).await;
    let code = h.simple_offer().await;
    let w = h.wallet();
    pop_request(
        &h,
        &w,
        pop(&w.instance, "https://other.example", h.now(), "j1"),
        &code,
    )
    .await
    .assert_error(400, "invalid_client");
    untouched(&h, &code).await;
}

async fn rejects_token_with_pop_signed_by_another_key(b: Backend) {
    let h = harness(b).await;
    let code = h.simple_offer().await;
    let w = h.wallet();
    let other = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    pop_request(&h, &w, pop(&other, ISSUER, h.now(), "j2"), &code)
        .await
        .assert_error(400, "invalid_client");
    untouched(&h, &code).await;
}

async fn rejects_token_with_stale_pop(b: Backend) {
    let h = harness(b).await;
    let code = h.simple_offer().await;
    let w = h.wallet();
    pop_request(
        &h,
        &w,
        pop(&w.instance, ISSUER, h.now() - 3600, "j3"),
        &code,
    )
    .await
    .assert_error(400, "invalid_client");
    untouched(&h, &code).await;
}

async fn rejects_token_with_replayed_pop_jti(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    let first = h.simple_offer().await;
    let second = h.simple_offer().await;
    let p = pop(&w.instance, ISSUER, h.now(), "replayed-jti");
    assert_eq!(
        pop_request(&h, &w, p.clone(), &first).await.status,
        StatusCode::OK
    );
    pop_request(&h, &w, p, &second)
        .await
        .assert_error(400, "invalid_client");
    assert_eq!(h.redeemed().await, 1, "the second offer is untouched");
}

async fn rejects_token_with_client_id_mismatch(b: Backend) {
    let h = harness(b).await;
    let code = h.simple_offer().await;
    let w = h.wallet();
    let body = format!("{}&client_id={}", form(&code), enc("https://someone.else"));
    post_token(&h, Some(&w), FORM, body)
        .await
        .assert_error(400, "invalid_client");
    untouched(&h, &code).await;
}

async fn rejects_token_for_dev_evidence_by_policy(b: Backend) {
    let h = harness(b).await;
    let code = h.simple_offer().await;
    let mut w = h.wallet();
    w.attestation = attestation_for(
        &h.attester,
        &w.instance,
        h.now(),
        Some(environment(EvidenceType::Dev, KeyProtection::Pkcs11)),
    );
    let r = h.token(&w, &code, None).await;
    r.assert_error(400, "invalid_client_attestation");
    assert!(r.text().contains("dev"));
    untouched(&h, &code).await;
}

async fn rejects_token_for_software_attester_key_by_policy(b: Backend) {
    let h = harness(b).await;
    let code = h.simple_offer().await;
    let mut w = h.wallet();
    w.attestation = attestation_for(
        &h.attester,
        &w.instance,
        h.now(),
        Some(environment(EvidenceType::Tpm, KeyProtection::Software)),
    );
    h.token(&w, &code, None)
        .await
        .assert_error(400, "invalid_client_attestation");
    untouched(&h, &code).await;
}

async fn rejects_token_without_environment_when_required(b: Backend) {
    let h = harness(b).await;
    let code = h.simple_offer().await;
    let mut w = h.wallet();
    w.attestation = attestation_for(&h.attester, &w.instance, h.now(), None);
    h.token(&w, &code, None)
        .await
        .assert_error(400, "invalid_client_attestation");
    untouched(&h, &code).await;
}

async fn rejects_token_from_attester_not_listed(b: Backend) {
    let mut o = Options::new(b);
    o.config = "[attestation]\nattesters = [\"https://other-attester.example\"]".into();
    let h = Harness::start(o).await;
    let code = h.simple_offer().await;
    h.token(&h.wallet(), &code, None)
        .await
        .assert_error(400, "invalid_client_attestation");
    assert_eq!(h.redeemed().await, 0);
}

async fn rejects_token_from_client_not_allowed(b: Backend) {
    let mut o = Options::new(b);
    o.config = "[attestation]\nclient_ids = [\"https://another.wallet\"]".into();
    let h = Harness::start(o).await;
    let code = h.simple_offer().await;
    h.token(&h.wallet(), &code, None)
        .await
        .assert_error(400, "invalid_client");
    assert_eq!(h.redeemed().await, 0);
}

async fn rejects_token_with_unknown_code(b: Backend) {
    let h = harness(b).await;
    let _code = h.simple_offer().await;
    h.token(&h.wallet(), "not-a-code", None)
        .await
        .assert_error(400, "invalid_grant");
    assert_eq!(h.redeemed().await, 0);
}

async fn rejects_token_with_used_code(b: Backend) {
    let h = harness(b).await;
    let code = h.simple_offer().await;
    assert_eq!(
        h.token(&h.wallet(), &code, None).await.status,
        StatusCode::OK
    );
    h.token(&h.wallet(), &code, None)
        .await
        .assert_error(400, "invalid_grant");
    assert_eq!(h.redeemed().await, 1);
}

async fn rejects_token_with_expired_code(b: Backend) {
    let h = harness(b).await;
    let code = h.simple_offer().await;
    h.clock.advance(16 * 60);
    h.token(&h.wallet(), &code, None)
        .await
        .assert_error(400, "invalid_grant");
    assert_eq!(h.redeemed().await, 0);
}

async fn tx_offer(h: &Harness) -> (String, String) {
    let o = h
        .offer(json!({
            "credential_configuration_ids": [CONFIG_ID],
            "claims": issuer::demo::example_claims(),
            "tx_code": {"length": 6}
        }))
        .await;
    (code_of(&o), o["tx_code"].as_str().unwrap().to_owned())
}

async fn rejects_token_without_required_tx_code(b: Backend) {
    let h = harness(b).await;
    let (code, tx) = tx_offer(&h).await;
    h.token(&h.wallet(), &code, None)
        .await
        .assert_error(400, "invalid_request");
    assert_eq!((h.redeemed().await, h.tx_attempts().await), (0, 0));
    assert_eq!(
        h.token(&h.wallet(), &code, Some(&tx)).await.status,
        StatusCode::OK
    );
}

async fn rejects_token_with_unexpected_tx_code(b: Backend) {
    let h = harness(b).await;
    let code = h.simple_offer().await;
    h.token(&h.wallet(), &code, Some("123456"))
        .await
        .assert_error(400, "invalid_request");
    untouched(&h, &code).await;
}

async fn rejects_token_with_wrong_tx_code_until_dead(b: Backend) {
    let h = harness(b).await;
    let (code, tx) = tx_offer(&h).await;
    let wrong = if tx == "000000" { "111111" } else { "000000" };
    for attempt in 1..=3 {
        h.token(&h.wallet(), &code, Some(wrong))
            .await
            .assert_error(400, "invalid_grant");
        assert_eq!(h.tx_attempts().await, attempt);
    }
    // Dead: even the right code is refused now.
    h.token(&h.wallet(), &code, Some(&tx))
        .await
        .assert_error(400, "invalid_grant");
    assert_eq!(h.redeemed().await, 0);
}

async fn rejects_token_without_challenge_when_required(b: Backend) {
    let mut o = Options::new(b);
    o.config = "[attestation]\nrequire_challenge = true".into();
    let h = Harness::start(o).await;
    let code = h.simple_offer().await;
    let r = h.token(&h.wallet(), &code, None).await;
    r.assert_error(400, "use_attestation_challenge");
    assert!(
        r.headers
            .get(client_attestation::CHALLENGE_HEADER)
            .is_some()
    );
    let mut w = h.wallet();
    w.challenge = Some("never-issued".into());
    let r = h.token(&w, &code, None).await;
    r.assert_error(400, "use_attestation_challenge");
    assert!(
        r.headers
            .get(client_attestation::CHALLENGE_HEADER)
            .is_some()
    );
    assert_eq!(h.redeemed().await, 0);
}

async fn rejects_token_while_trust_is_not_loaded(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::new(b);
    o.trust_file = Some(dir.path().join("attester/jwks.json"));
    let h = Harness::start(o).await;
    let code = h.simple_offer().await;
    let r = h.token(&h.wallet(), &code, None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert_eq!(r.error(), "temporarily_unavailable");
    assert!(!h.state.trust_loaded());
    // Once the attester writes its keys the issuer picks them up.
    std::fs::create_dir_all(dir.path().join("attester")).unwrap();
    std::fs::write(
        dir.path().join("attester/jwks.json"),
        json!({"keys": [jose::Signer::public_jwk(&h.attester).to_value()]}).to_string(),
    )
    .unwrap();
    assert!(h.state.refresh_trust().unwrap());
    assert_eq!(
        h.token(&h.wallet(), &code, None).await.status,
        StatusCode::OK
    );
}

both_backends!(
    rejects_token_without_form_content_type,
    rejects_token_with_repeated_parameter,
    rejects_token_with_unsupported_grant_type,
    rejects_token_without_pre_authorized_code,
    accepts_token_with_unknown_parameters,
    rejects_token_without_client_attestation,
    rejects_token_with_two_attestation_headers,
    rejects_token_with_untrusted_attester,
    rejects_token_with_expired_attestation,
    rejects_token_with_pop_for_another_audience,
    rejects_token_with_pop_signed_by_another_key,
    rejects_token_with_stale_pop,
    rejects_token_with_replayed_pop_jti,
    rejects_token_with_client_id_mismatch,
    rejects_token_for_dev_evidence_by_policy,
    rejects_token_for_software_attester_key_by_policy,
    rejects_token_without_environment_when_required,
    rejects_token_from_attester_not_listed,
    rejects_token_from_client_not_allowed,
    rejects_token_with_unknown_code,
    rejects_token_with_used_code,
    rejects_token_with_expired_code,
    rejects_token_without_required_tx_code,
    rejects_token_with_unexpected_tx_code,
    rejects_token_with_wrong_tx_code_until_dead,
    rejects_token_without_challenge_when_required,
    rejects_token_while_trust_is_not_loaded,
);
