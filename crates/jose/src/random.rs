//! Randomness, injected beside [`Clock`](crate::Clock): every random value a role or a
//! wallet creates (codes, tokens, nonces, salts, challenges, `jti`s, status indices) comes
//! from a [`Random`] the caller supplies, so tests can make it deterministic. aws-lc-rs's
//! own `SecureRandom` is sealed (no test implementation is possible), hence this trait;
//! [`SystemRandom`] is the operating system's generator through aws-lc-rs.

/// The random generator failed: nothing can be created (says nothing about any input).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the random generator failed")]
pub struct RandomError;

/// A source of cryptographically secure random bytes.
pub trait Random: Send + Sync {
    /// Fills `out` with random bytes.
    fn fill(&self, out: &mut [u8]) -> Result<(), RandomError>;
}

impl std::fmt::Debug for dyn Random + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Random")
    }
}

impl<R: Random + ?Sized> Random for &R {
    fn fill(&self, out: &mut [u8]) -> Result<(), RandomError> {
        (**self).fill(out)
    }
}

impl<R: Random + ?Sized> Random for std::sync::Arc<R> {
    fn fill(&self, out: &mut [u8]) -> Result<(), RandomError> {
        (**self).fill(out)
    }
}

impl<R: Random + ?Sized> Random for Box<R> {
    fn fill(&self, out: &mut [u8]) -> Result<(), RandomError> {
        (**self).fill(out)
    }
}

/// The operating system's generator (through aws-lc-rs).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemRandom;

impl SystemRandom {
    /// A handle on the system generator.
    pub const fn new() -> Self {
        SystemRandom
    }
}

impl Random for SystemRandom {
    fn fill(&self, out: &mut [u8]) -> Result<(), RandomError> {
        aws_lc_rs::rand::fill(out).map_err(|_| RandomError)
    }
}

/// `n` random bytes as unpadded base64url: identifiers, codes, tokens, nonces.
pub fn token(random: &dyn Random, n: usize) -> Result<String, RandomError> {
    let mut bytes = vec![0u8; n];
    random.fill(&mut bytes)?;
    Ok(crate::b64::encode(bytes))
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
        assert_eq!(crate::b64::decode(&a).unwrap().len(), 32);
    }

    #[test]
    fn a_failing_source_is_an_error_not_zeroes() {
        struct Broken;
        impl Random for Broken {
            fn fill(&self, _: &mut [u8]) -> Result<(), RandomError> {
                Err(RandomError)
            }
        }
        assert_eq!(token(&Broken, 16), Err(RandomError));
        let shared: std::sync::Arc<dyn Random> = std::sync::Arc::new(Broken);
        assert_eq!(format!("{:?}", &*shared), "Random");
        assert_eq!(token(&shared, 16), Err(RandomError));
    }
}
