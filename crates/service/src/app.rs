//! Composes role routers into the application a listener serves.
//!
//! - One role alone ([`Mount::Root`]) is served at `/`; several roles, or the `all` mode
//!   ([`Mount::Nested`]), each under `/<role>` (e.g. `/issuer/token`).
//! - `GET /healthz` (liveness: 200 while the process serves), `GET /readyz` (readiness:
//!   200 only when every mounted role's [`Readiness`] check passes, else 503 naming the
//!   roles that are not ready) and, when a metrics handle is given, `GET /metrics` are
//!   always at the root and take precedence over role routes.
//! - The standard [`layers`] and request metrics wrap everything.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::layers::{self, HttpSettings};
use crate::metrics::{BUILT_IN_PATHS, RoleLabels};
use crate::readiness::{NotReady, Readiness};

/// A role's router together with its name (the mount path) and readiness check.
#[derive(Clone)]
pub struct RoleService {
    name: &'static str,
    router: Router,
    readiness: Arc<dyn Readiness>,
    root_routes: Vec<(String, MethodRouter)>,
    drain: Option<Drain>,
}

/// What a role does when the process is asked to stop, besides finishing its HTTP
/// requests: a role holding long-lived connections (the engine's WebSockets) tells its
/// clients and lets them finish. The future resolves once the role is done; the process
/// waits for it at most the shutdown grace period.
pub type Drain =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

impl std::fmt::Debug for RoleService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleService")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl RoleService {
    /// A role named `name` (lowercase, e.g. `issuer`) serving `router`.
    pub fn new(name: &'static str, router: Router, readiness: impl Readiness + 'static) -> Self {
        RoleService {
            name,
            router,
            readiness: Arc::new(readiness),
            root_routes: Vec::new(),
            drain: None,
        }
    }

    /// Runs `drain` when the process is asked to stop (see [`Drain`]).
    #[must_use]
    pub fn with_drain(mut self, drain: Drain) -> Self {
        self.drain = Some(drain);
        self
    }

    /// Serves `route` at `path` from the root of the listener, whatever the mount: for the
    /// well-known documents that path insertion (RFC 8414 §3.1, OpenID4VCI §12.2.2, SD-JWT
    /// VC §3) puts outside the role's own prefix (`/.well-known/openid-credential-issuer/
    /// issuer` for a role nested under `/issuer`).
    #[must_use]
    pub fn with_root_route(mut self, path: impl Into<String>, route: MethodRouter) -> Self {
        self.root_routes.push((path.into(), route));
        self
    }

    /// The role's name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// Where role routers are mounted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mount {
    /// Exactly one role, at `/`.
    Root,
    /// Each role under `/<role>`.
    Nested,
}

/// The roles cannot be composed as asked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AppError {
    /// A role name must be a path segment of lowercase letters, digits and `-`.
    #[error("role name `{0}` is not a lowercase path segment")]
    InvalidRoleName(&'static str),
    /// A role name would shadow `/healthz`, `/readyz` or `/metrics`.
    #[error("role name `{0}` collides with a built-in endpoint")]
    ReservedRoleName(&'static str),
    /// The same role was given twice.
    #[error("role `{0}` is mounted twice")]
    DuplicateRole(&'static str),
    /// [`Mount::Root`] serves exactly one role.
    #[error("mounting at `/` needs exactly one role, got {0}")]
    RootNeedsOneRole(usize),
    /// Two roles (or one role twice) asked for the same root route, or a root route is
    /// not an absolute path or shadows a built-in endpoint.
    #[error(
        "root route `{0}` is claimed twice, or is not an absolute path outside the built-in endpoints"
    )]
    RootRouteConflict(String),
}

/// Builds the application router.
#[derive(Debug)]
pub struct AppBuilder {
    settings: HttpSettings,
    mount: Mount,
    roles: Vec<RoleService>,
    metrics: Option<PrometheusHandle>,
}

impl AppBuilder {
    /// An application with the given limits, no roles, nested mounting and no
    /// `/metrics` route.
    pub fn new(settings: HttpSettings) -> Self {
        AppBuilder {
            settings,
            mount: Mount::Nested,
            roles: Vec::new(),
            metrics: None,
        }
    }

    /// Sets how roles are mounted.
    #[must_use]
    pub fn mount(mut self, mount: Mount) -> Self {
        self.mount = mount;
        self
    }

    /// Adds a role.
    #[must_use]
    pub fn role(mut self, role: RoleService) -> Self {
        self.roles.push(role);
        self
    }

    /// Serves `GET /metrics` from this handle on the application router (leave it out
    /// when metrics go to a separate listener, see [`metrics_router`]).
    #[must_use]
    pub fn metrics(mut self, handle: PrometheusHandle) -> Self {
        self.metrics = Some(handle);
        self
    }

