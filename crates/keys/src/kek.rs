//! The key-encryption key ([`Kek`]) that protects software private keys at rest, and the
//! two ways to obtain one:
//!
//! - **a random 256-bit key**, given as base64 text through a [`SecretSource`] (a mounted
//!   secret file or an environment variable). This is the form for services: no KDF cost at
//!   startup, and the key has full entropy. Generate one with `openssl rand -base64 32`.
//! - **a passphrase**, stretched with Argon2id (RFC 9106) using the salt and parameters
//!   stored in a small salt file next to the key files ([`crate::kdf`]). This is the form for
//!   a person (the command-line wallet's holder key).
//!
//! A KEK carries a short identifier (an HMAC of a fixed label under the key) that sealed
//! records repeat in their header, so opening a record with another KEK is reported as
//! [`crate::SealError::WrongKek`] rather than as a corrupted record.

use crate::kdf::{KdfError, KdfParams, KekSalt};
use crate::secret::{SecretError, SecretSource};
use aws_lc_rs::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use aws_lc_rs::hmac;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;
use zeroize::Zeroizing;

/// Length of a KEK in bytes (AES-256).
pub const KEK_LEN: usize = 32;

/// Length of the KEK identifier stored in sealed records.
pub const KEK_ID_LEN: usize = 8;

/// A 256-bit key-encryption key for AES-256-GCM. `Debug` shows only its identifier; the key
/// bytes are zeroized as soon as the cipher is set up and never leave this type.
pub struct Kek {
    aead: LessSafeKey,
    id: [u8; KEK_ID_LEN],
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kek(id={})", jose::b64::encode(self.id))
    }
}

/// Why a KEK could not be built.
#[derive(Debug, thiserror::Error)]
pub enum KekError {
    /// The KEK or passphrase secret could not be read.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The KEK text is not base64 (standard with padding, or base64url without).
    #[error("the key-encryption key from {source_name} is not base64")]
    NotBase64 {
        /// Where the key was read.
        source_name: SecretSource,
    },
    /// The KEK does not decode to exactly 32 bytes.
    #[error("the key-encryption key from {source_name} is {len} bytes; it must be {KEK_LEN}")]
    WrongLength {
        /// Where the key was read.
        source_name: SecretSource,
        /// The decoded length.
        len: usize,
    },
    /// The passphrase could not be stretched (salt file or parameters).
    #[error(transparent)]
    Kdf(#[from] KdfError),
    /// The crypto library refused the key.
    #[error("the crypto library refused the key-encryption key")]
    Crypto,
}

const KEK_ID_LABEL: &[u8] = b"symbolon-keys kek-id v1";

impl Kek {
    /// Builds a KEK from raw key bytes.
    pub fn from_bytes(key: &[u8; KEK_LEN]) -> Result<Self, KekError> {
        let unbound = UnboundKey::new(&AES_256_GCM, key).map_err(|_| KekError::Crypto)?;
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), KEK_ID_LABEL);
        let mut id = [0u8; KEK_ID_LEN];
        for (dst, src) in id.iter_mut().zip(tag.as_ref()) {
            *dst = *src;
        }
        Ok(Kek {
            aead: LessSafeKey::new(unbound),
            id,
        })
    }

    /// Generates a random KEK (for tests and for tooling that prints a new one).
    pub fn generate(rng: &dyn jose::Random) -> Result<Self, KekError> {
        let mut key = Zeroizing::new([0u8; KEK_LEN]);
        rng.fill(&mut *key).map_err(|_| KekError::Crypto)?;
        Self::from_bytes(&key)
    }

    /// Builds a KEK from base64 text: standard base64 with padding (as `openssl rand
    /// -base64 32` prints it) or unpadded base64url. Surrounding whitespace is ignored.
    /// `source` only names where the text came from, for errors.
    pub fn from_base64(text: &SecretString, source: &SecretSource) -> Result<Self, KekError> {
        let t = text.expose_secret().trim();
        let bytes = Zeroizing::new(
            jose::b64::decode_std(t)
                .or_else(|| jose::b64::decode(t))
                .ok_or_else(|| KekError::NotBase64 {
                    source_name: source.clone(),
                })?,
        );
        let key: &[u8; KEK_LEN] =
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| KekError::WrongLength {
                    source_name: source.clone(),
                    len: bytes.len(),
                })?;
        Self::from_bytes(key)
    }

    /// Derives a KEK from a passphrase with Argon2id and the given salt and parameters.
    pub fn from_passphrase(passphrase: &SecretString, salt: &KekSalt) -> Result<Self, KekError> {
        let key = salt.derive(passphrase.expose_secret().as_bytes())?;
        Self::from_bytes(&key)
    }

    /// The identifier sealed records carry (not secret: an HMAC of a fixed label).
    pub fn id(&self) -> &[u8; KEK_ID_LEN] {
        &self.id
    }

    pub(crate) fn aead(&self) -> &LessSafeKey {
        &self.aead
    }
}

