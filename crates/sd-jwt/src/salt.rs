//! Randomness for salts, decoy digests and decoy positions, injected so that issuance is
//! testable. aws-lc-rs's `SecureRandom` is sealed, hence this small trait.
//!
//! [`SystemSalts`] is the operating system generator through aws-lc-rs; [`SeededSalts`] is a
//! deterministic generator for tests and reproducible examples only: its output is
//! predictable by anyone who knows the seed, so it must never issue real credentials.

use crate::error::SaltError;
use aws_lc_rs::digest;
use aws_lc_rs::rand::SecureRandom as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// A source of cryptographically secure random bytes.
pub trait SaltSource: Send + Sync {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]) -> Result<(), SaltError>;
}

impl<S: SaltSource + ?Sized> SaltSource for &S {
    fn fill(&self, buf: &mut [u8]) -> Result<(), SaltError> {
        (**self).fill(buf)
    }
}

impl<S: SaltSource + ?Sized> SaltSource for std::sync::Arc<S> {
    fn fill(&self, buf: &mut [u8]) -> Result<(), SaltError> {
        (**self).fill(buf)
    }
}

/// The operating system's generator (aws-lc-rs `SystemRandom`).
#[derive(Clone, Debug, Default)]
pub struct SystemSalts(aws_lc_rs::rand::SystemRandom);

impl SystemSalts {
    /// A handle on the system generator.
    pub fn new() -> Self {
        SystemSalts(aws_lc_rs::rand::SystemRandom::new())
    }
}

impl SaltSource for SystemSalts {
    fn fill(&self, buf: &mut [u8]) -> Result<(), SaltError> {
        self.0.fill(buf).map_err(|_| SaltError)
    }
}

/// A deterministic generator: SHA-256 over the seed and a counter. For tests only.
#[derive(Debug)]
pub struct SeededSalts {
    seed: [u8; 32],
    counter: AtomicU64,
}

impl SeededSalts {
    /// A generator whose output depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        let d = digest::digest(&digest::SHA256, &seed.to_be_bytes());
        let mut s = [0u8; 32];
        s.copy_from_slice(d.as_ref());
        SeededSalts {
            seed: s,
            counter: AtomicU64::new(0),
        }
    }
}

impl SaltSource for SeededSalts {
    fn fill(&self, buf: &mut [u8]) -> Result<(), SaltError> {
        for chunk in buf.chunks_mut(32) {
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            let mut ctx = digest::Context::new(&digest::SHA256);
            ctx.update(&self.seed);
            ctx.update(&n.to_be_bytes());
            let block = ctx.finish();
            let len = chunk.len();
            chunk.copy_from_slice(block.as_ref().get(..len).ok_or(SaltError)?);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_is_reproducible_and_system_varies() {
        let (a, b) = (SeededSalts::new(7), SeededSalts::new(7));
        let (mut x, mut y) = ([0u8; 40], [0u8; 40]);
        a.fill(&mut x).unwrap();
        b.fill(&mut y).unwrap();
        assert_eq!(x, y);
        a.fill(&mut y).unwrap();
        assert_ne!(x, y);
        let s = SystemSalts::new();
        s.fill(&mut x).unwrap();
        s.fill(&mut y).unwrap();
        assert_ne!(x, y);
    }
}
