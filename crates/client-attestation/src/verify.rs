//! Verification of a Client Attestation + PoP pair at an authorization server.

use crate::AttestationError;
use jose::jwt::{TimeRules, check_time, numeric_date};
use jose::{Algorithm, ClaimError, Clock, CompactJws, JwsPolicy, PublicJwk, VerifyingKey};
use serde_json::{Map, Value};

/// An attester this server trusts: its identifier (when its attestations carry `iss`) and
/// its public keys.
#[derive(Clone, Debug)]
pub struct TrustedAttester {
    /// Expected `iss`; `None` accepts attestations without `iss` (draft -10) or with any.
    pub issuer: Option<String>,
    /// The attester's signature keys (selected by `kid` when the attestation names one).
    pub keys: Vec<VerifyingKey>,
}

/// Verifies attestation + PoP pairs for one authorization server.
#[derive(Clone, Debug)]
pub struct AttestationVerifier {
    /// This server's issuer identifier: the PoP `aud` must name it.
    pub audience: String,
    /// Accepted attestation signature algorithms.
    pub attestation_algorithms: Vec<Algorithm>,
    /// Accepted PoP signature algorithms.
    pub pop_algorithms: Vec<Algorithm>,
    /// Clock skew tolerated, in seconds.
    pub skew: u64,
    /// Maximum PoP age (`iat`), in seconds.
    pub pop_max_age: u64,
    /// Trusted attesters.
    pub attesters: Vec<TrustedAttester>,
}

/// A verified attestation with its PoP: the [`VerifiedAttestation`] (who the client is,
/// its instance key) and what the caller must still check against its own state (PoP
/// `jti` replay, challenge consumption).
///
/// Only [`AttestationVerifier::verify`] and [`AttestationVerifier::verify_pop`] make one
/// (its fields are private), so holding one means the attestation's signature by a trusted
/// attester, its time claims and the PoP were all checked. The attestation's accessors are
/// repeated here so callers need not reach through [`Self::attestation`].
///
/// ```compile_fail
/// # fn forge(attestation: client_attestation::VerifiedAttestation) {
/// let forged = client_attestation::VerifiedClientAttestation {
///     attestation,
///     pop_jti: "j".to_owned(),
///     pop_iat: 0,
///     challenge: None,
/// };
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct VerifiedClientAttestation {
    attestation: VerifiedAttestation,
    pop_jti: String,
    pop_iat: i64,
    challenge: Option<String>,
}

impl VerifiedClientAttestation {
    /// The verified attestation the PoP was checked against.
    pub fn attestation(&self) -> &VerifiedAttestation {
        &self.attestation
    }

    /// The client_id (`sub`).
    pub fn client_id(&self) -> &str {
        self.attestation.client_id()
    }

    /// The attester's `iss`, when present.
    pub fn attester(&self) -> Option<&str> {
        self.attestation.attester()
    }

    /// Index in [`AttestationVerifier::attesters`] of the attester whose key verified it:
    /// which trust entry, and so which policy, applies.
    pub fn trusted_by(&self) -> usize {
        self.attestation.trusted_by()
    }

    /// The client instance key.
    pub fn cnf(&self) -> &PublicJwk {
        self.attestation.cnf()
    }

    /// The client instance key, keeping nothing else.
    pub fn into_cnf(self) -> PublicJwk {
        self.attestation.cnf
    }

    /// All attestation claims.
    pub fn claims(&self) -> &Map<String, Value> {
        self.attestation.claims()
    }

    /// Attestation expiry.
    pub fn exp(&self) -> i64 {
        self.attestation.exp()
    }

    /// PoP `jti`: the caller must insert it into its replay cache and refuse a repeat.
    pub fn pop_jti(&self) -> &str {
        &self.pop_jti
    }

    /// PoP `iat`.
    pub fn pop_iat(&self) -> i64 {
        self.pop_iat
    }

    /// PoP `challenge`: the caller must consume it when it issued challenges.
    pub fn challenge(&self) -> Option<&str> {
        self.challenge.as_deref()
    }
}

/// A verified Client Attestation JWT, without PoP: step one of [`AttestationVerifier::verify`].
///
/// A server may keep it (keyed by the attestation's bytes) and check each new PoP against it
/// with [`AttestationVerifier::verify_pop`], which re-checks the attestation's expiry: a
/// wallet instance presents the same attestation many times until it nears expiry, and its
/// signature does not need checking again. Only [`AttestationVerifier::verify_attestation`]
/// makes one (its fields are private), so a PoP is never checked against a key that did not
/// come out of a verified attestation.
///
/// ```compile_fail
/// # fn forge(
/// #     claims: serde_json::Map<String, serde_json::Value>,
/// #     cnf: jose::PublicJwk,
/// #     cnf_key: jose::VerifyingKey,
/// # ) {
/// let forged = client_attestation::VerifiedAttestation {
///     client_id: "anyone".to_owned(),
///     attester: None,
///     trusted_by: 0,
///     cnf,
///     cnf_key,
///     claims,
///     exp: i64::MAX,
/// };
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct VerifiedAttestation {
    client_id: String,
    attester: Option<String>,
    trusted_by: usize,
    cnf: PublicJwk,
    /// `cnf`, parsed for verification.
    cnf_key: VerifyingKey,
    claims: Map<String, Value>,
    exp: i64,
}

