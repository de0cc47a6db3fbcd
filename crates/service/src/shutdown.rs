//! Serving a router until SIGINT/SIGTERM, then draining in-flight requests for a bounded
//! time. Kubernetes sends SIGTERM and kills the pod after its grace period; draining
//! for less than that lets requests finish instead of being cut off.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long [`serve`] drains after a signal before it closes the remaining connections.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// Resolves when the process receives SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
        tracing::info!("received SIGINT");
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
                tracing::info!("received SIGTERM");
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// A shutdown trigger shared by several listeners (the application and a separate
/// metrics listener stop together). Clones share the trigger.
#[derive(Clone, Debug)]
pub struct Shutdown {
    tx: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A trigger that has not fired.
    pub fn new() -> Self {
        Shutdown {
            tx: watch::Sender::new(false),
        }
    }

    /// Fires the trigger; every [`Shutdown::triggered`] future resolves.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Resolves once [`Shutdown::trigger`] has been called (at once if it already was).
    pub fn triggered(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.tx.subscribe();
        async move {
            // An error means every sender is gone: nobody can trigger any more, so shut down.
            let _ = rx.wait_for(|fired| *fired).await;
        }
    }
}

/// Serves `router` on `listener` until SIGINT/SIGTERM, then drains for
/// [`DEFAULT_GRACE`].
pub async fn serve(listener: TcpListener, router: Router) -> std::io::Result<()> {
    serve_with_shutdown(listener, router, shutdown_signal(), DEFAULT_GRACE).await
}

/// Serves `router` on `listener` until `signal` resolves, then stops accepting
/// connections and waits up to `grace` for in-flight requests. Handlers can extract
/// the peer address with `ConnectInfo<SocketAddr>`.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    router: Router,
    signal: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (drain_tx, drain_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = drain_rx.await;
    })
    .into_future();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result,
        () = signal => {}
    }
    tracing::info!(grace = ?grace, "shutting down: draining in-flight requests");
    let _ = drain_tx.send(());
    match tokio::time::timeout(grace, server).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!("grace period over: closing the remaining connections");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn http_get(addr: SocketAddr, path: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    }

    #[tokio::test]
    async fn serves_until_triggered_then_returns() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new().route("/ping", get(|| async { "pong" }));
        let shutdown = Shutdown::new();
        let server = tokio::spawn(serve_with_shutdown(
            listener,
            router,
            shutdown.triggered(),
            Duration::from_secs(5),
        ));

        let response = http_get(addr, "/ping").await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with("pong"), "{response}");

        shutdown.trigger();
        let result = tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("server stops after the trigger")
            .unwrap();
        assert!(result.is_ok());
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn an_in_flight_request_finishes_during_the_drain() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "done"
            }),
        );
        let shutdown = Shutdown::new();
        let server = tokio::spawn(serve_with_shutdown(
            listener,
            router,
            shutdown.triggered(),
            Duration::from_secs(5),
        ));
        let client = tokio::spawn(async move { http_get(addr, "/slow").await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        shutdown.trigger();
        let response = client.await.unwrap();
        assert!(response.ends_with("done"), "{response}");
        assert!(server.await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn a_request_outliving_the_grace_period_is_cut_off() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new().route(
            "/stuck",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "never"
            }),
        );
        let shutdown = Shutdown::new();
        let server = tokio::spawn(serve_with_shutdown(
            listener,
            router,
            shutdown.triggered(),
            Duration::from_millis(200),
        ));
        let _client = tokio::spawn(async move { http_get(addr, "/stuck").await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        shutdown.trigger();
        let result = tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the grace period bounds the drain")
            .unwrap();
        assert!(result.is_ok());
    }

    #[tokio::test]
    async fn triggered_resolves_at_once_when_already_fired() {
        let shutdown = Shutdown::new();
        shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(1), shutdown.triggered())
            .await
            .expect("already triggered");
    }
}
