//! Signing and verification keys. [`Signer`] is the one interface through which software
//! keys, PKCS#11 keys and TPM keys sign JWS; [`VerifyingKey`] holds a public key parsed
//! once and reused for every verification.

use crate::Error;
use crate::alg::Algorithm;
use crate::jwk::{Curve, JwkError, PrivateJwk, PublicJwk};
use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, ParsedPublicKey};
use std::fmt;
use zeroize::Zeroizing;

/// Signing failed (could not produce a signature; says nothing about any input's validity).
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The software crypto library refused to sign.
    #[error("software signing failed")]
    Crypto,
    /// A hardware or remote signer failed; the source says which call.
    #[error("{backend} signer failed: {source}")]
    Backend {
        /// `pkcs11`, `tpm`, `client`, ...
        backend: &'static str,
        /// The backend's own error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Something that signs JWS signing inputs with one key and one algorithm.
///
/// Implementations return the signature in JWS form: `r ‖ s` (fixed length) for ECDSA,
/// the 64-byte signature for Ed25519.
pub trait Signer: Send + Sync {
    /// The algorithm written into `alg`.
    fn algorithm(&self) -> Algorithm;
    /// The public key (with `kid` when the key has one).
    fn public_jwk(&self) -> &PublicJwk;
    /// Signs `message` (the ASCII JWS signing input).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;
    /// The key identifier to put into `kid`, if any.
    fn key_id(&self) -> Option<&str> {
        self.public_jwk().kid()
    }
}

impl<S: Signer + ?Sized> Signer for std::sync::Arc<S> {
    fn algorithm(&self) -> Algorithm {
        (**self).algorithm()
    }
    fn public_jwk(&self) -> &PublicJwk {
        (**self).public_jwk()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        (**self).sign(message)
    }
    fn key_id(&self) -> Option<&str> {
        (**self).key_id()
    }
}

enum Inner {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A software key on aws-lc-rs. `Debug` shows only the public key.
pub struct SoftwareSigner {
    inner: Inner,
    jwk: PublicJwk,
}

impl fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SoftwareSigner({:?})", self.jwk)
    }
}

fn ecdsa_alg(curve: Curve) -> &'static signature::EcdsaSigningAlgorithm {
    match curve {
        Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
    }
}

impl SoftwareSigner {
    /// Generates a fresh key pair.
    pub fn generate(alg: Algorithm) -> Result<Self, SignError> {
        match alg {
            Algorithm::Es256 | Algorithm::Es384 => {
                let curve = if alg == Algorithm::Es256 {
                    Curve::P256
                } else {
                    Curve::P384
                };
                let kp = EcdsaKeyPair::generate(ecdsa_alg(curve)).map_err(|_| SignError::Crypto)?;
                let jwk = PublicJwk::from_ec_point(curve, kp.public_key().as_ref())
                    .map_err(|_| SignError::Crypto)?;
                Ok(SoftwareSigner {
                    inner: Inner::Ecdsa(kp),
                    jwk,
                })
            }
            Algorithm::Ed25519 => {
                let kp = Ed25519KeyPair::generate().map_err(|_| SignError::Crypto)?;
                let mut x = [0u8; 32];
                let pk = kp.public_key().as_ref();
                if pk.len() != 32 {
                    return Err(SignError::Crypto);
                }
                x.copy_from_slice(pk);
                Ok(SoftwareSigner {
                    inner: Inner::Ed25519(kp),
                    jwk: PublicJwk::from_ed25519(x),
                })
            }
        }
    }

    /// Loads a key from a private JWK (checks that `d` matches the public key).
    pub fn from_private_jwk(jwk: &PrivateJwk) -> Result<Self, JwkError> {
        let public = jwk.public().clone();
        let inner = match public.curve() {
            Some(curve) => {
                let point = public.sec1_point().unwrap_or_default();
                Inner::Ecdsa(
                    EcdsaKeyPair::from_private_key_and_public_key(
                        ecdsa_alg(curve),
                        jwk.d(),
                        &point,
                    )
                    .map_err(|_| JwkError::Inconsistent)?,
                )
            }
            None => Inner::Ed25519(
                Ed25519KeyPair::from_seed_and_public_key(jwk.d(), &public.raw_public_key())
                    .map_err(|_| JwkError::Inconsistent)?,
            ),
        };
        Ok(SoftwareSigner { inner, jwk: public })
    }

    /// Exports the private key (for writing an encrypted key file).
    pub fn to_private_jwk(&self) -> Result<PrivateJwk, SignError> {
        let d: Zeroizing<Vec<u8>> = match &self.inner {
            Inner::Ecdsa(kp) => {
                let bin = kp
                    .private_key()
                    .as_be_bytes()
                    .map_err(|_| SignError::Crypto)?;
                Zeroizing::new(bin.as_ref().to_vec())
            }
            Inner::Ed25519(kp) => {
                let seed = kp.seed().map_err(|_| SignError::Crypto)?;
                let bin = seed.as_be_bytes().map_err(|_| SignError::Crypto)?;
                Zeroizing::new(bin.as_ref().to_vec())
            }
        };
        PrivateJwk::new(self.jwk.clone(), d).map_err(|_| SignError::Crypto)
    }

