//! Issue 11: the issuer's routes and authentication extractors.
//!
//! - Every answer of the wallet and admin routes — successes and refusals — is
//!   `Cache-Control: no-store`, from one layer; the published documents keep their
//!   `public` lifetimes.
//! - At `/token` the client is authenticated (`AttestedClient`) before the body is read,
//!   and a request refused for its body consumes neither the PoP `jti` nor the attestation
//!   challenge: the same PoP then works with a good form.
//! - At `/credential` the grant (`BoundGrant`) is checked before the body is read, and a
//!   refusal by it still hands out the next `DPoP-Nonce`.
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
use issuer::Reason;
use serde_json::json;
use store::Backend;

fn cache_control(r: &Reply) -> Vec<String> {
    r.headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn assert_no_store(what: &str, r: &Reply, status: u16) {
    assert_eq!(r.status.as_u16(), status, "{what}: {}", r.text());
    assert_eq!(cache_control(r), ["no-store"], "{what}");
}

fn form(code: &str) -> String {
    format!(
        "grant_type={}&pre-authorized_code={}",
        enc(oid4vci::PRE_AUTHORIZED_CODE_GRANT),
        enc(code)
    )
}

async fn post_json(h: &Harness, path: &str, authorization: Option<&str>, body: &str) -> Reply {
    let mut r = Request::post(path).header(header::CONTENT_TYPE, "application/json");
    if let Some(a) = authorization {
        r = r.header(header::AUTHORIZATION, a);
    }
    h.send(r.body(Body::from(body.to_owned())).unwrap()).await
}

async fn get(h: &Harness, path: &str) -> Reply {
    h.send(Request::get(path).body(Body::empty()).unwrap())
        .await
}

async fn issue11_every_dynamic_route_answers_no_store(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();

    // Admin API: created, listed, shown, changed — and refused.
    let offer = h
        .offer(json!({
            "credential_configuration_ids": [CONFIG_ID],
            "claims": issuer::demo::example_claims(),
            "by_reference": true,
        }))
        .await;
    let created = h
        .admin_post(
            "/admin/offers",
            json!({
                "credential_configuration_ids": [CONFIG_ID],
                "claims": issuer::demo::example_claims(),
            }),
        )
        .await;
    assert_no_store("POST /admin/offers", &created, 201);
    let refused = post_json(&h, "/admin/offers", Some("Bearer wrong"), "{}").await;
    assert_no_store("POST /admin/offers without the token", &refused, 401);
    let refused = h.admin_post("/admin/offers", json!({"claims": 1})).await;
    assert_no_store("POST /admin/offers malformed", &refused, 400);

    // Wallet: the offer by reference, a challenge, a nonce, a token, a credential, a
    // notification.
    let uri = offer["credential_offer_uri"].as_str().unwrap();
    let path = uri.strip_prefix(ISSUER).unwrap().to_owned();
    assert_no_store("GET /offers/{handle}", &get(&h, &path).await, 200);
    assert_no_store(
        "GET /offers/{handle} unknown",
        &get(&h, "/offers/unknown").await,
        404,
    );
    let challenge = h
        .send(Request::post("/challenge").body(Body::empty()).unwrap())
        .await;
    assert_no_store("POST /challenge", &challenge, 200);
    let nonce = h
        .send(Request::post("/nonce").body(Body::empty()).unwrap())
        .await;
    assert_no_store("POST /nonce", &nonce, 200);

    let code = code_of(&created.json());
    let token = h.token(&w, &code, None).await;
    assert_no_store("POST /token", &token, 200);
    assert_no_store(
        "POST /token with a used code",
        &h.token(&w, &code, None).await,
        400,
    );
    let refused = h
        .send(
            Request::post("/token")
                .header(header::CONTENT_TYPE, FORM)
                .body(Body::from(form(&code)))
                .unwrap(),
        )
        .await;
    assert_no_store("POST /token without attestation", &refused, 400);

    let at = token.json()["access_token"].as_str().unwrap().to_owned();
    let body = h.request_body(&w).await;
    let issued = h.credential(&w, &at, body).await;
    assert_no_store("POST /credential", &issued, 200);
    let notification_id = issued.json()["notification_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = post_json(&h, "/credential", None, "{}").await;
    assert_no_store("POST /credential without a token", &refused, 401);
    let refused = post_json(&h, "/credential", Some(&format!("Bearer {at}")), "[]").await;
    assert_no_store("POST /credential malformed", &refused, 400);

    let auth = format!("Bearer {at}");
    let event = json!({"notification_id": notification_id, "event": "credential_accepted"});
    let notified = post_json(&h, "/notification", Some(&auth), &event.to_string()).await;
    assert_no_store("POST /notification", &notified, 204);
    let unknown = json!({"notification_id": "nope", "event": "credential_accepted"});
    let refused = post_json(&h, "/notification", Some(&auth), &unknown.to_string()).await;
    assert_no_store("POST /notification unknown id", &refused, 400);
    let refused = post_json(&h, "/notification", None, &event.to_string()).await;
    assert_no_store("POST /notification without a token", &refused, 401);

    // What was issued.
    let list = h.admin_get("/admin/credentials").await;
    assert_no_store("GET /admin/credentials", &list, 200);
    let id = list.json()["credentials"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_no_store(
        "GET /admin/credentials/{id}",
        &h.admin_get(&format!("/admin/credentials/{id}")).await,
        200,
    );
    assert_no_store(
        "GET /admin/credentials/{id} unknown",
        &h.admin_get("/admin/credentials/unknown").await,
        404,
    );
    assert_no_store(
        "GET /admin/credentials without the token",
        &get(&h, "/admin/credentials").await,
        401,
    );
    assert_no_store(
        "POST /admin/credentials/{id}/status",
        &h.admin_post(
            &format!("/admin/credentials/{id}/status"),
            json!({"status": "SUSPENDED"}),
        )
        .await,
        200,
    );

    // The published documents are meant to be cached: the layer leaves them alone.
    for (path, expected) in [
        (
            "/.well-known/openid-credential-issuer",
            "public, max-age=300",
        ),
        (
            "/.well-known/oauth-authorization-server",
            "public, max-age=300",
        ),
        ("/.well-known/jwt-vc-issuer", "public, max-age=60"),
        ("/jwks", "public, max-age=60"),
    ] {
        let r = get(&h, path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(cache_control(&r), [expected], "{path}");
    }
    let status_uri = h
        .admin_get(&format!("/admin/credentials/{id}"))
        .await
        .json()["status_list"]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = get(&h, status_uri.strip_prefix(ISSUER).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        cache_control(&r)[0].starts_with("public, max-age="),
        "{:?}",
        cache_control(&r)
    );
}

async fn issue11_token_authenticates_the_client_before_reading_the_body(b: Backend) {
    let h = harness(b).await;
    // Neither a form nor attestation headers: the missing client authentication is what
    // is refused, before the body is looked at.
    let r = h
        .send(
            Request::post("/token")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{not a form"))
                .unwrap(),
        )
        .await;
    r.assert_refused(400, "invalid_client", Reason::AttestationHeaderMissing);
    assert_eq!(h.redeemed().await, 0);
}

async fn issue11_token_refused_for_its_form_consumes_no_pop_or_challenge(b: Backend) {
    let mut o = Options::new(b);
    o.config = "[attestation]\nrequire_challenge = true".into();
    let h = Harness::start(o).await;
    let code = h.simple_offer().await;
    let challenge = h
        .send(Request::post("/challenge").body(Body::empty()).unwrap())
        .await
        .json()["attestation_challenge"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut w = h.wallet();
    w.challenge = Some(challenge);
    let pop = w.pop(h.now());
    let send = |content_type: &'static str, body: String| {
        h.send(
            Request::post("/token")
                .header(client_attestation::ATTESTATION_HEADER, &w.attestation)
                .header(client_attestation::POP_HEADER, &pop)
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(body))
                .unwrap(),
        )
    };
    send("application/json", form(&code)).await.assert_refused(
        400,
        "invalid_request",
        Reason::TokenRequestNotForm,
    );
    send(FORM, format!("{}&pre-authorized_code=again", form(&code)))
        .await
        .assert_refused(400, "invalid_request", Reason::TokenRequestMalformed);
    // A `client_id` that is not the attestation's `sub` is refused as before, after the
    // form, and consumes nothing either.
    send(FORM, format!("{}&client_id=someone-else", form(&code)))
        .await
        .assert_refused(400, "invalid_client", Reason::AttestationInvalid);
    assert_eq!(h.redeemed().await, 0);
    // The same PoP, with its challenge and `jti`, still works: nothing was consumed.
    let r = send(FORM, form(&code)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // And now both are used.
    let other = h.simple_offer().await;
    send(FORM, form(&other)).await.assert_refused(
        400,
        "use_attestation_challenge",
        Reason::AttestationChallengeUnknown,
    );
}

async fn issue11_credential_checks_the_grant_before_the_body_and_hands_out_a_dpop_nonce(
    b: Backend,
) {
    let mut o = Options::new(b);
    o.config = "[dpop]\nrequire_nonce = true".into();
    let h = Harness::start(o).await;
    // No token and a body that is not JSON: the grant is refused first, with the next
    // `DPoP-Nonce` although the handler never ran.
    let r = h
        .send(
            Request::post("/credential")
                .header(header::CONTENT_TYPE, "text/plain")
                .body(Body::from("not json"))
                .unwrap(),
        )
        .await;
    r.assert_refused(401, "invalid_token", Reason::AccessTokenMissing);
    assert!(r.headers.get("DPoP-Nonce").is_some());
    let r = post_json(&h, "/notification", Some("Bearer unknown"), "[]").await;
    r.assert_refused(401, "invalid_token", Reason::UnknownAccessToken);
    assert!(r.headers.get("DPoP-Nonce").is_some());
}

both_backends!(
    issue11_every_dynamic_route_answers_no_store,
    issue11_token_authenticates_the_client_before_reading_the_body,
    issue11_token_refused_for_its_form_consumes_no_pop_or_challenge,
    issue11_credential_checks_the_grant_before_the_body_and_hands_out_a_dpop_nonce,
);
