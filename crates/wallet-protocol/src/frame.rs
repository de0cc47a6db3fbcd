//! The frames a transport carries between client and engine, independent of the transport:
//! a WebSocket maps them to its frames one to one; the in-memory transport of a local
//! engine passes them over channels.

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame: one JSON message.
    Text(String),
    /// A binary frame (API v2 uses none; the engine refuses them).
    Binary(Vec<u8>),
    /// A keep-alive ping; the peer answers with [`Frame::Pong`].
    Ping(Vec<u8>),
    /// The answer to a ping.
    Pong(Vec<u8>),
    /// The connection is closing, with a WebSocket close code and reason.
    Close(Option<(u16, String)>),
}

/// WebSocket close code: normal closure.
pub const CLOSE_NORMAL: u16 = 1000;
/// WebSocket close code: going away (the engine drains).
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// WebSocket close code: policy violation (authentication failed, too many requests,
/// keep-alive missed).
pub const CLOSE_POLICY: u16 = 1008;
/// WebSocket close code: message too big.
pub const CLOSE_TOO_BIG: u16 = 1009;
