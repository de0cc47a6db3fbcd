//! The wallet-facing endpoints: the request URI (GET and POST, OpenID4VP §5.10) and the
//! response URI (`direct_post`, `direct_post.jwt`, §8.2, §8.3.1).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oid4vp::RequestUriPost;
use oid4vp::request::object::MEDIA_TYPE;

use super::no_store_json;
use crate::flow::{self, ResponseOutcome};
use crate::state::State;

fn request_object(jwt: String) -> Response {
    let mut response = jwt.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(crate) async fn request_get(
    AxumState(state): AxumState<Arc<State>>,
    Path(request_id): Path<String>,
) -> Response {
    match flow::request_object(&state, &request_id, None).await {
        Ok(jwt) => request_object(jwt),
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn request_post(
    AxumState(state): AxumState<Arc<State>>,
    Path(request_id): Path<String>,
    body: Bytes,
) -> Response {
    // An empty body is a POST without wallet metadata; anything else must be a form.
    let post = match RequestUriPost::from_form(&body) {
        Ok(p) => p,
        Err(e) => {
            return crate::error::ProtocolError::InvalidRequest(e.to_string()).into_response();
        }
    };
    match flow::request_object(&state, &request_id, Some(post)).await {
        Ok(jwt) => request_object(jwt),
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn response(AxumState(state): AxumState<Arc<State>>, body: Bytes) -> Response {
    match flow::response(&state, &body).await {
        ResponseOutcome::Accepted(reply) => no_store_json(StatusCode::OK, reply.to_value()),
        ResponseOutcome::Rejected(r) => r.into_response(),
        ResponseOutcome::Protocol(p) => p.into_response(),
        ResponseOutcome::Internal(e) => e.into_response(),
    }
}
