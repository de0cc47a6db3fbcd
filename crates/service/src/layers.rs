//! The standard tower stack every Symbolon listener runs: a tracing span per request, a
//! per-request deadline and a body-size limit. Both limits answer with an [`ApiError`]
//! body, like every other error.
//!
//! The deadline tells a slow server from a slow client: when it fires while the handler
//! is waiting for request body bytes that have not arrived, the client stalled and gets
//! `408`; otherwise the server took too long and the answer is `503`. axum's own plain-text
//! or empty rejections (wrong method, undeserializable query or form) become JSON errors
//! too.
//!
//! [`no_store`] is for a role's own routes, not the standard stack: the one place a role
//! says that the answers of some routes must never be cached.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::error::{ApiError, codes};

/// Limits applied to every request, from the `[server]` config section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpSettings {
    /// Deadline for a whole request; past it the client gets `503 temporarily_unavailable`,
    /// or `408 invalid_request` when the request body was still being waited for.
    pub request_timeout: Duration,
    /// Largest accepted request body, in bytes; a larger one gets `413 invalid_request`.
    pub body_limit: usize,
    /// Deadline for each role's readiness check in `/readyz`.
    pub readiness_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            request_timeout: Duration::from_secs(30),
            body_limit: 1024 * 1024,
            readiness_timeout: Duration::from_secs(2),
        }
    }
}

/// Wraps `router` (routes and fallback) in the standard stack, outermost first: trace
/// span, deadline, body limit, JSON rejections.
pub fn apply(router: Router, settings: &HttpSettings) -> Router {
    router
        .layer(middleware::from_fn(plain_rejections_as_api_errors))
        // Extractors (`Json`, `Form`, `Bytes`) enforce their own limit; keep it equal.
        .layer(DefaultBodyLimit::max(settings.body_limit))
        .layer(RequestBodyLimitLayer::new(settings.body_limit))
        .layer(middleware::from_fn_with_state(
            settings.body_limit,
            body_too_large_as_api_error,
        ))
        .layer(middleware::from_fn_with_state(
            settings.request_timeout,
            deadline,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(Level::DEBUG))
                .on_failure(DefaultOnFailure::new().level(Level::WARN)),
        )
}

/// The span of one request. Only the path is recorded: query strings can carry
/// authorization codes, `tx_code`s and nonces.
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
    )
}

async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    let waiting = Arc::new(AtomicBool::new(false));
    let request = request.map(|inner| {
        Body::new(WatchedBody {
            inner,
            waiting: Arc::clone(&waiting),
        })
    });
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) if waiting.load(Ordering::Acquire) => {
            tracing::info!(timeout = ?limit, "request body stalled");
            let mut response = ApiError::new(StatusCode::REQUEST_TIMEOUT, codes::INVALID_REQUEST)
                .with_description("the request body did not arrive in time")
                .into_response();
            // The rest of the body may still be on its way: the connection cannot be reused.
            response.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            response
        }
        Err(_) => {
            tracing::warn!(timeout = ?limit, "request deadline exceeded");
            ApiError::unavailable()
                .with_description("the request took too long")
                .into_response()
        }
    }
}

/// A request body that records whether its reader is waiting for the client: set when a
/// read is pending, cleared when a frame (or the end, or an error) arrives.
struct WatchedBody {
    inner: Body,
    waiting: Arc<AtomicBool>,
}

impl http_body::Body for WatchedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let poll = Pin::new(&mut self.inner).poll_frame(cx);
        self.waiting.store(poll.is_pending(), Ordering::Release);
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Largest plain-text rejection carried over into an `error_description`; axum's own are a
/// line long, anything bigger is not one of them.
const MAX_REJECTION_TEXT: usize = 1024;

/// axum answers what never reaches a handler (a method the route does not have, a query
/// string or form that does not deserialize, a missing `Content-Type`) with plain text or
/// an empty body. Clients of every role parse `{"error": …}`, so rewrite those into the
/// usual JSON error, keeping the headers (`Allow` on a 405). The text of axum's rejections
/// is its `Display` output, written for the client developer; nothing internal is in it.
async fn plain_rejections_as_api_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    let rejection_status = matches!(
        status,
        StatusCode::BAD_REQUEST
            | StatusCode::NOT_FOUND
            | StatusCode::METHOD_NOT_ALLOWED
            | StatusCode::LENGTH_REQUIRED
            | StatusCode::UNSUPPORTED_MEDIA_TYPE
            | StatusCode::UNPROCESSABLE_ENTITY
    );
    let plain = match response.headers().get(header::CONTENT_TYPE) {
        None => true,
        Some(v) => v.as_bytes().starts_with(b"text/plain"),
    };
    if !rejection_status || !plain {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_REJECTION_TEXT)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .map(|t| t.trim().to_owned())
        .unwrap_or_default();
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::not_found(),
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            ApiError::new(status, codes::INVALID_REQUEST).with_description(format!(
                "method {method} is not allowed here; allowed: {allowed}"
            ))
        }
        _ if text.is_empty() => ApiError::new(status, codes::INVALID_REQUEST),
        _ => ApiError::new(status, codes::INVALID_REQUEST).with_description(text),
    };
    let mut rewritten = error.into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name, value.clone());
        }
    }
    rewritten
}

