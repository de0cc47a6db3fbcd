//! Authentication as extractors: a handler that needs an authenticated caller takes one as
//! an argument, so it cannot be written (or compile) without the check, and the check runs
//! before the handler reads its body or query. [`AdminCaller`] is the bearer token of a
//! role's admin API; a role's state says which token that is through [`AdminTokens`].
//!
//! A missing, malformed or wrong token, and an admin API with no token configured, are all
//! `401 invalid_token` with `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750
//! §3); the comparison is constant time ([`Secret::matches`]).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::config::Secret;
use crate::error::{ApiError, codes};

/// Where a role keeps the token of an API behind [`AdminCaller`].
pub trait AdminTokens: Send + Sync {
    /// The configured token; `None` disables the API (every call is refused).
    fn admin_token(&self) -> Option<&Secret>;
}

impl<T: AdminTokens + ?Sized> AdminTokens for Arc<T> {
    fn admin_token(&self) -> Option<&Secret> {
        (**self).admin_token()
    }
}

/// A caller that presented the admin bearer token. Constructed only by the extractor.
#[derive(Debug)]
pub struct AdminCaller(());

impl<S: AdminTokens> FromRequestParts<S> for AdminCaller {
    type Rejection = BearerRefusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, BearerRefusal> {
        check_bearer(parts, state.admin_token(), "admin API").map(|()| AdminCaller(()))
    }
}

/// The token in `Authorization: Bearer <token>` (scheme case-insensitive, RFC 7235 §2.1).
pub fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A refused bearer token: `401 invalid_token` with `WWW-Authenticate` when sent.
#[derive(Debug)]
pub struct BearerRefusal(String);

impl IntoResponse for BearerRefusal {
    fn into_response(self) -> Response {
        let mut response = ApiError::new(StatusCode::UNAUTHORIZED, codes::INVALID_TOKEN)
            .with_description(self.0)
            .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        response
    }
}

/// Checks the bearer token of the API named `api` against `expected`. Roles with an API
/// token other than the admin one (the verifier's RP API) build their extractor on this.
pub fn check_bearer(
    parts: &Parts,
    expected: Option<&Secret>,
    api: &str,
) -> Result<(), BearerRefusal> {
    let Some(expected) = expected else {
        return Err(BearerRefusal(format!(
            "the {api} is disabled: no token is configured"
        )));
    };
    match bearer_token(parts) {
        Some(presented) if expected.matches(presented) => Ok(()),
        Some(_) => Err(BearerRefusal(format!(
            "the bearer token of the {api} is not valid"
        ))),
        None => Err(BearerRefusal(format!(
            "the {api} requires a bearer token (Authorization: Bearer …)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;

    struct Tokens(Option<Secret>);

    impl AdminTokens for Tokens {
        fn admin_token(&self) -> Option<&Secret> {
            self.0.as_ref()
        }
    }

    async fn extract(tokens: &Tokens, authorization: Option<&str>) -> Result<(), BearerRefusal> {
        let mut request = Request::builder().uri("/admin");
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        let (mut parts, _) = request.body(Body::empty()).unwrap().into_parts();
        AdminCaller::from_request_parts(&mut parts, tokens)
            .await
            .map(|_| ())
    }

    fn assert_refused(result: Result<(), BearerRefusal>) {
        let response = result.unwrap_err().into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Bearer error=\"invalid_token\""
        );
    }

    #[tokio::test]
    async fn issue11_admin_caller_needs_the_configured_bearer_token() {
        let tokens = Tokens(Some(Secret::new("s3cret".into())));
        assert!(extract(&tokens, Some("Bearer s3cret")).await.is_ok());
        assert!(extract(&tokens, Some("bearer s3cret")).await.is_ok());
        assert_refused(extract(&tokens, Some("Bearer wrong")).await);
        assert_refused(extract(&tokens, Some("Bearer ")).await);
        assert_refused(extract(&tokens, Some("Basic s3cret")).await);
        assert_refused(extract(&tokens, Some("s3cret")).await);
        assert_refused(extract(&tokens, None).await);
    }

    #[tokio::test]
    async fn issue11_admin_caller_refuses_everyone_when_no_token_is_configured() {
        let tokens = Tokens(None);
        assert_refused(extract(&tokens, Some("Bearer anything")).await);
        assert_refused(extract(&tokens, None).await);
    }
}
