//! The Key Binding JWT (RFC 9901 §4.3): created by the Holder over the SD-JWT exactly as
//! sent (`sd_hash`, §4.3.1), verified by the Verifier with the key in the SD-JWT's
//! `cnf.jwk` (§4.1.2, §7.3 step 5).

use crate::disclosure::{push_json_string, sha256_b64, sha256_b64_inline};
use crate::error::{JsonPart, KbError, ParseError, VerifyError};
use crate::limits::{Limits, json_too_deep};
use crate::verify::KbExpectation;
use jose::jwt::{Clock, TimeRules, check_time, numeric_date};
use jose::{
    Algorithm, CompactJws, Header, JwsPolicy, PublicJwk, VerifiedJws, VerifyingKey, b64, json,
};
use serde_json::{Map, Value};

/// The `typ` of a Key Binding JWT.
pub const KB_TYP: &str = "kb+jwt";

/// What the Holder puts into a Key Binding JWT.
#[derive(Clone, Debug)]
pub struct KbInput {
    /// `aud`: the intended Verifier (OpenID4VP: the full client_id).
    pub audience: String,
    /// `nonce` from the Verifier's request.
    pub nonce: String,
    /// `iat`: creation time, seconds since the epoch.
    pub iat: i64,
    /// Further claims (e.g. OpenID4VP `transaction_data_hashes`). RFC 9901 §4.3 advises
    /// against extensions without a compelling reason; `iat`, `aud`, `nonce` and `sd_hash`
    /// here are ignored in favour of the fields above.
    pub extra: Map<String, Value>,
}

impl KbInput {
    /// `aud`, `nonce` and `iat`, no further claims.
    pub fn new(audience: impl Into<String>, nonce: impl Into<String>, iat: i64) -> Self {
        KbInput {
            audience: audience.into(),
            nonce: nonce.into(),
            iat,
            extra: Map::new(),
        }
    }
    /// Adds a further claim.
    #[must_use]
    pub fn with_claim(mut self, name: impl Into<String>, value: Value) -> Self {
        self.extra.insert(name.into(), value);
        self
    }
}

/// The KB-JWT payload for `sd_jwt_part` (`<JWT>~<D1>~…~<Dn>~`), written directly: it is
/// built once per presentation, on the Holder's hot path.
pub(crate) fn payload(input: &KbInput, sd_jwt_part: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(128 + input.audience.len() + input.nonce.len());
    // Writing to a String cannot fail.
    let _ = write!(out, "{{\"iat\":{},\"aud\":", input.iat);
    push_json_string(&mut out, &input.audience);
    out.push_str(",\"nonce\":");
    push_json_string(&mut out, &input.nonce);
    out.push_str(",\"sd_hash\":\"");
    out.push_str(&sha256_b64(sd_jwt_part.as_bytes()));
    out.push('"');
    for (k, v) in &input.extra {
        if matches!(k.as_str(), "iat" | "aud" | "nonce" | "sd_hash") {
            continue;
        }
        out.push(',');
        push_json_string(&mut out, k);
        let _ = write!(out, ":{v}");
    }
    out.push('}');
    out
}

/// `base64url(header).base64url(payload)` of a KB-JWT signed with `alg`.
pub(crate) fn signing_input(alg: Algorithm, payload: &str) -> String {
    let header = match alg {
        Algorithm::Es256 => r#"{"alg":"ES256","typ":"kb+jwt"}"#,
        Algorithm::Es384 => r#"{"alg":"ES384","typ":"kb+jwt"}"#,
        Algorithm::Ed25519 => r#"{"alg":"Ed25519","typ":"kb+jwt"}"#,
    };
    let mut out = String::with_capacity(header.len() * 4 / 3 + payload.len() * 4 / 3 + 4);
    b64::encode_into(header, &mut out);
    out.push('.');
    b64::encode_into(payload, &mut out);
    out
}

/// The verified claims of a Key Binding JWT.
#[derive(Clone, Debug)]
pub struct KbClaims {
    jws: VerifiedJws,
    iat: i64,
    /// Checked to hold `aud`, `nonce` and `sd_hash` as strings.
    claims: Map<String, Value>,
}

fn str_of<'a>(claims: &'a Map<String, Value>, name: &str) -> &'a str {
    claims.get(name).and_then(Value::as_str).unwrap_or_default()
}

impl KbClaims {
    /// The KB-JWT header.
    pub fn header(&self) -> &Header {
        self.jws.header()
    }
    /// The KB-JWT exactly as received.
    pub fn as_str(&self) -> &str {
        self.jws.as_str()
    }
    /// `iat`.
    pub fn iat(&self) -> i64 {
        self.iat
    }
    /// `aud`.
    pub fn audience(&self) -> &str {
        str_of(&self.claims, "aud")
    }
    /// `nonce`.
    pub fn nonce(&self) -> &str {
        str_of(&self.claims, "nonce")
    }
    /// `sd_hash`.
    pub fn sd_hash(&self) -> &str {
        str_of(&self.claims, "sd_hash")
    }
    /// All claims of the KB-JWT payload (including extensions such as
    /// `transaction_data_hashes`).
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
}

