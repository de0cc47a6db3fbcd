//! The Symbolon verifier role: an OpenID for Verifiable Presentations 1.0 relying party
//! for SD-JWT VCs.
//!
//! An RP backend starts a transaction for a presentation policy (`POST /transactions`);
//! the verifier answers with an `openid4vp://` link (and QR code) pointing the wallet at
//! a request object signed for an `x509_san_dns` or `x509_hash` client identifier (or,
//! for `redirect_uri`, the unsigned request by value). The wallet answers at the response
//! URI with `direct_post` or `direct_post.jwt` (encrypted to an ephemeral key of this
//! transaction). Every presentation is checked in full — issuer signature through the
//! policy's trusted issuers, SD-JWT VC rules, disclosures, the KB-JWT bound to this
//! transaction's client id and nonce, the Token Status List — and the disclosed claims
//! must answer the DCQL query and include the policy's essential claims. A transaction is
//! answered once; the RP reads the result (with a short-lived session token) by polling,
//! or by exchanging the one-time `response_code` the wallet's redirect brought back.
//!
//! Modules: [`config`] (the `[verifier]` section), [`demo`] (the demo page's policy), [`state`] (built from config and
//! injected dependencies), [`flow`] (the lifecycle), [`verify`] (the checks), [`trust`]
//! and [`status`] (issuer keys and status lists, fetched through the SSRF-guarded client
//! and cached), [`transaction`] and [`sql`] (persistence), the routes via [`router`] and
//! their OpenAPI document via [`openapi`].
//!
//! Privacy: only transaction state and the result the RP must receive are stored, the
//! result is deleted `result_ttl` after the answer, and disclosed claim values are never
//! logged.

pub mod config;
pub mod demo;
pub mod error;
pub mod flow;
pub mod keyfiles;
pub mod maintenance;
pub mod pending;
pub mod policy;
pub mod qr;
mod routes;
pub mod seal;
pub mod session;
pub mod sql;
pub mod state;
pub mod status;
pub mod transaction;
pub mod trust;
pub mod verify;

pub use routes::{openapi, router};
pub use state::{BuildError, Dependencies, State, check_config};
