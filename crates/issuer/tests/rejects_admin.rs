//! Refusals of the admin API (never open: bearer token compared in constant time; no
//! token configured means every call is refused) and of the public lookups.

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
use serde_json::json;
use store::Backend;

async fn offers(h: &Harness) -> i64 {
    h.count("SELECT CAST(COUNT(*) AS BIGINT) FROM issuer_offers")
        .await
}

fn offer_body() -> serde_json::Value {
    json!({"credential_configuration_ids": [CONFIG_ID], "claims": issuer::demo::example_claims()})
}

async fn rejects_admin_without_or_with_wrong_token(b: Backend) {
    let h = harness(b).await;
    for auth in [
        None,
        Some("Bearer wrong-token"),
        Some("Basic dGVzdA=="),
        Some(&format!("Bearer {ADMIN}x")[..]),
    ] {
        let mut req =
            Request::post("/admin/offers").header(header::CONTENT_TYPE, "application/json");
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        let r = h
            .send(req.body(Body::from(offer_body().to_string())).unwrap())
            .await;
        r.assert_error(401, "invalid_token");
        let mut get = Request::get("/admin/credentials");
        if let Some(a) = auth {
            get = get.header(header::AUTHORIZATION, a);
        }
        h.send(get.body(Body::empty()).unwrap())
            .await
            .assert_error(401, "invalid_token");
    }
    assert_eq!(offers(&h).await, 0);
}

