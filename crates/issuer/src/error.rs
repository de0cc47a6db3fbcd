//! How the issuer answers a refused or failed request.
//!
//! - [`Rejection`]: a protocol error with the code the spec names (`invalid_proof`,
//!   `invalid_nonce`, `use_attestation_challenge`, …), its HTTP status from
//!   [`ErrorCode::http_status`], `Cache-Control: no-store`, and the headers some codes need
//!   (`WWW-Authenticate` for `invalid_token`, RFC 6750 §3; a fresh
//!   `OAuth-Client-Attestation-Challenge` for `use_attestation_challenge`, ABCA §7.4; a
//!   fresh `DPoP-Nonce` for `use_dpop_nonce`, RFC 9449 §8). At a protected resource the
//!   DPoP codes are 401 with `WWW-Authenticate: DPoP error=…` (RFC 9449 §7.1, §9), set
//!   with [`Rejection::at_resource`].
//! - [`Failure`]: the server could not do its part (database, cache, keys, randomness).
//!   Logged with its cause; the client gets `server_error`, or `temporarily_unavailable`
//!   when a dependency is unreachable ("could not check" is never "invalid").

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oid4vci::{ErrorCode, ErrorResponse};
use std::borrow::Cow;

/// A request refused with a protocol error code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    code: ErrorCode,
    description: Option<Cow<'static, str>>,
    challenge: Option<String>,
    dpop_nonce: Option<String>,
    /// The `WWW-Authenticate` challenge scheme and parameters, at a protected resource.
    resource: Option<Cow<'static, str>>,
}

impl Rejection {
    /// A rejection with `code`.
    pub fn new(code: ErrorCode) -> Self {
        Rejection {
            code,
            description: None,
            challenge: None,
            dpop_nonce: None,
            resource: None,
        }
    }

