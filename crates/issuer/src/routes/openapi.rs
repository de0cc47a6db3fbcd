//! The issuer's machine-readable interface: an OpenAPI 3.1 document generated from the
//! handlers' `#[utoipa::path]` annotations and the types they take and return, served at
//! `GET /openapi.json` (`/issuer/openapi.json` under `--mode=all`).
//!
//! [`document`] is independent of configuration, so it can be committed
//! (`docs/openapi/issuer.json`, kept equal by `tests/openapi.rs`); the served copy adds
//! one `servers` entry, the issuer identifier, because the paths are relative to it.
//!
//! The types here only describe bodies whose Rust type lives in another crate (the error
//! body, the `oid4vci` requests and responses) or that a handler writes as JSON without a
//! type of its own (the admin API's answers); what the issuer parses into a type of its
//! own derives its schema where it is declared.

use crate::state::State;
use axum::extract::State as AxumState;
use axum::response::Response;
use std::sync::Arc;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// The error body of every error answer (RFC 6749 §5.2, OpenID4VCI 1.0 §8.3.1 shape:
/// `oid4vci::ErrorResponse` and `service::ApiError` write it): the one shared type.
pub(crate) type ErrorBody = service::error::ErrorBody<'static>;

/// The codes the issuer answers, named in the [`ErrorBody`] schema.
const ERROR_CODES: &str = "The error code, e.g. `invalid_request`, `invalid_client`, \
                           `invalid_grant`,\n`invalid_token`, `invalid_dpop_proof`, \
                           `invalid_proof`, `invalid_nonce`,\n`not_found`, \
                           `temporarily_unavailable`, `server_error`.";

/// The token request (RFC 6749 §4.1.3, OpenID4VCI 1.0 §6.1): the pre-authorized code
/// grant. Each parameter at most once; unknown ones are ignored.
#[derive(ToSchema)]
#[allow(dead_code)] // only described: parsed by `oid4vci::TokenRequest::from_form`
pub(crate) struct TokenForm {
    /// `urn:ietf:params:oauth:grant-type:pre-authorized_code`.
    grant_type: String,
    /// The code from the offer.
    #[serde(rename = "pre-authorized_code")]
    #[schema(nullable = false)]
    pre_authorized_code: Option<String>,
    /// The transaction code, when the offer has one.
    #[schema(nullable = false)]
    tx_code: Option<String>,
    /// When sent, the attestation's `sub`.
    #[schema(nullable = false)]
    client_id: Option<String>,
}

/// The token response (RFC 6749 §5.1, OpenID4VCI 1.0 §6.2; no `c_nonce`).
#[derive(ToSchema)]
#[allow(dead_code)] // only described: written by `oid4vci::TokenResponse::to_value`
pub(crate) struct TokenAnswer {
    /// The access token (256 random bits).
    access_token: String,
    /// `Bearer`, or `DPoP` when the token is bound to the DPoP proof's key.
    token_type: String,
    /// Lifetime in seconds (`access_token_ttl`).
    #[schema(nullable = false)]
    expires_in: Option<u64>,
}

/// `POST /nonce` (OpenID4VCI 1.0 §7.2).
#[derive(ToSchema)]
#[allow(dead_code)] // only described: written by `oid4vci::NonceResponse::to_value`
pub(crate) struct NonceAnswer {
    /// A single-use nonce for the proofs of the next credential request.
    c_nonce: String,
}

/// `POST /challenge` (OAuth 2.0 Attestation-Based Client Authentication §6).
#[derive(ToSchema)]
#[allow(dead_code)] // only described
pub(crate) struct ChallengeAnswer {
    /// A single-use challenge for the client attestation PoP.
    attestation_challenge: String,
}

/// The proofs of a credential request (OpenID4VCI 1.0 §8.2).
#[derive(ToSchema)]
#[allow(dead_code)] // only described
pub(crate) struct ProofsBody {
    /// Key proofs (`openid4vci-proof+jwt`), one per holder key, at most `batch_size`.
    jwt: Vec<String>,
}

