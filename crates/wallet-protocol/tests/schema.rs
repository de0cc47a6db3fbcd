//! The committed schema (`docs/api-v2.schema.json`) is the one the types generate, and
//! every example message in `docs/api-v2.md` both parses into the types and validates
//! against the schema. `UPDATE_SCHEMA=1 cargo test -p symbolon-wallet-protocol` rewrites
//! the committed schema.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use serde_json::{Value, json};
use wallet_protocol::limits::MAX_MESSAGE_BYTES;
use wallet_protocol::{parse_client_message, parse_engine_message, schema};

fn docs_dir() -> PathBuf {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .parent()
        .and_then(|p| p.parent())
        .unwrap()
        .join("docs")
}

#[test]
fn committed_schema_matches_the_types() {
    let generated = schema::schema_json();
    let path = docs_dir().join("api-v2.schema.json");
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} differs from the schema the message types generate; if the change is intended, \
         regenerate it with\n    UPDATE_SCHEMA=1 cargo test -p symbolon-wallet-protocol\n\
         and commit it",
        path.display()
    );
}

#[test]
fn schema_is_draft_2020_12_with_both_directions() {
    let doc = schema::schema();
    assert_eq!(
        doc["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(doc["$id"], schema::SCHEMA_ID);
    assert_eq!(doc["version"], wallet_protocol::PROTOCOL_VERSION);
    assert!(doc["$defs"]["ClientMessage"].is_object());
    assert!(doc["$defs"]["EngineMessage"].is_object());
    jsonschema::draft202012::meta::validate(&doc).unwrap();
}

/// A validator for one direction: the document with its root pointed at that direction.
fn validator(direction: &str) -> jsonschema::Validator {
    let mut doc = schema::schema();
    let obj = doc.as_object_mut().unwrap();
    obj.remove("anyOf");
    obj.insert("$ref".into(), json!(format!("#/$defs/{direction}")));
    jsonschema::draft202012::new(&doc).unwrap()
}

/// The examples of docs/api-v2.md: fenced blocks opened with ```json client or
/// ```json engine, one message each.
fn examples() -> Vec<(String, String)> {
    let md = std::fs::read_to_string(docs_dir().join("api-v2.md")).unwrap();
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in md.lines() {
        match &mut current {
            None => {
                if let Some(dir) = line.trim().strip_prefix("```json ") {
                    current = Some((dir.trim().to_owned(), String::new()));
                }
            }
            Some((_, body)) => {
                if line.trim() == "```" {
                    out.push(current.take().unwrap());
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
    }
    out
}

#[test]
fn every_documented_example_parses_and_validates() {
    let client = validator("ClientMessage");
    let engine = validator("EngineMessage");
    let examples = examples();
    assert!(
        examples.len() >= 20,
        "only {} examples found",
        examples.len()
    );
    let (mut seen_client, mut seen_engine) = (Vec::new(), Vec::new());
    for (direction, body) in &examples {
        let value: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
        let ty = value["type"].as_str().unwrap().to_owned();
        match direction.as_str() {
            "client" => {
                let msg = parse_client_message(body.as_bytes(), MAX_MESSAGE_BYTES)
                    .unwrap_or_else(|e| panic!("{e}: {body}"));
                let errors: Vec<_> = client.iter_errors(&value).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "{errors:?}: {body}");
                // Round trip: the typed message serializes to the same JSON.
                assert_eq!(serde_json::to_value(&msg).unwrap(), value, "{body}");
                // And it is not an engine message.
                assert!(!engine.is_valid(&value), "{body}");
                seen_client.push(ty);
            }
            "engine" => {
                let msg = parse_engine_message(body.as_bytes(), MAX_MESSAGE_BYTES)
                    .unwrap_or_else(|e| panic!("{e}: {body}"));
                let errors: Vec<_> = engine.iter_errors(&value).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "{errors:?}: {body}");
                assert_eq!(serde_json::to_value(&msg).unwrap(), value, "{body}");
                assert!(!client.is_valid(&value), "{body}");
                seen_engine.push(ty);
            }
            other => panic!("unknown example direction {other}"),
        }
    }
    // The transcripts show every message type of both directions.
    for t in wallet_protocol::ClientMessage::TYPES {
        assert!(
            seen_client.iter().any(|s| s == t),
            "no client example of {t}"
        );
    }
    for t in wallet_protocol::EngineMessage::TYPES {
        assert!(
            seen_engine.iter().any(|s| s == t),
            "no engine example of {t}"
        );
    }
}