/// Where the KEK comes from (typed configuration).
///
/// In TOML, either `kek = { key = { env = "ISSUER_KEK" } }` (any variable name the deployment
/// chooses outside the `SYMBOLON_` prefix, which is reserved for configuration keys) or
/// `kek = { passphrase = { file = "/run/secrets/pass" }, salt_file = "/data/kek.salt" }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawKekSource")]
pub enum KekSource {
    /// A random 32-byte key as base64 text.
    Key(SecretSource),
    /// A passphrase stretched with Argon2id; the salt and parameters live in `salt_file`,
    /// created with `params` on first use.
    Passphrase {
        /// Where the passphrase is read.
        passphrase: SecretSource,
        /// The salt file (created on first use, never overwritten).
        salt_file: PathBuf,
        /// Parameters for a new salt file; an existing file's own parameters win.
        params: KdfParams,
    },
}

/// Written back as the table it is read from (where the key or passphrase is read, never
/// its value); the Argon2id parameters live in the salt file, not in configuration.
impl serde::Serialize for KekSource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        match self {
            KekSource::Key(source) => m.serialize_entry("key", source)?,
            KekSource::Passphrase {
                passphrase,
                salt_file,
                ..
            } => {
                m.serialize_entry("passphrase", passphrase)?;
                m.serialize_entry("salt_file", salt_file)?;
            }
        }
        m.end()
    }
}

/// The raw form of [`KekSource`] as a configuration table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKekSource {
    /// Where the base64 key is read.
    pub key: Option<crate::secret::RawSecretSource>,
    /// Where the passphrase is read.
    pub passphrase: Option<crate::secret::RawSecretSource>,
    /// The salt file for `passphrase`.
    pub salt_file: Option<String>,
}

/// Why a KEK configuration is not usable.
#[derive(Debug, thiserror::Error)]
pub enum KekConfigError {
    /// Both `key` and `passphrase` are set.
    #[error("`kek.key` and `kek.passphrase` cannot be used together: give one")]
    BothKeyAndPassphrase,
    /// Neither `key` nor `passphrase` is set.
    #[error("`kek` needs `key` (base64 key) or `passphrase` (with `salt_file`)")]
    NoKeyOrPassphrase,
    /// `passphrase` without `salt_file`.
    #[error("`kek.passphrase` needs `kek.salt_file`")]
    MissingSaltFile,
    /// `salt_file` with `key`: the salt would be ignored.
    #[error("`kek.key` and `kek.salt_file` cannot be used together: a base64 key takes no salt")]
    SaltFileWithKey,
    /// A secret reference is malformed.
    #[error(transparent)]
    Secret(#[from] SecretError),
}

impl TryFrom<RawKekSource> for KekSource {
    type Error = KekConfigError;

