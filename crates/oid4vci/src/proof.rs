//! Proof JWTs (Appendix F.1, checks of F.4): a wallet proves possession of the key a
//! credential will be bound to.
//!
//! [`verify_proof`] checks, in this order: the JWS parses and the header holds no private
//! key; `typ` is `openid4vci-proof+jwt`; `alg` is in the caller's allow-list; exactly one
//! of `kid`, `jwk`, `x5c` is present and it is `jwk` (the only binding method this crate
//! resolves); the signature verifies with that key; `aud` is the Credential Issuer
//! Identifier; `iat` lies inside the accepted window; `iss` is absent for anonymous access
//! and otherwise equals the client_id; `nonce` is present when the issuer has a nonce
//! endpoint. Whether the nonce is one the issuer handed out and still unused is the
//! caller's check, against its own store.
//!
//! [`ProofClaims::sign`] builds a proof, for wallets.

use crate::error::ErrorCode;
use jose::jwt::{Clock, TimeRules, check_time, numeric_date};
use jose::{
    Algorithm, ClaimError, CompactJws, HeaderBuilder, JwkError, JwsPolicy, PublicJwk, SignError,
    Signer, VerifyingKey,
};
use serde_json::{Map, Value};

/// `typ` of a proof JWT.
pub const PROOF_TYP: &str = "openid4vci-proof+jwt";

/// A proof was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// The JWS is malformed, or its signature does not verify.
    #[error("proof JWT: {0}")]
    Jws(jose::Error),
    /// The header's `jwk` carries private key material (F.4).
    #[error("the proof header carries a private key")]
    PrivateKey,
    /// `typ` is not `openid4vci-proof+jwt`.
    #[error("proof `typ` must be `openid4vci-proof+jwt`")]
    Typ,
    /// `alg` is not accepted for proofs.
    #[error("proof `alg` {0} is not accepted")]
    AlgorithmNotAllowed(Algorithm),
    /// None, or more than one, of `kid`, `jwk`, `x5c` (F.1: exactly one).
    #[error("the proof header must name its key with exactly one of `kid`, `jwk`, `x5c`")]
    KeyReference,
    /// The key is referenced by `kid` or `x5c`, which this issuer does not resolve.
    #[error("proof keys given by `{0}` are not supported; send `jwk`")]
    UnsupportedKeyReference(&'static str),
    /// The header `jwk` is not a usable public key.
    #[error("proof `jwk` is invalid: {0}")]
    Key(JwkError),
    /// A claim is missing or has the wrong type.
    #[error("proof claim `{0}` is missing or malformed")]
    Claim(&'static str),
    /// `aud` is not this issuer.
    #[error("proof `aud` does not name this credential issuer")]
    Audience,
    /// `iat` is outside the accepted window (or `exp`/`nbf` fail).
    #[error("proof is not fresh: {0}")]
    Time(ClaimError),
    /// `iss` is present for anonymous access, or differs from the client_id.
    #[error("proof `iss` does not match the client")]
    Issuer,
    /// The issuer has a nonce endpoint and the proof carries no `nonce` (§8.3.1.2:
    /// `invalid_proof`).
    #[error("proof carries no `nonce`")]
    MissingNonce,
}

impl ProofError {
    /// The error code (§8.3.1.2). A proof without nonce is `invalid_proof`; a wrong
    /// nonce, found by the caller, is `invalid_nonce`.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::InvalidProof
    }
}

/// What the issuer accepts.
#[derive(Clone, Copy, Debug)]
pub struct ProofPolicy<'a> {
    /// The Credential Issuer Identifier (`aud`).
    pub audience: &'a str,
    /// Accepted algorithms (`proof_signing_alg_values_supported`).
    pub algorithms: &'a [Algorithm],
    /// How old `iat` may be, in seconds.
    pub max_age: u64,
    /// Clock skew tolerated, in seconds (an `iat` this far in the future passes).
    pub skew: u64,
    /// The authenticated client_id; `None` when the token came from anonymous access
    /// (then `iss` MUST be absent).
    pub client_id: Option<&'a str>,
    /// The issuer has a nonce endpoint: `nonce` is required.
    pub require_nonce: bool,
}

