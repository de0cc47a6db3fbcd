//! The wallet-facing endpoints: the request URI (GET and POST, OpenID4VP §5.10) and the
//! response URI (`direct_post`, `direct_post.jwt`, §8.2, §8.3.1).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oid4vp::RequestUriPost;
use oid4vp::request::object::MEDIA_TYPE;
use service::ApiError;
use service::error::codes;

use super::json;
use super::openapi::{ErrorBody, RequestUriForm, ResponseAccepted, ResponseForm};
use crate::flow::{self, ResponseOutcome};
use crate::state::State;

fn request_object(jwt: String) -> Response {
    let mut response = jwt.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    response
}

/// The signed request object of a transaction (`request_uri_method=get`).
#[utoipa::path(
    get,
    path = "/request/{request_id}",
    operation_id = "get_request_object",
    tag = "wallet",
    params(("request_id" = String, Path, description = "From the `request_uri`.")),
    responses(
        (status = 200, description = "The signed request object (a JWT).",
         content_type = "application/oauth-authz-req+jwt", body = String,
         headers(("cache-control" = String, description = "`no-store`"))),
        (status = 400, description = "`transaction_expired`, `transaction_answered`, \
                                      `transaction_unusable`: the transaction is no longer \
                                      pending or usable.", body = ErrorBody),
        (status = 404, description = "`not_found`: no pending transaction has this request \
                                      id, or its request travels by value (`redirect_uri`).",
         body = ErrorBody),
        (status = 500, description = "`server_error`.", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the transaction store \
                                      cannot be reached.", body = ErrorBody),
    )
)]
pub(crate) async fn request_get(
    AxumState(state): AxumState<Arc<State>>,
    Path(request_id): Path<String>,
) -> Response {
    match flow::request_object(&state, &request_id, None).await {
        Ok(jwt) => request_object(jwt),
        Err(e) => e.into_response(),
    }
}

/// The signed request object of a transaction, for a wallet that sends its metadata
/// (`request_uri_method=post`, OpenID4VP §5.10).
#[utoipa::path(
    post,
    path = "/request/{request_id}",
    operation_id = "post_request_object",
    tag = "wallet",
    params(("request_id" = String, Path, description = "From the `request_uri`.")),
    // Optional (an empty body is a POST without metadata): `ApiDoc`'s modifier marks it so,
    // since an `Option` here would put `null` among the form's schemas.
    request_body(content = RequestUriForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The signed request object (a JWT).",
         content_type = "application/oauth-authz-req+jwt", body = String,
         headers(("cache-control" = String, description = "`no-store`"))),
        (status = 400, description = "`transaction_expired`, `transaction_answered`, \
                                      `transaction_unusable`: the transaction is no longer \
                                      pending or usable; `invalid_request`: a parameter given twice, \
                                      unparsable `wallet_metadata`, or metadata this request \
                                      cannot meet; `vp_formats_not_supported`: the wallet \
                                      does not support `dc+sd-jwt`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no pending transaction has this request \
                                      id, or its request travels by value (`redirect_uri`).",
         body = ErrorBody),
        (status = 500, description = "`server_error`.", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the transaction store \
                                      cannot be reached.", body = ErrorBody),
    )
)]
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

/// The only body the response endpoint takes (OpenID4VP §8.2: `direct_post` sends the
/// parameters "using the `application/x-www-form-urlencoded` format"; `direct_post.jwt`
/// sends `response=<JWE>` the same way, §8.3.1).
const FORM: &str = "application/x-www-form-urlencoded";

/// Whether the `Content-Type` is the form media type, parameters (`charset`) allowed.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(FORM))
}

/// The response URI: the wallet's answer (`direct_post`, `direct_post.jwt`).
#[utoipa::path(
    post,
    path = "/response",
    operation_id = "post_response",
    tag = "wallet",
    request_body(content = ResponseForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The response was taken (the transaction is answered).",
         body = ResponseAccepted,
         headers(("cache-control" = String, description = "`no-store`"))),
        (status = 400, description = "The presentation was refused (the transaction is \
                                      failed; `error` is the rejection code, e.g. \
                                      `invalid_signature`, `wrong_nonce`, \
                                      `credential_revoked`), or nothing changed: \
                                      `invalid_request`, `invalid_state`, \
                                      `transaction_answered`, `transaction_expired`, \
                                      `invalid_response_encryption`, `transaction_unusable`.",
         body = ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not \
                                      `application/x-www-form-urlencoded`.", body = ErrorBody,
         headers(("accept-post" = String, description = "`application/x-www-form-urlencoded`"))),
        (status = 500, description = "`server_error`.", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: a store, a status list or \
                                      issuer metadata cannot be reached; the transaction \
                                      stays pending and the wallet may retry.",
         body = ErrorBody),
    )
)]
pub(crate) async fn response(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // A JSON or multipart body is never parsed as a form by accident: refused with 415
    // (the media type, not the content, is wrong), code `invalid_request` like every other
    // malformed response, and `Accept-Post` naming the one media type taken. Nothing about
    // the transaction is looked at or changed.
    if !is_form(&headers) {
        let mut refused = ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, codes::INVALID_REQUEST)
            .with_description(format!("the response must be sent as {FORM}"))
            .into_response();
        refused
            .headers_mut()
            .insert("accept-post", HeaderValue::from_static(FORM));
        return refused;
    }
    match flow::response(&state, &body).await {
        ResponseOutcome::Accepted(reply) => json(StatusCode::OK, reply.to_value()),
        ResponseOutcome::Rejected(r) => r.into_response(),
        ResponseOutcome::Protocol(p) => p.into_response(),
        ResponseOutcome::Internal(e) => e.into_response(),
    }
}
