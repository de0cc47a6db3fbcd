//! Shared by the engine's tests: an engine built with chosen limits and wallet core,
//! session JWTs signed (or mis-signed) at will, a raw client that sends and reads frames
//! with no client library in between — over the engine's in-memory transport or over a
//! real WebSocket (tokio-tungstenite against the engine's router on loopback), so that
//! close codes and oversized frames are seen as a browser sees them —, a scripted holder
//! for the client library, and an engine whose every HTTP exchange is recorded.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    unreachable_pub
)]

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use engine::{AppTokens, Engine, Frame, Limits, Permissions};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use http_client::{AddressPolicy, GuardedClient, HttpSettings};
use jose::{Algorithm, Clock, Signer, SoftwareSigner};
use serde_json::{Value, json};
use std::collections::VecDeque;
use tokio_tungstenite::tungstenite::Message;
use wallet::attestation::{AttestationClient, ClientSettings, EvidenceSource};
use wallet::presentation::Choice;
use wallet::{Settings, Wallet};
use wallet_client::{ConsentView, Holder};
use wallet_protocol::engine::{ProgressPayload, TxCodeSpec};
use wallet_protocol::{ErrorCode, FlowStep};

pub const AUDIENCE: &str = "symbolon-engine";
pub const AUTH_ISSUER: &str = "https://auth.test";
pub const KID: &str = "session-1";

/// How long a test waits for one engine message before failing.
const WAIT: Duration = Duration::from_secs(15);

/// The engine's session-token key.
pub fn session_key() -> SoftwareSigner {
    SoftwareSigner::generate(Algorithm::Es256)
        .unwrap()
        .with_kid(KID)
}

pub fn now() -> i64 {
    jose::SystemClock.now()
}

/// Valid session claims for `permissions`, expiring in `exp_in` seconds.
pub fn claims(permissions: &[&str], exp_in: i64) -> Value {
    json!({
        "iss": AUTH_ISSUER,
        "sub": "user-1",
        "aud": AUDIENCE,
        "iat": now(),
        "exp": now() + exp_in,
        "permissions": permissions,
    })
}

/// A JWS over `claims` with the given `typ` and `kid`, signed by `key`.
pub fn sign_token(key: &dyn Signer, typ: &str, kid: &str, claims: &Value) -> String {
    jose::HeaderBuilder::new()
        .typ(typ)
        .kid(kid)
        .sign(claims.to_string().as_bytes(), key)
        .unwrap()
}

/// A valid session JWT.
pub fn token(key: &SoftwareSigner, permissions: &[&str]) -> String {
    sign_token(
        key,
        engine::auth::SESSION_TYP,
        KID,
        &claims(permissions, 600),
    )
}

/// Limits with the waits shortened so that no test sleeps long.
pub fn short_limits() -> Limits {
    Limits {
        handshake: Duration::from_millis(300),
        sign: Duration::from_millis(300),
        matching: Duration::from_millis(300),
        ..Limits::default()
    }
}

/// A guarded client that may reach loopback, with `timeout` per request.
pub fn loopback_http(timeout: Duration) -> GuardedClient {
    GuardedClient::new(HttpSettings {
        policy: AddressPolicy::AllowLoopback,
        timeout,
        connect_timeout: Duration::from_secs(2),
        ..HttpSettings::default()
    })
    .unwrap()
}

/// A wallet core with no platform behind it: flows reach only the peers a test serves.
/// Its attester address is never called by the tests that use it.
pub fn offline_core(http: GuardedClient, settings: Settings) -> Wallet {
    let clock: Arc<dyn Clock> = Arc::new(jose::SystemClock);
    let attestation = AttestationClient::new(
        ClientSettings::new(
            "http://localhost:9/attester",
            "symbolon-engine-test",
            EvidenceSource::Dev,
        ),
        http.clone(),
        Arc::clone(&clock),
        Arc::new(jose::random::SystemRandom),
    )
    .unwrap();
    Wallet::new(
        settings,
        http,
        Arc::new(attestation),
        clock,
        Arc::new(jose::random::SystemRandom),
    )
}

