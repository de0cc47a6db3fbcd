//! Issue 10, item 1: the access token is a bearer token by default (OpenID4VCI 1.0), and
//! sender-constrained the standard way with DPoP (RFC 9449) — offered or required, with or
//! without server nonces — through the real router on both databases. Every refusal has
//! RFC 9449's code, its `WWW-Authenticate` / `DPoP-Nonce` headers, and changes nothing: no
//! code redeemed, no credential issued, no `jti` or nonce consumed by a refused proof.

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
use jose::{Algorithm, Signer, SoftwareSigner};
use oid4vci::DpopClaims;
use serde_json::{Value, json};
use std::sync::Arc;
use store::Backend;
use store::testing::TestDatabase;

async fn with(b: Backend, config: &str) -> Harness {
    let mut o = Options::new(b);
    o.config = config.to_owned();
    Harness::start(o).await
}

fn dpop_key() -> SoftwareSigner {
    SoftwareSigner::generate(Algorithm::Es256).unwrap()
}

fn jti() -> String {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).unwrap();
    jose::b64::encode(b)
}

/// A proof for `POST <ISSUER><path>`.
fn proof(
    key: &dyn Signer,
    h: &Harness,
    path: &str,
    token: Option<&str>,
    nonce: Option<&str>,
) -> String {
    DpopClaims {
        jti: jti(),
        htm: "POST".into(),
        htu: format!("{ISSUER}{path}"),
        iat: h.now(),
        access_token: token.map(str::to_owned),
        nonce: nonce.map(str::to_owned),
    }
    .sign(key)
    .unwrap()
}

fn form(code: &str) -> String {
    format!(
        "grant_type={}&pre-authorized_code={}",
        enc(oid4vci::PRE_AUTHORIZED_CODE_GRANT),
        enc(code)
    )
}

/// `POST /token` with the attestation and the given `DPoP` header values.
async fn token(h: &Harness, w: &Wallet, code: &str, dpop: &[&str]) -> Reply {
    let mut r = w
        .authed(Request::post("/token"), h.now())
        .header(header::CONTENT_TYPE, FORM);
    for d in dpop {
        r = r.header("DPoP", *d);
    }
    h.send(r.body(Body::from(form(code))).unwrap()).await
}

/// `POST <path>` with `Authorization: <authorization>`, the given `DPoP` header and no
/// client attestation (what a standard OpenID4VCI wallet sends).
async fn resource(
    h: &Harness,
    path: &str,
    authorization: &str,
    dpop: Option<&str>,
    body: Value,
) -> Reply {
    let mut r = Request::post(path)
        .header(header::AUTHORIZATION, authorization)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(d) = dpop {
        r = r.header("DPoP", d);
    }
    h.send(r.body(Body::from(body.to_string())).unwrap()).await
}

