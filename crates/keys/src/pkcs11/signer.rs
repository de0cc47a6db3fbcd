//! [`Pkcs11Signer`]: ES256 with a P-256 key that stays inside a PKCS#11 token.
//!
//! The message is hashed with SHA-256 here and the digest signed with `CKM_ECDSA`, which
//! every token supports (SoftHSM 2.6 has no `CKM_ECDSA_SHA256`); PKCS#11 returns `r ‖ s`,
//! 32 bytes each, which is already the JWS form. Each call borrows its own session from
//! the token's pool, so signatures run in parallel up to the pool's bound.

use super::config::Pkcs11Config;
use super::error::{Pkcs11Error, call};
use super::token::Pkcs11Token;
use crate::{KeyProtection, KeySigner};
use aws_lc_rs::digest;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::ObjectHandle;
use jose::{Algorithm, PublicJwk, SignError, Signer, VerifyingKey};
use std::fmt;

/// Length of an ES256 signature.
const SIGNATURE_LEN: usize = 64;

/// A signer whose private key is a non-extractable P-256 key in a PKCS#11 token. `kid` is the
/// RFC 7638 thumbprint of the public key.
#[derive(Clone)]
pub struct Pkcs11Signer {
    token: Pkcs11Token,
    label: String,
    key: ObjectHandle,
    jwk: PublicJwk,
}

impl fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("token", &self.token.label())
            .field("label", &self.label)
            .field("kid", &self.jwk.kid())
            .finish()
    }
}

impl Pkcs11Signer {
    /// Opens the token and the key `config` names (the attester's A-Key).
    pub fn open(config: &Pkcs11Config) -> Result<Self, Pkcs11Error> {
        Pkcs11Token::open(config)?.signer(&config.key_label)
    }

    /// Builds the signer and proves the pair matches with one test signature.
    pub(crate) fn new(
        token: Pkcs11Token,
        label: &str,
        key: ObjectHandle,
        jwk: PublicJwk,
    ) -> Result<Self, Pkcs11Error> {
        let kid = jwk.thumbprint();
        let signer = Pkcs11Signer {
            token,
            label: label.to_owned(),
            key,
            jwk: jwk.with_kid(kid),
        };
        let mismatch = || Pkcs11Error::KeyPairMismatch {
            label: label.to_owned(),
        };
        let probe = b"symbolon-keys key pair check";
        let signature = signer.sign_message(probe)?;
        VerifyingKey::from_jwk(&signer.jwk)
            .map_err(|_| mismatch())?
            .verify(Algorithm::Es256, probe, &signature)
            .map_err(|_| mismatch())?;
        tracing::debug!(
            token = signer.token.label(),
            label,
            kid = signer.jwk.kid(),
            "PKCS#11 signing key opened"
        );
        Ok(signer)
    }

    /// The key's label in the token.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The token holding the key.
    pub fn token(&self) -> &Pkcs11Token {
        &self.token
    }

    /// Signs `message` (hashing it first), returning `r ‖ s`.
    pub fn sign_message(&self, message: &[u8]) -> Result<Vec<u8>, Pkcs11Error> {
        let digest = digest::digest(&digest::SHA256, message);
        let signature = self.token.shared.pool.with_session(|s| {
            s.sign(&Mechanism::Ecdsa, self.key, digest.as_ref())
                .map_err(call("C_Sign"))
        })?;
        if signature.len() != SIGNATURE_LEN {
            return Err(Pkcs11Error::SignatureLength {
                len: signature.len(),
            });
        }
        Ok(signature)
    }
}

impl Signer for Pkcs11Signer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Es256
    }

    fn public_jwk(&self) -> &PublicJwk {
        &self.jwk
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.sign_message(message).map_err(|e| SignError::Backend {
            backend: "pkcs11",
            source: Box::new(e),
        })
    }
}

impl KeySigner for Pkcs11Signer {
    fn protection(&self) -> KeyProtection {
        KeyProtection::Pkcs11
    }
}
