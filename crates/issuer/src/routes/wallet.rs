//! What a wallet calls: the token endpoint, nonces and challenges, the credential and
//! notification endpoints, and offers by reference. The protocol is in the domain modules
//! ([`crate::token`], [`crate::credential`], [`crate::notification`], [`crate::offers`]);
//! who is calling is decided by the extractors of [`crate::caller`] before a handler runs.
//!
//! `/token` and `/nonce` hand out the next `DPoP-Nonce` on success, when DPoP nonces are
//! demanded (`/credential` and `/notification` on every answer, by a layer in
//! [`super::router`]).

use crate::caller::{
    AttestedClient, BoundGrant, CredentialEndpoint, NotificationEndpoint, TokenProof,
};
use crate::error::HandlerResult;
use crate::state::State;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use oid4vci::NonceResponse;
use serde_json::json;
use std::sync::Arc;

/// `POST /token`.
pub(crate) async fn token(
    AxumState(state): AxumState<Arc<State>>,
    proof: TokenProof,
    client: AttestedClient,
    headers: HeaderMap,
    body: Bytes,
) -> HandlerResult<Response> {
    let response = crate::token::issue_token(&state, &proof, &client, &headers, &body).await?;
    Ok(state.dpop.attach_nonce(response).await)
}

/// `POST /nonce`: `{"c_nonce"}` (OpenID4VCI 1.0 §7.2).
pub(crate) async fn nonce(AxumState(state): AxumState<Arc<State>>) -> HandlerResult<Response> {
    let c_nonce = crate::nonce::fresh_c_nonce(&state).await?;
    let response = Json(NonceResponse { c_nonce }.to_value()).into_response();
    Ok(state.dpop.attach_nonce(response).await)
}

/// `POST /challenge`: `{"attestation_challenge"}` (ABCA §6).
pub(crate) async fn challenge(AxumState(state): AxumState<Arc<State>>) -> HandlerResult<Response> {
    let challenge = state.auth.new_challenge().await?;
    Ok(Json(json!({ "attestation_challenge": challenge })).into_response())
}

/// `POST /credential`.
pub(crate) async fn credential(
    AxumState(state): AxumState<Arc<State>>,
    grant: BoundGrant<CredentialEndpoint>,
    headers: HeaderMap,
    body: Bytes,
) -> HandlerResult<Response> {
    crate::credential::issue(&state, &grant, &headers, &body).await
}

/// `POST /notification`.
pub(crate) async fn notification(
    AxumState(state): AxumState<Arc<State>>,
    grant: BoundGrant<NotificationEndpoint>,
    body: Bytes,
) -> HandlerResult<Response> {
    crate::notification::notify(&state, &grant, &body).await
}

/// `GET /offers/{handle}`.
pub(crate) async fn offer(
    AxumState(state): AxumState<Arc<State>>,
    Path(handle): Path<String>,
) -> HandlerResult<Response> {
    crate::offers::fetch(&state, &handle).await
}