    /// The roles' drains (see [`RoleService::with_drain`]), to run at shutdown.
    pub fn drains(&self) -> Vec<Drain> {
        self.roles.iter().filter_map(|r| r.drain.clone()).collect()
    }

    /// Checks the roles and builds the router.
    pub fn build(self) -> Result<Router, AppError> {
        let mut names: Vec<&'static str> = Vec::with_capacity(self.roles.len());
        for role in &self.roles {
            check_name(role.name)?;
            if names.contains(&role.name) {
                return Err(AppError::DuplicateRole(role.name));
            }
            names.push(role.name);
        }
        let checks: Arc<[(&'static str, Arc<dyn Readiness>)]> = self
            .roles
            .iter()
            .map(|r| (r.name, Arc::clone(&r.readiness)))
            .collect();
        let ready = ReadyState {
            checks,
            timeout: self.settings.readiness_timeout,
        };

        let mut router = Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz).with_state(ready));
        if let Some(handle) = self.metrics {
            router = router.route("/metrics", get(crate::metrics::render).with_state(handle));
        }
        let mut root_paths: Vec<&str> = Vec::new();
        for role in &self.roles {
            for (path, route) in &role.root_routes {
                let taken = root_paths.contains(&path.as_str())
                    || BUILT_IN_PATHS.contains(&path.as_str())
                    || !path.starts_with('/');
                if taken {
                    return Err(AppError::RootRouteConflict(path.clone()));
                }
                root_paths.push(path);
                router = router.route(path, route.clone());
            }
        }

        let labels = match self.mount {
            Mount::Root => {
                let mut roles = self.roles.into_iter();
                let (Some(role), None) = (roles.next(), roles.next()) else {
                    return Err(AppError::RootNeedsOneRole(names.len()));
                };
                // As the fallback, the role sees every path the built-in routes do not
                // claim, and a role route can never collide with them.
                router = router.fallback_service(role.router);
                RoleLabels::Root(role.name)
            }
            Mount::Nested => {
                for role in self.roles {
                    router = router.nest(&format!("/{}", role.name), role.router);
                }
                router = router.fallback(|| async { ApiError::not_found() });
                RoleLabels::Nested(Arc::from(names))
            }
        };

        let router = layers::apply(router, &self.settings);
        Ok(router.layer(middleware::from_fn_with_state(
            labels,
            crate::metrics::record,
        )))
    }
}

/// A router serving only `GET /metrics`, for a separate metrics listener.
pub fn metrics_router(handle: PrometheusHandle, settings: &HttpSettings) -> Router {
    let router = Router::new()
        .route("/metrics", get(crate::metrics::render))
        .with_state(handle)
        .fallback(|| async { ApiError::not_found() });
    layers::apply(router, settings)
}

fn check_name(name: &'static str) -> Result<(), AppError> {
    let well_formed = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !well_formed {
        return Err(AppError::InvalidRoleName(name));
    }
    if BUILT_IN_PATHS
        .iter()
        .any(|p| p.strip_prefix('/') == Some(name))
    {
        return Err(AppError::ReservedRoleName(name));
    }
    Ok(())
}

#[derive(Clone)]
struct ReadyState {
    checks: Arc<[(&'static str, Arc<dyn Readiness>)]>,
    timeout: std::time::Duration,
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn healthz() -> Response {
    no_store(axum::Json(json!({"status": "ok"})).into_response())
}

async fn readyz(State(state): State<ReadyState>) -> Response {
    // Run the checks concurrently so one slow dependency costs one timeout, not several.
    let mut tasks = tokio::task::JoinSet::new();
    for (index, (_, check)) in state.checks.iter().enumerate() {
        let check = Arc::clone(check);
        let limit = state.timeout;
        tasks.spawn(async move {
            let result = match tokio::time::timeout(limit, check.check()).await {
                Ok(result) => result,
                Err(_) => Err(NotReady::new("readiness check timed out")),
            };
            (index, result)
        });
    }
    let mut results: Vec<Option<Result<(), NotReady>>> = vec![None; state.checks.len()];
    while let Some(joined) = tasks.join_next().await {
        if let Ok((index, result)) = joined
            && let Some(slot) = results.get_mut(index)
        {
            *slot = Some(result);
        }
    }

    let mut ready = Vec::new();
    let mut not_ready = Map::new();
    for ((name, _), result) in state.checks.iter().zip(results) {
        // A check that panicked left its slot empty.
        match result.unwrap_or_else(|| Err(NotReady::new("readiness check failed"))) {
            Ok(()) => ready.push(Value::from(*name)),
            Err(e) => {
                tracing::warn!(role = name, reason = e.reason(), "role not ready");
                not_ready.insert((*name).to_owned(), Value::from(e.reason()));
            }
        }
    }
    let (status, word) = if not_ready.is_empty() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    };
    let body = json!({"status": word, "ready": ready, "not_ready": not_ready});
    no_store((status, axum::Json(body)).into_response())
}

#[cfg(test)]
mod tests;
