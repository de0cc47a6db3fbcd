//! A flow: one task per `flow_start`, holding all of the flow's state, ending with
//! `flow_complete` or `flow_error`.
//!
//! [`FlowCtx`] is the flow's side of the connection: it sends progress and requests, and
//! waits for the client's answer, refusing (with `error`, the flow unchanged) any message
//! the flow does not expect at that point. The flow limit bounds the whole flow; the
//! sign and match limits bound each request.

mod issuance;
mod presentation;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use wallet_protocol::client::{FlowAction, FlowStart, MatchResponse, SignResponse};
use wallet_protocol::engine::{
    ErrorBody, ErrorMessage, FlowComplete, FlowError, FlowProgress, MatchRequest, ProgressPayload,
    SignAction, SignParams, SignRequest,
};
use wallet_protocol::{ClientMessage, EngineMessage, ErrorCode, FlowId, FlowStep, MessageId};

use crate::session::Out;
use crate::{Engine, metric};

/// A flow that failed: the code the client sees, the step it failed at, and what
/// happened (logged only).
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: ErrorCode,
    pub(crate) detail: String,
}

impl Failure {
    pub(crate) fn new(code: ErrorCode, detail: impl std::fmt::Display) -> Self {
        Failure {
            code,
            detail: detail.to_string(),
        }
    }
}

/// What a `sign_response` carries, or the `SIGN_ERROR` it is: the client's refusal
/// (its reason logged, cut short), or `value` missing (`missing` says what was expected).
pub(crate) fn signed<T>(
    value: Option<T>,
    error: Option<String>,
    missing: &'static str,
) -> Result<T, Failure> {
    match (value, error) {
        (Some(v), None) => Ok(v),
        (_, Some(reason)) => Err(Failure::new(
            ErrorCode::SignError,
            format!("the client could not sign: {reason:.100}"),
        )),
        (None, None) => Err(Failure::new(ErrorCode::SignError, missing)),
    }
}

/// A validated `flow_start`.
pub(crate) enum Prepared {
    Issuance(issuance::Start),
    Presentation(wallet_protocol::client::PresentationStart),
}

/// Checks what a `flow_start` carries before a flow exists (a refusal is `INVALID_MESSAGE`).
pub(crate) fn prepare(start: FlowStart) -> Result<Prepared, String> {
    match start {
        FlowStart::Oid4vci(s) => issuance::Start::check(s).map(Prepared::Issuance),
        FlowStart::Oid4vp(s) => Ok(Prepared::Presentation(s)),
    }
}

/// Runs a flow to its end and tells the connection.
pub(crate) async fn run(mut ctx: FlowCtx, prepared: Prepared) {
    let flow_limit = ctx.engine.limits().flow;
    let protocol = match &prepared {
        Prepared::Issuance(_) => "oid4vci",
        Prepared::Presentation(_) => "oid4vp",
    };
    let outcome = match prepared {
        Prepared::Issuance(start) => {
            match tokio::time::timeout(flow_limit, issuance::run(&mut ctx, start)).await {
                Ok(Ok(after)) => {
                    // The notification window runs after the flow's own limit.
                    after.finish(&mut ctx).await;
                    Ok(())
                }
                Ok(Err(f)) => Err(f),
                Err(_) => Err(Failure::new(ErrorCode::FlowTimeout, "flow limit")),
            }
        }
        Prepared::Presentation(start) => {
            match tokio::time::timeout(flow_limit, presentation::run(&mut ctx, start)).await {
                Ok(r) => r,
                Err(_) => Err(Failure::new(ErrorCode::FlowTimeout, "flow limit")),
            }
        }
    };
    let label = match &outcome {
        Ok(()) => ctx.outcome,
        Err(f) => f.code.as_str(),
    };
    metrics::counter!(metric::FLOWS_ENDED, "protocol" => protocol, "outcome" => label).increment(1);
    let last = match outcome {
        Ok(()) => ctx.last.take(),
        Err(failure) => {
            tracing::info!(
                flow = %ctx.flow_id.as_str(),
                code = failure.code.as_str(),
                step = ?ctx.step,
                detail = %failure.detail,
                "flow failed"
            );
            Some(EngineMessage::FlowError(FlowError {
                flow_id: ctx.flow_id.clone(),
                message_id: None,
                timestamp: None,
                step: ctx.step,
                error: ErrorBody::new(failure.code),
            }))
        }
    };
    // The last message goes with the end, so that the connection forgets the flow before
    // the client reads it: the client may reuse the flow_id at once.
    let _ = ctx
        .out
        .send(Out::Ended(ctx.flow_id.clone(), last.map(Box::new)))
        .await;
}

/// What a flow waits for.
pub(crate) enum Answer {
    Action(FlowAction),
    Sign(SignResponse),
    Match(MatchResponse),
    Notification(wallet_protocol::client::CredentialNotification),
}

