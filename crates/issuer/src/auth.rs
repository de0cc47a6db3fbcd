//! Who is calling: Attestation-Based Client Authentication at `/token` and the optional
//! binding of the access token to the client instance key at `/credential` and
//! `/notification`. (The admin API's bearer token is [`service::AdminCaller`].)
//!
//! **Client authentication** (`/token`, taken by the handler as
//! `caller::AttestedClient`): exactly one `OAuth-Client-Attestation` and one
//! `OAuth-Client-Attestation-PoP` header; the attestation signed by a trusted attester and
//! the PoP by its `cnf` key, checked by `client_attestation::AttestationVerifier` (drafts
//! -07 and -10 claim sets); the client_id allow-list and the environment policy; then the
//! replay checks — the PoP `jti` is recorded once, and a server-issued challenge (when
//! challenges are required) is consumed once — through the single-use store. The replay
//! checks run separately (`ClientAuth::commit`), after every signature, claim and policy
//! check, so a request refused by those leaves no trace; at `/token` they run before the
//! code is touched, so a replayed PoP cannot probe pre-authorized or transaction codes.
//!
//! **Token binding to the attestation** (`/credential`, `/notification`, part of
//! `caller::BoundGrant`), a stricter policy
//! than OpenID4VCI, off by default (`[issuer.attestation] bind_access_token`): the access
//! token records the SHA-256 thumbprint (RFC 7638) of the attestation's `cnf` key, and a
//! request presenting it must also carry the client attestation and a fresh PoP signed by
//! that same key, with `aud` = the issuer identifier and an unused `jti` — the same headers
//! as at `/token`. Standard OpenID4VCI 1.0 wallets send only the access token there, so
//! this policy shuts them out; sender-constrained tokens the standard way are DPoP (see
//! [`crate::dpop`]), which works with both.

use crate::error::{HandlerError, Reason, Rejection};
use crate::trust::Trust;
use axum::http::HeaderMap;
use client_attestation::{
    AttestationError, EnvironmentPolicy, VerifiedAttestation, VerifiedClientAttestation,
    WalletProviderPolicy,
};
use jose::{Clock, PublicJwk};
use oid4vci::ErrorCode;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use store::{InsertOutcome, SingleUse};

/// Namespace of PoP `jti`s in the single-use store.
pub(crate) const JTI_NAMESPACE: &str = "issuer.pop_jti";
/// Namespace of attestation challenges.
pub(crate) const CHALLENGE_NAMESPACE: &str = "issuer.attestation_challenge";

/// The policy over attestations beyond their signatures. Which part applies depends on
/// the trust entry whose key verified the attestation: the Symbolon attester's
/// (`environment`, `require_environment`, `client_ids`) or a wallet provider's own.
#[derive(Clone, Debug)]
pub struct ClientPolicy {
    /// Environment claims policy (Symbolon attester).
    pub environment: EnvironmentPolicy,
    /// Refuse attestations without an `environment` claim (Symbolon attester).
    pub require_environment: bool,
    /// Accepted client_ids (Symbolon attester); empty accepts any.
    pub client_ids: Vec<String>,
    /// Each third-party wallet provider's policy: trust entry `1 + i`.
    pub wallet_providers: Vec<WalletProviderPolicy>,
    /// Demand a server-issued challenge in each PoP at `/token`.
    pub require_challenge: bool,
    /// Challenge lifetime.
    pub challenge_ttl: Duration,
    /// How long a `jti` is remembered (PoP maximum age plus skew on both sides).
    pub jti_ttl: Duration,
}

/// Client authentication for one issuer.
#[derive(Debug)]
pub struct ClientAuth {
    pub(crate) trust: Trust,
    pub(crate) policy: ClientPolicy,
    pub(crate) single_use: Arc<dyn SingleUse>,
    pub(crate) random: Arc<dyn jose::random::Random>,
    pub(crate) verified: AttestationCache,
}

/// How long a verified attestation is reused before its signature, chain and policy are
/// checked again (bounded further by its own expiry).
const REVERIFY_AFTER: i64 = 600;

