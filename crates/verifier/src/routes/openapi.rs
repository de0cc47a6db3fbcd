//! The verifier's machine-readable interface: an OpenAPI 3.1 document generated from the
//! handlers' `#[utoipa::path]` annotations and the types they take and return, served at
//! `GET /openapi.json` (`/verifier/openapi.json` under `--mode=all`).
//!
//! [`document`] is independent of configuration, so it can be committed
//! (`docs/openapi/verifier.json`, kept equal by `tests/openapi.rs`); the served copy
//! adds one `servers` entry, the instance's public base URL, because the paths are
//! relative to wherever the role is mounted.
//!
//! The types here only describe bodies whose Rust type lives in another crate (the forms
//! of the `oid4vp` crate); everything the verifier defines itself derives its schema where
//! it is declared, and the error body is `service::error::ErrorBody`, shared by every role.

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::response::Response;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{RefOr, Required};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::state::State;

/// The error body of every role, one type in `service`, named here so the handlers'
/// annotations name it without its lifetime.
pub(crate) type ErrorBody = service::error::ErrorBody<'static>;

/// The codes the verifier answers, named in the [`ErrorBody`] schema.
const ERROR_CODES: &str = "The error code, e.g. `invalid_request`, `invalid_token`, \
                           `not_found`,\n`invalid_state`, `transaction_expired`, \
                           `temporarily_unavailable`, `server_error`.";

/// The form the wallet may POST to the request URI (OpenID4VP §5.10); an empty body is a
/// POST without wallet metadata. Each parameter at most once; unknown ones are ignored.
#[derive(ToSchema)]
#[allow(dead_code)] // only described: parsed by `oid4vp::RequestUriPost::from_form`
pub(crate) struct RequestUriForm {
    /// The wallet's metadata, a JSON object (OpenID4VP §10).
    #[schema(nullable = false)]
    wallet_metadata: Option<String>,
    /// A nonce the wallet wants echoed in the request object.
    #[schema(nullable = false)]
    wallet_nonce: Option<String>,
}

/// The response the wallet posts (OpenID4VP §8.2 `direct_post`: `vp_token` and `state`, or
/// `error`, `error_description` and `state`; §8.3.1 `direct_post.jwt`: `response` alone).
/// Each parameter at most once; unknown ones are ignored.
#[derive(ToSchema)]
#[allow(dead_code)] // only described: parsed by `oid4vp::DirectPostBody::from_form`
pub(crate) struct ResponseForm {
    /// The presentations: a JSON object from credential query id to presentations.
    #[schema(nullable = false)]
    vp_token: Option<String>,
    /// The transaction's `state` from the authorization request.
    #[schema(nullable = false)]
    state: Option<String>,
    /// The wallet's error code, when it declines.
    #[schema(nullable = false)]
    error: Option<String>,
    /// The wallet's error description.
    #[schema(nullable = false)]
    error_description: Option<String>,
    /// `direct_post.jwt`: the encrypted response, a compact JWE.
    #[schema(nullable = false)]
    response: Option<String>,
}

/// What the response endpoint answers when it accepted the response
/// (`oid4vp::ResponseUriReply`).
#[derive(ToSchema)]
#[allow(dead_code)] // only described: written by `oid4vp::ResponseUriReply::to_value`
pub(crate) struct ResponseAccepted {
    /// Where the wallet sends the holder's browser (`…#response_code=…`), for a policy
    /// with a `success_redirect`.
    #[schema(nullable = false)]
    redirect_uri: Option<String>,
}

/// A PNG image.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // only described: written by `qr::png`
pub(crate) struct PngImage(Vec<u8>);

/// The JWK Set of the session token key.
#[derive(ToSchema)]
#[allow(dead_code)] // only described: written by `session::jwks`
pub(crate) struct Jwks {
    /// One public JWK (`use` `sig`, with `alg` and `kid`).
    keys: Vec<serde_json::Map<String, serde_json::Value>>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Symbolon verifier",
        description = "OpenID for Verifiable Presentations 1.0 relying party: the RP backend \
                       API (bearer token) and the wallet-facing request and response URIs. \
                       Paths are relative to the role's base URL (`/verifier` under \
                       `--mode=all`)."
    ),
    paths(
        super::rp::create,
        super::rp::status,
        super::rp::qr,
        super::wallet::request_get,
        super::wallet::request_post,
        super::wallet::response,
        super::jwks,
        openapi_json,
    ),
    components(schemas(ErrorBody, super::rp::QrFormat)),
    modifiers(&RpBearer),
    tags(
        (name = "rp", description = "The RP backend API, authenticated with `verifier.rp_token`."),
        (name = "wallet", description = "The endpoints a wallet calls (OpenID4VP)."),
        (name = "public", description = "Public keys and this document."),
    )
)]
struct ApiDoc;

/// Adds the RP API's bearer token scheme, names the verifier's error codes, and marks the
/// request URI's form optional.
struct RpBearer;

/// The scheme's name; the RP handlers' `security(("rp_bearer" = []))` must say the same
/// (checked by `tests/openapi.rs`).
pub(crate) const RP_BEARER: &str = "rp_bearer";

impl Modify for RpBearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some("`Authorization: Bearer <verifier.rp_token>`".into());
        components.add_security_scheme(RP_BEARER, SecurityScheme::Http(scheme));
        service::error::describe_error_codes(openapi, ERROR_CODES);
        if let Some(body) = openapi
            .paths
            .paths
            .get_mut("/request/{request_id}")
            .and_then(|item| item.post.as_mut())
            .and_then(|op| op.request_body.as_mut())
            && let RefOr::T(body) = body
        {
            body.required = Some(Required::False);
        }
    }
}

/// The document, independent of configuration (no `servers` entry).
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// [`document`] as pretty JSON with a final newline: the form committed under
/// `docs/openapi/`.
pub fn document_json() -> String {
    service::error::openapi_text(&document())
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "get_openapi",
    tag = "public",
    responses(
        (status = 200, description = "This OpenAPI document, with the instance's base URL \
                                      as its `servers` entry.",
         content_type = "application/json", body = Object),
    )
)]
pub(crate) async fn openapi_json(AxumState(state): AxumState<Arc<State>>) -> Response {
    service::error::openapi_response(document(), state.base_url())
}
