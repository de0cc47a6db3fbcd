//! Why a JWE was refused, or could not be produced. Variants name the RFC 7516/7518 rule
//! that was broken; the two "could not" variants (`Crypto`, `Compression`) say nothing
//! about the input.

use super::Enc;
use crate::error::Part;
use crate::json::JsonError;
use crate::jwk::JwkError;

/// A JWE was refused (decryption) or could not be produced (encryption).
#[derive(Debug, thiserror::Error)]
pub enum JweError {
    /// Not the five dot-separated parts of the compact serialization (RFC 7516 §7.1).
    #[error("not a compact JWE: expected 5 dot-separated parts")]
    NotCompact,
    /// A part is not canonical unpadded base64url.
    #[error("JWE {0} is not valid base64url")]
    Base64(Part),
    /// The protected header is not a JSON object (or repeats a member name).
    #[error("JWE header is not valid JSON: {0}")]
    HeaderJson(JsonError),
    /// A header parameter this implementation requires is absent.
    #[error("JWE header parameter `{0}` is required")]
    MissingHeader(&'static str),
    /// A header parameter has the wrong JSON type, or `apu`/`apv` is not base64url.
    #[error("JWE header parameter `{0}` is malformed")]
    MalformedHeader(&'static str),
    /// `alg` is not `ECDH-ES`, the only key management algorithm implemented.
    #[error("unsupported JWE `alg` `{}` (only ECDH-ES is implemented)", crate::escape_input(.0))]
    UnsupportedAlg(String),
    /// `enc` is not `A128GCM` or `A256GCM`.
    #[error("unsupported JWE `enc` `{}`", crate::escape_input(.0))]
    UnsupportedEnc(String),
    /// `enc` is supported but not in the caller's allow-list.
    #[error("JWE `enc` {0} is not allowed here")]
    EncNotAllowed(Enc),
    /// `zip` names an algorithm other than `DEF` (RFC 7516 §4.1.3).
    #[error("unsupported JWE `zip` `{}`", crate::escape_input(.0))]
    UnsupportedZip(String),
    /// `zip` is present but the caller does not accept compressed plaintext.
    #[error("compressed JWE (`zip`) is not accepted here")]
    ZipNotAllowed,
    /// `crit` is empty, not an array of strings, lists a registered name, or names an
    /// absent parameter (RFC 7516 §4.1.13, RFC 7515 §4.1.11).
    #[error("JWE `crit` header is invalid: {0}")]
    InvalidCrit(&'static str),
    /// `crit` lists an extension the caller does not understand.
    #[error("critical JWE header extension `{}` is not understood", crate::escape_input(.0))]
    UnknownCrit(String),
    /// `epk` is not a valid public EC key (RFC 7518 §4.6.1.1).
    #[error("JWE `epk` is invalid: {0}")]
    InvalidEpk(JwkError),
    /// `epk` is a valid key on another curve than the recipient's key.
    #[error("JWE `epk` is on {found}, the recipient key on {expected}")]
    EpkCurveMismatch {
        /// The recipient key's curve.
        expected: &'static str,
        /// The ephemeral key's type and curve.
        found: &'static str,
    },
    /// The JWE Encrypted Key is not empty, as direct key agreement requires (RFC 7516 §5.2
    /// step 10).
    #[error("JWE encrypted key must be empty for ECDH-ES")]
    EncryptedKeyNotEmpty,
    /// The initialization vector is not 96 bits (RFC 7518 §5.3).
    #[error("JWE initialization vector is {0} bytes, AES-GCM requires 12")]
    IvLength(usize),
    /// The authentication tag is not 128 bits (RFC 7518 §5.3).
    #[error("JWE authentication tag is {0} bytes, AES-GCM requires 16")]
    TagLength(usize),
    /// The authentication tag does not verify: wrong key, or the JWE was altered.
    #[error("JWE authentication tag does not verify")]
    Decryption,
    /// The (compressed) ciphertext is larger than the caller accepts.
    #[error("JWE plaintext would exceed {max} bytes")]
    PlaintextTooLarge {
        /// The caller's limit.
        max: usize,
    },
    /// `zip` is `DEF` but the plaintext is not one complete raw DEFLATE stream.
    #[error("JWE plaintext is not valid DEFLATE data")]
    InvalidDeflate,
    /// The plaintext inflates to more than the caller accepts.
    #[error("JWE plaintext inflates to more than {max} bytes")]
    InflatedTooLarge {
        /// The caller's limit.
        max: usize,
    },
    /// The key (recipient JWK or private key) is not an EC P-256/P-384 key.
    #[error("ECDH-ES needs an EC P-256 or P-384 key, not {0}")]
    UnsupportedKeyType(&'static str),
    /// The private key is not valid (scalar out of range or not matching its public key).
    #[error("JWE private key is invalid: {0}")]
    InvalidKey(JwkError),
    /// The key (recipient JWK or private key) says it is not for encryption (`use`).
    #[error("key `use` is `{}`, not `enc`", crate::escape_input(.0))]
    KeyNotForEncryption(String),
    /// The key (recipient JWK or private key) names another key management `alg`.
    #[error("key `alg` is `{}`, not `ECDH-ES`", crate::escape_input(.0))]
    KeyAlgMismatch(String),
    /// A Concat KDF input is longer than its 32-bit length prefix can state.
    #[error("Concat KDF input is too long")]
    KdfInputTooLong,
    /// The crypto library failed (key generation, agreement, randomness or sealing); says
    /// nothing about the input.
    #[error("JWE cryptographic operation failed")]
    Crypto,
    /// Compressing the plaintext failed.
    #[error("compressing the JWE plaintext failed")]
    Compression,
}
