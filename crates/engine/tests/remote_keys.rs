//! Session keys from the auth role's JWK Set URL (`[engine.app_tokens] jwks_url`): fetched
//! when first needed, not again while fresh, again when a token names a key not seen yet
//! (a rotation), and a key rotated out of the set stops being accepted; with the set
//! unreachable and no key known, handshakes are refused with `AUTH_FAILED`.

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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use engine::auth::RemoteJwks;
use engine::{AppTokens, Engine, Limits};
use jose::{Algorithm, Clock, Signer, SoftwareSigner};
use serde_json::{Value, json};
use support::*;
use wallet_protocol::ErrorCode;

/// The auth role's JWK Set as served: the keys (none = HTTP 500) and the fetches.
#[derive(Default)]
struct Served {
    keys: Mutex<Option<Value>>,
    fetches: AtomicUsize,
}

async fn jwks(State(s): State<Arc<Served>>) -> axum::response::Response {
    s.fetches.fetch_add(1, Ordering::SeqCst);
    match s.keys.lock().unwrap().clone() {
        Some(set) => axum::Json(set).into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn key(kid: &str) -> SoftwareSigner {
    SoftwareSigner::generate(Algorithm::Es256)
        .unwrap()
        .with_kid(kid)
}

fn set_of(keys: &[&SoftwareSigner]) -> Value {
    json!({"keys": keys.iter().map(|k| k.public_jwk().to_value()).collect::<Vec<_>>()})
}

/// An engine whose session keys come from a JWK Set served on loopback.
async fn engine_with_remote_keys(min_interval: Duration) -> (Arc<Engine>, Arc<Served>) {
    let served = Arc::new(Served::default());
    let base = serve_http(
        axum::Router::new()
            .route("/.well-known/jwks.json", get(jwks))
            .with_state(Arc::clone(&served)),
    )
    .await;
    let http = loopback_http(Duration::from_secs(5));
    let clock: Arc<dyn Clock> = Arc::new(jose::SystemClock);
    let tokens = AppTokens::remote(
        RemoteJwks::new(format!("{base}/.well-known/jwks.json"), http.clone())
            .with_intervals(Duration::from_secs(300), min_interval),
        Some(AUTH_ISSUER.into()),
        AUDIENCE,
        Arc::clone(&clock),
    );
    let engine = Arc::new(Engine::new(
        offline_core(http, loopback_settings()),
        tokens,
        Limits::default(),
        clock,
        Arc::new(jose::SystemRandom),
    ));
    (engine, served)
}

fn token_of(key: &SoftwareSigner) -> String {
    sign_token(
        key,
        engine::auth::SESSION_TYP,
        key.public_jwk().kid().unwrap(),
        &claims(&["receive"], 600),
    )
}

async fn refused(engine: &Arc<Engine>, token: &str) {
    let mut raw = Raw::local(Arc::clone(engine));
    raw.send(json!({"type": "handshake", "app_token": token}))
        .await;
    raw.expect_error(ErrorCode::AuthFailed, None, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_session_keys_follow_the_auth_roles_jwk_set_through_a_rotation() {
    let (engine, served) = engine_with_remote_keys(Duration::ZERO).await;
    let (a, b) = (key("a"), key("b"));
    *served.keys.lock().unwrap() = Some(set_of(&[&a]));

    Raw::local(Arc::clone(&engine))
        .handshake(&token_of(&a))
        .await;
    Raw::local(Arc::clone(&engine))
        .handshake(&token_of(&a))
        .await;
    assert_eq!(
        served.fetches.load(Ordering::SeqCst),
        1,
        "fresh keys are reused"
    );

    // Rotation: the set now holds `b` only. A token by `b` makes the engine fetch again.
    *served.keys.lock().unwrap() = Some(set_of(&[&b]));
    Raw::local(Arc::clone(&engine))
        .handshake(&token_of(&b))
        .await;
    assert_eq!(served.fetches.load(Ordering::SeqCst), 2);
    // `a` was rotated out: refused.
    refused(&engine, &token_of(&a)).await;
    // A key the set never held is refused too.
    refused(&engine, &token_of(&key("c"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_an_unknown_key_does_not_make_every_handshake_a_fetch() {
    let (engine, served) = engine_with_remote_keys(Duration::from_secs(60)).await;
    let a = key("a");
    *served.keys.lock().unwrap() = Some(set_of(&[&a]));
    Raw::local(Arc::clone(&engine))
        .handshake(&token_of(&a))
        .await;
    for _ in 0..5 {
        refused(&engine, &token_of(&key("unknown"))).await;
    }
    assert_eq!(
        served.fetches.load(Ordering::SeqCst),
        1,
        "no fetch within the minimum interval"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_with_the_jwk_set_unreachable_and_no_key_known_handshakes_are_refused() {
    let (engine, served) = engine_with_remote_keys(Duration::ZERO).await;
    refused(&engine, &token_of(&key("a"))).await;
    assert_eq!(served.fetches.load(Ordering::SeqCst), 1);
    // A set with no usable key is no better.
    *served.keys.lock().unwrap() = Some(json!({"keys": [{"kty": "EC"}]}));
    refused(&engine, &token_of(&key("a"))).await;
}
