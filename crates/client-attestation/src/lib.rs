//! OAuth 2.0 Attestation-Based Client Authentication (draft-ietf-oauth-attestation-based-client-auth),
//! the wallet-instance authentication Symbolon's issuers require at `/token`.
//!
//! Three parties use this crate:
//! - the **attester** builds Client Attestation JWTs ([`AttestationClaims::sign`]) binding a
//!   client instance key (CI-Key) with environment claims ([`Environment`]), after checking
//!   the wallet's proof of possession of that key ([`proof::verify_challenge_response`]);
//! - the **wallet** proves possession of its CI-Key to the attester
//!   ([`proof::sign_challenge_response`]) and signs a fresh PoP JWT per request with it
//!   ([`PopClaims::sign`]);
//! - the **authorization server** verifies both ([`AttestationVerifier`]) and applies a
//!   policy over the environment claims ([`EnvironmentPolicy`]).
//!
//! Both claim sets are accepted: draft -07 (what OID4VCI 1.0 pins: `iss` in the attestation,
//! `iss`/`exp` in the PoP) and draft -10 (no `iss`, `challenge`). The crate does no I/O:
//! PoP `jti` replay and challenge consumption are the caller's, through its replay cache,
//! using the values [`VerifiedClientAttestation`] hands back. Randomness (challenges, `jti`s)
//! is injected through [`random::Random`].

mod claims;
mod error;
mod policy;
pub mod proof;
pub mod random;
pub mod request;
mod verify;

pub use claims::{AttestationClaims, Environment, EvidenceType, KeyProtection, PopClaims};
pub use error::AttestationError;
pub use policy::{EnvironmentPolicy, PolicyViolation, WalletProviderPolicy};
pub use verify::{
    AttestationVerifier, TrustedAttester, VerifiedAttestation, VerifiedClientAttestation,
};

/// `typ` of a Client Attestation JWT.
pub const ATTESTATION_TYP: &str = "oauth-client-attestation+jwt";
/// `typ` of a Client Attestation PoP JWT.
pub const POP_TYP: &str = "oauth-client-attestation-pop+jwt";
/// Request header carrying the Client Attestation JWT.
pub const ATTESTATION_HEADER: &str = "OAuth-Client-Attestation";
/// Request header carrying the PoP JWT.
pub const POP_HEADER: &str = "OAuth-Client-Attestation-PoP";
/// Response header carrying a fresh challenge.
pub const CHALLENGE_HEADER: &str = "OAuth-Client-Attestation-Challenge";
/// `token_endpoint_auth_methods_supported` value for this method.
pub const AUTH_METHOD: &str = "attest_jwt_client_auth";