    /// Sets the key identifier (reflected in [`Signer::public_jwk`] and `kid`).
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.jwk = self.jwk.with_kid(kid);
        self
    }
}

impl Signer for SoftwareSigner {
    fn algorithm(&self) -> Algorithm {
        self.jwk.signing_algorithm()
    }
    fn public_jwk(&self) -> &PublicJwk {
        &self.jwk
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        match &self.inner {
            Inner::Ecdsa(kp) => {
                let rng = aws_lc_rs::rand::SystemRandom::new();
                Ok(kp
                    .sign(&rng, message)
                    .map_err(|_| SignError::Crypto)?
                    .as_ref()
                    .to_vec())
            }
            Inner::Ed25519(kp) => Ok(kp.sign(message).as_ref().to_vec()),
        }
    }
}

/// A public key parsed once for repeated verification (cheap to clone).
#[derive(Clone)]
pub struct VerifyingKey {
    jwk: PublicJwk,
    alg: Algorithm,
    parsed: std::sync::Arc<ParsedPublicKey>,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({:?})", self.jwk)
    }
}

impl VerifyingKey {
    /// Parses a public JWK for verification. A key whose `use` is not `sig` is refused.
    pub fn from_jwk(jwk: &PublicJwk) -> Result<Self, JwkError> {
        if let Some(u) = jwk.key_use()
            && u != "sig"
        {
            return Err(JwkError::WrongUse(u.to_owned()));
        }
        let alg = jwk.signing_algorithm();
        if let Some(a) = jwk.alg()
            && Algorithm::from_name(a) != Some(alg)
        {
            return Err(JwkError::AlgMismatch(a.to_owned()));
        }
        let valg: &'static dyn signature::VerificationAlgorithm = match alg {
            Algorithm::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
            Algorithm::Es384 => &signature::ECDSA_P384_SHA384_FIXED,
            Algorithm::Ed25519 => &signature::ED25519,
        };
        let parsed =
            ParsedPublicKey::new(valg, jwk.raw_public_key()).map_err(|_| JwkError::InvalidPoint)?;
        Ok(VerifyingKey {
            jwk: jwk.clone(),
            alg,
            parsed: std::sync::Arc::new(parsed),
        })
    }

    /// The key as a JWK.
    pub fn jwk(&self) -> &PublicJwk {
        &self.jwk
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Verifies `signature` over `message` for `alg`.
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> Result<(), Error> {
        if alg != self.alg {
            return Err(Error::KeyAlgorithmMismatch {
                alg,
                key: self.jwk.key_type(),
            });
        }
        if signature.len() != alg.signature_len() {
            return Err(Error::InvalidSignature);
        }
        self.parsed
            .verify_sig(message, signature)
            .map_err(|_| Error::InvalidSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_round_trips_through_private_jwk() {
        for alg in Algorithm::ALL {
            let s = SoftwareSigner::generate(alg).unwrap();
            let sig = s.sign(b"hello").unwrap();
            assert_eq!(sig.len(), alg.signature_len());
            let vk = VerifyingKey::from_jwk(s.public_jwk()).unwrap();
            vk.verify(alg, b"hello", &sig).unwrap();
            assert!(vk.verify(alg, b"hellO", &sig).is_err());
            let pj = s.to_private_jwk().unwrap();
            let text = pj.to_json();
            let back = PrivateJwk::from_json(text.as_bytes()).unwrap();
            let s2 = SoftwareSigner::from_private_jwk(&back).unwrap();
            vk.verify(alg, b"x", &s2.sign(b"x").unwrap()).unwrap();
        }
    }

    #[test]
    fn rejects_signature_of_other_algorithm_length() {
        let s = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let vk = VerifyingKey::from_jwk(s.public_jwk()).unwrap();
        assert!(matches!(
            vk.verify(Algorithm::Es384, b"m", &[0; 96]),
            Err(Error::KeyAlgorithmMismatch { .. })
        ));
        assert!(matches!(
            vk.verify(Algorithm::Es256, b"m", &[0; 63]),
            Err(Error::InvalidSignature)
        ));
    }

    #[test]
    fn rejects_encryption_key_for_signatures() {
        let s = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let jwk = s.public_jwk().clone().with_use("enc");
        assert!(matches!(
            VerifyingKey::from_jwk(&jwk),
            Err(JwkError::WrongUse(_))
        ));
        let jwk = s.public_jwk().clone().with_alg("ES384");
        assert!(matches!(
            VerifyingKey::from_jwk(&jwk),
            Err(JwkError::AlgMismatch(_))
        ));
    }
}
