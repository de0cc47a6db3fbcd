//! What a wallet calls: the token endpoint, nonces and challenges, the credential and
//! notification endpoints, and offers by reference. The protocol is in the domain modules
//! ([`crate::token`], [`crate::credential`], [`crate::notification`], [`crate::offers`]);
//! who is calling is decided by the extractors of [`crate::caller`] before a handler runs.
//!
//! `/token` and `/nonce` hand out the next `DPoP-Nonce` on success, when DPoP nonces are
//! demanded (`/credential` and `/notification` on every answer, by a layer in
//! [`super::router`]).

use super::openapi::{
    ChallengeAnswer, CredentialAnswer, CredentialOfferBody, CredentialRequestBody, ErrorBody,
    NonceAnswer, NotificationBody, TokenAnswer, TokenForm,
};
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
#[utoipa::path(
    post,
    path = "/token",
    operation_id = "token",
    tag = "wallet",
    params(
        ("OAuth-Client-Attestation" = String, Header,
         description = "The Client Attestation JWT (`oauth-client-attestation+jwt`) from a \
                        trusted attester or wallet provider."),
        ("OAuth-Client-Attestation-PoP" = String, Header,
         description = "Its PoP (`oauth-client-attestation-pop+jwt`), signed by the attested \
                        `cnf` key, `aud` = the issuer identifier, fresh `iat` and `jti`."),
        ("DPoP" = Option<String>, Header, nullable = false,
         description = "A DPoP proof (RFC 9449) for a DPoP-bound token; required when the \
                        issuer's DPoP mode is `required`."),
    ),
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The access token.", body = TokenAnswer,
         headers(("cache-control" = String, description = "`no-store`"),
                 ("pragma" = String, description = "`no-cache`"),
                 ("dpop-nonce" = String, description = "The next DPoP nonce, when nonces \
                                                        are demanded."))),
        (status = 400, description = "`invalid_dpop_proof`, `use_dpop_nonce`: the DPoP proof; \
                                      `invalid_client`, `invalid_client_attestation`, \
                                      `use_fresh_attestation`, `use_attestation_challenge`: \
                                      the client attestation or its PoP; `invalid_request`, \
                                      `unsupported_grant_type`: the form; `invalid_grant`: \
                                      the code or transaction code.", body = ErrorBody,
         headers(("oauth-client-attestation-challenge" = String,
                  description = "A fresh challenge, with `use_attestation_challenge`."),
                 ("dpop-nonce" = String, description = "A fresh nonce, with `use_dpop_nonce`."))),
        (status = 500, description = "`server_error`.", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database or single-use \
                                      store cannot be reached.", body = ErrorBody),
    )
)]
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
#[utoipa::path(
    post,
    path = "/nonce",
    operation_id = "nonce",
    tag = "wallet",
    responses(
        (status = 200, description = "A single-use `c_nonce`.", body = NonceAnswer,
         headers(("cache-control" = String, description = "`no-store`"),
                 ("dpop-nonce" = String, description = "The next DPoP nonce, when nonces \
                                                        are demanded."))),
        (status = 500, description = "`server_error`.", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database or single-use \
                                      store cannot be reached.", body = ErrorBody),
    )
)]
pub(crate) async fn nonce(AxumState(state): AxumState<Arc<State>>) -> HandlerResult<Response> {
    let c_nonce = crate::nonce::fresh_c_nonce(&state).await?;
    let response = Json(NonceResponse { c_nonce }.to_value()).into_response();
    Ok(state.dpop.attach_nonce(response).await)
}

/// `POST /challenge`: `{"attestation_challenge"}` (ABCA §6).
#[utoipa::path(
    post,
    path = "/challenge",
    operation_id = "attestation_challenge",
    tag = "wallet",
    responses(
        (status = 200, description = "A single-use attestation challenge.",
         body = ChallengeAnswer, headers(("cache-control" = String, description = "`no-store`"))),
        (status = 500, description = "`server_error`.", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database or single-use \
                                      store cannot be reached.", body = ErrorBody),
    )
)]
pub(crate) async fn challenge(AxumState(state): AxumState<Arc<State>>) -> HandlerResult<Response> {
    let challenge = state.auth.new_challenge().await?;
    Ok(Json(json!({ "attestation_challenge": challenge })).into_response())
}

