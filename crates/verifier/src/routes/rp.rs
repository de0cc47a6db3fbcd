//! The RP backend API, authenticated with the configured bearer token.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State as AxumState};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use service::ApiError;

use utoipa::IntoParams;

use super::openapi::{ErrorBody, PngImage};
use super::{json, qr_response, wants_png};
use crate::flow::{self, CreateRequest, Created};
use crate::state::State;

/// An RP backend that presented the bearer token.
pub(crate) struct RpCaller;

impl FromRequestParts<Arc<State>> for RpCaller {
    type Rejection = service::auth::BearerRefusal;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<State>,
    ) -> Result<Self, Self::Rejection> {
        service::auth::check_bearer(parts, state.rp_token(), "RP API").map(|()| RpCaller)
    }
}

/// Starts a transaction.
#[utoipa::path(
    post,
    path = "/transactions",
    operation_id = "create_transaction",
    tag = "rp",
    security(("rp_bearer" = [])),
    request_body(content = CreateRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The transaction was created.", body = Created,
         headers(("cache-control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`: the body is not the JSON object \
                                      described, or names an unknown policy, an unavailable \
                                      client_id prefix or a DCQL query that misses an \
                                      essential claim.", body = ErrorBody),
        (status = 401, description = "`invalid_token`: no or a wrong bearer token, or the RP \
                                      API is disabled.", body = ErrorBody,
         headers(("www-authenticate" = String))),
        (status = 500, description = "`server_error`.", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the transaction store \
                                      cannot be reached.", body = ErrorBody),
    )
)]
pub(crate) async fn create(
    _: RpCaller,
    AxumState(state): AxumState<Arc<State>>,
    body: Result<Json<CreateRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => {
            return ApiError::bad_request(service::error::codes::INVALID_REQUEST)
                .with_description(e.body_text())
                .into_response();
        }
    };
    match flow::create(&state, req).await {
        Ok(created) => json(
            StatusCode::CREATED,
            serde_json::to_value(created).unwrap_or_default(),
        ),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatusQuery {
    /// The one-time code the wallet's redirect brought back (`#response_code=…`):
    /// exchanging it reveals a same-device transaction's result.
    #[param(nullable = false)]
    response_code: Option<String>,
}

/// A transaction's status and, once answered, its result.
#[utoipa::path(
    get,
    path = "/transactions/{id}",
    operation_id = "get_transaction",
    tag = "rp",
    security(("rp_bearer" = [])),
    params(
        ("id" = String, Path, description = "The `transaction_id`."),
        StatusQuery,
    ),
    responses(
        (status = 200, description = "The transaction. The result (`claims` and \
                                      `session_token`, or `error`) is shown for a \
                                      cross-device transaction, and for a same-device one \
                                      only with its `response_code`.",
         body = flow::TransactionView,
         headers(("cache-control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_grant`: the `response_code` is invalid or was \
                                      already used; `invalid_request`: a malformed query.",
         body = ErrorBody),
        (status = 401, description = "`invalid_token`.", body = ErrorBody,
         headers(("www-authenticate" = String))),
        (status = 404, description = "`not_found`: no such transaction.", body = ErrorBody),
        (status = 500, description = "`server_error`.", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: a store cannot be reached.",
         body = ErrorBody),
    )
)]
pub(crate) async fn status(
    _: RpCaller,
    AxumState(state): AxumState<Arc<State>>,
    Path(id): Path<String>,
    Query(q): Query<StatusQuery>,
) -> Response {
    match flow::view(&state, &id, q.response_code.as_deref()).await {
        Ok(v) => json(StatusCode::OK, v),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct QrQuery {
    /// `svg` or `png`.
    #[param(value_type = Option<QrFormat>, nullable = false)]
    format: Option<String>,
}

// Only described in the OpenAPI document: the query keeps the string, so that another
// value gets its own error description.
/// The image formats of the QR code.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub(crate) enum QrFormat {
    Svg,
    Png,
}

/// The QR code of a pending transaction's authorization request link.
#[utoipa::path(
    get,
    path = "/transactions/{id}/qr",
    operation_id = "get_transaction_qr",
    tag = "rp",
    security(("rp_bearer" = [])),
    params(
        ("id" = String, Path, description = "The `transaction_id`."),
        QrQuery,
    ),
    responses(
        (status = 200, description = "The QR code: SVG unless `format=png` (or, without \
                                      `format`, an `Accept` naming `image/png` and not \
                                      `image/svg`).",
         content((String = "image/svg+xml"), (PngImage = "image/png")),
         headers(("cache-control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`: `format` is neither `svg` nor `png`; \
                                      `transaction_expired`, `transaction_answered`, \
                                      `transaction_unusable`: the transaction is no longer \
                                      pending or usable.", body = ErrorBody),
        (status = 401, description = "`invalid_token`.", body = ErrorBody,
         headers(("www-authenticate" = String))),
        (status = 404, description = "`not_found`: no such transaction.", body = ErrorBody),
        (status = 500, description = "`server_error`.", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: a store cannot be reached.",
         body = ErrorBody),
    )
)]
pub(crate) async fn qr(
    _: RpCaller,
    AxumState(state): AxumState<Arc<State>>,
    Path(id): Path<String>,
    Query(q): Query<QrQuery>,
    headers: HeaderMap,
) -> Response {
    let png = match wants_png(q.format.as_deref(), &headers) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    match flow::link(&state, &id).await {
        Ok(link) => qr_response(&link, png),
        Err(e) => e.into_response(),
    }
}