/// Loopback `http://` settings with no verifier anchors.
pub fn loopback_settings() -> Settings {
    let mut s = Settings::without_verifier_anchors();
    s.allow_http_loopback = true;
    s.prefer_signed_metadata = false;
    s
}

/// An engine running flows with `core`, admitting tokens signed by `key` (and anonymous
/// sessions with `anonymous` when given).
pub fn engine_with(
    core: Wallet,
    key: &SoftwareSigner,
    limits: Limits,
    anonymous: Option<Permissions>,
) -> Arc<Engine> {
    let clock: Arc<dyn Clock> = Arc::new(jose::SystemClock);
    let mut tokens = AppTokens::new(
        &[key.public_jwk().clone()],
        Some(AUTH_ISSUER.into()),
        AUDIENCE,
        Arc::clone(&clock),
    )
    .unwrap();
    if let Some(p) = anonymous {
        tokens = tokens.with_anonymous(p);
    }
    Arc::new(Engine::new(
        core,
        tokens,
        limits,
        clock,
        Arc::new(jose::SystemRandom),
    ))
}

/// Serves `engine`'s router on loopback; returns the WebSocket URL.
pub async fn serve_ws(engine: Arc<Engine>) -> String {
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

/// Serves `app` on loopback; returns `http://localhost:<port>`.
pub async fn serve_http(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// What the raw client read.
#[derive(Debug, Clone, PartialEq)]
pub enum Got {
    /// A text frame, parsed as JSON (the test fails if it is not JSON).
    Message(Value),
    /// A binary frame.
    Binary,
    /// A ping.
    Ping,
    /// A pong.
    Pong,
    /// A close frame, with its code.
    Close(Option<u16>),
    /// The stream ended or failed without a close frame (the reason, for the record).
    Gone(String),
}

type RawSink = Pin<Box<dyn Sink<Frame, Error = String> + Send>>;
type RawStream = Pin<Box<dyn Stream<Item = Got> + Send>>;

/// A client speaking raw frames.
pub struct Raw {
    sink: RawSink,
    stream: RawStream,
}

fn text_event(text: &str) -> Got {
    Got::Message(serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")))
}

impl Raw {
    /// Over the engine's in-memory transport.
    pub fn local(engine: Arc<Engine>) -> Raw {
        let (sink, stream) = engine::local::connect(engine);
        Raw {
            sink: Box::pin(sink.sink_map_err(|e| e.to_string())),
            stream: Box::pin(stream.map(|f| match f {
                Frame::Text(t) => text_event(&t),
                Frame::Binary(_) => Got::Binary,
                Frame::Ping(_) => Got::Ping,
                Frame::Pong(_) => Got::Pong,
                Frame::Close(c) => Got::Close(c.map(|(code, _)| code)),
            })),
        }
    }

    /// Over a WebSocket to `url`.
    pub async fn ws(url: &str) -> Raw {
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(64 << 20))
            .max_frame_size(Some(64 << 20));
        let (socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), false)
            .await
            .unwrap();
        let (sink, stream) = socket.split();
        let sink = sink.sink_map_err(|e| e.to_string()).with(|f: Frame| {
            std::future::ready(Ok::<_, String>(match f {
                Frame::Text(t) => Message::Text(t.into()),
                Frame::Binary(b) => Message::Binary(b.into()),
                Frame::Ping(p) => Message::Ping(p.into()),
                Frame::Pong(p) => Message::Pong(p.into()),
                Frame::Close(c) => Message::Close(c.map(|(code, reason)| {
                    tokio_tungstenite::tungstenite::protocol::CloseFrame {
                        code: code.into(),
                        reason: reason.into(),
                    }
                })),
            }))
        });
        let stream = stream.map(|m| match m {
            Ok(Message::Text(t)) => text_event(t.as_str()),
            Ok(Message::Binary(_)) => Got::Binary,
            Ok(Message::Ping(_)) => Got::Ping,
            Ok(Message::Pong(_)) => Got::Pong,
            Ok(Message::Close(c)) => Got::Close(c.map(|c| u16::from(c.code))),
            Ok(Message::Frame(_)) => Got::Gone("a raw frame".into()),
            Err(e) => Got::Gone(e.to_string()),
        });
        Raw {
            sink: Box::pin(sink),
            stream: Box::pin(stream),
        }
    }

    /// Sends one frame; `Err` once the engine has gone.
    pub async fn send_frame(&mut self, frame: Frame) -> Result<(), String> {
        self.sink.send(frame).await
    }

    /// Sends a text frame.
    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.send_frame(Frame::Text(text.into())).await.unwrap();
    }

    /// Sends a JSON message.
    pub async fn send(&mut self, message: Value) {
        self.send_text(message.to_string()).await;
    }

    /// The next event (pings included); `Gone` when the stream ends.
    pub async fn event(&mut self) -> Got {
        match tokio::time::timeout(WAIT, self.stream.next()).await {
            Ok(Some(got)) => got,
            Ok(None) => Got::Gone("end of stream".into()),
            Err(_) => panic!("nothing from the engine within {WAIT:?}"),
        }
    }

    /// The next JSON message, skipping pings and pongs; panics on anything else.
    pub async fn message(&mut self) -> Value {
        loop {
            match self.event().await {
                Got::Message(v) => return v,
                Got::Ping | Got::Pong => {}
                other => panic!("expected a message, got {other:?}"),
            }
        }
    }

    /// The next message that is not a `flow_progress` (the progress steps seen are
    /// returned too).
    pub async fn after_progress(&mut self) -> (Vec<String>, Value) {
        let mut steps = Vec::new();
        loop {
            let m = self.message().await;
            if m["type"] == "flow_progress" {
                steps.push(m["step"].as_str().unwrap().to_owned());
            } else {
                return (steps, m);
            }
        }
    }

    /// Reads messages until a `flow_progress` at `step`; returns it.
    pub async fn until_step(&mut self, step: &str) -> Value {
        loop {
            let m = self.message().await;
            match m["type"].as_str() {
                Some("flow_progress") if m["step"] == step => return m,
                Some("flow_progress") => {}
                _ => panic!("waiting for step {step}, got {m}"),
            }
        }
    }

    /// The connection ends: a close frame (its code) or the stream ends; skips pings.
    pub async fn closed(&mut self) -> Got {
        loop {
            match self.event().await {
                Got::Ping | Got::Pong => {}
                other => return other,
            }
        }
    }

    /// Sends a handshake with `token` and expects `handshake_complete`.
    pub async fn handshake(&mut self, token: &str) -> Value {
        self.send(json!({"type": "handshake", "app_token": token}))
            .await;
        let m = self.message().await;
        assert_eq!(m["type"], "handshake_complete", "{m}");
        m
    }

    /// Expects an `error` message with exactly these members.
    pub async fn expect_error(
        &mut self,
        code: ErrorCode,
        flow_id: Option<&str>,
        message_id: Option<&str>,
    ) {
        let m = self.message().await;
        assert_error(&m, code, flow_id, message_id);
    }
}

