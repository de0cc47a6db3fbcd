//! Compact JWS (RFC 7515 §7.1). Parsing keeps the signing input exactly as received;
//! verification applies the caller's [`JwsPolicy`] (algorithm allow-list, required `typ`,
//! understood `crit` names) before touching the signature.

use crate::alg::{Algorithm, ParsedAlg};
use crate::b64;
use crate::error::{Error, Part};
use crate::json;
use crate::jwk::PublicJwk;
use crate::sign::{SignError, Signer, VerifyingKey};
use serde_json::{Map, Value};

/// Header parameter names registered for JWS/JWE; they may not appear in `crit`
/// (RFC 7515 §4.1.11).
pub(crate) const REGISTERED: &[&str] = &[
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", "enc",
    "zip", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c", "b64",
];

/// A parsed, not yet verified, JOSE header with typed access to the members Symbolon uses.
#[derive(Clone, Debug)]
pub struct Header {
    alg: Algorithm,
    typ: Option<String>,
    kid: Option<String>,
    jwk: Option<PublicJwk>,
    x5c: Option<Vec<Vec<u8>>>,
    crit: Option<Vec<String>>,
    raw: Map<String, Value>,
}

fn opt_string(o: &Map<String, Value>, name: &'static str) -> Result<Option<String>, Error> {
    match o.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::MalformedHeader(name)),
    }
}

impl Header {
    /// Parses a header from its decoded JSON bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let raw = json::parse_object(bytes).map_err(|source| Error::Json {
            part: Part::Header,
            source,
        })?;
        let alg = match raw.get("alg") {
            Some(Value::String(s)) => match Algorithm::parse_header(s) {
                ParsedAlg::Known(a) => a,
                ParsedAlg::None => return Err(Error::AlgNone),
                ParsedAlg::Unsupported(s) => return Err(Error::UnsupportedAlgorithm(s)),
            },
            _ => return Err(Error::MissingAlg),
        };
        let jwk = match raw.get("jwk") {
            None => None,
            Some(v) => Some(PublicJwk::from_value(v).map_err(Error::HeaderJwk)?),
        };
        let x5c = match raw.get("x5c") {
            None => None,
            Some(Value::Array(a)) if !a.is_empty() => Some(
                a.iter()
                    .map(|c| c.as_str().and_then(b64::decode_std))
                    .collect::<Option<Vec<_>>>()
                    .ok_or(Error::MalformedHeader("x5c"))?,
            ),
            Some(_) => return Err(Error::MalformedHeader("x5c")),
        };
        let crit = match raw.get("crit") {
            None => None,
            Some(Value::Array(a)) => {
                if a.is_empty() {
                    return Err(Error::InvalidCrit("empty list"));
                }
                let mut names = Vec::with_capacity(a.len());
                for n in a {
                    let n = n
                        .as_str()
                        .ok_or(Error::InvalidCrit("names must be strings"))?;
                    if REGISTERED.contains(&n) {
                        return Err(Error::InvalidCrit("lists a registered header name"));
                    }
                    if !raw.contains_key(n) {
                        return Err(Error::InvalidCrit("names a parameter that is absent"));
                    }
                    names.push(n.to_owned());
                }
                Some(names)
            }
            Some(_) => return Err(Error::InvalidCrit("not an array")),
        };
        Ok(Header {
            alg,
            typ: opt_string(&raw, "typ")?,
            kid: opt_string(&raw, "kid")?,
            jwk,
            x5c,
            crit,
            raw,
        })
    }

    /// The algorithm (already known to be one this crate implements).
    pub fn alg(&self) -> Algorithm {
        self.alg
    }
    /// `typ`.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }
    /// `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
    /// `jwk` (validated public key; a private key is refused at parse time).
    pub fn jwk(&self) -> Option<&PublicJwk> {
        self.jwk.as_ref()
    }
    /// `x5c`: DER certificates, leaf first.
    pub fn x5c(&self) -> Option<&[Vec<u8>]> {
        self.x5c.as_deref()
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

    /// Applies the non-cryptographic parts of a policy: allow-list, `typ`, `crit`.
    pub fn check(&self, policy: &JwsPolicy<'_>) -> Result<(), Error> {
        if !policy.algorithms.contains(&self.alg) {
            return Err(Error::AlgorithmNotAllowed(self.alg));
        }
        if !policy.typ.is_empty() {
            match self.typ.as_deref() {
                Some(t) if policy.typ.contains(&t) => {}
                found => {
                    return Err(Error::UnexpectedTyp {
                        expected: policy.typ.join("` or `"),
                        found: found.map_or_else(
                            || "none".to_owned(),
                            |t| format!("`{}`", crate::escape_input(t)),
                        ),
                    });
                }
            }
        }
        if let Some(crit) = &self.crit {
            for name in crit {
                if !policy.critical.contains(&name.as_str()) {
                    return Err(Error::UnknownCrit(name.clone()));
                }
            }
        }
        Ok(())
    }
}

