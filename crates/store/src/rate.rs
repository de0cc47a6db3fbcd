//! A small rate limiter: at most `limit` calls per key in a fixed window that starts with
//! the key's first call, on every backend (in-process, Redis, database).
//!
//! A fixed window admits a burst of up to `2 × limit` across a window boundary; for the
//! per-identity limits the roles need (attestation requests, token requests) that is the
//! accepted trade for one counter per key instead of a log of timestamps. Keys are hashed
//! like single-use keys (identities are personal data). `retry_after` is the time until the
//! window ends, in whole seconds (≥ 1), ready for a `Retry-After` header.

use std::fmt;
use std::time::Duration;

use crate::single_use::StoreFuture;

/// The answer to one [`RateLimiter::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum RateDecision {
    /// Within the limit; the call was counted.
    Allowed {
        /// Calls left in this window.
        remaining: u32,
    },
    /// Over the limit: refuse the call.
    Limited {
        /// When the window ends (whole seconds, at least one).
        retry_after: Duration,
    },
}

impl RateDecision {
    /// True for [`RateDecision::Allowed`].
    pub fn is_allowed(&self) -> bool {
        matches!(self, RateDecision::Allowed { .. })
    }

    /// Builds the decision from a window's count (including this call) and its seconds left.
    pub(crate) fn from_count(count: i64, limit: u32, seconds_left: i64) -> RateDecision {
        if count <= i64::from(limit) {
            let remaining = i64::from(limit).saturating_sub(count);
            RateDecision::Allowed {
                remaining: u32::try_from(remaining).unwrap_or(0),
            }
        } else {
            RateDecision::Limited {
                retry_after: Duration::from_secs(u64::try_from(seconds_left.max(1)).unwrap_or(1)),
            }
        }
    }
}

/// Counts calls per key. `limit = 0` limits every call.
pub trait RateLimiter: Send + Sync + fmt::Debug {
    /// Counts one call for `key` in `namespace` and says whether it is within `limit` calls
    /// per `window` (whole seconds, rounded up).
    fn check<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a [u8],
        limit: u32,
        window: Duration,
    ) -> StoreFuture<'a, RateDecision>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_from_count() {
        assert_eq!(
            RateDecision::from_count(1, 3, 60),
            RateDecision::Allowed { remaining: 2 }
        );
        assert_eq!(
            RateDecision::from_count(3, 3, 60),
            RateDecision::Allowed { remaining: 0 }
        );
        assert_eq!(
            RateDecision::from_count(4, 3, 42),
            RateDecision::Limited {
                retry_after: Duration::from_secs(42)
            }
        );
        // A window that ends this very second still says "retry in a second".
        assert_eq!(
            RateDecision::from_count(1, 0, 0),
            RateDecision::Limited {
                retry_after: Duration::from_secs(1)
            }
        );
    }
}
