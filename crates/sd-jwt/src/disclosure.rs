//! Disclosures (RFC 9901 §4.2): `base64url(["salt", "name", value])` for an object
//! property, `base64url(["salt", value])` for an array element, and their digests (§4.2.3).
//!
//! A [`Disclosure`] keeps the encoded string exactly as received; the digest is computed over
//! those ASCII bytes and nothing is ever re-serialized (variations in whitespace or Unicode
//! escaping are the Issuer's choice and are covered by the digest).

use crate::error::DisclosureError;
use crate::limits::json_too_deep;
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jose::{b64, json};
use serde_json::Value;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// The `_sd_alg` value this implementation issues and accepts (§4.1.1).
pub const SD_ALG: &str = "sha-256";

/// base64url(SHA-256(`ascii`)): a Disclosure digest (§4.2.3), a decoy digest (§4.2.5) or an
/// `sd_hash` (§4.3.1).
pub fn sha256_b64(ascii: &[u8]) -> String {
    b64::encode(digest::digest(&digest::SHA256, ascii))
}

/// Length of a base64url SHA-256 digest.
const DIGEST_LEN: usize = 43;

/// [`sha256_b64`] without an allocation: Disclosures keep their digest inline.
pub(crate) fn sha256_b64_inline(ascii: &[u8]) -> [u8; DIGEST_LEN] {
    let mut out = [b'A'; DIGEST_LEN];
    // 32 bytes always encode to exactly 43 characters, so this cannot fail.
    let _ = URL_SAFE_NO_PAD.encode_slice(digest::digest(&digest::SHA256, ascii), &mut out);
    out
}

/// The encoded text: owned when issued, or a range of the received SD-JWT (shared, so
/// that parsing does not copy every Disclosure).
#[derive(Clone)]
enum Encoded {
    Owned(String),
    Shared(Arc<str>, Range<usize>),
}

impl Encoded {
    fn as_str(&self) -> &str {
        match self {
            Encoded::Owned(s) => s,
            Encoded::Shared(text, range) => text.get(range.clone()).unwrap_or_default(),
        }
    }
}

/// One Disclosure. `Debug` shows the digest and claim name only: salts and values are for
/// the Holder and the Verifiers it chooses, not for logs.
#[derive(Clone)]
pub struct Disclosure {
    encoded: Encoded,
    digest: [u8; DIGEST_LEN],
    salt: String,
    name: Option<String>,
    value: Value,
}

impl fmt::Debug for Disclosure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Disclosure")
            .field("digest", &self.digest())
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Appends `s` as a JSON string literal (RFC 8259 §7).
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    use fmt::Write as _;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn encode(salt: &str, name: Option<&str>, value: &Value) -> String {
    use fmt::Write as _;
    let mut json = String::with_capacity(salt.len() + name.map_or(0, str::len) + 32);
    json.push('[');
    push_json_string(&mut json, salt);
    if let Some(name) = name {
        json.push(',');
        push_json_string(&mut json, name);
    }
    json.push(',');
    // `Value`'s Display is its compact serialization; writing to a String cannot fail.
    let _ = write!(json, "{value}");
    json.push(']');
    b64::encode(json)
}

impl Disclosure {
    /// Creates the Disclosure of an object property `name: value` (§4.2.1).
    pub fn for_property(salt: impl Into<String>, name: impl Into<String>, value: Value) -> Self {
        let (salt, name) = (salt.into(), name.into());
        let encoded = encode(&salt, Some(&name), &value);
        Disclosure {
            digest: sha256_b64_inline(encoded.as_bytes()),
            encoded: Encoded::Owned(encoded),
            salt,
            name: Some(name),
            value,
        }
    }

    /// Creates the Disclosure of an array element (§4.2.2).
    pub fn for_element(salt: impl Into<String>, value: Value) -> Self {
        let salt = salt.into();
        let encoded = encode(&salt, None, &value);
        Disclosure {
            digest: sha256_b64_inline(encoded.as_bytes()),
            encoded: Encoded::Owned(encoded),
            salt,
            name: None,
            value,
        }
    }

    /// Parses a Disclosure as received, refusing JSON nested deeper than `max_json_depth`.
    pub fn parse(encoded: &str, max_json_depth: usize) -> Result<Self, DisclosureError> {
        Self::parse_with(encoded, max_json_depth, &mut Vec::new(), || {
            Encoded::Owned(encoded.to_owned())
        })
    }

    /// The Disclosure at `range` of `text` (a received SD-JWT), decoded into `buf`, which
    /// is reused across the Disclosures of one SD-JWT.
    pub(crate) fn parse_in(
        text: &Arc<str>,
        range: Range<usize>,
        max_json_depth: usize,
        buf: &mut Vec<u8>,
    ) -> Result<Self, DisclosureError> {
        let encoded = text.get(range.clone()).unwrap_or_default();
        Self::parse_with(encoded, max_json_depth, buf, || {
            Encoded::Shared(Arc::clone(text), range)
        })
    }

