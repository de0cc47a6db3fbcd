//! DPoP proofs (RFC 9449): a client proves possession of a key with every request to the
//! token endpoint and to the resources an access token opens, so that a stolen token is
//! useless without the key it is bound to (`cnf.jkt`).
//!
//! [`verify_dpop`] does the checks of RFC 9449 §4.3 that need no state, in this order: the
//! JWS parses and the header holds no private key; `typ` is `dpop+jwt`; `alg` is in the
//! caller's allow-list (never `none`, never symmetric: the `jose` crate implements only
//! asymmetric algorithms); the header carries `jwk` and only `jwk`; the signature verifies
//! with it; `jti`, `htm`, `htu` and `iat` are present; `htm` is the request's method; `htu`
//! is the request's URL without query and fragment (compared after URL normalisation);
//! `iat` lies inside the accepted window; and, when the request presents an access token,
//! `ath` is the base64url SHA-256 of it. What needs state — that `jti` was not seen before,
//! that `nonce` is one the server handed out, and that the key is the one the token is bound
//! to — is the caller's to check with the returned [`VerifiedDpop`].
//!
//! [`DpopClaims::sign`] builds a proof, for clients.

use crate::error::ErrorCode;
use jose::jwt::{Clock, TimeRules, check_time, numeric_date};
use jose::{
    Algorithm, ClaimError, CompactJws, HeaderBuilder, JwkError, JwsPolicy, PublicJwk, SignError,
    Signer, VerifyingKey,
};
use serde_json::{Map, Value};

/// `typ` of a DPoP proof (RFC 9449 §4.2).
pub const DPOP_TYP: &str = "dpop+jwt";
/// The request header carrying the proof.
pub const DPOP_HEADER: &str = "DPoP";
/// The response header carrying a server nonce (RFC 9449 §8).
pub const DPOP_NONCE_HEADER: &str = "DPoP-Nonce";
/// The `Authorization` scheme of a DPoP-bound access token (RFC 9449 §7.1).
pub const DPOP_SCHEME: &str = "DPoP";
/// `token_type` of a DPoP-bound access token (RFC 9449 §5).
pub const DPOP_TOKEN_TYPE: &str = "DPoP";
/// Longest proof accepted, in bytes: a P-384 key, a 512-bit `jti` and a long URL fit easily.
pub const MAX_PROOF_LEN: usize = 4096;

/// A DPoP proof was refused.
#[derive(Debug, thiserror::Error)]
pub enum DpopError {
    /// The proof is longer than [`MAX_PROOF_LEN`].
    #[error("the DPoP proof is longer than {MAX_PROOF_LEN} bytes")]
    TooLong,
    /// The JWS is malformed, or its signature does not verify.
    #[error("DPoP proof: {0}")]
    Jws(jose::Error),
    /// The header's `jwk` carries private key material (§4.3 step 7).
    #[error("the DPoP proof header carries a private key")]
    PrivateKey,
    /// `typ` is not `dpop+jwt` (§4.3 step 4).
    #[error("DPoP proof `typ` must be `dpop+jwt`")]
    Typ,
    /// `alg` is not accepted (§4.3 step 5).
    #[error("DPoP proof `alg` {0} is not accepted")]
    AlgorithmNotAllowed(Algorithm),
    /// The header names its key otherwise than by `jwk` alone.
    #[error("the DPoP proof header must carry its public key as `jwk` (and no `kid` or `x5c`)")]
    KeyReference,
    /// The header `jwk` is not a usable public key.
    #[error("DPoP proof `jwk` is invalid: {0}")]
    Key(JwkError),
    /// A claim is missing or has the wrong type (§4.3 step 3).
    #[error("DPoP proof claim `{0}` is missing or malformed")]
    Claim(&'static str),
    /// `htm` is not the request's method (§4.3 step 8).
    #[error("DPoP proof `htm` does not match the request method")]
    Method,
    /// `htu` is not the request's URL (§4.3 step 9).
    #[error("DPoP proof `htu` does not match the request URL")]
    Url,
    /// `iat` is outside the accepted window (§4.3 step 11).
    #[error("DPoP proof is not fresh: {0}")]
    Time(ClaimError),
    /// `ath` is missing although an access token is presented (§4.3 step 12, §7.1).
    #[error("DPoP proof carries no `ath` for the presented access token")]
    MissingAth,
    /// `ath` is not the hash of the presented access token.
    #[error("DPoP proof `ath` does not match the presented access token")]
    Ath,
}

impl DpopError {
    /// The error code: every refused proof is `invalid_dpop_proof` (RFC 9449 §5, §7.1).
    pub fn code(&self) -> ErrorCode {
        ErrorCode::InvalidDpopProof
    }
}

/// What the server accepts.
#[derive(Clone, Copy, Debug)]
pub struct DpopPolicy<'a> {
    /// Accepted algorithms (`dpop_signing_alg_values_supported`).
    pub algorithms: &'a [Algorithm],
    /// How old `iat` may be, in seconds.
    pub max_age: u64,
    /// Clock skew tolerated, in seconds (an `iat` this far in the future passes).
    pub skew: u64,
}