/// A plain credential request (OpenID4VCI 1.0 §8.2); encrypted, it is a JWE
/// (`application/jwt`) of the same object, which may then also carry
/// `credential_response_encryption`.
#[derive(ToSchema)]
#[allow(dead_code)] // only described: parsed by `oid4vci::CredentialRequest`
pub(crate) struct CredentialRequestBody {
    /// A configuration of the issuer metadata, covered by the access token.
    #[schema(nullable = false)]
    credential_configuration_id: Option<String>,
    /// Not supported by this issuer (`unknown_credential_identifier`).
    #[schema(nullable = false)]
    credential_identifier: Option<String>,
    /// The key proofs.
    #[schema(nullable = false)]
    proofs: Option<ProofsBody>,
}

/// One issued credential.
#[derive(ToSchema)]
#[allow(dead_code)] // only described
pub(crate) struct IssuedCredential {
    /// The SD-JWT VC (`dc+sd-jwt`), compact with its disclosures.
    credential: String,
}

/// The credential response (OpenID4VCI 1.0 §8.3); encrypted on request (`application/jwt`).
#[derive(ToSchema)]
#[allow(dead_code)] // only described: written by `oid4vci::CredentialResponse::to_value`
pub(crate) struct CredentialAnswer {
    /// One per distinct proof key.
    credentials: Vec<IssuedCredential>,
    /// For `POST /notification`.
    notification_id: String,
}

/// What happened to the credentials of one credential response.
#[derive(ToSchema)]
#[allow(dead_code, clippy::enum_variant_names)] // only described
#[serde(rename_all = "snake_case")]
pub(crate) enum NotificationEvent {
    /// Stored by the wallet.
    CredentialAccepted,
    /// Not stored (unsuccessful).
    CredentialFailure,
    /// Deleted by the holder.
    CredentialDeleted,
}

/// The notification request (OpenID4VCI 1.0 §11.1); unknown members are ignored.
#[derive(ToSchema)]
#[allow(dead_code)] // only described: parsed by `oid4vci::NotificationRequest::from_json`
pub(crate) struct NotificationBody {
    /// From the credential response.
    notification_id: String,
    /// The event.
    event: NotificationEvent,
    /// Text for the issuer's developers.
    #[schema(nullable = false)]
    event_description: Option<String>,
}

/// A credential offer (OpenID4VCI 1.0 §4.1.1).
#[derive(ToSchema)]
#[allow(dead_code)] // only described: written by `oid4vci::CredentialOffer::to_value`
pub(crate) struct CredentialOfferBody {
    /// The issuer identifier.
    credential_issuer: String,
    /// What the offer grants.
    credential_configuration_ids: Vec<String>,
    /// `urn:ietf:params:oauth:grant-type:pre-authorized_code` with the code and, when one
    /// is needed, the `tx_code` description.
    grants: serde_json::Map<String, serde_json::Value>,
}

