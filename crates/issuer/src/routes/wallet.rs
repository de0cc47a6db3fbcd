//! What a wallet calls: the token endpoint, nonces and challenges, the credential and
//! notification endpoints, and offers by reference. The protocol is in the domain modules
//! ([`crate::token`], [`crate::credential`], [`crate::notification`], [`crate::offers`]);
//! these handlers take the request apart and put the answer together.
//!
//! `/token`, `/nonce`, `/credential` and `/notification` hand out the next `DPoP-Nonce`
//! when DPoP nonces are demanded: `/credential` and `/notification` on every answer (a
//! refusal after the proof was accepted has consumed the previous one), `/token` and
//! `/nonce` on success.

use crate::error::HandlerResult;
use crate::state::State;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use oid4vci::NonceResponse;
use serde_json::json;
use std::sync::Arc;

fn no_store(body: serde_json::Value) -> Response {
    let mut r = axum::Json(body).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `POST /token`.
pub(crate) async fn token(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> HandlerResult<Response> {
    let response = crate::token::issue_token(&state, &headers, &body).await?;
    Ok(state.dpop.attach_nonce(response).await)
}

/// `POST /nonce`: `{"c_nonce"}`, `no-store` (OpenID4VCI 1.0 §7.2).
pub(crate) async fn nonce(AxumState(state): AxumState<Arc<State>>) -> HandlerResult<Response> {
    let c_nonce = crate::nonce::fresh_c_nonce(&state).await?;
    let response = no_store(NonceResponse { c_nonce }.to_value());
    Ok(state.dpop.attach_nonce(response).await)
}

/// `POST /challenge`: `{"attestation_challenge"}`, `no-store` (ABCA §6).
pub(crate) async fn challenge(AxumState(state): AxumState<Arc<State>>) -> HandlerResult<Response> {
    let challenge = state.auth.new_challenge().await?;
    Ok(no_store(json!({ "attestation_challenge": challenge })))
}

/// `POST /credential`.
pub(crate) async fn credential(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let response = match crate::credential::issue(&state, &headers, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    state.dpop.attach_nonce(response).await
}

/// `POST /notification`.
pub(crate) async fn notification(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let response = match crate::notification::notify(&state, &headers, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    state.dpop.attach_nonce(response).await
}

/// `GET /offers/{handle}`.
pub(crate) async fn offer(
    AxumState(state): AxumState<Arc<State>>,
    Path(handle): Path<String>,
) -> HandlerResult<Response> {
    crate::offers::fetch(&state, &handle).await
}