impl VerifiedAttestation {
    /// The client_id (`sub`).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The attester's `iss`, when present.
    pub fn attester(&self) -> Option<&str> {
        self.attester.as_deref()
    }

    /// Index in [`AttestationVerifier::attesters`] of the attester whose key verified it:
    /// which trust entry, and so which policy, applies.
    pub fn trusted_by(&self) -> usize {
        self.trusted_by
    }

    /// The client instance key.
    pub fn cnf(&self) -> &PublicJwk {
        &self.cnf
    }

    /// All attestation claims.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// Attestation expiry.
    pub fn exp(&self) -> i64 {
        self.exp
    }
}

/// A `kid` from the request as it may appear in a message and the log: escaped (no line
/// breaks or quotes from the sender) and bounded.
fn shown(kid: &str) -> String {
    jose::escape_input(kid)
}

fn attestation_time(e: ClaimError) -> AttestationError {
    match e {
        ClaimError::Missing(n) | ClaimError::WrongType(n) => AttestationError::AttestationClaim(n),
        other => AttestationError::AttestationTime(other),
    }
}

fn pop_time(e: ClaimError) -> AttestationError {
    match e {
        ClaimError::Missing(n) | ClaimError::WrongType(n) => AttestationError::PopClaim(n),
        other => AttestationError::PopTime(other),
    }
}

fn opt_str<'a>(
    m: &'a Map<String, Value>,
    name: &'static str,
    err: fn(&'static str) -> AttestationError,
) -> Result<Option<&'a str>, AttestationError> {
    match m.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(err(name)),
    }
}

