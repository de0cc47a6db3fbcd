//! The demo relying party: the "immersive classroom" page and the small backend it talks
//! to. The page is static HTML, CSS and JavaScript compiled into the binary (no build
//! step); its backend starts transactions for the classroom policy only and needs no
//! bearer token — the unguessable transaction id held by the browser is its session. Only
//! served when the demo is enabled (by default under `--mode=all`).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::{json, qr_response, wants_png};
use crate::demo::CLASSROOM_POLICY;
use crate::flow::{self, CreateRequest};
use crate::state::State;

const PAGE: &str = include_str!("../../assets/classroom.html");
const SCRIPT: &str = include_str!("../../assets/classroom.js");
const STYLE: &str = include_str!("../../assets/classroom.css");

/// The demo page and its assets (revalidated, `no-cache`).
pub(super) fn page_routes() -> Router<Arc<State>> {
    Router::new()
        .route("/demo", get(page))
        .route("/demo/classroom.js", get(script))
        .route("/demo/classroom.css", get(style))
}

/// The demo's backend (under the router's `no-store` layer).
pub(super) fn api_routes() -> Router<Arc<State>> {
    Router::new()
        .route("/demo/api/transactions", post(start))
        .route("/demo/api/transactions/{id}", get(status))
        .route("/demo/api/transactions/{id}/qr", get(qr))
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'",
        ),
    );
    response
}

async fn page() -> Response {
    asset(PAGE, "text/html; charset=utf-8")
}

async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

async fn start(AxumState(state): AxumState<Arc<State>>) -> Response {
    let req = CreateRequest {
        policy: Some(CLASSROOM_POLICY.into()),
        ..CreateRequest::default()
    };
    match flow::create(&state, req).await {
        Ok(created) => json(
            StatusCode::CREATED,
            serde_json::to_value(created).unwrap_or_default(),
        ),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct StatusQuery {
    response_code: Option<String>,
}

async fn status(
    AxumState(state): AxumState<Arc<State>>,
    Path(id): Path<String>,
    Query(q): Query<StatusQuery>,
) -> Response {
    match flow::view(&state, &id, q.response_code.as_deref()).await {
        Ok(v) if v.get("policy").and_then(|p| p.as_str()) == Some(CLASSROOM_POLICY) => {
            json(StatusCode::OK, v)
        }
        // The demo backend only reveals demo transactions.
        Ok(_) => service::ApiError::not_found().into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct QrQuery {
    format: Option<String>,
}

async fn qr(
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
