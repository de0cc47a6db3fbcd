//! `symbolon serve --mode=<role>[,<role>…]`: load the configuration, build the routers
//! of the requested roles, and serve them (plus `/healthz`, `/readyz`, `/metrics`) until
//! SIGINT/SIGTERM.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use service::app::metrics_router;
use service::{AppBuilder, Shutdown, serve_with_shutdown, shutdown_signal};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::mode::{self, Plan, Role, RoleContext};

/// `symbolon serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Roles to serve, comma-separated (issuer, verifier, attester, engine, auth, storage,
    /// registry, backend, gateway, or all). One role alone is served at `/`; several, or
    /// `all`, each under `/<role>`.
    #[arg(
        long,
        env = "SYMBOLON_MODE",
        value_name = "ROLE[,ROLE…]",
        value_delimiter = ',',
        required = true,
        value_parser = mode::parse_role
    )]
    mode: Vec<Role>,
    /// Config file (TOML); without it, defaults and SYMBOLON_* variables apply.
    #[arg(long, env = "SYMBOLON_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Runs `serve`.
pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let (config, plan) = mode::load(args.config.as_deref(), &args.mode)?;
    let config = Arc::new(config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config, plan))
}

/// The application router for `plan`, with `/metrics` on it when metrics are enabled
/// and not sent to a separate listener.
pub(crate) async fn build_app(config: &Arc<Config>, plan: &Plan) -> anyhow::Result<Router> {
    let mut app = AppBuilder::new(config.server.http()).mount(plan.mount);
    for (role, build) in &plan.roles {
        let service = build(RoleContext::new(config, plan, *role)?)
            .await
            .with_context(|| format!("cannot start role `{}`", role.name()))?;
        app = app.role(service);
    }
    if config.metrics.enabled && config.metrics.listen.is_none() {
        app = app.metrics(service::metrics::install()?);
    }
    Ok(app.build()?)
}

async fn serve(config: Arc<Config>, plan: Plan) -> anyhow::Result<()> {
    let app = build_app(&config, &plan).await?;
    let names: Vec<&str> = plan.roles.iter().map(|(r, _)| r.name()).collect();
    if names.is_empty() {
        tracing::warn!(
            "no role is implemented in this build yet: serving only /healthz, /readyz and /metrics"
        );
    }

    let listener = TcpListener::bind(config.server.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (`server.listen`)",
                config.server.listen
            )
        })?;
    let metrics_listener = match config.metrics.listen {
        Some(addr) if config.metrics.enabled => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (`metrics.listen`)"))?,
        ),
        _ => None,
    };

    let shutdown = Shutdown::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        trigger.trigger();
    });

    let grace = config.server.shutdown_grace;
    tracing::info!(addr = %listener.local_addr()?, roles = ?names, mount = ?plan.mount, "listening");
    let main = serve_with_shutdown(listener, app, shutdown.triggered(), grace);
    match metrics_listener {
        Some(metrics_listener) => {
            tracing::info!(addr = %metrics_listener.local_addr()?, "metrics listening");
            let metrics_app = metrics_router(service::metrics::install()?, &config.server.http());
            let metrics =
                serve_with_shutdown(metrics_listener, metrics_app, shutdown.triggered(), grace);
            tokio::try_join!(main, metrics).context("server failed")?;
        }
        None => main.await.context("server failed")?,
    }
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::extract::Request;
    use axum::http::StatusCode;
    use tower::ServiceExt;

    use super::*;
    use crate::mode::plan_in;
    use crate::mode::tests::TEST_REGISTRY;

    fn config(vars: &[(&str, &str)]) -> Arc<Config> {
        let env = vars.iter().map(|(k, v)| ((*k).into(), (*v).into()));
        Arc::new(crate::config::load(None, env).unwrap())
    }

    async fn status(app: &Router, path: &str) -> StatusCode {
        app.clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap()
            .status()
    }

    #[tokio::test]
    async fn one_role_is_served_at_the_root_with_the_built_in_endpoints() {
        let plan = plan_in(TEST_REGISTRY, &[Role::Issuer]).unwrap();
        let app = build_app(
            &config(&[("SYMBOLON_SERVER__ALLOW_HTTP_LOOPBACK", "true")]),
            &plan,
        )
        .await
        .unwrap();
        assert_eq!(status(&app, "/hello").await, StatusCode::OK);
        assert_eq!(status(&app, "/healthz").await, StatusCode::OK);
        assert_eq!(status(&app, "/readyz").await, StatusCode::OK);
        assert_eq!(status(&app, "/metrics").await, StatusCode::OK);
    }

    #[tokio::test]
    async fn all_nests_each_role_under_its_name() {
        let plan = plan_in(TEST_REGISTRY, &[Role::All]).unwrap();
        let app = build_app(&config(&[]), &plan).await.unwrap();
        assert_eq!(status(&app, "/issuer/hello").await, StatusCode::OK);
        assert_eq!(status(&app, "/verifier/hello").await, StatusCode::OK);
        assert_eq!(status(&app, "/hello").await, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn metrics_leave_the_main_listener_when_disabled_or_moved() {
        let plan = plan_in(TEST_REGISTRY, &[Role::All]).unwrap();
        for vars in [
            &[("SYMBOLON_METRICS__ENABLED", "false")][..],
            &[("SYMBOLON_METRICS__LISTEN", "127.0.0.1:0")][..],
        ] {
            let app = build_app(&config(vars), &plan).await.unwrap();
            assert_eq!(
                status(&app, "/metrics").await,
                StatusCode::NOT_FOUND,
                "{vars:?}"
            );
        }
    }
}