fn www_authenticate(r: &Reply) -> String {
    r.headers
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn dpop_nonce(r: &Reply) -> Option<String> {
    r.headers
        .get("DPoP-Nonce")
        .map(|v| v.to_str().unwrap().to_owned())
}

/// A DPoP-bound access token for `key`.
async fn dpop_token(h: &Harness, w: &Wallet, key: &SoftwareSigner) -> String {
    let code = h.simple_offer().await;
    let r = token(h, w, &code, &[&proof(key, h, "/token", None, None)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["token_type"], "DPoP");
    r.json()["access_token"].as_str().unwrap().to_owned()
}

async fn issue10_bearer_access_token_accepted_at_credential(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    let code = h.simple_offer().await;
    let r = h.token(&w, &code, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["token_type"], "Bearer");
    let at = r.json()["access_token"].as_str().unwrap().to_owned();
    // Only the access token, as OpenID4VCI 1.0 allows: no attestation, no PoP.
    let body = h.request_body(&w).await;
    let r = resource(&h, "/credential", &format!("Bearer {at}"), None, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let nid = r.json()["notification_id"].as_str().unwrap().to_owned();
    let r = resource(
        &h,
        "/notification",
        &format!("bearer {at}"),
        None,
        json!({"notification_id": nid, "event": "credential_accepted"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert_eq!(h.issued().await, 1);
}

async fn issue10_as_metadata_advertises_dpop_unless_off(b: Backend) {
    let get = |h: &Harness| {
        let h = h.app.clone();
        async move {
            use tower::ServiceExt;
            let r = h
                .oneshot(
                    Request::get("/.well-known/oauth-authorization-server")
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
            serde_json::from_slice::<Value>(&bytes).unwrap()
        }
    };
    let offered = harness(b).await;
    assert_eq!(
        get(&offered).await["dpop_signing_alg_values_supported"],
        json!(["ES256"])
    );
    let off = with(b, "[dpop]\nmode = \"off\"").await;
    assert!(
        get(&off)
            .await
            .get("dpop_signing_alg_values_supported")
            .is_none()
    );
    let required = with(
        b,
        "[dpop]\nmode = \"required\"\nalgorithms = [\"ES256\", \"ES384\"]",
    )
    .await;
    assert_eq!(
        get(&required).await["dpop_signing_alg_values_supported"],
        json!(["ES256", "ES384"])
    );
}

async fn issue10_dpop_bound_token_used_at_credential_and_notification(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    let key = dpop_key();
    let at = dpop_token(&h, &w, &key).await;
    let body = h.request_body(&w).await;
    let r = resource(
        &h,
        "/credential",
        &format!("DPoP {at}"),
        Some(&proof(&key, &h, "/credential", Some(&at), None)),
        body,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let nid = r.json()["notification_id"].as_str().unwrap().to_owned();
    let r = resource(
        &h,
        "/notification",
        &format!("DPoP {at}"),
        Some(&proof(&key, &h, "/notification", Some(&at), None)),
        json!({"notification_id": nid, "event": "credential_accepted"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert_eq!(h.issued().await, 1);
}

async fn issue10_rejects_dpop_bound_token_presented_as_bearer(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    let key = dpop_key();
    let at = dpop_token(&h, &w, &key).await;
    let body = h.request_body(&w).await;
    let r = resource(
        &h,
        "/credential",
        &format!("Bearer {at}"),
        Some(&proof(&key, &h, "/credential", Some(&at), None)),
        body.clone(),
    )
    .await;
    r.assert_error(401, "invalid_token");
    assert!(
        www_authenticate(&r).starts_with("DPoP error=\"invalid_token\""),
        "{}",
        www_authenticate(&r)
    );
    assert_eq!(h.issued().await, 0);
    // The c_nonce was not consumed: the right presentation still works.
    let r = resource(
        &h,
        "/credential",
        &format!("DPoP {at}"),
        Some(&proof(&key, &h, "/credential", Some(&at), None)),
        body,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

async fn issue10_rejects_dpop_bound_token_without_or_with_bad_proof(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    let key = dpop_key();
    let at = dpop_token(&h, &w, &key).await;
    let auth = format!("DPoP {at}");
    let body = h.request_body(&w).await;
    let stale = DpopClaims {
        jti: jti(),
        htm: "POST".into(),
        htu: format!("{ISSUER}/credential"),
        iat: h.now() - 3600,
        access_token: Some(at.clone()),
        nonce: None,
    }
    .sign(&key)
    .unwrap();
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no proof", None),
        (
            "another key",
            Some(proof(&dpop_key(), &h, "/credential", Some(&at), None)),
        ),
        (
            "another URL",
            Some(proof(&key, &h, "/notification", Some(&at), None)),
        ),
        ("no ath", Some(proof(&key, &h, "/credential", None, None))),
        (
            "ath of another token",
            Some(proof(&key, &h, "/credential", Some("other"), None)),
        ),
        ("stale iat", Some(stale)),
        ("garbage", Some("a.b.c".into())),
    ];
    for (what, dpop) in cases {
        let r = resource(&h, "/credential", &auth, dpop.as_deref(), body.clone()).await;
        assert_eq!(
            (r.status.as_u16(), r.error().as_str()),
            (401, "invalid_dpop_proof"),
            "{what}: {}",
            r.text()
        );
        assert!(
            www_authenticate(&r).starts_with("DPoP error=\"invalid_dpop_proof\", algs=\"ES256\""),
            "{what}: {}",
            www_authenticate(&r)
        );
    }
    assert_eq!(h.issued().await, 0);
    let r = resource(
        &h,
        "/credential",
        &auth,
        Some(&proof(&key, &h, "/credential", Some(&at), None)),
        body,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

async fn issue10_rejects_replayed_dpop_proof(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    let key = dpop_key();
    let at = dpop_token(&h, &w, &key).await;
    let p = proof(&key, &h, "/credential", Some(&at), None);
    let body = h.request_body(&w).await;
    let r = resource(&h, "/credential", &format!("DPoP {at}"), Some(&p), body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let body = h.request_body(&w).await;
    let r = resource(&h, "/credential", &format!("DPoP {at}"), Some(&p), body).await;
    r.assert_error(401, "invalid_dpop_proof");
    assert_eq!(h.issued().await, 1);
    // At the token endpoint too: the jti of a used token request proof is spent.
    let code = h.simple_offer().await;
    let p = proof(&key, &h, "/token", None, None);
    assert_eq!(token(&h, &w, &code, &[&p]).await.status, StatusCode::OK);
    let code = h.simple_offer().await;
    token(&h, &w, &code, &[&p])
        .await
        .assert_error(400, "invalid_dpop_proof");
    assert_eq!(h.redeemed().await, 2, "the second code is untouched");
}

async fn issue10_rejects_bearer_token_presented_with_dpop_scheme(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    let code = h.simple_offer().await;
    let at = h.access_token(&w, &code).await;
    let body = h.request_body(&w).await;
    let r = resource(
        &h,
        "/credential",
        &format!("DPoP {at}"),
        Some(&proof(&dpop_key(), &h, "/credential", Some(&at), None)),
        body,
    )
    .await;
    r.assert_error(401, "invalid_token");
    assert!(www_authenticate(&r).starts_with("DPoP"));
    assert_eq!(h.issued().await, 0);
}

async fn issue10_rejects_bad_dpop_proof_at_token_without_redeeming(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    let key = dpop_key();
    let code = h.simple_offer().await;
    let wrong_htu = proof(&key, &h, "/credential", None, None);
    let private = {
        // A header `jwk` with the private key.
        let p = key.to_private_jwk().unwrap().to_json();
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": serde_json::from_str::<Value>(&p).unwrap()});
        let payload =
            json!({"jti": jti(), "htm": "POST", "htu": format!("{ISSUER}/token"), "iat": h.now()});
        let input = format!(
            "{}.{}",
            jose::b64::encode(header.to_string()),
            jose::b64::encode(payload.to_string())
        );
        format!(
            "{input}.{}",
            jose::b64::encode(key.sign(input.as_bytes()).unwrap())
        )
    };
    let hs256 = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkhTMjU2In0.e30.c2ln";
    let none = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6Im5vbmUifQ.e30.";
    let long = "a".repeat(10_000);
    let two = proof(&key, &h, "/token", None, None);
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("wrong htu", vec![&wrong_htu]),
        ("private key in header", vec![&private]),
        ("HS256", vec![hs256]),
        ("alg none", vec![none]),
        ("not a JWS", vec!["not a jws"]),
        ("empty", vec![""]),
        ("oversized", vec![&long]),
        ("two headers", vec![&two, &two]),
    ];
    for (what, dpop) in cases {
        let r = token(&h, &w, &code, &dpop).await;
        assert_eq!(
            (r.status.as_u16(), r.error().as_str()),
            (400, "invalid_dpop_proof"),
            "{what}: {}",
            r.text()
        );
        assert!(
            r.headers.get(header::WWW_AUTHENTICATE).is_none(),
            "{what}: no challenge at the token endpoint"
        );
    }
    assert_eq!(h.redeemed().await, 0);
    // A valid proof refused for want of client authentication leaves its jti unused.
    let p = proof(&key, &h, "/token", None, None);
    let r = h
        .send(
            Request::post("/token")
                .header(header::CONTENT_TYPE, FORM)
                .header("DPoP", &p)
                .body(Body::from(form(&code)))
                .unwrap(),
        )
        .await;
    r.assert_error(400, "invalid_client");
    let r = token(&h, &w, &code, &[&p]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["token_type"], "DPoP");
}

async fn issue10_dpop_required_refuses_token_request_without_proof(b: Backend) {
    let h = with(b, "[dpop]\nmode = \"required\"").await;
    let w = h.wallet();
    let code = h.simple_offer().await;
    token(&h, &w, &code, &[])
        .await
        .assert_error(400, "invalid_dpop_proof");
    assert_eq!(h.redeemed().await, 0);
    let key = dpop_key();
    let r = token(&h, &w, &code, &[&proof(&key, &h, "/token", None, None)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["token_type"], "DPoP");
}

async fn issue10_dpop_off_ignores_proof_and_issues_bearer(b: Backend) {
    let h = with(b, "[dpop]\nmode = \"off\"").await;
    let w = h.wallet();
    let code = h.simple_offer().await;
    let r = token(&h, &w, &code, &["not even a JWS"]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["token_type"], "Bearer");
    let at = r.json()["access_token"].as_str().unwrap().to_owned();
    let body = h.request_body(&w).await;
    let r = resource(&h, "/credential", &format!("Bearer {at}"), None, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

async fn issue10_dpop_nonce_demanded_and_rotated(b: Backend) {
    let h = with(b, "[dpop]\nrequire_nonce = true").await;
    let w = h.wallet();
    let key = dpop_key();
    let code = h.simple_offer().await;
    // The nonce endpoint hands one out (OpenID4VCI 1.0 §7.2).
    let r = h
        .send(Request::post("/nonce").body(Body::empty()).unwrap())
        .await;
    assert!(dpop_nonce(&r).is_some());
    // No nonce: use_dpop_nonce with one, code untouched.
    let r = token(&h, &w, &code, &[&proof(&key, &h, "/token", None, None)]).await;
    r.assert_error(400, "use_dpop_nonce");
    let n1 = dpop_nonce(&r).expect("DPoP-Nonce with use_dpop_nonce");
    assert_eq!(h.redeemed().await, 0);
    // An unknown nonce: the same.
    let r = token(
        &h,
        &w,
        &code,
        &[&proof(&key, &h, "/token", None, Some("made-up"))],
    )
    .await;
    r.assert_error(400, "use_dpop_nonce");
    assert_eq!(h.redeemed().await, 0);
    // With it: a DPoP token and the next nonce.
    let r = token(
        &h,
        &w,
        &code,
        &[&proof(&key, &h, "/token", None, Some(&n1))],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let n2 = dpop_nonce(&r).expect("next DPoP-Nonce");
    let at = r.json()["access_token"].as_str().unwrap().to_owned();
    let auth = format!("DPoP {at}");
    // A spent nonce at the resource: 401 use_dpop_nonce with WWW-Authenticate and a nonce.
    let body = h.request_body(&w).await;
    let r = resource(
        &h,
        "/credential",
        &auth,
        Some(&proof(&key, &h, "/credential", Some(&at), Some(&n1))),
        body.clone(),
    )
    .await;
    r.assert_error(401, "use_dpop_nonce");
    assert!(
        www_authenticate(&r).starts_with("DPoP error=\"use_dpop_nonce\""),
        "{}",
        www_authenticate(&r)
    );
    let n3 = dpop_nonce(&r).expect("DPoP-Nonce with use_dpop_nonce");
    assert_eq!(h.issued().await, 0);
    for n in [n2, n3] {
        // Either live nonce works once.
        let body = h.request_body(&w).await;
        let r = resource(
            &h,
            "/credential",
            &auth,
            Some(&proof(&key, &h, "/credential", Some(&at), Some(&n))),
            body,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert!(
            dpop_nonce(&r).is_some(),
            "each response carries the next nonce"
        );
    }
    assert_eq!(h.issued().await, 2);
}

async fn issue10_bind_access_token_policy_demands_attestation_at_credential(b: Backend) {
    let h = with(b, "[attestation]\nbind_access_token = true").await;
    let w = h.wallet();
    let code = h.simple_offer().await;
    let at = h.access_token(&w, &code).await;
    let body = h.request_body(&w).await;
    let r = resource(
        &h,
        "/credential",
        &format!("Bearer {at}"),
        None,
        body.clone(),
    )
    .await;
    r.assert_error(401, "invalid_token");
    assert_eq!(h.issued().await, 0);
    let r = h.credential(&w, &at, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

async fn issue10_rejects_resource_request_with_malformed_authorization(b: Backend) {
    let h = harness(b).await;
    let w = h.wallet();
    let body = h.request_body(&w).await;
    for auth in ["Bearer", "Bearer ", "Basic abc", "DPoP", "token"] {
        let r = resource(&h, "/credential", auth, None, body.clone()).await;
        r.assert_error(401, "invalid_token");
        assert!(www_authenticate(&r).starts_with("Bearer error=\"invalid_token\""));
    }
    // Under `required`, the challenge names DPoP.
    let h = with(b, "[dpop]\nmode = \"required\"").await;
    let r = resource(&h, "/credential", "Basic abc", None, body).await;
    r.assert_error(401, "invalid_token");
    assert!(
        www_authenticate(&r).starts_with("DPoP error=\"invalid_token\", algs=\"ES256\""),
        "{}",
        www_authenticate(&r)
    );
    assert_eq!(h.issued().await, 0);
}

/// Two replicas over one PostgreSQL database and one Redis, DPoP nonces demanded: a token
/// bound at A is honoured at B (the binding is in the database, not only in A's cache), a
/// nonce A handed out is good at B once, and a proof `jti` used at A is refused at B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_dpop_binding_nonces_and_jti_hold_across_replicas() {
    let database = Arc::new(TestDatabase::new(Backend::Postgres).await.unwrap());
    let cache = Cache::Redis(format!(
        "{}:",
        store::testing::unique_name("issuer_dpop_").unwrap()
    ));
    let config = "[dpop]\nrequire_nonce = true";
    let mut o = Options::new(Backend::Postgres);
    o.database = Some(Arc::clone(&database));
    o.cache = cache.clone();
    o.config = config.into();
    let a = Harness::start(o).await;
    let mut o = Options::new(Backend::Postgres);
    o.database = Some(database);
    o.cache = cache;
    o.config = config.into();
    o.attester = Some(clone_signer(&a.attester));
    o.kek = Some(a.kek);
    o.clock = Some(a.clock.clone());
    let b = Harness::start(o).await;

    let w = a.wallet();
    let key = dpop_key();
    let code = a.simple_offer().await;
    let r = token(&a, &w, &code, &[&proof(&key, &a, "/token", None, None)]).await;
    r.assert_error(400, "use_dpop_nonce");
    let n = dpop_nonce(&r).unwrap();
    // A's nonce, used at B.
    let r = token(&b, &w, &code, &[&proof(&key, &b, "/token", None, Some(&n))]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let at = r.json()["access_token"].as_str().unwrap().to_owned();
    let n_b = dpop_nonce(&r).unwrap();
    // B's nonce and token at A: the binding is known there; the proof is accepted once.
    let p = proof(&key, &a, "/credential", Some(&at), Some(&n_b));
    let body = a.request_body(&w).await;
    let r = resource(&a, "/credential", &format!("DPoP {at}"), Some(&p), body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let next = dpop_nonce(&r).unwrap();
    // The same proof at B: its nonce is spent (use_dpop_nonce); with a fresh nonce but the
    // same jti, the replay is refused.
    let body = b.request_body(&w).await;
    let r = resource(
        &b,
        "/credential",
        &format!("DPoP {at}"),
        Some(&p),
        body.clone(),
    )
    .await;
    r.assert_error(401, "use_dpop_nonce");
    let replay = DpopClaims {
        jti: serde_json::from_slice::<Value>(
            &jose::b64::decode(p.split('.').nth(1).unwrap()).unwrap(),
        )
        .unwrap()["jti"]
            .as_str()
            .unwrap()
            .to_owned(),
        htm: "POST".into(),
        htu: format!("{ISSUER}/credential"),
        iat: b.now(),
        access_token: Some(at.clone()),
        nonce: Some(next),
    }
    .sign(&key)
    .unwrap();
    let r = resource(
        &b,
        "/credential",
        &format!("DPoP {at}"),
        Some(&replay),
        body,
    )
    .await;
    r.assert_error(401, "invalid_dpop_proof");
    assert_eq!(a.issued().await, 1);
}

both_backends!(
    issue10_bearer_access_token_accepted_at_credential,
    issue10_as_metadata_advertises_dpop_unless_off,
    issue10_dpop_bound_token_used_at_credential_and_notification,
    issue10_rejects_dpop_bound_token_presented_as_bearer,
    issue10_rejects_dpop_bound_token_without_or_with_bad_proof,
    issue10_rejects_replayed_dpop_proof,
    issue10_rejects_bearer_token_presented_with_dpop_scheme,
    issue10_rejects_bad_dpop_proof_at_token_without_redeeming,
    issue10_dpop_required_refuses_token_request_without_proof,
    issue10_dpop_off_ignores_proof_and_issues_bearer,
    issue10_dpop_nonce_demanded_and_rotated,
    issue10_bind_access_token_policy_demands_attestation_at_credential,
    issue10_rejects_resource_request_with_malformed_authorization,
);
