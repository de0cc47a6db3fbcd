//! Why a request was refused, and the HTTP answer for each reason.
//!
//! Refusals are specific so a wallet (and its operator) can tell them apart:
//!
//! | status | `error` | meaning |
//! |---|---|---|
//! | 400 | `invalid_request` | the body is malformed (names the member) |
//! | 400 | `unsupported_evidence_type` | unknown evidence type, or one this attester does not accept |
//! | 400 | `invalid_proof` | `challenge_response` is not a valid proof of possession of `ci_jwk` |
//! | 400 | `invalid_challenge` | the challenge is unknown, expired or already used |
//! | 401 | `invalid_evidence` | the evidence does not authenticate anyone (TokenReview said no) |
//! | 403 | `access_denied` | authenticated, but this identity (or client address) is not admitted |
//! | 429 | `rate_limited` | too many attestations for this identity; `Retry-After` says when to retry |
//! | 503 | `temporarily_unavailable` | a dependency could not be reached: nothing was checked or signed |
//! | 500 | `server_error` | the A-Key failed to sign (details only in the log) |
//!
//! "Could not check" (503) is kept apart from "checked and refused" (4xx): an unreachable
//! Kubernetes API never turns into a 401, and a failing audit log never into a signature.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use service::ApiError;

use client_attestation::proof::ProofError;

use crate::audit::AuditError;
use crate::evidence::kubernetes::ReviewError;

/// Error codes of the attester API.
pub mod codes {
    /// The body is malformed.
    pub const INVALID_REQUEST: &str = "invalid_request";
    /// The evidence type is unknown or not accepted here.
    pub const UNSUPPORTED_EVIDENCE_TYPE: &str = "unsupported_evidence_type";
    /// The proof of possession of the CI-Key failed.
    pub const INVALID_PROOF: &str = "invalid_proof";
    /// The challenge is unknown, expired or used.
    pub const INVALID_CHALLENGE: &str = "invalid_challenge";
    /// The evidence authenticates no one.
    pub const INVALID_EVIDENCE: &str = "invalid_evidence";
    /// The identity or client address is not admitted.
    pub const ACCESS_DENIED: &str = "access_denied";
    /// Too many requests for this identity.
    pub const RATE_LIMITED: &str = "rate_limited";
    /// The admin bearer token is missing or wrong.
    pub const INVALID_TOKEN: &str = "invalid_token";
}

