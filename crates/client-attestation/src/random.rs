//! Randomness, injected: challenges, `jti`s and the wallet's PoP identifiers come from a
//! [`Random`] the caller supplies, so tests can make them deterministic. The project's one
//! [`jose::random`], named here for the crate's users.

pub use jose::random::{Random, RandomError, SystemRandom, token};