/// `m` is an `error` with `code` and exactly the ids given.
pub fn assert_error(m: &Value, code: ErrorCode, flow_id: Option<&str>, message_id: Option<&str>) {
    assert_eq!(m["type"], "error", "{m}");
    assert_eq!(m["code"], code.as_str(), "{m}");
    assert_eq!(m["message"], code.user_message(), "{m}");
    assert_eq!(m.get("flow_id").and_then(Value::as_str), flow_id, "{m}");
    assert_eq!(
        m.get("message_id").and_then(Value::as_str),
        message_id,
        "{m}"
    );
}

/// `m` is a `flow_error` for `flow_id` with `code` (and `step` when given).
pub fn assert_flow_error(m: &Value, flow_id: &str, code: ErrorCode, step: Option<&str>) {
    assert_eq!(m["type"], "flow_error", "{m}");
    assert_eq!(m["flow_id"], flow_id, "{m}");
    assert_eq!(m["error"]["code"], code.as_str(), "{m}");
    assert_eq!(m["error"]["message"], code.user_message(), "{m}");
    if let Some(step) = step {
        assert_eq!(m["step"], step, "{m}");
    }
}

/// A fresh response-encryption JWK (EC P-256, public), as a client sends it.
pub fn response_jwk() -> (jose::EncryptionKey, Value) {
    let key = jose::EncryptionKey::generate(jose::Curve::P256).unwrap();
    let jwk = key.public_jwk_for_encryption().to_value();
    (key, jwk)
}

