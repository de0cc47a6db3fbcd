//! The in-memory transport: a client in the same process as its engine (the CLI wallet's
//! default, seed 003's native-app mode: no service outside the process sees the flows).
//! The frames go over channels; everything else — the handshake, the limits, the flows —
//! is the same code a WebSocket client meets.

use std::pin::Pin;
use std::sync::Arc;

use futures_util::{Sink, Stream};
use tokio::sync::mpsc;

use crate::{Engine, Frame, session};

/// Frames to the engine; fails once the engine has closed the connection.
pub type FrameSink = Pin<Box<dyn Sink<Frame, Error = Closed> + Send>>;
/// Frames from the engine; ends when the engine closes the connection.
pub type FrameStream = Pin<Box<dyn Stream<Item = Frame> + Send>>;

/// The other side has closed the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the connection is closed")]
pub struct Closed;

fn channel_sink(tx: mpsc::Sender<Frame>) -> FrameSink {
    Box::pin(futures_util::sink::unfold(
        tx,
        |tx, frame: Frame| async move {
            tx.send(frame).await.map_err(|_| Closed)?;
            Ok::<_, Closed>(tx)
        },
    ))
}

fn channel_stream(rx: mpsc::Receiver<Frame>) -> FrameStream {
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|frame| (frame, rx))
    }))
}

/// Opens a connection to `engine` in this process; the session runs on its own task
/// until either side closes.
pub fn connect(engine: Arc<Engine>) -> (FrameSink, FrameStream) {
    let (to_engine, engine_in) = mpsc::channel(32);
    let (engine_out, from_engine) = mpsc::channel(32);
    tokio::spawn(session::serve(
        engine,
        channel_stream(engine_in),
        channel_sink(engine_out),
    ));
    (channel_sink(to_engine), channel_stream(from_engine))
}