/// What a verifier accepts. There is no default: the caller names the algorithms.
#[derive(Clone, Copy, Debug)]
pub struct JwsPolicy<'a> {
    /// Accepted algorithms (never empty in practice; an empty list accepts nothing).
    pub algorithms: &'a [Algorithm],
    /// Accepted `typ` values, compared exactly; empty means `typ` is not checked.
    pub typ: &'a [&'a str],
    /// `crit` extension names the caller understands and processes.
    pub critical: &'a [&'a str],
}

impl<'a> JwsPolicy<'a> {
    /// A policy accepting `algorithms`, any `typ`, no `crit` extensions.
    pub const fn new(algorithms: &'a [Algorithm]) -> Self {
        JwsPolicy {
            algorithms,
            typ: &[],
            critical: &[],
        }
    }
    /// Requires `typ` to be one of `typ` exactly.
    #[must_use]
    pub const fn with_typ(mut self, typ: &'a [&'a str]) -> Self {
        self.typ = typ;
        self
    }
    /// Declares `crit` names the caller understands.
    #[must_use]
    pub const fn with_critical(mut self, critical: &'a [&'a str]) -> Self {
        self.critical = critical;
        self
    }
}

/// A compact JWS as received: the text is kept, and the signature is checked over it.
#[derive(Clone, Debug)]
pub struct CompactJws {
    raw: String,
    signing_input_len: usize,
    header: Header,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl CompactJws {
    /// Parses `header.payload.signature`. Nothing is verified yet.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut it = text.splitn(4, '.');
        let (Some(h), Some(p), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
            return Err(Error::NotCompact { expected: 3 });
        };
        let header_bytes = b64::decode(h).ok_or(Error::Base64(Part::Header))?;
        let header = Header::from_json(&header_bytes)?;
        let payload = b64::decode(p).ok_or(Error::Base64(Part::Payload))?;
        let signature = b64::decode(s).ok_or(Error::Base64(Part::Signature))?;
        Ok(CompactJws {
            raw: text.to_owned(),
            signing_input_len: h.len() + 1 + p.len(),
            header,
            payload,
            signature,
        })
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The compact serialization exactly as received.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// `base64url(header).base64url(payload)` as received.
    pub fn signing_input(&self) -> &str {
        self.raw.get(..self.signing_input_len).unwrap_or_default()
    }

    /// The payload bytes **without** any verification (for decoding tools and for finding
    /// which key to verify with).
    pub fn payload_unverified(&self) -> &[u8] {
        &self.payload
    }

    /// The payload parsed as a JSON object, **without** verification.
    pub fn claims_unverified(&self) -> Result<Map<String, Value>, Error> {
        json::parse_object(&self.payload).map_err(|source| Error::Json {
            part: Part::Payload,
            source,
        })
    }

    /// Checks the policy, then the signature with `key`.
    pub fn verify(self, key: &VerifyingKey, policy: &JwsPolicy<'_>) -> Result<VerifiedJws, Error> {
        self.header.check(policy)?;
        key.verify(
            self.header.alg,
            self.signing_input().as_bytes(),
            &self.signature,
        )?;
        Ok(VerifiedJws {
            header: self.header,
            payload: self.payload,
            raw: self.raw,
        })
    }
}

/// A JWS whose signature and header policy were checked: only this type hands out the
/// payload as trusted.
#[derive(Clone, Debug)]
pub struct VerifiedJws {
    header: Header,
    payload: Vec<u8>,
    raw: String,
}

impl VerifiedJws {
    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }
    /// The verified payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }
    /// The compact serialization.
    pub fn as_str(&self) -> &str {
        &self.raw
    }
    /// The verified payload as a JSON object (duplicate members refused).
    pub fn claims(&self) -> Result<Map<String, Value>, Error> {
        json::parse_object(&self.payload).map_err(|source| Error::Json {
            part: Part::Payload,
            source,
        })
    }
}

