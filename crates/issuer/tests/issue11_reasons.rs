//! Refusals that share a wire code are told apart by their [`issuer::Reason`], read from
//! the response's extensions through the real router on both databases: an unknown, an
//! expired and a used pre-authorized code are all `invalid_grant`, an unknown and an
//! expired access token both `invalid_token`, and so on. The reason never reaches the wire.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use client_attestation::PopClaims;
use common::*;
use issuer::Reason;
use serde_json::{Value, json};
use store::Backend;

/// The reason is in the extensions only: neither the body nor any header names it, and
/// the body is the plain OAuth error object.
fn not_on_the_wire(r: &Reply) {
    let name = format!("{:?}", r.reason.unwrap());
    assert!(!r.text().contains(&name), "{}", r.text());
    for (header, value) in &r.headers {
        assert!(
            !value.to_str().unwrap_or_default().contains(&name),
            "{header} carries the reason"
        );
    }
    let body = r.json();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert!(
        keys.iter()
            .all(|k| *k == "error" || *k == "error_description"),
        "{body}"
    );
}

fn request(proofs: Vec<String>) -> Value {
    json!({"credential_configuration_id": CONFIG_ID, "proofs": {"jwt": proofs}})
}

async fn issue11_reason_tells_unknown_expired_and_used_codes_apart(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();

    let r = h.token(&w, "not-a-code", None).await;
    r.assert_refused(400, "invalid_grant", Reason::UnknownCode);
    not_on_the_wire(&r);

    let used = h.simple_offer().await;
    assert_eq!(h.token(&w, &used, None).await.status, StatusCode::OK);
    h.token(&h.wallet(), &used, None).await.assert_refused(
        400,
        "invalid_grant",
        Reason::CodeAlreadyUsed,
    );

    let expired = h.simple_offer().await;
    h.clock.advance(16 * 60);
    h.token(&h.wallet(), &expired, None).await.assert_refused(
        400,
        "invalid_grant",
        Reason::ExpiredCode,
    );
    assert_eq!(h.redeemed().await, 1, "only the first code was redeemed");
}

async fn issue11_reason_tells_transaction_code_refusals_apart(b: Backend) {
    let h = harness(b).await;
    let o = h
        .offer(json!({
            "credential_configuration_ids": [CONFIG_ID],
            "claims": issuer::demo::example_claims(),
            "tx_code": {"length": 6}
        }))
        .await;
    let (code, tx) = (code_of(&o), o["tx_code"].as_str().unwrap().to_owned());
    h.token(&h.wallet(), &code, None).await.assert_refused(
        400,
        "invalid_request",
        Reason::TxCodeMissing,
    );
    let wrong = if tx == "000000" { "111111" } else { "000000" };
    for _ in 0..3 {
        h.token(&h.wallet(), &code, Some(wrong))
            .await
            .assert_refused(400, "invalid_grant", Reason::WrongTxCode);
    }
    // The right code, too late: the offer is dead, which is not a wrong code.
    h.token(&h.wallet(), &code, Some(&tx)).await.assert_refused(
        400,
        "invalid_grant",
        Reason::CodeDead,
    );

    let plain = h.simple_offer().await;
    h.token(&h.wallet(), &plain, Some("123456"))
        .await
        .assert_refused(400, "invalid_request", Reason::TxCodeUnexpected);
    assert_eq!(h.redeemed().await, 0);
}

async fn issue11_reason_tells_missing_unknown_and_expired_access_tokens_apart(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    let code = h.simple_offer().await;
    let at = h.access_token(&w, &code).await;

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
    r.assert_refused(401, "invalid_token", Reason::AccessTokenMissing);
    not_on_the_wire(&r);

    h.credential(
        &w,
        "not-a-token",
        request(vec![w.proof(ISSUER, h.now(), Some(&n))]),
    )
    .await
    .assert_refused(401, "invalid_token", Reason::UnknownAccessToken);

    h.clock.advance(301);
    let n = h.nonce().await;
    h.credential(&w, &at, request(vec![w.proof(ISSUER, h.now(), Some(&n))]))
        .await
        .assert_refused(401, "invalid_token", Reason::ExpiredAccessToken);
    assert_eq!(h.issued().await, 0);
}

