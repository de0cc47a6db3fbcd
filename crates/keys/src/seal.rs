//! Sealed records: AES-256-GCM under a [`Kek`], for private keys at rest.
//!
//! Layout (version 1), all of it kept as bytes:
//!
//! ```text
//! offset  0   1 byte   version = 0x01
//!         1   8 bytes  KEK identifier (Kek::id)
//!         9  12 bytes  nonce (random for every seal)
//!        21   n bytes  ciphertext
//!      21+n  16 bytes  GCM tag
//! ```
//!
//! The GCM associated data is `version ‖ KEK id ‖ caller's associated data`. The caller's
//! part names what the record is for and which one it is (see [`key_record_aad`]), so a
//! record cannot be moved to another purpose or slot without failing authentication. The
//! random 96-bit nonce is safe for far more than the number of records a key store writes
//! under one KEK (NIST SP 800-38D's 2^32 limit).
//!
//! A *software key record* is the sealed text of a private JWK ([`seal_key`] /
//! [`open_key`]).

use crate::kek::{KEK_ID_LEN, Kek};
use aws_lc_rs::aead::{Aad, NONCE_LEN, Nonce};
use jose::{PrivateJwk, SoftwareSigner};
use zeroize::Zeroizing;

/// The record format version written by [`seal`].
pub const VERSION: u8 = 1;

const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + KEK_ID_LEN + NONCE_LEN;

/// Smallest possible record (empty plaintext).
pub const MIN_RECORD_LEN: usize = HEADER_LEN + TAG_LEN;

/// Why a record could not be sealed or opened.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The record is shorter than header and tag.
    #[error("sealed record is truncated ({len} bytes; at least {MIN_RECORD_LEN} needed)")]
    Truncated {
        /// The record's length.
        len: usize,
    },
    /// The record has a version this code does not read.
    #[error("sealed record has unsupported version {0}")]
    UnsupportedVersion(u8),
    /// The record was sealed under another KEK.
    #[error("sealed record was sealed under another key-encryption key")]
    WrongKek,
    /// The record does not authenticate: it was altered, or it belongs to another purpose or
    /// key id than the associated data given.
    #[error("sealed record does not authenticate (tampered, or bound to another purpose or id)")]
    NotAuthentic,
    /// The plaintext inside is not a private JWK.
    #[error("sealed record does not hold a valid private JWK: {0}")]
    NotAKey(jose::JwkError),
    /// The crypto library or the random generator failed.
    #[error("the crypto library failed to seal")]
    Crypto,
}

/// Seals `plaintext` under `kek`, bound to `aad`, with a nonce from the system generator.
pub fn seal(kek: &Kek, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
    seal_with_rng(kek, aad, plaintext, &jose::SystemRandom)
}

/// [`seal`] with an injected random generator.
pub fn seal_with_rng(
    kek: &Kek,
    aad: &[u8],
    plaintext: &[u8],
    rng: &dyn jose::Random,
) -> Result<Vec<u8>, SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce).map_err(|_| SealError::Crypto)?;
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
    out.push(VERSION);
    out.extend_from_slice(kek.id());
    out.extend_from_slice(&nonce);
    let full_aad = full_aad(VERSION, kek.id(), aad);
    let mut body = Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
    body.extend_from_slice(plaintext);
    kek.aead()
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&full_aad),
            &mut *body,
        )
        .map_err(|_| SealError::Crypto)?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Opens a record sealed by [`seal`] with the same KEK and associated data. The plaintext
