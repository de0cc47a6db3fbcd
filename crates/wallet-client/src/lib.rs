//! The client side of the wallet engine's API v2 (`docs/api-v2.md`): it keeps the holder
//! keys and the credentials, matches DCQL queries against its own store, asks its
//! [`Holder`] (the user interface) to choose, signs, and decrypts and verifies the
//! credentials the engine relays. It links no server code; the engine is reached over
//! any [`Frame`] transport: a WebSocket ([`Client::connect`]) or, for a client with the
//! engine in the same process, the engine's in-memory transport ([`Client::open`]).
//!
//! ```text
//! let mut client = Client::connect("wss://wallet.example/api/v2/wallet", token, settings).await?;
//! let receipt = client.receive(offer_uri, &mut holder, ReceivePolicy::default()).await?;
//! // store receipt.credentials, then:
//! client.notify(&receipt, NotificationEvent::CredentialAccepted).await?;
//! let outcome = client.present(request_uri, &held, &mut holder).await?;
//! ```
//!
//! What the engine learns: the offer and request URIs, the proofs and the presentation
//! the holder consented to (never another credential, never a holder key). Issued
//! credentials come encrypted to a key made for each issuance; only with
//! [`ReceivePolicy::allow_plaintext`] does a client accept them relayed in the clear from
//! an issuer that cannot encrypt.

mod holder;
mod matching;
mod transport;

use std::pin::Pin;
use std::sync::Arc;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use jose::{Clock, Curve, Enc, EncryptionKey, PublicJwk};
use oid4vci::{CredentialConfiguration, ProofClaims};
use wallet::HeldCredential;
use wallet::credential::Display;
use wallet::issuance::{CredentialReply, Expected, decrypt_reply, display_of, verify_issued};
use wallet::presentation::{Audience, Choice, Consent, build_presentations_for};
use wallet_protocol::client::{
    ContentEncryption, CredentialNotification, FlowAction, FlowStart, Handshake, IssuanceStart,
    MatchResponse, NotificationEvent, PresentationStart, Proof, ProvidePin, ResponseEncryption,
    SelectCredential, SignResponse,
};
use wallet_protocol::common::{Capability, CredentialSelection};
use wallet_protocol::engine::{
    FlowComplete, IssuanceContext, ProgressPayload, SignAction, SignRequest, TrustResult,
    VerifierSummary,
};
use wallet_protocol::{
    AppToken, ClientMessage, EngineMessage, ErrorCode, FlowId, FlowStep, Frame, IssuanceStep,
    PresentationStep, TxCode, parse_engine_message,
};

pub use holder::{ConsentView, Holder};
pub use matching::{claim_paths, to_oid4vp_path, to_protocol_path};
pub use transport::TransportError;

