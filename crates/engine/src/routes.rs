//! The engine's HTTP surface: `GET /api/v2/wallet` (the WebSocket upgrade) and
//! `GET /api/v2/schema.json` (the API v2 JSON Schema, the same document as
//! `docs/api-v2.schema.json`).
//!
//! The client authenticates inside the socket (the `handshake`'s `app_token`), never
//! with cookies, so a page on another origin opening a socket gains nothing: there is no
//! ambient credential to ride on.

use std::future::ready;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use wallet_protocol::frame::CLOSE_TOO_BIG;

use crate::{Engine, Frame, session};

/// The WebSocket path.
pub const WALLET_PATH: &str = "/api/v2/wallet";
/// The schema path.
pub const SCHEMA_PATH: &str = "/api/v2/schema.json";
/// Read buffer of one socket. tungstenite's default, 128 KiB, suits bulk transfers and is
/// zero-filled, so resident, at the first read: ten thousand idle sessions would hold 1.3 GB
/// in read buffers alone. API v2 messages are small; a larger frame still gets room for its
/// whole length (up to the frame limit) and is read in chunks of this size.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// The engine's routes.
pub fn router(engine: Arc<Engine>) -> Router {
    Router::new()
        .route(WALLET_PATH, get(upgrade))
        .route(SCHEMA_PATH, get(schema))
        .with_state(engine)
}

async fn schema() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/schema+json"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        wallet_protocol::schema::schema_json(),
    )
        .into_response()
}

async fn upgrade(State(engine): State<Arc<Engine>>, ws: WebSocketUpgrade) -> Response {
    // Frames up to twice the message limit are read and refused with INVALID_MESSAGE;
    // larger ones end the connection (close code 1009).
    let max = engine.limits().max_message_bytes.saturating_mul(2);
    ws.max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| serve_socket(engine, socket))
}

/// Whether the socket failed on a frame or message over its size limit (twice the
/// message limit): the session then closes with 1009 rather than dropping the
/// connection without a word.
fn too_big(e: axum::Error) -> bool {
    e.into_inner()
        .downcast_ref::<tokio_tungstenite::tungstenite::Error>()
        .is_some_and(|e| matches!(e, tokio_tungstenite::tungstenite::Error::Capacity(_)))
}

/// Serves one upgraded socket.
pub async fn serve_socket(engine: Arc<Engine>, socket: WebSocket) {
    let (sink, stream) = socket.split();
    let input = stream.filter_map(|m| {
        ready(match m {
            Ok(Message::Text(t)) => Some(Frame::Text(t.as_str().to_owned())),
            Ok(Message::Binary(b)) => Some(Frame::Binary(b.to_vec())),
            // The socket answers pings itself.
            Ok(Message::Ping(_)) => None,
            Ok(Message::Pong(p)) => Some(Frame::Pong(p.to_vec())),
            Ok(Message::Close(_)) => Some(Frame::Close(None)),
            Err(e) => Some(Frame::Close(
                too_big(e).then(|| (CLOSE_TOO_BIG, "message too big".to_owned())),
            )),
        })
    });
    let output = sink.with(|f: Frame| {
        ready(Ok::<_, axum::Error>(match f {
            Frame::Text(t) => Message::Text(t.into()),
            Frame::Binary(b) => Message::Binary(b.into()),
            Frame::Ping(p) => Message::Ping(p.into()),
            Frame::Pong(p) => Message::Pong(p.into()),
            Frame::Close(c) => Message::Close(c.map(|(code, reason)| CloseFrame {
                code,
                reason: reason.into(),
            })),
        }))
    });
    session::serve(engine, Box::pin(input), Box::pin(output)).await;
}