/// zeroizes itself on drop.
pub fn open(kek: &Kek, aad: &[u8], record: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let truncated = || SealError::Truncated { len: record.len() };
    // The header is split off by type, so a short record is an error, never a panic; the
    // minimum also counts the tag, which the AEAD finds at the end of `body`.
    if record.len() < MIN_RECORD_LEN {
        return Err(truncated());
    }
    let (header, body) = record
        .split_first_chunk::<HEADER_LEN>()
        .ok_or_else(truncated)?;
    let (version, rest) = header.split_first().ok_or_else(truncated)?;
    if *version != VERSION {
        return Err(SealError::UnsupportedVersion(*version));
    }
    let (kek_id, nonce) = rest
        .split_first_chunk::<KEK_ID_LEN>()
        .ok_or_else(truncated)?;
    // Not secret (a fixed-label HMAC), so a plain comparison is fine.
    if kek_id != kek.id() {
        return Err(SealError::WrongKek);
    }
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| truncated())?;
    let full_aad = full_aad(*version, kek.id(), aad);
    let mut buf = Zeroizing::new(body.to_vec());
    let plain_len = kek
        .aead()
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&full_aad),
            &mut buf,
        )
        .map_err(|_| SealError::NotAuthentic)?
        .len();
    buf.truncate(plain_len);
    Ok(buf)
}

fn full_aad(version: u8, kek_id: &[u8; KEK_ID_LEN], aad: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + KEK_ID_LEN + aad.len());
    v.push(version);
    v.extend_from_slice(kek_id);
    v.extend_from_slice(aad);
    v
}

/// The associated data for a software key record: a fixed purpose label and the key's
/// identifier (its file name or database id), separated by a NUL so that no id can extend
/// the label.
pub fn key_record_aad(key_id: &str) -> Vec<u8> {
    let mut v = b"symbolon-keys software-key v1\0".to_vec();
    v.extend_from_slice(key_id.as_bytes());
    v
}

/// Seals a software key as a key record bound to `key_id`.
pub fn seal_key(kek: &Kek, key_id: &str, key: &SoftwareSigner) -> Result<Vec<u8>, SealError> {
    let jwk = key.to_private_jwk().map_err(|_| SealError::Crypto)?;
    // The kid is not stored: it is derived (the thumbprint) when the key is opened.
    let bare = PrivateJwk::new(jwk.public().bare(), Zeroizing::new(jwk.d().to_vec()))
        .map_err(SealError::NotAKey)?;
    seal(kek, &key_record_aad(key_id), bare.to_json().as_bytes())
}

