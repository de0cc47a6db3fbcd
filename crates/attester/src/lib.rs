//! The Symbolon attestation service (`--mode=attester`): the root of platform trust.
//!
//! It signs OAuth client-attestation JWTs (draft-ietf-oauth-attestation-based-client-auth)
//! saying "this client instance key (CI-Key) belongs to a wallet instance running where we
//! trust it", with the A-Key, which lives in a PKCS#11 token and never leaves it. Only
//! authenticated wallet workloads get attestations:
//!
//! 1. the wallet asks for a fresh challenge (`POST /v1/challenge`);
//! 2. it signs the challenge with its CI-Key ([`client_attestation::proof`]) and sends it
//!    with its evidence (`POST /v1/attestations`): a Kubernetes projected service-account
//!    token, checked with the TokenReview API ([`evidence::kubernetes`]), or development
//!    evidence when enabled;
//! 3. the attester checks identity, rate limit and proof, appends a hash-chained audit
//!    record ([`audit`]) and only then signs ([`flow`]).
//!
//! Modules: [`config`] (the `[attester]` section), [`akey`] (the signing key and its public
//! documents), [`certificate`] (a self-signed certificate or a CSR signed by the A-Key),
//! [`state`] (injected dependencies, randomness from [`jose::random`]), [`readiness`], the
//! routes via [`router`] and their OpenAPI document via [`openapi`]. The wallet side (CI-Key, cached
//! attestation, fresh PoPs) is `wallet::attestation` in the wallet core, which does not
//! link this service. See `docs/attester.md`.

pub mod akey;
pub mod audit;
pub mod certificate;
pub mod config;
pub mod error;
pub mod evidence;
pub mod flow;
pub mod readiness;
mod routes;
pub mod state;

pub use akey::AKey;
pub use error::AttestError;
pub use readiness::AttesterReadiness;
pub use routes::{Peer, openapi, router};
pub use state::{Dependencies, Settings, State};