/// Attestations whose signature, claims and policy were verified, by SHA-256 of their bytes
/// as sent. A wallet instance presents the same attestation on every request until it nears
/// expiry; checking its signature once is enough. Entries are tied to the trust generation
/// (new attester keys empty the cache) and re-checked after [`REVERIFY_AFTER`] seconds; the
/// expiry of the attestation itself is checked on every use, and so is each PoP.
#[derive(Debug)]
pub(crate) struct AttestationCache {
    capacity: usize,
    entries: Mutex<HashMap<String, CachedAttestation>>,
}

#[derive(Clone, Debug)]
struct CachedAttestation {
    verified: Arc<VerifiedAttestation>,
    generation: u64,
    until: i64,
}

impl AttestationCache {
    pub(crate) fn new(capacity: usize) -> Self {
        AttestationCache {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, hash: &str, generation: u64, now: i64) -> Option<Arc<VerifiedAttestation>> {
        let entries = self.entries.lock().ok()?;
        let e = entries.get(hash)?;
        (e.generation == generation && now < e.until).then(|| Arc::clone(&e.verified))
    }

    fn insert(&self, hash: String, verified: Arc<VerifiedAttestation>, generation: u64, now: i64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= self.capacity {
            entries.retain(|_, e| e.generation == generation && now < e.until);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        let until = verified.exp().min(now.saturating_add(REVERIFY_AFTER));
        entries.insert(
            hash,
            CachedAttestation {
                verified,
                generation,
                until,
            },
        );
    }
}

/// A client whose attestation and PoP verified, before the replay checks.
#[derive(Debug)]
pub(crate) struct PendingClient {
    pub(crate) verified: VerifiedClientAttestation,
    /// SHA-256 of the attestation as sent (base64url).
    pub(crate) attestation_hash: String,
    /// RFC 7638 thumbprint of `cnf`.
    pub(crate) jkt: String,
}

fn single_header<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<&'h str, Rejection> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(v), None) => v.to_str().map(str::trim).map_err(|_| {
            Rejection::new(ErrorCode::InvalidClient, Reason::AttestationHeaderNotText)
                .describe(format!("`{name}` is not text"))
        }),
        (None, _) => Err(Rejection::new(
            ErrorCode::InvalidClient,
            Reason::AttestationHeaderMissing,
        )
        .describe(format!("client attestation is required: send `{name}`"))),
        (Some(_), Some(_)) => Err(Rejection::new(
            ErrorCode::InvalidClient,
            Reason::AttestationHeaderRepeated,
        )
        .describe(format!("`{name}` must appear exactly once"))),
    }
}

pub(crate) fn sha256_b64(bytes: &[u8]) -> String {
    jose::b64::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes))
}

impl ClientAuth {
    /// A fresh challenge, stored for one use.
    pub(crate) async fn new_challenge(&self) -> Result<String, HandlerError> {
        let challenge = jose::random::token(self.random.as_ref(), 24)?;
        let _stored = self
            .single_use
            .put(
                CHALLENGE_NAMESPACE,
                challenge.as_bytes(),
                b"1",
                self.policy.challenge_ttl,
            )
            .await?;
        Ok(challenge)
    }

    async fn challenge_rejection(&self, reason: Reason, description: &'static str) -> HandlerError {
        match self.new_challenge().await {
            Ok(c) => Rejection::new(ErrorCode::UseAttestationChallenge, reason)
                .describe(description)
                .with_challenge(c)
                .into(),
            Err(e) => e,
        }
    }