/// A JWK Set: the issuer's published signing keys.
#[derive(ToSchema)]
#[allow(dead_code)] // only described
pub(crate) struct Jwks {
    /// Public JWKs (`kid` = RFC 7638 thumbprint).
    keys: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// JWT VC Issuer Metadata (SD-JWT VC §5).
#[derive(ToSchema)]
#[allow(dead_code)] // only described
pub(crate) struct JwtVcIssuer {
    /// The issuer identifier.
    issuer: String,
    /// Every published signing key.
    jwks: Jwks,
}

/// The answer of `POST /admin/offers`.
#[derive(ToSchema)]
#[allow(dead_code)] // only described: written as JSON by `offers::create`
pub(crate) struct OfferCreated {
    /// The offer's id.
    offer_id: String,
    /// `openid-credential-offer://…` (or on `wallet_url`), by value or by reference.
    offer_uri: String,
    /// By reference: where the wallet fetches the offer.
    #[schema(nullable = false)]
    credential_offer_uri: Option<String>,
    /// The transaction code, shown only here.
    #[schema(nullable = false)]
    tx_code: Option<String>,
    /// Unix seconds.
    expires_at: i64,
}

/// A credential's status list entry.
#[derive(ToSchema)]
#[allow(dead_code)] // only described
pub(crate) struct StatusEntry {
    /// The Status List Token's URI.
    uri: String,
    /// The index.
    idx: i64,
}

/// The last notification about a credential.
#[derive(ToSchema)]
#[allow(dead_code)] // only described
pub(crate) struct LastNotification {
    /// `credential_accepted`, `credential_failure` or `credential_deleted`.
    event: String,
    /// Unix seconds.
    at: Option<i64>,
}

/// What was issued (never claim values).
#[derive(ToSchema)]
#[allow(dead_code)] // only described: written as JSON by the admin handlers
pub(crate) struct CredentialRecord {
    /// The credential's id.
    id: String,
    /// The offer it was issued under.
    offer_id: String,
    /// Its configuration.
    credential_configuration_id: String,
    /// RFC 7638 thumbprint of the holder key.
    holder_key_thumbprint: String,
    /// `VALID`, `INVALID` or `SUSPENDED`.
    status: String,
    /// Its status list entry.
    status_list: StatusEntry,
    /// The signing key's `kid`.
    kid: String,
    /// Unix seconds.
    issued_at: i64,
    /// Unix seconds.
    expires_at: i64,
    /// Unix seconds, when the status was changed.
    status_changed_at: Option<i64>,
    /// The last notification, if any.
    notification: Option<LastNotification>,
}

/// A page of `GET /admin/credentials`.
#[derive(ToSchema)]
#[allow(dead_code)] // only described
pub(crate) struct CredentialPage {
    /// Newest first.
    credentials: Vec<CredentialRecord>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    next_cursor: Option<String>,
}

/// The answer of `POST /admin/credentials/{id}/status`.
#[derive(ToSchema)]
#[allow(dead_code)] // only described
pub(crate) struct StatusChanged {
    /// The credential's id.
    id: String,
    /// The new status.
    status: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Symbolon issuer",
        description = "OpenID for Verifiable Credential Issuance 1.0 credential issuer \
                       (pre-authorized code flow, Attestation-Based Client Authentication, \
                       bearer or DPoP access tokens): the wallet endpoints, the published \
                       documents and the admin API (bearer token). Paths are relative to the \
                       issuer identifier (`/issuer` under `--mode=all`)."
    ),
    paths(
        super::documents::issuer_metadata,
        super::documents::as_metadata,
        super::documents::jwt_vc_issuer,
        super::documents::jwks,
        super::documents::status_list,
        super::wallet::token,
        super::wallet::challenge,
        super::wallet::nonce,
        super::wallet::credential,
        super::wallet::notification,
        super::wallet::offer,
        super::admin::create_offer,
        super::admin::list,
        super::admin::show,
        super::admin::set_status,
        openapi_json,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Schemes),
    tags(
        (name = "wallet", description = "The endpoints a wallet calls (OpenID4VCI)."),
        (name = "documents", description = "Metadata, keys, status lists and this document: \
                                            public and cacheable."),
        (name = "admin", description = "The admin API, authenticated with \
                                        `issuer.admin_token`."),
    )
)]
struct ApiDoc;

/// Adds the security schemes.
struct Schemes;

/// The admin API's scheme; the admin handlers' `security(("admin_bearer" = []))` say the
/// same (checked by `tests/openapi.rs`).
pub(crate) const ADMIN_BEARER: &str = "admin_bearer";
/// The access token's scheme at `/credential` and `/notification`.
pub(crate) const ACCESS_TOKEN: &str = "access_token";

impl Modify for Schemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut admin = Http::new(HttpAuthScheme::Bearer);
        admin.description = Some("`Authorization: Bearer <issuer.admin_token>`".into());
        components.add_security_scheme(ADMIN_BEARER, SecurityScheme::Http(admin));
        let mut access = Http::new(HttpAuthScheme::Bearer);
        access.description = Some(
            "The access token of `POST /token`: `Authorization: Bearer <token>`, or for a \
             DPoP-bound token (`token_type: DPoP`) `Authorization: DPoP <token>` with a `DPoP` \
             proof (RFC 9449)"
                .into(),
        );
        components.add_security_scheme(ACCESS_TOKEN, SecurityScheme::Http(access));
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
    tag = "documents",
    responses(
        (status = 200, description = "This OpenAPI document, with the issuer identifier as \
                                      its `servers` entry.",
         content_type = "application/json", body = Object),
    )
)]
pub(crate) async fn openapi_json(AxumState(state): AxumState<Arc<State>>) -> Response {
    service::error::openapi_response(document(), state.identifier())
}
