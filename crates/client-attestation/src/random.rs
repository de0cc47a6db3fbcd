//! Randomness, injected: challenges, `jti`s and the wallet's PoP identifiers come from a
//! [`Random`] the caller supplies, so tests can make them deterministic.

/// The random generator failed (the request cannot be served; nothing about its input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the random generator failed")]
pub struct RandomError;

/// A source of cryptographically secure random bytes.
pub trait Random: Send + Sync {
    /// Fills `out` with random bytes.
    fn fill(&self, out: &mut [u8]) -> Result<(), RandomError>;
}

/// The operating system's generator (through aws-lc-rs).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemRandom;

impl Random for SystemRandom {
    fn fill(&self, out: &mut [u8]) -> Result<(), RandomError> {
        aws_lc_rs::rand::fill(out).map_err(|_| RandomError)
    }
}

/// `n` random bytes as unpadded base64url (identifiers, challenges).
pub fn token(random: &dyn Random, n: usize) -> Result<String, RandomError> {
    let mut bytes = vec![0u8; n];
    random.fill(&mut bytes)?;
    Ok(jose::b64::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_base64url_of_the_requested_length_and_differ() {
        let a = token(&SystemRandom, 32).unwrap();
        let b = token(&SystemRandom, 32).unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_eq!(jose::b64::decode(&a).unwrap().len(), 32);
    }
}
