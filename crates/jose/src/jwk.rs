//! JSON Web Keys (RFC 7517/7518/8037) for the key types Symbolon uses: EC P-256, EC P-384
//! and OKP Ed25519. Public and private keys are different types; a public JWK that carries
//! private material (`d`) is refused, so a private key can never be accepted or echoed
//! where a public one is expected.

use crate::alg::Algorithm;
use crate::b64;
use crate::json;
use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use zeroize::Zeroizing;

/// An elliptic curve for `kty` `EC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Curve {
    /// NIST P-256 (`crv` `P-256`).
    P256,
    /// NIST P-384 (`crv` `P-384`).
    P384,
}

impl Curve {
    /// The `crv` name.
    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
        }
    }
    /// Length of one coordinate (and of the private scalar) in bytes.
    pub fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }
    /// The JWS algorithm that signs with keys on this curve.
    pub fn algorithm(self) -> Algorithm {
        match self {
            Curve::P256 => Algorithm::Es256,
            Curve::P384 => Algorithm::Es384,
        }
    }
}

/// Why a JWK was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    /// Not a JSON object (or not JSON).
    #[error("JWK is not a JSON object")]
    NotObject,
    /// A required member is missing or not a string.
    #[error("JWK member `{0}` is missing or not a string")]
    Missing(&'static str),
    /// `kty` is not `EC` or `OKP`.
    #[error("unsupported JWK `kty` `{}`", crate::escape_input(.0))]
    UnsupportedKty(String),
    /// `crv` is not one of P-256, P-384 (EC) or Ed25519 (OKP).
    #[error("unsupported JWK `crv` `{}`", crate::escape_input(.0))]
    UnsupportedCurve(String),
    /// A coordinate or scalar is not base64url of the exact length for the curve.
    #[error("JWK member `{0}` is not base64url of the right length")]
    BadMember(&'static str),
    /// The point is not on the curve (or otherwise rejected by the crypto library).
    #[error("JWK public key is not a valid point")]
    InvalidPoint,
    /// A public JWK carried private key material.
    #[error("a public JWK must not contain private key material (`d`)")]
    PrivateMaterial,
    /// The private scalar does not belong to the public point.
    #[error("JWK private key does not match its public key")]
    Inconsistent,
    /// `alg` in the JWK names an algorithm that this key cannot perform.
    #[error("JWK `alg` `{}` does not fit the key type", crate::escape_input(.0))]
    AlgMismatch(String),
    /// `use` names another purpose than the one the key is being used for (`sig` for a
    /// verification key, `enc` for an encryption key).
    #[error("JWK `use` is `{}`, which does not permit this operation", crate::escape_input(.0))]
    WrongUse(String),
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Material {
    Ec {
        curve: Curve,
        x: Vec<u8>,
        y: Vec<u8>,
    },
    Ed25519 {
        x: [u8; 32],
    },
}

/// A public JWK. Construction validates the key (point on curve, exact lengths).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicJwk {
    material: Material,
    kid: Option<String>,
    alg: Option<String>,
    use_: Option<String>,
}

impl fmt::Debug for PublicJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicJwk({}", self.key_type())?;
        if let Some(k) = &self.kid {
            write!(f, ", kid={k}")?;
        }
        write!(f, ", thumbprint={})", self.thumbprint())
    }
}

fn str_member<'a>(o: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, JwkError> {
    o.get(name)
        .and_then(Value::as_str)
        .ok_or(JwkError::Missing(name))
}

fn opt_str(o: &Map<String, Value>, name: &'static str) -> Result<Option<String>, JwkError> {
    match o.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(JwkError::BadMember(name)),
    }
}

fn fixed(o: &Map<String, Value>, name: &'static str, len: usize) -> Result<Vec<u8>, JwkError> {
    let bytes = b64::decode(str_member(o, name)?).ok_or(JwkError::BadMember(name))?;
    if bytes.len() == len {
        Ok(bytes)
    } else {
        Err(JwkError::BadMember(name))
    }
}

impl PublicJwk {
    /// Parses a public JWK from a JSON object. Unknown members are ignored (RFC 7517 §4);
    /// `d` is refused.
    pub fn from_object(o: &Map<String, Value>) -> Result<Self, JwkError> {
        if o.contains_key("d") {
            return Err(JwkError::PrivateMaterial);
        }
        Self::from_object_allow_private(o)
    }

