//! The protocol's documented limits. The engine enforces them; clients can rely on them
//! (a client that waits longer than [`SIGN_TIMEOUT`] to answer will find the flow gone).

use std::time::Duration;

/// From the WebSocket upgrade to a valid `handshake`.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// From `flow_start` to `flow_complete`/`flow_error`, user interaction included.
pub const FLOW_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// From a `sign_request` to its `sign_response`.
pub const SIGN_TIMEOUT: Duration = Duration::from_secs(60);
/// From a `match_request` to its `match_response`.
pub const MATCH_TIMEOUT: Duration = Duration::from_secs(60);
/// One outbound HTTP request of the engine (connect to last body byte).
pub const OUTBOUND_HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest outbound HTTP response body the engine reads.
pub const OUTBOUND_HTTP_MAX_BYTES: usize = 1024 * 1024;
/// Largest message (one WebSocket text frame) either side accepts. A `vp_token` with a few
/// SD-JWT VCs or a `flow_complete` with a batch of credentials stays well under it.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Deepest JSON nesting accepted in a message (`[]` and `{}` each count one level); the
/// deepest message of the protocol, a DCQL query, needs fewer than ten.
pub const MAX_JSON_DEPTH: usize = 32;
/// Flow starts a connection may make per minute.
pub const FLOW_STARTS_PER_MINUTE: u32 = 10;
/// Messages a connection may send per minute.
pub const MESSAGES_PER_MINUTE: u32 = 100;
/// Interval of the engine's WebSocket pings; a connection that has not answered two is closed.
pub const PING_INTERVAL: Duration = Duration::from_secs(30);
/// How long an issuance flow stays open after its `flow_complete` when the issuer has a
/// notification endpoint, waiting for the client's `credential_notification` (the access
/// token it needs lives only in the flow).
pub const NOTIFICATION_WINDOW: Duration = Duration::from_secs(60);
