//! Prometheus metrics: the process-wide recorder, the `/metrics` handler and the
//! per-request counters every role gets for free.
//!
//! The `metrics` facade has one global recorder per process; [`install`] sets it once and
//! hands out clones of its handle afterwards, so tests and the binary can both call it.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

/// Counter: connections refused because their peer address held
/// `server.max_connections_per_peer` already.
pub const HTTP_CONNECTIONS_REFUSED_TOTAL: &str = "http_connections_refused_total";

/// Requests answered, by `role`, `method` and `status`.
pub const HTTP_REQUESTS_TOTAL: &str = "http_requests_total";
/// Request latency histogram, by `role` and `method`.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "http_request_duration_seconds";

/// Latency buckets: sub-millisecond signature checks up to the default 30 s deadline.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The recorder could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The exporter refused its configuration.
    #[error("cannot build the Prometheus recorder: {0}")]
    Build(#[from] BuildError),
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static INSTALL: Mutex<()> = Mutex::new(());

/// Installs the Prometheus recorder as the process's global `metrics` recorder (first
/// call) and returns its handle (every call).
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    // Serialize first installs: two concurrent callers must not both build a recorder.
    let _guard = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(HTTP_REQUEST_DURATION_SECONDS.to_owned()),
            LATENCY_BUCKETS,
        )?
        .install_recorder()?;
    metrics::describe_counter!(
        HTTP_REQUESTS_TOTAL,
        "HTTP requests answered, by role, method and status"
    );
    metrics::describe_counter!(
        HTTP_CONNECTIONS_REFUSED_TOTAL,
        "connections refused over the per-peer connection cap"
    );
    metrics::describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "HTTP request latency, by role and method"
    );
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// `GET /metrics`: the Prometheus text exposition format.
pub async fn render(State(handle): State<PrometheusHandle>) -> Response {
    // Upkeep drains histogram samples; doing it at scrape time needs no background task.
    handle.run_upkeep();
    let mut response = handle.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Which role a request path belongs to, for the `role` label.
#[derive(Clone, Debug)]
pub(crate) enum RoleLabels {
    /// One role mounted at `/`.
    Root(&'static str),
    /// Roles nested under `/<role>`.
    Nested(Arc<[&'static str]>),
}

/// Paths of the built-in endpoints; probes and scrapes are not counted as traffic.
pub(crate) const BUILT_IN_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

impl RoleLabels {
    /// The `role` label for `path`, or `None` for built-in endpoints. Unknown paths get a
    /// fixed label so a scanner cannot grow the label set.
    fn label(&self, path: &str) -> Option<&'static str> {
        if BUILT_IN_PATHS.contains(&path) {
            return None;
        }
        match self {
            RoleLabels::Root(role) => Some(role),
            RoleLabels::Nested(roles) => {
                let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
                Some(
                    roles
                        .iter()
                        .copied()
                        .find(|r| *r == first)
                        .unwrap_or("unmatched"),
                )
            }
        }
    }
}

/// Only registered methods become label values; anything else is `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware counting requests and timing them.
pub(crate) async fn record(
    State(labels): State<RoleLabels>,
    request: Request,
    next: Next,
) -> Response {
    let Some(role) = labels.label(request.uri().path()) else {
        return next.run(request).await;
    };
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(HTTP_REQUESTS_TOTAL, "role" => role, "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!(HTTP_REQUEST_DURATION_SECONDS, "role" => role, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_is_idempotent() {
        let a = install().unwrap();
        let b = install().unwrap();
        metrics::counter!("symbolon_test_idempotent_total").increment(1);
        assert!(a.render().contains("symbolon_test_idempotent_total"));
        assert!(b.render().contains("symbolon_test_idempotent_total"));
    }

    #[test]
    fn labels_nested_paths_by_their_first_segment() {
        let labels = RoleLabels::Nested(Arc::from(vec!["issuer", "verifier"]));
        assert_eq!(labels.label("/issuer/token"), Some("issuer"));
        assert_eq!(labels.label("/verifier"), Some("verifier"));
        assert_eq!(labels.label("/issuerx/token"), Some("unmatched"));
        assert_eq!(labels.label("/readyz"), None);
    }

    #[test]
    fn labels_every_root_path_with_the_single_role() {
        let labels = RoleLabels::Root("issuer");
        assert_eq!(labels.label("/token"), Some("issuer"));
        assert_eq!(labels.label("/healthz"), None);
    }

    #[test]
    fn unregistered_methods_share_one_label() {
        let custom = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&custom), "other");
        assert_eq!(method_label(&Method::POST), "POST");
    }
}
