//! Errors. Each variant names the rule that was broken; "could not check" (e.g. a signer
//! failing) is kept apart from "checked and invalid".

use crate::alg::Algorithm;
use crate::json::JsonError;
use crate::jwk::JwkError;
use std::fmt;

/// Longest piece of sender-chosen text [`escape_input`] keeps.
const SHOWN_CHARS: usize = 64;

/// Sender-chosen text (a `typ`, an `alg`, a member name) as it may appear in an error
/// message: messages are logged and sent back as descriptions, so the text is escaped (no
/// line breaks, control characters or quotes from the sender can forge a log line) and
/// bounded to 64 characters (then `…`).
pub fn escape_input(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(SHOWN_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().nth(SHOWN_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// Which part of a compact serialization an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The JOSE protected header.
    Header,
    /// The JWS payload.
    Payload,
    /// The JWS signature.
    Signature,
    /// The JWE encrypted key.
    EncryptedKey,
    /// The JWE initialization vector.
    Iv,
    /// The JWE ciphertext.
    Ciphertext,
    /// The JWE authentication tag.
    Tag,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Header => "header",
            Part::Payload => "payload",
            Part::Signature => "signature",
            Part::EncryptedKey => "encrypted key",
            Part::Iv => "initialization vector",
            Part::Ciphertext => "ciphertext",
            Part::Tag => "authentication tag",
        })
    }
}

/// A JWS/JWE was refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not `header.payload.signature` (or the five JWE parts).
    #[error("not a compact serialization: expected {expected} dot-separated parts")]
    NotCompact {
        /// Number of parts expected.
        expected: usize,
    },
    /// A part is not canonical unpadded base64url.
    #[error("{0} is not valid base64url")]
    Base64(Part),
    /// A part is not the JSON it must be.
    #[error("{part} is not valid JSON: {source}")]
    Json {
        /// The part.
        part: Part,
        /// Why.
        source: JsonError,
    },
    /// `alg` is missing or not a string.
    #[error("header has no `alg` string")]
    MissingAlg,
    /// `alg` is `none`: unsecured JWS are never accepted.
    #[error("`alg` none is never accepted")]
    AlgNone,
    /// `alg` names an algorithm this implementation does not support.
    #[error("unsupported `alg` `{}`", escape_input(.0))]
    UnsupportedAlgorithm(String),
    /// `alg` is supported but not in the caller's allow-list.
    #[error("`alg` {0} is not allowed here")]
    AlgorithmNotAllowed(Algorithm),
    /// A header parameter has the wrong JSON type or shape.
    #[error("header parameter `{0}` is malformed")]
    MalformedHeader(&'static str),
    /// `typ` differs from what the caller requires.
    #[error("`typ` must be `{expected}`, found {found}")]
    UnexpectedTyp {
        /// Required value.
        expected: String,
        /// What the header said, escaped ([`escape_input`]) in backquotes, or `none`.
        found: String,
    },
    /// `crit` lists an extension this caller does not understand (RFC 7515 §4.1.11).
    #[error("critical header extension `{}` is not understood", escape_input(.0))]
    UnknownCrit(String),
    /// `crit` is empty, lists a registered name, or names a parameter that is absent.
    #[error("`crit` header is invalid: {0}")]
    InvalidCrit(&'static str),
    /// The header's `jwk` is not a valid public JWK.
    #[error("header `jwk` is invalid: {0}")]
    HeaderJwk(JwkError),
    /// The key cannot be used with the header's algorithm.
    #[error("key of type {key} cannot verify `alg` {alg}")]
    KeyAlgorithmMismatch {
        /// The header algorithm.
        alg: Algorithm,
        /// The key's type and curve.
        key: &'static str,
    },
    /// The signature does not verify (includes wrong length).
    #[error("signature is invalid")]
    InvalidSignature,
}

/// A JWT claim check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// A required claim is absent.
    #[error("claim `{0}` is required")]
    Missing(&'static str),
    /// A claim has the wrong JSON type.
    #[error("claim `{0}` has the wrong type")]
    WrongType(&'static str),
    /// `exp` is in the past.
    #[error("token expired at {exp} (now {now})")]
    Expired {
        /// The `exp` value.
        exp: i64,
        /// The clock's time.
        now: i64,
    },
    /// `nbf` is in the future.
    #[error("token not valid before {nbf} (now {now})")]
    NotYetValid {
        /// The `nbf` value.
        nbf: i64,
        /// The clock's time.
        now: i64,
    },
    /// `iat` is in the future.
    #[error("token issued in the future at {iat} (now {now})")]
    IssuedInFuture {
        /// The `iat` value.
        iat: i64,
        /// The clock's time.
        now: i64,
    },
    /// `iat` is older than the caller accepts.
    #[error("token issued at {iat} is older than {max_age} s (now {now})")]
    TooOld {
        /// The `iat` value.
        iat: i64,
        /// Maximum accepted age.
        max_age: u64,
        /// The clock's time.
        now: i64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue11_escape_input_escapes_control_characters_and_bounds_length() {
        assert_eq!(escape_input("ES256"), "ES256");
        assert_eq!(escape_input("a\nb\"c\u{7}"), "a\\nb\\\"c\\u{7}");
        let long = "é".repeat(100);
        let shown = escape_input(&long);
        assert_eq!(shown.chars().count(), 65);
        assert!(shown.ends_with('…'));
        assert_eq!(escape_input(&"x".repeat(64)), "x".repeat(64));
    }
}
