//! [`ApiError`]: the JSON error response of every Symbolon endpoint, shaped like an OAuth
//! 2.0 error (RFC 6749 §5.2): `{"error": "<code>", "error_description": "<text>"}`.
//!
//! The code is a `&'static str`, so only codes written in the source reach a client; the
//! description is meant for the client developer. Internals (error chains, SQL, key
//! handles) never go into the body: [`ApiError::internal`] logs them and answers a bare
//! `server_error`.
//!
//! [`ErrorBody`] is the body as written; with the `openapi` feature it is also the schema
//! every role's OpenAPI document names for its error answers, so the body is described
//! once, by the type that writes it.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Error codes shared by several roles. Protocol crates add their own (`invalid_proof`,
/// `invalid_nonce`, `use_attestation_challenge`, …) next to the rule they enforce.
pub mod codes {
    /// RFC 6749 §5.2: the request is missing a parameter or is otherwise malformed.
    pub const INVALID_REQUEST: &str = "invalid_request";
    /// RFC 6749 §5.2: client authentication failed.
    pub const INVALID_CLIENT: &str = "invalid_client";
    /// RFC 6749 §5.2: the grant (code, pre-authorized code) is invalid or expired.
    pub const INVALID_GRANT: &str = "invalid_grant";
    /// RFC 6749 §5.2: the grant type is not supported.
    pub const UNSUPPORTED_GRANT_TYPE: &str = "unsupported_grant_type";
    /// RFC 6749 §4.1.2.1: an unexpected condition on the server.
    pub const SERVER_ERROR: &str = "server_error";
    /// RFC 6749 §4.1.2.1: the server is temporarily unable to handle the request.
    pub const TEMPORARILY_UNAVAILABLE: &str = "temporarily_unavailable";
    /// RFC 6750 §3.1: the bearer token is missing, expired, revoked or wrong.
    pub const INVALID_TOKEN: &str = "invalid_token";
    /// No route matches the request path.
    pub const NOT_FOUND: &str = "not_found";
}

/// An error response: HTTP status, error code and an optional description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    description: Option<Cow<'static, str>>,
}

/// The error body of every error answer (`service::ApiError`, RFC 6749 §5.2 shape).
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody<'a> {
    /// The error code.
    error: &'a str,
    /// A description for the client developer (never internals).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    error_description: Option<&'a str>,
}

/// A role's OpenAPI document as committed under `docs/openapi/`: pretty JSON with a final
/// newline.
#[cfg(feature = "openapi")]
pub fn openapi_text(document: &utoipa::openapi::OpenApi) -> String {
    // A document is built from literals and derived schemas: it always serializes.
    let mut text = serde_json::to_string_pretty(document).unwrap_or_default();
    text.push('\n');
    text
}

/// `GET /openapi.json`: `document` with the instance's `base_url` as its `servers` entry
/// (so the paths in it reach this instance, mounted or not), publicly cacheable.
#[cfg(feature = "openapi")]
pub fn openapi_response(
    mut document: utoipa::openapi::OpenApi,
    base_url: &str,
) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    document.servers = Some(vec![utoipa::openapi::server::Server::new(base_url)]);
    let mut response = axum::Json(document).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// Names the codes a role answers in its document's [`ErrorBody`] schema (the
/// description of `error`): the shape is shared, the codes are the role's.
#[cfg(feature = "openapi")]
pub fn describe_error_codes(openapi: &mut utoipa::openapi::OpenApi, description: &str) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::Schema;
    if let Some(RefOr::T(Schema::Object(body))) = openapi
        .components
        .as_mut()
        .and_then(|c| c.schemas.get_mut("ErrorBody"))
        && let Some(RefOr::T(Schema::Object(error))) = body.properties.get_mut("error")
    {
        error.description = Some(description.to_owned());
    }
}

impl ApiError {
    /// An error with the given status and code, without description.
    pub fn new(status: StatusCode, code: &'static str) -> Self {
        ApiError {
            status,
            code,
            description: None,
        }
    }

    /// `400 Bad Request` with the given code.
    pub fn bad_request(code: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code)
    }

    /// `404 Not Found` with code `not_found`.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND)
    }

    /// `503 Service Unavailable` with code `temporarily_unavailable`: a dependency could
    /// not be reached, so the request could not be checked (as opposed to "invalid").
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::TEMPORARILY_UNAVAILABLE,
        )
    }

    /// `500 Internal Server Error` with code `server_error`. The error is logged here, with
    /// its whole source chain, and never sent to the client.
    pub fn internal(err: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = err.to_string();
        let mut source = err.source();
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        tracing::error!(error = %chain, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, codes::SERVER_ERROR)
    }

    /// The same error with a description for the client developer. Put no secret and no
    /// internal detail here.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `error` code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The `error_description`, when set.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.code)?;
        if let Some(d) = &self.description {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code,
            error_description: self.description.as_deref(),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        // RFC 6749 §5.1/§5.2: token-endpoint responses must not be cached; harmless elsewhere.
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // RFC 9110 §10.2.3: a 503 says when to try again. A database or Redis that is
            // restarting is usually back within seconds.
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECS),
            );
        }
        response
    }
}

/// `Retry-After` of every `503 temporarily_unavailable`, in seconds.
pub const RETRY_AFTER_SECS: &str = "2";

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_json(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn renders_code_and_description() {
        let response = ApiError::bad_request(codes::INVALID_REQUEST)
            .with_description("missing `grant_type`")
            .into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
        assert_eq!(
            response.headers().get(header::CACHE_CONTROL).unwrap(),
            "no-store"
        );
        assert_eq!(
            body_json(response).await,
            serde_json::json!({"error": "invalid_request", "error_description": "missing `grant_type`"})
        );
    }

    #[tokio::test]
    async fn omits_an_absent_description() {
        let body = body_json(ApiError::not_found().into_response()).await;
        assert_eq!(body, serde_json::json!({"error": "not_found"}));
    }

    #[derive(Debug, thiserror::Error)]
    #[error("query failed")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("password authentication failed for user \"issuer\"")]
    struct Inner;

    #[tokio::test]
    async fn issue10_unavailable_answers_carry_retry_after() {
        let response = ApiError::unavailable().into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers().get(header::RETRY_AFTER).unwrap(),
            RETRY_AFTER_SECS
        );
        assert_eq!(
            body_json(response).await,
            serde_json::json!({"error": "temporarily_unavailable"})
        );
        let other = ApiError::internal(&Outer(Inner)).into_response();
        assert!(other.headers().get(header::RETRY_AFTER).is_none());
    }

    #[tokio::test]
    async fn internal_errors_keep_their_details_out_of_the_body() {
        let err = ApiError::internal(&Outer(Inner));
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body_json(err.into_response()).await;
        assert_eq!(body, serde_json::json!({"error": "server_error"}));
    }
}
