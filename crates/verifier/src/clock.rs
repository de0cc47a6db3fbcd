//! Time and randomness, injected so tests control them: the [`Clock`] is jose's (Unix
//! seconds), [`Random`] fills buffers (nonces, transaction ids, response codes).

pub use jose::jwt::{Clock, FixedClock, SystemClock};

/// A source of cryptographically secure random bytes.
pub trait Random: Send + Sync {
    /// Fills `buf`.
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError>;
}

/// The random source failed (says nothing about any input).
#[derive(Debug, thiserror::Error)]
#[error("the random generator failed")]
pub struct RandomError;

/// The operating system's generator, through aws-lc.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemRandom;

impl Random for SystemRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        aws_lc_rs::rand::fill(buf).map_err(|_| RandomError)
    }
}

/// 128 random bits, base64url: transaction ids, request ids (`state`), nonces, response
/// codes (OpenID4VP §5.2, §13.3: at least 128 bits).
pub fn token(random: &dyn Random) -> Result<String, RandomError> {
    let mut buf = [0u8; 16];
    random.fill(&mut buf)?;
    Ok(jose::b64::encode(buf))
}
