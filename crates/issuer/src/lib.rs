//! The Symbolon issuer: OpenID for Verifiable Credential Issuance 1.0 (pre-authorized code
//! flow) for SD-JWT VCs, issuing only to wallet instances that authenticate with OAuth 2.0
//! Attestation-Based Client Authentication.
//!
//! Endpoints ([`router`]), relative to the issuer identifier:
//!
//! | endpoint | what |
//! |---|---|
//! | `GET /.well-known/openid-credential-issuer` | issuer metadata (JSON; signed with `Accept: application/jwt`) |
//! | `GET /.well-known/oauth-authorization-server` | AS metadata (`attest_jwt_client_auth`, challenge endpoint) |
//! | `GET /.well-known/jwt-vc-issuer`, `GET /jwks` | every published signing key |
//! | `POST /token` | pre-authorized code + `tx_code`, client attestation + PoP, optional (or required) DPoP proof |
//! | `POST /challenge` | attestation challenge (ABCA §6) |
//! | `POST /nonce` | single-use `c_nonce` |
//! | `POST /credential` | SD-JWT VCs, one per proof key, optionally encrypted |
//! | `POST /notification` | wallet events |
//! | `GET /offers/{handle}` | offers by reference |
//! | `GET /status/{list}` | Status List Tokens |
//! | `POST /admin/offers`, `GET /admin/credentials`, `POST /admin/credentials/{id}/status` | admin API |
//!
//! Under path insertion the well-known documents also belong at the root of the host:
//! [`root_routes`] lists them for the binary to mount there.
//!
//! State ([`State`]) is built from [`Dependencies`]: the typed [`config::IssuerConfig`],
//! a `store::Database` (SQLite or PostgreSQL), the single-use store (in-process, Redis or
//! database), the key store (software keys sealed under a KEK, or PKCS#11), attester
//! trust, and the injected clock and randomness.

mod access_tokens;
pub mod admin;
pub mod auth;
mod batch;
pub mod config;
pub mod credential;
pub mod db;
pub mod demo;
pub mod documents;
pub mod dpop;
pub mod error;
pub mod maintenance;
pub mod metadata;
pub mod nonce;
pub mod notification;
pub mod offers;
pub mod random;
pub mod secret;
pub mod signing;
pub mod state;
pub mod status;
pub mod token;
pub mod trust;

use axum::Router;
use axum::routing::{MethodRouter, get, post};
use std::sync::Arc;

pub use error::{Failure, Reason, Rejection};
pub use random::{ManualClock, Random, SystemRandom};
pub use secret::Secret;
pub use signing::{DEFAULT_PKCS11_LABEL_PREFIX, KeyStore, SigningKeys};
pub use state::{Dependencies, StartError, State, check_config};
pub use trust::{ProviderSource, TrustSources};

/// The issuer's routes, relative to its identifier.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route(
            "/.well-known/openid-credential-issuer",
            get(documents::issuer_metadata),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(documents::as_metadata),
        )
        .route("/.well-known/jwt-vc-issuer", get(documents::jwt_vc_issuer))
        .route("/jwks", get(documents::jwks))
        .route("/token", post(token::token_endpoint))
        .route("/challenge", post(nonce::challenge_endpoint))
        .route("/nonce", post(nonce::nonce_endpoint))
        .route("/credential", post(credential::credential_endpoint))
        .route("/notification", post(notification::notification_endpoint))
        .route("/offers/{handle}", get(offers::fetch))
        .route("/status/{list}", get(documents::status_list))
        .route("/admin/offers", post(offers::create))
        .route("/admin/credentials", get(admin::list))
        .route("/admin/credentials/{id}", get(admin::show))
        .route("/admin/credentials/{id}/status", post(admin::set_status))
        .with_state(state)
}

/// The well-known documents at the paths path insertion gives for this identifier
/// (`/.well-known/<name><identifier path>`), for mounting at the root of the host when
/// the identifier has a path. Empty when it has none (the role's own routes serve them).
pub fn root_routes(state: &Arc<State>) -> Vec<(String, MethodRouter)> {
    let id = state.identifier();
    let has_path = url::Url::parse(id).is_ok_and(|u| !u.path().trim_end_matches('/').is_empty());
    if !has_path {
        return Vec::new();
    }
    let mut out = Vec::new();
    let docs: [(&str, MethodRouter); 3] = [
        (
            oid4vci::metadata::ISSUER_WELL_KNOWN,
            get(documents::issuer_metadata).with_state(Arc::clone(state)),
        ),
        (
            oid4vci::metadata::AS_WELL_KNOWN,
            get(documents::as_metadata).with_state(Arc::clone(state)),
        ),
        (
            oid4vci::metadata::JWT_VC_ISSUER_WELL_KNOWN,
            get(documents::jwt_vc_issuer).with_state(Arc::clone(state)),
        ),
    ];
    for (name, route) in docs {
        if let Ok(path) = oid4vci::well_known_path(id, name) {
            out.push((path, route));
        }
    }
    out
}
