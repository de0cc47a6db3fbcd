//! The verifier through its real router: every option of a successful flow, and every
//! rejection path with its specific error code and no state change where none is due.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::http::StatusCode;
use common::*;
use jose::jwe::{Enc, EncryptOptions, EncryptionKey};
use jose::{
    Algorithm, CompactJws, Curve, JwsPolicy, PublicJwk, Signer, SoftwareSigner, VerifyingKey,
};
use oid4vp::{DirectPostBody, Presentation, RequestUriPost, VpToken};
use serde_json::{Value, json};
use verifier::demo::CLASSROOM_PASS_VCT;

fn opts(prefix: &str, mode: &str, method: &str) -> Value {
    json!({"client_id_prefix": prefix, "response_mode": mode, "request_uri_method": method})
}

async fn succeeds(h: &Harness, body: Value, post: Option<RequestUriPost>) -> Value {
    let (id, link) = h.start(body).await;
    let request = h.resolve(&link, post).await;
    let (qid, vp) = h.presentation(&h.pass(), &request, None);
    let a = h
        .form("/response", h.answer(&request, h.vp_token(&qid, vp)))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let redirect = a.json()["redirect_uri"].as_str().unwrap().to_owned();
    assert!(redirect.starts_with("https://rp.example/classroom#response_code="));
    let v = h.view(&id).await;
    assert_eq!(v["status"], "success", "{v}");
    v
}

#[tokio::test]
async fn every_prefix_method_and_response_mode_succeeds() {
    let h = harness(Setup::default()).await;
    for prefix in ["x509_san_dns", "x509_hash", "redirect_uri"] {
        for mode in ["direct_post", "direct_post.jwt"] {
            for method in ["get", "post"] {
                let post = (method == "post").then(|| RequestUriPost {
                    wallet_metadata: Some(
                        json!({"vp_formats_supported": {"dc+sd-jwt": {}},
                               "authorization_encryption_enc_values_supported": ["A256GCM"]})
                        .to_string(),
                    ),
                    wallet_nonce: Some("wn-123".into()),
                });
                let post = if prefix == "redirect_uri" { None } else { post };
                let v = succeeds(&h, opts(prefix, mode, method), post).await;
                let claims = &v["claims"]["classroom_pass"][0];
                assert_eq!(claims["role"], "student", "{prefix} {mode} {method}");
                assert_eq!(claims["course"], "Immersive Physics 101");
                assert!(
                    claims.get("given_name").is_none(),
                    "not requested, not disclosed"
                );
                assert!(claims.get("cnf").is_none());
            }
        }
    }
}

#[tokio::test]
async fn success_yields_a_session_token_with_the_essential_claims_only() {
    let h = harness(Setup::default()).await;
    let v = succeeds(&h, json!({}), None).await;
    let token = v["session_token"].as_str().unwrap();
    let jwks = h.get("/jwks").await.json();
    let key = VerifyingKey::from_jwk(&PublicJwk::from_value(&jwks["keys"][0]).unwrap()).unwrap();
    let verified = CompactJws::parse(token)
        .unwrap()
        .verify(
            &key,
            &JwsPolicy::new(&[Algorithm::Es256]).with_typ(&[verifier::session::TYP]),
        )
        .unwrap();
    let c = verified.claims().unwrap();
    assert_eq!(
        c["claims"],
        json!({"role": "student", "course": "Immersive Physics 101"})
    );
    assert_eq!(c["sub"], v["transaction_id"]);
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 300);
}

#[tokio::test]
async fn empty_post_body_at_the_request_uri_is_accepted() {
    let h = harness(Setup::default()).await;
    let (_, link) = h.start(opts("x509_san_dns", "direct_post", "post")).await;
    let request = h.resolve(&link, Some(RequestUriPost::default())).await;
    assert_eq!(request.wallet_nonce, None);
}

#[tokio::test]
async fn the_wallet_nonce_is_echoed_and_enc_values_follow_wallet_metadata() {
    let h = harness(Setup::default()).await;
    let (_, link) = h.start(opts("x509_hash", "direct_post.jwt", "post")).await;
    let post = RequestUriPost {
        wallet_metadata: Some(
            json!({"authorization_encryption_enc_values_supported": ["A256GCM"]}).to_string(),
        ),
        wallet_nonce: Some("qPmxiNFCR3QTm19POc8u".into()),
    };
    let request = h.resolve(&link, Some(post)).await;
    assert_eq!(
        request.wallet_nonce.as_deref(),
        Some("qPmxiNFCR3QTm19POc8u")
    );
    let cm = request.client_metadata.unwrap();
    assert_eq!(
        cm.encrypted_response_enc_values_supported,
        Some(vec![Enc::A256Gcm])
    );
    assert_eq!(cm.jwks.unwrap()[0].alg(), Some("ECDH-ES"));
}

