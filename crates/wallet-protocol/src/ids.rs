//! Identifiers and secrets carried in messages: flow and message ids (bounded, a safe
//! alphabet, so they can be logged and used as map keys without escaping), the client's
//! `app_token` and the user's `tx_code` (redacted `Debug`, zeroized on drop).

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize};
use zeroize::Zeroizing;

/// Longest accepted flow or message id, in bytes.
pub const MAX_ID_LEN: usize = 128;

/// Why an id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty, or longer than [`MAX_ID_LEN`].
    #[error("an id is 1 to {MAX_ID_LEN} characters long")]
    Length,
    /// A character outside `A-Z a-z 0-9 . _ ~ -`.
    #[error("an id uses only A-Z, a-z, 0-9, '.', '_', '~' and '-'")]
    Alphabet,
}

fn check_id(s: &str) -> Result<(), IdError> {
    if s.is_empty() || s.len() > MAX_ID_LEN {
        return Err(IdError::Length);
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'))
    {
        return Err(IdError::Alphabet);
    }
    Ok(())
}

fn id_schema() -> Schema {
    json_schema!({
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_ID_LEN,
        "pattern": "^[A-Za-z0-9._~-]+$"
    })
}

macro_rules! id_type {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Checks the length and alphabet.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                check_id(&s)?;
                Ok(Self(s))
            }

            /// The id as sent.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                let mut s = id_schema();
                s.insert("description".into(), $doc.into());
                s
            }
        }
    };
}

id_type!(
    FlowId,
    "Names one flow on a connection: chosen by the client in `flow_start`, echoed on every message of that flow."
);
id_type!(
    MessageId,
    "Correlates a request with its response (`sign_request`/`sign_response`, `match_request`/`match_response`): chosen by the sender of the request."
);

macro_rules! secret_string {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(#[serde(with = "zeroizing_string")] Zeroizing<String>);

        impl $name {
            /// Wraps a secret value.
            pub fn new(s: impl Into<String>) -> Self {
                Self(Zeroizing::new(s.into()))
            }

            /// The secret itself, for the one place that needs it.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!($what, "(redacted)"))
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
            fn inline_schema() -> bool {
                true
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": "string", "minLength": 1 })
            }
        }
    };
}

secret_string!(
    /// The session JWT the client got from the auth role; never logged.
    AppToken,
    "AppToken"
);
secret_string!(
    /// The transaction code the user typed for a pre-authorized offer; never logged.
    TxCode,
    "TxCode"
);

mod zeroizing_string {
    use serde::{Deserialize, Deserializer, Serializer};
    use zeroize::Zeroizing;

    pub(super) fn serialize<S: Serializer>(v: &Zeroizing<String>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Zeroizing<String>, D::Error> {
        let v = String::deserialize(d)?;
        if v.is_empty() {
            return Err(serde::de::Error::invalid_length(0, &"a non-empty string"));
        }
        Ok(Zeroizing::new(v))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rejects_empty_long_and_odd_ids() {
        assert_eq!(FlowId::new(""), Err(IdError::Length));
        assert_eq!(
            FlowId::new("a".repeat(MAX_ID_LEN + 1)),
            Err(IdError::Length)
        );
        assert_eq!(FlowId::new("a b"), Err(IdError::Alphabet));
        assert_eq!(MessageId::new("é"), Err(IdError::Alphabet));
        assert_eq!(FlowId::new("f-1_a.b~c").unwrap().as_str(), "f-1_a.b~c");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let t = AppToken::new("eyJhbGciOiJFUzI1NiJ9.e30.sig");
        assert_eq!(format!("{t:?}"), "AppToken(redacted)");
        assert_eq!(format!("{:?}", TxCode::new("493536")), "TxCode(redacted)");
    }
}