/// A verified proof.
#[derive(Clone, Debug)]
pub struct VerifiedProof {
    /// The key the credential is bound to (from the header `jwk`, without `kid`/`alg`).
    pub key: PublicJwk,
    /// The parsed key, for further signature checks.
    pub verifying_key: VerifyingKey,
    /// `nonce`, when present: the caller checks and consumes it.
    pub nonce: Option<String>,
    /// `iat`.
    pub iat: i64,
}

fn audience_matches(claims: &Map<String, Value>, audience: &str) -> Result<(), ProofError> {
    match claims.get("aud") {
        Some(Value::String(a)) if a == audience => Ok(()),
        Some(Value::Array(a))
            if a.len() == 1 && a.first().and_then(Value::as_str) == Some(audience) =>
        {
            Ok(())
        }
        Some(Value::String(_) | Value::Array(_)) => Err(ProofError::Audience),
        _ => Err(ProofError::Claim("aud")),
    }
}

/// Verifies a proof JWT (F.4).
pub fn verify_proof(
    jwt: &str,
    policy: &ProofPolicy<'_>,
    clock: &dyn Clock,
) -> Result<VerifiedProof, ProofError> {
    let jws = CompactJws::parse(jwt).map_err(|e| match e {
        jose::Error::HeaderJwk(JwkError::PrivateMaterial) => ProofError::PrivateKey,
        other => ProofError::Jws(other),
    })?;
    let header = jws.header();
    if header.typ() != Some(PROOF_TYP) {
        return Err(ProofError::Typ);
    }
    if !policy.algorithms.contains(&header.alg()) {
        return Err(ProofError::AlgorithmNotAllowed(header.alg()));
    }
    let named = ["kid", "jwk", "x5c"]
        .into_iter()
        .filter(|n| header.get(n).is_some())
        .count();
    if named != 1 {
        return Err(ProofError::KeyReference);
    }
    if header.get("kid").is_some() {
        return Err(ProofError::UnsupportedKeyReference("kid"));
    }
    if header.get("x5c").is_some() {
        return Err(ProofError::UnsupportedKeyReference("x5c"));
    }
    let key = header.jwk().ok_or(ProofError::KeyReference)?.bare();
    let verifying_key = VerifyingKey::from_jwk(&key).map_err(ProofError::Key)?;
    let jws_policy = JwsPolicy::new(policy.algorithms).with_typ(&[PROOF_TYP]);
    let verified = jws
        .verify(&verifying_key, &jws_policy)
        .map_err(ProofError::Jws)?;
    let claims = verified.claims().map_err(ProofError::Jws)?;
    audience_matches(&claims, policy.audience)?;
    let rules = TimeRules {
        skew: policy.skew,
        require_exp: false,
        require_iat: true,
        max_age: Some(policy.max_age),
    };
    check_time(&claims, clock, &rules).map_err(|e| match e {
        ClaimError::Missing(n) | ClaimError::WrongType(n) => ProofError::Claim(n),
        other => ProofError::Time(other),
    })?;
    let iat = numeric_date(&claims, "iat")
        .map_err(|_| ProofError::Claim("iat"))?
        .ok_or(ProofError::Claim("iat"))?;
    match (claims.get("iss"), policy.client_id) {
        (None, _) => {}
        (Some(Value::String(iss)), Some(client_id)) if iss == client_id => {}
        (Some(Value::String(_)), _) => return Err(ProofError::Issuer),
        (Some(_), _) => return Err(ProofError::Claim("iss")),
    }
    let nonce = match claims.get("nonce") {
        None => None,
        Some(Value::String(n)) if !n.is_empty() => Some(n.clone()),
        Some(_) => return Err(ProofError::Claim("nonce")),
    };
    if policy.require_nonce && nonce.is_none() {
        return Err(ProofError::MissingNonce);
    }
    Ok(VerifiedProof {
        key,
        verifying_key,
        nonce,
        iat,
    })
}

