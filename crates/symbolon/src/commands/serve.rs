//! `symbolon serve --mode=<role>[,<role>…]`: load the configuration, build the routers
//! of the requested roles, and serve them (plus `/healthz`, `/readyz`, `/metrics`) until
//! SIGINT/SIGTERM.
//!
//! The listener is bound before the roles are built, so a configured port `0` becomes a
//! real port before any identifier is derived from it. Once the roles are built, one JSON
//! line on stdout (and, with `--ready-file`, a file written atomically) tells scripts the
//! bound address, the roles and their base URLs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use serde::Serialize;
use service::app::metrics_router;
use service::{AppBuilder, Shutdown, serve_with_settings, shutdown_signal};
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
    /// Once listening, write the bound address, the roles and their base URLs to this
    /// file as JSON (atomically: it appears complete or not at all). A file left from an
    /// earlier run is removed at start, and the file is removed again on a clean stop.
    #[arg(long, env = "SYMBOLON_READY_FILE", value_name = "PATH")]
    ready_file: Option<PathBuf>,
}

/// Runs `serve`.
pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let (config, plan) = mode::load(args.config.as_deref(), &args.mode)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config, plan, args.ready_file))
}

/// The application router for `plan`, with `/metrics` on it when metrics are enabled
/// and not sent to a separate listener.
pub(crate) async fn build_app(config: &Arc<Config>, plan: &Plan) -> anyhow::Result<Router> {
    Ok(build_app_with_drains(config, plan).await?.0)
}

/// [`build_app`], and what the roles do when the process stops ([`service::Drain`]).
async fn build_app_with_drains(
    config: &Arc<Config>,
    plan: &Plan,
) -> anyhow::Result<(Router, Vec<service::Drain>)> {
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
    let drains = app.drains();
    Ok((app.build()?, drains))
}

/// What `serve` announces once it listens: the stdout line and the `--ready-file`.
#[derive(Debug, Serialize)]
struct Ready {
    /// The address the main listener is bound to (the real port when `:0` was asked).
    addr: SocketAddr,
    /// The separate metrics listener's address, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics_addr: Option<SocketAddr>,
    /// The roles served, in mount order.
    roles: Vec<&'static str>,
    /// Each role's external base URL (its identifiers derive from it).
    base_urls: BTreeMap<&'static str, String>,
    /// The serving process, so a script can tell this run's file from another's.
    pid: u32,
}

async fn serve(mut config: Config, plan: Plan, ready_file: Option<PathBuf>) -> anyhow::Result<()> {
    if let Some(path) = &ready_file {
        // A file from an earlier run would announce a server that is not there.
        remove_ready_file(path)?;
    }
    let listener = TcpListener::bind(config.listen())
        .await
        .with_context(|| format!("cannot listen on {} (`server.listen`)", config.listen()))?;
    let addr = listener.local_addr()?;
    // Without `server.public_url`, roles derive their identifiers from the listen
    // address: use the port actually bound, so `listen = "127.0.0.1:0"` yields a
    // reachable identifier instead of `http://127.0.0.1:0`.
    config.server.listen = Some(addr);
    let metrics_listener = match config.metrics.listen {
        Some(addr) if config.metrics.enabled => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (`metrics.listen`)"))?,
        ),
        _ => None,
    };
    let metrics_addr = metrics_listener
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;
    let config = Arc::new(config);

    let (app, drains) = build_app_with_drains(&config, &plan).await?;
    let names: Vec<&'static str> = plan.roles.iter().map(|(r, _)| r.name()).collect();
    if names.is_empty() {
        tracing::warn!(
            "no role is implemented in this build yet: serving only /healthz, /readyz and /metrics"
        );
    }
    let mut base_urls = BTreeMap::new();
    for (role, _) in &plan.roles {
        base_urls.insert(
            role.name(),
            RoleContext::new(&config, &plan, *role)?.base_url,
        );
    }
    let ready = Ready {
        addr,
        metrics_addr,
        roles: names.clone(),
        base_urls,
        pid: std::process::id(),
    };
    let announcement = serde_json::to_string(&ready)?;

    let shutdown = Shutdown::new();
    let trigger = shutdown.clone();
    // Installed now, before the listening line: a SIGTERM sent the moment a caller
    // reads that line must drain, not kill.
    let signal = shutdown_signal();
    tokio::spawn(async move {
        signal.await;
        trigger.trigger();
    });

    let grace = config.server.shutdown_grace;
    let limits = config.server.listener();
    tracing::info!(addr = %addr, roles = ?names, mount = ?plan.mount, "listening");
    if let Some(addr) = metrics_addr {
        tracing::info!(addr = %addr, "metrics listening");
    }
    // The file first: a script that saw the stdout line may read the file at once.
    if let Some(path) = &ready_file {
        write_atomically(path, announcement.as_bytes())
            .with_context(|| format!("cannot write the ready file {}", path.display()))?;
    }
    {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        // A closed stdout (a pipe whose reader left) must not stop a server that is
        // otherwise ready: the line is a convenience, the log line above says the same.
        if let Err(e) = writeln!(stdout, "{announcement}").and_then(|()| stdout.flush()) {
            tracing::warn!(error = %e, "cannot write the listening line to stdout");
        }
    }
    // The roles' own draining (the engine's WebSocket sessions) runs beside the
    // listener's, within the same grace period.
    let stopping = shutdown.triggered();
    let drained = async move {
        stopping.await;
        let all = futures_util::future::join_all(drains.iter().map(|d| d()));
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!("grace period over: closing the remaining sessions");
        }
    };
    let main_signal = shutdown.triggered();
    let main = async move {
        let (served, ()) = tokio::join!(
            serve_with_settings(listener, app, main_signal, grace, limits),
            drained
        );
        served
    };
    let served = match metrics_listener {
        Some(metrics_listener) => {
            let metrics_app = metrics_router(service::metrics::install()?, &config.server.http());
            let metrics = serve_with_settings(
                metrics_listener,
                metrics_app,
                shutdown.triggered(),
                grace,
                limits,
            );
            tokio::try_join!(main, metrics).map(|_| ())
        }
        None => main.await,
    };
    if let Some(path) = &ready_file
        && let Err(e) = remove_ready_file(path)
    {
        tracing::warn!(error = %e, "cannot remove the ready file");
    }
    served.context("server failed")?;
    tracing::info!("stopped");
    Ok(())
}

fn remove_ready_file(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove the ready file {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Writes `bytes` to a temporary file next to `path`, then renames it over `path`, so a
/// script polling for the file never reads it half written.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file")
    })?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let written = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
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
