//! The two steps of obtaining an attestation, without HTTP: issuing a challenge, and
//! turning an attestation request into a signed client-attestation JWT.
//!
//! The order of checks is chosen so that a refused request changes no state it should not:
//!
//! 1. parse the request (nothing touched);
//! 2. authenticate the caller from its evidence (TokenReview; nothing stored);
//! 3. count the call against the caller's rate limit (the only state a refused, but
//!    authenticated, caller changes);
//! 4. verify the proof of possession with `ci_jwk`, then consume the challenge (a bad
//!    proof leaves the challenge usable);
//! 5. append the audit record and wait for the commit;
//! 6. sign with the A-Key (off the async executor: PKCS#11 calls block).
//!
//! If step 5 fails nothing is signed; if step 6 fails the record stays (it says the
//! attester authorized and attempted that signature) and the caller gets `500`.

use client_attestation::AttestationClaims;
use client_attestation::proof::{ProofRules, verify_challenge_response};
use serde_json::Map;
use store::{InsertOutcome, RateDecision};

/// The request body and its parser, shared with the fuzz target: they do no I/O, so they
/// live in `client_attestation::request`.
pub use client_attestation::request::{AttestationRequest, MAX_CLIENT_ID};

use crate::audit::AuditEntry;
use crate::error::AttestError;
use crate::evidence::{Evidence, Identity};
use crate::state::State;
use jose::random;

/// Single-use namespace of challenges.
pub const CHALLENGE_NAMESPACE: &str = "attester_challenge";
/// Rate-limit namespace of attestation requests.
pub const RATE_NAMESPACE: &str = "attester_attestation";
/// Random bytes in a challenge.
const CHALLENGE_BYTES: usize = 32;
/// Random bytes in a `jti`.
const JTI_BYTES: usize = 16;

/// A fresh challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The value to sign.
    pub value: String,
    /// Its lifetime in seconds.
    pub expires_in: u64,
}

/// Issues a fresh, single-use challenge.
pub async fn challenge(state: &State) -> Result<Challenge, AttestError> {
    let value = random::token(&*state.random, CHALLENGE_BYTES)?;
    let ttl = state.settings.challenge_ttl;
    match state
        .single_use
        .put(CHALLENGE_NAMESPACE, value.as_bytes(), b"", ttl)
        .await?
    {
        InsertOutcome::Inserted => Ok(Challenge {
            value,
            expires_in: ttl.as_secs(),
        }),
        // 256 random bits colliding with a live challenge means the generator is broken.
        InsertOutcome::AlreadyPresent => Err(random::RandomError.into()),
    }
}

/// A signed attestation.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The client-attestation JWT.
    pub jwt: String,
    /// Its `exp`.
    pub exp: i64,
    /// Its lifetime in seconds.
    pub expires_in: u64,
    /// Its `jti`.
    pub jti: String,
    /// Its audit record number.
    pub audit_seq: i64,
}

async fn authenticate(state: &State, evidence: &Evidence) -> Result<Identity, AttestError> {
    match evidence {
        Evidence::Kubernetes { token } => match &state.kubernetes {
            Some(reviewer) => reviewer.review(token).await,
            None => Err(AttestError::EvidenceDisabled("kubernetes")),
        },
        Evidence::Dev if state.settings.dev_evidence => Ok(Identity::dev()),
        Evidence::Dev => Err(AttestError::EvidenceDisabled("dev")),
        Evidence::Tpm => Err(AttestError::EvidenceDisabled("tpm")),
    }
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Handles an attestation request body end to end (see the module documentation).
pub async fn attest(state: &State, body: &[u8]) -> Result<Issued, AttestError> {
    let request = AttestationRequest::parse(body)?;
    let evidence_kind = request.evidence.kind();
    let identity = authenticate(state, &request.evidence).await?;

    let limit = state.settings.rate_limit;
    if let RateDecision::Limited { retry_after } = state
        .rate_limiter
        .check(
            RATE_NAMESPACE,
            identity.rate_key().as_bytes(),
            limit.requests,
            limit.window,
        )
        .await?
    {
        return Err(AttestError::RateLimited { retry_after });
    }

    let now = state.clock.now();
    let rules = ProofRules {
        audience: &state.settings.identifier,
        client_id: &request.client_id,
        now,
        max_age: state.settings.challenge_ttl.as_secs(),
        skew: state.settings.clock_skew.as_secs(),
    };
    let proof = verify_challenge_response(
        &request.challenge_response,
        &request.ci_jwk,
        request.ci_key(),
        &rules,
    )?;
    if state
        .single_use
        .take(CHALLENGE_NAMESPACE, proof.challenge().as_bytes())
        .await?
        .is_none()
    {
        return Err(AttestError::ChallengeUnknown);
    }

    let jti = random::token(&*state.random, JTI_BYTES)?;
    let ttl = state.settings.attestation_ttl;
    let exp = now.saturating_add(secs(ttl));
    let akey = std::sync::Arc::clone(&state.akey);
    let entry = AuditEntry {
        time: now,
        identity: identity.subject.clone(),
        evidence: evidence_kind,
        pod: identity.pod_name.clone(),
        client_id: request.client_id.clone(),
        ci_thumbprint: request.ci_jwk.thumbprint(),
        jti: jti.clone(),
        kid: akey.kid().to_owned(),
        exp,
    };
    let record = state.audit.append(entry).await?;

    let claims = AttestationClaims {
        issuer: Some(state.settings.identifier.clone()),
        client_id: request.client_id,
        iat: now,
        exp,
        cnf: request.ci_jwk,
        jti: Some(jti.clone()),
        environment: Some(identity.environment(akey.protection())),
        extra: Map::new(),
    };
    let jwt = tokio::task::spawn_blocking(move || akey.sign(&claims))
        .await
        .map_err(|e| {
            AttestError::Sign(jose::SignError::Backend {
                backend: "signing task",
                source: Box::new(e),
            })
        })?
        .map_err(AttestError::Sign)?;
    metrics::counter!("attester_attestations_total", "evidence" => evidence_kind.as_str())
        .increment(1);
    tracing::debug!(
        seq = record.seq,
        jti,
        client_id = record.entry.client_id,
        identity = record.entry.identity,
        "attestation signed"
    );
    Ok(Issued {
        jwt,
        exp,
        expires_in: ttl.as_secs(),
        jti,
        audit_seq: record.seq,
    })
}