#[tokio::test]
async fn rp_supplied_dcql_query_is_used() {
    let h = harness(Setup::default()).await;
    let query = json!({"credentials": [{"id": "pass", "format": "dc+sd-jwt",
        "meta": {"vct_values": [CLASSROOM_PASS_VCT]},
        "claims": [{"path": ["role"]}, {"path": ["course"]}, {"path": ["given_name"]}]}]});
    let v = succeeds(&h, json!({"dcql_query": query}), None).await;
    assert_eq!(v["claims"]["pass"][0]["given_name"], "Erika");
}

#[tokio::test]
async fn status_list_is_fetched_once_and_cached() {
    let h = harness(Setup::default()).await;
    for _ in 0..3 {
        succeeds(&h, json!({}), None).await;
    }
    assert_eq!(h.list_hits.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn qr_code_is_served_as_svg_and_png() {
    let h = harness(Setup::default()).await;
    let (id, _) = h.start(json!({})).await;
    let svg = h.rp("GET", &format!("/transactions/{id}/qr"), None).await;
    assert_eq!(svg.content_type.as_deref(), Some("image/svg+xml"));
    assert!(svg.text().contains("<svg"));
    let png = h
        .rp("GET", &format!("/transactions/{id}/qr?format=png"), None)
        .await;
    assert_eq!(png.content_type.as_deref(), Some("image/png"));
    assert_eq!(&png.body[..4], b"\x89PNG");
}

#[tokio::test]
async fn same_device_results_need_the_response_code() {
    let h = harness(Setup::default()).await;
    let (id, link) = h.start(json!({"flow": "same_device"})).await;
    let request = h.resolve(&link, None).await;
    let (qid, vp) = h.presentation(&h.pass(), &request, None);
    let a = h
        .form("/response", h.answer(&request, h.vp_token(&qid, vp)))
        .await;
    let redirect = a.json()["redirect_uri"].as_str().unwrap().to_owned();
    let code = redirect.split("#response_code=").nth(1).unwrap();
    let v = h.view(&id).await;
    assert_eq!(v["status"], "success");
    assert!(
        v.get("claims").is_none(),
        "same-device results need the code"
    );
    let a = h
        .rp(
            "GET",
            &format!("/transactions/{id}?response_code={code}"),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["claims"]["classroom_pass"][0]["role"], "student");
    let again = h
        .rp(
            "GET",
            &format!("/transactions/{id}?response_code={code}"),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.error(), "invalid_grant");
}

#[tokio::test]
async fn issue10_rejects_a_same_device_transaction_without_a_success_redirect() {
    // Without the demo, whose page the demo policy would redirect to.
    let h = harness(Setup {
        success_redirect: None,
        demo: false,
        ..Setup::default()
    })
    .await;
    let a = h
        .rp(
            "POST",
            "/transactions",
            Some(json!({"flow": "same_device"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    assert_eq!(a.error(), "invalid_request");
    let description = a.json()["error_description"].as_str().unwrap().to_owned();
    assert!(description.contains("success_redirect"), "{description}");
    // Cross-device transactions of that policy need no redirect and still work.
    let a = h.rp("POST", "/transactions", Some(json!({}))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
}

#[tokio::test]
async fn issue10_metadata_of_a_loopback_http_issuer_verifies_when_loopback_is_allowed() {
    // The harness's outbound client allows loopback, as `status_list.allow_loopback`
    // (or `--mode=all`) does: the issuer's keys come from its metadata over plain http.
    let h = harness(Setup {
        issuer_metadata: true,
        ..Setup::default()
    })
    .await;
    assert!(h.issuer.iss.starts_with("http://127.0.0.1:"));
    let v = succeeds(&h, json!({}), None).await;
    assert_eq!(
        v["claims"]["classroom_pass"][0]["iss"],
        h.issuer.iss.as_str()
    );
}

// --- Rejections of presentations: the transaction fails with the reason ---------------

async fn rejected(
    h: &Harness,
    body: Value,
    vp_token: impl FnOnce(&Harness, &oid4vp::AuthorizationRequest) -> VpToken,
) -> (Answer, Value) {
    let (id, link) = h.start(body).await;
    let request = h.resolve(&link, None).await;
    let token = vp_token(h, &request);
    let a = h.form("/response", h.answer(&request, token)).await;
    let v = h.view(&id).await;
    (a, v)
}

async fn assert_rejected(
    h: &Harness,
    code: &str,
    vp_token: impl FnOnce(&Harness, &oid4vp::AuthorizationRequest) -> VpToken,
) {
    let (a, v) = rejected(h, json!({}), vp_token).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    assert_eq!(a.error(), code, "{}", a.text());
    assert_eq!(v["status"], "failed");
    assert_eq!(v["error"], code);
}

fn present_with(h: &Harness, r: &oid4vp::AuthorizationRequest, credential: &str) -> VpToken {
    let (qid, vp) = h.presentation(credential, r, None);
    h.vp_token(&qid, vp)
}

#[tokio::test]
async fn rejects_a_forged_issuer_signature() {
    let h = harness(Setup::default()).await;
    assert_rejected(&h, "invalid_signature", |h, r| {
        let pass = h.pass();
        let (jwt, rest) = pass.split_once('~').unwrap();
        let (signing_input, sig) = jwt.rsplit_once('.').unwrap();
        let mut sig = jose::b64::decode(sig).unwrap();
        sig[5] ^= 0x55;
        let forged = format!("{signing_input}.{}~{rest}", jose::b64::encode(sig));
        present_with(h, r, &forged)
    })
    .await;
}

#[tokio::test]
async fn rejects_a_credential_from_an_untrusted_issuer() {
    let h = harness(Setup::default()).await;
    assert_rejected(&h, "untrusted_issuer", |h, r| {
        let mut rogue = Issuer::new("rogue-1");
        rogue.iss = "https://rogue.example".into();
        let pass = rogue.classroom_pass(
            h.holder.public_jwk(),
            None,
            0,
            NOW + 86_400,
            CLASSROOM_PASS_VCT,
        );
        present_with(h, r, &pass)
    })
    .await;
}

#[tokio::test]
async fn rejects_a_presentation_without_key_binding() {
    let h = harness(Setup::default()).await;
    assert_rejected(&h, "key_binding_missing", |h, r| {
        let (qid, vp) = h.presentation(&h.pass(), r, None);
        let without_kb = format!("{}~", vp.rsplit_once('~').unwrap().0);
        h.vp_token(&qid, without_kb)
    })
    .await;
}

#[tokio::test]
async fn rejects_a_key_binding_by_another_key() {
    let h = harness(Setup::default()).await;
    assert_rejected(&h, "invalid_key_binding", |h, r| {
        let other = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let sd = sd_jwt::SdJwt::parse(&h.pass(), &sd_jwt::Limits::DEFAULT).unwrap();
        let mut p = sd.presenter().unwrap();
        p.select(&sd_jwt::ClaimPath::claim("role")).unwrap();
        p.select(&sd_jwt::ClaimPath::claim("course")).unwrap();
        let vp = p
            .with_key_binding(
                &sd_jwt::KbInput::new(r.client_id.as_str(), r.nonce.clone(), NOW),
                &other,
            )
            .unwrap();
        h.vp_token("classroom_pass", vp)
    })
    .await;
}

fn kb_with(
    h: &Harness,
    r: &oid4vp::AuthorizationRequest,
    aud: &str,
    nonce: &str,
    iat: i64,
) -> VpToken {
    let sd = sd_jwt::SdJwt::parse(&h.pass(), &sd_jwt::Limits::DEFAULT).unwrap();
    let mut p = sd.presenter().unwrap();
    p.select(&sd_jwt::ClaimPath::claim("role")).unwrap();
    p.select(&sd_jwt::ClaimPath::claim("course")).unwrap();
    let _ = r;
    let vp = p
        .with_key_binding(&sd_jwt::KbInput::new(aud, nonce, iat), &h.holder)
        .unwrap();
    h.vp_token("classroom_pass", vp)
}

#[tokio::test]
async fn rejects_a_key_binding_for_another_audience() {
    let h = harness(Setup::default()).await;
    assert_rejected(&h, "wrong_audience", |h, r| {
        // The identifier without its prefix is not the client_id (§14.8).
        let bare = r.client_id.identifier().to_owned();
        kb_with(h, r, &bare, &r.nonce.clone(), NOW)
    })
    .await;
}

#[tokio::test]
async fn rejects_a_key_binding_with_another_nonce() {
    let h = harness(Setup::default()).await;
    assert_rejected(&h, "wrong_nonce", |h, r| {
        kb_with(h, r, r.client_id.as_str(), "some-other-nonce", NOW)
    })
    .await;
}

#[tokio::test]
async fn rejects_a_stale_key_binding() {
    let h = harness(Setup::default()).await;
    assert_rejected(&h, "stale_key_binding", |h, r| {
        kb_with(h, r, r.client_id.as_str(), &r.nonce.clone(), NOW - 3600)
    })
    .await;
}

#[tokio::test]
async fn rejects_a_key_binding_from_the_future() {
    let h = harness(Setup::default()).await;
    assert_rejected(&h, "stale_key_binding", |h, r| {
        kb_with(h, r, r.client_id.as_str(), &r.nonce.clone(), NOW + 3600)
    })
    .await;
}

#[tokio::test]
async fn rejects_an_sd_hash_mismatch() {
    let h = harness(Setup::default()).await;
    assert_rejected(&h, "sd_hash_mismatch", |h, r| {
        // Sign over role+course, then also send given_name's disclosure.
        let (qid, vp) = h.presentation(&h.pass(), r, None);
        let (sd_part, kb) = vp.rsplit_once('~').unwrap();
        let sd = sd_jwt::SdJwt::parse(&h.pass(), &sd_jwt::Limits::DEFAULT).unwrap();
        let mut p = sd.presenter().unwrap();
        p.select(&sd_jwt::ClaimPath::claim("given_name")).unwrap();
        let extra = p.selected().next().unwrap().as_str().to_owned();
        h.vp_token(&qid, format!("{sd_part}~{extra}~{kb}"))
    })
    .await;
}

#[tokio::test]
async fn rejects_a_revoked_credential() {
    let h = harness(Setup::default()).await;
    assert_rejected(&h, "credential_revoked", |h, r| {
        let pass = h.issuer.classroom_pass(
            h.holder.public_jwk(),
            Some(&h.list_uri),
            1,
            NOW + 86_400,
            CLASSROOM_PASS_VCT,
        );
        present_with(h, r, &pass)
    })
    .await;
}

#[tokio::test]
async fn rejects_a_suspended_credential() {
    let h = harness(Setup::default()).await;
    assert_rejected(&h, "credential_suspended", |h, r| {
        let pass = h.issuer.classroom_pass(
            h.holder.public_jwk(),
            Some(&h.list_uri),
            2,
            NOW + 86_400,
            CLASSROOM_PASS_VCT,
        );
        present_with(h, r, &pass)
    })
    .await;
}

#[tokio::test]
async fn rejects_a_status_index_outside_the_list() {
    let h = harness(Setup::default()).await;
    assert_rejected(&h, "invalid_status", |h, r| {
        let pass = h.issuer.classroom_pass(
            h.holder.public_jwk(),
            Some(&h.list_uri),
            10_000,
            NOW + 86_400,
            CLASSROOM_PASS_VCT,
        );
        present_with(h, r, &pass)
    })
    .await;
}

#[tokio::test]
async fn rejects_a_credential_without_status_when_the_policy_requires_one() {
    let h = harness(Setup {
        require_status: true,
        ..Setup::default()
    })
    .await;
    assert_rejected(&h, "status_missing", |h, r| {
        let pass = h.issuer.classroom_pass(
            h.holder.public_jwk(),
            None,
            0,
            NOW + 86_400,
            CLASSROOM_PASS_VCT,
        );
        present_with(h, r, &pass)
    })
    .await;
}

#[tokio::test]
async fn rejects_an_expired_credential() {
    let h = harness(Setup::default()).await;
    assert_rejected(&h, "credential_expired", |h, r| {
        let pass = h.issuer.classroom_pass(
            h.holder.public_jwk(),
            Some(&h.list_uri),
            0,
            NOW - 600,
            CLASSROOM_PASS_VCT,
        );
        present_with(h, r, &pass)
    })
    .await;
}

#[tokio::test]
async fn rejects_a_withheld_essential_claim() {
    let h = harness(Setup::default()).await;
    // A query that asks for course only optionally (claim_sets), so DCQL is met without
    // it; the policy still requires it.
    let query = json!({"credentials": [{"id": "classroom_pass", "format": "dc+sd-jwt",
        "meta": {"vct_values": [CLASSROOM_PASS_VCT]},
        "claims": [{"id": "r", "path": ["role"]}, {"id": "c", "path": ["course"]}],
        "claim_sets": [["r", "c"], ["r"]]}]});
    let (a, v) = rejected(&h, json!({"dcql_query": query}), |h, r| {
        let (qid, vp) = h.presentation(&h.pass(), r, Some("course"));
        h.vp_token(&qid, vp)
    })
    .await;
    assert_eq!(a.error(), "essential_claim_missing", "{}", a.text());
    assert_eq!(v["error"], "essential_claim_missing");
    assert!(v["error_description"].as_str().unwrap().contains("course"));
}

#[tokio::test]
async fn rejects_a_presentation_that_does_not_satisfy_the_dcql_query() {
    let h = harness(Setup::default()).await;
    assert_rejected(&h, "dcql_unsatisfied", |h, r| {
        let (qid, vp) = h.presentation(&h.pass(), r, Some("course"));
        h.vp_token(&qid, vp)
    })
    .await;
}

#[tokio::test]
async fn rejects_a_credential_of_another_type() {
    let h = harness(Setup::default()).await;
    assert_rejected(&h, "dcql_unsatisfied", |h, r| {
        let pass = h.issuer.classroom_pass(
            h.holder.public_jwk(),
            None,
            0,
            NOW + 86_400,
            "urn:other:pass:1",
        );
        let sd = sd_jwt::SdJwt::parse(&pass, &sd_jwt::Limits::DEFAULT).unwrap();
        let mut p = sd.presenter().unwrap();
        p.select(&sd_jwt::ClaimPath::claim("role")).unwrap();
        p.select(&sd_jwt::ClaimPath::claim("course")).unwrap();
        let vp = p
            .with_key_binding(
                &sd_jwt::KbInput::new(r.client_id.as_str(), r.nonce.clone(), NOW),
                &h.holder,
            )
            .unwrap();
        h.vp_token("classroom_pass", vp)
    })
    .await;
}

#[tokio::test]
async fn rejects_a_malformed_presentation() {
    let h = harness(Setup::default()).await;
    assert_rejected(&h, "malformed_vp_token", |h, _| {
        h.vp_token("classroom_pass", "not-an-sd-jwt".into())
    })
    .await;
}

#[tokio::test]
async fn rejects_a_presentation_that_is_not_a_string() {
    let h = harness(Setup::default()).await;
    assert_rejected(&h, "malformed_vp_token", |_, _| {
        let mut t = VpToken::new();
        t.push(
            "classroom_pass",
            Presentation::Object(serde_json::Map::new()),
        );
        t
    })
    .await;
}

#[tokio::test]
async fn a_wallet_error_response_fails_the_transaction_and_redirects() {
    let h = harness(Setup::default()).await;
    let (id, link) = h.start(opts("x509_san_dns", "direct_post", "get")).await;
    let request = h.resolve(&link, None).await;
    let body = format!(
        "error=access_denied&error_description=declined&state={}",
        request.state.clone().unwrap()
    );
    let a = h.form("/response", body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert!(a.json()["redirect_uri"].is_string());
    let v = h.view(&id).await;
    assert_eq!(v["status"], "failed");
    assert_eq!(v["error"], "wallet_error");
}

// --- Protocol errors: nothing changes --------------------------------------------------

async fn pending_after(h: &Harness, id: &str) {
    assert_eq!(h.view(id).await["status"], "pending");
}

#[tokio::test]
async fn rejects_a_malformed_vp_token_without_state_change() {
    let h = harness(Setup::default()).await;
    let (id, link) = h.start(opts("x509_san_dns", "direct_post", "get")).await;
    let request = h.resolve(&link, None).await;
    let state = request.state.clone().unwrap();
    for body in [
        format!("vp_token=%22just-a-string%22&state={state}"),
        format!("vp_token=%7B%7D&state={state}"),
        format!("vp_token=%7B%22classroom_pass%22%3A%5B%5D%7D&state={state}"),
        format!("vp_token=not-json&state={state}"),
        format!("state={state}"),
        format!("vp_token=%7B%7D&state={state}&state={state}"),
    ] {
        let a = h.form("/response", body.clone()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(a.error(), "invalid_request", "{body}");
    }
    pending_after(&h, &id).await;
}

#[tokio::test]
async fn rejects_a_wrong_or_missing_state() {
    let h = harness(Setup::default()).await;
    let (id, link) = h.start(opts("x509_san_dns", "direct_post", "get")).await;
    let request = h.resolve(&link, None).await;
    let (qid, vp) = h.presentation(&h.pass(), &request, None);
    let token = h.vp_token(&qid, vp);
    let mut wrong = request.clone();
    wrong.state = Some("not-a-transaction".into());
    let a = h.form("/response", h.answer(&wrong, token.clone())).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error(), "invalid_state");
    let mut none = request.clone();
    none.state = None;
    let a = h.form("/response", h.answer(&none, token)).await;
    assert_eq!(a.error(), "invalid_request");
    pending_after(&h, &id).await;
}

#[tokio::test]
async fn rejects_a_replayed_response() {
    let h = harness(Setup::default()).await;
    let (id, link) = h.start(json!({})).await;
    let request = h.resolve(&link, None).await;
    let (qid, vp) = h.presentation(&h.pass(), &request, None);
    let form = h.answer(&request, h.vp_token(&qid, vp));
    assert_eq!(
        h.form("/response", form.clone()).await.status,
        StatusCode::OK
    );
    let before = h.view(&id).await;
    let again = h.form("/response", form).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.error(), "transaction_answered");
    let after = h.view(&id).await;
    assert_eq!(before["claims"], after["claims"]);
    assert_eq!(after["status"], "success");
}

#[tokio::test]
async fn rejects_a_presentation_replayed_into_another_transaction() {
    let h = harness(Setup::default()).await;
    let (_, link) = h.start(opts("x509_san_dns", "direct_post", "get")).await;
    let first = h.resolve(&link, None).await;
    let (qid, vp) = h.presentation(&h.pass(), &first, None);
    let (id2, link2) = h.start(opts("x509_san_dns", "direct_post", "get")).await;
    let second = h.resolve(&link2, None).await;
    let a = h
        .form("/response", h.answer(&second, h.vp_token(&qid, vp)))
        .await;
    assert_eq!(a.error(), "wrong_nonce");
    assert_eq!(h.view(&id2).await["status"], "failed");
}

#[tokio::test]
async fn rejects_a_late_response_after_expiry() {
    let h = harness(Setup::default()).await;
    let (id, link) = h.start(json!({})).await;
    let request = h.resolve(&link, None).await;
    let (qid, vp) = h.presentation(&h.pass(), &request, None);
    let form = h.answer(&request, h.vp_token(&qid, vp));
    h.clock.set(NOW + 301);
    let a = h.form("/response", form).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error(), "transaction_expired");
    let v = h.view(&id).await;
    assert_eq!(v["status"], "expired");
    let late_fetch = h.get(&format!("/request/{}", request.state.unwrap())).await;
    assert_eq!(late_fetch.error(), "transaction_expired");
}

#[tokio::test]
async fn rejects_direct_post_jwt_encrypted_to_another_key() {
    let h = harness(Setup::default()).await;
    let (id, link) = h
        .start(opts("x509_san_dns", "direct_post.jwt", "get"))
        .await;
    let request = h.resolve(&link, None).await;
    let (qid, vp) = h.presentation(&h.pass(), &request, None);
    let payload = serde_json::Value::Object(
        oid4vp::AuthorizationResponse::Success {
            vp_token: h.vp_token(&qid, vp),
            state: request.state.clone(),
        }
        .to_payload(),
    )
    .to_string();
    let attacker = EncryptionKey::generate(Curve::P256)
        .unwrap()
        .with_kid(request.state.clone().unwrap());
    let jwe = jose::jwe::encrypt(
        payload.as_bytes(),
        &attacker.public_jwk_for_encryption(),
        Enc::A128Gcm,
        &EncryptOptions::default(),
    )
    .unwrap();
    let a = h
        .form("/response", DirectPostBody::Encrypted(jwe).to_form())
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error(), "invalid_response_encryption");
    pending_after(&h, &id).await;
}

#[tokio::test]
async fn rejects_direct_post_jwt_with_an_enc_not_offered() {
    let h = harness(Setup {
        enc_values: vec!["A128GCM".into()],
        ..Setup::default()
    })
    .await;
    let (id, link) = h
        .start(opts("x509_san_dns", "direct_post.jwt", "get"))
        .await;
    let request = h.resolve(&link, None).await;
    let (qid, vp) = h.presentation(&h.pass(), &request, None);
    let payload = serde_json::Value::Object(
        oid4vp::AuthorizationResponse::Success {
            vp_token: h.vp_token(&qid, vp),
            state: request.state.clone(),
        }
        .to_payload(),
    )
    .to_string();
    let jwk = request.client_metadata.unwrap().jwks.unwrap()[0].clone();
    let jwe = jose::jwe::encrypt(
        payload.as_bytes(),
        &jwk,
        Enc::A256Gcm,
        &EncryptOptions::default(),
    )
    .unwrap();
    let a = h
        .form("/response", DirectPostBody::Encrypted(jwe).to_form())
        .await;
    assert_eq!(a.error(), "invalid_response_encryption");
    pending_after(&h, &id).await;
}

#[tokio::test]
async fn rejects_a_plain_response_where_encryption_was_requested() {
    let h = harness(Setup::default()).await;
    let (id, link) = h.start(opts("x509_hash", "direct_post.jwt", "get")).await;
    let mut request = h.resolve(&link, None).await;
    let (qid, vp) = h.presentation(&h.pass(), &request, None);
    request.response_mode = oid4vp::ResponseMode::DirectPost;
    let a = h
        .form("/response", h.answer(&request, h.vp_token(&qid, vp)))
        .await;
    assert_eq!(a.error(), "invalid_response_encryption");
    pending_after(&h, &id).await;
}

#[tokio::test]
async fn rejects_a_jwe_without_kid_or_garbage() {
    let h = harness(Setup::default()).await;
    let a = h.form("/response", "response=a.b.c.d.e".into()).await;
    assert_eq!(a.error(), "invalid_response_encryption");
}

#[tokio::test]
async fn rejects_rp_calls_without_the_bearer_token() {
    let h = harness(Setup::default()).await;
    let a = h
        .call(
            axum::http::Request::builder()
                .method("POST")
                .uri("/transactions")
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.error(), "invalid_token");
    let a = h
        .call(
            axum::http::Request::builder()
                .uri("/transactions/x")
                .header("authorization", "Bearer wrong")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rejects_invalid_transaction_requests() {
    let h = harness(Setup::default()).await;
    for (body, needle) in [
        (json!({"policy": "nope"}), "unknown policy"),
        (json!({"client_id_prefix": "did"}), "client_id_prefix"),
        (json!({"response_mode": "fragment"}), "response_mode"),
        (json!({"request_uri_method": "PUT"}), "request_uri_method"),
        (json!({"flow": "sideways"}), "flow"),
        (json!({"dcql_query": {"credentials": []}}), "dcql_query"),
        (
            json!({"dcql_query": {"credentials": [{"id": "x", "format": "dc+sd-jwt",
                "meta": {"vct_values": ["t"]}, "claims": [{"path": ["role"]}]}]}}),
            "essential",
        ),
        (json!({"unknown": 1}), "unknown"),
    ] {
        let a = h.rp("POST", "/transactions", Some(body.clone())).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(a.error(), "invalid_request", "{body}");
        assert!(a.text().contains(needle), "{body}: {}", a.text());
    }
}

#[tokio::test]
async fn rejects_wallet_metadata_the_request_cannot_meet() {
    let h = harness(Setup::default()).await;
    let (_, link) = h
        .start(opts("x509_san_dns", "direct_post.jwt", "post"))
        .await;
    let oid4vp::Invocation::ByReference { request_uri, .. } =
        oid4vp::Invocation::parse(&link).unwrap()
    else {
        panic!()
    };
    let path = request_uri.strip_prefix(BASE).unwrap().to_owned();
    for (meta, code) in [
        (
            json!({"vp_formats_supported": {"mso_mdoc": {}}}),
            "vp_formats_not_supported",
        ),
        (
            json!({"request_object_signing_alg_values_supported": ["RS256"]}),
            "invalid_request",
        ),
        (
            json!({"client_id_prefixes_supported": ["x509_hash"]}),
            "invalid_request",
        ),
        (
            json!({"authorization_encryption_enc_values_supported": ["A192GCM"]}),
            "invalid_request",
        ),
    ] {
        let post = RequestUriPost {
            wallet_metadata: Some(meta.to_string()),
            wallet_nonce: None,
        };
        let a = h.form(&path, post.to_form()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{meta}");
        assert_eq!(a.error(), code, "{meta}");
    }
    let a = h.form(&path, "wallet_metadata=%7Bbroken".into()).await;
    assert_eq!(a.error(), "invalid_request");
    let a = h.get("/request/unknown-request").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_transactions_are_not_found() {
    let h = harness(Setup::default()).await;
    let a = h.rp("GET", "/transactions/nope", None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = h.rp("GET", "/transactions/nope/qr", None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_demo_page_and_its_api_work() {
    let h = harness(Setup::default()).await;
    let page = h.get("/demo").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("IMMERSE classroom"));
    assert_eq!(h.get("/demo/classroom.js").await.status, StatusCode::OK);
    let a = h.form("/demo/api/transactions", String::new()).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let created = a.json();
    let id = created["transaction_id"].as_str().unwrap();
    let link = created["authorization_request"].as_str().unwrap();
    let request = h.resolve(link, None).await;
    let (qid, vp) = h.presentation(&h.pass(), &request, None);
    let r = h
        .form("/response", h.answer(&request, h.vp_token(&qid, vp)))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let v = h.get(&format!("/demo/api/transactions/{id}")).await.json();
    assert_eq!(v["status"], "success");
    assert_eq!(
        v["claims"]["classroom_pass"][0]["course"],
        "Immersive Physics 101"
    );
    let qr = h.get(&format!("/demo/api/transactions/{id}/qr")).await;
    // Answered: no QR any more.
    assert_eq!(qr.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_answers_to_one_transaction_have_exactly_one_winner() {
    let h = std::sync::Arc::new(harness(Setup::default()).await);
    let (id, link) = h.start(opts("x509_hash", "direct_post", "get")).await;
    let request = h.resolve(&link, None).await;
    let (qid, vp) = h.presentation(&h.pass(), &request, None);
    let form = h.answer(&request, h.vp_token(&qid, vp));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let h = std::sync::Arc::clone(&h);
        let form = form.clone();
        tasks.push(tokio::spawn(async move { h.form("/response", form).await }));
    }
    let mut ok = 0;
    for t in tasks {
        let a = t.await.unwrap();
        if a.status == StatusCode::OK {
            ok += 1;
        } else {
            assert_eq!(a.error(), "transaction_answered", "{}", a.text());
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(h.view(&id).await["status"], "success");
}

/// One layer marks every answer of the dynamic routes `no-store`, refusals included, while
/// the session key stays cacheable.
#[tokio::test]
async fn issue11_every_dynamic_answer_is_no_store_and_the_session_key_is_cacheable() {
    use axum::body::Body;
    use axum::http::{Request, header};
    use tower::ServiceExt;

    let h = harness(Setup::default()).await;
    let (id, _) = h.start(opts("x509_san_dns", "direct_post", "get")).await;
    let bearer = format!("Bearer {RP_TOKEN}");
    for (method, path, authorized, status) in [
        ("GET", format!("/transactions/{id}"), true, StatusCode::OK),
        (
            "GET",
            format!("/transactions/{id}/qr"),
            true,
            StatusCode::OK,
        ),
        (
            "GET",
            "/transactions/unknown".to_owned(),
            true,
            StatusCode::NOT_FOUND,
        ),
        (
            "POST",
            "/transactions".to_owned(),
            false,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "GET",
            "/request/unknown".to_owned(),
            false,
            StatusCode::NOT_FOUND,
        ),
    ] {
        let mut request = Request::builder().method(method).uri(&path);
        if authorized {
            request = request.header(header::AUTHORIZATION, &bearer);
        }
        let answer = h
            .router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "{method} {path}");
        assert_eq!(
            answer.headers()[header::CACHE_CONTROL],
            "no-store",
            "{method} {path}"
        );
    }
    let keys = h
        .router
        .clone()
        .oneshot(Request::get("/jwks").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(keys.status(), StatusCode::OK);
    assert_eq!(keys.headers()[header::CACHE_CONTROL], "public, max-age=300");
}