/// `RequestBodyLimitLayer` and the body extractors answer an oversized body with a
/// plain-text 413; rewrite it into the usual JSON error. A JSON 413 a handler produced
/// itself is left alone.
async fn body_too_large_as_api_error(
    State(limit): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, codes::INVALID_REQUEST)
            .with_description(format!("the request body exceeds {limit} bytes"))
            .into_response();
    }
    response
}

/// `Cache-Control: no-store` on every answer of the routes it wraps (with
/// `Router::route_layer`), successes and refusals alike: for answers that carry tokens,
/// nonces, codes, offers or per-caller data, which no cache may keep (RFC 6749 §5.1,
/// OpenID4VCI 1.0 §7.2, RFC 9111 §5.2.2.5). It overrides whatever the handler set, so no
/// handler can weaken it by accident.
pub fn no_store() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::{get, post};
    use tower::ServiceExt;

    fn settings() -> HttpSettings {
        HttpSettings {
            request_timeout: Duration::from_secs(5),
            body_limit: 16,
            readiness_timeout: Duration::from_secs(1),
        }
    }

    fn app() -> Router {
        let router = Router::new()
            .route("/echo", post(|body: Bytes| async move { body }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    "late"
                }),
            );
        apply(router, &settings())
    }

    async fn json(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_body_within_the_limit_passes() {
        let response = app()
            .oneshot(
                Request::post("/echo")
                    .body(Body::from("0123456789abcdef"))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn rejects_a_body_over_the_limit_with_a_json_error() {
        let response = app()
            .oneshot(
                Request::post("/echo")
                    .body(Body::from("0123456789abcdef!"))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body = json(response).await;
        assert_eq!(body["error"], "invalid_request");
    }

    #[tokio::test]
    async fn rejects_a_declared_length_over_the_limit_before_reading() {
        // With a Content-Length the limit layer answers before the handler runs; without
        // one (the test above) the limit is enforced while the body is read.
        let response = app()
            .oneshot(
                Request::post("/echo")
                    .header(header::CONTENT_LENGTH, "17")
                    .body(Body::from("0123456789abcdef!"))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(json(response).await["error"], "invalid_request");
    }

    #[tokio::test(start_paused = true)]
    async fn rejects_a_request_past_its_deadline() {
        let response = app()
            .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(json(response).await["error"], "temporarily_unavailable");
    }

    /// A body whose next bytes never come: a client that stalled mid-body.
    struct Stalled;

    impl http_body::Body for Stalled {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            Poll::Pending
        }
    }

    #[tokio::test(start_paused = true)]
    async fn issue10_stalled_request_body_gets_408_not_503() {
        let response = app()
            .oneshot(Request::post("/echo").body(Body::new(Stalled)).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(response.headers()[header::CONNECTION], "close");
        assert_eq!(json(response).await["error"], "invalid_request");
    }

    #[derive(Debug, serde::Deserialize)]
    struct Page {
        #[allow(dead_code, reason = "only deserialized")]
        limit: Option<u32>,
    }

    fn app_with_query() -> Router {
        let router = Router::new().route(
            "/items",
            get(|_: axum::extract::Query<Page>| async { "items" }),
        );
        apply(router, &settings())
    }

    #[tokio::test]
    async fn issue10_method_not_allowed_answers_json_keeping_allow() {
        let response = app_with_query()
            .oneshot(Request::delete("/items").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        let allow = response.headers()[header::ALLOW]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(allow.contains("GET"), "{allow}");
        let body = json(response).await;
        assert_eq!(body["error"], "invalid_request");
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains("DELETE"), "{description}");
    }

    #[tokio::test]
    async fn issue10_query_string_errors_answer_json_invalid_request() {
        let response = app_with_query()
            .oneshot(
                Request::get("/items?limit=many")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(
            response.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let body = json(response).await;
        assert_eq!(body["error"], "invalid_request");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("limit"),
            "{body}"
        );
        // A well-formed query still reaches the handler.
        let response = app_with_query()
            .oneshot(Request::get("/items?limit=5").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn json_errors_from_handlers_are_left_alone() {
        let router = Router::new().route(
            "/teapot",
            get(|| async { ApiError::bad_request("invalid_proof").with_description("nope") }),
        );
        let response = apply(router, &settings())
            .oneshot(Request::get("/teapot").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let body = json(response).await;
        assert_eq!(body["error"], "invalid_proof");
        assert_eq!(body["error_description"], "nope");
    }

    #[tokio::test]
    async fn issue11_no_store_marks_every_answer_of_the_wrapped_routes_only() {
        let router = Router::new()
            .route("/secret", get(|| async { "token" }))
            .route(
                "/cached",
                get(|| async { ([(header::CACHE_CONTROL, "public, max-age=60")], "x") }),
            )
            .route(
                "/refused",
                get(|| async { ApiError::bad_request(codes::INVALID_REQUEST) }),
            )
            .route_layer(no_store())
            .route("/public", get(|| async { "doc" }));
        for (path, status) in [
            ("/secret", StatusCode::OK),
            ("/cached", StatusCode::OK),
            ("/refused", StatusCode::BAD_REQUEST),
        ] {
            let response = router
                .clone()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), status, "{path}");
            let values: Vec<_> = response
                .headers()
                .get_all(header::CACHE_CONTROL)
                .iter()
                .collect();
            assert_eq!(values, ["no-store"], "{path}");
        }
        let public = router
            .oneshot(Request::get("/public").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert!(public.headers().get(header::CACHE_CONTROL).is_none());
    }
}
