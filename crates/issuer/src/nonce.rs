//! `POST /nonce` (§7): a fresh, unpredictable `c_nonce` (256 bits), stored once in the
//! single-use store for `nonce_ttl` and consumed by the credential request that uses it.
//! `Cache-Control: no-store`; with the next `DPoP-Nonce` when DPoP nonces are demanded
//! (OpenID4VCI 1.0 §7.2). `POST /challenge` (ABCA §6): the same for attestation
//! challenges.

use crate::error::HandlerResult;
use crate::random::token;
use crate::state::State;
use axum::extract::State as AxumState;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use oid4vci::NonceResponse;
use serde_json::json;
use std::sync::Arc;

/// Namespace of `c_nonce` values in the single-use store.
pub(crate) const NONCE_NAMESPACE: &str = "issuer.c_nonce";

fn no_store(body: serde_json::Value) -> Response {
    let mut r = axum::Json(body).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `POST /nonce`.
pub(crate) async fn nonce_endpoint(
    AxumState(state): AxumState<Arc<State>>,
) -> HandlerResult<Response> {
    let c_nonce = token(state.random.as_ref(), 32)?;
    let _fresh = state
        .single_use
        .put(
            NONCE_NAMESPACE,
            c_nonce.as_bytes(),
            b"1",
            state.settings.nonce_ttl,
        )
        .await?;
    let response = no_store(NonceResponse { c_nonce }.to_value());
    Ok(state.dpop.attach_nonce(response).await)
}

/// `POST /challenge`.
pub(crate) async fn challenge_endpoint(
    AxumState(state): AxumState<Arc<State>>,
) -> HandlerResult<Response> {
    let challenge = state.auth.new_challenge().await?;
    Ok(no_store(json!({ "attestation_challenge": challenge })))
}