/// The request a proof must match.
#[derive(Clone, Copy, Debug)]
pub struct DpopRequest<'a> {
    /// The HTTP method (`POST`).
    pub method: &'a str,
    /// The URL the server is reachable at for this request (its public URL).
    pub url: &'a str,
    /// The access token presented with the request, at a protected resource.
    pub access_token: Option<&'a str>,
}

/// A proof whose signature and stateless claims verified.
#[derive(Clone, Debug)]
pub struct VerifiedDpop {
    /// The proof key (without `kid`/`alg`).
    pub key: PublicJwk,
    /// Its RFC 7638 SHA-256 thumbprint: `cnf.jkt` of a token bound to it.
    pub jkt: String,
    /// `jti`: the caller records it once.
    pub jti: String,
    /// `nonce`, when present: the caller checks it when it demands nonces.
    pub nonce: Option<String>,
    /// `iat`.
    pub iat: i64,
}

/// `ath`: base64url SHA-256 of the access token's ASCII bytes (RFC 9449 §4.2).
pub fn access_token_hash(access_token: &str) -> String {
    jose::b64::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        access_token.as_bytes(),
    ))
}

/// `url` without query and fragment, normalised (scheme and host lower case, default port
/// dropped, an empty path written `/`); `None` when it is not an absolute http(s) URL.
pub fn normalize_htu(url: &str) -> Option<String> {
    let mut u = url::Url::parse(url).ok()?;
    if !matches!(u.scheme(), "http" | "https") || u.cannot_be_a_base() {
        return None;
    }
    u.set_query(None);
    u.set_fragment(None);
    Some(u.into())
}

fn string_claim(claims: &Map<String, Value>, name: &'static str) -> Result<String, DpopError> {
    match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(DpopError::Claim(name)),
    }
}

/// Verifies a DPoP proof against `request` (RFC 9449 §4.3, the stateless steps).
pub fn verify_dpop(
    jwt: &str,
    policy: &DpopPolicy<'_>,
    request: &DpopRequest<'_>,
    clock: &dyn Clock,
) -> Result<VerifiedDpop, DpopError> {
    if jwt.len() > MAX_PROOF_LEN {
        return Err(DpopError::TooLong);
    }
    let jws = CompactJws::parse(jwt).map_err(|e| match e {
        jose::Error::HeaderJwk(JwkError::PrivateMaterial) => DpopError::PrivateKey,
        other => DpopError::Jws(other),
    })?;
    let header = jws.header();
    if header.typ() != Some(DPOP_TYP) {
        return Err(DpopError::Typ);
    }
    if !policy.algorithms.contains(&header.alg()) {
        return Err(DpopError::AlgorithmNotAllowed(header.alg()));
    }
    if header.get("kid").is_some() || header.get("x5c").is_some() {
        return Err(DpopError::KeyReference);
    }
    let key = header.jwk().ok_or(DpopError::KeyReference)?.bare();
    let verifying_key = VerifyingKey::from_jwk(&key).map_err(DpopError::Key)?;
    let jws_policy = JwsPolicy::new(policy.algorithms).with_typ(&[DPOP_TYP]);
    let verified = jws
        .verify(&verifying_key, &jws_policy)
        .map_err(DpopError::Jws)?;
    let claims = verified.claims().map_err(DpopError::Jws)?;
    let jti = string_claim(&claims, "jti")?;
    let htm = string_claim(&claims, "htm")?;
    let htu = string_claim(&claims, "htu")?;
    if htm != request.method {
        return Err(DpopError::Method);
    }
    match (normalize_htu(&htu), normalize_htu(request.url)) {
        (Some(given), Some(expected)) if given == expected => {}
        _ => return Err(DpopError::Url),
    }
    let rules = TimeRules {
        skew: policy.skew,
        require_exp: false,
        require_iat: true,
        max_age: Some(policy.max_age),
    };
    check_time(&claims, clock, &rules).map_err(|e| match e {
        ClaimError::Missing(n) | ClaimError::WrongType(n) => DpopError::Claim(n),
        other => DpopError::Time(other),
    })?;
    let iat = numeric_date(&claims, "iat")
        .map_err(|_| DpopError::Claim("iat"))?
        .ok_or(DpopError::Claim("iat"))?;
    let nonce = match claims.get("nonce") {
        None => None,
        Some(Value::String(n)) if !n.is_empty() => Some(n.clone()),
        Some(_) => return Err(DpopError::Claim("nonce")),
    };
    if let Some(token) = request.access_token {
        let ath = match claims.get("ath") {
            None => return Err(DpopError::MissingAth),
            Some(Value::String(a)) => a,
            Some(_) => return Err(DpopError::Claim("ath")),
        };
        // Both sides are public (the client computed it from the token it sends), so a
        // plain comparison leaks nothing.
        if *ath != access_token_hash(token) {
            return Err(DpopError::Ath);
        }
    }
    Ok(VerifiedDpop {
        jkt: key.thumbprint(),
        key,
        jti,
        nonce,
        iat,
    })
}

