//! The JWE protected header (RFC 7516 §4) for `ECDH-ES`: parsed once, with every member this
//! implementation acts on checked for type, and the rest kept for the caller.

use super::{ECDH_ES, Enc, JweError, Zip};
use crate::b64;
use crate::json;
use crate::jwk::{JwkError, PublicJwk};
use crate::jws::REGISTERED;
use serde_json::{Map, Value};

/// A parsed JWE protected header. `alg` is always `ECDH-ES` (anything else is refused).
#[derive(Clone, Debug)]
pub struct JweHeader {
    enc: Enc,
    epk: PublicJwk,
    apu: Vec<u8>,
    apv: Vec<u8>,
    zip: Option<Zip>,
    kid: Option<String>,
    typ: Option<String>,
    cty: Option<String>,
    crit: Option<Vec<String>>,
    raw: Map<String, Value>,
}

fn opt_string(o: &Map<String, Value>, name: &'static str) -> Result<Option<String>, JweError> {
    match o.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(JweError::MalformedHeader(name)),
    }
}

fn required_str<'a>(o: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, JweError> {
    match o.get(name) {
        None => Err(JweError::MissingHeader(name)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(JweError::MalformedHeader(name)),
    }
}

fn party_info(o: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, JweError> {
    match opt_string(o, name)? {
        None => Ok(Vec::new()),
        Some(s) => b64::decode(s).ok_or(JweError::MalformedHeader(name)),
    }
}

fn parse_crit(raw: &Map<String, Value>) -> Result<Option<Vec<String>>, JweError> {
    let Some(v) = raw.get("crit") else {
        return Ok(None);
    };
    let Value::Array(a) = v else {
        return Err(JweError::InvalidCrit("not an array"));
    };
    if a.is_empty() {
        return Err(JweError::InvalidCrit("empty list"));
    }
    let mut names = Vec::with_capacity(a.len());
    for n in a {
        let n = n
            .as_str()
            .ok_or(JweError::InvalidCrit("names must be strings"))?;
        if REGISTERED.contains(&n) {
            return Err(JweError::InvalidCrit("lists a registered header name"));
        }
        if !raw.contains_key(n) {
            return Err(JweError::InvalidCrit("names a parameter that is absent"));
        }
        names.push(n.to_owned());
    }
    Ok(Some(names))
}

impl JweHeader {
    /// Parses a protected header from its decoded JSON bytes (duplicate members refused).
    pub fn from_json(bytes: &[u8]) -> Result<Self, JweError> {
        let raw = json::parse_object(bytes).map_err(JweError::HeaderJson)?;
        let alg = required_str(&raw, "alg")?;
        if alg != ECDH_ES {
            return Err(JweError::UnsupportedAlg(alg.to_owned()));
        }
        let enc_name = required_str(&raw, "enc")?;
        let enc = Enc::from_name(enc_name)
            .ok_or_else(|| JweError::UnsupportedEnc(enc_name.to_owned()))?;
        let zip = match opt_string(&raw, "zip")? {
            None => None,
            Some(z) if z == "DEF" => Some(Zip::Deflate),
            Some(z) => return Err(JweError::UnsupportedZip(z)),
        };
        let epk = match raw.get("epk") {
            None => return Err(JweError::MissingHeader("epk")),
            Some(v) => PublicJwk::from_value(v).map_err(JweError::InvalidEpk)?,
        };
        if epk.curve().is_none() {
            // OKP Ed25519 is a signature key; ECDH needs an EC point.
            return Err(JweError::InvalidEpk(JwkError::UnsupportedCurve(
                epk.key_type().to_owned(),
            )));
        }
        Ok(JweHeader {
            enc,
            epk,
            apu: party_info(&raw, "apu")?,
            apv: party_info(&raw, "apv")?,
            zip,
            kid: opt_string(&raw, "kid")?,
            typ: opt_string(&raw, "typ")?,
            cty: opt_string(&raw, "cty")?,
            crit: parse_crit(&raw)?,
            raw,
        })
    }

    /// The content encryption algorithm.
    pub fn enc(&self) -> Enc {
        self.enc
    }
    /// The ephemeral public key (validated: a point on P-256 or P-384).
    pub fn epk(&self) -> &PublicJwk {
        &self.epk
    }
    /// Decoded `apu` (empty when absent).
    pub fn apu(&self) -> &[u8] {
        &self.apu
    }
    /// Decoded `apv` (empty when absent).
    pub fn apv(&self) -> &[u8] {
        &self.apv
    }
    /// `zip`.
    pub fn zip(&self) -> Option<Zip> {
        self.zip
    }
    /// `kid`: which recipient key the sender used.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
    /// `typ`.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }
    /// `cty`.
    pub fn cty(&self) -> Option<&str> {
        self.cty.as_deref()
    }
    /// `crit`.
    pub fn crit(&self) -> Option<&[String]> {
        self.crit.as_deref()
    }
    /// Any header member, as JSON.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.raw.get(name)
    }
    /// All members.
    pub fn members(&self) -> &Map<String, Value> {
        &self.raw
    }
}
