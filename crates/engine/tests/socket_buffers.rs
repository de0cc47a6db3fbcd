//! The WebSocket's small per-socket read buffer (`routes.rs`, sized for many idle
//! sessions) still reads large frames whole: a message many times the buffer's size is
//! answered like any other and the session goes on, and a frame past the frame limit
//! still ends the connection with 1009.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::Duration;

use engine::{AppTokens, Engine, Limits, Permissions};
use futures_util::{SinkExt, StreamExt};
use jose::Clock;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use wallet::attestation::{AttestationClient, ClientSettings, EvidenceSource};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An engine admitting anonymous sessions on a loopback listener; no flow runs, so its
/// attester is never called.
async fn serve() -> String {
    let http = http_client::GuardedClient::new(http_client::HttpSettings::default()).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(jose::SystemClock);
    let attestation = AttestationClient::new(
        ClientSettings::new("http://127.0.0.1:9/attester", "test", EvidenceSource::Dev),
        http.clone(),
        Arc::clone(&clock),
        Arc::new(jose::SystemRandom),
    )
    .unwrap();
    let core = wallet::Wallet::new(
        wallet::Settings::without_verifier_anchors(),
        http,
        Arc::new(attestation),
        Arc::clone(&clock),
        Arc::new(jose::SystemRandom),
    );
    let tokens = AppTokens::new(&[], None, "symbolon-engine", Arc::clone(&clock))
        .unwrap()
        .with_anonymous(Permissions::ALL);
    let engine = Arc::new(Engine::new(
        core,
        tokens,
        Limits::default(),
        clock,
        Arc::new(jose::SystemRandom),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "ws://127.0.0.1:{}{}",
        listener.local_addr().unwrap().port(),
        engine::routes::WALLET_PATH
    );
    tokio::spawn(async move {
        axum::serve(listener, engine::routes::router(engine))
            .await
            .unwrap();
    });
    url
}

/// The next message: `Some(json)` for a text frame, `None` once the connection closed
/// (with the close code, if any).
async fn next(socket: &mut Socket) -> Result<Value, Option<u16>> {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("the engine answers");
        match m {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(&t).unwrap()),
            Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return Err(None),
        }
    }
}

async fn session(url: &str) -> Socket {
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    socket
        .send(Message::Text(
            json!({"type": "handshake", "app_token": "anonymous"})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    let answer = next(&mut socket).await.unwrap();
    assert_eq!(answer["type"], "handshake_complete", "{answer}");
    socket
}

/// A `flow_action` for no running flow, padded to about `bytes` with a long reason.
fn padded(flow: &str, bytes: usize) -> String {
    json!({"type": "flow_action", "flow_id": flow, "action": "decline",
        "reason": "x".repeat(bytes)})
    .to_string()
}

#[tokio::test]
async fn issue12_frames_larger_than_the_read_buffer_are_read_whole() {
    let url = serve().await;
    let mut socket = session(&url).await;
    // 30 KiB and 200 KiB: many read-buffer lengths each, within the message limit.
    for (flow, bytes) in [("f-big", 30 * 1024), ("f-bigger", 200 * 1024)] {
        socket
            .send(Message::Text(padded(flow, bytes).into()))
            .await
            .unwrap();
        let answer = next(&mut socket).await.unwrap();
        // Read whole and parsed: the engine names the flow it does not know.
        assert_eq!(answer["type"], "error", "{answer}");
        assert_eq!(answer["flow_id"], flow, "{answer}");
    }
    // The session goes on: a small message after them is answered too.
    socket
        .send(Message::Text(padded("f-small", 10).into()))
        .await
        .unwrap();
    let answer = next(&mut socket).await.unwrap();
    assert_eq!(answer["flow_id"], "f-small", "{answer}");

    // Past the frame limit (twice the message limit) the connection ends with 1009.
    let limit = wallet_protocol::limits::MAX_MESSAGE_BYTES * 2;
    let mut socket = session(&url).await;
    let _ = socket
        .send(Message::Text(padded("f-huge", limit + 1024).into()))
        .await;
    let mut closed = None;
    for _ in 0..4 {
        match next(&mut socket).await {
            Ok(_) => {}
            Err(code) => {
                closed = Some(code);
                break;
            }
        }
    }
    let code = closed.expect("the engine ends the connection");
    assert!(
        code.is_none_or(|c| c == 1009),
        "closed with {code:?}, not 1009"
    );
}
