//! Sealing of the per-transaction response decryption keys at rest: a
//! [`keys::seal`] record (AES-256-GCM under the verifier's key encryption key, with the
//! KEK's id in the header) whose associated data names the purpose and the transaction's
//! request id, so a sealed key cannot be moved to another transaction or purpose. The
//! plaintext private JWK only exists in memory while a response is decrypted.

use jose::PrivateJwk;
use jose::jwe::EncryptionKey;
use keys::Kek;
use zeroize::Zeroizing;

use jose::random::{Random, RandomError};

/// Sealing or opening failed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The random generator failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The sealed bytes are not ours (wrong key, other transaction, corrupted).
    #[error("the sealed key cannot be opened")]
    Open,
    /// Encryption or key export failed.
    #[error("the key cannot be sealed")]
    Seal,
}

/// The key encryption key.
pub struct Sealer {
    kek: Kek,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

/// The associated data of a sealed response key: a fixed purpose label, then (after a
/// NUL, so no id can extend the label) the transaction's request id.
fn aad(request_id: &str) -> Vec<u8> {
    let mut v = b"symbolon-verifier response-key v1\0".to_vec();
    v.extend_from_slice(request_id.as_bytes());
    v
}

impl Sealer {
    /// A sealer with the 32-byte key `kek`.
    pub fn new(kek: &[u8; 32]) -> Result<Self, SealError> {
        Ok(Sealer {
            kek: Kek::from_bytes(kek).map_err(|_| SealError::Seal)?,
        })
    }

    /// A sealer with the configured key: 32 bytes, base64url.
    pub fn from_secret(secret: &service::config::Secret) -> Result<Self, SealError> {
        let bytes = Zeroizing::new(jose::b64::decode(secret.expose()).ok_or(SealError::Seal)?);
        let kek: &[u8; 32] = bytes.as_slice().try_into().map_err(|_| SealError::Seal)?;
        Self::new(kek)
    }

    /// A sealer with a fresh random key (for one process; keys sealed with it cannot be
    /// opened by another).
    pub fn generate(random: &dyn Random) -> Result<Self, SealError> {
        let mut kek = Zeroizing::new([0u8; 32]);
        random.fill(kek.as_mut())?;
        Self::new(&kek)
    }

    /// Seals `key` for transaction `request_id`.
    pub fn seal(
        &self,
        key: &EncryptionKey,
        request_id: &str,
        random: &dyn Random,
    ) -> Result<Vec<u8>, SealError> {
        let jwk = key.to_private_jwk().map_err(|_| SealError::Seal)?;
        // `Crypto` is also the random generator failing for the nonce: either way nothing
        // was sealed.
        keys::seal::seal_with_rng(
            &self.kek,
            &aad(request_id),
            jwk.to_json().as_bytes(),
            random,
        )
        .map_err(|_| SealError::Seal)
    }

    /// Opens a key sealed for `request_id`.
    pub fn open(&self, sealed: &[u8], request_id: &str) -> Result<EncryptionKey, SealError> {
        let plain =
            keys::seal::open(&self.kek, &aad(request_id), sealed).map_err(|_| SealError::Open)?;
        let jwk = PrivateJwk::from_json(&plain).map_err(|_| SealError::Open)?;
        EncryptionKey::from_private_jwk(&jwk).map_err(|_| SealError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jose::Curve;
    use jose::random::SystemRandom;

    #[test]
    fn seals_and_opens_for_the_same_transaction_only() {
        let r = SystemRandom;
        let sealer = Sealer::generate(&r).unwrap();
        let key = EncryptionKey::generate(Curve::P256)
            .unwrap()
            .with_kid("rq1");
        let sealed = sealer.seal(&key, "rq1", &r).unwrap();
        let opened = sealer.open(&sealed, "rq1").unwrap();
        assert!(opened.public_jwk().same_key(key.public_jwk()));
        assert!(matches!(sealer.open(&sealed, "rq2"), Err(SealError::Open)));
        let other = Sealer::generate(&r).unwrap();
        assert!(matches!(other.open(&sealed, "rq1"), Err(SealError::Open)));
        assert!(matches!(
            sealer.open(&sealed[..5], "rq1"),
            Err(SealError::Open)
        ));
    }
}
