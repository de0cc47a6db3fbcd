//! The JSON form of a status list (draft §4.2): `{"bits":1,"lst":"<base64url>"}` with an
//! optional `aggregation_uri`.
//!
//! [`EncodedStatusList`] keeps `lst` exactly as received; [`EncodedStatusList::decode`]
//! turns it into a [`StatusList`] under [`DecodeLimits`]. It implements serde for embedding
//! in other structures; [`EncodedStatusList::from_value`] is the strict entry point for
//! untrusted JSON and reports which member is wrong.

use crate::error::ListError;
use crate::list::{DecodeLimits, StatusList};
use crate::status::Bits;
use serde_json::{Map, Value};

/// A status list as it appears in JSON: `bits`, the compressed and base64url-encoded
/// `lst`, and optionally `aggregation_uri`. Other members are ignored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EncodedStatusList {
    /// Bits per entry.
    pub bits: Bits,
    /// base64url (no padding) of the ZLIB-compressed byte array, as received.
    pub lst: String,
    /// Where the Status List Aggregation for this kind of token can be fetched (draft §9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregation_uri: Option<String>,
}

impl EncodedStatusList {
    /// Reads a status list object, reporting the first member that is absent or wrong.
    pub fn from_object(o: &Map<String, Value>) -> Result<Self, ListError> {
        let bits = match o.get("bits") {
            None => return Err(ListError::MissingMember("bits")),
            Some(v) => {
                let n = v.as_u64().ok_or(ListError::MalformedMember("bits"))?;
                let n = u8::try_from(n).map_err(|_| ListError::MalformedMember("bits"))?;
                Bits::try_from(n)?
            }
        };
        let lst = match o.get("lst") {
            None => return Err(ListError::MissingMember("lst")),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(ListError::MalformedMember("lst")),
        };
        let aggregation_uri = match o.get("aggregation_uri") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(ListError::MalformedMember("aggregation_uri")),
        };
        Ok(EncodedStatusList {
            bits,
            lst,
            aggregation_uri,
        })
    }

    /// Reads a status list from a JSON value (which must be an object).
    pub fn from_value(v: &Value) -> Result<Self, ListError> {
        match v {
            Value::Object(o) => Self::from_object(o),
            _ => Err(ListError::NotObject),
        }
    }

    /// Parses a JSON text; duplicate member names are refused.
    pub fn from_json(text: &[u8]) -> Result<Self, ListError> {
        let v = jose::json::parse_value(text).map_err(ListError::Json)?;
        Self::from_value(&v)
    }

    /// The JSON object, members in the draft's order.
    pub fn to_value(&self) -> Value {
        let mut m = Map::with_capacity(3);
        m.insert("bits".into(), Value::from(self.bits.get()));
        m.insert("lst".into(), Value::String(self.lst.clone()));
        if let Some(uri) = &self.aggregation_uri {
            m.insert("aggregation_uri".into(), Value::String(uri.clone()));
        }
        Value::Object(m)
    }

    /// The compact JSON text.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// Sets `aggregation_uri`.
    #[must_use]
    pub fn with_aggregation_uri(mut self, uri: impl Into<String>) -> Self {
        self.aggregation_uri = Some(uri.into());
        self
    }

    /// Decodes `lst` into a list, within `limits`.
    pub fn decode(&self, limits: &DecodeLimits) -> Result<StatusList, ListError> {
        StatusList::from_lst(self.bits, &self.lst, limits)
    }
}

impl StatusList {
    /// The JSON form of this list (compressed at the highest level), without
    /// `aggregation_uri`.
    pub fn encode(&self) -> Result<EncodedStatusList, ListError> {
        Ok(EncodedStatusList {
            bits: self.bits(),
            lst: self.to_lst()?,
            aggregation_uri: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serde_round_trip_and_member_order() {
        let e = EncodedStatusList {
            bits: Bits::Two,
            lst: "eNo76fITAAPfAgc".into(),
            aggregation_uri: Some("https://example.com/statuslists".into()),
        };
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(
            text,
            r#"{"bits":2,"lst":"eNo76fITAAPfAgc","aggregation_uri":"https://example.com/statuslists"}"#
        );
        assert_eq!(e.to_json(), text);
        assert_eq!(serde_json::from_str::<EncodedStatusList>(&text).unwrap(), e);
        assert_eq!(EncodedStatusList::from_json(text.as_bytes()).unwrap(), e);
        let bare = EncodedStatusList {
            aggregation_uri: None,
            ..e
        };
        assert_eq!(bare.to_json(), r#"{"bits":2,"lst":"eNo76fITAAPfAgc"}"#);
    }

    #[test]
    fn ignores_unknown_members() {
        let e =
            EncodedStatusList::from_value(&json!({"bits":1,"lst":"eNrbuRgAAhcBXQ","x":1})).unwrap();
        assert_eq!(e.bits, Bits::One);
    }

    #[test]
    fn rejects_missing_members() {
        assert!(matches!(
            EncodedStatusList::from_value(&json!({"lst":"eNrbuRgAAhcBXQ"})),
            Err(ListError::MissingMember("bits"))
        ));
        assert!(matches!(
            EncodedStatusList::from_value(&json!({"bits":1})),
            Err(ListError::MissingMember("lst"))
        ));
    }

    #[test]
    fn rejects_malformed_members() {
        for bits in [json!("1"), json!(1.0), json!(-1), json!(256), json!(null)] {
            assert!(
                matches!(
                    EncodedStatusList::from_value(&json!({"bits": bits, "lst": ""})),
                    Err(ListError::MalformedMember("bits"))
                ),
                "{bits}"
            );
        }
        assert!(matches!(
            EncodedStatusList::from_value(&json!({"bits":1,"lst":[1]})),
            Err(ListError::MalformedMember("lst"))
        ));
        assert!(matches!(
            EncodedStatusList::from_value(&json!({"bits":1,"lst":"","aggregation_uri":3})),
            Err(ListError::MalformedMember("aggregation_uri"))
        ));
    }

    #[test]
    fn rejects_unsupported_bits_member() {
        assert!(matches!(
            EncodedStatusList::from_value(&json!({"bits":3,"lst":"eNrbuRgAAhcBXQ"})),
            Err(ListError::UnsupportedBits(3))
        ));
        assert!(matches!(
            EncodedStatusList::from_value(&json!({"bits":0,"lst":"eNrbuRgAAhcBXQ"})),
            Err(ListError::UnsupportedBits(0))
        ));
    }

    #[test]
    fn rejects_non_object_and_bad_json() {
        assert!(matches!(
            EncodedStatusList::from_value(&json!([1])),
            Err(ListError::NotObject)
        ));
        assert!(matches!(
            EncodedStatusList::from_json(br#"{"bits":1,"bits":1,"lst":""}"#),
            Err(ListError::Json(_))
        ));
        assert!(matches!(
            EncodedStatusList::from_json(b"{"),
            Err(ListError::Json(_))
        ));
    }
}
