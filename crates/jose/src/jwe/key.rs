//! The recipient's private key for `ECDH-ES` (EC P-256 or P-384). It is a different type
//! from the signing key on purpose: a key published for encryption is never used to sign,
//! and the reverse.

use super::{ECDH_ES, Enc, JweError, kdf};
use crate::jwk::{Curve, JwkError, PrivateJwk, PublicJwk};
use aws_lc_rs::agreement::{self, ECDH_P256, ECDH_P384, UnparsedPublicKey};
use aws_lc_rs::encoding::{AsBigEndian, EcPrivateKeyBin};
use std::fmt;
use zeroize::Zeroizing;

fn agreement_alg(curve: Curve) -> &'static agreement::Algorithm {
    match curve {
        Curve::P256 => &ECDH_P256,
        Curve::P384 => &ECDH_P384,
    }
}

/// An EC private key for decrypting `ECDH-ES` JWEs.
///
/// `Debug` shows only the public key; there is no `Serialize` (export with
/// [`EncryptionKey::to_private_jwk`]). The scalar lives inside aws-lc, which clears it when
/// the key is dropped; copies handed out by `to_private_jwk` are [`Zeroizing`].
pub struct EncryptionKey {
    private: agreement::PrivateKey,
    curve: Curve,
    public: PublicJwk,
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptionKey({:?}, d=<redacted>)", self.public)
    }
}

impl EncryptionKey {
    /// Generates a fresh key on `curve`.
    pub fn generate(curve: Curve) -> Result<Self, JweError> {
        let private =
            agreement::PrivateKey::generate(agreement_alg(curve)).map_err(|_| JweError::Crypto)?;
        Self::from_parts(private, curve)
    }

    fn from_parts(private: agreement::PrivateKey, curve: Curve) -> Result<Self, JweError> {
        let point = private.compute_public_key().map_err(|_| JweError::Crypto)?;
        let public =
            PublicJwk::from_ec_point(curve, point.as_ref()).map_err(|_| JweError::Crypto)?;
        Ok(EncryptionKey {
            private,
            curve,
            public,
        })
    }

    /// Loads a key from a private EC JWK. A `use` other than `enc` or an `alg` other than
    /// `ECDH-ES` is refused, as is a scalar that does not belong to the public point.
    pub fn from_private_jwk(jwk: &PrivateJwk) -> Result<Self, JweError> {
        let public = jwk.public();
        let curve = public
            .curve()
            .ok_or(JweError::UnsupportedKeyType(public.key_type()))?;
        check_metadata(public)?;
        let private = agreement::PrivateKey::from_private_key(agreement_alg(curve), jwk.d())
            .map_err(|_| JweError::InvalidKey(JwkError::BadMember("d")))?;
        let key = Self::from_parts(private, curve)?;
        if !key.public.same_key(public) {
            return Err(JweError::InvalidKey(JwkError::Inconsistent));
        }
        let mut key = key;
        if let Some(kid) = public.kid() {
            key.public = key.public.with_kid(kid);
        }
        Ok(key)
    }

    /// Exports the private key (for writing a key file).
    pub fn to_private_jwk(&self) -> Result<PrivateJwk, JweError> {
        let bin: EcPrivateKeyBin<'_> = self.private.as_be_bytes().map_err(|_| JweError::Crypto)?;
        let d = Zeroizing::new(bin.as_ref().to_vec());
        PrivateJwk::new(self.public.clone(), d).map_err(|_| JweError::Crypto)
    }