/// `POST /credential`.
#[utoipa::path(
    post,
    path = "/credential",
    operation_id = "credential",
    tag = "wallet",
    security(("access_token" = [])),
    params(
        ("DPoP" = Option<String>, Header, nullable = false,
         description = "The DPoP proof (with `ath`) for a DPoP-bound access token."),
        ("OAuth-Client-Attestation" = Option<String>, Header, nullable = false,
         description = "Only under `bind_access_token`: the client attestation."),
        ("OAuth-Client-Attestation-PoP" = Option<String>, Header, nullable = false,
         description = "Only under `bind_access_token`: a fresh PoP by the key the access \
                        token is bound to."),
    ),
    request_body(
        description = "Plain, or encrypted to the issuer's key (a JWE) when the metadata \
                       offers it.",
        content((CredentialRequestBody = "application/json"), (String = "application/jwt"))
    ),
    responses(
        (status = 200, description = "One credential per proof key; a JWE when \
                                      `credential_response_encryption` was asked for.",
         content((CredentialAnswer = "application/json"), (String = "application/jwt")),
         headers(("cache-control" = String, description = "`no-store`"),
                 ("dpop-nonce" = String, description = "The next DPoP nonce, when nonces \
                                                        are demanded."))),
        (status = 400, description = "`invalid_credential_request`, \
                                      `invalid_encryption_parameters`, \
                                      `unknown_credential_configuration`, \
                                      `unknown_credential_identifier`, `invalid_proof`, \
                                      `invalid_nonce`.", body = ErrorBody),
        (status = 401, description = "`invalid_token`, `invalid_dpop_proof`, `use_dpop_nonce`: \
                                      the access token or its DPoP proof.", body = ErrorBody,
         headers(("www-authenticate" = String, description = "`Bearer error=…` or \
                                                              `DPoP error=…, algs=…`"),
                 ("dpop-nonce" = String, description = "The next DPoP nonce."))),
        (status = 403, description = "`insufficient_scope`: the access token does not cover \
                                      this configuration.", body = ErrorBody),
        (status = 500, description = "`server_error`.", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database or single-use \
                                      store cannot be reached.", body = ErrorBody),
    )
)]
pub(crate) async fn credential(
    AxumState(state): AxumState<Arc<State>>,
    grant: BoundGrant<CredentialEndpoint>,
    headers: HeaderMap,
    body: Bytes,
) -> HandlerResult<Response> {
    crate::credential::issue(&state, &grant, &headers, &body).await
}

/// `POST /notification`.
#[utoipa::path(
    post,
    path = "/notification",
    operation_id = "notification",
    tag = "wallet",
    security(("access_token" = [])),
    params(
        ("DPoP" = Option<String>, Header, nullable = false,
         description = "The DPoP proof (with `ath`) for a DPoP-bound access token."),
        ("OAuth-Client-Attestation" = Option<String>, Header, nullable = false,
         description = "Only under `bind_access_token`: the client attestation."),
        ("OAuth-Client-Attestation-PoP" = Option<String>, Header, nullable = false,
         description = "Only under `bind_access_token`: a fresh PoP by the key the access \
                        token is bound to."),
    ),
    request_body(content = NotificationBody, content_type = "application/json"),
    responses(
        (status = 204, description = "Recorded (repeating it is fine).",
         headers(("cache-control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_notification_request`: malformed; \
                                      `invalid_notification_id`: unknown, or of another \
                                      access token.", body = ErrorBody),
        (status = 401, description = "`invalid_token`, `invalid_dpop_proof`, `use_dpop_nonce`: \
                                      the access token or its DPoP proof.", body = ErrorBody,
         headers(("www-authenticate" = String, description = "`Bearer error=…` or \
                                                              `DPoP error=…, algs=…`"))),
        (status = 500, description = "`server_error`.", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database or single-use \
                                      store cannot be reached.", body = ErrorBody),
    )
)]
pub(crate) async fn notification(
    AxumState(state): AxumState<Arc<State>>,
    grant: BoundGrant<NotificationEndpoint>,
    body: Bytes,
) -> HandlerResult<Response> {
    crate::notification::notify(&state, &grant, &body).await
}

/// `GET /offers/{handle}`.
#[utoipa::path(
    get,
    path = "/offers/{handle}",
    operation_id = "get_offer",
    tag = "wallet",
    params(("handle" = String, Path, description = "From the `credential_offer_uri`.")),
    responses(
        (status = 200, description = "The offer, as often as asked until its code is redeemed \
                                      or it expires.", body = CredentialOfferBody, headers(("cache-control" = String, description = "`no-store`"))),
        (status = 404, description = "`not_found`: unknown, redeemed or expired.",
         body = ErrorBody),
        (status = 500, description = "`server_error`.", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database or single-use \
                                      store cannot be reached.", body = ErrorBody),
    )
)]
pub(crate) async fn offer(
    AxumState(state): AxumState<Arc<State>>,
    Path(handle): Path<String>,
) -> HandlerResult<Response> {
    crate::offers::fetch(&state, &handle).await
}
