//! Issue 10, item 1, wallet side: the wallet core uses DPoP (RFC 9449) when the issuer's
//! authorization server offers it — proofs at the token, credential and notification
//! endpoints, the token presented as `DPoP`, `DPoP-Nonce` carried along and one retry on
//! `use_dpop_nonce` — and plain bearer tokens when it does not; against Symbolon's real
//! attester and issuer over loopback HTTP.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
#[path = "../../../interop/rust/node_peer.rs"]
mod node_peer;

use common::*;
use oid4vci::NotificationEvent;
use serde_json::json;
use std::sync::{Arc, Mutex};
use wallet::Exchange;
use wallet::lifecycle::Lifecycle;

/// What the wallet sent to one endpoint, and what it got.
#[derive(Debug)]
struct Seen {
    what: &'static str,
    status: u16,
    dpop: bool,
    authorization: Option<String>,
}

/// Accepts an offer from `p`, notifies, checks status; returns every exchange with the
/// token, credential and notification endpoints.
async fn run(p: &Platform) -> Vec<Seen> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let w = p.wallet().with_observer(Arc::new(move |e: &Exchange| {
        if matches!(
            e.what,
            "token endpoint" | "credential endpoint" | "notification endpoint"
        ) {
            let header = |name: &str| {
                e.request_headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
            };
            sink.lock().unwrap().push(Seen {
                what: e.what,
                status: e.status,
                dpop: header("DPoP").is_some(),
                // The scheme only: the token itself stays out of the test output.
                authorization: header("Authorization")
                    .and_then(|v| v.split(' ').next().map(str::to_owned)),
            });
        }
    }));
    let holder = holder();
    let offer = p.offer(json!({})).await;
    let pending = w
        .resolve_offer(offer["offer_uri"].as_str().unwrap())
        .await
        .unwrap();
    let issued = w.accept(&pending, None, &[&holder]).await.unwrap();
    let c = &issued.credentials[0].credential;
    w.notify(
        &issued.notifications[0],
        NotificationEvent::CredentialAccepted,
        None,
    )
    .await
    .unwrap();
    assert_eq!(w.check(c).await, Lifecycle::Valid);
    let mut out = seen.lock().unwrap();
    std::mem::take(&mut *out)
}

