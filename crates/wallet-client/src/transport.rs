//! The WebSocket transport: API v2 frames over `ws://` or `wss://` (rustls with the
//! system's roots, plus extra roots a deployment or a test gives).

use std::pin::Pin;
use std::sync::Arc;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use wallet_protocol::Frame;

/// Why the transport failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    /// The URL is not `ws://` or `wss://`.
    #[error("the engine URL must be ws:// or wss://")]
    Scheme,
    /// TLS could not be set up.
    #[error("TLS: {0}")]
    Tls(String),
    /// Connecting or the upgrade failed.
    #[error("{0}")]
    Io(String),
}

type Sender = Pin<Box<dyn Sink<Frame, Error = TransportError> + Send>>;
type Receiver = Pin<Box<dyn Stream<Item = Frame> + Send>>;

fn tls(extra_roots: &[Vec<u8>]) -> Result<rustls::ClientConfig, TransportError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs_load();
    for cert in native {
        let _ = roots.add(cert);
    }
    for der in extra_roots {
        roots
            .add(rustls::pki_types::CertificateDer::from(der.clone()))
            .map_err(|e| TransportError::Tls(e.to_string()))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn rustls_native_certs_load() -> Vec<rustls::pki_types::CertificateDer<'static>> {
    rustls_native_certs::load_native_certs().certs
}

/// Connects to `url` and returns the frame sink and stream.
pub(crate) async fn websocket(
    url: &str,
    extra_roots: &[Vec<u8>],
) -> Result<(Sender, Receiver), TransportError> {
    let connector = if url.starts_with("wss://") {
        Some(tokio_tungstenite::Connector::Rustls(Arc::new(tls(
            extra_roots,
        )?)))
    } else if url.starts_with("ws://") {
        None
    } else {
        return Err(TransportError::Scheme);
    };
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(wallet_protocol::limits::MAX_MESSAGE_BYTES * 2));
    let (socket, _) =
        tokio_tungstenite::connect_async_tls_with_config(url, Some(config), true, connector)
            .await
            .map_err(|e| TransportError::Io(e.to_string()))?;
    let (sink, stream) = socket.split();
    let input = stream.filter_map(|m| {
        std::future::ready(match m {
            Ok(Message::Text(t)) => Some(Frame::Text(t.as_str().to_owned())),
            Ok(Message::Binary(b)) => Some(Frame::Binary(b.to_vec())),
            // tungstenite answers pings itself.
            Ok(Message::Ping(_) | Message::Frame(_)) => None,
            Ok(Message::Pong(p)) => Some(Frame::Pong(p.to_vec())),
            Ok(Message::Close(_)) | Err(_) => Some(Frame::Close(None)),
        })
    });
    let output = sink
        .sink_map_err(|e| TransportError::Io(e.to_string()))
        .with(|f: Frame| {
            std::future::ready(Ok::<_, TransportError>(match f {
                Frame::Text(t) => Message::Text(t.into()),
                Frame::Binary(b) => Message::Binary(b.into()),
                Frame::Ping(p) => Message::Ping(p.into()),
                Frame::Pong(p) => Message::Pong(p.into()),
                Frame::Close(c) => Message::Close(c.map(|(code, reason)| CloseFrame {
                    code: CloseCode::from(code),
                    reason: reason.into(),
                })),
            }))
        });
    Ok((Box::pin(output), Box::pin(input)))
}
