//! The Symbolon holder wallet's protocol core: it receives credentials (OpenID4VCI 1.0,
//! pre-authorized code flow), presents exactly what the holder agrees to (OpenID4VP 1.0
//! with DCQL), and keeps track of their status. It knows nothing of storage, terminals
//! or WebSockets: the command-line wallet and the wallet engine drive it.
//!
//! What it is given, so tests and deployments control it:
//! - the SSRF-guarded HTTP client (`http_client::GuardedClient`): private, loopback,
//!   link-local and metadata addresses are refused unless its policy allows them;
//! - a clock and randomness;
//! - the attestation client of this wallet instance ([`attestation::AttestationClient`]; its
//!   CI-Key lives there), which talks to the attester over HTTP: this crate links no part
//!   of the attester service, nor the roles' server plumbing (`service`), nor any
//!   server-side store or PKCS#11 code;
//! - the holder key, only ever as a [`jose::Signer`] passed to the call that signs (a
//!   proof JWT, a KB-JWT): the private key never enters this crate.
//!
//! Flows:
//! - [`Wallet::resolve_offer`] → [`issuance::PendingOffer`] (offer, issuer and AS metadata,
//!   trust checked) → [`Wallet::accept`] (attestation, token, nonce, proofs, credential,
//!   verification) → [`issuance::Issued`], then [`Wallet::notify`];
//! - [`Wallet::resolve_request`] → [`presentation::PresentationRequest`] (request object
//!   and client identifier verified, registration checked) → [`Wallet::consent`]
//!   ([`presentation::Consent`]: candidates, every disclosable claim, recommended ones
//!   marked) → [`Wallet::present`] with the holder's [`presentation::Choice`] (or
//!   [`Wallet::decline`]);
//! - [`Wallet::check`] → [`lifecycle::Lifecycle`] (expired, revoked, suspended, valid,
//!   or unknown when the status list could not be checked).

pub mod attestation;
pub mod credential;
pub mod error;
pub mod issuance;
pub mod lifecycle;
mod net;
pub mod presentation;
pub mod settings;

use std::sync::Arc;

use attestation::AttestationClient;
use client_attestation::random::Random;
use http_client::GuardedClient;
use jose::Clock;

pub use credential::{ClaimLabel, HeldCredential};
pub use error::{CredentialCheck, IssuanceError, LifecycleError, PeerError, PresentationError};
pub use net::{Exchange, Observer};
pub use settings::{IssuerTrust, Registration, Settings};

/// A wallet core for one wallet instance.
pub struct Wallet {
    net: net::Net,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    attestation: Arc<AttestationClient>,
    settings: Settings,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wallet")
            .field("attestation", &self.attestation)
            .finish_non_exhaustive()
    }
}

impl Wallet {
    /// A wallet core over `http`, attesting through `attestation`.
    pub fn new(
        settings: Settings,
        http: GuardedClient,
        attestation: Arc<AttestationClient>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Self {
        Wallet {
            net: net::Net {
                http,
                observer: None,
            },
            clock,
            random,
            attestation,
            settings,
        }
    }

    /// Reports every HTTP exchange to `observer` (transcripts, the demo).
    #[must_use]
    pub fn with_observer(mut self, observer: Observer) -> Self {
        self.net.observer = Some(observer);
        self
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }

    fn token(&self, bytes: usize) -> Result<String, client_attestation::random::RandomError> {
        client_attestation::random::token(&*self.random, bytes)
    }
}