async fn rejects_admin_when_no_token_is_configured(b: Backend) {
    let mut o = Options::new(b);
    // An empty section cannot unset the token the harness writes; build the state without one.
    o.config = String::new();
    let h = Harness::start(o).await;
    let mut config = typed_config("");
    config.admin_token = None;
    let state = issuer::State::new(issuer::Dependencies {
        config,
        identifier: ISSUER.into(),
        database: h.db.clone(),
        single_use: h.state.single_use().clone(),
        key_store: issuer::KeyStore::Software(std::sync::Arc::new(
            keys::Kek::from_bytes(&h.kek).unwrap(),
        )),
        kek: Some(std::sync::Arc::new(keys::Kek::from_bytes(&h.kek).unwrap())),
        trust: issuer::TrustSources::default(),
        clock: std::sync::Arc::new(h.clock.clone()),
        random: std::sync::Arc::new(issuer::SystemRandom),
    })
    .await
    .unwrap();
    let app = issuer::router(state);
    use tower::ServiceExt;
    let r = app
        .oneshot(
            Request::post("/admin/offers")
                .header(header::AUTHORIZATION, "Bearer ")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(offer_body().to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(offers(&h).await, 0);
}

async fn rejects_offer_with_unknown_configuration(b: Backend) {
    let h = harness(b).await;
    let r = h
        .admin_post(
            "/admin/offers",
            json!({"credential_configuration_ids": ["nope"], "claims": {}}),
        )
        .await;
    r.assert_error(400, "invalid_request");
    assert_eq!(offers(&h).await, 0);
}

async fn rejects_offer_missing_a_mandatory_claim(b: Backend) {
    let h = harness(b).await;
    let mut claims = issuer::demo::example_claims();
    claims.remove("course");
    let r = h
        .admin_post(
            "/admin/offers",
            json!({"credential_configuration_ids": [CONFIG_ID], "claims": claims}),
        )
        .await;
    r.assert_error(400, "invalid_request");
    assert!(r.text().contains("course"));
    assert_eq!(offers(&h).await, 0);
}

async fn rejects_offer_setting_a_reserved_claim(b: Backend) {
    let h = harness(b).await;
    for reserved in ["iss", "cnf", "status", "vct", "exp", "_sd"] {
        let mut claims = issuer::demo::example_claims();
        claims.insert(reserved.into(), json!("x"));
        let r = h
            .admin_post(
                "/admin/offers",
                json!({"credential_configuration_ids": [CONFIG_ID], "claims": claims}),
            )
            .await;
        r.assert_error(400, "invalid_request");
    }
    assert_eq!(offers(&h).await, 0);
}

async fn rejects_offer_with_bad_tx_code_or_fields(b: Backend) {
    let h = harness(b).await;
    for body in [
        json!({"credential_configuration_ids": [CONFIG_ID], "claims": issuer::demo::example_claims(), "tx_code": {"length": 2}}),
        json!({"credential_configuration_ids": [CONFIG_ID], "claims": issuer::demo::example_claims(), "tx_code": {"input_mode": "emoji"}}),
        json!({"credential_configuration_ids": [CONFIG_ID], "claims": issuer::demo::example_claims(), "tx_code": {"description": "x".repeat(301)}}),
        json!({"credential_configuration_ids": [CONFIG_ID], "claims": issuer::demo::example_claims(), "surprise": true}),
        json!({"credential_configuration_ids": [], "claims": {}}),
        json!({"credential_configuration_ids": [CONFIG_ID, CONFIG_ID], "claims": issuer::demo::example_claims()}),
        json!({"credential_configuration_ids": [CONFIG_ID], "claims": issuer::demo::example_claims(), "wallet_url": "http://wallet.example"}),
        json!(["not", "an", "object"]),
    ] {
        h.admin_post("/admin/offers", body)
            .await
            .assert_error(400, "invalid_request");
    }
    assert_eq!(offers(&h).await, 0);
}

async fn rejects_status_change_to_unknown_value_or_credential(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    h.issue_one(&w).await;
    let id = h.admin_get("/admin/credentials").await.json()["credentials"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    h.admin_post(
        &format!("/admin/credentials/{id}/status"),
        json!({"status": "LOST"}),
    )
    .await
    .assert_error(400, "invalid_request");
    let r = h
        .admin_post(
            "/admin/credentials/unknown/status",
            json!({"status": "INVALID"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let shown = h
        .admin_get(&format!("/admin/credentials/{id}"))
        .await
        .json();
    assert_eq!(shown["status"], "VALID");
}

async fn rejects_unknown_offer_handle_and_status_list(b: Backend) {
    let h = harness(b).await;
    let r = h
        .send(Request::get("/offers/nope").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = h
        .send(Request::get("/status/999").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn listing_pages_backwards_in_time(b: Backend) {
    let h = harness(b).await;
    for _ in 0..3 {
        let w = h.wallet();
        h.issue_one(&w).await;
        h.clock.advance(10);
    }
    let page = h.admin_get("/admin/credentials?limit=2").await.json();
    assert_eq!(page["credentials"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = h
        .admin_get(&format!("/admin/credentials?limit=2&cursor={cursor}"))
        .await
        .json();
    assert_eq!(rest["credentials"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    // `before` still filters by time.
    let newest = page["credentials"][0]["issued_at"].as_i64().unwrap();
    let older = h
        .admin_get(&format!("/admin/credentials?before={newest}"))
        .await
        .json();
    assert_eq!(older["credentials"].as_array().unwrap().len(), 2);
}

/// Many credentials issued in the same second, listed in pages whose boundaries fall inside
/// that second: every credential appears exactly once.
async fn issue10_listing_pages_through_credentials_issued_in_the_same_second(b: Backend) {
    let h = harness(b).await;
    const ISSUED: usize = 23;
    let mut issued = std::collections::BTreeSet::new();
    for _ in 0..ISSUED {
        let w = h.wallet();
        h.issue_one(&w).await;
    }
    let all = h.admin_get("/admin/credentials").await.json();
    for c in all["credentials"].as_array().unwrap() {
        issued.insert(c["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(issued.len(), ISSUED);
    let seconds: std::collections::BTreeSet<i64> = all["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["issued_at"].as_i64().unwrap())
        .collect();
    assert_eq!(seconds.len(), 1, "the clock stood still: one second");

    let mut listed = Vec::new();
    let mut path = "/admin/credentials?limit=4".to_owned();
    loop {
        let page = h.admin_get(&path).await.json();
        let rows = page["credentials"].as_array().unwrap();
        assert!(rows.len() <= 4);
        listed.extend(rows.iter().map(|c| c["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/admin/credentials?limit=4&cursor={cursor}"),
            None => break,
        }
        assert!(listed.len() <= ISSUED, "pages repeat rows: {listed:?}");
    }
    let unique: std::collections::BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(listed.len(), ISSUED, "{listed:?}");
    assert_eq!(unique, issued);
}

async fn rejects_malformed_listing_cursor(b: Backend) {
    let h = harness(b).await;
    for bad in ["nodot", "x.abc", "12.", "12.a%2Fb", "12.a'b"] {
        h.admin_get(&format!("/admin/credentials?cursor={bad}"))
            .await
            .assert_error(400, "invalid_request");
    }
    let long = "a".repeat(65);
    h.admin_get(&format!("/admin/credentials?cursor=1.{long}"))
        .await
        .assert_error(400, "invalid_request");
}

both_backends!(
    rejects_admin_without_or_with_wrong_token,
    rejects_admin_when_no_token_is_configured,
    rejects_offer_with_unknown_configuration,
    rejects_offer_missing_a_mandatory_claim,
    rejects_offer_setting_a_reserved_claim,
    rejects_offer_with_bad_tx_code_or_fields,
    rejects_status_change_to_unknown_value_or_credential,
    rejects_unknown_offer_handle_and_status_list,
    listing_pages_backwards_in_time,
    issue10_listing_pages_through_credentials_issued_in_the_same_second,
    rejects_malformed_listing_cursor,
);
