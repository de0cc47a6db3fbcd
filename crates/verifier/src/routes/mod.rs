//! The verifier's HTTP surface, mounted at the role's base (`/verifier` under
//! `--mode=all`):
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `POST /transactions` | RP backend (bearer) | start a transaction |
//! | `GET /transactions/{id}` | RP backend (bearer) | status and result; `?response_code=` exchange |
//! | `GET /transactions/{id}/qr` | RP backend (bearer) | QR code, `?format=svg` or `png` |
//! | `GET`/`POST /request/{request_id}` | wallet | the signed request object |
//! | `POST /response` | wallet | `direct_post` / `direct_post.jwt` |
//! | `GET /jwks` | anyone | the session token key |
//! | `GET /openapi.json` | anyone | the OpenAPI 3.1 document of the routes above |
//! | `GET /demo`, `/demo/api/…` | browser | the demo RP page (when enabled) |

mod demo;
pub mod openapi;
mod rp;
mod wallet;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::state::State;

/// The verifier's router.
pub fn router(state: Arc<State>) -> Router {
    // Transactions, request objects, responses and QR codes carry identifiers, nonces or
    // results: no cache may keep any answer of these routes, refusals included.
    let mut dynamic = Router::new()
        .route("/transactions", post(rp::create))
        .route("/transactions/{id}", get(rp::status))
        .route("/transactions/{id}/qr", get(rp::qr))
        .route(
            "/request/{request_id}",
            get(wallet::request_get).post(wallet::request_post),
        )
        .route("/response", post(wallet::response));
    if state.settings().demo {
        dynamic = dynamic.merge(demo::api_routes());
    }
    let mut router = Router::new()
        .merge(dynamic.route_layer(service::layers::no_store()))
        .route("/jwks", get(jwks))
        .route("/openapi.json", get(openapi::openapi_json));
    if state.settings().demo {
        router = router.merge(demo::page_routes());
    }
    router.with_state(state)
}

/// The public key of the session tokens handed to the RP.
#[utoipa::path(
    get,
    path = "/jwks",
    operation_id = "get_jwks",
    tag = "public",
    responses(
        (status = 200, description = "A JWK Set with the session token key.",
         body = openapi::Jwks,
         headers(("cache-control" = String, description = "`public, max-age=300`"))),
    )
)]
pub(crate) async fn jwks(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
) -> Response {
    let body = crate::session::jwks(state.session_signer());
    let mut response = axum::Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// A JSON response (`Cache-Control: no-store` comes from the layer over the dynamic routes).
pub(crate) fn json(status: axum::http::StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// The QR code of `link` as SVG (default) or PNG.
pub(crate) fn qr_response(link: &str, png: bool) -> Response {
    let rendered = if png {
        crate::qr::png(link).map(|b| ("image/png", b))
    } else {
        crate::qr::svg(link).map(|s| ("image/svg+xml", s.into_bytes()))
    };
    match rendered {
        Ok((content_type, bytes)) => {
            let mut response = bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            response
        }
        Err(e) => service::ApiError::internal(&e).into_response(),
    }
}

/// Whether the client asked for PNG (`?format=png`, or `Accept: image/png` without a
/// format).
pub(crate) fn wants_png(
    format: Option<&str>,
    headers: &axum::http::HeaderMap,
) -> Result<bool, service::ApiError> {
    match format {
        Some("png") => Ok(true),
        Some("svg") => Ok(false),
        Some(_) => Err(
            service::ApiError::bad_request(service::error::codes::INVALID_REQUEST)
                .with_description("format must be svg or png"),
        ),
        None => Ok(headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("image/png") && !a.contains("image/svg"))),
    }
}
