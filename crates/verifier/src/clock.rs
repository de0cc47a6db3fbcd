//! Time and randomness, injected so tests control them: the [`Clock`] is jose's (Unix
//! seconds), [`Random`] fills buffers (nonces, transaction ids, response codes).

pub use jose::jwt::{Clock, FixedClock, SystemClock};

pub use jose::random::{Random, RandomError, SystemRandom};

/// 128 random bits, base64url: transaction ids, request ids (`state`), nonces, response
/// codes (OpenID4VP §5.2, §13.3: at least 128 bits).
pub fn token(random: &dyn Random) -> Result<String, RandomError> {
    jose::random::token(random, 16)
}
