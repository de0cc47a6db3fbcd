//! Strict parsing of messages from bytes: size first, nesting depth next (a linear scan,
//! before any recursion), then JSON with duplicate member names refused (`jose::json`),
//! the `type` against the direction's list, the typed structures (unknown members
//! refused), and last the rules serde cannot state (exactly one of two members, non-empty
//! lists). Every refusal is a [`ParseError`]; nothing here panics on input.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::{ClientMessage, FlowAction, FlowStart};
use crate::engine::EngineMessage;
use crate::error_code::ErrorCode;
use crate::ids::{FlowId, MessageId};
use crate::limits::MAX_JSON_DEPTH;

/// Why a message was refused. Every variant maps to [`ErrorCode::InvalidMessage`].
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Longer than the size limit.
    #[error("message of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// The message's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Nested deeper than [`MAX_JSON_DEPTH`].
    #[error("message nests deeper than {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// Not JSON, trailing data, or a duplicate member name.
    #[error(transparent)]
    Json(#[from] jose::json::JsonError),
    /// Valid JSON, but not an object.
    #[error("a message is a JSON object")]
    NotObject,
    /// No `type` member.
    #[error("message has no `type`")]
    MissingType,
    /// A `type` this direction does not have (including the other direction's types).
    #[error("unknown message type `{}`", jose::escape_input(.0))]
    UnknownType(String),
    /// A required member is missing.
    #[error("missing member `{field}`")]
    MissingField {
        /// The member's name.
        field: String,
    },
    /// A member the message type does not have.
    #[error("unknown member `{}`", jose::escape_input(.field))]
    UnknownField {
        /// The member's name.
        field: String,
    },
    /// A value outside an enumeration (`protocol`, `action`, `step`, a code …).
    #[error("unknown value `{}`", jose::escape_input(.value))]
    UnknownVariant {
        /// The value.
        value: String,
    },
    /// A member of the wrong JSON type or an invalid value (e.g. a malformed id).
    #[error("invalid value at `{path}`: {detail}")]
    InvalidValue {
        /// Where (`.`-separated members), as far as it is known.
        path: String,
        /// What was expected.
        detail: String,
    },
    /// Both or neither of members of which exactly one is required.
    #[error("exactly one of {fields} is required")]
    ExactlyOneOf {
        /// The members, e.g. "`matches`, `no_match_reason`".
        fields: &'static str,
    },
    /// A JWK that must be public carries private key members (`d`, `p`, `q`, `dp`, `dq`,
    /// `qi`, `oth`, `k`).
    #[error("`{field}` must be a public key")]
    PrivateKeyMaterial {
        /// The member holding the JWK.
        field: &'static str,
    },
    /// A list that must not be empty is empty.
    #[error("`{field}` must not be empty")]
    Empty {
        /// The member's name.
        field: &'static str,
    },
}

impl ParseError {
    /// The protocol error code to answer with.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::InvalidMessage
    }
}

/// Parses a client → engine message, refusing anything longer than `max_len` bytes.
pub fn parse_client_message(bytes: &[u8], max_len: usize) -> Result<ClientMessage, ParseError> {
    let msg: ClientMessage = parse_typed(bytes, max_len, &ClientMessage::TYPES)?;
    check_client(&msg)?;
    Ok(msg)
}

/// Parses an engine → client message, refusing anything longer than `max_len` bytes.
pub fn parse_engine_message(bytes: &[u8], max_len: usize) -> Result<EngineMessage, ParseError> {
    let msg: EngineMessage = parse_typed(bytes, max_len, &EngineMessage::TYPES)?;
    check_engine(&msg)?;
    Ok(msg)
}

/// The ids of a message, as far as they are readable and valid: for answering a refused
/// message with an `error` that names its flow and message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The message's `flow_id`, if it had a valid one.
    pub flow_id: Option<FlowId>,
    /// The message's `message_id`, if it had a valid one.
    pub message_id: Option<MessageId>,
}

/// Reads the envelope ids of a message that may have been refused; never fails (what
/// cannot be read is `None`), and applies the same size and depth bounds as the parsers.
pub fn envelope_of(bytes: &[u8], max_len: usize) -> Envelope {
    if bytes.len() > max_len || check_depth(bytes, MAX_JSON_DEPTH).is_err() {
        return Envelope::default();
    }
    let Ok(Value::Object(map)) = jose::json::parse_value(bytes) else {
        return Envelope::default();
    };
    let text = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_owned);
    Envelope {
        flow_id: text("flow_id").and_then(|s| FlowId::new(s).ok()),
        message_id: text("message_id").and_then(|s| MessageId::new(s).ok()),
    }
}