/// Builds a JOSE header for signing. `alg` is always taken from the signer.
#[derive(Clone, Debug, Default)]
pub struct HeaderBuilder {
    params: Map<String, Value>,
}

impl HeaderBuilder {
    /// An empty header (only `alg` will be written).
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets `typ`.
    #[must_use]
    pub fn typ(self, typ: &str) -> Self {
        self.param("typ", Value::String(typ.to_owned()))
    }
    /// Sets `kid`.
    #[must_use]
    pub fn kid(self, kid: &str) -> Self {
        self.param("kid", Value::String(kid.to_owned()))
    }
    /// Sets `jwk` to a public key.
    #[must_use]
    pub fn jwk(self, jwk: &PublicJwk) -> Self {
        self.param("jwk", jwk.to_value())
    }
    /// Sets `x5c` (DER certificates, leaf first).
    #[must_use]
    pub fn x5c(self, chain: &[Vec<u8>]) -> Self {
        let v = chain
            .iter()
            .map(|c| Value::String(b64::encode_std(c)))
            .collect();
        self.param("x5c", Value::Array(v))
    }
    /// Sets any other parameter. `alg` is ignored here: it always comes from the signer.
    #[must_use]
    pub fn param(mut self, name: &str, value: Value) -> Self {
        if name != "alg" {
            self.params.insert(name.to_owned(), value);
        }
        self
    }

    /// The encoded header for `alg`.
    pub fn encode(&self, alg: Algorithm) -> String {
        let mut m = Map::with_capacity(self.params.len() + 1);
        m.insert("alg".into(), Value::String(alg.name().to_owned()));
        for (k, v) in &self.params {
            m.insert(k.clone(), v.clone());
        }
        b64::encode(Value::Object(m).to_string())
    }

    /// `base64url(header).base64url(payload)`: what a (possibly remote) signer signs.
    pub fn signing_input(&self, alg: Algorithm, payload: &[u8]) -> String {
        let mut s = self.encode(alg);
        s.push('.');
        b64::encode_into(payload, &mut s);
        s
    }

    /// Signs `payload` with `signer`, returning the compact JWS.
    pub fn sign(&self, payload: &[u8], signer: &dyn Signer) -> Result<String, SignError> {
        let input = self.signing_input(signer.algorithm(), payload);
        let sig = signer.sign(input.as_bytes())?;
        Ok(attach_signature(input, &sig))
    }
}

