//! One client connection, over any transport that carries [`Frame`]s: the handshake, the
//! limits, and the routing of messages to the connection's flows.
//!
//! - The first message must be a `handshake` with a valid `app_token`, within the
//!   handshake limit; anything else is answered `AUTH_FAILED` and the connection closes.
//! - Every later text frame is parsed strictly ([`wallet_protocol::parse_client_message`]);
//!   a message that does not parse, is binary, or comes at the wrong time is answered with
//!   `error` (`INVALID_MESSAGE`, naming its `flow_id`/`message_id` when readable) and
//!   changes nothing. A message for no running flow gets `UNKNOWN_FLOW`.
//! - Rate limits per connection (messages, flow starts per minute): past a limit a message
//!   gets `TOO_MANY_REQUESTS` and is dropped; a client that keeps going past twice the
//!   limit is disconnected.
//! - Keep-alive: a ping every interval; two unanswered pings close the connection. The
//!   session ends when the token expires (`push session_expiring` a minute before).
//! - Each flow runs in its own task, holding all of its state; closing the connection
//!   stops them all: nothing is kept.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use wallet_protocol::client::FlowStart;
use wallet_protocol::common::Capability;
use wallet_protocol::engine::{
    ErrorBody, ErrorMessage, FlowError, HandshakeComplete, Push, PushType,
};
use wallet_protocol::frame::{CLOSE_GOING_AWAY, CLOSE_NORMAL, CLOSE_POLICY, CLOSE_TOO_BIG};
use wallet_protocol::{
    ClientMessage, EngineMessage, Envelope, ErrorCode, FlowId, Frame, MessageId, PROTOCOL_VERSION,
    envelope_of, parse_client_message,
};

use crate::auth::SessionClaims;
use crate::{Engine, flow, metric};

/// How long one write to the client may take before the connection is given up.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Notice given before the session's token expires.
const EXPIRY_NOTICE: i64 = 60;

/// What flows send to the connection.
pub(crate) enum Out {
    /// A message for the client.
    Message(Box<EngineMessage>),
    /// The flow's task ends, with its last message (`flow_complete` or `flow_error`)
    /// when it has not been sent: forgetting the flow and forwarding that message in
    /// one step lets the client reuse the flow_id as soon as it reads it.
    Ended(FlowId, Option<Box<EngineMessage>>),
}

/// A fixed one-minute window counter.
struct Window {
    started: Instant,
    count: u32,
    limit: u32,
}

impl Window {
    fn new(limit: u32) -> Self {
        Window {
            started: Instant::now(),
            count: 0,
            limit,
        }
    }

    /// Counts one; `Ok` within the limit, `Err(true)` past twice the limit.
    fn hit(&mut self) -> Result<(), bool> {
        if self.started.elapsed() >= Duration::from_secs(60) {
            self.started = Instant::now();
            self.count = 0;
        }
        self.count = self.count.saturating_add(1);
        if self.count <= self.limit {
            Ok(())
        } else {
            Err(self.count > self.limit.saturating_mul(2))
        }
    }
}

/// Counts a session as open while it lives ([`Engine::drained`]).
struct Live(tokio::sync::watch::Sender<usize>);