fn parse_typed<T: DeserializeOwned>(
    bytes: &[u8],
    max_len: usize,
    types: &[&str],
) -> Result<T, ParseError> {
    if bytes.len() > max_len {
        return Err(ParseError::TooLarge {
            len: bytes.len(),
            max: max_len,
        });
    }
    check_depth(bytes, MAX_JSON_DEPTH)?;
    let value = jose::json::parse_value(bytes)?;
    let Value::Object(map) = value else {
        return Err(ParseError::NotObject);
    };
    match map.get("type") {
        None => return Err(ParseError::MissingType),
        Some(Value::String(t)) if types.contains(&t.as_str()) => {}
        Some(Value::String(t)) => return Err(ParseError::UnknownType(t.clone())),
        Some(_) => {
            return Err(ParseError::InvalidValue {
                path: "type".to_owned(),
                detail: "expected a string".to_owned(),
            });
        }
    }
    serde_path_to_error::deserialize(Value::Object(map)).map_err(classify)
}

/// Rejects nesting deeper than `max` without recursing: counts `[`/`{` outside strings.
/// Runs before the JSON parser so that a deep input costs one pass and a typed error.
fn check_depth(bytes: &[u8], max: usize) -> Result<(), ParseError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Err(ParseError::TooDeep { max });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Sorts serde's error messages into typed variants. serde states these cases only as
/// text (`missing field `x``, `unknown field `x`, expected …`, `unknown variant `x`, …`).
fn classify(e: serde_path_to_error::Error<serde_json::Error>) -> ParseError {
    let path = e.path().to_string();
    let detail = e.into_inner().to_string();
    let quoted = |prefix: &str| -> Option<String> {
        let rest = detail.strip_prefix(prefix)?;
        let (name, _) = rest.split_once('`')?;
        Some(name.to_owned())
    };
    if let Some(field) = quoted("missing field `") {
        return ParseError::MissingField { field };
    }
    if let Some(field) = quoted("unknown field `") {
        return ParseError::UnknownField { field };
    }
    if let Some(value) = quoted("unknown variant `") {
        return ParseError::UnknownVariant { value };
    }
    ParseError::InvalidValue { path, detail }
}

fn exactly_one(present: &[bool], fields: &'static str) -> Result<(), ParseError> {
    if present.iter().filter(|p| **p).count() == 1 {
        Ok(())
    } else {
        Err(ParseError::ExactlyOneOf { fields })
    }
}

fn non_empty<T>(list: Option<&Vec<T>>, field: &'static str) -> Result<(), ParseError> {
    match list {
        Some(l) if l.is_empty() => Err(ParseError::Empty { field }),
        _ => Ok(()),
    }
}

fn check_client(msg: &ClientMessage) -> Result<(), ParseError> {
    match msg {
        ClientMessage::SignResponse(r) => {
            exactly_one(
                &[r.proofs.is_some(), r.vp_token.is_some(), r.error.is_some()],
                "`proofs`, `vp_token`, `error`",
            )?;
            non_empty(r.proofs.as_ref(), "proofs")?;
            if r.vp_token.as_ref().is_some_and(|t| t.is_empty()) {
                return Err(ParseError::Empty { field: "vp_token" });
            }
            Ok(())
        }
        ClientMessage::MatchResponse(r) => {
            exactly_one(
                &[r.matches.is_some(), r.no_match_reason.is_some()],
                "`matches`, `no_match_reason`",
            )?;
            non_empty(r.matches.as_ref(), "matches")
        }
        ClientMessage::FlowAction(FlowAction::CredentialsMatched(r)) => {
            exactly_one(
                &[r.matches.is_some(), r.no_match_reason.is_some()],
                "`matches`, `no_match_reason`",
            )?;
            non_empty(r.matches.as_ref(), "matches")
        }
        ClientMessage::FlowStart(FlowStart::Oid4vci(start)) => {
            const PRIVATE: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
            match &start.response_encryption {
                Some(enc) if PRIVATE.iter().any(|m| enc.jwk.contains_key(*m)) => {
                    Err(ParseError::PrivateKeyMaterial {
                        field: "response_encryption.jwk",
                    })
                }
                _ => Ok(()),
            }
        }
        ClientMessage::FlowAction(FlowAction::Consent(c)) => {
            non_empty(Some(&c.selected_credentials), "selected_credentials")
        }
        ClientMessage::Handshake(_)
        | ClientMessage::FlowStart(FlowStart::Oid4vp(_))
        | ClientMessage::FlowAction(_)
        | ClientMessage::CredentialNotification(_) => Ok(()),
    }
}

fn check_engine(msg: &EngineMessage) -> Result<(), ParseError> {
    match msg {
        EngineMessage::SignRequest(r) if r.params.count == Some(0) => {
            Err(ParseError::InvalidValue {
                path: "params.count".to_owned(),
                detail: "at least 1".to_owned(),
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn depth_scan_ignores_brackets_in_strings() {
        let s = format!(r#"{{"a":"{}"}}"#, "[".repeat(100));
        assert!(check_depth(s.as_bytes(), 2).is_ok());
        assert!(check_depth(br#"{"a":"\"[[["}"#, 1).is_ok());
        assert!(matches!(
            check_depth(b"[[[", 2),
            Err(ParseError::TooDeep { max: 2 })
        ));
    }
}
