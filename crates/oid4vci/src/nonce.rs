//! The nonce endpoint's response (§7.2): `{"c_nonce": …}`, sent with
//! `Cache-Control: no-store`.

use crate::json::req_str;
use serde_json::{Map, Value};

/// A nonce response was refused (wallet side).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NonceResponseError {
    /// Not a JSON object, or `c_nonce` missing, empty or not a string.
    #[error("the nonce response carries no `c_nonce` string")]
    NoNonce,
}

/// `{"c_nonce": …}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NonceResponse {
    /// The fresh, unpredictable nonce to put in proofs.
    pub c_nonce: String,
}

impl NonceResponse {
    /// Parses the response body.
    pub fn from_json(text: &[u8]) -> Result<Self, NonceResponseError> {
        let o = jose::json::parse_object(text).map_err(|_| NonceResponseError::NoNonce)?;
        let c_nonce = req_str(&o, "c_nonce").map_err(|_| NonceResponseError::NoNonce)?;
        if c_nonce.is_empty() {
            return Err(NonceResponseError::NoNonce);
        }
        Ok(NonceResponse {
            c_nonce: c_nonce.to_owned(),
        })
    }

    /// The JSON body.
    pub fn to_value(&self) -> Value {
        let mut m = Map::with_capacity(1);
        m.insert("c_nonce".into(), self.c_nonce.clone().into());
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid4vci_7_2_nonce_response_round_trips() {
        let r = NonceResponse::from_json(br#"{"c_nonce":"wKI4LT17ac15ES9bw8ac4"}"#).unwrap();
        assert_eq!(r.c_nonce, "wKI4LT17ac15ES9bw8ac4");
        assert_eq!(
            NonceResponse::from_json(r.to_value().to_string().as_bytes()).unwrap(),
            r
        );
    }

    #[test]
    fn rejects_nonce_response_without_nonce() {
        for body in [&b"{}"[..], br#"{"c_nonce":""}"#, br#"{"c_nonce":1}"#, b"[]"] {
            assert_eq!(
                NonceResponse::from_json(body),
                Err(NonceResponseError::NoNonce)
            );
        }
    }
}
