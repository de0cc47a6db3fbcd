//! JWS algorithms Symbolon supports. The set is closed: anything else is refused when the
//! header is parsed, before any key is looked at.

use std::fmt;

/// A JWS signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA on P-256 with SHA-256 (RFC 7518 §3.4).
    Es256,
    /// ECDSA on P-384 with SHA-384 (RFC 7518 §3.4).
    Es384,
    /// Ed25519 (RFC 9864 fully-specified `Ed25519`; legacy `EdDSA` accepted on verify).
    Ed25519,
}

/// What the `alg` header value said, before the allow-list is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ParsedAlg {
    Known(Algorithm),
    None,
    Unsupported(String),
}

impl Algorithm {
    /// Every algorithm this crate implements.
    pub const ALL: [Algorithm; 3] = [Algorithm::Es256, Algorithm::Es384, Algorithm::Ed25519];

    /// The registered name written into headers.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::Ed25519 => "Ed25519",
        }
    }

    /// Parses a configured algorithm name (config files, CLI flags). `EdDSA` is accepted as
    /// the legacy name of Ed25519.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Algorithm::Es256),
            "ES384" => Some(Algorithm::Es384),
            "Ed25519" | "EdDSA" => Some(Algorithm::Ed25519),
            _ => None,
        }
    }

    pub(crate) fn parse_header(name: &str) -> ParsedAlg {
        if name.eq_ignore_ascii_case("none") {
            return ParsedAlg::None;
        }
        match Self::from_name(name) {
            Some(a) => ParsedAlg::Known(a),
            None => ParsedAlg::Unsupported(name.to_owned()),
        }
    }

    /// Length in bytes of a signature of this algorithm.
    pub fn signature_len(self) -> usize {
        match self {
            Algorithm::Es256 | Algorithm::Ed25519 => 64,
            Algorithm::Es384 => 96,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Algorithm {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Algorithm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Algorithm::from_name(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unsupported algorithm `{s}` (supported: ES256, ES384, Ed25519)"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_in_any_case_is_recognised_as_none() {
        assert_eq!(Algorithm::parse_header("none"), ParsedAlg::None);
        assert_eq!(Algorithm::parse_header("NoNe"), ParsedAlg::None);
    }

    #[test]
    fn legacy_eddsa_maps_to_ed25519() {
        assert_eq!(
            Algorithm::parse_header("EdDSA"),
            ParsedAlg::Known(Algorithm::Ed25519)
        );
    }

    #[test]
    fn rejects_hmac_and_rsa() {
        for a in ["HS256", "RS256", "PS256", "es256"] {
            assert!(matches!(
                Algorithm::parse_header(a),
                ParsedAlg::Unsupported(_)
            ));
        }
    }
}