    fn from_object_allow_private(o: &Map<String, Value>) -> Result<Self, JwkError> {
        let kty = str_member(o, "kty")?;
        let crv = str_member(o, "crv")?;
        let material = match kty {
            "EC" => {
                let curve = match crv {
                    "P-256" => Curve::P256,
                    "P-384" => Curve::P384,
                    other => return Err(JwkError::UnsupportedCurve(other.to_owned())),
                };
                let n = curve.coordinate_len();
                Material::Ec {
                    curve,
                    x: fixed(o, "x", n)?,
                    y: fixed(o, "y", n)?,
                }
            }
            "OKP" => {
                if crv != "Ed25519" {
                    return Err(JwkError::UnsupportedCurve(crv.to_owned()));
                }
                let x = fixed(o, "x", 32)?;
                let mut arr = [0u8; 32];
                arr.copy_from_slice(&x);
                Material::Ed25519 { x: arr }
            }
            other => return Err(JwkError::UnsupportedKty(other.to_owned())),
        };
        let jwk = PublicJwk {
            material,
            kid: opt_str(o, "kid")?,
            alg: opt_str(o, "alg")?,
            use_: opt_str(o, "use")?,
        };
        jwk.check_point()?;
        Ok(jwk)
    }

    /// Parses a public JWK from a JSON value.
    pub fn from_value(v: &Value) -> Result<Self, JwkError> {
        v.as_object()
            .ok_or(JwkError::NotObject)
            .and_then(Self::from_object)
    }

    /// Parses a public JWK from JSON text (duplicate members refused).
    pub fn from_json(text: &[u8]) -> Result<Self, JwkError> {
        let o = json::parse_object(text).map_err(|_| JwkError::NotObject)?;
        Self::from_object(&o)
    }

    /// Builds a P-256/P-384 key from its SEC1 uncompressed point (`04 ‖ X ‖ Y`).
    pub fn from_ec_point(curve: Curve, sec1: &[u8]) -> Result<Self, JwkError> {
        let n = curve.coordinate_len();
        let (tag, rest) = sec1.split_first().ok_or(JwkError::InvalidPoint)?;
        if *tag != 4 || rest.len() != 2 * n {
            return Err(JwkError::InvalidPoint);
        }
        let (x, y) = rest.split_at_checked(n).ok_or(JwkError::InvalidPoint)?;
        let jwk = PublicJwk {
            material: Material::Ec {
                curve,
                x: x.to_vec(),
                y: y.to_vec(),
            },
            kid: None,
            alg: None,
            use_: None,
        };
        jwk.check_point()?;
        Ok(jwk)
    }

    /// Builds an Ed25519 key from its 32 raw bytes.
    pub fn from_ed25519(x: [u8; 32]) -> Self {
        PublicJwk {
            material: Material::Ed25519 { x },
            kid: None,
            alg: None,
            use_: None,
        }
    }