    /// The engine is the strict one `jose::b64` uses (no padding, canonical bits).
    fn parse_with(
        encoded: &str,
        max_json_depth: usize,
        buf: &mut Vec<u8>,
        keep: impl FnOnce() -> Encoded,
    ) -> Result<Self, DisclosureError> {
        buf.clear();
        URL_SAFE_NO_PAD
            .decode_vec(encoded, buf)
            .map_err(|_| DisclosureError::NotBase64)?;
        let bytes = buf.as_slice();
        if json_too_deep(bytes, max_json_depth) {
            return Err(DisclosureError::TooDeep(max_json_depth));
        }
        let Value::Array(items) = json::parse_value(bytes).map_err(DisclosureError::NotJson)?
        else {
            return Err(DisclosureError::NotArray);
        };
        let len = items.len();
        let mut it = items.into_iter();
        let (salt, name, value) = match (it.next(), it.next(), it.next(), it.next()) {
            (Some(salt), Some(name), Some(value), None) => (salt, Some(name), value),
            (Some(salt), Some(value), None, None) => (salt, None, value),
            _ => return Err(DisclosureError::WrongLength(len)),
        };
        let Value::String(salt) = salt else {
            return Err(DisclosureError::SaltNotString);
        };
        let name = match name {
            None => None,
            Some(Value::String(n)) => Some(n),
            Some(_) => return Err(DisclosureError::NameNotString),
        };
        Ok(Disclosure {
            digest: sha256_b64_inline(encoded.as_bytes()),
            encoded: keep(),
            salt,
            name,
            value,
        })
    }

    /// The Disclosure exactly as received or issued.
    pub fn as_str(&self) -> &str {
        self.encoded.as_str()
    }
    /// base64url SHA-256 digest of [`as_str`](Self::as_str).
    pub fn digest(&self) -> &str {
        // Always ASCII: the output of a base64url encoder.
        std::str::from_utf8(&self.digest).unwrap_or_default()
    }
    pub(crate) fn digest_bytes(&self) -> &[u8] {
        &self.digest
    }
    /// The salt.
    pub fn salt(&self) -> &str {
        &self.salt
    }
    /// The claim name of an object-property Disclosure; `None` for an array element.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    /// The disclosed value as received (digests inside it are not yet resolved).
    pub fn value(&self) -> &Value {
        &self.value
    }
    pub(crate) fn take_value(&mut self) -> Value {
        std::mem::take(&mut self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc9901_4_2_1_property_disclosure_digest() {
        let d = Disclosure::parse(
            "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0",
            32,
        )
        .unwrap();
        assert_eq!(d.digest(), "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0");
        assert_eq!(d.salt(), "_26bc4LT-ac6q2KI6cBW5es");
        assert_eq!(d.name(), Some("family_name"));
        assert_eq!(d.value(), &json!("Möbius"));
    }

    #[test]
    fn rfc9901_4_2_1_encoding_variants_parse_to_the_same_claim() {
        for enc in [
            "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNXHUwMGY2Yml1cyJd",
            "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsImZhbWlseV9uYW1lIiwiTcO2Yml1cyJd",
            "WwoiXzI2YmM0TFQtYWM2cTJLSTZjQlc1ZXMiLAoiZmFtaWx5X25hbWUiLAoiTcO2Yml1cyIKXQ",
        ] {
            let d = Disclosure::parse(enc, 32).unwrap();
            assert_eq!(d.value(), &json!("Möbius"));
            assert_ne!(d.digest(), "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0");
        }
    }

    #[test]
    fn rfc9901_4_2_2_array_element_disclosure_digest() {
        let d = Disclosure::parse("WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIkZSIl0", 32).unwrap();
        assert_eq!(d.digest(), "w0I8EKcdCtUPkGCNUrfwVp2xEgNjtoIDlOxc9-PlOhs");
        assert_eq!(d.name(), None);
        assert_eq!(d.value(), &json!("FR"));
    }

    #[test]
    fn created_disclosures_parse_back() {
        let v = json!({"a": [1, "\u{1}\"\\x"], "b": null});
        let d = Disclosure::for_property("s\u{7}\"", "n\na", v.clone());
        let p = Disclosure::parse(d.as_str(), 32).unwrap();
        assert_eq!(p.digest(), d.digest());
        assert_eq!(
            (p.salt(), p.name(), p.value()),
            ("s\u{7}\"", Some("n\na"), &v)
        );
        let e = Disclosure::for_element("s", json!(5));
        assert_eq!(Disclosure::parse(e.as_str(), 32).unwrap().name(), None);
    }

    #[test]
    fn rejects_malformed_disclosures() {
        let enc = |s: &str| b64::encode(s);
        type Check = fn(&DisclosureError) -> bool;
        let cases: [(&str, Check); 6] = [
            ("[\"s\"]", |e| matches!(e, DisclosureError::WrongLength(1))),
            ("[\"s\",\"n\",1,2]", |e| {
                matches!(e, DisclosureError::WrongLength(4))
            }),
            ("{\"s\":1}", |e| matches!(e, DisclosureError::NotArray)),
            ("[1,\"n\",1]", |e| {
                matches!(e, DisclosureError::SaltNotString)
            }),
            ("[\"s\",2,1]", |e| {
                matches!(e, DisclosureError::NameNotString)
            }),
            ("[\"s\",{\"a\":1,\"a\":2}]", |e| {
                matches!(e, DisclosureError::NotJson(_))
            }),
        ];
        for (json, ok) in cases {
            let e = Disclosure::parse(&enc(json), 32).unwrap_err();
            assert!(ok(&e), "{json}: {e:?}");
        }
        assert!(matches!(
            Disclosure::parse("WyJ=", 32),
            Err(DisclosureError::NotBase64)
        ));
        assert!(matches!(
            Disclosure::parse(&enc("[\"s\",[[[1]]]]"), 3),
            Err(DisclosureError::TooDeep(3))
        ));
    }
}
