//! Hostile peers of the engine: issuers whose offer location or metadata redirect (to a
//! refused address, or anywhere), answer slower than the outbound timeout, or send a body
//! far over the limit; an issuer that encrypts to the client a credential bound to
//! another key; a verifier whose request_uri is a private address, and one whose request
//! object is signed by a certificate outside the engine's anchors. Each flow ends with
//! its own `flow_error` code at its own step, promptly, and the engine never goes where
//! the guard forbids.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

#[path = "../../wallet/tests/common/mod.rs"]
mod common;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use axum::routing::get;
use common::platform;
use engine::{Engine, Limits};
use jose::{Algorithm, Signer, SoftwareSigner, TrustAnchors};
use oid4vp::{AuthorizationRequest, ClientId, DcqlQuery, ResponseMode};
use serde_json::{Value, json};
use support::*;
use wallet_protocol::ErrorCode;

fn engine_for_peers(
    timeout: Duration,
    settings: wallet::Settings,
) -> (Arc<Engine>, SoftwareSigner) {
    let key = session_key();
    let engine = engine_with(
        offline_core(loopback_http(timeout), settings),
        &key,
        short_limits(),
        None,
    );
    (engine, key)
}

async fn connected(engine: Arc<Engine>, key: &SoftwareSigner) -> Raw {
    let mut raw = Raw::local(engine);
    raw.handshake(&token(key, &["receive", "present"])).await;
    raw
}

/// Starts an issuance of `offer`; returns the steps reported and the `flow_error`.
async fn failed_issuance(raw: &mut Raw, offer: &str) -> (Vec<String>, Value) {
    let (_, jwk) = response_jwk();
    raw.send(issuance_start("f-1", offer, &jwk)).await;
    let (steps, m) = raw.after_progress().await;
    assert_eq!(m["type"], "flow_error", "{m}");
    (steps, m)
}

fn offer_at(location: &str) -> String {
    format!(
        "openid-credential-offer://?credential_offer_uri={}",
        url::form_urlencoded::byte_serialize(location.as_bytes()).collect::<String>()
    )
}

/// A loopback server counting the requests it gets (the target of a redirect the engine
/// must not follow).
async fn counting_target() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&hits);
    let base = serve_http(axum::Router::new().fallback(move || {
        seen.fetch_add(1, Ordering::SeqCst);
        async { axum::Json(json!({})) }
    }))
    .await;
    (base, hits)
}