    fn check_point(&self) -> Result<(), JwkError> {
        if let Material::Ec { curve, .. } = &self.material {
            let alg: &'static aws_lc_rs::signature::EcdsaVerificationAlgorithm = match curve {
                Curve::P256 => &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
                Curve::P384 => &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED,
            };
            let sec1 = self.sec1_point().unwrap_or_default();
            aws_lc_rs::signature::ParsedPublicKey::new(alg, sec1)
                .map_err(|_| JwkError::InvalidPoint)?;
        }
        Ok(())
    }

    /// The same key with `kid` set.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The same key with `alg` set.
    #[must_use]
    pub fn with_alg(mut self, alg: impl Into<String>) -> Self {
        self.alg = Some(alg.into());
        self
    }

    /// The same key with `use` set.
    #[must_use]
    pub fn with_use(mut self, use_: impl Into<String>) -> Self {
        self.use_ = Some(use_.into());
        self
    }

    /// The same key material without `kid`, `alg` or `use` (for comparisons of keys).
    #[must_use]
    pub fn bare(&self) -> Self {
        PublicJwk {
            material: self.material.clone(),
            kid: None,
            alg: None,
            use_: None,
        }
    }

    /// Whether two JWKs hold the same public key, whatever their metadata.
    pub fn same_key(&self, other: &PublicJwk) -> bool {
        self.material == other.material
    }

    /// The `kid` member.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
    /// The `alg` member.
    pub fn alg(&self) -> Option<&str> {
        self.alg.as_deref()
    }
    /// The `use` member.
    pub fn key_use(&self) -> Option<&str> {
        self.use_.as_deref()
    }

    /// `EC P-256`, `EC P-384` or `OKP Ed25519`.
    pub fn key_type(&self) -> &'static str {
        match &self.material {
            Material::Ec {
                curve: Curve::P256, ..
            } => "EC P-256",
            Material::Ec {
                curve: Curve::P384, ..
            } => "EC P-384",
            Material::Ed25519 { .. } => "OKP Ed25519",
        }
    }

    /// The curve, for EC keys.
    pub fn curve(&self) -> Option<Curve> {
        match &self.material {
            Material::Ec { curve, .. } => Some(*curve),
            Material::Ed25519 { .. } => None,
        }
    }

    /// The signature algorithm this key performs (one per key type).
    pub fn signing_algorithm(&self) -> Algorithm {
        match &self.material {
            Material::Ec { curve, .. } => curve.algorithm(),
            Material::Ed25519 { .. } => Algorithm::Ed25519,
        }
    }

    /// SEC1 uncompressed point for EC keys.
    pub fn sec1_point(&self) -> Option<Vec<u8>> {
        match &self.material {
            Material::Ec { x, y, .. } => {
                let mut out = Vec::with_capacity(1 + x.len() + y.len());
                out.push(4);
                out.extend_from_slice(x);
                out.extend_from_slice(y);
                Some(out)
            }
            Material::Ed25519 { .. } => None,
        }
    }

    /// Raw public key bytes as the crypto library takes them (SEC1 point or Ed25519 bytes).
    pub fn raw_public_key(&self) -> Vec<u8> {
        match &self.material {
            Material::Ed25519 { x } => x.to_vec(),
            Material::Ec { .. } => self.sec1_point().unwrap_or_default(),
        }
    }

    /// RFC 7638 JWK thumbprint input: the required members in lexicographic order,
    /// no whitespace.
    pub fn thumbprint_input(&self) -> String {
        match &self.material {
            Material::Ec { curve, x, y } => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                curve.name(),
                b64::encode(x),
                b64::encode(y)
            ),
            Material::Ed25519 { x } => {
                format!(
                    r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                    b64::encode(x)
                )
            }
        }
    }

    /// RFC 7638 SHA-256 thumbprint, base64url.
    pub fn thumbprint(&self) -> String {
        b64::encode(digest::digest(
            &digest::SHA256,
            self.thumbprint_input().as_bytes(),
        ))
    }

    /// The JWK as a JSON object (public members only, plus `kid`/`alg`/`use` when set).
    pub fn to_object(&self) -> Map<String, Value> {
        let mut o = Map::new();
        match &self.material {
            Material::Ec { curve, x, y } => {
                o.insert("kty".into(), "EC".into());
                o.insert("crv".into(), curve.name().into());
                o.insert("x".into(), b64::encode(x).into());
                o.insert("y".into(), b64::encode(y).into());
            }
            Material::Ed25519 { x } => {
                o.insert("kty".into(), "OKP".into());
                o.insert("crv".into(), "Ed25519".into());
                o.insert("x".into(), b64::encode(x).into());
            }
        }
        if let Some(k) = &self.kid {
            o.insert("kid".into(), k.clone().into());
        }
        if let Some(a) = &self.alg {
            o.insert("alg".into(), a.clone().into());
        }
        if let Some(u) = &self.use_ {
            o.insert("use".into(), u.clone().into());
        }
        o
    }

    /// The JWK as a JSON value.
    pub fn to_value(&self) -> Value {
        Value::Object(self.to_object())
    }
}

/// RFC 7638 §3.2 thumbprint of any JWK given as JSON, computed from the members required for
/// its `kty` (RSA `e,kty,n`; EC `crv,kty,x,y`; OKP `crv,kty,x` per RFC 8037 §2; oct `k,kty`),
/// without checking the key itself. For keys this crate uses, [`PublicJwk::thumbprint`]
/// gives the same value; this form covers keys it cannot use (e.g. a peer's RSA key).
pub fn thumbprint_of(jwk: &Map<String, Value>) -> Result<String, JwkError> {
    let kty = str_member(jwk, "kty")?;
    let required: &[&'static str] = match kty {
        "RSA" => &["e", "kty", "n"],
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        "oct" => &["k", "kty"],
        other => return Err(JwkError::UnsupportedKty(other.to_owned())),
    };
    // `preserve_order` keeps insertion order, and the names above are already sorted, so
    // serde_json writes the canonical form: sorted members, no whitespace, minimal escapes.
    let mut canonical = Map::with_capacity(required.len());
    for name in required {
        canonical.insert((*name).to_owned(), Value::from(str_member(jwk, name)?));
    }
    let text = Value::Object(canonical).to_string();
    Ok(b64::encode(digest::digest(
        &digest::SHA256,
        text.as_bytes(),
    )))
}

impl Serialize for PublicJwk {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_object().serialize(s)
    }
}

impl<'de> Deserialize<'de> for PublicJwk {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let o = Map::<String, Value>::deserialize(d)?;
        PublicJwk::from_object(&o).map_err(serde::de::Error::custom)
    }
}

/// A private JWK. `Debug` shows only the public part; the private scalar is zeroized on
/// drop; there is deliberately no `Serialize` (write a key file with [`PrivateJwk::to_json`]).
#[derive(Clone)]
pub struct PrivateJwk {
    public: PublicJwk,
    d: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for PrivateJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateJwk({:?}, d=<redacted>)", self.public)
    }
}

