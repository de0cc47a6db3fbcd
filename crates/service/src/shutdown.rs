//! Serving a router until SIGINT/SIGTERM, then draining in-flight requests for a bounded
//! time. Kubernetes sends SIGTERM and kills the pod after its grace period; draining
//! for less than that lets requests finish instead of being cut off. The accept loop
//! enforces the [`ListenerSettings`] (header read timeout, connections per peer).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::connections::{ListenerSettings, PeerLimiter, PeerPermit};

/// How long [`serve`] drains after a signal before it closes the remaining connections.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// Resolves when the process receives SIGINT (Ctrl-C) or, on Unix, SIGTERM.
///
/// The handlers are installed when this function is *called*, not when the future is
/// first polled: a caller that announces readiness right after calling it (and then
/// spawns the future) never lets a SIGTERM sent in reply to that announcement hit the
/// default disposition and kill the process without draining.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            let interrupt = async {
                match interrupt {
                    Ok(mut stream) => {
                        stream.recv().await;
                        tracing::info!("received SIGINT");
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot listen for SIGINT");
                        std::future::pending::<()>().await;
                    }
                }
            };
            let terminate = async {
                match terminate {
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
            tokio::select! {
                () = interrupt => {}
                () = terminate => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            if let Err(e) = tokio::signal::ctrl_c().await {
                tracing::error!(error = %e, "cannot listen for SIGINT");
                std::future::pending::<()>().await;
            }
            tracing::info!("received SIGINT");
        }
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
/// the peer address with `ConnectInfo<SocketAddr>`. Uses the default
/// [`ListenerSettings`]; see [`serve_with_settings`].
pub async fn serve_with_shutdown(
    listener: TcpListener,
    router: Router,
    signal: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    serve_with_settings(listener, router, signal, grace, ListenerSettings::default()).await
}

/// [`serve_with_shutdown`] with explicit connection limits: HTTP/1.1 connections whose
/// request headers do not arrive within `settings.header_read_timeout` are closed, and a
/// peer address holding `settings.max_connections_per_peer` connections gets
/// `429 temporarily_unavailable` on the next one, which is then closed.
///
/// This is hyper's connection loop rather than `axum::serve`, which sets no timer, so
/// hyper's header read timeout never fires there and a client that sends half a request
/// line keeps its socket open forever. Accept errors (a peer resetting during the
/// handshake, running out of file descriptors) are logged and never end the loop.
pub async fn serve_with_settings(
    listener: TcpListener,
    router: Router,
    signal: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
    settings: ListenerSettings,
) -> std::io::Result<()> {
    // `draining` tells connection tasks to finish their current request and close; each
    // task holds a `live` receiver, so `live_tx.closed()` resolves once every task is done.
    let (draining_tx, draining_rx) = watch::channel(false);
    let (live_tx, live_rx) = watch::channel(());
    let limiter = PeerLimiter::new(settings.max_connections_per_peer);
    tokio::pin!(signal);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut signal => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) if is_per_connection_error(&e) => continue,
            Err(e) => {
                // EMFILE and the like: retrying at once would spin; new connections wait
                // in the backlog meanwhile.
                tracing::error!(error = %e, "accept failed; retrying in 1s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Some(permit) = limiter.admit(peer.ip()) else {
            // One log line per refusal would let the flood being refused flood the log
            // too: count it, and leave the per-connection detail to debug.
            metrics::counter!(crate::metrics::HTTP_CONNECTIONS_REFUSED_TOTAL).increment(1);
            tracing::debug!(peer = %peer.ip(), "too many connections from one address: refused");
            tokio::spawn(refuse(stream));
            continue;
        };
        tokio::spawn(serve_connection(
            stream,
            peer,
            router.clone(),
            settings,
            draining_rx.clone(),
            (live_rx.clone(), permit),
        ));
    }
    drop(listener);
    tracing::info!(grace = ?grace, "shutting down: draining in-flight requests");
    draining_tx.send_replace(true);
    drop(live_rx);
    if tokio::time::timeout(grace, live_tx.closed()).await.is_err() {
        tracing::warn!("grace period over: closing the remaining connections");
    }
    Ok(())
}

/// Errors that concern one incoming connection only (it was reset before we took it).
fn is_per_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}

