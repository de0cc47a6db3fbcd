//! Router tests for the composed application, driven with `oneshot` (no socket), with
//! test roles injected the way the binary injects real ones.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use tower::ServiceExt;

use super::*;
use crate::readiness::{AlwaysReady, ReadyFlag, ReadyFuture};

fn settings() -> HttpSettings {
    HttpSettings {
        request_timeout: Duration::from_secs(10),
        body_limit: 1024,
        readiness_timeout: Duration::from_millis(500),
    }
}

fn test_role(name: &'static str, readiness: impl Readiness + 'static) -> RoleService {
    let router = Router::new()
        .route("/hello", get(|| async { "hello" }))
        // A role route on a built-in path: the built-in endpoint must win at the root.
        .route("/healthz", get(|| async { "role healthz" }));
    RoleService::new(name, router, readiness)
}

async fn get_path(app: &Router, path: &str) -> Response {
    app.clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap()
}

async fn text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn json(response: Response) -> serde_json::Value {
    serde_json::from_str(&text(response).await).unwrap()
}

#[tokio::test]
async fn healthz_answers_without_roles() {
    let app = AppBuilder::new(settings()).build().unwrap();
    let response = get_path(&app, "/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await, serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn readyz_is_200_when_every_role_is_ready() {
    let app = AppBuilder::new(settings())
        .role(test_role("alpha", AlwaysReady))
        .role(test_role("beta", ReadyFlag::new(true, "unused")))
        .build()
        .unwrap();
    let response = get_path(&app, "/readyz").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(
        json(response).await,
        serde_json::json!({"status": "ready", "ready": ["alpha", "beta"], "not_ready": {}})
    );
}

#[tokio::test]
async fn readyz_is_503_naming_the_role_that_is_not_ready() {
    let flag = ReadyFlag::new(false, "database unreachable");
    let app = AppBuilder::new(settings())
        .role(test_role("alpha", AlwaysReady))
        .role(test_role("beta", flag.clone()))
        .build()
        .unwrap();
    let response = get_path(&app, "/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        json(response).await,
        serde_json::json!({
            "status": "not_ready",
            "ready": ["alpha"],
            "not_ready": {"beta": "database unreachable"}
        })
    );

    flag.set_ready(true);
    assert_eq!(get_path(&app, "/readyz").await.status(), StatusCode::OK);
}

struct Hangs;
impl Readiness for Hangs {
    fn check(&self) -> ReadyFuture<'_> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test(start_paused = true)]
async fn readyz_bounds_a_hanging_check_with_the_readiness_timeout() {
    let app = AppBuilder::new(settings())
        .role(test_role("slow", Hangs))
        .build()
        .unwrap();
    let response = get_path(&app, "/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        json(response).await["not_ready"]["slow"],
        "readiness check timed out"
    );
}

struct Panics;
impl Readiness for Panics {
    fn check(&self) -> ReadyFuture<'_> {
        Box::pin(async { panic!("check failed") })
    }
}

#[tokio::test]
async fn readyz_reports_a_panicking_check_as_not_ready() {
    let app = AppBuilder::new(settings())
        .role(test_role("fragile", Panics))
        .build()
        .unwrap();
    let response = get_path(&app, "/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        json(response).await["not_ready"]["fragile"],
        "readiness check failed"
    );
}

#[tokio::test]
async fn a_single_role_is_served_at_the_root() {
    let app = AppBuilder::new(settings())
        .mount(Mount::Root)
        .role(test_role("solo", AlwaysReady))
        .build()
        .unwrap();
    let hello = get_path(&app, "/hello").await;
    assert_eq!(hello.status(), StatusCode::OK);
    assert_eq!(text(hello).await, "hello");
    // The built-in liveness endpoint shadows the role's route of the same path.
    assert_eq!(
        json(get_path(&app, "/healthz").await).await,
        serde_json::json!({"status": "ok"})
    );
    assert_eq!(
        get_path(&app, "/solo/hello").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn several_roles_are_nested_under_their_names() {
    let app = AppBuilder::new(settings())
        .mount(Mount::Nested)
        .role(test_role("alpha", AlwaysReady))
        .role(test_role("beta", AlwaysReady))
        .build()
        .unwrap();
    assert_eq!(text(get_path(&app, "/alpha/hello").await).await, "hello");
    assert_eq!(text(get_path(&app, "/beta/hello").await).await, "hello");
    assert_eq!(
        text(get_path(&app, "/alpha/healthz").await).await,
        "role healthz"
    );
    let missing = get_path(&app, "/hello").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(json(missing).await["error"], "not_found");
}

#[tokio::test]
async fn metrics_count_role_requests_in_prometheus_text() {
    let handle = crate::metrics::install().unwrap();
    let app = AppBuilder::new(settings())
        .mount(Mount::Nested)
        .role(test_role("counted", AlwaysReady))
        .metrics(handle)
        .build()
        .unwrap();
    assert_eq!(
        get_path(&app, "/counted/hello").await.status(),
        StatusCode::OK
    );
    let response = get_path(&app, "/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let body = text(response).await;
    assert!(
        body.lines().any(|l| l.starts_with("http_requests_total{")
            && l.contains(r#"role="counted""#)
            && l.contains(r#"method="GET""#)
            && l.contains(r#"status="200""#)),
        "no request counter for the role in:\n{body}"
    );
    assert!(body.contains("http_request_duration_seconds_bucket{"));
}

#[tokio::test]
async fn metrics_route_is_absent_unless_asked_for() {
    let app = AppBuilder::new(settings()).build().unwrap();
    assert_eq!(
        get_path(&app, "/metrics").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn separate_metrics_router_serves_only_metrics() {
    let handle = crate::metrics::install().unwrap();
    let app = metrics_router(handle, &settings());
    assert_eq!(get_path(&app, "/metrics").await.status(), StatusCode::OK);
    assert_eq!(
        get_path(&app, "/healthz").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[test]
fn rejects_a_role_mounted_twice() {
    let err = AppBuilder::new(settings())
        .role(test_role("alpha", AlwaysReady))
        .role(test_role("alpha", AlwaysReady))
        .build()
        .unwrap_err();
    assert_eq!(err, AppError::DuplicateRole("alpha"));
}

#[test]
fn rejects_root_mount_with_two_roles() {
    let err = AppBuilder::new(settings())
        .mount(Mount::Root)
        .role(test_role("alpha", AlwaysReady))
        .role(test_role("beta", AlwaysReady))
        .build()
        .unwrap_err();
    assert_eq!(err, AppError::RootNeedsOneRole(2));
}

#[test]
fn rejects_root_mount_without_a_role() {
    let err = AppBuilder::new(settings())
        .mount(Mount::Root)
        .build()
        .unwrap_err();
    assert_eq!(err, AppError::RootNeedsOneRole(0));
}

#[test]
fn rejects_a_role_name_that_is_not_a_path_segment() {
    for bad in ["", "Issuer", "a/b", "a b"] {
        let err = AppBuilder::new(settings())
            .role(test_role(bad, AlwaysReady))
            .build()
            .unwrap_err();
        assert_eq!(err, AppError::InvalidRoleName(bad));
    }
}

#[test]
fn rejects_a_role_named_like_a_built_in_endpoint() {
    let err = AppBuilder::new(settings())
        .role(test_role("readyz", AlwaysReady))
        .build()
        .unwrap_err();
    assert_eq!(err, AppError::ReservedRoleName("readyz"));
}

#[tokio::test]
async fn root_routes_are_served_outside_the_role_prefix() {
    let role = test_role("issuer", AlwaysReady).with_root_route(
        "/.well-known/openid-credential-issuer/issuer",
        get(|| async { "metadata" }),
    );
    let app = AppBuilder::new(settings()).role(role).build().unwrap();
    let response = get_path(&app, "/.well-known/openid-credential-issuer/issuer").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, "metadata");
    assert_eq!(
        get_path(&app, "/issuer/hello").await.status(),
        StatusCode::OK
    );

    let alone = test_role("issuer", AlwaysReady)
        .with_root_route("/.well-known/jwt-vc-issuer", get(|| async { "jwks" }));
    let app = AppBuilder::new(settings())
        .mount(Mount::Root)
        .role(alone)
        .build()
        .unwrap();
    assert_eq!(
        text(get_path(&app, "/.well-known/jwt-vc-issuer").await).await,
        "jwks"
    );
    assert_eq!(text(get_path(&app, "/hello").await).await, "hello");
}

#[tokio::test]
async fn rejects_a_root_route_claimed_twice_or_shadowing_a_built_in() {
    let a = test_role("a", AlwaysReady).with_root_route("/.well-known/x", get(|| async { "a" }));
    let b = test_role("b", AlwaysReady).with_root_route("/.well-known/x", get(|| async { "b" }));
    assert_eq!(
        AppBuilder::new(settings())
            .role(a)
            .role(b)
            .build()
            .unwrap_err(),
        AppError::RootRouteConflict("/.well-known/x".into())
    );
    let c = test_role("c", AlwaysReady).with_root_route("/healthz", get(|| async { "c" }));
    assert_eq!(
        AppBuilder::new(settings()).role(c).build().unwrap_err(),
        AppError::RootRouteConflict("/healthz".into())
    );
}
