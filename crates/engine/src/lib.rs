//! The wallet engine (`symbolon serve --mode=engine`): API v2 over one WebSocket,
//! `GET /api/v2/wallet`. A client (browser, native app, the CLI wallet) keeps the holder
//! keys, the credentials and the matching; the engine runs the OpenID4VCI and OpenID4VP
//! flows for it, makes the outbound HTTP calls (through the SSRF-guarded client, only to
//! what the flow names: never a generic proxy) and asks the client to sign
//! (`sign_request`) and to choose (`match_request`, `awaiting_consent`).
//!
//! - [`session::serve`] drives one connection over any [`Frame`] stream and sink: the
//!   handshake (`app_token`, [`auth::AppTokens`]), the limits (message size, rate,
//!   keep-alive, session expiry), and one task per flow;
//! - module `flow` holds the two flows as state machines over the wallet core
//!   ([`wallet::Wallet`]), with the holder's part done by the client;
//! - [`routes::router`] mounts it as a WebSocket endpoint, [`local::connect`] runs it in
//!   memory for a client in the same process (the CLI wallet's default).
//!
//! Privacy: the engine holds no holder key and no credential store; it asks issuers to
//! encrypt credential responses to a key the client supplies, so it relays ciphertext; it
//! keeps nothing between flows (a flow's state lives in its task).

pub mod auth;
pub mod config;
mod flow;
pub mod local;
pub mod routes;
pub mod session;

use std::sync::Arc;
use std::time::Duration;

use wallet::Wallet;
use wallet_protocol::limits;

pub use auth::{AppTokens, Permissions, SessionClaims};
pub use wallet_protocol::Frame;

/// The limits the engine enforces; [`Limits::default`] is API v2's documented values
/// (`wallet_protocol::limits`). Tests shorten the timeouts.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Upgrade → valid `handshake`.
    pub handshake: Duration,
    /// `flow_start` → `flow_complete` / `flow_error`.
    pub flow: Duration,
    /// `sign_request` → `sign_response`.
    pub sign: Duration,
    /// `match_request` → `match_response`.
    pub matching: Duration,
    /// How long an issuance stays open for `credential_notification`.
    pub notification_window: Duration,
    /// Ping interval (two unanswered pings close the connection).
    pub ping_interval: Duration,
    /// Largest message, either direction.
    pub max_message_bytes: usize,
    /// Flow starts per connection per minute.
    pub flow_starts_per_minute: u32,
    /// Messages per connection per minute.
    pub messages_per_minute: u32,
    /// Flows running at once on one connection.
    pub concurrent_flows: usize,
    /// Wrong transaction codes accepted before the flow ends with `TOKEN_ERROR`.
    pub tx_code_attempts: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            handshake: limits::HANDSHAKE_TIMEOUT,
            flow: limits::FLOW_TIMEOUT,
            sign: limits::SIGN_TIMEOUT,
            matching: limits::MATCH_TIMEOUT,
            notification_window: limits::NOTIFICATION_WINDOW,
            ping_interval: limits::PING_INTERVAL,
            max_message_bytes: limits::MAX_MESSAGE_BYTES,
            flow_starts_per_minute: limits::FLOW_STARTS_PER_MINUTE,
            messages_per_minute: limits::MESSAGES_PER_MINUTE,
            concurrent_flows: 4,
            tx_code_attempts: 3,
        }
    }
}

/// One engine: the wallet core it runs flows with (outbound client, its own attestation
/// client and CI-Key, trust settings), how it authenticates clients, its limits.
pub struct Engine {
    core: Wallet,
    tokens: AppTokens,
    limits: Limits,
    random: Arc<dyn jose::random::Random>,
    clock: Arc<dyn jose::Clock>,
    /// Set when the process stops: sessions tell their clients and close.
    draining: tokio::sync::watch::Sender<bool>,
    /// Open sessions.
    live: tokio::sync::watch::Sender<usize>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("core", &self.core)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine running flows with `core`, accepting clients `tokens` admits.
    pub fn new(
        core: Wallet,
        tokens: AppTokens,
        limits: Limits,
        clock: Arc<dyn jose::Clock>,
        random: Arc<dyn jose::random::Random>,
    ) -> Self {
        Engine {
            core,
            tokens,
            limits,
            random,
            clock,
            draining: tokio::sync::watch::Sender::new(false),
            live: tokio::sync::watch::Sender::new(0),
        }
    }

    /// The process is stopping: every session sends `push draining`, refuses new flows,
    /// and closes (1001) once its running flows have ended.
    pub fn drain(&self) {
        self.draining.send_replace(true);
    }

    /// Resolves once no session is open (after [`Engine::drain`], once they have closed).
    pub async fn drained(&self) {
        let mut live = self.live.subscribe();
        let _ = live.wait_for(|n| *n == 0).await;
    }

    /// Open sessions.
    pub fn sessions(&self) -> usize {
        *self.live.borrow()
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The wallet core.
    pub fn core(&self) -> &Wallet {
        &self.core
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }

    fn session_id(&self) -> String {
        jose::random::token(&*self.random, 16).unwrap_or_else(|_| "session".to_owned())
    }
}

/// Metric names.
pub mod metric {
    /// Open WebSocket sessions (gauge).
    pub const SESSIONS: &str = "engine_sessions";
    /// Sessions that passed the handshake (counter).
    pub const HANDSHAKES: &str = "engine_handshakes_total";
    /// Handshakes refused (counter).
    pub const HANDSHAKES_REFUSED: &str = "engine_handshakes_refused_total";
    /// Flows started, by `protocol` (counter).
    pub const FLOWS: &str = "engine_flows_total";
    /// Flows ended, by `protocol` and `outcome` (`complete`, `declined`, or the error code).
    pub const FLOWS_ENDED: &str = "engine_flows_ended_total";
    /// Messages refused, by `code` (counter).
    pub const REFUSED: &str = "engine_messages_refused_total";
}
