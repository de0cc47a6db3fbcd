//! Every refusal of `POST /credential` (and `/notification`), through the real router on
//! both databases: the protocol error code, that nothing was issued and no status index
//! consumed, and — for refusals before the nonce check — that the nonce still works.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use jose::jwe::{ECDH_ES, Enc, EncryptionKey};
use jose::{Algorithm, Curve, Signer, SoftwareSigner};
use oid4vci::{CredentialRequest, CredentialTarget, Proofs, ResponseEncryption};
use serde_json::{Value, json};
use store::Backend;

/// A wallet with a live access token.
async fn ready(h: &Harness) -> (Wallet, String) {
    let w = h.wallet();
    let code = h.simple_offer().await;
    let at = h.access_token(&w, &code).await;
    (w, at)
}

fn request(proofs: Vec<String>) -> Value {
    json!({"credential_configuration_id": CONFIG_ID, "proofs": {"jwt": proofs}})
}

/// A harness under the stricter policy that binds the access token to the client
/// attestation (`bind_access_token`): the attestation and a fresh PoP at `/credential`.
async fn bound(b: Backend) -> Harness {
    let mut o = Options::new(b);
    o.config = "[attestation]\nbind_access_token = true".into();
    Harness::start(o).await
}

/// Nothing issued; the nonce, if given, still buys one credential.
async fn nothing_issued(h: &Harness, w: &Wallet, at: &str, nonce: Option<&str>) {
    assert_eq!(h.issued().await, 0, "no credential, no status entry");
    if let Some(n) = nonce {
        let r = h
            .credential(w, at, request(vec![w.proof(ISSUER, h.now(), Some(n))]))
            .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "the nonce was not consumed: {}",
            r.text()
        );
    }
}

async fn rejects_credential_without_access_token(b: Backend) {
    let h = harness(b).await;
    let (w, _) = ready(&h).await;
    let n = h.nonce().await;
    let r = h
        .send(
            w.authed(Request::post("/credential"), h.now())
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    request(vec![w.proof(ISSUER, h.now(), Some(&n))]).to_string(),
                ))
                .unwrap(),
        )
        .await;
    r.assert_error(401, "invalid_token");
    assert!(
        r.headers
            .get(header::WWW_AUTHENTICATE)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(h.issued().await, 0);
}