/// Why a flow or the connection failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The transport failed or the engine closed the connection.
    #[error("the connection to the wallet engine is closed")]
    Closed,
    /// The WebSocket could not be opened.
    #[error("cannot connect to the wallet engine: {0}")]
    Connect(#[source] TransportError),
    /// The engine refused the handshake.
    #[error("the wallet engine refused the session: {0}")]
    Refused(ErrorCode),
    /// The engine sent something outside the protocol.
    #[error("the wallet engine sent an invalid message: {0}")]
    Protocol(String),
    /// The engine refused one of this client's messages.
    #[error("the wallet engine refused a message: {}", .0.user_message())]
    Message(ErrorCode),
    /// The flow ended with `flow_error`.
    #[error("{} ({code} at {})", code.user_message(), step_name(*step))]
    Flow {
        /// The error code.
        code: ErrorCode,
        /// The step it ended at.
        step: Option<FlowStep>,
    },
    /// The engine's session does not permit this flow.
    #[error("the session cannot {0}")]
    NotPermitted(&'static str),
    /// The issuer cannot encrypt the credentials to this client and the policy refuses
    /// plaintext.
    #[error("the credentials came unencrypted, which this client's policy refuses")]
    Plaintext,
    /// Decrypting or reading the credential response failed.
    #[error("the credential response cannot be read: {0}")]
    Response(#[source] wallet::IssuanceError),
    /// A received credential does not verify.
    #[error("credential {index} refused: {source}")]
    Credential {
        /// Its position in the response.
        index: usize,
        /// Why.
        #[source]
        source: wallet::CredentialCheck,
    },
    /// The engine asked to sign something other than what the holder chose.
    #[error("the engine asked to present something the holder did not choose")]
    NotChosen,
    /// Signing or building a presentation failed.
    #[error("cannot build the presentation: {0}")]
    Presentation(#[from] wallet::PresentationError),
    /// A key or proof could not be made.
    #[error("cannot sign: {0}")]
    Sign(#[from] jose::SignError),
    /// A key could not be made.
    #[error("cannot make a key: {0}")]
    Key(#[from] jose::JweError),
}

fn step_name(step: Option<FlowStep>) -> String {
    match step.map(serde_json::to_value) {
        Some(Ok(serde_json::Value::String(s))) => s,
        _ => "start".to_owned(),
    }
}

/// What a client accepts from issuers.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReceivePolicy {
    /// Accept credentials relayed in plaintext from an issuer that cannot encrypt them to
    /// this client (the engine then sees them).
    pub allow_plaintext: bool,
}

/// One verified credential received.
#[derive(Clone, Debug)]
pub struct Received {
    /// The configuration it was issued for.
    pub configuration_id: String,
    /// The credential, read.
    pub credential: HeldCredential,
    /// How the issuer wants it shown.
    pub display: Display,
}

/// The outcome of [`Client::receive`].
#[derive(Clone, Debug)]
pub struct Receipt {
    /// The flow (for [`Client::notify`]).
    pub flow_id: FlowId,
    /// The credential issuer.
    pub issuer: String,
    /// Whether the issuer's metadata came signed.
    pub signed_metadata: Option<bool>,
    /// The credentials, verified; empty when the holder declined.
    pub credentials: Vec<Received>,
    /// The issuer's `notification_id`, when it wants notifications.
    pub notification_id: Option<String>,
    /// Whether the credentials came encrypted to this client (the engine could not read
    /// them).
    pub encrypted: bool,
    /// The holder declined.
    pub declined: bool,
}

/// The outcome of [`Client::present`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Presented {
    /// The verifier accepted the presentation.
    Presented {
        /// Per credential query answered: the credential index (into the `held` given)
        /// and the claims disclosed, as dotted paths.
        disclosed: Vec<(String, usize, Vec<String>)>,
        /// Where the verifier sends the holder next.
        redirect_uri: Option<String>,
    },
    /// The holder declined, or held nothing that answers; the verifier was told
    /// `access_denied`.
    Declined {
        /// Whether any held credential could have answered.
        matched: bool,
        /// Why nothing answers, when nothing does (from the local matching).
        unmet: Vec<String>,
        /// Where the verifier sends the holder next.
        redirect_uri: Option<String>,
    },
}

type FrameSink = Pin<Box<dyn Sink<Frame, Error = TransportError> + Send>>;
type FrameStream = Pin<Box<dyn Stream<Item = Frame> + Send>>;

/// A session with a wallet engine.
pub struct Client {
    sink: FrameSink,
    stream: FrameStream,
    session_id: String,
    capabilities: Vec<Capability>,
    settings: wallet::Settings,
    clock: Arc<dyn Clock>,
    flows: u64,
    max_message_bytes: usize,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("session_id", &self.session_id)
            .field("capabilities", &self.capabilities)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Opens a session over a WebSocket (`ws://` or `wss://`; TLS with the system's
    /// roots plus `extra_roots` DER certificates).
    pub async fn connect(
        url: &str,
        app_token: &str,
        settings: wallet::Settings,
        extra_roots: &[Vec<u8>],
    ) -> Result<Self, ClientError> {
        let (sink, stream) = transport::websocket(url, extra_roots)
            .await
            .map_err(ClientError::Connect)?;
        Client::open(sink, stream, app_token, settings).await
    }

    /// Opens a session over any frame transport (the engine's in-memory one, a WebSocket
    /// opened elsewhere): sends the `handshake` and waits for `handshake_complete`.
    pub async fn open<S, R>(
        sink: S,
        stream: R,
        app_token: &str,
        settings: wallet::Settings,
    ) -> Result<Self, ClientError>
    where
        S: Sink<Frame> + Send + 'static,
        S::Error: std::fmt::Display,
        R: Stream<Item = Frame> + Send + 'static,
    {
        let mut client = Client {
            sink: Box::pin(sink.sink_map_err(|e| TransportError::Io(e.to_string()))),
            stream: Box::pin(stream),
            session_id: String::new(),
            capabilities: Vec::new(),
            settings,
            clock: Arc::new(jose::SystemClock),
            flows: 0,
            max_message_bytes: wallet_protocol::limits::MAX_MESSAGE_BYTES,
        };
        client
            .send(ClientMessage::Handshake(Handshake {
                message_id: None,
                timestamp: None,
                app_token: AppToken::new(app_token),
            }))
            .await?;
        match client.next().await? {
            EngineMessage::HandshakeComplete(h) => {
                client.session_id = h.session_id;
                client.capabilities = h.capabilities;
                Ok(client)
            }
            EngineMessage::Error(e) => Err(ClientError::Refused(e.code)),
            _ => Err(ClientError::Protocol("no handshake_complete".into())),
        }
    }

    /// Uses `clock` for proofs, presentations and verification (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The engine's session id.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// What the session may do.
    pub fn capabilities(&self) -> &[Capability] {
        &self.capabilities
    }

    async fn send(&mut self, message: ClientMessage) -> Result<(), ClientError> {
        self.sink
            .send(Frame::Text(message.to_json()))
            .await
            .map_err(|_| ClientError::Closed)
    }

    /// The next engine message (answering pings on the way).
    async fn next(&mut self) -> Result<EngineMessage, ClientError> {
        loop {
            match self.stream.next().await {
                None | Some(Frame::Close(_)) => return Err(ClientError::Closed),
                Some(Frame::Ping(p)) => {
                    self.sink
                        .send(Frame::Pong(p))
                        .await
                        .map_err(|_| ClientError::Closed)?;
                }
                Some(Frame::Pong(_)) => {}
                Some(Frame::Binary(_)) => {
                    return Err(ClientError::Protocol("a binary frame".into()));
                }
                Some(Frame::Text(text)) => {
                    return parse_engine_message(text.as_bytes(), self.max_message_bytes)
                        .map_err(|e| ClientError::Protocol(e.to_string()));
                }
            }
        }
    }

    /// The next message of flow `flow_id`; `error` for it ends the flow here, messages
    /// of no flow (`push`) are skipped.
    async fn next_for(&mut self, flow_id: &FlowId) -> Result<EngineMessage, ClientError> {
        loop {
            let message = self.next().await?;
            let belongs = match &message {
                EngineMessage::FlowProgress(m) => &m.flow_id == flow_id,
                EngineMessage::FlowComplete(m) => &m.flow_id == flow_id,
                EngineMessage::FlowError(m) => &m.flow_id == flow_id,
                EngineMessage::SignRequest(m) => &m.flow_id == flow_id,
                EngineMessage::MatchRequest(m) => &m.flow_id == flow_id,
                EngineMessage::Error(e) => {
                    if e.flow_id.is_none() || e.flow_id.as_ref() == Some(flow_id) {
                        return Err(ClientError::Message(e.code));
                    }
                    false
                }
                EngineMessage::Push(_) | EngineMessage::HandshakeComplete(_) => false,
            };
            if belongs {
                return Ok(message);
            }
        }
    }

    fn new_flow_id(&mut self) -> Result<FlowId, ClientError> {
        self.flows += 1;
        FlowId::new(format!("f-{}", self.flows)).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Receives the credentials an offer (`openid-credential-offer://…` or an `https://`
    /// offer location) names: the engine runs the flow, `holder` chooses, enters the
    /// transaction code and signs the proofs; the credentials come encrypted to a key
    /// made for this issuance and are decrypted and verified here. Nothing is stored.
    pub async fn receive(
        &mut self,
        offer: &str,
        holder: &mut dyn Holder,
        policy: ReceivePolicy,
    ) -> Result<Receipt, ClientError> {
        if !self.capabilities.contains(&Capability::Oid4vci) {
            return Err(ClientError::NotPermitted("receive credentials"));
        }
        let flow_id = self.new_flow_id()?;
        let key = EncryptionKey::generate(Curve::P256)?;
        let enc = Enc::A128Gcm;
        let jwk = match key.public_jwk_for_encryption().to_value() {
            serde_json::Value::Object(m) => m,
            _ => return Err(ClientError::Protocol("unusable encryption key".into())),
        };
        self.send(ClientMessage::FlowStart(FlowStart::Oid4vci(
            IssuanceStart {
                flow_id: flow_id.clone(),
                message_id: None,
                timestamp: None,
                offer: offer.to_owned(),
                response_encryption: Some(ResponseEncryption {
                    jwk,
                    enc: ContentEncryption::A128Gcm,
                }),
                allow_plaintext_response: policy.allow_plaintext,
            },
        )))
        .await?;
        let mut signed_metadata = None;
        let mut issuer = String::new();
        let mut proof_keys: Vec<PublicJwk> = Vec::new();
        loop {
            match self.next_for(&flow_id).await? {
                EngineMessage::FlowProgress(p) => {
                    holder.progress(p.step, &p.payload);
                    if let Some(i) = &p.payload.issuer {
                        issuer.clone_from(&i.credential_issuer);
                        signed_metadata = i.signed_metadata;
                    }
                    match p.step {
                        FlowStep::Issuance(IssuanceStep::AwaitingSelection) => {
                            let options = p.payload.available_credentials.unwrap_or_default();
                            let action = match holder.select(&options) {
                                Some(id) => FlowAction::SelectCredential(SelectCredential {
                                    flow_id: flow_id.clone(),
                                    message_id: None,
                                    timestamp: None,
                                    credential_configuration_id: id,
                                }),
                                None => decline(&flow_id),
                            };
                            self.send(ClientMessage::FlowAction(action)).await?;
                        }
                        FlowStep::Issuance(IssuanceStep::Deferred) => {
                            // An encrypted deferral: only this client can read the
                            // transaction id the engine needs to poll.
                            if let Some(jwe) = &p.payload.encrypted_response {
                                let action = match decrypt_reply(jwe, &key, enc) {
                                    Ok(CredentialReply::Deferred {
                                        transaction_id,
                                        interval,
                                    }) => FlowAction::ContinueDeferred(
                                        wallet_protocol::client::ContinueDeferred {
                                            flow_id: flow_id.clone(),
                                            message_id: None,
                                            timestamp: None,
                                            transaction_id,
                                            interval,
                                        },
                                    ),
                                    _ => decline(&flow_id),
                                };
                                self.send(ClientMessage::FlowAction(action)).await?;
                            }
                        }
                        FlowStep::Issuance(IssuanceStep::AwaitingTxCode) => {
                            let spec =
                                p.payload
                                    .tx_code
                                    .unwrap_or(wallet_protocol::engine::TxCodeSpec {
                                        input_mode: None,
                                        length: None,
                                        description: None,
                                    });
                            let action = match holder.tx_code(&spec, p.payload.retry) {
                                Some(code) => FlowAction::ProvidePin(ProvidePin {
                                    flow_id: flow_id.clone(),
                                    message_id: None,
                                    timestamp: None,
                                    tx_code: TxCode::new(code),
                                }),
                                None => decline(&flow_id),
                            };
                            self.send(ClientMessage::FlowAction(action)).await?;
                        }
                        _ => {}
                    }
                }
                EngineMessage::SignRequest(request) => {
                    let answer = self.proofs(&request, holder, &mut proof_keys);
                    self.send(ClientMessage::SignResponse(answer)).await?;
                }
                EngineMessage::MatchRequest(m) => {
                    return Err(ClientError::Protocol(format!(
                        "a match_request ({}) in an issuance",
                        m.message_id.as_str()
                    )));
                }
                EngineMessage::FlowError(e) => {
                    return Err(ClientError::Flow {
                        code: e.error.code,
                        step: e.step,
                    });
                }
                EngineMessage::FlowComplete(complete) => {
                    return self
                        .received(
                            flow_id,
                            complete,
                            &key,
                            enc,
                            &proof_keys,
                            policy,
                            signed_metadata,
                            issuer,
                        )
                        .await;
                }
                EngineMessage::Error(_)
                | EngineMessage::Push(_)
                | EngineMessage::HandshakeComplete(_) => {}
            }
        }
    }

    /// Signs the proofs a `generate_proof` asks for, with as many holder keys as the
    /// issuer takes; remembers their public keys (the credentials must be bound to one).
    fn proofs(
        &self,
        request: &SignRequest,
        holder: &mut dyn Holder,
        keys: &mut Vec<PublicJwk>,
    ) -> SignResponse {
        let refuse = |reason: &str| SignResponse {
            flow_id: request.flow_id.clone(),
            message_id: request.message_id.clone(),
            timestamp: None,
            proofs: None,
            vp_token: None,
            error: Some(reason.to_owned()),
        };
        if request.action != SignAction::GenerateProof {
            return refuse("not an issuance proof request");
        }
        let params = &request.params;
        let count = usize::try_from(params.count.unwrap_or(1)).unwrap_or(1);
        let accepted: Option<Vec<String>> = params
            .proof_types_supported
            .as_ref()
            .and_then(|p| p.get("jwt"))
            .and_then(|j| j.get("proof_signing_alg_values_supported"))
            .and_then(|a| serde_json::from_value(a.clone()).ok());
        let signers = holder.proof_signers();
        let usable: Vec<_> = signers
            .into_iter()
            .filter(|s| {
                accepted
                    .as_ref()
                    .is_none_or(|list| list.iter().any(|a| a == s.algorithm().name()))
            })
            .take(count.max(1))
            .collect();
        if usable.is_empty() {
            return refuse("no holder key of an algorithm the issuer accepts");
        }
        let now = self.clock.now();
        let mut proofs = Vec::new();
        for signer in usable {
            let claims = ProofClaims {
                aud: params.audience.clone(),
                iat: now,
                nonce: params.nonce.clone(),
                iss: params.issuer.clone(),
            };
            match claims.sign(signer) {
                Ok(jwt) => {
                    keys.push(signer.public_jwk().clone());
                    proofs.push(Proof::Jwt { jwt });
                }
                Err(_) => return refuse("the holder key could not sign"),
            }
        }
        SignResponse {
            flow_id: request.flow_id.clone(),
            message_id: request.message_id.clone(),
            timestamp: None,
            proofs: Some(proofs),
            vp_token: None,
            error: None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn received(
        &mut self,
        flow_id: FlowId,
        complete: FlowComplete,
        key: &EncryptionKey,
        enc: Enc,
        holders: &[PublicJwk],
        policy: ReceivePolicy,
        signed_metadata: Option<bool>,
        issuer: String,
    ) -> Result<Receipt, ClientError> {
        if complete.declined {
            return Ok(Receipt {
                flow_id,
                issuer,
                signed_metadata,
                credentials: Vec::new(),
                notification_id: None,
                encrypted: false,
                declined: true,
            });
        }
        let context = complete
            .issuance
            .ok_or_else(|| ClientError::Protocol("flow_complete without issuance".into()))?;
        let (texts, notification_id, encrypted) =
            match (complete.encrypted_response, complete.credentials) {
                (Some(jwe), None) => match decrypt_reply(&jwe, key, enc) {
                    Ok(CredentialReply::Issued {
                        credentials,
                        notification_id,
                    }) => (credentials, notification_id, true),
                    Ok(CredentialReply::Encrypted { .. } | CredentialReply::Deferred { .. }) => {
                        return Err(ClientError::Protocol(
                            "flow_complete holds no credentials".into(),
                        ));
                    }
                    Err(e) => return Err(ClientError::Response(e)),
                },
                (None, Some(plain)) if policy.allow_plaintext => (
                    plain.into_iter().map(|c| c.credential).collect(),
                    complete.notification_id,
                    false,
                ),
                (None, Some(_)) => return Err(ClientError::Plaintext),
                _ => {
                    return Err(ClientError::Protocol(
                        "flow_complete without credentials".into(),
                    ));
                }
            };
        if texts.is_empty() || texts.len() > holders.len() {
            return Err(ClientError::Protocol(format!(
                "{} credentials for {} proofs",
                texts.len(),
                holders.len()
            )));
        }
        let credentials = self.verify(&context, &texts, holders);
        let credentials = match credentials {
            Ok(c) => c,
            Err(e) => {
                if let Some(id) = &notification_id {
                    // Best effort: the refusal stands whether or not the issuer hears it.
                    let _ = self
                        .notify_raw(&flow_id, id, NotificationEvent::CredentialFailure)
                        .await;
                }
                return Err(e);
            }
        };
        Ok(Receipt {
            flow_id,
            issuer: context.credential_issuer,
            signed_metadata,
            credentials,
            notification_id,
            encrypted,
            declined: false,
        })
    }

    fn verify(
        &self,
        context: &IssuanceContext,
        texts: &[serde_json::Value],
        holders: &[PublicJwk],
    ) -> Result<Vec<Received>, ClientError> {
        let configuration: Option<CredentialConfiguration> = serde_json::from_value(
            serde_json::Value::Object(context.credential_configuration.clone()),
        )
        .ok();
        let vct = configuration
            .as_ref()
            .and_then(|c| c.vct.clone())
            .unwrap_or_default();
        let issuer_keys: Vec<PublicJwk> = context
            .issuer_jwks
            .as_ref()
            .and_then(|set| set.get("keys"))
            .and_then(serde_json::Value::as_array)
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| PublicJwk::from_value(k).ok())
                    .collect()
            })
            .unwrap_or_default();
        let display = display_of(context.issuer_name.clone(), configuration.as_ref());
        let now = self.clock.now();
        texts
            .iter()
            .enumerate()
            .map(|(index, text)| {
                let text = text.as_str().ok_or(ClientError::Credential {
                    index,
                    source: wallet::CredentialCheck::NotSdJwtVc,
                })?;
                let expected = Expected {
                    issuer: &context.credential_issuer,
                    vct: &vct,
                    holders,
                    issuer_keys: &issuer_keys,
                };
                let credential =
                    verify_issued(text, &expected, &self.settings, now, self.clock.as_ref())
                        .map_err(|source| ClientError::Credential { index, source })?;
                Ok(Received {
                    configuration_id: context.credential_configuration_id.clone(),
                    credential,
                    display: display.clone(),
                })
            })
            .collect()
    }

    async fn notify_raw(
        &mut self,
        flow_id: &FlowId,
        notification_id: &str,
        event: NotificationEvent,
    ) -> Result<(), ClientError> {
        self.send(ClientMessage::CredentialNotification(
            CredentialNotification {
                flow_id: flow_id.clone(),
                message_id: None,
                timestamp: None,
                notification_id: notification_id.to_owned(),
                event,
                event_description: None,
            },
        ))
        .await
    }

    /// Tells the issuer (through the engine, within the notification window) what became
    /// of the credentials of `receipt`: `credential_accepted` once stored. Returns whether
    /// the issuer accepted it (`true` when the issuer wants no notifications).
    pub async fn notify(
        &mut self,
        receipt: &Receipt,
        event: NotificationEvent,
    ) -> Result<bool, ClientError> {
        let Some(id) = &receipt.notification_id else {
            return Ok(true);
        };
        self.notify_raw(&receipt.flow_id, id, event).await?;
        loop {
            match self.next_for(&receipt.flow_id).await? {
                EngineMessage::FlowProgress(p)
                    if p.step == FlowStep::Issuance(IssuanceStep::Notified) =>
                {
                    return Ok(p.payload.delivered.unwrap_or(false));
                }
                EngineMessage::FlowError(e) => {
                    return Err(ClientError::Flow {
                        code: e.error.code,
                        step: e.step,
                    });
                }
                _ => {}
            }
        }
    }

    /// Answers a presentation request (`openid4vp://…`): the engine resolves and checks
    /// it; the query is matched here against `held` (whose ids are `ids`, same order),
    /// `holder` consents (or declines), and only the chosen claims are signed and sent.
    pub async fn present(
        &mut self,
        request: &str,
        held: &[HeldCredential],
        ids: &[String],
        holder: &mut dyn Holder,
    ) -> Result<Presented, ClientError> {
        if !self.capabilities.contains(&Capability::Oid4vp) {
            return Err(ClientError::NotPermitted("present credentials"));
        }
        if ids.len() != held.len() {
            return Err(ClientError::Protocol(
                "one id per held credential is needed".into(),
            ));
        }
        let flow_id = self.new_flow_id()?;
        self.send(ClientMessage::FlowStart(FlowStart::Oid4vp(
            PresentationStart {
                flow_id: flow_id.clone(),
                message_id: None,
                timestamp: None,
                request: request.to_owned(),
            },
        )))
        .await?;
        let mut verifier: Option<VerifierSummary> = None;
        let mut trust: Option<TrustResult> = None;
        let mut state: Option<(oid4vp::DcqlQuery, Consent)> = None;
        let mut chosen: Option<(Choice, Vec<CredentialSelection>)> = None;
        let mut disclosed = Vec::new();
        loop {
            match self.next_for(&flow_id).await? {
                EngineMessage::FlowProgress(p) => {
                    holder.progress(p.step, &p.payload);
                    if let Some(v) = p.payload.verifier.clone() {
                        verifier = Some(v);
                    }
                    if let Some(t) = p.payload.trust.clone() {
                        trust = Some(t);
                    }
                    if p.step == FlowStep::Presentation(PresentationStep::AwaitingConsent) {
                        let action = self.consent(
                            &flow_id,
                            verifier.as_ref(),
                            trust.as_ref(),
                            state.as_ref(),
                            held,
                            ids,
                            &p.payload,
                            holder,
                            &mut chosen,
                        );
                        self.send(ClientMessage::FlowAction(action)).await?;
                    }
                }
                EngineMessage::MatchRequest(m) => {
                    let query = oid4vp::DcqlQuery::from_value(&serde_json::Value::Object(
                        m.dcql_query.clone(),
                    ))
                    .map_err(|e| ClientError::Protocol(format!("the query: {e}")))?;
                    let consent = Consent::new(&query, held);
                    let (matches, no_match_reason) = matching::matches(&consent, held, ids);
                    if let (None, Some(verifier)) = (&matches, &verifier) {
                        holder.nothing_matches(&ConsentView {
                            verifier,
                            trust: trust.as_ref(),
                            consent: &consent,
                            held,
                            ids,
                            requested: &[],
                        });
                    }
                    self.send(ClientMessage::MatchResponse(MatchResponse {
                        flow_id: flow_id.clone(),
                        message_id: m.message_id.clone(),
                        timestamp: None,
                        matches,
                        no_match_reason,
                    }))
                    .await?;
                    state = Some((query, consent));
                }
                EngineMessage::SignRequest(request) => {
                    let answer =
                        self.presentations(&request, state.as_ref(), chosen.as_ref(), held, holder);
                    let answer = match answer {
                        Ok((response, d)) => {
                            disclosed = d;
                            response
                        }
                        Err(e) => {
                            let refusal = SignResponse {
                                flow_id: request.flow_id.clone(),
                                message_id: request.message_id.clone(),
                                timestamp: None,
                                proofs: None,
                                vp_token: None,
                                error: Some("the presentation could not be built".into()),
                            };
                            self.send(ClientMessage::SignResponse(refusal)).await?;
                            return Err(e);
                        }
                    };
                    self.send(ClientMessage::SignResponse(answer)).await?;
                }
                EngineMessage::FlowError(e) => {
                    return Err(ClientError::Flow {
                        code: e.error.code,
                        step: e.step,
                    });
                }
                EngineMessage::FlowComplete(c) => {
                    if c.declined {
                        let matched = state.as_ref().is_some_and(|(_, c)| c.satisfiable());
                        let unmet = state
                            .as_ref()
                            .map(|(_, c)| c.unmet.clone())
                            .unwrap_or_default();
                        return Ok(Presented::Declined {
                            matched,
                            unmet,
                            redirect_uri: c.redirect_uri,
                        });
                    }
                    return Ok(Presented::Presented {
                        disclosed,
                        redirect_uri: c.redirect_uri,
                    });
                }
                EngineMessage::Error(_)
                | EngineMessage::Push(_)
                | EngineMessage::HandshakeComplete(_) => {}
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn consent(
        &self,
        flow_id: &FlowId,
        verifier: Option<&VerifierSummary>,
        trust: Option<&TrustResult>,
        state: Option<&(oid4vp::DcqlQuery, Consent)>,
        held: &[HeldCredential],
        ids: &[String],
        payload: &ProgressPayload,
        holder: &mut dyn Holder,
        chosen: &mut Option<(Choice, Vec<CredentialSelection>)>,
    ) -> FlowAction {
        let (Some(verifier), Some((_, consent))) = (verifier, state) else {
            return decline(flow_id);
        };
        let view = ConsentView {
            verifier,
            trust,
            consent,
            held,
            ids,
            requested: payload.requested_claims.as_deref().unwrap_or_default(),
        };
        let Some(choice) = holder.consent(&view) else {
            return decline(flow_id);
        };
        let selection: Vec<CredentialSelection> = choice
            .picks
            .iter()
            .filter_map(|p| {
                Some(CredentialSelection {
                    credential_id: ids.get(p.credential)?.clone(),
                    credential_query_id: Some(p.query_id.clone()),
                    disclosed_claims: p.disclose.iter().map(to_protocol_path).collect(),
                })
            })
            .collect();
        if selection.is_empty() {
            return decline(flow_id);
        }
        *chosen = Some((choice, selection.clone()));
        FlowAction::Consent(wallet_protocol::client::Consent {
            flow_id: flow_id.clone(),
            message_id: None,
            timestamp: None,
            selected_credentials: selection,
        })
    }

    /// Builds the presentations for the consented choice, refusing a request to include
    /// anything else.
    #[allow(clippy::type_complexity)]
    fn presentations(
        &self,
        request: &SignRequest,
        state: Option<&(oid4vp::DcqlQuery, Consent)>,
        chosen: Option<&(Choice, Vec<CredentialSelection>)>,
        held: &[HeldCredential],
        holder: &mut dyn Holder,
    ) -> Result<(SignResponse, Vec<(String, usize, Vec<String>)>), ClientError> {
        let (Some((query, _)), Some((choice, selection))) = (state, chosen) else {
            return Err(ClientError::NotChosen);
        };
        if request.action != SignAction::SignPresentation
            || request.params.credentials_to_include.as_ref() != Some(selection)
        {
            return Err(ClientError::NotChosen);
        }
        let nonce = request
            .params
            .nonce
            .as_deref()
            .ok_or(ClientError::NotChosen)?;
        let to = Audience {
            query,
            client_id: &request.params.audience,
            nonce,
        };
        let built = build_presentations_for(
            &to,
            held,
            choice,
            holder.presentation_signer(),
            self.clock.now(),
        )?;
        let mut vp_token = std::collections::BTreeMap::new();
        for (query_id, list) in built.vp_token.entries() {
            let texts: Vec<String> = list
                .iter()
                .filter_map(|p| p.as_text().map(str::to_owned))
                .collect();
            vp_token.insert(query_id.clone(), texts);
        }
        Ok((
            SignResponse {
                flow_id: request.flow_id.clone(),
                message_id: request.message_id.clone(),
                timestamp: None,
                proofs: None,
                vp_token: Some(vp_token),
                error: None,
            },
            built.disclosed,
        ))
    }

    /// Ends the session.
    pub async fn close(mut self) {
        let _ = self.sink.send(Frame::Close(None)).await;
        let _ = self.sink.close().await;
    }
}

fn decline(flow_id: &FlowId) -> FlowAction {
    FlowAction::Decline(wallet_protocol::client::Decline {
        flow_id: flow_id.clone(),
        message_id: None,
        timestamp: None,
        reason: None,
    })
}