/// A flow's side of the connection.
pub(crate) struct FlowCtx {
    pub(crate) engine: Arc<Engine>,
    pub(crate) flow_id: FlowId,
    out: mpsc::Sender<Out>,
    inbox: mpsc::Receiver<ClientMessage>,
    requests: u32,
    /// The last step reported (named in `flow_error`).
    pub(crate) step: Option<FlowStep>,
    /// How the flow ended well (`complete`, `declined`), for the metric.
    pub(crate) outcome: &'static str,
    /// The `flow_complete`, held to be sent with the flow's end (or before a
    /// notification window, [`FlowCtx::send_completion`]).
    last: Option<EngineMessage>,
}

impl FlowCtx {
    pub(crate) fn new(
        engine: Arc<Engine>,
        flow_id: FlowId,
        out: mpsc::Sender<Out>,
        inbox: mpsc::Receiver<ClientMessage>,
    ) -> Self {
        FlowCtx {
            engine,
            flow_id,
            out,
            inbox,
            requests: 0,
            step: None,
            outcome: "complete",
            last: None,
        }
    }

    async fn send(&self, message: EngineMessage) -> Result<(), Failure> {
        // What a peer published (a display name, a query) must not make a message over
        // the size limit, which the client would refuse: the flow fails instead.
        if message.to_json().len() > self.engine.limits().max_message_bytes {
            return Err(Failure::new(
                ErrorCode::MetadataFetchError,
                "the peer's data makes a message larger than the message limit",
            ));
        }
        self.out
            .send(Out::Message(Box::new(message)))
            .await
            .map_err(|_| Failure::new(ErrorCode::InternalError, "the connection is gone"))
    }

    /// Reports reaching `step`.
    pub(crate) async fn progress(
        &mut self,
        step: impl Into<FlowStep>,
        payload: ProgressPayload,
    ) -> Result<(), Failure> {
        self.refuse_unexpected().await?;
        let step = step.into();
        self.step = Some(step);
        self.send(EngineMessage::FlowProgress(FlowProgress {
            flow_id: self.flow_id.clone(),
            message_id: None,
            timestamp: None,
            step,
            payload,
        }))
        .await
    }

    /// Refuses what the client sent while the flow was not waiting for it (busy with a
    /// peer): it was not expected at that step, and must not be taken later as the
    /// answer to a step the client had not yet seen (a `decline` or a `provide_pin`
    /// before the prompt, a `sign_response` guessing the next request's id).
    async fn refuse_unexpected(&mut self) -> Result<(), Failure> {
        while let Ok(message) = self.inbox.try_recv() {
            let (code, message_id) = match message {
                ClientMessage::SignResponse(r) => (ErrorCode::UnknownFlow, Some(r.message_id)),
                ClientMessage::MatchResponse(r) => (ErrorCode::UnknownFlow, Some(r.message_id)),
                ClientMessage::FlowAction(a) => {
                    (ErrorCode::InvalidMessage, message_id_of(&Answer::Action(a)))
                }
                ClientMessage::CredentialNotification(n) => {
                    (ErrorCode::InvalidMessage, n.message_id)
                }
                // The connection handles these; they never reach a flow.
                ClientMessage::Handshake(_) | ClientMessage::FlowStart(_) => continue,
            };
            self.refuse(code, message_id).await?;
        }
        Ok(())
    }

    /// Ends the flow well. The `flow_complete` is held and sent with the flow's end,
    /// unless [`FlowCtx::send_completion`] sends it before.
    pub(crate) async fn complete(&mut self, complete: FlowComplete) -> Result<(), Failure> {
        let message = EngineMessage::FlowComplete(FlowComplete {
            flow_id: self.flow_id.clone(),
            ..complete
        });
        if message.to_json().len() > self.engine.limits().max_message_bytes {
            return Err(Failure::new(
                ErrorCode::CredentialError,
                "the result is larger than the message limit",
            ));
        }
        if matches!(&message, EngineMessage::FlowComplete(c) if c.declined) {
            self.outcome = "declined";
        }
        self.last = Some(message);
        Ok(())
    }

    /// Sends the held `flow_complete` now: the flow stays open after it (the
    /// notification window), so the client must have it before the flow ends.
    pub(crate) async fn send_completion(&mut self) -> Result<(), Failure> {
        match self.last.take() {
            Some(message) => self.send(message).await,
            None => Ok(()),
        }
    }

    fn next_message_id(&mut self) -> Result<MessageId, Failure> {
        self.requests = self.requests.saturating_add(1);
        MessageId::new(format!("e-{}", self.requests))
            .map_err(|e| Failure::new(ErrorCode::InternalError, e))
    }

    /// Sends a refusal for a message the flow does not expect now.
    async fn refuse(&self, code: ErrorCode, message_id: Option<MessageId>) -> Result<(), Failure> {
        metrics::counter!(metric::REFUSED, "code" => code.as_str()).increment(1);
        self.send(EngineMessage::Error(ErrorMessage {
            flow_id: Some(self.flow_id.clone()),
            message_id,
            ..ErrorMessage::new(code)
        }))
        .await
    }