/// Completes a signing input with a signature produced elsewhere (e.g. by a wallet client).
pub fn attach_signature(mut signing_input: String, signature: &[u8]) -> String {
    signing_input.push('.');
    b64::encode_into(signature, &mut signing_input);
    signing_input
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::SoftwareSigner;

    const ES256: &[Algorithm] = &[Algorithm::Es256];

    fn signed(header: HeaderBuilder) -> (SoftwareSigner, String) {
        let s = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let jws = header.sign(br#"{"a":1}"#, &s).unwrap();
        (s, jws)
    }

    fn raw_jws(header: &str, s: &SoftwareSigner) -> String {
        let input = format!("{}.{}", b64::encode(header), b64::encode("{}"));
        let sig = s.sign(input.as_bytes()).unwrap();
        attach_signature(input, &sig)
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let (s, jws) = signed(HeaderBuilder::new().typ("kb+jwt").kid("k1"));
        let vk = VerifyingKey::from_jwk(s.public_jwk()).unwrap();
        let v = CompactJws::parse(&jws)
            .unwrap()
            .verify(&vk, &JwsPolicy::new(ES256).with_typ(&["kb+jwt"]))
            .unwrap();
        assert_eq!(v.claims().unwrap()["a"], 1);
        assert_eq!(v.header().kid(), Some("k1"));
    }

    #[test]
    fn rejects_alg_none() {
        let t = format!(
            "{}.{}.",
            b64::encode(r#"{"alg":"none"}"#),
            b64::encode("{}")
        );
        assert!(matches!(CompactJws::parse(&t), Err(Error::AlgNone)));
    }

    #[test]
    fn rejects_alg_not_in_allow_list() {
        let s = SoftwareSigner::generate(Algorithm::Es384).unwrap();
        let jws = HeaderBuilder::new().sign(b"{}", &s).unwrap();
        let vk = VerifyingKey::from_jwk(s.public_jwk()).unwrap();
        let e = CompactJws::parse(&jws)
            .unwrap()
            .verify(&vk, &JwsPolicy::new(ES256))
            .unwrap_err();
        assert!(matches!(e, Error::AlgorithmNotAllowed(Algorithm::Es384)));
    }

    #[test]
    fn rejects_wrong_or_missing_typ() {
        let (s, jws) = signed(HeaderBuilder::new().typ("JWT"));
        let vk = VerifyingKey::from_jwk(s.public_jwk()).unwrap();
        let p = JwsPolicy::new(ES256).with_typ(&["kb+jwt"]);
        assert!(matches!(
            CompactJws::parse(&jws).unwrap().verify(&vk, &p),
            Err(Error::UnexpectedTyp { .. })
        ));
        let (s, jws) = signed(HeaderBuilder::new());
        let vk = VerifyingKey::from_jwk(s.public_jwk()).unwrap();
        assert!(matches!(
            CompactJws::parse(&jws).unwrap().verify(&vk, &p),
            Err(Error::UnexpectedTyp { .. })
        ));
        // typ is compared exactly: case differences are refused.
        let (s, jws) = signed(HeaderBuilder::new().typ("KB+JWT"));
        let vk = VerifyingKey::from_jwk(s.public_jwk()).unwrap();
        assert!(matches!(
            CompactJws::parse(&jws).unwrap().verify(&vk, &p),
            Err(Error::UnexpectedTyp { .. })
        ));
    }

    #[test]
    fn issue11_sender_text_in_header_errors_is_escaped() {
        // Found by the `client_attestation_verify` fuzz target: a `typ` with a line break
        // reached the issuer's log verbatim through the refusal message.
        let (s, jws) = signed(HeaderBuilder::new().typ("\n\0\0"));
        let vk = VerifyingKey::from_jwk(s.public_jwk()).unwrap();
        let p = JwsPolicy::new(ES256).with_typ(&["kb+jwt"]);
        let e = CompactJws::parse(&jws)
            .unwrap()
            .verify(&vk, &p)
            .unwrap_err();
        assert_eq!(e.to_string(), "`typ` must be `kb+jwt`, found `\\n\\0\\0`");
        let forged = raw_jws(r#"{"alg":"ES256","crit":["x\ny"],"x\ny":1}"#, &s);
        let e = CompactJws::parse(&forged)
            .unwrap()
            .verify(&vk, &JwsPolicy::new(ES256))
            .unwrap_err();
        assert!(matches!(e, Error::UnknownCrit(ref n) if n == "x\ny"));
        assert!(!e.to_string().contains('\n'), "{e}");
        let e = CompactJws::parse(&raw_jws(r#"{"alg":"ES\r256"}"#, &s)).unwrap_err();
        assert!(!e.to_string().contains('\r'), "{e}");
    }

    #[test]
    fn rejects_unknown_crit() {
        let s = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let vk = VerifyingKey::from_jwk(s.public_jwk()).unwrap();
        let jws = raw_jws(r#"{"alg":"ES256","crit":["exp1"],"exp1":true}"#, &s);
        let e = CompactJws::parse(&jws)
            .unwrap()
            .verify(&vk, &JwsPolicy::new(ES256))
            .unwrap_err();
        assert!(matches!(e, Error::UnknownCrit(ref n) if n == "exp1"));
        let ok = JwsPolicy::new(ES256).with_critical(&["exp1"]);
        CompactJws::parse(&jws).unwrap().verify(&vk, &ok).unwrap();
    }

    #[test]
    fn rejects_malformed_crit() {
        let s = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        for h in [
            r#"{"alg":"ES256","crit":[]}"#,
            r#"{"alg":"ES256","crit":["alg"]}"#,
            r#"{"alg":"ES256","crit":["missing"]}"#,
            r#"{"alg":"ES256","crit":"x"}"#,
        ] {
            assert!(
                matches!(
                    CompactJws::parse(&raw_jws(h, &s)),
                    Err(Error::InvalidCrit(_))
                ),
                "{h}"
            );
        }
    }

    #[test]
    fn rejects_duplicate_header_members() {
        let s = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let jws = raw_jws(r#"{"alg":"ES256","typ":"a","typ":"b"}"#, &s);
        assert!(matches!(
            CompactJws::parse(&jws),
            Err(Error::Json {
                part: Part::Header,
                ..
            })
        ));
    }

    #[test]
    fn rejects_tampered_payload_and_signature() {
        let (s, jws) = signed(HeaderBuilder::new());
        let vk = VerifyingKey::from_jwk(s.public_jwk()).unwrap();
        let mut parts: Vec<&str> = jws.split('.').collect();
        let other = b64::encode(r#"{"a":2}"#);
        parts[1] = &other;
        let t = parts.join(".");
        assert!(matches!(
            CompactJws::parse(&t)
                .unwrap()
                .verify(&vk, &JwsPolicy::new(ES256)),
            Err(Error::InvalidSignature)
        ));
        let other_key = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let vk2 = VerifyingKey::from_jwk(other_key.public_jwk()).unwrap();
        assert!(matches!(
            CompactJws::parse(&jws)
                .unwrap()
                .verify(&vk2, &JwsPolicy::new(ES256)),
            Err(Error::InvalidSignature)
        ));
    }

    #[test]
    fn rejects_structural_errors() {
        assert!(matches!(
            CompactJws::parse("a.b"),
            Err(Error::NotCompact { .. })
        ));
        assert!(matches!(
            CompactJws::parse("a.b.c.d"),
            Err(Error::NotCompact { .. })
        ));
        assert!(matches!(
            CompactJws::parse("!!.b.c"),
            Err(Error::Base64(Part::Header))
        ));
        let h = b64::encode(r#"{"typ":"x"}"#);
        assert!(matches!(
            CompactJws::parse(&format!("{h}.e30.")),
            Err(Error::MissingAlg)
        ));
        let h = b64::encode(r#"{"alg":"HS256"}"#);
        assert!(matches!(
            CompactJws::parse(&format!("{h}.e30.")),
            Err(Error::UnsupportedAlgorithm(_))
        ));
        let h = b64::encode(r#"{"alg":"ES256","kid":5}"#);
        assert!(matches!(
            CompactJws::parse(&format!("{h}.e30.")),
            Err(Error::MalformedHeader("kid"))
        ));
        let h = b64::encode(r#"{"alg":"ES256","x5c":["%%"]}"#);
        assert!(matches!(
            CompactJws::parse(&format!("{h}.e30.")),
            Err(Error::MalformedHeader("x5c"))
        ));
    }

    #[test]
    fn legacy_eddsa_header_verifies_with_ed25519_key() {
        let s = SoftwareSigner::generate(Algorithm::Ed25519).unwrap();
        let vk = VerifyingKey::from_jwk(s.public_jwk()).unwrap();
        let jws = raw_jws(r#"{"alg":"EdDSA"}"#, &s);
        CompactJws::parse(&jws)
            .unwrap()
            .verify(&vk, &JwsPolicy::new(&[Algorithm::Ed25519]))
            .unwrap();
    }
}
