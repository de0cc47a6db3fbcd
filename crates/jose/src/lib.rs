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

pub mod alg;
pub mod b64;
mod error;
pub mod json;
pub mod jwe;
pub mod jwk;
pub mod jws;
pub mod jwt;
pub mod sign;
pub mod x5c;

pub use alg::Algorithm;
pub use error::{ClaimError, Error, Part};
pub use jwk::{Curve, JwkError, PrivateJwk, PublicJwk};
pub use jws::{CompactJws, Header, HeaderBuilder, JwsPolicy, VerifiedJws};
pub use jwt::{Clock, FixedClock, SystemClock, TimeRules};
pub use sign::{SignError, Signer, SoftwareSigner, VerifyingKey};
