//! Credential status (Token Status List, draft -20 §8): the status list token is fetched
//! through the SSRF-guarded client, verified with a key of the credential's trusted
//! issuer, and cached until the earlier of `iat`-relative `ttl` and `exp`, bounded by the
//! configured maximum — so under load a list is fetched once per lifetime, not per
//! presentation.
//!
//! Outcomes keep "could not check" (fetch failed: [`StatusOutcome::Unavailable`]) apart
//! from "checked and invalid" (bad token, index out of bounds: [`StatusOutcome::Invalid`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sd_jwt::KeyResolver;
use serde_json::{Map, Value};
use service::http::GuardedClient;
use status_list::{
    DecodeLimits, Status, StatusClaim, StatusListToken, VerifiedStatusListToken, VerifyOptions,
    check_status,
};

use crate::config::StatusListConfig;
use crate::error::StatusFault;
use crate::trust::{ALGORITHMS, CachingFetcher};
use jose::Clock;

/// The result of a status check.
#[derive(Debug)]
pub enum StatusOutcome {
    /// The status value, from a verified list.
    Status(Status),
    /// The status could not be established because the token or reference is invalid.
    Invalid(StatusFault),
    /// The list could not be retrieved (or its issuer metadata): could not check.
    Unavailable,
}

/// A list's key in the caches: the trusted issuer's name and the list URI.
type ListKey = (String, String);

struct Cached {
    token: Arc<VerifiedStatusListToken>,
    until: i64,
}

/// Fetches, verifies and caches status list tokens.
pub struct StatusChecker {
    client: GuardedClient,
    config: StatusListConfig,
    clock: Arc<dyn Clock>,
    /// By `(trusted issuer name, uri)`: a list is only reused for the issuer whose key
    /// verified it.
    cache: Mutex<HashMap<ListKey, Cached>>,
    /// One retrieval at a time per list, so an expiry under load causes one fetch.
    inflight: Mutex<HashMap<ListKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for StatusChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusChecker").finish_non_exhaustive()
    }
}

/// Lists cached at most; beyond, expired entries are dropped, then everything.
const MAX_CACHED_LISTS: usize = 4096;

impl StatusChecker {
    /// A checker fetching through `client`.
    pub fn new(client: GuardedClient, config: StatusListConfig, clock: Arc<dyn Clock>) -> Self {
        StatusChecker {
            client,
            config,
            clock,
            cache: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, key: &ListKey, now: i64) -> Option<Arc<VerifiedStatusListToken>> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(key)
            .filter(|c| now < c.until)
            .map(|c| Arc::clone(&c.token))
    }

    /// The status of `claim` for a credential verified through trusted issuer `issuer`
    /// (whose `resolver` verifies the list token) with `iss` (used to find the list's key
    /// through issuer metadata when the token itself has no `iss`).
    pub async fn check(
        &self,
        issuer: &str,
        resolver: &KeyResolver,
        fetcher: &CachingFetcher,
        iss: Option<&str>,
        claim: &StatusClaim,
    ) -> StatusOutcome {
        let key = (issuer.to_owned(), claim.uri.clone());
        let now = self.clock.now();
        if let Some(token) = self.cached(&key, now) {
            return lookup(claim, &token);
        }
        let gate = {
            let Ok(mut inflight) = self.inflight.lock() else {
                return StatusOutcome::Unavailable;
            };
            Arc::clone(inflight.entry(key.clone()).or_default())
        };
        let _one_at_a_time = gate.lock().await;
        let now = self.clock.now();
        if let Some(token) = self.cached(&key, now) {
            return lookup(claim, &token);
        }
        let token = match self.fetch(resolver, fetcher, iss, &claim.uri, now).await {
            Ok(t) => Arc::new(t),
            Err(outcome) => return outcome,
        };
        let outcome = lookup(claim, &token);
        let until = self.cache_until(&token, now);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED_LISTS {
                cache.retain(|_, c| now < c.until);
                if cache.len() >= MAX_CACHED_LISTS {
                    cache.clear();
                }
            }
            cache.insert(key, Cached { token, until });
        }
        outcome
    }

    fn cache_until(&self, token: &VerifiedStatusListToken, now: i64) -> i64 {
        let secs = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        let bound = now.saturating_add(secs(self.config.max_ttl));
        token
            .cache_until()
            .unwrap_or_else(|| now.saturating_add(secs(self.config.default_ttl)))
            .min(bound)
    }

    async fn fetch(
        &self,
        resolver: &KeyResolver,
        fetcher: &CachingFetcher,
        iss: Option<&str>,
        uri: &str,
        now: i64,
    ) -> Result<VerifiedStatusListToken, StatusOutcome> {
        let fetched = self
            .client
            .get(uri, status_list::MEDIA_TYPE)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "status list retrieval failed");
                StatusOutcome::Unavailable
            })?;
        if !fetched.status.is_success() {
            tracing::warn!(
                status = fetched.status.as_u16(),
                "status list retrieval failed"
            );
            return Err(StatusOutcome::Unavailable);
        }
        if fetched.content_type().as_deref() != Some(status_list::MEDIA_TYPE) {
            return Err(StatusOutcome::Invalid(StatusFault::WrongMediaType));
        }
        let text = std::str::from_utf8(&fetched.body)
            .map_err(|_| StatusOutcome::Invalid(StatusFault::NotText))?;
        let token = StatusListToken::parse(text)
            .map_err(|e| StatusOutcome::Invalid(StatusFault::Token(e)))?;
        // Find the key as for the credential: the list must be signed by the credential's
        // issuer, so its `iss` (not whatever the unverified token claims) drives metadata
        // resolution.
        let mut claims: Map<String, Value> = jose::CompactJws::parse(token.as_str())
            .ok()
            .and_then(|j| j.claims_unverified().ok())
            .unwrap_or_default();
        match iss {
            Some(iss) => {
                claims.insert("iss".into(), Value::String(iss.to_owned()));
            }
            None => {
                claims.remove("iss");
            }
        }
        let resolved = resolver
            .resolve_with(fetcher, token.header(), &claims, now)
            .await
            .map_err(|e| {
                if e.is_unavailable() {
                    StatusOutcome::Unavailable
                } else {
                    StatusOutcome::Invalid(StatusFault::Key(e))
                }
            })?;
        let options = VerifyOptions::new(ALGORITHMS)
            .with_skew(30)
            .with_limits(DecodeLimits::new(status_list::DEFAULT_MAX_DECOMPRESSED));
        token
            .verify(&resolved.key, uri, &options, &*self.clock)
            .map_err(|e| StatusOutcome::Invalid(StatusFault::Token(e)))
    }
}

fn lookup(claim: &StatusClaim, token: &VerifiedStatusListToken) -> StatusOutcome {
    match check_status(claim, token) {
        Ok(s) => StatusOutcome::Status(s),
        Err(e) => StatusOutcome::Invalid(StatusFault::Check(e)),
    }
}
