//! The HTTP surface of the attester role (paths relative to the role's mount: `/attester`
//! under `--mode=all`, `/` alone):
//!
//! | method and path | |
//! |---|---|
//! | `POST /v1/challenge` | a fresh single-use challenge, `Cache-Control: no-store` |
//! | `POST /v1/attestations` | a client-attestation JWT for a proven CI-Key |
//! | `GET /.well-known/jwks.json` | the A-Key's public JWK Set (`x5c` when a certificate is configured) |
//! | `GET /v1/certificate` | the A-Key's certificate chain as PEM (404 without one) |
//! | `GET /admin/audit` | audit records (`after`, `limit`), bearer admin token |
//!
//! The attestation API (`/v1/challenge`, `/v1/attestations`) honours `allowed_ips` with the
//! TCP peer address; forwarded-for headers are not trusted (put no proxy in front of the
//! attester, or list the proxy's address).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State as AxumState};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use service::{AdminCaller, ApiError};

use crate::audit::hex;
use crate::error::{AttestError, codes};
use crate::flow;
use crate::state::State;

/// The role's router.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/v1/challenge", post(challenge))
        .route("/v1/attestations", post(attestations))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/v1/certificate", get(certificate))
        .route("/admin/audit", get(audit))
        .with_state(state)
}

/// The TCP peer address, when the server recorded it.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

fn admit(state: &State, peer: Peer) -> Result<(), AttestError> {
    let nets = &state.settings.allowed_ips;
    if nets.is_empty() {
        return Ok(());
    }
    // With a list configured, an unknown peer is refused: fail closed.
    let ip = peer
        .0
        .map(|a| a.ip())
        .ok_or(AttestError::AddressNotAllowed)?;
    let ip = match ip {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
        v4 => v4,
    };
    if nets.iter().any(|n| n.contains(&ip)) {
        Ok(())
    } else {
        Err(AttestError::AddressNotAllowed)
    }
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn challenge(AxumState(state): AxumState<Arc<State>>, peer: Peer) -> Response {
    let result = async {
        admit(&state, peer)?;
        flow::challenge(&state).await
    }
    .await;
    match result {
        Ok(c) => no_store(
            axum::Json(json!({
                "attestation_challenge": c.value,
                "expires_in": c.expires_in,
            }))
            .into_response(),
        ),
        Err(e) => e.into_response(),
    }
}

async fn attestations(
    AxumState(state): AxumState<Arc<State>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    let result = async {
        admit(&state, peer)?;
        if !json_body {
            return Err(AttestError::Body("body"));
        }
        flow::attest(&state, &body).await
    }
    .await;
    match result {
        Ok(issued) => no_store(
            axum::Json(json!({
                "client_attestation": issued.jwt,
                "expires_in": issued.expires_in,
            }))
            .into_response(),
        ),
        Err(e) => e.into_response(),
    }
}

async fn jwks(AxumState(state): AxumState<Arc<State>>) -> Response {
    let mut r = axum::Json(state.akey.jwks().clone()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

async fn certificate(AxumState(state): AxumState<Arc<State>>) -> Response {
    match state.akey.chain_pem() {
        Some(pem) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pem-certificate-chain"),
            )],
            pem,
        )
            .into_response(),
        None => ApiError::not_found()
            .with_description("no certificate is configured for the A-Key")
            .into_response(),
    }
}

/// Query of `GET /admin/audit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    /// Records after this sequence number.
    #[serde(default)]
    after: i64,
    /// At most this many (1 to 1000, default 100).
    limit: Option<u32>,
}

async fn audit(
    _: AdminCaller,
    AxumState(state): AxumState<Arc<State>>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return ApiError::bad_request(codes::INVALID_REQUEST)
            .with_description("query: `after` (integer) and `limit` (1 to 1000)")
            .into_response();
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) || q.after < 0 {
        return ApiError::bad_request(codes::INVALID_REQUEST)
            .with_description("`limit` must be 1 to 1000 and `after` not negative")
            .into_response();
    }
    let store = state.audit.store();
    let page = match store.page(q.after, limit).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "audit log could not be read");
            return ApiError::unavailable().into_response();
        }
    };
    let head = match store.head().await {
        Ok(h) => h.map(|(seq, hash)| json!({"seq": seq, "hash": hex(&hash)})),
        Err(e) => {
            tracing::warn!(error = %e, "audit head could not be read");
            return ApiError::unavailable().into_response();
        }
    };
    no_store(axum::Json(json!({"records": page, "head": head})).into_response())
}