/// Why an attestation (or challenge) request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    /// The client address is outside `allowed_ips` (or unknown while a list is set).
    #[error("client address is not in `allowed_ips`")]
    AddressNotAllowed,
    /// The body is not a JSON object, or a member is missing or has the wrong type.
    #[error("request member `{0}` is missing or malformed")]
    Body(&'static str),
    /// `client_id` is empty, longer than 255 bytes, or not visible ASCII.
    #[error("`client_id` must be 1 to 255 visible ASCII characters")]
    ClientId,
    /// `ci_jwk` is not a public signature key this attester can bind.
    #[error("`ci_jwk` is not a usable public key: {0}")]
    CiKey(jose::JwkError),
    /// The evidence type is not one this attester knows.
    #[error("unknown evidence type")]
    UnknownEvidence,
    /// The evidence type is known but not accepted (disabled, or not implemented yet).
    #[error("evidence type `{0}` is not accepted by this attester")]
    EvidenceDisabled(&'static str),
    /// TokenReview: the token does not authenticate anyone.
    #[error("the service-account token is not authenticated")]
    Unauthenticated,
    /// TokenReview: authenticated, but this attester's audience was not confirmed.
    #[error("the service-account token is not meant for this attester (audience not confirmed)")]
    AudienceNotConfirmed,
    /// TokenReview: the user is not a service account.
    #[error("the token does not belong to a service account")]
    NotServiceAccount,
    /// The service account is not admitted.
    #[error("service account `{namespace}:{service_account}` is not admitted")]
    IdentityNotAllowed {
        /// Its namespace.
        namespace: String,
        /// Its name.
        service_account: String,
    },
    /// The identity exceeded its limit.
    #[error("rate limit exceeded; retry in {} s", retry_after.as_secs())]
    RateLimited {
        /// When the window ends.
        retry_after: Duration,
    },
    /// The proof of possession failed.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// The challenge is unknown, expired or already used.
    #[error("the challenge is unknown, expired or already used")]
    ChallengeUnknown,
    /// The Kubernetes API could not be asked (could not check).
    #[error("TokenReview failed: {0}")]
    ReviewUnavailable(#[from] ReviewError),
    /// The challenge store or rate limiter could not be reached (could not check).
    #[error("store: {0}")]
    Store(#[from] store::Error),
    /// The audit record could not be written: nothing is signed.
    #[error("audit log: {0}")]
    Audit(#[from] AuditError),
    /// The random generator failed.
    #[error(transparent)]
    Random(#[from] jose::random::RandomError),
    /// The A-Key did not sign.
    #[error("signing failed: {0}")]
    Sign(#[source] jose::SignError),
}

/// The parser's refusals keep their variants here, so their statuses, codes and messages
/// are those of the table above.
impl From<client_attestation::request::RequestError> for AttestError {
    fn from(e: client_attestation::request::RequestError) -> Self {
        use client_attestation::request::RequestError as R;
        match e {
            R::Body(member) => AttestError::Body(member),
            R::ClientId => AttestError::ClientId,
            R::CiKey(e) => AttestError::CiKey(e),
            R::UnknownEvidence => AttestError::UnknownEvidence,
        }
    }
}

impl AttestError {
    /// HTTP status and error code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        use AttestError as E;
        match self {
            E::Body(_) | E::ClientId | E::CiKey(_) => {
                (StatusCode::BAD_REQUEST, codes::INVALID_REQUEST)
            }
            E::UnknownEvidence | E::EvidenceDisabled(_) => {
                (StatusCode::BAD_REQUEST, codes::UNSUPPORTED_EVIDENCE_TYPE)
            }
            E::Proof(_) => (StatusCode::BAD_REQUEST, codes::INVALID_PROOF),
            E::ChallengeUnknown => (StatusCode::BAD_REQUEST, codes::INVALID_CHALLENGE),
            E::Unauthenticated | E::AudienceNotConfirmed => {
                (StatusCode::UNAUTHORIZED, codes::INVALID_EVIDENCE)
            }
            E::AddressNotAllowed | E::NotServiceAccount | E::IdentityNotAllowed { .. } => {
                (StatusCode::FORBIDDEN, codes::ACCESS_DENIED)
            }
            E::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, codes::RATE_LIMITED),
            E::ReviewUnavailable(_) | E::Store(_) | E::Audit(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                service::error::codes::TEMPORARILY_UNAVAILABLE,
            ),
            E::Random(_) | E::Sign(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                service::error::codes::SERVER_ERROR,
            ),
        }
    }

    /// A short label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        use AttestError as E;
        match self {
            E::AddressNotAllowed => "address_not_allowed",
            E::Body(_) | E::ClientId | E::CiKey(_) => "invalid_request",
            E::UnknownEvidence | E::EvidenceDisabled(_) => "unsupported_evidence",
            E::Unauthenticated => "unauthenticated",
            E::AudienceNotConfirmed => "audience_not_confirmed",
            E::NotServiceAccount | E::IdentityNotAllowed { .. } => "identity_not_allowed",
            E::RateLimited { .. } => "rate_limited",
            E::Proof(_) => "invalid_proof",
            E::ChallengeUnknown => "invalid_challenge",
            E::ReviewUnavailable(_) => "review_unavailable",
            E::Store(_) => "store_unavailable",
            E::Audit(_) => "audit_unavailable",
            E::Random(_) | E::Sign(_) => "signing_failed",
        }
    }
}

impl IntoResponse for AttestError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        metrics::counter!("attester_refusals_total", "reason" => self.reason()).increment(1);
        let api = if status.is_server_error() {
            // The chain (TokenReview status, SQL error, PKCS#11 return value) goes to the
            // log only.
            match &self {
                AttestError::Random(_) | AttestError::Sign(_) => ApiError::internal(&self),
                _ => {
                    tracing::warn!(error = %self, "attestation could not be checked");
                    ApiError::unavailable().with_description(
                        "a dependency of the attester is unavailable; nothing was signed",
                    )
                }
            }
        } else {
            tracing::info!(reason = self.reason(), error = %self, "attestation refused");
            ApiError::new(status, code).with_description(self.to_string())
        };
        let mut response = api.into_response();
        if let AttestError::RateLimited { retry_after } = &self {
            let secs = retry_after.as_secs().max(1).to_string();
            if let Ok(v) = HeaderValue::from_str(&secs) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_documented_table() {
        let cases: Vec<(AttestError, u16, &str)> = vec![
            (AttestError::Body("client_id"), 400, codes::INVALID_REQUEST),
            (
                AttestError::UnknownEvidence,
                400,
                codes::UNSUPPORTED_EVIDENCE_TYPE,
            ),
            (AttestError::ChallengeUnknown, 400, codes::INVALID_CHALLENGE),
            (AttestError::Unauthenticated, 401, codes::INVALID_EVIDENCE),
            (AttestError::NotServiceAccount, 403, codes::ACCESS_DENIED),
            (AttestError::AddressNotAllowed, 403, codes::ACCESS_DENIED),
            (
                AttestError::RateLimited {
                    retry_after: Duration::from_secs(7),
                },
                429,
                codes::RATE_LIMITED,
            ),
        ];
        for (e, status, code) in cases {
            let (s, c) = e.status_and_code();
            assert_eq!((s.as_u16(), c), (status, code), "{e}");
        }
    }

    #[tokio::test]
    async fn rate_limited_answers_carry_retry_after() {
        let r = AttestError::RateLimited {
            retry_after: Duration::from_secs(42),
        }
        .into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers().get(header::RETRY_AFTER).unwrap(), "42");
    }
}
