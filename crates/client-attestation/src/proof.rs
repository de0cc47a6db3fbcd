//! The proof of possession of the CI-Key in an attestation request: the caller signs the
//! attester's fresh challenge with the key it wants attested, so nobody obtains an
//! attestation for a key they do not hold.
//!
//! The wallet signs ([`sign_challenge_response`], used by the attestation client in the
//! wallet core) and the attester verifies ([`verify_challenge_response`]); both live here,
//! beside the other attestation JWTs, so the wallet needs nothing of the attester service.
//!
//! Form (documented in `docs/attester.md`): a compact JWS
//!
//! ```text
//! header  {"alg": <the CI-Key's algorithm>, "typ": "symbolon-attestation-challenge+jwt"}
//! payload {"challenge": <from POST /v1/challenge>, "aud": <attester identifier>,
//!          "sub": <client_id>, "iat": <now>}
//! ```
//!
//! signed with the private key of `ci_jwk`. The header carries no key: the attester
//! verifies with `ci_jwk` from the request body and nothing else. `aud` keeps a response
//! made for one attester from being used at another; `sub` binds the proof to the
//! `client_id` the attestation will name. The challenge itself is consumed (single use)
//! only after the signature and claims check out, so a bad proof changes no state.

use jose::jwt::{TimeRules, check_time};
use jose::{CompactJws, HeaderBuilder, JwsPolicy, PublicJwk, SignError, Signer, VerifyingKey};
use serde_json::{Map, Value};

/// Why the proof of possession (`challenge_response`) was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// Not a compact JWS of type `symbolon-attestation-challenge+jwt` signed by `ci_jwk`
    /// with its algorithm.
    #[error("challenge_response: {0}")]
    Jws(jose::Error),
    /// A claim is missing or has the wrong type.
    #[error("challenge_response claim `{0}` is missing or malformed")]
    Claim(&'static str),
    /// `aud` does not name this attester.
    #[error("challenge_response `aud` does not name this attester")]
    Audience,
    /// `sub` differs from the request's `client_id`.
    #[error("challenge_response `sub` differs from `client_id`")]
    Subject,
    /// `iat` is too old or in the future.
    #[error("challenge_response is not fresh: {0}")]
    Time(jose::ClaimError),
}

/// `typ` of a challenge response.
pub const CHALLENGE_RESPONSE_TYP: &str = "symbolon-attestation-challenge+jwt";

/// Builds a challenge response (the wallet side).
pub fn sign_challenge_response(
    ci_key: &dyn Signer,
    challenge: &str,
    attester: &str,
    client_id: &str,
    iat: i64,
) -> Result<String, SignError> {
    let mut claims = Map::new();
    claims.insert("challenge".into(), challenge.into());
    claims.insert("aud".into(), attester.into());
    claims.insert("sub".into(), client_id.into());
    claims.insert("iat".into(), iat.into());
    HeaderBuilder::new()
        .typ(CHALLENGE_RESPONSE_TYP)
        .sign(Value::Object(claims).to_string().as_bytes(), ci_key)
}

/// What a verified challenge response says.
///
/// Only [`verify_challenge_response`] makes one (its field is private), so holding one
/// means the signature, `typ`, `aud`, `sub` and `iat` were checked: code that consumes the
/// challenge cannot be handed an unchecked value by mistake.
///
/// ```compile_fail
/// let forged = client_attestation::proof::VerifiedChallengeResponse {
///     challenge: "c".to_owned(),
/// };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedChallengeResponse {
    challenge: String,
}

impl VerifiedChallengeResponse {
    /// The challenge the caller signed (still to be consumed by the caller).
    pub fn challenge(&self) -> &str {
        &self.challenge
    }
}

/// What a challenge response is checked against.
#[derive(Debug, Clone, Copy)]
pub struct ProofRules<'a> {
    /// This attester's identifier (`aud`).
    pub audience: &'a str,
    /// The request's `client_id` (`sub`).
    pub client_id: &'a str,
    /// Now.
    pub now: i64,
    /// Oldest `iat` accepted, in seconds (the challenge lifetime).
    pub max_age: u64,
    /// Clock tolerance in seconds.
    pub skew: u64,
}