impl PrivateJwk {
    /// Builds a private JWK from its parts; checks the scalar belongs to the point.
    pub fn new(public: PublicJwk, d: Zeroizing<Vec<u8>>) -> Result<Self, JwkError> {
        let expected = match &public.material {
            Material::Ec { curve, .. } => curve.coordinate_len(),
            Material::Ed25519 { .. } => 32,
        };
        if d.len() != expected {
            return Err(JwkError::BadMember("d"));
        }
        let jwk = PrivateJwk { public, d };
        // Building a signer proves consistency (aws-lc compares the derived point).
        crate::sign::SoftwareSigner::from_private_jwk(&jwk)?;
        Ok(jwk)
    }

    /// Parses a private JWK from a JSON object (it must contain `d`).
    pub fn from_object(o: &Map<String, Value>) -> Result<Self, JwkError> {
        let public = PublicJwk::from_object_allow_private(o)?;
        let d_text = Zeroizing::new(str_member(o, "d")?.to_owned());
        let d = Zeroizing::new(b64::decode(d_text.as_bytes()).ok_or(JwkError::BadMember("d"))?);
        Self::new(public, d)
    }

    /// Parses a private JWK from JSON text.
    pub fn from_json(text: &[u8]) -> Result<Self, JwkError> {
        let mut o = json::parse_object(text).map_err(|_| JwkError::NotObject)?;
        let r = Self::from_object(&o);
        if let Some(Value::String(s)) = o.get_mut("d") {
            zeroize::Zeroize::zeroize(s);
        }
        r
    }

    /// The public half.
    pub fn public(&self) -> &PublicJwk {
        &self.public
    }

    /// The private scalar (EC) or seed (Ed25519), big-endian.
    pub fn d(&self) -> &[u8] {
        &self.d
    }

    /// Serializes the whole key, private part included, for writing a key file. The
    /// returned string zeroizes itself on drop.
    pub fn to_json(&self) -> Zeroizing<String> {
        let mut o = self.public.to_object();
        o.insert("d".into(), Value::String(b64::encode(&*self.d)));
        // Pre-size the buffer so serialization never reallocates and leaves copies behind.
        let mut buf = Zeroizing::new(Vec::with_capacity(1024));
        let ok = serde_json::to_writer(&mut *buf, &o).is_ok();
        if let Some(Value::String(d)) = o.get_mut("d") {
            zeroize::Zeroize::zeroize(d);
        }
        if !ok {
            return Zeroizing::new(String::new());
        }
        Zeroizing::new(String::from_utf8(std::mem::take(&mut *buf)).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7638 §3.1 uses an RSA key; its EC/OKP analogues are checked in tests/vectors.rs.
    #[test]
    fn rejects_private_material_in_public_jwk() {
        let j = br#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}"#;
        assert_eq!(
            PublicJwk::from_json(j).unwrap_err(),
            JwkError::PrivateMaterial
        );
        assert!(PrivateJwk::from_json(j).is_ok());
    }

    #[test]
    fn rejects_point_not_on_curve() {
        let j = format!(
            r#"{{"kty":"EC","crv":"P-256","x":"{}","y":"{}"}}"#,
            b64::encode([1u8; 32]),
            b64::encode([2u8; 32])
        );
        assert_eq!(
            PublicJwk::from_json(j.as_bytes()).unwrap_err(),
            JwkError::InvalidPoint
        );
    }

    #[test]
    fn rejects_wrong_coordinate_length_and_unknown_types() {
        let j = format!(
            r#"{{"kty":"EC","crv":"P-256","x":"{}","y":"{}"}}"#,
            b64::encode([1u8; 31]),
            b64::encode([2u8; 32])
        );
        assert_eq!(
            PublicJwk::from_json(j.as_bytes()).unwrap_err(),
            JwkError::BadMember("x")
        );
        let rsa = br#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#;
        assert!(matches!(
            PublicJwk::from_json(rsa),
            Err(JwkError::Missing("crv"))
        ));
        let rsa = br#"{"kty":"RSA","crv":"x","n":"AQAB","e":"AQAB"}"#;
        assert!(matches!(
            PublicJwk::from_json(rsa),
            Err(JwkError::UnsupportedKty(_))
        ));
        let x448 = br#"{"kty":"OKP","crv":"X25519","x":"AQAB"}"#;
        assert!(matches!(
            PublicJwk::from_json(x448),
            Err(JwkError::UnsupportedCurve(_))
        ));
    }

    #[test]
    fn private_debug_is_redacted() {
        let j = br#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}"#;
        let k = PrivateJwk::from_json(j).unwrap();
        let dbg = format!("{k:?}");
        assert!(!dbg.contains("nWGxne"), "{dbg}");
        assert!(dbg.contains("redacted"));
    }

    #[test]
    fn rejects_inconsistent_private_key() {
        let j = br#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"AWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}"#;
        assert_eq!(
            PrivateJwk::from_json(j).unwrap_err(),
            JwkError::Inconsistent
        );
    }
}