/// Opens a key record sealed by [`seal_key`] for the same `key_id`. The signer's `kid` is
/// the RFC 7638 thumbprint of its public key.
pub fn open_key(kek: &Kek, key_id: &str, record: &[u8]) -> Result<SoftwareSigner, SealError> {
    let text = open(kek, &key_record_aad(key_id), record)?;
    let jwk = PrivateJwk::from_json(&text).map_err(SealError::NotAKey)?;
    let signer = SoftwareSigner::from_private_jwk(&jwk).map_err(SealError::NotAKey)?;
    let kid = jwk.public().thumbprint();
    Ok(signer.with_kid(kid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jose::{Algorithm, Signer, VerifyingKey};
    use proptest::prelude::*;

    fn kek(b: u8) -> Kek {
        Kek::from_bytes(&[b; 32]).unwrap()
    }

    proptest! {
        #[test]
        fn seal_open_round_trips(plain in proptest::collection::vec(any::<u8>(), 0..512),
                                 aad in proptest::collection::vec(any::<u8>(), 0..64)) {
            let k = kek(1);
            let rec = seal(&k, &aad, &plain).unwrap();
            prop_assert_eq!(rec.len(), MIN_RECORD_LEN + plain.len());
            prop_assert_eq!(&*open(&k, &aad, &rec).unwrap(), &plain);
        }

        #[test]
        fn rejects_any_single_bit_flip(pos in 0usize..(MIN_RECORD_LEN + 8), bit in 0u8..8) {
            let k = kek(1);
            let mut rec = seal(&k, b"purpose", b"8 bytes!").unwrap();
            rec[pos] ^= 1 << bit;
            let err = open(&k, b"purpose", &rec).unwrap_err();
            let expected = match pos {
                0 => SealError::UnsupportedVersion(rec[0]),
                1..=8 => SealError::WrongKek,
                _ => SealError::NotAuthentic,
            };
            prop_assert_eq!(err, expected);
        }
    }

    #[test]
    fn nonces_differ_between_seals() {
        let k = kek(1);
        let a = seal(&k, b"", b"same").unwrap();
        let b = seal(&k, b"", b"same").unwrap();
        assert_ne!(a[9..21], b[9..21]);
        assert_ne!(a, b);
    }

    #[test]
    fn rejects_wrong_kek() {
        let rec = seal(&kek(1), b"p", b"secret").unwrap();
        assert_eq!(open(&kek(2), b"p", &rec).unwrap_err(), SealError::WrongKek);
    }

    #[test]
    fn rejects_tampered_ciphertext() {
        let mut rec = seal(&kek(1), b"p", b"secret").unwrap();
        rec[HEADER_LEN] ^= 0x01;
        assert_eq!(
            open(&kek(1), b"p", &rec).unwrap_err(),
            SealError::NotAuthentic
        );
        let mut rec = seal(&kek(1), b"p", b"secret").unwrap();
        let last = rec.len() - 1;
        rec[last] ^= 0x80;
        assert_eq!(
            open(&kek(1), b"p", &rec).unwrap_err(),
            SealError::NotAuthentic
        );
    }

    #[test]
    fn rejects_wrong_associated_data() {
        let rec = seal(&kek(1), &key_record_aad("issuer-1"), b"secret").unwrap();
        assert_eq!(
            open(&kek(1), &key_record_aad("issuer-2"), &rec).unwrap_err(),
            SealError::NotAuthentic
        );
    }

    #[test]
    fn rejects_truncated_record() {
        let rec = seal(&kek(1), b"p", b"secret").unwrap();
        assert_eq!(
            open(&kek(1), b"p", &rec[..MIN_RECORD_LEN - 1]).unwrap_err(),
            SealError::Truncated {
                len: MIN_RECORD_LEN - 1
            }
        );
        // Cutting into the ciphertext keeps the length plausible but breaks the tag.
        assert_eq!(
            open(&kek(1), b"p", &rec[..rec.len() - 1]).unwrap_err(),
            SealError::NotAuthentic
        );
        assert_eq!(
            open(&kek(1), b"p", &[]).unwrap_err(),
            SealError::Truncated { len: 0 }
        );
    }

    #[test]
    fn rejects_unknown_version() {
        let mut rec = seal(&kek(1), b"p", b"secret").unwrap();
        rec[0] = 2;
        assert_eq!(
            open(&kek(1), b"p", &rec).unwrap_err(),
            SealError::UnsupportedVersion(2)
        );
    }

    #[test]
    fn key_record_round_trips_for_every_algorithm() {
        for alg in Algorithm::ALL {
            let s = SoftwareSigner::generate(alg).unwrap();
            let rec = seal_key(&kek(3), "k1", &s).unwrap();
            let back = open_key(&kek(3), "k1", &rec).unwrap();
            assert!(back.public_jwk().same_key(s.public_jwk()));
            assert_eq!(back.key_id(), Some(s.public_jwk().thumbprint().as_str()));
            let vk = VerifyingKey::from_jwk(s.public_jwk()).unwrap();
            vk.verify(alg, b"m", &back.sign(b"m").unwrap()).unwrap();
        }
    }

    #[test]
    fn rejects_key_record_that_holds_no_key() {
        let rec = seal(&kek(3), &key_record_aad("k1"), b"{\"kty\":\"EC\"}").unwrap();
        assert!(matches!(
            open_key(&kek(3), "k1", &rec),
            Err(SealError::NotAKey(_))
        ));
    }

    #[test]
    fn key_record_does_not_contain_the_private_scalar_in_clear() {
        let s = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let d = jose::b64::encode(s.to_private_jwk().unwrap().d());
        let rec = seal_key(&kek(3), "k1", &s).unwrap();
        let d_raw = s.to_private_jwk().unwrap().d().to_vec();
        assert!(!rec.windows(d_raw.len()).any(|w| w == d_raw));
        assert!(!rec.windows(d.len()).any(|w| w == d.as_bytes()));
    }
}