    /// Verifies the attestation headers (signatures, claims, policy), without touching the
    /// replay store.
    pub(crate) async fn verify(
        &self,
        headers: &HeaderMap,
        client_id: Option<&str>,
        clock: &dyn Clock,
    ) -> Result<PendingClient, HandlerError> {
        let attestation = single_header(headers, client_attestation::ATTESTATION_HEADER)?;
        let pop = single_header(headers, client_attestation::POP_HEADER)?;
        let now = clock.now();
        let attestation_hash = sha256_b64(attestation.as_bytes());
        let generation = self.trust.generation();
        let verifier = match self.trust.verifier_for(attestation, now) {
            None => return Err(crate::error::Failure::TrustNotLoaded.into()),
            Some(Err(e)) => {
                tracing::info!(reason = %e, "client attestation refused: x5c chain not trusted");
                return Err(Rejection::new(ErrorCode::InvalidClientAttestation, Reason::AttestationChainUntrusted)
                    .describe(format!(
                        "client attestation: untrusted certificate chain: no trusted anchor takes its x5c ({e})"
                    ))
                    .into());
            }
            Some(Ok(v)) => v,
        };
        let attested = match self.verified.get(&attestation_hash, generation, now) {
            Some(a) => a,
            None => {
                let a = verifier
                    .verify_attestation(attestation, clock)
                    .map_err(|e| self.reject(&e))?;
                self.check_policy(&a)?;
                let a = Arc::new(a);
                self.verified
                    .insert(attestation_hash.clone(), Arc::clone(&a), generation, now);
                a
            }
        };
        let verified = match verifier.verify_pop(&attested, pop, client_id, clock) {
            Ok(v) => v,
            Err(e @ (AttestationError::ChallengeRequired | AttestationError::ChallengeInvalid)) => {
                let (reason, text) = describe(&e);
                return Err(self.challenge_rejection(reason, text).await);
            }
            Err(e) => return Err(self.reject(&e)),
        };
        Ok(PendingClient {
            attestation_hash,
            jkt: verified.cnf().thumbprint(),
            verified,
        })
    }

    /// A `client_id` sent beside the attestation must be its `sub`; refused as
    /// [`client_attestation::AttestationVerifier::verify_pop`] refuses a mismatch (the last
    /// of its checks), for a request whose `client_id` is read after the headers.
    pub(crate) fn check_client_id(
        &self,
        client: &PendingClient,
        client_id: Option<&str>,
    ) -> Result<(), HandlerError> {
        match client_id {
            Some(cid) if cid != client.verified.client_id() => {
                Err(self.reject(&AttestationError::ClientIdMismatch))
            }
            _ => Ok(()),
        }
    }

    fn reject(&self, e: &AttestationError) -> HandlerError {
        let code = ErrorCode::from_name(e.oauth_error()).unwrap_or(ErrorCode::InvalidClient);
        // Which of untrusted key, unknown kid or bad signature (and every other reason) is
        // in the message, for the operator as for the client developer.
        tracing::info!(error = code.as_str(), reason = %e, "client attestation refused");
        Rejection::new(code, Reason::AttestationInvalid)
            .describe(e.to_string())
            .into()
    }

    /// The policy of the trust entry whose key verified the attestation: a wallet
    /// provider's own, or the Symbolon attester's client_id allow-list and environment
    /// policy.
    fn check_policy(&self, a: &VerifiedAttestation) -> Result<(), HandlerError> {
        if let Some(i) = a.trusted_by().checked_sub(1) {
            let name = self.trust.entry_name(a.trusted_by());
            let Some(policy) = self.policy.wallet_providers.get(i) else {
                return Err(Rejection::new(
                    ErrorCode::InvalidClientAttestation,
                    Reason::WalletProviderPolicyMissing,
                )
                .describe("no policy for this attester")
                .into());
            };
            return policy.evaluate(a.client_id(), a.claims()).map_err(|v| {
                tracing::info!(provider = name, reason = %v, "client attestation refused by wallet provider policy");
                Rejection::new(ErrorCode::InvalidClientAttestation, Reason::WalletProviderPolicyRefused)
                    .describe(format!(
                        "client attestation refused by the policy for wallet provider `{name}`: {v}"
                    ))
                    .into()
            });
        }
        if !self.policy.client_ids.is_empty()
            && !self.policy.client_ids.iter().any(|c| c == a.client_id())
        {
            return Err(
                Rejection::new(ErrorCode::InvalidClient, Reason::ClientIdNotAccepted)
                    .describe("this client_id is not accepted")
                    .into(),
            );
        }
        let has_environment = a.claims().contains_key("environment");
        if (self.policy.require_environment || has_environment)
            && let Err(v) = self.policy.environment.evaluate(a.claims())
        {
            return Err(Rejection::new(
                ErrorCode::InvalidClientAttestation,
                Reason::EnvironmentPolicyRefused,
            )
            .describe(format!("client attestation refused by policy: {v}"))
            .into());
        }
        if !self.policy.environment.attesters.is_empty() && !has_environment {
            let iss = a.attester().unwrap_or_default();
            if !self.policy.environment.attesters.iter().any(|x| x == iss) {
                return Err(Rejection::new(
                    ErrorCode::InvalidClientAttestation,
                    Reason::AttesterNotAccepted,
                )
                .describe("this attester is not accepted")
                .into());
            }
        }
        Ok(())
    }