    /// With a description for the client developer (no secrets, no internals).
    #[must_use]
    pub fn describe(mut self, text: impl Into<Cow<'static, str>>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// With a fresh attestation challenge in the response header.
    #[must_use]
    pub fn with_challenge(mut self, challenge: String) -> Self {
        self.challenge = Some(challenge);
        self
    }

    /// With a fresh DPoP nonce in the `DPoP-Nonce` response header.
    #[must_use]
    pub fn with_dpop_nonce(mut self, nonce: String) -> Self {
        self.dpop_nonce = Some(nonce);
        self
    }

    /// Answered by a protected resource: 401 (for the codes RFC 6750 §3.1 and RFC 9449
    /// §7.1 give that status) with `WWW-Authenticate: <scheme> error="<code>"<params>`;
    /// `scheme_and_params` is `Bearer` or `DPoP algs="ES256"` (no input, ever: it goes into
    /// a header).
    #[must_use]
    pub fn at_resource(mut self, scheme_and_params: impl Into<Cow<'static, str>>) -> Self {
        self.resource = Some(scheme_and_params.into());
        self
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }
}

impl From<ErrorCode> for Rejection {
    fn from(code: ErrorCode) -> Self {
        Rejection::new(code)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let unauthorized = matches!(
            self.code,
            ErrorCode::InvalidToken | ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce
        );
        let status = if self.resource.is_some() && unauthorized {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
        };
        let body = ErrorResponse::new(self.code, self.description.as_deref());
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match (&self.resource, self.code) {
            (Some(scheme), code) => {
                let (name, params) = scheme.split_once(' ').unwrap_or((scheme, ""));
                let sep = if params.is_empty() { "" } else { ", " };
                let value = format!("{name} error=\"{}\"{sep}{params}", code.as_str());
                if let Ok(v) = HeaderValue::from_str(&value) {
                    headers.insert(header::WWW_AUTHENTICATE, v);
                }
            }
            (None, ErrorCode::InvalidToken) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            (None, _) => {}
        }
        if let Some(n) = self.dpop_nonce
            && let Ok(v) = HeaderValue::from_str(&n)
        {
            headers.insert(oid4vci::DPOP_NONCE_HEADER, v);
        }
        if let Some(c) = self.challenge
            && let Ok(v) = HeaderValue::from_str(&c)
        {
            headers.insert(client_attestation::CHALLENGE_HEADER, v);
        }
        response
    }
}

/// The server could not do its part.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// A database query failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A grouped write failed (every request of its batch gets this).
    #[error("database write: {0}")]
    Write(std::sync::Arc<sqlx::Error>),
    /// The single-use value store failed.
    #[error("single-use store: {0}")]
    Store(#[from] store::Error),
    /// Signing keys could not be loaded or created.
    #[error("signing keys: {0}")]
    Keys(#[from] crate::signing::KeyError),
    /// The random generator failed.
    #[error(transparent)]
    Random(#[from] crate::random::RandomError),
    /// Issuing the SD-JWT VC failed after every input was checked.
    #[error("SD-JWT VC issuance: {0}")]
    Issue(#[from] sd_jwt::VcError),
    /// Building or signing a status list token failed.
    #[error("status list: {0}")]
    StatusList(String),
    /// Signing failed.
    #[error("signing: {0}")]
    Sign(#[from] jose::SignError),
    /// Encrypting the response failed after its parameters were checked.
    #[error("response encryption: {0}")]
    Encrypt(#[from] jose::JweError),
    /// Stored data is not what this version wrote.
    #[error("stored {0} is malformed")]
    Corrupt(&'static str),
    /// Every random status index tried was taken.
    #[error("no free status list index after repeated attempts")]
    StatusIndexExhausted,
    /// Attestation trust is not loaded yet (its file is missing).
    #[error("client attestation trust is not loaded")]
    TrustNotLoaded,
}

impl From<std::sync::Arc<sqlx::Error>> for Failure {
    fn from(e: std::sync::Arc<sqlx::Error>) -> Self {
        Failure::Write(e)
    }
}

impl Failure {
    fn unavailable(&self) -> bool {
        match self {
            Failure::Store(e) => e.is_unavailable(),
            // A PostgreSQL restart ends in-flight statements with "terminating connection
            // due to administrator command" (57P01): unavailable, not a server error.
            Failure::Database(e) => store::is_connection_error(e),
            Failure::Write(e) => store::is_connection_error(e),
            Failure::Keys(crate::signing::KeyError::Database(e)) => store::is_connection_error(e),
            Failure::TrustNotLoaded => true,
            _ => false,
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        if self.unavailable() {
            tracing::warn!(error = %self, "dependency unavailable");
            return service::ApiError::unavailable().into_response();
        }
        service::ApiError::internal(&self).into_response()
    }
}

/// A handler's error: refused, or failed.
#[derive(Debug)]
pub enum HandlerError {
    /// Refused with a protocol code.
    Rejected(Rejection),
    /// The server failed.
    Failed(Failure),
    /// A plain HTTP-level error (`not_found`).
    Api(service::ApiError),
}

impl From<Rejection> for HandlerError {
    fn from(r: Rejection) -> Self {
        HandlerError::Rejected(r)
    }
}

impl From<ErrorCode> for HandlerError {
    fn from(c: ErrorCode) -> Self {
        HandlerError::Rejected(Rejection::new(c))
    }
}

impl From<Failure> for HandlerError {
    fn from(f: Failure) -> Self {
        HandlerError::Failed(f)
    }
}

macro_rules! failure_from {
    ($($t:ty),*) => {$(
        impl From<$t> for HandlerError {
            fn from(e: $t) -> Self {
                HandlerError::Failed(e.into())
            }
        }
    )*};
}

failure_from!(
    std::sync::Arc<sqlx::Error>,
    sqlx::Error,
    store::Error,
    crate::signing::KeyError,
    crate::random::RandomError,
    sd_jwt::VcError,
    jose::SignError,
    jose::JweError
);

impl IntoResponse for HandlerError {
    fn into_response(self) -> Response {
        match self {
            HandlerError::Rejected(r) => r.into_response(),
            HandlerError::Failed(f) => f.into_response(),
            HandlerError::Api(e) => e.into_response(),
        }
    }
}

/// A handler's result.
pub type HandlerResult<T> = Result<T, HandlerError>;
