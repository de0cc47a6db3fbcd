//! The attester's machine-readable interface: an OpenAPI 3.1 document generated from the
//! handlers' `#[utoipa::path]` annotations and the types they take and return, served at
//! `GET /openapi.json` (`/attester/openapi.json` under `--mode=all`).
//!
//! [`document`] is independent of configuration, so it can be committed
//! (`docs/openapi/attester.json`, kept equal by `tests/openapi.rs`); the served copy adds
//! one `servers` entry, the instance's base URL, because the paths are relative to
//! wherever the role is mounted.
//!
//! The types here only describe bodies that are not parsed or written through a type of
//! their own: the attestation request (parsed member by member by
//! [`AttestationRequest::parse`](client_attestation::request::AttestationRequest::parse),
//! which names the member it refuses) and the A-Key's JWK Set. The error body is
//! `service::error::ErrorBody`, shared by every role.

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::response::Response;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::state::State;

/// The error body of every role, one type in `service`, named here so the handlers'
/// annotations name it without its lifetime.
pub(crate) type ErrorBody = service::error::ErrorBody<'static>;

/// The codes the attester answers, named in the [`ErrorBody`] schema.
const ERROR_CODES: &str = "The error code: `invalid_request`, `unsupported_evidence_type`, \
                           `invalid_proof`, `invalid_challenge`, `invalid_evidence`, \
                           `access_denied`, `rate_limited`, `invalid_token`, `not_found`, \
                           `temporarily_unavailable`, `server_error`.";

/// The body of `POST /v1/attestations`. Each member at most once; unknown top-level
/// members are ignored, as OAuth does with unknown parameters.
#[derive(ToSchema)]
#[allow(dead_code)] // only described: parsed by `client_attestation::request`
pub(crate) struct AttestationRequestBody {
    /// The wallet instance's client identifier, the attestation's `sub`: 1 to 255 visible
    /// ASCII characters.
    #[schema(min_length = 1, max_length = 255, pattern = "^[!-~]+$")]
    client_id: String,
    /// The public CI-Key to attest, a JWK (EC P-256/P-384 or Ed25519), the attestation's
    /// `cnf.jwk`.
    ci_jwk: serde_json::Map<String, serde_json::Value>,
    /// The proof of possession of `ci_jwk`: a JWT signed with the CI-Key over a challenge
    /// from `POST /v1/challenge`, with this attester as `aud` and `client_id` as `sub`.
    #[schema(min_length = 1, max_length = 8192)]
    challenge_response: String,
    /// How the caller authenticates.
    evidence: Evidence,
}

/// The caller's evidence, by `type`.
#[derive(ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
#[allow(dead_code)] // only described: parsed by `client_attestation::request::Evidence`
pub(crate) enum Evidence {
    /// A Kubernetes projected service-account token, checked with the TokenReview API.
    /// No other member.
    Kubernetes {
        /// The token.
        #[schema(min_length = 1)]
        token: String,
    },
    /// Development evidence (no member besides `type`): accepted only when
    /// `attester.dev_evidence` is on.
    Dev {},
    /// TPM evidence: recognized but not accepted yet (`unsupported_evidence_type`).
    Tpm {},
}

/// How an attested caller was authenticated.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // only described: `client_attestation::EvidenceType`
pub(crate) enum EvidenceKind {
    /// A Kubernetes service-account token.
    Kubernetes,
    /// TPM evidence.
    Tpm,
    /// Development evidence: nothing was checked.
    Dev,
}

/// The JWK Set of the A-Key.
#[derive(ToSchema)]
#[allow(dead_code)] // only described: written by `AKey::jwks`
pub(crate) struct Jwks {
    /// One public JWK (`use` `sig`, with `alg` and `kid`; `x5c` when a certificate is
    /// configured).
    keys: Vec<serde_json::Map<String, serde_json::Value>>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Symbolon attester",
        description = "Attestation service: OAuth client-attestation JWTs \
                       (draft-ietf-oauth-attestation-based-client-auth) for wallet \
                       instances that prove possession of their key and authenticate with \
                       evidence, plus the A-Key's public documents and the audit log. \
                       Paths are relative to the role's base URL (`/attester` under \
                       `--mode=all`)."
    ),
    paths(
        super::challenge,
        super::attestations,
        super::jwks,
        super::certificate,
        super::audit,
        openapi_json,
    ),
    components(schemas(ErrorBody)),
    modifiers(&AdminBearer),
    tags(
        (name = "attestation", description = "The API wallet instances call; `allowed_ips` \
                                              applies."),
        (name = "admin", description = "For operators, authenticated with \
                                        `attester.admin_token`."),
        (name = "public", description = "The A-Key's public documents and this document."),
    )
)]
struct ApiDoc;

/// Adds the admin API's bearer token scheme and names the attester's error codes.
struct AdminBearer;

/// The scheme's name; the admin handlers' `security(("admin_bearer" = []))` must say the
/// same (checked by `tests/openapi.rs`).
pub(crate) const ADMIN_BEARER: &str = "admin_bearer";

impl Modify for AdminBearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some("`Authorization: Bearer <attester.admin_token>`".into());
        components.add_security_scheme(ADMIN_BEARER, SecurityScheme::Http(scheme));
        service::error::describe_error_codes(openapi, ERROR_CODES);
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
    service::error::openapi_response(document(), &state.settings.base_url)
}
