//! Randomness, injected: challenges, `jti`s and the wallet's PoP identifiers come from a
//! [`Random`] the caller supplies, so tests can make them deterministic.

pub use jose::random::{Random, RandomError, SystemRandom, token};