/// The Holder key from the processed payload's `cnf.jwk` (RFC 9901 §4.1.2, RFC 7800 §3.2).
pub(crate) fn holder_key(
    claims: &Map<String, Value>,
) -> Result<(PublicJwk, VerifyingKey), KbError> {
    let cnf = claims.get("cnf").ok_or(KbError::CnfMissing)?;
    let jwk = cnf
        .as_object()
        .and_then(|c| c.get("jwk"))
        .ok_or(KbError::CnfNotJwk)?;
    let jwk = PublicJwk::from_value(jwk).map_err(KbError::HolderKeyInvalid)?;
    let key = VerifyingKey::from_jwk(&jwk).map_err(KbError::HolderKeyInvalid)?;
    Ok((jwk, key))
}

fn string_claim<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, KbError> {
    match claims.get(name) {
        None => Err(KbError::ClaimMissing(name)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(KbError::ClaimWrongType(name)),
    }
}

/// RFC 9901 §7.3 step 5 for the KB-JWT `kb` presented with `sd_jwt_part`, whose processed
/// payload is `sd_claims`.
pub(crate) fn verify(
    kb: CompactJws,
    sd_claims: &Map<String, Value>,
    sd_jwt_part: &str,
    expect: &KbExpectation<'_>,
    clock: &dyn Clock,
    skew: u64,
    limits: &Limits,
) -> Result<(KbClaims, PublicJwk), VerifyError> {
    let (jwk, key) = holder_key(sd_claims)?;
    let header = kb.header();
    if header.typ() != Some(KB_TYP) {
        return Err(KbError::WrongTyp(header.typ().map(str::to_owned)).into());
    }
    if !expect.algorithms.contains(&header.alg()) {
        return Err(KbError::AlgorithmNotAllowed(header.alg()).into());
    }
    let algorithms = expect.algorithms;
    let policy = JwsPolicy::new(algorithms).with_typ(&[KB_TYP]);
    let verified = kb.verify(&key, &policy).map_err(KbError::Signature)?;
    let payload = verified.payload();
    if json_too_deep(payload, limits.max_json_depth) {
        return Err(ParseError::JsonTooDeep {
            part: JsonPart::KbPayload,
            max: limits.max_json_depth,
        }
        .into());
    }
    let claims = json::parse_object(payload).map_err(KbError::PayloadNotJson)?;
    let iat = match numeric_date(&claims, "iat") {
        Ok(Some(iat)) => iat,
        Ok(None) => return Err(KbError::ClaimMissing("iat").into()),
        Err(_) => return Err(KbError::ClaimWrongType("iat").into()),
    };
    let audience = string_claim(&claims, "aud")?;
    let nonce = string_claim(&claims, "nonce")?;
    let sd_hash = string_claim(&claims, "sd_hash")?;
    let rules = TimeRules {
        skew,
        require_exp: false,
        require_iat: true,
        max_age: Some(expect.max_age),
    };
    check_time(&claims, clock, &rules).map_err(KbError::Time)?;
    if nonce != expect.nonce {
        return Err(KbError::NonceMismatch.into());
    }
    if audience != expect.audience {
        return Err(KbError::AudienceMismatch.into());
    }
    if sd_hash.as_bytes() != sha256_b64_inline(sd_jwt_part.as_bytes()) {
        return Err(KbError::SdHashMismatch.into());
    }
    Ok((
        KbClaims {
            jws: verified,
            iat,
            claims,
        },
        jwk,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kb_headers_name_the_algorithm_and_typ() {
        for alg in Algorithm::ALL {
            let input = signing_input(alg, "{}");
            let header = input.split('.').next().unwrap();
            let h = Header::from_json(&b64::decode(header).unwrap()).unwrap();
            assert_eq!((h.alg(), h.typ()), (alg, Some(KB_TYP)));
        }
    }

    #[test]
    fn kb_payload_escapes_and_skips_reserved_extras() {
        let input = KbInput::new("a\"ud", "n\\once", 5)
            .with_claim("nonce", Value::from("other"))
            .with_claim("x", serde_json::json!([1, {"y": null}]));
        let p = json::parse_object(payload(&input, "jwt~").as_bytes()).unwrap();
        assert_eq!(p["aud"], "a\"ud");
        assert_eq!(p["nonce"], "n\\once");
        assert_eq!(p["iat"], 5);
        assert_eq!(p["sd_hash"], sha256_b64(b"jwt~"));
        assert_eq!(p["x"], serde_json::json!([1, {"y": null}]));
    }
}
