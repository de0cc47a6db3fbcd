//! Keys inside a PKCS#11 token (SoftHSM2 in tests, any PKCS#11 HSM in production), on the
//! `cryptoki` binding.
//!
//! - [`Pkcs11Config`]: module path, token label (default `IMMERSE`), user PIN source, key
//!   label (default `A-Key`), session bound.
//! - [`Pkcs11Token`]: the module is loaded and `C_Initialize`d once per process; the slot is
//!   found by token label (slot ids are not stable: SoftHSM assigns random ones); the user
//!   logs in once; sessions come from a pool. Key operations: [`Pkcs11Token::signer`],
//!   [`Pkcs11Token::init_key`], [`Pkcs11Token::generate_key`], [`Pkcs11Token::list_keys`],
//!   [`Pkcs11Token::destroy_key`].
//! - [`Pkcs11Signer`]: a [`jose::Signer`] for ES256 whose key never leaves the token.
//!
//! Before a key is used its attributes are checked: a key that could be
//! extracted, read, or used to decrypt, unwrap or derive is refused with an error naming the
//! attribute. The PIN is held in a `SecretString` and never logged.

pub mod config;
mod error;
mod module;
mod policy;
mod pool;
mod signer;
mod token;

#[cfg(test)]
mod tests;

pub use config::{Pkcs11Config, Pkcs11ConfigError, RawPkcs11Config};
pub use cryptoki::error::RvError;
pub use error::{Pkcs11Error, ckr_name};
pub use signer::Pkcs11Signer;
pub use token::{Pkcs11Token, TokenKey};
