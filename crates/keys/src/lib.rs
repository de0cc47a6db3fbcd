//! Key stores for Symbolon's signing keys, shared by the issuer (rotating credential-signing
//! keys) and the attester (the A-Key, which never leaves its PKCS#11 token).
//!
//! - [`secret`]: PINs and passphrases read from a file or an environment variable named by
//!   the configuration ([`SecretSource`]); missing or empty is an error naming the source.
//!   [`SecretSetting`] adds the inline form for the roles' bearer tokens.
//! - [`kek`] and [`kdf`]: the key-encryption key ([`Kek`]) from a base64 key or an Argon2id
//!   passphrase.
//! - [`seal`]: AES-256-GCM records bound to a purpose and id; software key records.
//! - [`key_file`]: one software key in an encrypted file ([`key_file::load_or_generate`]).
//! - [`pkcs11`]: keys inside a PKCS#11 token ([`pkcs11::Pkcs11Token`],
//!   [`pkcs11::Pkcs11Signer`]), with an attribute policy checked before use.
//! - [`KeyProtection`] / [`KeySigner`]: every signer here says how its key is protected, so
//!   attestations can state it and an issuer can refuse software keys.
//!
//! All signers implement [`jose::Signer`]. See `docs/keys.md` for operations.

pub mod files;
pub mod kdf;
pub mod kek;
pub mod key_file;
pub mod pkcs11;
mod protection;
pub mod seal;
pub mod secret;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "x509")]
pub mod x509;

pub use kek::{Kek, KekError, KekSource};
pub use key_file::KeyFileError;
pub use protection::{KeyProtection, KeySigner};
pub use seal::{SealError, open_key, seal_key};
pub use secret::{SecretError, SecretSetting, SecretSource};

/// The secret string type used for PINs and passphrases (redacted `Debug`, zeroized on
/// drop, not `Serialize`).
pub use secrecy::{ExposeSecret, SecretString};