async fn rejects_credential_with_unknown_access_token(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    h.credential(
        &w,
        "not-a-token",
        request(vec![w.proof(ISSUER, h.now(), Some(&n))]),
    )
    .await
    .assert_error(401, "invalid_token");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

async fn rejects_credential_with_expired_access_token(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    h.clock.advance(301);
    let n = h.nonce().await;
    h.credential(&w, &at, request(vec![w.proof(ISSUER, h.now(), Some(&n))]))
        .await
        .assert_error(401, "invalid_token");
    assert_eq!(h.issued().await, 0);
}

async fn rejects_credential_without_binding_pop(b: Backend) {
    let h = bound(b).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    let r = h
        .send(
            Request::post("/credential")
                .header(header::AUTHORIZATION, format!("Bearer {at}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    request(vec![w.proof(ISSUER, h.now(), Some(&n))]).to_string(),
                ))
                .unwrap(),
        )
        .await;
    r.assert_error(401, "invalid_token");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

async fn rejects_credential_with_pop_from_another_instance_key(b: Backend) {
    let h = bound(b).await;
    let (w, at) = ready(&h).await;
    // Another genuine wallet instance that stole the access token.
    let thief = h.wallet();
    let n = h.nonce().await;
    h.credential(
        &thief,
        &at,
        request(vec![thief.proof(ISSUER, h.now(), Some(&n))]),
    )
    .await
    .assert_error(401, "invalid_token");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

async fn rejects_credential_with_replayed_binding_pop(b: Backend) {
    let h = bound(b).await;
    let (w, at) = ready(&h).await;
    let pop = w.pop(h.now());
    let send = |body: Value| {
        Request::post("/credential")
            .header(client_attestation::ATTESTATION_HEADER, &w.attestation)
            .header(client_attestation::POP_HEADER, pop.clone())
            .header(header::AUTHORIZATION, format!("Bearer {at}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let n1 = h.nonce().await;
    let r = h
        .send(send(request(vec![w.proof(ISSUER, h.now(), Some(&n1))])))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let n2 = h.nonce().await;
    h.send(send(request(vec![w.proof(ISSUER, h.now(), Some(&n2))])))
        .await
        .assert_error(401, "invalid_token");
    assert_eq!(h.issued().await, 1);
}

async fn rejects_credential_with_wrong_content_type(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    let r = h
        .send(
            w.authed(Request::post("/credential"), h.now())
                .header(header::AUTHORIZATION, format!("Bearer {at}"))
                .header(header::CONTENT_TYPE, "text/plain")
                .body(Body::from(
                    request(vec![w.proof(ISSUER, h.now(), Some(&n))]).to_string(),
                ))
                .unwrap(),
        )
        .await;
    r.assert_error(400, "invalid_credential_request");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

async fn rejects_credential_with_malformed_json(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    let r = h
        .send(
            w.authed(Request::post("/credential"), h.now())
                .header(header::AUTHORIZATION, format!("Bearer {at}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{\"credential_configuration_id\": "))
                .unwrap(),
        )
        .await;
    r.assert_error(400, "invalid_credential_request");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

async fn rejects_credential_with_both_targets(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    let body = json!({
        "credential_configuration_id": CONFIG_ID,
        "credential_identifier": "x",
        "proofs": {"jwt": [w.proof(ISSUER, h.now(), Some(&n))]}
    });
    h.credential(&w, &at, body)
        .await
        .assert_error(400, "invalid_credential_request");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

async fn rejects_credential_with_unknown_configuration(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    let body = json!({"credential_configuration_id": "nope", "proofs": {"jwt": [w.proof(ISSUER, h.now(), Some(&n))]}});
    h.credential(&w, &at, body)
        .await
        .assert_error(400, "unknown_credential_configuration");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

async fn rejects_credential_with_credential_identifier(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    let body = json!({"credential_identifier": "pass-1", "proofs": {"jwt": [w.proof(ISSUER, h.now(), Some(&n))]}});
    h.credential(&w, &at, body)
        .await
        .assert_error(400, "unknown_credential_identifier");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

async fn rejects_credential_for_configuration_not_offered(b: Backend) {
    let mut o = Options::new(b);
    o.config = "[credentials.other]\nvct = \"urn:example:other\"\n".into();
    let h = Harness::start(o).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    let body = json!({"credential_configuration_id": "other", "proofs": {"jwt": [w.proof(ISSUER, h.now(), Some(&n))]}});
    h.credential(&w, &at, body)
        .await
        .assert_error(403, "insufficient_scope");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

async fn rejects_credential_without_proofs(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    h.credential(&w, &at, json!({"credential_configuration_id": CONFIG_ID}))
        .await
        .assert_error(400, "invalid_proof");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

async fn rejects_credential_with_attestation_proof_type(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    h.credential(
        &w,
        &at,
        json!({"credential_configuration_id": CONFIG_ID, "proofs": {"attestation": ["a.b.c"]}}),
    )
    .await
    .assert_error(400, "invalid_proof");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

async fn rejects_credential_with_too_many_proofs(b: Backend) {
    let mut o = Options::new(b);
    o.config = "batch_size = 2".into();
    let h = Harness::start(o).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    let proofs = (0..3)
        .map(|_| {
            w.proof_with(
                &SoftwareSigner::generate(Algorithm::Es256).unwrap(),
                ISSUER,
                h.now(),
                Some(&n),
            )
        })
        .collect();
    h.credential(&w, &at, request(proofs))
        .await
        .assert_error(400, "invalid_proof");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

fn raw_proof(holder: &SoftwareSigner, header: Value, payload: Value) -> String {
    let input = format!(
        "{}.{}",
        jose::b64::encode(header.to_string()),
        jose::b64::encode(payload.to_string())
    );
    let sig = holder.sign(input.as_bytes()).unwrap();
    jose::jws::attach_signature(input, &sig)
}

async fn rejects_credential_with_proof_of_wrong_typ(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    let p = raw_proof(
        &w.holder,
        json!({"typ": "JWT", "alg": "ES256", "jwk": w.holder.public_jwk().to_value()}),
        json!({"aud": ISSUER, "iat": h.now(), "nonce": n}),
    );
    h.credential(&w, &at, request(vec![p]))
        .await
        .assert_error(400, "invalid_proof");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

async fn rejects_credential_with_proof_for_another_audience(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    h.credential(
        &w,
        &at,
        request(vec![w.proof("https://other.example", h.now(), Some(&n))]),
    )
    .await
    .assert_error(400, "invalid_proof");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

async fn rejects_credential_with_stale_proof(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    h.credential(
        &w,
        &at,
        request(vec![w.proof(ISSUER, h.now() - 3600, Some(&n))]),
    )
    .await
    .assert_error(400, "invalid_proof");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

async fn rejects_credential_with_proof_without_nonce(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    h.credential(&w, &at, request(vec![w.proof(ISSUER, h.now(), None)]))
        .await
        .assert_error(400, "invalid_proof");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

async fn rejects_credential_with_proof_carrying_a_private_key(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    let private: Value =
        serde_json::from_str(&w.holder.to_private_jwk().unwrap().to_json()).unwrap();
    let p = raw_proof(
        &w.holder,
        json!({"typ": oid4vci::PROOF_TYP, "alg": "ES256", "jwk": private}),
        json!({"aud": ISSUER, "iat": h.now(), "nonce": n}),
    );
    h.credential(&w, &at, request(vec![p]))
        .await
        .assert_error(400, "invalid_proof");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

async fn rejects_credential_with_proof_alg_not_allowed(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    let es384 = SoftwareSigner::generate(Algorithm::Es384).unwrap();
    h.credential(
        &w,
        &at,
        request(vec![w.proof_with(&es384, ISSUER, h.now(), Some(&n))]),
    )
    .await
    .assert_error(400, "invalid_proof");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

async fn rejects_credential_with_two_proofs_for_one_key(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    let p1 = w.proof(ISSUER, h.now(), Some(&n));
    let p2 = w.proof(ISSUER, h.now() - 1, Some(&n));
    h.credential(&w, &at, request(vec![p1, p2]))
        .await
        .assert_error(400, "invalid_proof");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

async fn rejects_credential_with_unknown_nonce(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    h.credential(
        &w,
        &at,
        request(vec![w.proof(ISSUER, h.now(), Some("made-up-nonce"))]),
    )
    .await
    .assert_error(400, "invalid_nonce");
    nothing_issued(&h, &w, &at, None).await;
}

async fn rejects_credential_with_replayed_nonce(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    let r = h
        .credential(&w, &at, request(vec![w.proof(ISSUER, h.now(), Some(&n))]))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    h.credential(&w, &at, request(vec![w.proof(ISSUER, h.now(), Some(&n))]))
        .await
        .assert_error(400, "invalid_nonce");
    assert_eq!(h.issued().await, 1);
}

async fn rejects_credential_with_expired_nonce(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    h.clock.advance(299);
    let at2 = {
        let code = h.simple_offer().await;
        h.access_token(&w, &code).await
    };
    h.clock.advance(2);
    h.credential(&w, &at2, request(vec![w.proof(ISSUER, h.now(), Some(&n))]))
        .await
        .assert_error(400, "invalid_nonce");
    let _ = at;
    assert_eq!(h.issued().await, 0);
}

async fn rejects_response_encryption_in_a_plain_request(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let body = json!({
        "credential_configuration_id": CONFIG_ID,
        "proofs": {"jwt": [w.proof(ISSUER, h.now(), Some(&n))]},
        "credential_response_encryption": {"jwk": key.public_jwk().clone().with_alg(ECDH_ES).to_value(), "enc": "A128GCM"}
    });
    h.credential(&w, &at, body)
        .await
        .assert_error(400, "invalid_encryption_parameters");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

async fn rejects_plain_request_when_encryption_is_required(b: Backend) {
    let mut o = Options::new(b);
    o.config = "[encryption]\nresponse_required = true".into();
    let h = Harness::start(o).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    h.credential(&w, &at, request(vec![w.proof(ISSUER, h.now(), Some(&n))]))
        .await
        .assert_error(400, "invalid_encryption_parameters");
    assert_eq!(h.issued().await, 0);
}

async fn encrypted(h: &Harness, w: &Wallet, at: &str, jwe: String) -> Reply {
    h.send(
        w.authed(Request::post("/credential"), h.now())
            .header(header::AUTHORIZATION, format!("Bearer {at}"))
            .header(header::CONTENT_TYPE, "application/jwt")
            .body(Body::from(jwe))
            .unwrap(),
    )
    .await
}

async fn issuer_key(h: &Harness) -> jose::PublicJwk {
    let m = h
        .send(
            Request::get("/.well-known/openid-credential-issuer")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let m = oid4vci::CredentialIssuerMetadata::from_json(&m.body, ISSUER).unwrap();
    jose::PublicJwk::from_value(&m.credential_request_encryption.unwrap().jwks.keys[0]).unwrap()
}

/// Sends a credential request encrypted to `to`, asking for `response` encryption, and
/// checks it is refused with `invalid_encryption_parameters` and nothing is issued.
async fn refused_encrypted(h: &Harness, to: &jose::PublicJwk, response: Option<(Enc, bool)>) {
    let (w, at) = ready(h).await;
    let n = h.nonce().await;
    let wallet_key = EncryptionKey::generate(Curve::P256).unwrap();
    let req = CredentialRequest {
        target: CredentialTarget::ConfigurationId(CONFIG_ID.into()),
        proofs: Some(Proofs::Jwt(vec![w.proof(ISSUER, h.now(), Some(&n))])),
        credential_response_encryption: response.map(|(enc, zip)| ResponseEncryption {
            jwk: wallet_key.public_jwk().clone().with_alg(ECDH_ES),
            enc,
            zip,
        }),
    };
    let jwe = req.to_jwe(to, Enc::A128Gcm).unwrap();
    encrypted(h, &w, &at, jwe)
        .await
        .assert_error(400, "invalid_encryption_parameters");
    nothing_issued(h, &w, &at, Some(&n)).await;
}

fn stranger_key() -> jose::PublicJwk {
    EncryptionKey::generate(Curve::P256)
        .unwrap()
        .public_jwk()
        .clone()
        .with_alg(ECDH_ES)
}

async fn rejects_undecryptable_request(b: Backend) {
    let h = harness(b).await;
    refused_encrypted(&h, &stranger_key(), None).await;
}

async fn rejects_response_encryption_with_enc_not_offered(b: Backend) {
    let mut o = Options::new(b);
    o.config = "[encryption]\nenc = [\"A128GCM\"]".into();
    let h = Harness::start(o).await;
    refused_encrypted(&h, &issuer_key(&h).await, Some((Enc::A256Gcm, false))).await;
}

async fn rejects_credential_with_proof_naming_another_client(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    let p = oid4vci::ProofClaims {
        aud: ISSUER.into(),
        iat: h.now(),
        nonce: Some(n.clone()),
        iss: Some("https://other.example/client".into()),
    }
    .sign(&w.holder)
    .unwrap();
    h.credential(&w, &at, request(vec![p]))
        .await
        .assert_error(400, "invalid_proof");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

async fn rejects_credential_with_proof_of_bad_signature(b: Backend) {
    let h = harness(b).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    // Signed by another key than the `jwk` header names.
    let stranger = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let p = raw_proof(
        &stranger,
        json!({"typ": "openid4vci-proof+jwt", "alg": "ES256", "jwk": w.holder.public_jwk().to_value()}),
        json!({"aud": ISSUER, "iat": h.now(), "nonce": n}),
    );
    h.credential(&w, &at, request(vec![p]))
        .await
        .assert_error(400, "invalid_proof");
    nothing_issued(&h, &w, &at, Some(&n)).await;
}

async fn rejects_encrypted_request_when_encryption_is_disabled(b: Backend) {
    let mut o = Options::new(b);
    o.config = "[encryption]\nenabled = false".into();
    let h = Harness::start(o).await;
    refused_encrypted(&h, &stranger_key(), None).await;
}

async fn rejects_plain_request_when_encrypted_requests_are_required(b: Backend) {
    let mut o = Options::new(b);
    o.config = "[encryption]\nrequest_required = true".into();
    let h = Harness::start(o).await;
    let (w, at) = ready(&h).await;
    let n = h.nonce().await;
    h.credential(&w, &at, request(vec![w.proof(ISSUER, h.now(), Some(&n))]))
        .await
        .assert_error(400, "invalid_encryption_parameters");
    assert_eq!(h.issued().await, 0);
}

async fn rejects_response_encryption_with_zip_not_offered(b: Backend) {
    let h = harness(b).await;
    refused_encrypted(&h, &issuer_key(&h).await, Some((Enc::A128Gcm, true))).await;
}

async fn notify(h: &Harness, w: &Wallet, at: &str, body: Value) -> Reply {
    h.send(
        w.authed(Request::post("/notification"), h.now())
            .header(header::AUTHORIZATION, format!("Bearer {at}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

async fn rejects_notification_with_unknown_id(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    let (_, at, _) = h.issue_one(&w).await;
    notify(
        &h,
        &w,
        &at,
        json!({"notification_id": "unknown", "event": "credential_accepted"}),
    )
    .await
    .assert_error(400, "invalid_notification_id");
}

async fn rejects_notification_for_another_tokens_credentials(b: Backend) {
    let h = harness(b).await;
    let a = h.wallet();
    let (_, _, response) = h.issue_one(&a).await;
    let other = h.wallet();
    let (_, at_other, _) = h.issue_one(&other).await;
    let id = response["notification_id"].as_str().unwrap();
    notify(
        &h,
        &other,
        &at_other,
        json!({"notification_id": id, "event": "credential_deleted"}),
    )
    .await
    .assert_error(400, "invalid_notification_id");
    let list = h.admin_get("/admin/credentials").await.json();
    assert!(
        list["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["notification"].is_null())
    );
}

async fn rejects_notification_with_unknown_event(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    let (_, at, response) = h.issue_one(&w).await;
    let id = response["notification_id"].as_str().unwrap();
    notify(
        &h,
        &w,
        &at,
        json!({"notification_id": id, "event": "credential_lost"}),
    )
    .await
    .assert_error(400, "invalid_notification_request");
}

async fn rejects_notification_with_malformed_body(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    let (_, at, response) = h.issue_one(&w).await;
    let id = response["notification_id"].as_str().unwrap();
    for body in [
        json!({"event": "credential_accepted"}),
        json!({"notification_id": id}),
        json!({"notification_id": id, "event": "credential_accepted", "event_description": 7}),
        json!([id]),
    ] {
        notify(&h, &w, &at, body)
            .await
            .assert_error(400, "invalid_notification_request");
    }
    let list = h.admin_get("/admin/credentials").await.json();
    assert!(list["credentials"][0]["notification"].is_null());
}

async fn rejects_notification_without_access_token(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    let (_, _, response) = h.issue_one(&w).await;
    let id = response["notification_id"].as_str().unwrap();
    let r = h
        .send(
            w.authed(Request::post("/notification"), h.now())
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"notification_id": id, "event": "credential_accepted"}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    r.assert_error(401, "invalid_token");
}

both_backends!(
    rejects_credential_without_access_token,
    rejects_credential_with_unknown_access_token,
    rejects_credential_with_expired_access_token,
    rejects_credential_without_binding_pop,
    rejects_credential_with_pop_from_another_instance_key,
    rejects_credential_with_replayed_binding_pop,
    rejects_credential_with_wrong_content_type,
    rejects_credential_with_malformed_json,
    rejects_credential_with_both_targets,
    rejects_credential_with_unknown_configuration,
    rejects_credential_with_credential_identifier,
    rejects_credential_for_configuration_not_offered,
    rejects_credential_without_proofs,
    rejects_credential_with_attestation_proof_type,
    rejects_credential_with_too_many_proofs,
    rejects_credential_with_proof_of_wrong_typ,
    rejects_credential_with_proof_for_another_audience,
    rejects_credential_with_stale_proof,
    rejects_credential_with_proof_without_nonce,
    rejects_credential_with_proof_carrying_a_private_key,
    rejects_credential_with_proof_alg_not_allowed,
    rejects_credential_with_two_proofs_for_one_key,
    rejects_credential_with_unknown_nonce,
    rejects_credential_with_replayed_nonce,
    rejects_credential_with_expired_nonce,
    rejects_response_encryption_in_a_plain_request,
    rejects_plain_request_when_encryption_is_required,
    rejects_undecryptable_request,
    rejects_response_encryption_with_enc_not_offered,
    rejects_notification_with_unknown_id,
    rejects_notification_for_another_tokens_credentials,
    rejects_notification_with_unknown_event,
    rejects_notification_without_access_token,
    rejects_credential_with_proof_naming_another_client,
    rejects_credential_with_proof_of_bad_signature,
    rejects_encrypted_request_when_encryption_is_disabled,
    rejects_plain_request_when_encrypted_requests_are_required,
    rejects_response_encryption_with_zip_not_offered,
    rejects_notification_with_malformed_body,
);
