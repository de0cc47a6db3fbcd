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
//! | `GET /openapi.json` | this interface as an OpenAPI 3.1 document ([`openapi`]) |
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
use serde::{Deserialize, Serialize};
use service::{AdminCaller, ApiError};
use utoipa::{IntoParams, ToSchema};

use crate::audit::{AuditRecord, hex};
use crate::error::{AttestError, codes};
use crate::flow;
use crate::state::State;

pub mod openapi;

use openapi::{AttestationRequestBody, ErrorBody, Jwks};

/// The role's router.
pub fn router(state: Arc<State>) -> Router {
    // Challenges, attestations and audit pages are per caller: no cache may keep any
    // answer of these routes, refusals included.
    let dynamic = Router::new()
        .route("/v1/challenge", post(challenge))
        .route("/v1/attestations", post(attestations))
        .route("/admin/audit", get(audit))
        .route_layer(service::layers::no_store());
    Router::new()
        .merge(dynamic)
        .route("/.well-known/jwks.json", get(jwks))
        .route("/v1/certificate", get(certificate))
        .route("/openapi.json", get(openapi::openapi_json))
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

/// A fresh challenge.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChallengeIssued {
    /// The value to sign, single use.
    attestation_challenge: String,
    /// Its lifetime in seconds.
    expires_in: u64,
}

/// Issues a fresh, single-use challenge for the proof of possession of the CI-Key.
#[utoipa::path(
    post,
    path = "/v1/challenge",
    operation_id = "create_challenge",
    tag = "attestation",
    responses(
        (status = 200, description = "A fresh challenge.", body = ChallengeIssued,
         headers(("cache-control" = String, description = "`no-store`"))),
        (status = 403, description = "`access_denied`: the client address is not in \
                                      `allowed_ips`.", body = ErrorBody),
        (status = 500, description = "`server_error`.", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the challenge store cannot \
                                      be reached.", body = ErrorBody),
    )
)]
pub(crate) async fn challenge(AxumState(state): AxumState<Arc<State>>, peer: Peer) -> Response {
    let result = async {
        admit(&state, peer)?;
        flow::challenge(&state).await
    }
    .await;
    match result {
        Ok(c) => axum::Json(ChallengeIssued {
            attestation_challenge: c.value,
            expires_in: c.expires_in,
        })
        .into_response(),
        Err(e) => e.into_response(),
    }
}

/// A signed client attestation.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AttestationIssued {
    /// The client-attestation JWT (`typ` `oauth-client-attestation+jwt`) binding `ci_jwk`.
    client_attestation: String,
    /// Its lifetime in seconds.
    expires_in: u64,
}

/// Signs a client attestation for a CI-Key whose possession the caller proved, after
/// authenticating the caller from its evidence.
#[utoipa::path(
    post,
    path = "/v1/attestations",
    operation_id = "create_attestation",
    tag = "attestation",
    request_body(content = AttestationRequestBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The attestation.", body = AttestationIssued,
         headers(("cache-control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`: the body is not the JSON object \
                                      described (the description names the member); \
                                      `unsupported_evidence_type`: an unknown evidence type \
                                      or one this attester does not accept; \
                                      `invalid_proof`: `challenge_response` does not prove \
                                      possession of `ci_jwk`; `invalid_challenge`: the \
                                      challenge is unknown, expired or already used.",
         body = ErrorBody),
        (status = 401, description = "`invalid_evidence`: the evidence authenticates no one.",
         body = ErrorBody),
        (status = 403, description = "`access_denied`: the identity or the client address is \
                                      not admitted.", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many attestations for this \
                                      identity.", body = ErrorBody,
         headers(("retry-after" = String, description = "Seconds until the window ends."))),
        (status = 500, description = "`server_error`: the A-Key did not sign.",
         body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the Kubernetes API, a store \
                                      or the audit log cannot be reached; nothing was \
                                      signed.", body = ErrorBody),
    )
)]
pub(crate) async fn attestations(
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
        Ok(issued) => axum::Json(AttestationIssued {
            client_attestation: issued.jwt,
            expires_in: issued.expires_in,
        })
        .into_response(),
        Err(e) => e.into_response(),
    }
}

/// The A-Key's public JWK Set, with `x5c` when a certificate is configured.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    operation_id = "get_jwks",
    tag = "public",
    responses(
        (status = 200, description = "The JWK Set.", content_type = "application/jwk-set+json",
         body = Jwks,
         headers(("cache-control" = String, description = "`public, max-age=300`"))),
    )
)]
pub(crate) async fn jwks(AxumState(state): AxumState<Arc<State>>) -> Response {
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

/// The A-Key's certificate chain, leaf first.
#[utoipa::path(
    get,
    path = "/v1/certificate",
    operation_id = "get_certificate",
    tag = "public",
    responses(
        (status = 200, description = "The chain as PEM.",
         content_type = "application/pem-certificate-chain", body = String),
        (status = 404, description = "`not_found`: no certificate is configured for the \
                                      A-Key.", body = ErrorBody),
    )
)]
pub(crate) async fn certificate(AxumState(state): AxumState<Arc<State>>) -> Response {
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
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    /// Records after this sequence number.
    #[serde(default)]
    #[param(minimum = 0, default = 0)]
    after: i64,
    /// At most this many (1 to 1000, default 100).
    #[param(nullable = false, minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u32>,
}

/// The newest record of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditHead {
    /// Its sequence number.
    seq: i64,
    /// Its hash (lowercase hex).
    hash: String,
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditPage {
    /// The records after `after`, oldest first.
    records: Vec<AuditRecord>,
    /// The newest record of the whole log; `null` while it is empty.
    #[schema(required = true)]
    head: Option<AuditHead>,
}

/// Audit records, for operators (admin bearer token).
#[utoipa::path(
    get,
    path = "/admin/audit",
    operation_id = "get_audit",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "The page.", body = AuditPage,
         headers(("cache-control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`: `after` is not a non-negative \
                                      integer, `limit` not 1 to 1000, or the query has \
                                      another parameter.", body = ErrorBody),
        (status = 401, description = "`invalid_token`: no or a wrong bearer token, or no \
                                      admin token is configured.", body = ErrorBody,
         headers(("www-authenticate" = String))),
        (status = 503, description = "`temporarily_unavailable`: the audit log cannot be \
                                      read.", body = ErrorBody),
    )
)]
pub(crate) async fn audit(
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
        Ok(h) => h.map(|(seq, hash)| AuditHead {
            seq,
            hash: hex(&hash),
        }),
        Err(e) => {
            tracing::warn!(error = %e, "audit head could not be read");
            return ApiError::unavailable().into_response();
        }
    };
    axum::Json(AuditPage {
        records: page,
        head,
    })
    .into_response()
}