/// Serves one connection until it closes, or until a drain finishes its current request.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    settings: ListenerSettings,
    mut draining: watch::Receiver<bool>,
    // Dropped when the connection ends: uncounts it for the drain and for its peer.
    _held: (watch::Receiver<()>, PeerPermit),
) {
    let service = router.map_request(move |mut request: axum::http::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request.map(axum::body::Body::new)
    });
    // No Nagle: the wallet engine's WebSocket sends several small frames in a row (progress,
    // then a `sign_request`) and then waits for the client's answer; with Nagle the later
    // frames wait for the client's delayed ACK (40 ms on Linux), twice per issuance. hyper
    // writes a response's head and body together where it can, so plain requests lose nothing.
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(peer = %peer, error = %e, "cannot disable Nagle's algorithm");
    }
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout);
    // With upgrades: the wallet engine's WebSocket (`GET /api/v2/wallet`) takes the
    // connection over after its `101`. The upgraded socket lives in its own task from then
    // on, so it no longer counts towards the drain or the peer's connection cap; the
    // engine bounds its sessions itself (handshake timeout, keep-alive, session expiry).
    let connection = builder
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .with_upgrades();
    tokio::pin!(connection);
    let mut drain_started = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    // A header timeout, a client that vanished, a malformed request line:
                    // the client's doing, so not worth more than a debug line.
                    tracing::debug!(peer = %peer, error = %e, "connection closed with an error");
                }
                return;
            }
            changed = draining.wait_for(|d| *d), if !drain_started => {
                drain_started = true;
                // The sender lives as long as the accept loop; gone means shut down too.
                let _ = changed;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// The answer to a connection over the per-peer cap: a complete `429` with the usual
/// JSON error, written without reading the request, then close. Bounded in time, so a
/// peer that does not read cannot hold the task.
async fn refuse(mut stream: TcpStream) {
    use tokio::io::AsyncWriteExt;
    const BODY: &str = r#"{"error":"temporarily_unavailable","error_description":"too many open connections from this address"}"#;
    let response = format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncache-control: no-store\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let answer = async {
        use tokio::io::AsyncReadExt;
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await?;
        // Closing with unread request bytes in the socket would send a reset, which can
        // destroy the answer before the client reads it: discard what the client sent
        // until it closes its side too.
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? != 0 {}
        Ok::<(), std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

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

    /// Starts `router` (inside the standard layers, as `serve` runs it) with `settings`.
    async fn start(
        settings: ListenerSettings,
        http: crate::HttpSettings,
    ) -> (SocketAddr, Shutdown) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new()
            .route("/ping", get(|| async { "pong" }))
            .route(
                "/peer",
                get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
            )
            .route(
                "/echo",
                axum::routing::post(|body: axum::body::Bytes| async move { body }),
            );
        let router = crate::layers::apply(router, &http);
        let shutdown = Shutdown::new();
        tokio::spawn(serve_with_settings(
            listener,
            router,
            shutdown.triggered(),
            Duration::from_secs(5),
            settings,
        ));
        (addr, shutdown)
    }

    /// Reads until the server closes the connection; returns what was read, or `None` when
    /// the connection is still open after `within`.
    async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
        let mut received = Vec::new();
        match tokio::time::timeout(within, stream.read_to_end(&mut received)).await {
            // A reset also means the server closed it.
            Ok(_) => Some(String::from_utf8_lossy(&received).into_owned()),
            Err(_) => None,
        }
    }

    #[tokio::test]
    async fn issue10_connections_that_never_finish_their_headers_are_closed() {
        let settings = ListenerSettings {
            header_read_timeout: Duration::from_millis(300),
            max_connections_per_peer: 0,
        };
        let (addr, _shutdown) = start(settings, crate::HttpSettings::default()).await;
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let mut partial = TcpStream::connect(addr).await.unwrap();
        partial
            .write_all(b"GET /ping HTTP/1.1\r\nHost: test\r\nX-Slow: ")
            .await
            .unwrap();
        // Closed after the configured timeout (the generous bound only guards the test).
        for stream in [&mut silent, &mut partial] {
            assert!(
                read_until_closed(stream, Duration::from_secs(10))
                    .await
                    .is_some(),
                "the server kept a connection without complete headers open"
            );
        }
        // A client that completes its request in time is served as before.
        assert!(http_get(addr, "/ping").await.ends_with("pong"));
    }

    #[tokio::test]
    async fn an_idle_kept_alive_connection_is_closed_after_the_header_timeout() {
        let settings = ListenerSettings {
            header_read_timeout: Duration::from_millis(300),
            max_connections_per_peer: 0,
        };
        let (addr, _shutdown) = start(settings, crate::HttpSettings::default()).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /ping HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        // The answer, then (keep-alive, no next request) the close.
        let answer = read_until_closed(&mut stream, Duration::from_secs(10))
            .await
            .expect("an idle connection is closed");
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
        assert!(answer.ends_with("pong"), "{answer}");
    }

    #[tokio::test]
    async fn handlers_see_the_peer_address() {
        let (addr, _shutdown) =
            start(ListenerSettings::default(), crate::HttpSettings::default()).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let local = stream.local_addr().unwrap();
        stream
            .write_all(b"GET /peer HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        assert!(response.ends_with(&local.to_string()), "{response}");
    }

    #[tokio::test]
    async fn issue10_connections_over_the_per_peer_cap_get_429_and_are_closed() {
        let settings = ListenerSettings {
            header_read_timeout: Duration::from_secs(30),
            max_connections_per_peer: 3,
        };
        let (addr, _shutdown) = start(settings, crate::HttpSettings::default()).await;
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(TcpStream::connect(addr).await.unwrap());
        }
        // Give the accept loop time to count the three before the fourth arrives.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut over = TcpStream::connect(addr).await.unwrap();
        let answer = read_until_closed(&mut over, Duration::from_secs(10))
            .await
            .expect("the connection over the cap is closed");
        assert!(answer.starts_with("HTTP/1.1 429 "), "{answer}");
        let body = answer.split_once("\r\n\r\n").unwrap().1;
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");
        // Once one closes, the peer may connect again.
        drop(held.pop());
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(http_get(addr, "/ping").await.ends_with("pong"));
    }

    #[tokio::test]
    async fn issue10_a_stalled_request_body_gets_408_over_a_real_socket() {
        let http = crate::HttpSettings {
            request_timeout: Duration::from_millis(500),
            readiness_timeout: Duration::from_millis(100),
            ..crate::HttpSettings::default()
        };
        let (addr, _shutdown) = start(ListenerSettings::default(), http).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(
                b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\nonly ten b",
            )
            .await
            .unwrap();
        let answer = read_until_closed(&mut stream, Duration::from_secs(10))
            .await
            .expect("the server answers and closes");
        assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
        assert!(answer.contains(r#""error":"invalid_request""#), "{answer}");
    }
}