/// An issuance `flow_start` for `offer`, encrypted to `jwk`.
pub fn issuance_start(flow_id: &str, offer: &str, jwk: &Value) -> Value {
    json!({
        "type": "flow_start",
        "flow_id": flow_id,
        "protocol": "oid4vci",
        "offer": offer,
        "response_encryption": {"jwk": jwk, "enc": "A128GCM"},
    })
}

/// A presentation `flow_start` for `request`.
pub fn presentation_start(flow_id: &str, request: &str) -> Value {
    json!({"type": "flow_start", "flow_id": flow_id, "protocol": "oid4vp", "request": request})
}

/// A `flow_action decline`.
pub fn decline(flow_id: &str) -> Value {
    json!({"type": "flow_action", "flow_id": flow_id, "action": "decline"})
}

/// Proofs for a `generate_proof` sign_request, one per signer.
pub fn proofs_for(request: &Value, signers: &[&dyn Signer]) -> Value {
    let params = &request["params"];
    let proofs: Vec<Value> = signers
        .iter()
        .map(|s| {
            let claims = oid4vci::ProofClaims {
                aud: params["audience"].as_str().unwrap().to_owned(),
                iat: now(),
                nonce: params["nonce"].as_str().map(str::to_owned),
                iss: params["issuer"].as_str().map(str::to_owned),
            };
            json!({"proof_type": "jwt", "jwt": claims.sign(*s).unwrap()})
        })
        .collect();
    json!({
        "type": "sign_response",
        "flow_id": request["flow_id"],
        "message_id": request["message_id"],
        "proofs": proofs,
    })
}

/// An offer by value naming `issuer` and configuration `pass`, pre-authorized.
pub fn offer_by_value(issuer: &str) -> String {
    let offer = json!({"credential_issuer": issuer, "credential_configuration_ids": ["pass"],
        "grants": {oid4vci::PRE_AUTHORIZED_CODE_GRANT: {"pre-authorized_code": "c"}}});
    format!(
        "openid-credential-offer://?credential_offer={}",
        url::form_urlencoded::byte_serialize(offer.to_string().as_bytes()).collect::<String>()
    )
}

impl Raw {
    /// At `awaiting_consent` of flow `f-1`: consents to `role` of credential `c-1`, expects
    /// the `sign_request`, and answers it with `presentations` for `query`; returns the
    /// next message that is not progress, with the steps passed.
    pub async fn consent_and_present(
        &mut self,
        query: &str,
        presentations: Value,
    ) -> (Vec<String>, Value) {
        self.send(
            json!({"type": "flow_action", "flow_id": "f-1", "action": "consent",
            "selected_credentials": [{"credential_id": "c-1", "disclosed_claims": [["role"]]}]}),
        )
        .await;
        let sign = self.message().await;
        assert_eq!(sign["type"], "sign_request", "{sign}");
        let mut vp_token = serde_json::Map::new();
        vp_token.insert(query.to_owned(), presentations);
        self.send(json!({"type": "sign_response", "flow_id": "f-1",
            "message_id": sign["message_id"], "vp_token": vp_token}))
            .await;
        self.after_progress().await
    }
}