fn successes(seen: &[Seen]) -> Vec<(&'static str, bool, Option<&str>)> {
    seen.iter()
        .filter(|s| s.status < 300)
        .map(|s| (s.what, s.dpop, s.authorization.as_deref()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_wallet_uses_dpop_when_the_issuer_offers_it() {
    let p = platform("").await;
    let seen = run(&p).await;
    assert_eq!(
        successes(&seen),
        [
            ("token endpoint", true, None),
            ("credential endpoint", true, Some("DPoP")),
            ("notification endpoint", true, Some("DPoP")),
        ],
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_wallet_answers_use_dpop_nonce_when_dpop_is_required() {
    let p = platform("[dpop]\nmode = \"required\"\nrequire_nonce = true").await;
    let seen = run(&p).await;
    // The first token request has no nonce yet: `use_dpop_nonce`, then the retry.
    assert_eq!(seen[0].what, "token endpoint");
    assert_eq!(seen[0].status, 400, "{seen:?}");
    assert_eq!(
        successes(&seen),
        [
            ("token endpoint", true, None),
            ("credential endpoint", true, Some("DPoP")),
            ("notification endpoint", true, Some("DPoP")),
        ],
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_wallet_uses_bearer_tokens_when_dpop_is_off() {
    let p = platform("[dpop]\nmode = \"off\"").await;
    let seen = run(&p).await;
    assert_eq!(
        successes(&seen),
        [
            ("token endpoint", false, None),
            ("credential endpoint", false, Some("Bearer")),
            ("notification endpoint", false, Some("Bearer")),
        ],
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_wallet_satisfies_attestation_binding_and_dpop_together() {
    // The stricter policy (attestation and PoP at the resources) on top of required DPoP:
    // the wallet sends both.
    let p = platform("[attestation]\nbind_access_token = true\n[dpop]\nmode = \"required\"").await;
    let seen = run(&p).await;
    assert_eq!(successes(&seen).len(), 3, "{seen:?}");
}

/// A fake issuer whose AS metadata offers DPoP when `offer_dpop`, and whose token endpoint
/// answers with `token` (status, extra headers, body); counts token requests and records
/// whether each carried a `DPoP` proof.
async fn fake_issuer(
    offer_dpop: bool,
    token: (u16, Vec<(&'static str, &'static str)>, serde_json::Value),
    seen: Arc<Mutex<Vec<bool>>>,
) -> String {
    use axum::routing::{get, post};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let metadata = json!({
        "credential_issuer": base,
        "credential_endpoint": format!("{base}/credential"),
        "credential_configurations_supported": {"pass": {
            "format": "dc+sd-jwt", "vct": "urn:t",
            "cryptographic_binding_methods_supported": ["jwk"],
            "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": ["ES256"]}}
        }}
    });
    let mut as_meta = json!({"issuer": base, "token_endpoint": format!("{base}/token")});
    if offer_dpop {
        as_meta["dpop_signing_alg_values_supported"] = json!(["ES256"]);
    }
    let json_route = |v: serde_json::Value| get(move || async move { axum::Json(v) });
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-credential-issuer",
            json_route(metadata),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            json_route(as_meta),
        )
        .route(
            "/token",
            post(move |headers: axum::http::HeaderMap| {
                let seen = Arc::clone(&seen);
                let (status, extra, body) = token.clone();
                async move {
                    seen.lock().unwrap().push(headers.contains_key("DPoP"));
                    let mut r = axum::response::IntoResponse::into_response((
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        axum::Json(body),
                    ));
                    for (k, v) in extra {
                        r.headers_mut()
                            .insert(k, axum::http::HeaderValue::from_static(v));
                    }
                    r
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

async fn accept_from(p: &Platform, base: &str) -> wallet::IssuanceError {
    let mut settings = p.settings();
    settings.prefer_signed_metadata = false;
    let w = p.wallet_with(settings);
    let offer = json!({"credential_issuer": base, "credential_configuration_ids": ["pass"],
        "grants": {oid4vci::PRE_AUTHORIZED_CODE_GRANT: {"pre-authorized_code": "c"}}});
    let uri = format!(
        "openid-credential-offer://?credential_offer={}",
        url::form_urlencoded::byte_serialize(offer.to_string().as_bytes()).collect::<String>()
    );
    let pending = w.resolve_offer(&uri).await.unwrap();
    w.accept(&pending, None, &[&holder()]).await.unwrap_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_wallet_retries_use_dpop_nonce_only_once() {
    // A server that answers `use_dpop_nonce` forever gets one retry, not a loop.
    let p = platform("").await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let base = fake_issuer(
        true,
        (
            400,
            vec![("DPoP-Nonce", "n-1")],
            json!({"error": "use_dpop_nonce"}),
        ),
        Arc::clone(&seen),
    )
    .await;
    let err = accept_from(&p, &base).await;
    assert!(
        matches!(&err, wallet::IssuanceError::Peer(wallet::PeerError::Refused { error: Some(e), .. }) if e == "use_dpop_nonce"),
        "{err}"
    );
    assert_eq!(*seen.lock().unwrap(), [true, true]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_wallet_rejects_a_dpop_token_it_did_not_ask_for() {
    // DPoP not offered, no proof sent, yet `token_type: DPoP`: the wallet cannot use it.
    let p = platform("").await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let base = fake_issuer(
        false,
        (
            200,
            vec![],
            json!({"access_token": "t", "token_type": "DPoP"}),
        ),
        Arc::clone(&seen),
    )
    .await;
    let err = accept_from(&p, &base).await;
    assert!(
        matches!(err, wallet::IssuanceError::UnexpectedDpopToken),
        "{err}"
    );
    assert_eq!(*seen.lock().unwrap(), [false]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_wallet_uses_dpop_with_the_oid4vc_ts_issuer_that_requires_it() {
    // A third-party authorization and resource server (`interop/js/wallet-issuer.mjs`,
    // `@openid4vc/oauth2` 0.4.6) that requires DPoP: its library verifies the wallet's token
    // request proof, binds the token to that key (`cnf.jkt`) and checks the proofs at the
    // credential and notification endpoints. Needs `npm ci` in `interop/`.
    let p = platform("").await;
    let peer = node_peer::NodePeer::start(
        "js/wallet-issuer.mjs",
        "127.0.0.1",
        &[
            (
                "ATTESTER_JWKS_URL",
                format!("{}/attester/.well-known/jwks.json", p.base),
            ),
            ("DPOP_REQUIRED", "1".to_owned()),
        ],
    );
    let w = p.wallet();
    let uri = peer.post("/test/offer", &json!({})).await["offer_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let pending = w.resolve_offer(&uri).await.unwrap();
    let holder = holder();
    let issued = w.accept(&pending, None, &[&holder]).await.unwrap();
    w.notify(
        &issued.notifications[0],
        NotificationEvent::CredentialAccepted,
        None,
    )
    .await
    .unwrap();
    let events = peer.get("/test/events").await;
    assert!(
        events["tokens"][0]["dpop_jkt"].is_string(),
        "the peer bound the token: {events}"
    );
    assert_eq!(
        events["resources"],
        json!([
            {"path": "/credential", "scheme": "DPoP"},
            {"path": "/notification", "scheme": "DPoP"}
        ]),
        "{events}"
    );
}
