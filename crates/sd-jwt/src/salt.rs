//! Randomness for salts, decoy digests and decoy positions, injected so that issuance is
//! testable, through the project's one [`jose::Random`] (named [`SaltSource`] here).
//!
//! [`SystemSalts`] is the operating system generator through aws-lc-rs; [`SeededSalts`] is a
//! deterministic generator for tests and reproducible examples only: its output is
//! predictable by anyone who knows the seed, so it must never issue real credentials.

use crate::error::SaltError;
use aws_lc_rs::digest;
use std::sync::atomic::{AtomicU64, Ordering};

/// A source of cryptographically secure random bytes: the project's one
/// [`jose::Random`], so a role passes its own generator as is.
pub use jose::random::Random as SaltSource;

/// The operating system's generator (through aws-lc-rs).
pub type SystemSalts = jose::random::SystemRandom;

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