    fn try_from(raw: RawKekSource) -> Result<Self, KekConfigError> {
        match (raw.key, raw.passphrase, raw.salt_file) {
            (Some(_), Some(_), _) => Err(KekConfigError::BothKeyAndPassphrase),
            (None, None, _) => Err(KekConfigError::NoKeyOrPassphrase),
            (Some(_), None, Some(_)) => Err(KekConfigError::SaltFileWithKey),
            (Some(k), None, None) => Ok(KekSource::Key(k.try_into()?)),
            (None, Some(_), None) => Err(KekConfigError::MissingSaltFile),
            (None, Some(p), Some(salt)) => Ok(KekSource::Passphrase {
                passphrase: p.try_into()?,
                salt_file: salt.into(),
                params: KdfParams::default(),
            }),
        }
    }
}

impl KekSource {
    /// Reads the secret and builds the KEK (for a passphrase: reads or creates the salt file
    /// and runs Argon2id, which takes a noticeable fraction of a second by design).
    pub fn load(&self) -> Result<Kek, KekError> {
        match self {
            KekSource::Key(source) => Kek::from_base64(&source.load()?, source),
            KekSource::Passphrase {
                passphrase,
                salt_file,
                params,
            } => {
                let salt = KekSalt::load_or_create(salt_file, *params)?;
                Kek::from_passphrase(&passphrase.load()?, &salt)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> SecretSource {
        SecretSource::Env("KEK".into())
    }

    #[test]
    fn accepts_standard_and_url_base64() {
        let key = [7u8; 32];
        let std = SecretString::from(format!("{}\n", jose::b64::encode_std(key)));
        let url = SecretString::from(jose::b64::encode(key));
        let a = Kek::from_base64(&std, &src()).unwrap();
        let b = Kek::from_base64(&url, &src()).unwrap();
        assert_eq!(a.id(), b.id());
        assert_eq!(a.id(), Kek::from_bytes(&key).unwrap().id());
        assert_ne!(a.id(), Kek::from_bytes(&[8u8; 32]).unwrap().id());
    }

    #[test]
    fn rejects_kek_of_wrong_length() {
        let short = SecretString::from(jose::b64::encode_std([1u8; 16]));
        assert!(matches!(
            Kek::from_base64(&short, &src()),
            Err(KekError::WrongLength { len: 16, .. })
        ));
    }

    #[test]
    fn rejects_kek_that_is_not_base64() {
        let text = SecretString::from("not base64 at all!");
        let err = Kek::from_base64(&text, &src()).unwrap_err();
        assert!(matches!(err, KekError::NotBase64 { .. }));
        assert!(err.to_string().contains("`KEK`"));
    }

    #[test]
    fn debug_shows_only_the_identifier() {
        let kek = Kek::from_bytes(&[9u8; 32]).unwrap();
        let shown = format!("{kek:?}");
        assert!(shown.starts_with("Kek(id="));
        assert!(!shown.contains(&jose::b64::encode([9u8; 32])));
    }

    #[test]
    fn rejects_incompatible_config() {
        let key = Some(crate::secret::RawSecretSource {
            env: Some("K".into()),
            file: None,
        });
        let both = RawKekSource {
            key: key.clone(),
            passphrase: key.clone(),
            salt_file: None,
        };
        assert!(matches!(
            KekSource::try_from(both),
            Err(KekConfigError::BothKeyAndPassphrase)
        ));
        let no_salt = RawKekSource {
            passphrase: key.clone(),
            ..Default::default()
        };
        assert!(matches!(
            KekSource::try_from(no_salt),
            Err(KekConfigError::MissingSaltFile)
        ));
        let salt_with_key = RawKekSource {
            key: key.clone(),
            salt_file: Some("s".into()),
            ..Default::default()
        };
        assert!(matches!(
            KekSource::try_from(salt_with_key),
            Err(KekConfigError::SaltFileWithKey)
        ));
        assert!(matches!(
            KekSource::try_from(RawKekSource::default()),
            Err(KekConfigError::NoKeyOrPassphrase)
        ));
        let ok = RawKekSource {
            key,
            ..Default::default()
        };
        assert_eq!(
            KekSource::try_from(ok).unwrap(),
            KekSource::Key(SecretSource::Env("K".into()))
        );
    }
}