/// A holder with software keys, scripted answers, and a record of the prompts.
pub struct TestHolder {
    pub keys: Vec<SoftwareSigner>,
    pub tx_codes: VecDeque<String>,
    pub tx_prompts: Vec<bool>,
    pub decline: bool,
    pub disclose: Option<Vec<&'static str>>,
    /// Every step reported, with its payload.
    pub steps: Vec<(FlowStep, ProgressPayload)>,
}

impl TestHolder {
    pub fn new(keys: usize) -> Self {
        TestHolder {
            keys: (0..keys)
                .map(|_| SoftwareSigner::generate(Algorithm::Es256).unwrap())
                .collect(),
            tx_codes: VecDeque::new(),
            tx_prompts: Vec::new(),
            decline: false,
            disclose: None,
            steps: Vec::new(),
        }
    }
}

impl Holder for TestHolder {
    fn progress(&mut self, step: FlowStep, payload: &ProgressPayload) {
        self.steps.push((step, payload.clone()));
    }

    fn tx_code(&mut self, _spec: &TxCodeSpec, retry: bool) -> Option<String> {
        self.tx_prompts.push(retry);
        self.tx_codes.pop_front()
    }

    fn proof_signers(&self) -> Vec<&dyn Signer> {
        self.keys.iter().map(|k| k as &dyn Signer).collect()
    }

    fn consent(&mut self, view: &ConsentView<'_>) -> Option<Choice> {
        if self.decline {
            return None;
        }
        let mut choice = view.consent.recommended_choice()?;
        if let Some(names) = &self.disclose {
            for p in &mut choice.picks {
                p.disclose = names
                    .iter()
                    .map(|n| wallet::presentation::consent::parse_dotted(n))
                    .collect();
            }
        }
        Some(choice)
    }

    fn presentation_signer(&self) -> &dyn Signer {
        &self.keys[0]
    }
}

/// An engine (default limits) on its own loopback WebSocket, running flows with the
/// platform's wallet core, with every HTTP exchange it makes recorded.
pub struct Served {
    pub url: String,
    pub session_key: SoftwareSigner,
    pub exchanges: Arc<std::sync::Mutex<Vec<wallet::Exchange>>>,
}

impl Served {
    /// A session JWT with `permissions`.
    pub fn token(&self, permissions: &[&str]) -> String {
        token(&self.session_key, permissions)
    }

    /// A client library session with both permissions.
    pub async fn client(&self, p: &crate::common::Platform) -> wallet_client::Client {
        wallet_client::Client::connect(
            &self.url,
            &self.token(&["receive", "present"]),
            p.settings(),
            &[],
        )
        .await
        .unwrap()
    }

    /// Every exchange so far as text (method, URL, status, bodies).
    pub fn seen(&self) -> String {
        let exchanges = self.exchanges.lock().unwrap();
        exchanges
            .iter()
            .map(|e| {
                format!(
                    "{} {} {}\n{}\n{}\n",
                    e.method,
                    e.url,
                    e.status,
                    e.request_body.as_deref().unwrap_or_default(),
                    e.response_body
                )
            })
            .collect()
    }
}

/// [`Served`] for `settings`.
pub async fn serve_engine(p: &crate::common::Platform, settings: Settings) -> Served {
    let exchanges: Arc<std::sync::Mutex<Vec<wallet::Exchange>>> = Arc::default();
    let seen = Arc::clone(&exchanges);
    let core = p
        .wallet_with(settings)
        .with_observer(Arc::new(move |e: &wallet::Exchange| {
            seen.lock().unwrap().push(e.clone());
        }));
    let session_key = session_key();
    let engine = engine_with(core, &session_key, Limits::default(), None);
    Served {
        url: serve_ws(engine).await,
        session_key,
        exchanges,
    }
}
