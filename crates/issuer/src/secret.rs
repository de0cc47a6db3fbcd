//! [`Secret`]: a configured secret (the admin token, a database URL with a password) that
//! never shows in `Debug`, is zeroized on drop, is never serialized except as
//! `<redacted>`, and compares in constant time.

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// A secret string from the configuration.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: String) -> Self {
        Secret(SecretString::from(value))
    }

    /// The secret, for the one place that needs it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Whether `candidate` equals the secret, in time independent of where they differ.
    pub fn matches(&self, candidate: &str) -> bool {
        bool::from(self.expose().as_bytes().ct_eq(candidate.as_bytes()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.matches(other.expose())
    }
}

impl Eq for Secret {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_in_constant_time_and_redacts() {
        let s = Secret::new("admin-token".into());
        assert!(s.matches("admin-token"));
        assert!(!s.matches("admin-tokeN"));
        assert!(!s.matches(""));
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    }
}
