//! The Symbolon issuer: OpenID for Verifiable Credential Issuance 1.0 (pre-authorized code
//! flow) for SD-JWT VCs, issuing only to wallet instances that authenticate with OAuth 2.0
//! Attestation-Based Client Authentication.
//!
//! Endpoints: [`router`], with the route table in [`routes`]; under path insertion the
//! well-known documents also belong at the root of the host ([`root_routes`]).
//!
//! State ([`State`]) is built from [`Dependencies`]: the typed [`config::IssuerConfig`],
//! a `store::Database` (SQLite or PostgreSQL), the single-use store (in-process, Redis or
//! database), the key store (software keys sealed under a KEK, or PKCS#11), attester
//! trust, and the injected clock and randomness.

mod access_tokens;
pub mod auth;
mod batch;
mod caller;
pub mod config;
pub mod credential;
pub mod db;
pub mod demo;
pub mod dpop;
pub mod error;
pub mod maintenance;
pub mod manual_clock;
pub mod metadata;
pub mod nonce;
pub mod notification;
pub mod offers;
pub mod routes;
pub mod signing;
pub mod state;
pub mod status;
pub mod token;
pub mod trust;

pub use error::{Failure, Reason, Rejection};
pub use jose::random::{Random, SystemRandom};
pub use manual_clock::ManualClock;
pub use routes::{openapi, root_routes, router};
pub use signing::{DEFAULT_PKCS11_LABEL_PREFIX, KeyStore, SigningKeys};
pub use state::{Dependencies, StartError, State, check_config};
pub use trust::{ProviderSource, TrustSources};
