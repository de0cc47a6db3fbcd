//! Injected randomness and time: every random value the issuer creates (codes, tokens,
//! nonces, salts, status indices, key material identifiers) comes from a [`Random`], and
//! every time from a [`jose::Clock`], so tests control both.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// The random generator failed: nothing can be issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the random generator failed")]
pub struct RandomError;

/// A source of cryptographically secure random bytes.
pub trait Random: Send + Sync + std::fmt::Debug {
    /// Fills `out`.
    fn fill(&self, out: &mut [u8]) -> Result<(), RandomError>;
}

/// The operating system's generator (through aws-lc).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemRandom;

impl Random for SystemRandom {
    fn fill(&self, out: &mut [u8]) -> Result<(), RandomError> {
        aws_lc_rs::rand::fill(out).map_err(|_| RandomError)
    }
}

/// `n` random bytes as unpadded base64url: identifiers, codes, tokens, nonces.
pub(crate) fn token(rng: &dyn Random, n: usize) -> Result<String, RandomError> {
    let mut buf = vec![0u8; n];
    rng.fill(&mut buf)?;
    Ok(jose::b64::encode(buf))
}

/// Adapts a [`Random`] to the SD-JWT salt source.
#[derive(Debug)]
pub(crate) struct Salts<'a>(pub(crate) &'a dyn Random);

impl sd_jwt::SaltSource for Salts<'_> {
    fn fill(&self, out: &mut [u8]) -> Result<(), sd_jwt::SaltError> {
        self.0.fill(out).map_err(|_| sd_jwt::SaltError)
    }
}

/// Adapts a [`Random`] to the status list index allocator.
#[derive(Debug)]
pub(crate) struct Indices<'a>(pub(crate) &'a dyn Random);

impl status_list::RandomSource for Indices<'_> {
    fn next_u64(&mut self) -> Result<u64, status_list::AllocError> {
        let mut b = [0u8; 8];
        self.0
            .fill(&mut b)
            .map_err(|_| status_list::AllocError::Random)?;
        Ok(u64::from_le_bytes(b))
    }
}

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
