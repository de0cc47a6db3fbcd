//! [`ManualClock`]: a [`jose::Clock`] tests move by hand. Every time the issuer reads
//! comes from an injected `jose::Clock`, and every random value it creates (codes, tokens,
//! nonces, salts, status indices, key identifiers) from an injected
//! [`jose::random::Random`], so tests control both.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A clock tests move by hand (key rotation, expiry).
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock at `now` (seconds since the epoch).
    pub fn new(now: i64) -> Self {
        ManualClock(Arc::new(AtomicI64::new(now)))
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl jose::Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
