//! The RP backend API, authenticated with the configured bearer token.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State as AxumState};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use service::ApiError;

use super::{no_store_json, qr_response, wants_png};
use crate::flow::{self, CreateRequest};
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
        Ok(created) => no_store_json(
            StatusCode::CREATED,
            serde_json::to_value(created).unwrap_or_default(),
        ),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
pub(crate) struct StatusQuery {
    response_code: Option<String>,
}

pub(crate) async fn status(
    _: RpCaller,
    AxumState(state): AxumState<Arc<State>>,
    Path(id): Path<String>,
    Query(q): Query<StatusQuery>,
) -> Response {
    match flow::view(&state, &id, q.response_code.as_deref()).await {
        Ok(v) => no_store_json(StatusCode::OK, v),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
pub(crate) struct QrQuery {
    format: Option<String>,
}

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
