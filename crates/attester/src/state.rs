//! The attester's state: its settings and everything injected (clock, randomness, the
//! A-Key, the audit store, the challenge store and rate limiter, the TokenReview client),
//! so tests control every dependency.

use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use jose::Clock;
use store::{RateLimiter, SingleUse};

use crate::akey::AKey;
use crate::audit::{AuditLog, AuditStore};
use crate::config::RateLimit;
use crate::evidence::kubernetes::TokenReviewer;
use jose::random::Random;

/// Settings resolved from the configuration and the mode.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The attester identifier: `iss` of every attestation and the `aud` of challenge
    /// responses.
    pub identifier: String,
    /// Where the role is served (no trailing slash): the `servers` entry of the served
    /// OpenAPI document.
    pub base_url: String,
    /// Lifetime of an attestation.
    pub attestation_ttl: Duration,
    /// Lifetime of a challenge.
    pub challenge_ttl: Duration,
    /// Clock tolerance.
    pub clock_skew: Duration,
    /// Whether `dev` evidence is accepted.
    pub dev_evidence: bool,
    /// Client networks allowed to use the attestation API; empty: any.
    pub allowed_ips: Vec<IpNet>,
    /// Per-identity limit.
    pub rate_limit: RateLimit,
    /// The admin API's bearer token; `None`: the admin API refuses every call.
    pub admin_token: Option<service::config::Secret>,
}

impl Settings {
    /// Defaults for `identifier`: one-hour attestations, two-minute challenges, 30 s skew,
    /// no dev evidence, no address restriction, 60 attestations per identity per minute,
    /// no admin token; served at the identifier.
    pub fn new(identifier: impl Into<String>) -> Settings {
        let identifier = identifier.into();
        Settings {
            base_url: identifier.trim_end_matches('/').to_owned(),
            identifier,
            attestation_ttl: Duration::from_secs(3600),
            challenge_ttl: Duration::from_secs(120),
            clock_skew: Duration::from_secs(30),
            dev_evidence: false,
            allowed_ips: Vec::new(),
            rate_limit: RateLimit {
                requests: crate::config::DEFAULT_RATE_REQUESTS,
                window: Duration::from_secs(60),
            },
            admin_token: None,
        }
    }
}

/// What the attester is built from.
pub struct Dependencies {
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub random: Arc<dyn Random>,
    /// The signing key.
    pub akey: AKey,
    /// Where audit records go.
    pub audit: Arc<dyn AuditStore>,
    /// Challenges (consume-once values).
    pub single_use: Arc<dyn SingleUse>,
    /// Per-identity rate limit.
    pub rate_limiter: Arc<dyn RateLimiter>,
    /// Kubernetes evidence; `None`: not accepted.
    pub kubernetes: Option<TokenReviewer>,
}

/// The attester's shared state.
pub struct State {
    pub(crate) settings: Settings,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) random: Arc<dyn Random>,
    pub(crate) akey: Arc<AKey>,
    pub(crate) audit: AuditLog,
    pub(crate) single_use: Arc<dyn SingleUse>,
    pub(crate) rate_limiter: Arc<dyn RateLimiter>,
    pub(crate) kubernetes: Option<TokenReviewer>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("identifier", &self.settings.identifier)
            .field("akey", &self.akey)
            .field("kubernetes", &self.kubernetes)
            .finish_non_exhaustive()
    }
}

impl State {
    /// Builds the state and starts the audit writer (call inside a Tokio runtime).
    pub fn new(settings: Settings, deps: Dependencies) -> State {
        State {
            settings,
            clock: deps.clock,
            random: deps.random,
            akey: Arc::new(deps.akey),
            audit: AuditLog::spawn(deps.audit),
            single_use: deps.single_use,
            rate_limiter: deps.rate_limiter,
            kubernetes: deps.kubernetes,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The A-Key.
    pub fn akey(&self) -> &AKey {
        &self.akey
    }

    /// The audit log.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }
}

impl service::AdminTokens for State {
    fn admin_token(&self) -> Option<&service::config::Secret> {
        self.settings.admin_token.as_ref()
    }
}
