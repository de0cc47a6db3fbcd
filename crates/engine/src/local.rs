//! The in-memory transport: a client in the same process as its engine (the CLI wallet's
//! default, seed 003's native-app mode: no service outside the process sees the flows).
//! The frames go over channels; everything else — the handshake, the limits, the flows —
//! is the same code a WebSocket client meets.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

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

type Reserve = Pin<
    Box<dyn Future<Output = Result<mpsc::OwnedPermit<Frame>, mpsc::error::SendError<()>>> + Send>,
>;

/// A sink into a channel that keeps answering [`Closed`] once the other side has gone.
/// (`futures_util::sink::unfold` panics when written to again after an error, and a
/// session does write again: a refusal, then a close.)
struct ChannelSink {
    tx: Option<mpsc::Sender<Frame>>,
    reserving: Option<Reserve>,
    permit: Option<mpsc::OwnedPermit<Frame>>,
}

impl Sink<Frame> for ChannelSink {
    type Error = Closed;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Closed>> {
        if self.permit.is_some() {
            return Poll::Ready(Ok(()));
        }
        if self.reserving.is_none() {
            let Some(tx) = self.tx.clone() else {
                return Poll::Ready(Err(Closed));
            };
            self.reserving = Some(Box::pin(tx.reserve_owned()));
        }
        let Some(reserving) = self.reserving.as_mut() else {
            return Poll::Ready(Err(Closed));
        };
        let reserved = ready!(reserving.as_mut().poll(cx));
        self.reserving = None;
        match reserved {
            Ok(permit) => {
                self.permit = Some(permit);
                Poll::Ready(Ok(()))
            }
            Err(_) => {
                self.tx = None;
                Poll::Ready(Err(Closed))
            }
        }
    }

    fn start_send(mut self: Pin<&mut Self>, frame: Frame) -> Result<(), Closed> {
        match self.permit.take() {
            Some(permit) => {
                permit.send(frame);
                Ok(())
            }
            None => Err(Closed),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Closed>> {
        Poll::Ready(if self.tx.is_some() {
            Ok(())
        } else {
            Err(Closed)
        })
    }

    fn poll_close(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Closed>> {
        self.tx = None;
        self.reserving = None;
        self.permit = None;
        Poll::Ready(Ok(()))
    }
}

fn channel_sink(tx: mpsc::Sender<Frame>) -> FrameSink {
    Box::pin(ChannelSink {
        tx: Some(tx),
        reserving: None,
        permit: None,
    })
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
