//! `GET` handlers of the published documents: Credential Issuer Metadata (JSON, or signed
//! when `Accept` prefers `application/jwt`), Authorization Server Metadata, JWT VC Issuer
//! Metadata and the plain JWKS of the signing keys, and the Status List Tokens.

use super::openapi::{ErrorBody, Jwks, JwtVcIssuer};
use crate::error::{HandlerError, HandlerResult};
use crate::state::State;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

/// How long the signed metadata is valid.
const SIGNED_METADATA_LIFETIME: i64 = 24 * 3600;

fn json_response(body: String, cache: &'static str) -> Response {
    let mut r = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

/// The q-value of `media` in an `Accept` header (0 when absent).
fn quality(accept: &str, media: &str) -> f32 {
    accept
        .split(',')
        .filter_map(|range| {
            let mut parts = range.split(';');
            let name = parts.next()?.trim();
            if !name.eq_ignore_ascii_case(media) {
                return None;
            }
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            Some(q)
        })
        .fold(0.0, f32::max)
}

/// Whether the client prefers the signed form.
fn wants_jwt(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let jwt = quality(accept, "application/jwt");
    // JSON is the form every wallet must accept: the signed form only when preferred.
    jwt > 0.0 && jwt > quality(accept, "application/json")
}

/// `GET /.well-known/openid-credential-issuer`.
#[utoipa::path(
    get,
    path = "/.well-known/openid-credential-issuer",
    operation_id = "get_credential_issuer_metadata",
    tag = "documents",
    responses(
        (status = 200, description = "Credential Issuer Metadata (OpenID4VCI 1.0 §12.2): JSON, \
                                      or signed (`typ` `openidvci-issuer-metadata+jwt`) when \
                                      `Accept` ranks `application/jwt` above JSON.",
         content((Object = "application/json"), (String = "application/jwt")),
         headers(("cache-control" = String, description = "`public, max-age=300`"))),
        (status = 500, description = "`server_error`.", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database or key store \
                                      cannot be reached.", body = ErrorBody),
    )
)]
pub(crate) async fn issuer_metadata(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
) -> HandlerResult<Response> {
    if !wants_jwt(&headers) {
        return Ok(json_response(
            state.issuer_metadata_json.clone(),
            "public, max-age=300",
        ));
    }
    let now = state.now();
    let key = state.keys.current(now).await?;
    let jwt = state.issuer_metadata.sign(
        key.signer.as_ref(),
        now,
        Some(now.saturating_add(SIGNED_METADATA_LIFETIME)),
    )?;
    let mut r = ([(header::CONTENT_TYPE, "application/jwt")], jwt).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(r)
}

/// `GET /.well-known/oauth-authorization-server`.
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    operation_id = "get_authorization_server_metadata",
    tag = "documents",
    responses(
        (status = 200, description = "Authorization Server Metadata (RFC 8414): the token \
                                      and challenge endpoints, `attest_jwt_client_auth`, the \
                                      attestation, PoP and DPoP algorithms.",
         content_type = "application/json", body = Object,
         headers(("cache-control" = String, description = "`public, max-age=300`"))),
    )
)]
pub(crate) async fn as_metadata(AxumState(state): AxumState<Arc<State>>) -> Response {
    json_response(state.as_metadata_json.clone(), "public, max-age=300")
}

async fn keys_json(state: &State) -> HandlerResult<serde_json::Value> {
    let keys = state.keys.published(state.now()).await?;
    Ok(json!({ "keys": keys.iter().map(jose::PublicJwk::to_value).collect::<Vec<_>>() }))
}

/// `GET /.well-known/jwt-vc-issuer` (SD-JWT VC §3): every currently published key.
#[utoipa::path(
    get,
    path = "/.well-known/jwt-vc-issuer",
    operation_id = "get_jwt_vc_issuer_metadata",
    tag = "documents",
    responses(
        (status = 200, description = "JWT VC Issuer Metadata: the identifier and every \
                                      published signing key.", body = JwtVcIssuer,
         headers(("cache-control" = String, description = "`public, max-age=60`"))),
        (status = 500, description = "`server_error`.", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database or key store \
                                      cannot be reached.", body = ErrorBody),
    )
)]
pub(crate) async fn jwt_vc_issuer(
    AxumState(state): AxumState<Arc<State>>,
) -> HandlerResult<Response> {
    let jwks = keys_json(&state).await?;
    let body = json!({"issuer": state.settings.identifier, "jwks": jwks});
    Ok(json_response(body.to_string(), "public, max-age=60"))
}

/// `GET /jwks`: the same keys as a JWK Set.
#[utoipa::path(
    get,
    path = "/jwks",
    operation_id = "get_jwks",
    tag = "documents",
    responses(
        (status = 200, description = "Every published signing key.", body = Jwks,
         headers(("cache-control" = String, description = "`public, max-age=60`"))),
        (status = 500, description = "`server_error`.", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database or key store \
                                      cannot be reached.", body = ErrorBody),
    )
)]
pub(crate) async fn jwks(AxumState(state): AxumState<Arc<State>>) -> HandlerResult<Response> {
    Ok(json_response(
        keys_json(&state).await?.to_string(),
        "public, max-age=60",
    ))
}

/// `GET /status/{list}`: the Status List Token (`application/statuslist+jwt`).
#[utoipa::path(
    get,
    path = "/status/{list}",
    operation_id = "get_status_list",
    tag = "documents",
    params(("list" = String, Path, description = "The list's id, from a credential's \
                                                   `status.status_list.uri`.")),
    responses(
        (status = 200, description = "The Status List Token (`typ` `statuslist+jwt`).",
         content_type = "application/statuslist+jwt", body = String,
         headers(("cache-control" = String, description = "`public, max-age=<what is left \
                                                           of its ttl>`"))),
        (status = 404, description = "`not_found`: no such list.", body = ErrorBody),
        (status = 500, description = "`server_error`.", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database or key store \
                                      cannot be reached.", body = ErrorBody),
    )
)]
pub(crate) async fn status_list(
    AxumState(state): AxumState<Arc<State>>,
    Path(id): Path<String>,
) -> HandlerResult<Response> {
    let now = state.now();
    let signed = state
        .status
        .token(&id, &state.keys, now)
        .await?
        .ok_or_else(|| HandlerError::from(service::ApiError::not_found()))?;
    let ttl = i64::try_from(state.status.ttl().as_secs()).unwrap_or(0);
    let max_age = (signed.iat.saturating_add(ttl) - now).clamp(0, ttl);
    let mut r = (
        [(header::CONTENT_TYPE, status_list::MEDIA_TYPE)],
        signed.token,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        r.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn accept_negotiation_prefers_what_the_client_ranks_higher() {
        assert!(wants_jwt(&accept("application/jwt")));
        assert!(wants_jwt(&accept(
            "application/jwt, application/json;q=0.5"
        )));
        assert!(!wants_jwt(&accept(
            "application/json, application/jwt;q=0.5"
        )));
        assert!(!wants_jwt(&accept("application/jwt;q=0")));
        assert!(!wants_jwt(&accept("*/*")));
        assert!(!wants_jwt(&accept("application/jwt, application/json")));
        assert!(!wants_jwt(&HeaderMap::new()));
    }
}