impl Live {
    fn new(engine: &Engine) -> Self {
        engine.live.send_modify(|n| *n += 1);
        Live(engine.live.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// A `push` of the session (no flow).
fn push(push_type: PushType, expires_in: Option<u64>) -> EngineMessage {
    EngineMessage::Push(Push {
        flow_id: None,
        message_id: None,
        timestamp: None,
        push_type,
        expires_in,
    })
}

/// Why the loop stopped.
enum Stop {
    /// The client went away or the transport failed.
    Gone,
    /// The engine closes the connection with this code and reason.
    Close(u16, &'static str),
}

struct Connection<O> {
    engine: Arc<Engine>,
    output: O,
    claims: SessionClaims,
    flows: HashMap<FlowId, mpsc::Sender<ClientMessage>>,
    tasks: JoinSet<()>,
    out_tx: mpsc::Sender<Out>,
    /// The engine is stopping: no new flows; close once the running ones end.
    draining: bool,
    messages: Window,
    starts: Window,
}

fn error_message(
    code: ErrorCode,
    flow_id: Option<FlowId>,
    message_id: Option<MessageId>,
) -> EngineMessage {
    EngineMessage::Error(ErrorMessage {
        flow_id,
        message_id,
        ..ErrorMessage::new(code)
    })
}

async fn send<O>(output: &mut O, message: &EngineMessage) -> Result<(), Stop>
where
    O: Sink<Frame> + Unpin,
{
    match tokio::time::timeout(SEND_TIMEOUT, output.send(Frame::Text(message.to_json()))).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(Stop::Gone),
    }
}

/// Writes a ping or pong within `limit` (the ping interval): a client that has not read
/// enough for even that to be written is not reading at all, and is given up. Unbounded,
/// the write would hold the session (and its flows) for as long as the client stalls.
async fn control<O>(output: &mut O, frame: Frame, limit: Duration) -> Result<(), Stop>
where
    O: Sink<Frame> + Unpin,
{
    match tokio::time::timeout(limit, output.send(frame)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(Stop::Gone),
    }
}

async fn close<O>(output: &mut O, code: u16, reason: &str)
where
    O: Sink<Frame> + Unpin,
{
    let _ = tokio::time::timeout(
        SEND_TIMEOUT,
        output.send(Frame::Close(Some((code, reason.to_owned())))),
    )
    .await;
}

/// Serves one connection until the client leaves, the session expires, or a limit ends
/// it. `input` yields the client's frames, `output` takes the engine's.
pub async fn serve<I, O>(engine: Arc<Engine>, mut input: I, mut output: O)
where
    I: Stream<Item = Frame> + Unpin + Send,
    O: Sink<Frame> + Unpin + Send,
{
    metrics::gauge!(metric::SESSIONS).increment(1.0);
    let _live = Live::new(&engine);
    let Some((claims, message_id)) = handshake(&engine, &mut input, &mut output).await else {
        metrics::counter!(metric::HANDSHAKES_REFUSED).increment(1);
        metrics::gauge!(metric::SESSIONS).decrement(1.0);
        return;
    };
    metrics::counter!(metric::HANDSHAKES).increment(1);
    let mut capabilities = Vec::new();
    if claims.permissions.receive {
        capabilities.push(Capability::Oid4vci);
    }
    if claims.permissions.present {
        capabilities.push(Capability::Oid4vp);
    }
    let complete = EngineMessage::HandshakeComplete(HandshakeComplete {
        message_id,
        timestamp: None,
        session_id: engine.session_id(),
        capabilities,
        protocol_version: PROTOCOL_VERSION.to_owned(),
    });
    if send(&mut output, &complete).await.is_err() {
        metrics::gauge!(metric::SESSIONS).decrement(1.0);
        return;
    }
    let (out_tx, out_rx) = mpsc::channel(64);
    let limits = engine.limits().clone();
    let mut connection = Connection {
        engine,
        output,
        claims,
        flows: HashMap::new(),
        tasks: JoinSet::new(),
        out_tx,
        draining: false,
        messages: Window::new(limits.messages_per_minute),
        starts: Window::new(limits.flow_starts_per_minute),
    };
    let stop = connection.run(&mut input, out_rx).await;
    // Every flow stops with the connection: nothing is kept.
    connection.tasks.abort_all();
    if let Stop::Close(code, reason) = stop {
        close(&mut connection.output, code, reason).await;
    }
    metrics::gauge!(metric::SESSIONS).decrement(1.0);
}

/// Waits for a valid `handshake`; on anything else answers `AUTH_FAILED` and closes.
async fn handshake<I, O>(
    engine: &Engine,
    input: &mut I,
    output: &mut O,
) -> Option<(SessionClaims, Option<MessageId>)>
where
    I: Stream<Item = Frame> + Unpin,
    O: Sink<Frame> + Unpin,
{
    let deadline = tokio::time::Instant::now() + engine.limits().handshake;
    let max = engine.limits().max_message_bytes;
    // The refused message's ids, when readable, as for any refusal.
    let refused: Envelope = loop {
        let frame = match tokio::time::timeout_at(deadline, input.next()).await {
            Err(_) => {
                tracing::info!("no handshake in time");
                break Envelope::default();
            }
            Ok(Some(Frame::Close(Some((CLOSE_TOO_BIG, _))))) => {
                close(output, CLOSE_TOO_BIG, "message too big").await;
                return None;
            }
            Ok(None | Some(Frame::Close(_))) => return None,
            Ok(Some(frame)) => frame,
        };
        match frame {
            // Bounded by the handshake limit: a client that pings and never reads must
            // not hold the connection open past it. One that cannot be written to is
            // gone, and is told nothing more.
            Frame::Ping(p) => {
                match tokio::time::timeout_at(deadline, output.send(Frame::Pong(p))).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return None,
                    Err(_) => {
                        tracing::info!("no handshake in time; the client does not read");
                        return None;
                    }
                }
            }
            Frame::Pong(_) => {}
            Frame::Binary(_) | Frame::Close(_) => break Envelope::default(),
            Frame::Text(text) => match parse_client_message(text.as_bytes(), max) {
                Ok(ClientMessage::Handshake(h)) => {
                    match engine.tokens.check(h.app_token.expose()).await {
                        Ok(claims) => return Some((claims, h.message_id)),
                        Err(e) => {
                            tracing::info!(error = %e, "handshake refused");
                            break Envelope {
                                flow_id: None,
                                message_id: h.message_id,
                            };
                        }
                    }
                }
                Ok(_) => {
                    tracing::info!("a message before the handshake");
                    break envelope_of(text.as_bytes(), max);
                }
                Err(e) => {
                    tracing::info!(error = %e, "an unreadable handshake");
                    break envelope_of(text.as_bytes(), max);
                }
            },
        }
    };
    let refusal = error_message(ErrorCode::AuthFailed, refused.flow_id, refused.message_id);
    let _ = send(output, &refusal).await;
    close(output, CLOSE_POLICY, "authentication failed").await;
    None
}

impl<O> Connection<O>
where
    O: Sink<Frame> + Unpin + Send,
{
    async fn run<I>(&mut self, input: &mut I, mut out_rx: mpsc::Receiver<Out>) -> Stop
    where
        I: Stream<Item = Frame> + Unpin,
    {
        let limits = self.engine.limits().clone();
        let mut ping = tokio::time::interval(limits.ping_interval);
        ping.tick().await;
        let mut unanswered = 0u32;
        let now = self.engine.now();
        let (notice_at, expires_at) = match self.claims.expires_at {
            Some(exp) => {
                let left = u64::try_from(exp.saturating_sub(now)).unwrap_or(0);
                let notice = u64::try_from(exp.saturating_sub(now).saturating_sub(EXPIRY_NOTICE))
                    .unwrap_or(0);
                (
                    Some(Duration::from_secs(notice)),
                    Some(Duration::from_secs(left)),
                )
            }
            None => (None, None),
        };
        let mut draining_rx = self.engine.draining.subscribe();
        if *draining_rx.borrow_and_update() {
            // Opened while the engine stops: the client is told at once.
            self.draining = true;
            let push = push(PushType::Draining, None);
            return match send(&mut self.output, &push).await {
                Ok(()) => Stop::Close(CLOSE_GOING_AWAY, "draining"),
                Err(stop) => stop,
            };
        }
        let far = Duration::from_secs(365 * 24 * 3600);
        let notice = tokio::time::sleep(notice_at.unwrap_or(far));
        let expiry = tokio::time::sleep(expires_at.unwrap_or(far));
        tokio::pin!(notice, expiry);
        let mut noticed = notice_at.is_none();
        loop {
            let step = tokio::select! {
                frame = input.next() => match frame {
                    // The transport refused a frame over its size limit: say so.
                    Some(Frame::Close(Some((CLOSE_TOO_BIG, _)))) => {
                        Err(Stop::Close(CLOSE_TOO_BIG, "message too big"))
                    }
                    None | Some(Frame::Close(_)) => Err(Stop::Gone),
                    Some(Frame::Pong(_)) => {
                        unanswered = 0;
                        Ok(())
                    }
                    Some(Frame::Ping(p)) => {
                        control(&mut self.output, Frame::Pong(p), limits.ping_interval).await
                    }
                    Some(Frame::Binary(_)) => self.on_binary().await,
                    Some(Frame::Text(text)) => self.on_text(&text).await,
                },
                Some(out) = out_rx.recv() => self.write_out(out, &mut out_rx).await,
                changed = draining_rx.changed(), if !self.draining => {
                    let now = changed.is_ok() && *draining_rx.borrow_and_update();
                    if !now {
                        continue;
                    }
                    self.draining = true;
                    let push = push(PushType::Draining, None);
                    match send(&mut self.output, &push).await {
                        Ok(()) if self.flows.is_empty() => {
                            Err(Stop::Close(CLOSE_GOING_AWAY, "draining"))
                        }
                        other => other,
                    }
                }
                _ = ping.tick() => {
                    if unanswered >= 2 {
                        Err(Stop::Close(CLOSE_POLICY, "keep-alive missed"))
                    } else {
                        unanswered += 1;
                        control(&mut self.output, Frame::Ping(Vec::new()), limits.ping_interval).await
                    }
                }
                () = &mut notice, if !noticed => {
                    noticed = true;
                    let left = self.claims.expires_at.map(|e| e.saturating_sub(self.engine.now()));
                    let push = push(
                        PushType::SessionExpiring,
                        left.and_then(|l| u64::try_from(l).ok()),
                    );
                    send(&mut self.output, &push).await
                }
                () = &mut expiry, if expires_at.is_some() => {
                    let _ = send(&mut self.output, &error_message(ErrorCode::AuthFailed, None, None)).await;
                    Err(Stop::Close(CLOSE_NORMAL, "session expired"))
                }
            };
            if let Err(stop) = step {
                return stop;
            }
        }
    }

    /// Writes what the flows queued — `first` and whatever else is ready, up to a burst —
    /// with one flush: a burst of progress messages and a request leaves in one write.
    async fn write_out(
        &mut self,
        first: Out,
        out_rx: &mut mpsc::Receiver<Out>,
    ) -> Result<(), Stop> {
        const BURST: usize = 32;
        let mut next = Some(first);
        let mut written = 0;
        let mut ended_last = false;
        let work = async {
            while let Some(out) = next.take() {
                let message = match out {
                    Out::Message(m) => Some(m),
                    Out::Ended(id, last) => {
                        self.flows.remove(&id);
                        // Draining: the last running flow has ended.
                        ended_last = self.draining && self.flows.is_empty();
                        last
                    }
                };
                if let Some(m) = message {
                    self.output
                        .feed(Frame::Text(m.to_json()))
                        .await
                        .map_err(|_| Stop::Gone)?;
                }
                written += 1;
                if written < BURST {
                    next = out_rx.try_recv().ok();
                }
            }
            self.output.flush().await.map_err(|_| Stop::Gone)
        };
        match tokio::time::timeout(SEND_TIMEOUT, work).await {
            Ok(Ok(())) if ended_last => Err(Stop::Close(CLOSE_GOING_AWAY, "draining")),
            Ok(result) => result,
            Err(_) => Err(Stop::Gone),
        }
    }

    async fn refuse(
        &mut self,
        code: ErrorCode,
        flow_id: Option<FlowId>,
        message_id: Option<MessageId>,
    ) -> Result<(), Stop> {
        metrics::counter!(metric::REFUSED, "code" => code.as_str()).increment(1);
        send(&mut self.output, &error_message(code, flow_id, message_id)).await
    }

    /// Counts one message against the rate limit: `Ok(true)` when it may be handled,
    /// `Ok(false)` when it was answered `TOO_MANY_REQUESTS` (and is dropped), `Err` past
    /// twice the limit.
    async fn admit(&mut self, envelope: impl FnOnce() -> Envelope) -> Result<bool, Stop> {
        match self.messages.hit() {
            Ok(()) => Ok(true),
            Err(true) => {
                let _ = self.refuse(ErrorCode::TooManyRequests, None, None).await;
                Err(Stop::Close(CLOSE_POLICY, "too many requests"))
            }
            Err(false) => {
                let env = envelope();
                self.refuse(ErrorCode::TooManyRequests, env.flow_id, env.message_id)
                    .await?;
                Ok(false)
            }
        }
    }

    /// A binary frame counts against the message limit like a text frame: each one is
    /// answered, so a flood of them would otherwise cost the engine without bound.
    async fn on_binary(&mut self) -> Result<(), Stop> {
        if !self.admit(Envelope::default).await? {
            return Ok(());
        }
        self.refuse(ErrorCode::InvalidMessage, None, None).await
    }

    async fn on_text(&mut self, text: &str) -> Result<(), Stop> {
        let max = self.engine.limits().max_message_bytes;
        if !self.admit(|| envelope_of(text.as_bytes(), max)).await? {
            return Ok(());
        }
        let message = match parse_client_message(text.as_bytes(), max) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, "message refused");
                let env = envelope_of(text.as_bytes(), max);
                return self.refuse(e.code(), env.flow_id, env.message_id).await;
            }
        };
        let (flow_id, message_id) = match &message {
            ClientMessage::Handshake(h) => {
                return self
                    .refuse(ErrorCode::InvalidMessage, None, h.message_id.clone())
                    .await;
            }
            ClientMessage::FlowStart(start) => return self.start(start.clone()).await,
            ClientMessage::FlowAction(a) => (a.flow_id().clone(), None),
            ClientMessage::SignResponse(r) => (r.flow_id.clone(), Some(r.message_id.clone())),
            ClientMessage::MatchResponse(r) => (r.flow_id.clone(), Some(r.message_id.clone())),
            ClientMessage::CredentialNotification(n) => (n.flow_id.clone(), n.message_id.clone()),
        };
        let Some(flow) = self.flows.get(&flow_id) else {
            return self
                .refuse(ErrorCode::UnknownFlow, Some(flow_id), message_id)
                .await;
        };
        match flow.try_send(message) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.refuse(ErrorCode::TooManyRequests, Some(flow_id), message_id)
                    .await
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.refuse(ErrorCode::UnknownFlow, Some(flow_id), message_id)
                    .await
            }
        }
    }

    async fn start(&mut self, start: FlowStart) -> Result<(), Stop> {
        let flow_id = start.flow_id().clone();
        let message_id = match &start {
            FlowStart::Oid4vci(s) => s.message_id.clone(),
            FlowStart::Oid4vp(s) => s.message_id.clone(),
        };
        if self.draining {
            // The client was told `draining`: it reconnects (to another replica) and
            // starts the flow there.
            return self
                .refuse(ErrorCode::InternalError, Some(flow_id), message_id)
                .await;
        }
        // Flows that have ended leave their tasks behind until reaped.
        while self.tasks.try_join_next().is_some() {}
        let rate = self.starts.hit();
        if rate.is_err() || self.flows.len() >= self.engine.limits().concurrent_flows {
            self.refuse(ErrorCode::TooManyRequests, Some(flow_id), message_id)
                .await?;
            // Past twice the limit the client is disconnected, as for messages.
            return match rate {
                Err(true) => Err(Stop::Close(CLOSE_POLICY, "too many flow starts")),
                _ => Ok(()),
            };
        }
        if self.flows.contains_key(&flow_id) {
            return self
                .refuse(ErrorCode::InvalidMessage, Some(flow_id), message_id)
                .await;
        }
        let (allowed, protocol) = match &start {
            FlowStart::Oid4vci(_) => (self.claims.permissions.receive, "oid4vci"),
            FlowStart::Oid4vp(_) => (self.claims.permissions.present, "oid4vp"),
        };
        if !allowed {
            metrics::counter!(metric::FLOWS_ENDED, "protocol" => protocol, "outcome" => ErrorCode::Forbidden.as_str()).increment(1);
            let refusal = EngineMessage::FlowError(FlowError {
                flow_id,
                message_id,
                timestamp: None,
                step: None,
                error: ErrorBody::new(ErrorCode::Forbidden),
            });
            return send(&mut self.output, &refusal).await;
        }
        let prepared = match flow::prepare(start) {
            Ok(p) => p,
            Err(reason) => {
                tracing::debug!(%reason, "flow_start refused");
                return self
                    .refuse(ErrorCode::InvalidMessage, Some(flow_id), message_id)
                    .await;
            }
        };
        metrics::counter!(metric::FLOWS, "protocol" => protocol).increment(1);
        let (tx, rx) = mpsc::channel(8);
        self.flows.insert(flow_id.clone(), tx);
        let ctx = flow::FlowCtx::new(Arc::clone(&self.engine), flow_id, self.out_tx.clone(), rx);
        self.tasks.spawn(flow::run(ctx, prepared));
        Ok(())
    }
}
