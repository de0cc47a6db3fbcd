//! API v2 of the wallet engine: the messages a client (browser, native app, the CLI
//! wallet) and the engine exchange over one WebSocket (`/api/v2/wallet`), as Rust types
//! with no I/O, the JSON Schema generated from them, and strict parsing from bytes.
//!
//! Every message is a JSON object with the envelope `{type, flow_id?, message_id?,
//! timestamp?}` and the members of its type. [`ClientMessage`] holds the client → engine
//! messages, [`EngineMessage`] the engine → client ones, each an enum tagged by `type`;
//! unknown members are refused. [`parse_client_message`] and [`parse_engine_message`]
//! bound the size and nesting depth before parsing and return a typed [`ParseError`].
//! [`schema::schema`] is the machine-checked contract (`docs/api-v2.schema.json`), and
//! `docs/api-v2.md` describes the flows with full example transcripts, which the tests
//! parse and validate against the schema.
//!
//! The message set follows the SIROS go-wallet-backend WebSocket draft 0.1.0 where that
//! draft, its Go engine and its TypeScript client agree, and issue 12 where they do not
//! (`docs/api-v2.md`, "Differences from the SIROS draft").

pub mod client;
pub mod common;
pub mod engine;
pub mod error_code;
pub mod frame;
pub mod ids;
pub mod limits;
pub mod parse;
pub mod schema;

pub use client::ClientMessage;
pub use common::{FlowStep, IssuanceStep, PresentationStep};
pub use engine::EngineMessage;
pub use error_code::ErrorCode;
pub use frame::Frame;
pub use ids::{AppToken, FlowId, MessageId, TxCode};
pub use parse::{Envelope, ParseError, envelope_of, parse_client_message, parse_engine_message};

/// The protocol version this crate speaks, sent in `handshake_complete.protocol_version`.
/// A change that an existing client could not parse bumps the major number.
pub const PROTOCOL_VERSION: &str = "2.0";

impl ClientMessage {
    /// Serializes the message (compact JSON).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl EngineMessage {
    /// Serializes the message (compact JSON).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