    /// The replay checks: the challenge (when required, `with_challenge`) is consumed and the
    /// PoP `jti` recorded, each at most once across replicas.
    pub(crate) async fn commit(
        &self,
        client: &PendingClient,
        with_challenge: bool,
    ) -> Result<(), HandlerError> {
        if with_challenge && self.policy.require_challenge {
            let Some(challenge) = client.verified.challenge() else {
                return Err(self
                    .challenge_rejection(
                        Reason::AttestationChallengeMissing,
                        "this server requires an attestation challenge in the PoP",
                    )
                    .await);
            };
            if self
                .single_use
                .take(CHALLENGE_NAMESPACE, challenge.as_bytes())
                .await?
                .is_none()
            {
                return Err(self
                    .challenge_rejection(
                        Reason::AttestationChallengeUnknown,
                        "the attestation challenge is unknown, expired or used",
                    )
                    .await);
            }
        }
        match self
            .single_use
            .insert_once(
                JTI_NAMESPACE,
                client.verified.pop_jti().as_bytes(),
                self.policy.jti_ttl,
            )
            .await?
        {
            InsertOutcome::Inserted => Ok(()),
            InsertOutcome::AlreadyPresent => {
                Err(Rejection::new(ErrorCode::InvalidClient, Reason::PopReplay)
                    .describe("the client attestation PoP `jti` was already used")
                    .into())
            }
        }
    }

    /// Proves the caller holds the key an access token is bound to: a verified attestation
    /// and PoP whose `cnf` has thumbprint `jkt`, from the same client, with a fresh `jti`.
    pub(crate) async fn prove_binding(
        &self,
        headers: &HeaderMap,
        jkt: &str,
        client_id: &str,
        clock: &dyn Clock,
    ) -> Result<PublicJwk, HandlerError> {
        let client = match self.verify(headers, Some(client_id), clock).await {
            Ok(c) => c,
            Err(HandlerError::Rejected(r)) => {
                return Err(Rejection::new(ErrorCode::InvalidToken, Reason::BindingProofMissing)
                    .describe(format!(
                        "the access token is bound to a client instance key: send its attestation and a fresh PoP ({})",
                        r.code()
                    ))
                    .into());
            }
            Err(e) => return Err(e),
        };
        if client.jkt != jkt {
            return Err(
                Rejection::new(ErrorCode::InvalidToken, Reason::BindingKeyMismatch)
                    .describe("the PoP is signed by another key than the access token is bound to")
                    .into(),
            );
        }
        self.commit(&client, false).await.map_err(|e| match e {
            HandlerError::Rejected(_) => {
                Rejection::new(ErrorCode::InvalidToken, Reason::BindingPopReplay)
                    .describe("the PoP `jti` was already used")
                    .into()
            }
            other => other,
        })?;
        Ok(client.verified.into_cnf())
    }
}

fn describe(e: &AttestationError) -> (Reason, &'static str) {
    match e {
        AttestationError::ChallengeRequired => (
            Reason::AttestationChallengeMissing,
            "this server requires an attestation challenge in the PoP",
        ),
        _ => (
            Reason::AttestationChallengeUnknown,
            "the attestation challenge is unknown, expired or used",
        ),
    }
}