async fn issue11_reason_tells_proof_refusals_from_nonce_refusals_apart(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    let code = h.simple_offer().await;
    let at = h.access_token(&w, &code).await;

    h.credential(&w, &at, json!({"credential_configuration_id": CONFIG_ID}))
        .await
        .assert_refused(400, "invalid_proof", Reason::ProofMissing);
    h.credential(&w, &at, request(vec![w.proof(ISSUER, h.now(), None)]))
        .await
        .assert_refused(400, "invalid_proof", Reason::ProofInvalid);
    let n = h.nonce().await;
    h.credential(
        &w,
        &at,
        request(vec![
            w.proof(ISSUER, h.now(), Some(&n)),
            w.proof(ISSUER, h.now(), Some(&n)),
        ]),
    )
    .await
    .assert_refused(400, "invalid_proof", Reason::ProofKeyRepeated);

    h.credential(
        &w,
        &at,
        request(vec![w.proof(ISSUER, h.now(), Some("made-up-nonce"))]),
    )
    .await
    .assert_refused(400, "invalid_nonce", Reason::NonceUnknown);
    // A used nonce is gone from the single-use store: the same reason as an unknown one.
    assert_eq!(
        h.credential(&w, &at, request(vec![w.proof(ISSUER, h.now(), Some(&n))]))
            .await
            .status,
        StatusCode::OK
    );
    h.credential(&w, &at, request(vec![w.proof(ISSUER, h.now(), Some(&n))]))
        .await
        .assert_refused(400, "invalid_nonce", Reason::NonceUnknown);
    assert_eq!(h.issued().await, 1);
}

async fn issue11_reason_tells_pop_replay_and_challenge_refusals_apart(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    let first = h.simple_offer().await;
    let second = h.simple_offer().await;
    let pop = PopClaims {
        aud: ISSUER.into(),
        jti: "replayed-jti".into(),
        iat: h.now(),
        challenge: None,
        legacy: None,
    }
    .sign(&w.instance)
    .unwrap();
    let send = |code: String, pop: String| {
        let form = format!(
            "grant_type={}&pre-authorized_code={}",
            enc(oid4vci::PRE_AUTHORIZED_CODE_GRANT),
            enc(&code)
        );
        h.send(
            Request::post("/token")
                .header(client_attestation::ATTESTATION_HEADER, &w.attestation)
                .header(client_attestation::POP_HEADER, pop)
                .header(header::CONTENT_TYPE, FORM)
                .body(Body::from(form))
                .unwrap(),
        )
    };
    assert_eq!(send(first, pop.clone()).await.status, StatusCode::OK);
    send(second, pop)
        .await
        .assert_refused(400, "invalid_client", Reason::PopReplay);

    let mut o = Options::new(b);
    o.config = "[attestation]\nrequire_challenge = true".into();
    let strict = Harness::start(o).await;
    let code = strict.simple_offer().await;
    strict
        .token(&strict.wallet(), &code, None)
        .await
        .assert_refused(
            400,
            "use_attestation_challenge",
            Reason::AttestationChallengeMissing,
        );
    let mut w = strict.wallet();
    w.challenge = Some("never-issued".into());
    strict.token(&w, &code, None).await.assert_refused(
        400,
        "use_attestation_challenge",
        Reason::AttestationChallengeUnknown,
    );
    assert_eq!(strict.redeemed().await, 0);
}

both_backends!(
    issue11_reason_tells_unknown_expired_and_used_codes_apart,
    issue11_reason_tells_transaction_code_refusals_apart,
    issue11_reason_tells_missing_unknown_and_expired_access_tokens_apart,
    issue11_reason_tells_proof_refusals_from_nonce_refusals_apart,
    issue11_reason_tells_pop_replay_and_challenge_refusals_apart,
);