fn redirect_to(target: String) -> axum::routing::MethodRouter {
    get(move || {
        let target = target.clone();
        async move { (StatusCode::FOUND, [(header::LOCATION, target)]) }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_an_offer_location_that_redirects_is_not_followed() {
    let (engine, key) = engine_for_peers(Duration::from_secs(5), loopback_settings());
    let mut raw = connected(engine, &key).await;
    let (target, hits) = counting_target().await;
    let base = serve_http(
        axum::Router::new()
            .route(
                "/metadata-service",
                redirect_to("http://169.254.169.254/latest/meta-data".into()),
            )
            .route("/private", redirect_to("http://10.0.0.7/offer".into()))
            .route("/loopback", redirect_to(format!("{target}/offer"))),
    )
    .await;
    for path in ["metadata-service", "private", "loopback"] {
        let (steps, m) = failed_issuance(&mut raw, &offer_at(&format!("{base}/{path}"))).await;
        assert_eq!(steps, ["parsing_offer"], "{path}");
        assert_flow_error(&m, "f-1", ErrorCode::OfferFetchError, Some("parsing_offer"));
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "a redirect was followed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_issuer_metadata_that_redirects_is_not_followed() {
    let (engine, key) = engine_for_peers(Duration::from_secs(5), loopback_settings());
    let mut raw = connected(engine, &key).await;
    let (target, hits) = counting_target().await;
    for location in [
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://[fd00::1]/metadata".to_owned(),
        format!("{target}/.well-known/openid-credential-issuer"),
    ] {
        let issuer = serve_http(axum::Router::new().route(
            "/.well-known/openid-credential-issuer",
            redirect_to(location.clone()),
        ))
        .await;
        let (steps, m) = failed_issuance(&mut raw, &offer_by_value(&issuer)).await;
        assert_eq!(
            steps,
            ["parsing_offer", "offer_parsed", "fetching_metadata"],
            "{location}"
        );
        assert_flow_error(
            &m,
            "f-1",
            ErrorCode::MetadataFetchError,
            Some("fetching_metadata"),
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "a redirect was followed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_peer_slower_than_the_outbound_timeout_fails_the_flow_promptly() {
    let timeout = Duration::from_millis(500);
    let (engine, key) = engine_for_peers(timeout, loopback_settings());
    let mut raw = connected(engine, &key).await;
    let slow = || {
        get(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "{}"
        })
    };
    let base = serve_http(
        axum::Router::new()
            .route("/offer", slow())
            .route("/.well-known/openid-credential-issuer", slow()),
    )
    .await;

    let started = Instant::now();
    let (_, m) = failed_issuance(&mut raw, &offer_at(&format!("{base}/offer"))).await;
    assert_flow_error(&m, "f-1", ErrorCode::OfferFetchError, Some("parsing_offer"));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let (_, m) = failed_issuance(&mut raw, &offer_by_value(&base)).await;
    assert_flow_error(
        &m,
        "f-1",
        ErrorCode::MetadataFetchError,
        Some("fetching_metadata"),
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// A handler streaming `total` bytes slowly (64 KiB every 10 ms), counting the chunks it
/// produced.
fn huge_body(total: usize, produced: Arc<AtomicUsize>) -> axum::routing::MethodRouter {
    get(move || {
        let produced = Arc::clone(&produced);
        async move {
            const CHUNK: usize = 64 * 1024;
            let chunks = total / CHUNK;
            let stream = futures_util::stream::unfold(0usize, move |i| {
                let produced = Arc::clone(&produced);
                async move {
                    if i >= chunks {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    produced.fetch_add(1, Ordering::SeqCst);
                    let mut chunk = vec![b' '; CHUNK];
                    if i == 0 {
                        chunk[0] = b'{';
                    }
                    Some((Ok::<_, std::io::Error>(chunk), i + 1))
                }
            });
            (
                [(header::CONTENT_TYPE, "application/json")],
                axum::body::Body::from_stream(stream),
            )
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_ten_megabyte_body_is_refused_without_reading_it_all() {
    let (engine, key) = engine_for_peers(Duration::from_secs(10), loopback_settings());
    let mut raw = connected(engine, &key).await;
    const TOTAL: usize = 10 * 1024 * 1024;
    let chunks = TOTAL / (64 * 1024);

    let produced = Arc::new(AtomicUsize::new(0));
    let base =
        serve_http(axum::Router::new().route("/offer", huge_body(TOTAL, Arc::clone(&produced))))
            .await;
    let (_, m) = failed_issuance(&mut raw, &offer_at(&format!("{base}/offer"))).await;
    assert_flow_error(&m, "f-1", ErrorCode::OfferFetchError, Some("parsing_offer"));
    let at_refusal = produced.load(Ordering::SeqCst);
    assert!(
        at_refusal < chunks / 2,
        "{at_refusal} of {chunks} chunks sent before the refusal"
    );

    let produced = Arc::new(AtomicUsize::new(0));
    let issuer = serve_http(axum::Router::new().route(
        "/.well-known/openid-credential-issuer",
        huge_body(TOTAL, Arc::clone(&produced)),
    ))
    .await;
    let (_, m) = failed_issuance(&mut raw, &offer_by_value(&issuer)).await;
    assert_flow_error(
        &m,
        "f-1",
        ErrorCode::MetadataFetchError,
        Some("fetching_metadata"),
    );
    let at_refusal = produced.load(Ordering::SeqCst);
    assert!(
        at_refusal < chunks / 2,
        "{at_refusal} of {chunks} chunks sent before the refusal"
    );
    // The issuer stops soon after: the engine dropped the connection.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        produced.load(Ordering::SeqCst) < chunks,
        "the whole body was taken"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_credential_bound_to_another_key_is_refused_and_the_issuer_told() {
    // The platform only for its attester (the token request carries a client
    // attestation); the issuer is hostile.
    let p = platform("").await;
    let key = session_key();
    let engine = engine_with(
        p.wallet_with(loopback_settings()),
        &key,
        Limits::default(),
        None,
    );
    let someone_else = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let issuer = common::scripted::scripted_issuer(common::scripted::Script {
        encrypting: true,
        bound_to: Some(someone_else.public_jwk().clone()),
        ..Default::default()
    })
    .await;
    let (sink, stream) = engine::local::connect(engine);
    let mut client = wallet_client::Client::open(
        sink,
        stream,
        &token(&key, &["receive"]),
        loopback_settings(),
    )
    .await
    .unwrap();
    let err = client
        .receive(
            &issuer.offer(),
            &mut TestHolder::new(1),
            wallet_client::ReceivePolicy::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            wallet_client::ClientError::Credential {
                index: 0,
                source: wallet::CredentialCheck::BoundToAnotherKey
            }
        ),
        "{err}"
    );
    // The client's credential_failure reached the issuer through the engine.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        {
            let events = issuer.notifications.lock().unwrap();
            if let Some(body) = events.first() {
                assert_eq!(events.len(), 1);
                assert_eq!(body["notification_id"], "nid");
                assert_eq!(body["event"], "credential_failure");
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no notification reached the issuer"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
async fn issue12_a_request_uri_at_a_private_address_is_metadata_fetch_error() {
    let anchor =
        verifier::keyfiles::generate_self_signed(&["localhost".into()], now(), 30).unwrap();
    let mut settings = loopback_settings();
    settings.verifier_anchors = Some(TrustAnchors::from_der([anchor.der]).unwrap());
    let (engine, key) = engine_for_peers(Duration::from_secs(5), settings);
    let mut raw = connected(engine, &key).await;
    for uri in [
        "https://10.0.0.7/request/1",
        "https://192.168.1.1/request/1",
        "https://169.254.169.254/latest/meta-data",
        "http://[fd00::1]/request/1",
    ] {
        raw.send(presentation_start(
            "f-1",
            &link("x509_san_dns:evil.example", uri),
        ))
        .await;
        let (steps, m) = raw.after_progress().await;
        assert_eq!(steps, ["parsing_request"], "{uri}");
        assert_flow_error(
            &m,
            "f-1",
            ErrorCode::MetadataFetchError,
            Some("parsing_request"),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_request_uri_that_redirects_is_not_followed() {
    let anchor =
        verifier::keyfiles::generate_self_signed(&["localhost".into()], now(), 30).unwrap();
    let mut settings = loopback_settings();
    settings.verifier_anchors = Some(TrustAnchors::from_der([anchor.der]).unwrap());
    let (engine, key) = engine_for_peers(Duration::from_secs(5), settings);
    let mut raw = connected(engine, &key).await;
    let (target, hits) = counting_target().await;
    let base = serve_http(
        axum::Router::new()
            .route(
                "/metadata-service",
                redirect_to("http://169.254.169.254/latest/meta-data".into()),
            )
            .route("/loopback", redirect_to(format!("{target}/request"))),
    )
    .await;
    for path in ["metadata-service", "loopback"] {
        let uri = format!("{base}/{path}");
        raw.send(presentation_start(
            "f-1",
            &link("x509_san_dns:localhost", &uri),
        ))
        .await;
        let (steps, m) = raw.after_progress().await;
        assert_eq!(steps, ["parsing_request"], "{path}");
        assert_flow_error(
            &m,
            "f-1",
            ErrorCode::MetadataFetchError,
            Some("parsing_request"),
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "a redirect was followed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_request_signed_by_an_untrusted_certificate_is_untrusted_verifier() {
    let p = platform("").await;
    let other = verifier::keyfiles::generate_self_signed(&["localhost".into()], now(), 30).unwrap();
    let mut settings = p.settings();
    settings.verifier_anchors = Some(TrustAnchors::from_der([other.der]).unwrap());
    let key = session_key();
    let engine = engine_with(p.wallet_with(settings), &key, short_limits(), None);
    let mut raw = connected(engine, &key).await;
    for prefix in ["x509_san_dns", "x509_hash"] {
        let (id, link) = p.transaction(json!({"client_id_prefix": prefix})).await;
        raw.send(presentation_start("f-1", &link)).await;
        let (steps, m) = raw.after_progress().await;
        assert_eq!(
            steps,
            ["parsing_request", "evaluating_verifier_trust"],
            "{prefix}"
        );
        assert_flow_error(
            &m,
            "f-1",
            ErrorCode::UntrustedVerifier,
            Some("evaluating_verifier_trust"),
        );
        assert_ne!(p.result(&id).await["status"], "success");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_an_issuer_whose_metadata_names_another_issuer_is_refused() {
    // Only https://trusted.example is trusted; a loopback issuer's metadata claims to be
    // it. The engine must not evaluate trust on what the metadata claims.
    let mut settings = loopback_settings();
    settings.issuers = wallet::IssuerTrust::Only(vec!["https://trusted.example".into()]);
    let (engine, key) = engine_for_peers(Duration::from_secs(5), settings);
    let mut raw = connected(engine, &key).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let metadata = json!({
        "credential_issuer": "https://trusted.example",
        "credential_endpoint": "https://trusted.example/credential",
        "credential_configurations_supported": {"pass": {"format": "dc+sd-jwt", "vct": "urn:t"}}
    });
    let app = axum::Router::new().route(
        "/.well-known/openid-credential-issuer",
        get(move || {
            let m = metadata.clone();
            async move { axum::Json(m) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (steps, m) = failed_issuance(&mut raw, &offer_by_value(&base)).await;
    assert_eq!(
        steps,
        ["parsing_offer", "offer_parsed", "fetching_metadata"]
    );
    assert_flow_error(
        &m,
        "f-1",
        ErrorCode::MetadataFetchError,
        Some("fetching_metadata"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_an_issuer_whose_metadata_would_make_an_oversized_message_fails_the_flow() {
    let key = session_key();
    let engine = engine_with(
        offline_core(loopback_http(Duration::from_secs(5)), loopback_settings()),
        &key,
        Limits::default(),
        None,
    );
    // Over a WebSocket: the client must never get a frame over the message limit.
    let mut raw = Raw::ws(&serve_ws(engine).await).await;
    raw.handshake(&token(&key, &["receive"])).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    // Under the outbound body limit (1 MiB), over the message limit (256 KiB).
    let name = "x".repeat(300 * 1024);
    let metadata = json!({
        "credential_issuer": base,
        "credential_endpoint": format!("{base}/credential"),
        "display": [{"name": name}],
        "credential_configurations_supported": {"pass": {"format": "dc+sd-jwt", "vct": "urn:t"}}
    });
    let as_meta = json!({"issuer": base, "token_endpoint": format!("{base}/token")});
    let json_route = |v: Value| get(move || async move { axum::Json(v) });
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-credential-issuer",
            json_route(metadata),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            json_route(as_meta),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (_, jwk) = response_jwk();
    let mut start = issuance_start("f-1", &offer_by_value(&base), &jwk);
    start["allow_plaintext_response"] = json!(true);
    raw.send(start).await;
    let mut steps = Vec::new();
    let end = loop {
        let m = raw.message().await;
        assert!(
            m.to_string().len() <= wallet_protocol::limits::MAX_MESSAGE_BYTES,
            "an oversized message reached the client"
        );
        if m["type"] == "flow_progress" {
            steps.push(m["step"].as_str().unwrap().to_owned());
        } else {
            break m;
        }
    };
    assert_eq!(
        steps,
        ["parsing_offer", "offer_parsed", "fetching_metadata"]
    );
    assert_flow_error(
        &end,
        "f-1",
        ErrorCode::MetadataFetchError,
        Some("metadata_fetched"),
    );
}

fn unsigned_request(response_uri: &str) -> String {
    let request = AuthorizationRequest {
        client_id: ClientId::parse(&format!("redirect_uri:{response_uri}")).unwrap(),
        response_mode: ResponseMode::DirectPost,
        response_uri: response_uri.into(),
        nonce: "n-0123456789".into(),
        state: None,
        dcql_query: DcqlQuery::from_value(&verifier::demo::classroom_query()).unwrap(),
        client_metadata: None,
        wallet_nonce: None,
        transaction_data: None,
    };
    oid4vp::Invocation::ByValue(Box::new(request)).to_uri("openid4vp://")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_response_uri_at_a_private_address_is_refused_by_the_guard() {
    let (engine, key) = engine_for_peers(Duration::from_secs(5), loopback_settings());
    let mut raw = connected(engine, &key).await;
    let request = unsigned_request("https://10.0.0.7/response");

    // Consent, sign: the presentation is refused by the guard at submitting_response.
    raw.send(presentation_start("f-1", &request)).await;
    let (steps, m) = raw.after_progress().await;
    assert_eq!(
        steps,
        [
            "parsing_request",
            "evaluating_verifier_trust",
            "request_parsed",
            "match_credentials"
        ]
    );
    assert_eq!(m["type"], "match_request", "{m}");
    let query = m["dcql_query"]["credentials"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    raw.send(json!({"type": "match_response", "flow_id": "f-1",
        "message_id": m["message_id"], "matches": [{"credential_query_id": query,
        "credential_id": "c-1", "available_claims": [["role"]]}]}))
        .await;
    raw.until_step("awaiting_consent").await;
    let (_, m) = raw.consent_and_present(&query, json!(["eyJ.x.y~"])).await;
    assert_flow_error(
        &m,
        "f-1",
        ErrorCode::PresentationError,
        Some("submitting_response"),
    );

    // Declining: the access_denied cannot be delivered either; the flow still ends
    // declined.
    raw.send(presentation_start("f-2", &request)).await;
    let (_, m) = raw.after_progress().await;
    assert_eq!(m["type"], "match_request", "{m}");
    raw.send(decline("f-2")).await;
    let (_, m) = raw.after_progress().await;
    assert_eq!(m["type"], "flow_complete", "{m}");
    assert_eq!(m["declined"], true, "{m}");
}
