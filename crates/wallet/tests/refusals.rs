//! Requests the wallet will not answer still get an answer, so the verifier does not wait
//! until its transaction expires: `access_denied` when no held credential answers,
//! the request's own error code (`invalid_request`, …) when an authentic request object
//! has invalid parameters. A request object that is not authentic gets nothing: its
//! `response_uri` is nobody's word. And a wallet without verifier trust anchors still
//! receives credentials, refusing signed presentation requests before fetching them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::{Arc, Mutex};

use axum::routing::{get, post};
use common::*;
use jose::{Clock, HeaderBuilder, Signer, TrustAnchors};
use oid4vp::{AuthorizationRequest, ClientId, DcqlQuery, ErrorCode, ResponseMode};
use serde_json::{Value, json};
use wallet::{PresentationError, Registration, Settings};

/// A verifier under test control: serves `request_object` at `/request` and records
/// every body posted to `/response`. Returns its base URL and the recorded bodies.
async fn scripted_verifier(
    listener: tokio::net::TcpListener,
    request_object: String,
) -> Arc<Mutex<Vec<String>>> {
    let posted = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&posted);
    let app = axum::Router::new()
        .route(
            "/request",
            get(move || {
                let body = request_object.clone();
                async move { ([("content-type", "application/oauth-authz-req+jwt")], body) }
            }),
        )
        .route(
            "/response",
            post(move |body: String| {
                let record = Arc::clone(&record);
                async move {
                    record.lock().unwrap().push(body);
                    axum::Json(json!({}))
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    posted
}

/// Signs `claims` as a request object with `signer` and its certificate `der`.
fn sign_object(claims: &serde_json::Map<String, Value>, signer: &dyn Signer, der: &[u8]) -> String {
    let now = jose::SystemClock.now();
    let mut claims = claims.clone();
    claims.insert("aud".into(), "https://self-issued.me/v2".into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), (now + 300).into());
    HeaderBuilder::new()
        .typ("oauth-authz-req+jwt")
        .x5c(&[der.to_vec()])
        .sign(Value::Object(claims).to_string().as_bytes(), signer)
        .unwrap()
}

fn link(client_id: &str, request_uri: &str) -> String {
    oid4vp::Invocation::ByReference {
        client_id: client_id.into(),
        request_uri: request_uri.into(),
        request_uri_method: None,
    }
    .to_uri("openid4vp://")
}

/// The classroom request's parameters for `response_uri`, without `dcql_query`.
fn without_dcql_query(response_uri: &str) -> serde_json::Map<String, Value> {
    let mut claims = AuthorizationRequest {
        client_id: ClientId::parse("x509_san_dns:localhost").unwrap(),
        response_mode: ResponseMode::DirectPost,
        response_uri: response_uri.into(),
        nonce: "n-0123456789abcdef".into(),
        state: Some("st-0123456789abcdef".into()),
        dcql_query: DcqlQuery::from_value(&verifier::demo::classroom_query()).unwrap(),
        client_metadata: None,
        wallet_nonce: None,
        transaction_data: None,
    }
    .to_claims();
    claims.remove("dcql_query");
    claims
}

fn form(body: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_an_authentic_request_with_invalid_parameters_is_answered_invalid_request() {
    let p = platform("").await;
    let cert = verifier::keyfiles::generate_self_signed(
        &["localhost".into()],
        jose::SystemClock.now(),
        30,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let object = sign_object(
        &without_dcql_query(&format!("{base}/response")),
        &cert.signer,
        &cert.der,
    );
    let posted = scripted_verifier(listener, object).await;
    let mut settings = p.settings();
    settings.verifier_anchors = Some(TrustAnchors::from_der([cert.der.clone()]).unwrap());
    let w = p.wallet_with(settings);

    let err = w
        .resolve_request(&link("x509_san_dns:localhost", &format!("{base}/request")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            PresentationError::InvalidRequestAnswered {
                code: "invalid_request",
                told: true,
                ..
            }
        ),
        "{err}"
    );
    let posted = posted.lock().unwrap();
    assert_eq!(posted.len(), 1, "{posted:?}");
    let sent = form(&posted[0]);
    assert!(
        sent.contains(&("error".into(), "invalid_request".into())),
        "{sent:?}"
    );
    assert!(
        sent.contains(&("state".into(), "st-0123456789abcdef".into())),
        "{sent:?}"
    );
    assert!(
        sent.iter()
            .any(|(k, v)| k == "error_description" && v.contains("dcql_query")),
        "{sent:?}"
    );
    assert!(!sent.iter().any(|(k, _)| k == "vp_token"), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_rejects_answering_a_request_object_outside_the_trust_anchors() {
    let p = platform("").await;
    let now = jose::SystemClock.now();
    let stranger =
        verifier::keyfiles::generate_self_signed(&["localhost".into()], now, 30).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let object = sign_object(
        &without_dcql_query(&format!("{base}/response")),
        &stranger.signer,
        &stranger.der,
    );
    let posted = scripted_verifier(listener, object).await;
    // The wallet trusts the platform's verifier certificate, not the stranger's.
    let w = p.wallet();
    let err = w
        .resolve_request(&link("x509_san_dns:localhost", &format!("{base}/request")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PresentationError::Request(oid4vp::RequestError::Object(oid4vp::ObjectError::X5c(_)))
        ),
        "{err}"
    );
    assert!(
        posted.lock().unwrap().is_empty(),
        "an unauthenticated request was answered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_a_request_no_held_credential_answers_is_answered_access_denied() {
    let p = platform("").await;
    let w = p.wallet();
    let (tx, link) = p
        .transaction(json!({"client_id_prefix": "x509_san_dns"}))
        .await;
    let request = w.resolve_request(&link).await.unwrap();
    // An empty wallet: nothing answers.
    let consent = w.consent(&request, &[]);
    assert!(!consent.satisfiable());
    assert!(consent.recommended_choice().is_none());
    w.refuse(
        &request,
        ErrorCode::AccessDenied,
        "no credential in the wallet answers the request",
    )
    .await
    .unwrap();
    let result = p.result(&tx).await;
    assert_eq!(result["status"], "failed", "{result}");
    // The verifier recorded the wallet's refusal, code and reason.
    let text = result.to_string();
    assert!(text.contains("access_denied"), "{result}");
    assert!(text.contains("no credential in the wallet"), "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_a_wallet_without_verifier_anchors_receives_and_refuses_signed_requests_unfetched()
{
    let p = platform("").await;
    let mut settings = Settings::without_verifier_anchors();
    settings.allow_http_loopback = true;
    let w = p.wallet_with(settings);

    // Receiving needs no verifier anchor.
    let holder = holder();
    let offer = p.offer(json!({})).await;
    let pending = w
        .resolve_offer(offer["offer_uri"].as_str().unwrap())
        .await
        .unwrap();
    let issued = w.accept(&pending, None, &[&holder]).await.unwrap();
    assert_eq!(issued.credentials.len(), 1);

    // A signed request is refused, naming the verifier, before its request_uri is
    // fetched (a port nothing listens on would otherwise be an Unreachable error).
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let err = w
        .resolve_request(&link(
            "x509_san_dns:localhost",
            &format!("http://localhost:{port}/request"),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PresentationError::NoVerifierAnchors(id) if id == "x509_san_dns:localhost"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_a_verifier_asking_beyond_its_registration_hears_access_denied() {
    let p = platform("").await;
    let mut settings = p.settings();
    settings.registrations.insert(
        "x509_san_dns:localhost".into(),
        Registration {
            claims: vec![vec!["role".into()]],
        },
    );
    let w = p.wallet_with(settings);
    let (tx, link) = p
        .transaction(json!({"client_id_prefix": "x509_san_dns"}))
        .await;
    let err = w.resolve_request(&link).await.unwrap_err();
    assert!(
        matches!(&err, PresentationError::ExceedsRegistration { claim, .. } if claim == "course"),
        "{err}"
    );
    let result = p.result(&tx).await;
    assert_eq!(result["status"], "failed", "{result}");
    let text = result.to_string();
    assert!(text.contains("access_denied"), "{result}");
    assert!(text.contains("not registered to receive"), "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_a_request_with_transaction_data_is_answered_invalid_transaction_data() {
    let p = platform("").await;
    let cert = verifier::keyfiles::generate_self_signed(
        &["localhost".into()],
        jose::SystemClock.now(),
        30,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let claims = AuthorizationRequest {
        client_id: ClientId::parse("x509_san_dns:localhost").unwrap(),
        response_mode: ResponseMode::DirectPost,
        response_uri: format!("{base}/response"),
        nonce: "n-0123456789abcdef".into(),
        state: Some("st-0123456789abcdef".into()),
        dcql_query: DcqlQuery::from_value(&verifier::demo::classroom_query()).unwrap(),
        client_metadata: None,
        wallet_nonce: None,
        // {"type":"payment","credential_ids":["classroom_pass"]}
        transaction_data: Some(vec![
            "eyJ0eXBlIjoicGF5bWVudCIsImNyZWRlbnRpYWxfaWRzIjpbImNsYXNzcm9vbV9wYXNzIl19".into(),
        ]),
    }
    .to_claims();
    let object = sign_object(&claims, &cert.signer, &cert.der);
    let posted = scripted_verifier(listener, object).await;
    let mut settings = p.settings();
    settings.verifier_anchors = Some(TrustAnchors::from_der([cert.der.clone()]).unwrap());
    let w = p.wallet_with(settings);
    let err = w
        .resolve_request(&link("x509_san_dns:localhost", &format!("{base}/request")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PresentationError::TransactionDataUnsupported),
        "{err}"
    );
    let posted = posted.lock().unwrap();
    assert_eq!(posted.len(), 1, "{posted:?}");
    let sent = form(&posted[0]);
    assert!(
        sent.contains(&("error".into(), "invalid_transaction_data".into())),
        "{sent:?}"
    );
    assert!(
        sent.contains(&("state".into(), "st-0123456789abcdef".into())),
        "{sent:?}"
    );
}