impl AttestationVerifier {
    /// The trusted keys that may have signed an attestation with this `iss` and `kid`, with
    /// the index of their attester, or why there are none. A key without a `kid` (e.g. the
    /// leaf key of an `x5c` chain) is a candidate whatever `kid` the attestation names.
    fn candidate_keys<'a>(
        &'a self,
        iss: Option<&str>,
        kid: Option<&str>,
    ) -> Result<Vec<(usize, &'a VerifyingKey)>, AttestationError> {
        let named: Vec<(usize, &TrustedAttester, &VerifyingKey)> = self
            .attesters
            .iter()
            .enumerate()
            .flat_map(|(i, a)| a.keys.iter().map(move |k| (i, a, k)))
            .filter(|(_, _, k)| kid.is_none() || k.jwk().kid().is_none() || k.jwk().kid() == kid)
            .collect();
        if let Some(kid) = kid
            && named.is_empty()
        {
            return Err(AttestationError::UnknownKid { kid: shown(kid) });
        }
        let keys: Vec<(usize, &VerifyingKey)> = named
            .iter()
            .filter(|(_, a, _)| match (&a.issuer, iss) {
                (Some(expected), Some(iss)) => expected == iss,
                _ => true,
            })
            .map(|(i, _, k)| (*i, *k))
            .collect();
        if keys.is_empty() && !named.is_empty() {
            return Err(AttestationError::UntrustedAttester {
                iss: iss.map(str::to_owned),
                kid: kid.map(str::to_owned),
            });
        }
        Ok(keys)
    }

    /// Why no candidate key verified `jws`: a key it names by `kid` is trusted, so the
    /// signature is bad; it names an unknown `kid`; or it names none and is signed by an
    /// untrusted key — proven when the `jwk` in its own header verifies it.
    fn no_key_verified(
        jws: &CompactJws,
        policy: &JwsPolicy<'_>,
        keys: &[(usize, &VerifyingKey)],
    ) -> AttestationError {
        if let Some(kid) = jws.header().kid() {
            return if keys.iter().any(|(_, k)| k.jwk().kid() == Some(kid)) {
                AttestationError::BadSignature { kid: shown(kid) }
            } else {
                AttestationError::UnknownKid { kid: shown(kid) }
            };
        }
        let thumbprint = jws.header().jwk().and_then(|jwk| {
            let key = VerifyingKey::from_jwk(jwk).ok()?;
            jws.clone().verify(&key, policy).ok()?;
            Some(jwk.thumbprint())
        });
        AttestationError::UntrustedKey {
            tried: keys.len(),
            thumbprint,
        }
    }

    /// Verifies the `OAuth-Client-Attestation` and `OAuth-Client-Attestation-PoP` values;
    /// `client_id` is the request's `client_id` parameter when it sent one.
    pub fn verify(
        &self,
        attestation: &str,
        pop: &str,
        client_id: Option<&str>,
        clock: &dyn Clock,
    ) -> Result<VerifiedClientAttestation, AttestationError> {
        let verified = self.verify_attestation(attestation, clock)?;
        self.verify_pop(&verified, pop, client_id, clock)
    }

    /// Step one of [`AttestationVerifier::verify`]: the attestation alone, signed by a
    /// trusted attester, with its `sub`, time claims and `cnf`.
    pub fn verify_attestation(
        &self,
        attestation: &str,
        clock: &dyn Clock,
    ) -> Result<VerifiedAttestation, AttestationError> {
        let jws = CompactJws::parse(attestation).map_err(AttestationError::Attestation)?;
        let policy =
            JwsPolicy::new(&self.attestation_algorithms).with_typ(&[crate::ATTESTATION_TYP]);
        jws.header()
            .check(&policy)
            .map_err(AttestationError::Attestation)?;
        let unverified = jws
            .claims_unverified()
            .map_err(AttestationError::Attestation)?;
        let iss = opt_str(&unverified, "iss", AttestationError::AttestationClaim)?;
        let keys = self.candidate_keys(iss, jws.header().kid())?;
        let (trusted_by, verified) = keys
            .iter()
            .find_map(|(i, key)| jws.clone().verify(key, &policy).ok().map(|v| (*i, v)))
            .ok_or_else(|| Self::no_key_verified(&jws, &policy, &keys))?;
        let claims = verified.claims().map_err(AttestationError::Attestation)?;

        let sub = match claims.get("sub") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(AttestationError::AttestationClaim("sub")),
        };
        let rules = TimeRules {
            skew: self.skew,
            require_exp: true,
            require_iat: false,
            max_age: None,
        };
        check_time(&claims, clock, &rules).map_err(attestation_time)?;
        let exp = numeric_date(&claims, "exp")
            .map_err(attestation_time)?
            .unwrap_or_default();
        let cnf = claims
            .get("cnf")
            .and_then(Value::as_object)
            .and_then(|c| c.get("jwk"))
            .ok_or(AttestationError::AttestationClaim("cnf"))?;
        let cnf = PublicJwk::from_value(cnf).map_err(AttestationError::Cnf)?;
        let cnf_key = VerifyingKey::from_jwk(&cnf).map_err(AttestationError::Cnf)?;
        Ok(VerifiedAttestation {
            client_id: sub,
            attester: iss.map(str::to_owned),
            trusted_by,
            cnf,
            cnf_key,
            claims,
            exp,
        })
    }

    /// Step two of [`AttestationVerifier::verify`]: a PoP signed by the attestation's `cnf`
    /// key, for this server, fresh; the attestation must still be unexpired at `clock`.
    pub fn verify_pop(
        &self,
        attestation: &VerifiedAttestation,
        pop: &str,
        client_id: Option<&str>,
        clock: &dyn Clock,
    ) -> Result<VerifiedClientAttestation, AttestationError> {
        let skew = i64::try_from(self.skew).unwrap_or(i64::MAX);
        let now = clock.now();
        if now >= attestation.exp.saturating_add(skew) {
            return Err(AttestationError::AttestationTime(ClaimError::Expired {
                exp: attestation.exp,
                now,
            }));
        }
        let sub = &attestation.client_id;
        let pop_policy = JwsPolicy::new(&self.pop_algorithms).with_typ(&[crate::POP_TYP]);
        let pop = CompactJws::parse(pop)
            .and_then(|p| p.verify(&attestation.cnf_key, &pop_policy))
            .map_err(AttestationError::Pop)?;
        let pop_claims = pop.claims().map_err(AttestationError::Pop)?;
        match pop_claims.get("aud") {
            Some(Value::String(a)) if *a == self.audience => {}
            Some(Value::Array(a))
                if a.len() == 1 && a.first().and_then(Value::as_str) == Some(&self.audience) => {}
            Some(Value::String(_) | Value::Array(_)) => {
                return Err(AttestationError::AudienceMismatch);
            }
            _ => return Err(AttestationError::PopClaim("aud")),
        }
        let pop_jti = match pop_claims.get("jti") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(AttestationError::PopClaim("jti")),
        };
        let pop_rules = TimeRules {
            skew: self.skew,
            require_exp: false,
            require_iat: true,
            max_age: Some(self.pop_max_age),
        };
        check_time(&pop_claims, clock, &pop_rules).map_err(pop_time)?;
        let pop_iat = numeric_date(&pop_claims, "iat")
            .map_err(pop_time)?
            .unwrap_or_default();
        // Draft -07: the PoP names the client in `iss`.
        if let Some(pop_iss) = opt_str(&pop_claims, "iss", AttestationError::PopClaim)?
            && pop_iss != sub
        {
            return Err(AttestationError::PopIssuerMismatch);
        }
        let challenge =
            opt_str(&pop_claims, "challenge", AttestationError::PopClaim)?.map(str::to_owned);
        if let Some(cid) = client_id
            && cid != sub
        {
            return Err(AttestationError::ClientIdMismatch);
        }
        Ok(VerifiedClientAttestation {
            attestation: attestation.clone(),
            pop_jti,
            pop_iat,
            challenge,
        })
    }
}