/// The claims of a DPoP proof, as a client writes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpopClaims {
    /// A fresh unique identifier.
    pub jti: String,
    /// The HTTP method.
    pub htm: String,
    /// The request URL (query and fragment are dropped when signing).
    pub htu: String,
    /// Issued-at.
    pub iat: i64,
    /// The access token sent with the request (its hash becomes `ath`).
    pub access_token: Option<String>,
    /// The server's latest `DPoP-Nonce`.
    pub nonce: Option<String>,
}

impl DpopClaims {
    /// Signs the proof; the header carries `typ`, `alg` and the public key as `jwk`.
    pub fn sign(&self, key: &dyn Signer) -> Result<String, SignError> {
        let mut m = Map::new();
        m.insert("jti".into(), self.jti.clone().into());
        m.insert("htm".into(), self.htm.clone().into());
        let htu = normalize_htu(&self.htu).unwrap_or_else(|| self.htu.clone());
        m.insert("htu".into(), htu.into());
        m.insert("iat".into(), self.iat.into());
        if let Some(t) = &self.access_token {
            m.insert("ath".into(), access_token_hash(t).into());
        }
        if let Some(n) = &self.nonce {
            m.insert("nonce".into(), n.clone().into());
        }
        HeaderBuilder::new()
            .typ(DPOP_TYP)
            .jwk(&key.public_jwk().bare())
            .sign(Value::Object(m).to_string().as_bytes(), key)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use jose::{FixedClock, SoftwareSigner, b64};
    use serde_json::json;

    const NOW: i64 = 1_562_262_616;
    const URL: &str = "https://server.example.com/token";

    fn policy() -> DpopPolicy<'static> {
        DpopPolicy {
            algorithms: &[Algorithm::Es256],
            max_age: 300,
            skew: 60,
        }
    }

