//! JOSE for Symbolon: compact JWS, JWK (with RFC 7638 thumbprints), JWT time checks,
//! compact JWE with direct `ECDH-ES` key agreement, and `x5c` chain validation.
//!
//! Everything here is strict by construction:
//! - the caller always supplies the algorithm allow-list ([`JwsPolicy`]); there is no
//!   default, `none` is always rejected, and an unknown `crit` name is rejected;
//! - JSON members are parsed once, duplicates are refused ([`json`]);
//! - private keys live in [`PrivateJwk`] / [`SoftwareSigner`], which redact `Debug`,
//!   zeroize on drop and never implement `Serialize`;
//! - signatures are computed and checked over the bytes as received.
//!
//! The crate does no I/O. Time comes from an injected [`Clock`].
//!
//! # JWE
//!
//! [`jwe`] implements compact JWE (RFC 7516) with direct key agreement `ECDH-ES` (RFC 7518
//! §4.6, Concat KDF with `apu`/`apv`) and `A128GCM`/`A256GCM`, for encrypted OpenID4VP
//! responses and OpenID4VCI credential requests/responses. [`jwe::encrypt`] encrypts to a
//! peer's EC P-256/P-384 [`PublicJwk`] (whose `use` may be `enc`); [`jwe::decrypt`] takes
//! an [`jwe::EncryptionKey`] (a private key type distinct from signing keys, redacted and
//! never serialized) and a [`jwe::DecryptPolicy`] that names the accepted `enc` values,
//! whether `zip` is accepted (inflation bounded by a plaintext size limit) and the
//! understood `crit` names. The AAD is the protected header as received; the Encrypted Key
//! must be empty; an `epk` on another curve than the recipient key is refused.
//!
//! # x5c
//!
//! [`x5c`] validates `x5c` certificate chains (leaf first) against [`x5c::TrustAnchors`]
//! loaded from PEM or DER, at a given time: validity periods, issuer names and signatures
//! (ECDSA, Ed25519, RSA PKCS#1 v1.5 and PSS), CA constraints (`basicConstraints`,
//! `keyCertSign`, `pathLen`), the leaf's `digitalSignature`, unknown critical extensions,
//! and a bounded length. It returns the leaf key as a [`PublicJwk`], its DNS and URI SANs,
//! subject and `x509_hash`; [`x5c::verify_jws`] verifies a JWS with the leaf key of the
//! chain in its header.

pub mod alg;
pub mod b64;
mod error;
pub mod json;
pub mod jwe;
pub mod jwk;
pub mod jws;
pub mod jwt;
pub mod pem;
pub mod random;
pub mod sign;
pub mod x5c;

pub use alg::Algorithm;
pub use error::{ClaimError, Error, Part, escape_input};
pub use jwe::{DecryptPolicy, Enc, EncryptOptions, EncryptionKey, JweError};
pub use jwk::{Curve, JwkError, PrivateJwk, PublicJwk};
pub use jws::{CompactJws, Header, HeaderBuilder, JwsPolicy, VerifiedJws};
pub use jwt::{Clock, FixedClock, SystemClock, TimeRules};
pub use random::{Random, RandomError, SystemRandom};
pub use sign::{SignError, Signer, SoftwareSigner, VerifyingKey};
pub use x5c::{LeafInfo, TrustAnchors, X5cError};
