//! What every Symbolon role shares, and nothing role-specific:
//!
//! - [`readiness`]: how a role tells `/readyz` whether it can take traffic;
//! - [`app`]: composes role routers with `/healthz`, `/readyz` and `/metrics`, mounting a
//!   single role at `/` and several roles under `/<role>`;
//! - [`layers`]: the standard tower stack (trace spans, request timeout, body-size limit,
//!   request metrics) and its [`HttpSettings`];
//! - [`error`]: [`ApiError`], the OAuth-style JSON error response
//!   (`{"error": code, "error_description": ...}`) that never carries internals;
//! - [`metrics`]: the process-wide Prometheus recorder;
//! - [`shutdown`]: SIGINT/SIGTERM handling and [`serve`] with a drain
//!   deadline;
//! - [`connections`]: the listener's header read timeout and per-peer connection cap;
//! - [`config`]: helpers every config section uses (key-naming errors, human durations,
//!   redacted secrets);
//! - [`http`]: the SSRF-guarded outbound client, defined in `symbolon-http-client` so the
//!   wallet core can use it without linking this crate's server plumbing.
//!
//! A role crate exposes `router(state) -> axum::Router` plus a [`Readiness`]; the binary
//! hands both to [`app::AppBuilder`].

pub mod app;
pub mod auth;
pub mod batch;
pub mod config;
pub mod connections;
pub mod error;
pub mod layers;
pub mod metrics;
pub mod readiness;
pub mod shutdown;

pub use http_client as http;

pub use app::{AppBuilder, AppError, Drain, Mount, RoleService};
pub use auth::{AdminCaller, AdminTokens};
pub use connections::ListenerSettings;
pub use error::ApiError;
pub use layers::HttpSettings;
pub use readiness::{AlwaysReady, NotReady, Readiness, ReadyFlag};
pub use shutdown::{Shutdown, serve, serve_with_settings, serve_with_shutdown, shutdown_signal};