/// The claims of a proof JWT, as a wallet writes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofClaims {
    /// The Credential Issuer Identifier.
    pub aud: String,
    /// Issued-at.
    pub iat: i64,
    /// The `c_nonce` from the nonce endpoint.
    pub nonce: Option<String>,
    /// The client_id; omit it for anonymous pre-authorized access.
    pub iss: Option<String>,
}

impl ProofClaims {
    /// Signs the proof with the holder key; the header carries `typ`, `alg` and the
    /// holder's public key as `jwk`.
    pub fn sign(&self, holder: &dyn Signer) -> Result<String, SignError> {
        let mut m = Map::new();
        if let Some(iss) = &self.iss {
            m.insert("iss".into(), iss.clone().into());
        }
        m.insert("aud".into(), self.aud.clone().into());
        m.insert("iat".into(), self.iat.into());
        if let Some(n) = &self.nonce {
            m.insert("nonce".into(), n.clone().into());
        }
        HeaderBuilder::new()
            .typ(PROOF_TYP)
            .jwk(&holder.public_jwk().bare())
            .sign(Value::Object(m).to_string().as_bytes(), holder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jose::{FixedClock, SoftwareSigner, b64};

    const AUD: &str = "https://credential-issuer.example.com";
    const NOW: i64 = 1_701_960_444;

    fn policy() -> ProofPolicy<'static> {
        ProofPolicy {
            audience: AUD,
            algorithms: &[Algorithm::Es256],
            max_age: 300,
            skew: 60,
            client_id: Some("wallet"),
            require_nonce: true,
        }
    }

    fn claims() -> ProofClaims {
        ProofClaims {
            aud: AUD.into(),
            iat: NOW,
            nonce: Some("LarRGSbmUPYtRYO6BQ4yn8".into()),
            iss: None,
        }
    }

    fn holder() -> SoftwareSigner {
        SoftwareSigner::generate(Algorithm::Es256).unwrap()
    }

    /// Signs an arbitrary header and payload with `signer`.
    fn raw(header: Value, payload: Value, signer: &SoftwareSigner) -> String {
        let input = format!(
            "{}.{}",
            b64::encode(header.to_string()),
            b64::encode(payload.to_string())
        );
        let sig = signer.sign(input.as_bytes()).unwrap();
        jose::jws::attach_signature(input, &sig)
    }

    #[test]
    fn oid4vci_f_1_proof_verifies_and_yields_the_key() {
        let h = holder();
        let jwt = claims().sign(&h).unwrap();
        let v = verify_proof(&jwt, &policy(), &FixedClock(NOW + 5)).unwrap();
        assert!(v.key.same_key(h.public_jwk()));
        assert_eq!(v.nonce.as_deref(), Some("LarRGSbmUPYtRYO6BQ4yn8"));
        assert_eq!(v.iat, NOW);
    }

    #[test]
    fn rejects_proof_with_wrong_typ() {
        let h = holder();
        let jwt = raw(
            serde_json::json!({"typ":"JWT","alg":"ES256","jwk":h.public_jwk().to_value()}),
            serde_json::json!({"aud":AUD,"iat":NOW,"nonce":"n"}),
            &h,
        );
        assert!(matches!(
            verify_proof(&jwt, &policy(), &FixedClock(NOW)),
            Err(ProofError::Typ)
        ));
    }

    #[test]
    fn rejects_proof_with_algorithm_outside_allow_list() {
        let h = SoftwareSigner::generate(Algorithm::Es384).unwrap();
        let jwt = claims().sign(&h).unwrap();
        assert!(matches!(
            verify_proof(&jwt, &policy(), &FixedClock(NOW)),
            Err(ProofError::AlgorithmNotAllowed(Algorithm::Es384))
        ));
    }

    #[test]
    fn rejects_proof_naming_its_key_twice_or_not_at_all() {
        let h = holder();
        let payload = serde_json::json!({"aud":AUD,"iat":NOW,"nonce":"n"});
        let both = raw(
            serde_json::json!({"typ":PROOF_TYP,"alg":"ES256","jwk":h.public_jwk().to_value(),"kid":"k"}),
            payload.clone(),
            &h,
        );
        assert!(matches!(
            verify_proof(&both, &policy(), &FixedClock(NOW)),
            Err(ProofError::KeyReference)
        ));
        let none = raw(
            serde_json::json!({"typ":PROOF_TYP,"alg":"ES256"}),
            payload.clone(),
            &h,
        );
        assert!(matches!(
            verify_proof(&none, &policy(), &FixedClock(NOW)),
            Err(ProofError::KeyReference)
        ));
        let kid = raw(
            serde_json::json!({"typ":PROOF_TYP,"alg":"ES256","kid":"did:example:1#k"}),
            payload,
            &h,
        );
        assert!(matches!(
            verify_proof(&kid, &policy(), &FixedClock(NOW)),
            Err(ProofError::UnsupportedKeyReference("kid"))
        ));
    }

    #[test]
    fn rejects_proof_carrying_a_private_key() {
        let h = holder();
        let private: Value = serde_json::from_str(&h.to_private_jwk().unwrap().to_json()).unwrap();
        let jwt = raw(
            serde_json::json!({"typ":PROOF_TYP,"alg":"ES256","jwk":private}),
            serde_json::json!({"aud":AUD,"iat":NOW,"nonce":"n"}),
            &h,
        );
        assert!(matches!(
            verify_proof(&jwt, &policy(), &FixedClock(NOW)),
            Err(ProofError::PrivateKey)
        ));
    }

    #[test]
    fn rejects_proof_signed_by_another_key() {
        let h = holder();
        let other = holder();
        let jwt = raw(
            serde_json::json!({"typ":PROOF_TYP,"alg":"ES256","jwk":h.public_jwk().to_value()}),
            serde_json::json!({"aud":AUD,"iat":NOW,"nonce":"n"}),
            &other,
        );
        assert!(matches!(
            verify_proof(&jwt, &policy(), &FixedClock(NOW)),
            Err(ProofError::Jws(jose::Error::InvalidSignature))
        ));
    }

    #[test]
    fn rejects_proof_for_another_audience() {
        let mut c = claims();
        c.aud = "https://evil.example".into();
        let jwt = c.sign(&holder()).unwrap();
        assert!(matches!(
            verify_proof(&jwt, &policy(), &FixedClock(NOW)),
            Err(ProofError::Audience)
        ));
    }

    #[test]
    fn rejects_proof_outside_the_iat_window() {
        let jwt = claims().sign(&holder()).unwrap();
        assert!(matches!(
            verify_proof(&jwt, &policy(), &FixedClock(NOW + 301 + 60)),
            Err(ProofError::Time(ClaimError::TooOld { .. }))
        ));
        assert!(matches!(
            verify_proof(&jwt, &policy(), &FixedClock(NOW - 61)),
            Err(ProofError::Time(ClaimError::IssuedInFuture { .. }))
        ));
    }

    #[test]
    fn rejects_proof_without_nonce_when_required() {
        let mut c = claims();
        c.nonce = None;
        let jwt = c.sign(&holder()).unwrap();
        let e = verify_proof(&jwt, &policy(), &FixedClock(NOW)).unwrap_err();
        assert!(matches!(e, ProofError::MissingNonce));
        assert_eq!(e.code(), ErrorCode::InvalidProof);
        let lenient = ProofPolicy {
            require_nonce: false,
            ..policy()
        };
        assert!(verify_proof(&jwt, &lenient, &FixedClock(NOW)).is_ok());
    }

    #[test]
    fn rejects_proof_iss_for_anonymous_access_or_other_client() {
        let mut c = claims();
        c.iss = Some("wallet".into());
        let jwt = c.sign(&holder()).unwrap();
        assert!(verify_proof(&jwt, &policy(), &FixedClock(NOW)).is_ok());
        let anonymous = ProofPolicy {
            client_id: None,
            ..policy()
        };
        assert!(matches!(
            verify_proof(&jwt, &anonymous, &FixedClock(NOW)),
            Err(ProofError::Issuer)
        ));
        c.iss = Some("other".into());
        let jwt = c.sign(&holder()).unwrap();
        assert!(matches!(
            verify_proof(&jwt, &policy(), &FixedClock(NOW)),
            Err(ProofError::Issuer)
        ));
    }
}
