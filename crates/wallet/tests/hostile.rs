//! Hostile peers: a verifier asking for more than it is registered for, a request_uri at
//! a private address, a malformed request object, a request object whose signature does
//! not match its certificate, an untrusted certificate, and an issuer returning a
//! credential bound to another key. Each is refused with its own error; nothing reaches
//! the holder.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::routing::get;
use common::*;
use http_client::FetchError;
use jose::{Algorithm, Clock, Signer, SoftwareSigner, TrustAnchors};
use oid4vp::request::object::ObjectError;
use oid4vp::{AuthorizationRequest, ClientId, DcqlQuery, RequestError, ResponseMode};
use serde_json::json;
use wallet::{CredentialCheck, IssuanceError, PeerError, PresentationError, Registration};

/// Serves `app` on a loopback port; returns `http://localhost:<port>`.
async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn link(client_id: &str, request_uri: &str) -> String {
    oid4vp::Invocation::ByReference {
        client_id: client_id.into(),
        request_uri: request_uri.into(),
        request_uri_method: None,
    }
    .to_uri("openid4vp://")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_a_verifier_asking_for_more_than_it_registered() {
    let p = platform("").await;
    let mut settings = p.settings();
    settings.registrations.insert(
        "x509_san_dns:localhost".into(),
        Registration {
            claims: vec![vec!["role".into()]],
        },
    );
    let w = p.wallet_with(settings);
    let (_, link) = p
        .transaction(json!({"client_id_prefix": "x509_san_dns"}))
        .await;
    let err = w.resolve_request(&link).await.unwrap_err();
    assert!(
        matches!(&err, PresentationError::ExceedsRegistration { claim, .. } if claim == "course"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_an_unregistered_verifier_when_registration_is_required() {
    let p = platform("").await;
    let mut settings = p.settings();
    settings.require_registration = true;
    let w = p.wallet_with(settings);
    let (_, link) = p.transaction(json!({})).await;
    let err = w.resolve_request(&link).await.unwrap_err();
    assert!(
        matches!(err, PresentationError::UnregisteredVerifier(_)),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_a_request_uri_at_a_private_or_metadata_address() {
    let p = platform("").await;
    let w = p.wallet();
    for uri in [
        "https://10.0.0.7/request/1",
        "https://192.168.1.1/request/1",
        "https://169.254.169.254/latest/meta-data",
        "http://[fd00::1]/request/1",
    ] {
        let err = w
            .resolve_request(&link("x509_san_dns:evil.example", uri))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                PresentationError::Peer(PeerError::Unreachable {
                    source: FetchError::ForbiddenAddress(_),
                    ..
                })
            ),
            "{uri}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_a_malformed_request_object_and_a_wrong_media_type() {
    let p = platform("").await;
    let w = p.wallet();
    let base = serve(
        axum::Router::new()
            .route(
                "/garbage",
                get(|| async {
                    (
                        [("content-type", "application/oauth-authz-req+jwt")],
                        "this.is-not-a.jws",
                    )
                }),
            )
            .route("/html", get(|| async { "<html>hello</html>" })),
    )
    .await;
    let err = w
        .resolve_request(&link("x509_san_dns:localhost", &format!("{base}/garbage")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PresentationError::Request(RequestError::Object(ObjectError::Jws(_)))
        ),
        "{err}"
    );
    let err = w
        .resolve_request(&link("x509_san_dns:localhost", &format!("{base}/html")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PresentationError::RequestObjectType(_)),
        "{err}"
    );
}

fn classroom_request(client_id: &str, response_uri: &str) -> AuthorizationRequest {
    AuthorizationRequest {
        client_id: ClientId::parse(client_id).unwrap(),
        response_mode: ResponseMode::DirectPost,
        response_uri: response_uri.into(),
        nonce: "n-0123456789".into(),
        state: None,
        dcql_query: DcqlQuery::from_value(&verifier::demo::classroom_query()).unwrap(),
        client_metadata: None,
        wallet_nonce: None,
        transaction_data: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_a_request_object_signed_by_another_key_than_its_certificate() {
    let p = platform("").await;
    let now = jose::SystemClock.now();
    let trusted = verifier::keyfiles::generate_self_signed(&["localhost".into()], now, 30).unwrap();
    let impostor = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let port_holder = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!(
        "http://localhost:{}",
        port_holder.local_addr().unwrap().port()
    );
    let request = classroom_request("x509_san_dns:localhost", &format!("{base}/response"));
    let forged = oid4vp::sign_request_object(
        &request,
        &impostor,
        Some(std::slice::from_ref(&trusted.der)),
        now,
        300,
    )
    .unwrap();
    let app = axum::Router::new().route(
        "/request",
        get(move || {
            let forged = forged.clone();
            async move {
                (
                    [("content-type", "application/oauth-authz-req+jwt")],
                    forged,
                )
            }
        }),
    );
    tokio::spawn(async move { axum::serve(port_holder, app).await.unwrap() });
    let mut settings = p.settings();
    settings.verifier_anchors = Some(TrustAnchors::from_der([trusted.der.clone()]).unwrap());
    let w = p.wallet_with(settings);
    let err = w
        .resolve_request(&link("x509_san_dns:localhost", &format!("{base}/request")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PresentationError::Request(RequestError::Object(ObjectError::X5c(_)))
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_a_verifier_certificate_outside_the_trust_anchors() {
    let p = platform("").await;
    let other = verifier::keyfiles::generate_self_signed(
        &["localhost".into()],
        jose::SystemClock.now(),
        30,
    )
    .unwrap();
    let mut settings = p.settings();
    settings.verifier_anchors = Some(TrustAnchors::from_der([other.der]).unwrap());
    let w = p.wallet_with(settings);
    let (_, link) = p
        .transaction(json!({"client_id_prefix": "x509_san_dns"}))
        .await;
    let err = w.resolve_request(&link).await.unwrap_err();
    assert!(
        matches!(
            err,
            PresentationError::Request(RequestError::Object(ObjectError::X5c(_)))
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_a_credential_bound_to_another_key_and_reports_the_failure() {
    let p = platform("").await;
    let mut settings = p.settings();
    settings.prefer_signed_metadata = false;
    let w = p.wallet_with(settings);
    let holder = holder();
    let someone_else = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let issuer = common::scripted::scripted_issuer(common::scripted::Script {
        bound_to: Some(someone_else.public_jwk().clone()),
        ..Default::default()
    })
    .await;
    let uri = issuer.offer();
    let pending = w.resolve_offer(&uri).await.unwrap();
    let err = w.accept(&pending, None, &[&holder]).await.unwrap_err();
    assert!(
        matches!(
            err,
            IssuanceError::Credential {
                index: 0,
                source: CredentialCheck::BoundToAnotherKey
            }
        ),
        "{err}"
    );
    let events = issuer.notifications.lock().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event"], "credential_failure", "{}", events[0]);
}
