//! The JSON Schema (draft 2020-12) of API v2, generated from the message types: one
//! document for both directions, `$defs/ClientMessage` and `$defs/EngineMessage`. The
//! engine serves it at `GET /api/v2/schema.json`; `docs/api-v2.schema.json` is a copy the
//! tests keep equal to it.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::Serialize;

use crate::PROTOCOL_VERSION;
use crate::client::ClientMessage;
use crate::engine::EngineMessage;

/// The schema document's `$id`.
pub const SCHEMA_ID: &str = "urn:symbolon:wallet-api:v2";

/// Symbolon wallet engine API v2: a message in either direction (client → engine:
/// `ClientMessage`, engine → client: `EngineMessage`).
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)] // only its schema is used
enum WalletApiV2 {
    Client(Box<ClientMessage>),
    Engine(Box<EngineMessage>),
}

/// The schema document.
pub fn schema() -> serde_json::Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let root = generator.into_root_schema_for::<WalletApiV2>();
    let mut doc = root.to_value();
    if let Some(obj) = doc.as_object_mut() {
        // `$schema` first, then identity, then the generated rest in its own order.
        let mut out = serde_json::Map::new();
        if let Some(s) = obj.remove("$schema") {
            out.insert("$schema".into(), s);
        }
        out.insert("$id".into(), SCHEMA_ID.into());
        out.insert("version".into(), PROTOCOL_VERSION.into());
        out.append(obj);
        return serde_json::Value::Object(out);
    }
    doc
}

/// The schema document as served and committed: pretty-printed, with a final newline.
pub fn schema_json() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    s.push('\n');
    s
}