    /// Sets the key identifier (reflected in [`EncryptionKey::public_jwk`]).
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.public = self.public.with_kid(kid);
        self
    }

    /// The curve.
    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// The public key, with `kid` when set and no `use`/`alg`.
    pub fn public_jwk(&self) -> &PublicJwk {
        &self.public
    }

    /// The public key as published for encryption (`client_metadata.jwks`,
    /// `credential_response_encryption.jwk`): with `use` `enc` and `alg` `ECDH-ES`.
    pub fn public_jwk_for_encryption(&self) -> PublicJwk {
        self.public.clone().with_use("enc").with_alg(ECDH_ES)
    }

    /// The raw ECDH shared secret `Z` with `peer` (RFC 7518 §4.6.2). Exposed for
    /// known-answer tests of the key agreement; protocol code never needs it.
    #[doc(hidden)]
    pub fn shared_secret(&self, peer: &PublicJwk) -> Result<Zeroizing<Vec<u8>>, JweError> {
        if peer.curve() != Some(self.curve) {
            return Err(JweError::EpkCurveMismatch {
                expected: self.curve.name(),
                found: peer.key_type(),
            });
        }
        let point = peer.sec1_point().unwrap_or_default();
        let peer_key = UnparsedPublicKey::new(agreement_alg(self.curve), point);
        agreement::agree(&self.private, peer_key, JweError::Crypto, |z| {
            Ok(Zeroizing::new(z.to_vec()))
        })
    }

    /// The content encryption key for direct `ECDH-ES` with `peer` (the other side's
    /// public key: the `epk` when decrypting, the recipient when this is the ephemeral key).
    #[doc(hidden)]
    pub fn derive_cek(
        &self,
        peer: &PublicJwk,
        enc: Enc,
        apu: &[u8],
        apv: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, JweError> {
        let z = self.shared_secret(peer)?;
        kdf::concat_kdf(&z, enc.name(), apu, apv, enc.key_len())
    }
}

/// Refuses a key whose metadata says it is for something other than ECDH-ES encryption.
pub(crate) fn check_metadata(jwk: &PublicJwk) -> Result<(), JweError> {
    if let Some(u) = jwk.key_use()
        && u != "enc"
    {
        return Err(JweError::KeyNotForEncryption(u.to_owned()));
    }
    if let Some(a) = jwk.alg()
        && a != ECDH_ES
    {
        return Err(JweError::KeyAlgMismatch(a.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_jwk_round_trip_keeps_kid_and_key() {
        for curve in [Curve::P256, Curve::P384] {
            let k = EncryptionKey::generate(curve).unwrap().with_kid("e1");
            let text = k.to_private_jwk().unwrap().to_json();
            let back =
                EncryptionKey::from_private_jwk(&PrivateJwk::from_json(text.as_bytes()).unwrap())
                    .unwrap();
            assert_eq!(back.public_jwk(), k.public_jwk());
            assert_eq!(back.public_jwk().kid(), Some("e1"));
            let other = EncryptionKey::generate(curve).unwrap();
            assert_eq!(
                *back.shared_secret(other.public_jwk()).unwrap(),
                *other.shared_secret(k.public_jwk()).unwrap()
            );
        }
    }

    #[test]
    fn debug_is_redacted_and_published_key_says_enc() {
        let k = EncryptionKey::generate(Curve::P256).unwrap();
        let dbg = format!("{k:?}");
        assert!(dbg.contains("redacted"), "{dbg}");
        let d = crate::b64::encode(k.to_private_jwk().unwrap().d());
        assert!(!dbg.contains(&d));
        let p = k.public_jwk_for_encryption();
        assert_eq!(p.key_use(), Some("enc"));
        assert_eq!(p.alg(), Some("ECDH-ES"));
    }

    #[test]
    fn rejects_signing_key_metadata() {
        let k = EncryptionKey::generate(Curve::P256).unwrap();
        let pj = k.to_private_jwk().unwrap();
        let sig = PrivateJwk::new(
            pj.public().clone().with_use("sig"),
            Zeroizing::new(pj.d().to_vec()),
        )
        .unwrap();
        assert!(matches!(
            EncryptionKey::from_private_jwk(&sig),
            Err(JweError::KeyNotForEncryption(ref u)) if u == "sig"
        ));
        let es256 = PrivateJwk::new(
            pj.public().clone().with_alg("ES256"),
            Zeroizing::new(pj.d().to_vec()),
        )
        .unwrap();
        assert!(matches!(
            EncryptionKey::from_private_jwk(&es256),
            Err(JweError::KeyAlgMismatch(ref a)) if a == "ES256"
        ));
    }
}