    /// Waits for the next message `accept` takes, within `limit` (failing with
    /// `timeout_code`) when given. A message it does not take is refused with the code it
    /// returns, and the wait goes on.
    pub(crate) async fn wait<T>(
        &mut self,
        limit: Option<(Duration, ErrorCode)>,
        mut accept: impl FnMut(Answer) -> Result<T, (ErrorCode, Option<MessageId>)>,
    ) -> Result<T, Failure> {
        let deadline = limit.map(|(d, code)| (tokio::time::Instant::now() + d, code));
        loop {
            let next = match deadline {
                Some((at, code)) => match tokio::time::timeout_at(at, self.inbox.recv()).await {
                    Ok(m) => m,
                    Err(_) => return Err(Failure::new(code, "no answer in time")),
                },
                None => self.inbox.recv().await,
            };
            let Some(message) = next else {
                return Err(Failure::new(
                    ErrorCode::InternalError,
                    "the connection is gone",
                ));
            };
            let answer = match message {
                ClientMessage::FlowAction(a) => Answer::Action(a),
                ClientMessage::SignResponse(r) => Answer::Sign(r),
                ClientMessage::MatchResponse(r) => Answer::Match(r),
                ClientMessage::CredentialNotification(n) => Answer::Notification(n),
                // The connection handles these; they never reach a flow.
                ClientMessage::Handshake(_) | ClientMessage::FlowStart(_) => continue,
            };
            match accept(answer) {
                Ok(t) => return Ok(t),
                Err((code, message_id)) => self.refuse(code, message_id).await?,
            }
        }
    }

    /// Asks the client to sign and waits for its `sign_response`.
    pub(crate) async fn sign(
        &mut self,
        action: SignAction,
        params: SignParams,
    ) -> Result<SignResponse, Failure> {
        let message_id = self.next_message_id()?;
        self.send(EngineMessage::SignRequest(SignRequest {
            flow_id: self.flow_id.clone(),
            message_id: message_id.clone(),
            timestamp: None,
            action,
            params,
        }))
        .await?;
        let limit = self.engine.limits().sign;
        self.wait(
            Some((limit, ErrorCode::SignTimeout)),
            |answer| match answer {
                Answer::Sign(r) if r.message_id == message_id => Ok(r),
                Answer::Sign(r) => Err((ErrorCode::UnknownFlow, Some(r.message_id))),
                Answer::Match(r) => Err((ErrorCode::UnknownFlow, Some(r.message_id))),
                other => Err((ErrorCode::InvalidMessage, message_id_of(&other))),
            },
        )
        .await
    }

    /// Sends `match_request` and waits for the client's matches (a `match_response`, or a
    /// `credentials_matched` action), or its `decline`.
    pub(crate) async fn matching(
        &mut self,
        dcql_query: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Matched, Failure> {
        let message_id = self.next_message_id()?;
        self.send(EngineMessage::MatchRequest(MatchRequest {
            flow_id: self.flow_id.clone(),
            message_id: message_id.clone(),
            timestamp: None,
            dcql_query,
        }))
        .await?;
        let limit = self.engine.limits().matching;
        self.wait(
            Some((limit, ErrorCode::MatchTimeout)),
            |answer| match answer {
                Answer::Match(r) if r.message_id == message_id => Ok(Matched::Answer {
                    matches: r.matches,
                    no_match_reason: r.no_match_reason,
                }),
                Answer::Action(FlowAction::CredentialsMatched(m)) => Ok(Matched::Answer {
                    matches: m.matches,
                    no_match_reason: m.no_match_reason,
                }),
                Answer::Action(FlowAction::Decline(d)) => Ok(Matched::Declined(d.reason)),
                Answer::Match(r) => Err((ErrorCode::UnknownFlow, Some(r.message_id))),
                Answer::Sign(r) => Err((ErrorCode::UnknownFlow, Some(r.message_id))),
                other => Err((ErrorCode::InvalidMessage, message_id_of(&other))),
            },
        )
        .await
    }
}

/// The client's answer to `match_request`.
pub(crate) enum Matched {
    Answer {
        matches: Option<Vec<wallet_protocol::common::CredentialMatch>>,
        no_match_reason: Option<String>,
    },
    Declined(Option<String>),
}

fn message_id_of(answer: &Answer) -> Option<MessageId> {
    match answer {
        Answer::Action(a) => match a {
            FlowAction::SelectCredential(x) => x.message_id.clone(),
            FlowAction::ProvidePin(x) => x.message_id.clone(),
            FlowAction::CredentialsMatched(x) => x.message_id.clone(),
            FlowAction::Consent(x) => x.message_id.clone(),
            FlowAction::Decline(x) => x.message_id.clone(),
            FlowAction::ContinueDeferred(x) => x.message_id.clone(),
        },
        Answer::Sign(r) => Some(r.message_id.clone()),
        Answer::Match(r) => Some(r.message_id.clone()),
        Answer::Notification(n) => n.message_id.clone(),
    }
}