/// Verifies a challenge response with the CI-Key: signature (with the key's own algorithm
/// only), `typ`, `aud`, `sub`, `iat` freshness; returns the challenge.
pub fn verify_challenge_response(
    text: &str,
    ci_jwk: &PublicJwk,
    ci_key: &VerifyingKey,
    rules: &ProofRules<'_>,
) -> Result<VerifiedChallengeResponse, ProofError> {
    let algs = [ci_jwk.signing_algorithm()];
    let policy = JwsPolicy::new(&algs).with_typ(&[CHALLENGE_RESPONSE_TYP]);
    let verified = CompactJws::parse(text)
        .and_then(|jws| jws.verify(ci_key, &policy))
        .map_err(ProofError::Jws)?;
    let claims = verified.claims().map_err(ProofError::Jws)?;
    let challenge = match claims.get("challenge") {
        Some(Value::String(c)) if !c.is_empty() => c.clone(),
        _ => return Err(ProofError::Claim("challenge")),
    };
    match claims.get("aud") {
        Some(Value::String(a)) if a == rules.audience => {}
        Some(Value::Array(a))
            if a.len() == 1 && a.first().and_then(Value::as_str) == Some(rules.audience) => {}
        Some(Value::String(_) | Value::Array(_)) => return Err(ProofError::Audience),
        _ => return Err(ProofError::Claim("aud")),
    }
    match claims.get("sub") {
        Some(Value::String(s)) if s == rules.client_id => {}
        Some(Value::String(_)) => return Err(ProofError::Subject),
        _ => return Err(ProofError::Claim("sub")),
    }
    let time = TimeRules {
        skew: rules.skew,
        require_exp: false,
        require_iat: true,
        max_age: Some(rules.max_age),
    };
    check_time(&claims, &jose::FixedClock(rules.now), &time).map_err(|e| match e {
        jose::ClaimError::Missing(n) | jose::ClaimError::WrongType(n) => ProofError::Claim(n),
        other => ProofError::Time(other),
    })?;
    Ok(VerifiedChallengeResponse { challenge })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jose::{Algorithm, SoftwareSigner};

    const NOW: i64 = 1_800_000_000;

    fn rules() -> ProofRules<'static> {
        ProofRules {
            audience: "https://attester.example",
            client_id: "wallet-1",
            now: NOW,
            max_age: 120,
            skew: 30,
        }
    }

    fn check(text: &str, key: &SoftwareSigner) -> Result<VerifiedChallengeResponse, ProofError> {
        let jwk = key.public_jwk().clone();
        let vk = VerifyingKey::from_jwk(&jwk).unwrap();
        verify_challenge_response(text, &jwk, &vk, &rules())
    }

    #[test]
    fn round_trips_with_every_algorithm() {
        for alg in Algorithm::ALL {
            let key = SoftwareSigner::generate(alg).unwrap();
            let text =
                sign_challenge_response(&key, "c-1", "https://attester.example", "wallet-1", NOW)
                    .unwrap();
            assert_eq!(check(&text, &key).unwrap().challenge(), "c-1", "{alg:?}");
        }
    }

    #[test]
    fn rejects_a_response_signed_by_another_key() {
        let key = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let other = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let text =
            sign_challenge_response(&other, "c", "https://attester.example", "wallet-1", NOW)
                .unwrap();
        assert!(matches!(check(&text, &key), Err(ProofError::Jws(_))));
    }

    #[test]
    fn rejects_wrong_audience_subject_and_stale_iat() {
        let key = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let aud =
            sign_challenge_response(&key, "c", "https://other.example", "wallet-1", NOW).unwrap();
        assert!(matches!(check(&aud, &key), Err(ProofError::Audience)));
        let sub = sign_challenge_response(&key, "c", "https://attester.example", "wallet-2", NOW)
            .unwrap();
        assert!(matches!(check(&sub, &key), Err(ProofError::Subject)));
        let old =
            sign_challenge_response(&key, "c", "https://attester.example", "wallet-1", NOW - 600)
                .unwrap();
        assert!(matches!(check(&old, &key), Err(ProofError::Time(_))));
        let future =
            sign_challenge_response(&key, "c", "https://attester.example", "wallet-1", NOW + 600)
                .unwrap();
        assert!(matches!(check(&future, &key), Err(ProofError::Time(_))));
    }

    #[test]
    fn rejects_wrong_typ_and_missing_claims() {
        let key = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let wrong_typ = HeaderBuilder::new()
            .typ("JWT")
            .sign(br#"{"challenge":"c","aud":"https://attester.example","sub":"wallet-1","iat":1800000000}"#, &key)
            .unwrap();
        assert!(matches!(check(&wrong_typ, &key), Err(ProofError::Jws(_))));
        let no_challenge = HeaderBuilder::new()
            .typ(CHALLENGE_RESPONSE_TYP)
            .sign(
                br#"{"aud":"https://attester.example","sub":"wallet-1","iat":1800000000}"#,
                &key,
            )
            .unwrap();
        assert!(matches!(
            check(&no_challenge, &key),
            Err(ProofError::Claim("challenge"))
        ));
        let no_iat = HeaderBuilder::new()
            .typ(CHALLENGE_RESPONSE_TYP)
            .sign(
                br#"{"challenge":"c","aud":"https://attester.example","sub":"wallet-1"}"#,
                &key,
            )
            .unwrap();
        assert!(matches!(
            check(&no_iat, &key),
            Err(ProofError::Claim("iat"))
        ));
    }
}
