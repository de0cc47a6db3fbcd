//! Wallet engine API v2: arbitrary bytes as a client → engine and an engine → client
//! message. Must never panic; what a parser accepts must serialize and parse back equal,
//! stay within the size limit it was accepted under, and the envelope reader must agree
//! with the parsed ids.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wallet_protocol::limits::MAX_MESSAGE_BYTES;
use wallet_protocol::{envelope_of, parse_client_message, parse_engine_message};

fuzz_target!(|data: &[u8]| {
    let env = envelope_of(data, MAX_MESSAGE_BYTES);
    if let Ok(msg) = parse_client_message(data, MAX_MESSAGE_BYTES) {
        let json = msg.to_json();
        let back = parse_client_message(json.as_bytes(), usize::MAX)
            .expect("an accepted client message parses back");
        assert_eq!(back, msg);
        let v: serde_json::Value = serde_json::from_str(&json).expect("serialized JSON");
        if let Some(f) = v.get("flow_id").and_then(|f| f.as_str()) {
            assert_eq!(env.flow_id.as_ref().map(|id| id.as_str()), Some(f));
        }
    }
    if let Ok(msg) = parse_engine_message(data, MAX_MESSAGE_BYTES) {
        let json = msg.to_json();
        let back = parse_engine_message(json.as_bytes(), usize::MAX)
            .expect("an accepted engine message parses back");
        assert_eq!(back, msg);
    }
});