    fn request() -> DpopRequest<'static> {
        DpopRequest {
            method: "POST",
            url: URL,
            access_token: None,
        }
    }

    fn claims() -> DpopClaims {
        DpopClaims {
            jti: "-BwC3ESc6acc2lTc".into(),
            htm: "POST".into(),
            htu: URL.into(),
            iat: NOW,
            access_token: None,
            nonce: None,
        }
    }

    fn key() -> SoftwareSigner {
        SoftwareSigner::generate(Algorithm::Es256).unwrap()
    }

    fn raw(header: Value, payload: Value, signer: &SoftwareSigner) -> String {
        let input = format!(
            "{}.{}",
            b64::encode(header.to_string()),
            b64::encode(payload.to_string())
        );
        let sig = signer.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", b64::encode(sig))
    }

    fn header(k: &SoftwareSigner) -> Value {
        json!({"typ": DPOP_TYP, "alg": "ES256", "jwk": k.public_jwk().bare().to_value()})
    }

    #[test]
    fn rfc9449_proof_round_trips_and_binds_the_key() {
        let k = key();
        let jwt = claims().sign(&k).unwrap();
        let v = verify_dpop(&jwt, &policy(), &request(), &FixedClock(NOW)).unwrap();
        assert_eq!(v.jkt, k.public_jwk().thumbprint());
        assert_eq!(v.jti, "-BwC3ESc6acc2lTc");
        assert_eq!(v.nonce, None);
    }

    #[test]
    fn rfc9449_7_1_ath_is_the_access_token_hash() {
        // RFC 9449 §7.1 example: the access token and the `ath` in its proof.
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
        let k = key();
        let mut c = claims();
        c.access_token = Some("token".into());
        let jwt = c.sign(&k).unwrap();
        let mut r = request();
        r.access_token = Some("token");
        verify_dpop(&jwt, &policy(), &r, &FixedClock(NOW)).unwrap();
        r.access_token = Some("another token");
        assert!(matches!(
            verify_dpop(&jwt, &policy(), &r, &FixedClock(NOW)),
            Err(DpopError::Ath)
        ));
    }

    #[test]
    fn htu_ignores_query_fragment_and_default_port() {
        let k = key();
        let mut c = claims();
        c.htu = "HTTPS://Server.Example.com:443/token?x=1#f".into();
        let jwt = c.sign(&k).unwrap();
        verify_dpop(&jwt, &policy(), &request(), &FixedClock(NOW)).unwrap();
    }

    #[test]
    fn rejects_proof_without_ath_at_a_resource() {
        let jwt = claims().sign(&key()).unwrap();
        let mut r = request();
        r.access_token = Some("token");
        assert!(matches!(
            verify_dpop(&jwt, &policy(), &r, &FixedClock(NOW)),
            Err(DpopError::MissingAth)
        ));
    }

    #[test]
    fn rejects_proof_for_another_method_or_url() {
        let jwt = claims().sign(&key()).unwrap();
        let mut r = request();
        r.method = "GET";
        assert!(matches!(
            verify_dpop(&jwt, &policy(), &r, &FixedClock(NOW)),
            Err(DpopError::Method)
        ));
        let mut r = request();
        r.url = "https://server.example.com/credential";
        assert!(matches!(
            verify_dpop(&jwt, &policy(), &r, &FixedClock(NOW)),
            Err(DpopError::Url)
        ));
    }

    #[test]
    fn rejects_stale_or_future_proof() {
        let jwt = claims().sign(&key()).unwrap();
        for now in [NOW + 361, NOW - 61] {
            assert!(matches!(
                verify_dpop(&jwt, &policy(), &request(), &FixedClock(now)),
                Err(DpopError::Time(_))
            ));
        }
    }

    #[test]
    fn rejects_proof_of_wrong_typ_alg_or_key_reference() {
        let k = key();
        let payload = json!({"jti": "j", "htm": "POST", "htu": URL, "iat": NOW});
        let mut h = header(&k);
        h["typ"] = json!("JWT");
        assert!(matches!(
            verify_dpop(
                &raw(h, payload.clone(), &k),
                &policy(),
                &request(),
                &FixedClock(NOW)
            ),
            Err(DpopError::Typ)
        ));
        let strict = DpopPolicy {
            algorithms: &[Algorithm::Es384],
            ..policy()
        };
        assert!(matches!(
            verify_dpop(
                &raw(header(&k), payload.clone(), &k),
                &strict,
                &request(),
                &FixedClock(NOW)
            ),
            Err(DpopError::AlgorithmNotAllowed(Algorithm::Es256))
        ));
        let mut h = header(&k);
        h["kid"] = json!("k1");
        assert!(matches!(
            verify_dpop(
                &raw(h, payload.clone(), &k),
                &policy(),
                &request(),
                &FixedClock(NOW)
            ),
            Err(DpopError::KeyReference)
        ));
        let mut h = header(&k);
        h.as_object_mut().unwrap().remove("jwk");
        assert!(matches!(
            verify_dpop(
                &raw(h, payload, &k),
                &policy(),
                &request(),
                &FixedClock(NOW)
            ),
            Err(DpopError::KeyReference)
        ));
    }

    #[test]
    fn rejects_proof_signed_by_another_key() {
        let k = key();
        let other = key();
        let payload = json!({"jti": "j", "htm": "POST", "htu": URL, "iat": NOW});
        let jwt = raw(header(&k), payload, &other);
        assert!(matches!(
            verify_dpop(&jwt, &policy(), &request(), &FixedClock(NOW)),
            Err(DpopError::Jws(_))
        ));
    }

    #[test]
    fn rejects_proof_missing_claims() {
        let k = key();
        for missing in ["jti", "htm", "htu", "iat"] {
            let mut payload = json!({"jti": "j", "htm": "POST", "htu": URL, "iat": NOW});
            payload.as_object_mut().unwrap().remove(missing);
            let e = verify_dpop(
                &raw(header(&k), payload, &k),
                &policy(),
                &request(),
                &FixedClock(NOW),
            )
            .unwrap_err();
            assert!(matches!(e, DpopError::Claim(n) if n == missing), "{e}");
        }
    }

    #[test]
    fn rejects_garbage_and_oversized_proofs_without_panic() {
        for text in [
            "",
            ".",
            "..",
            "a.b.c",
            "eyJ9.e30.",
            &"a".repeat(MAX_PROOF_LEN + 1),
        ] {
            assert!(verify_dpop(text, &policy(), &request(), &FixedClock(NOW)).is_err());
        }
    }
}
