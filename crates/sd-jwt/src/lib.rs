//! Selective Disclosure for JWTs (SD-JWT, RFC 9901) and SD-JWT-based Verifiable Credentials
//! (draft-ietf-oauth-sd-jwt-vc-18) for Symbolon.
//!
//! - **Issue** ([`issue()`], [`vc::issue`]): a [`Frame`] of [`ClaimPath`]s says which claims
//!   are selectively disclosable, at any depth, in objects and arrays, recursively; decoy
//!   digests on request; `_sd_alg` `sha-256`; 128-bit salts from an injected
//!   [`SaltSource`]; signed through a [`jose::Signer`] with a chosen `typ`, the signer's
//!   `kid` and an optional `x5c`.
//! - **Present** ([`SdJwt::presenter`]): select claims by path (parents' Disclosures come
//!   along), then send `<JWT>~<D…>~` or append a Key Binding JWT signed by a
//!   [`jose::Signer`] or, in two steps, by a remote signer ([`UnsignedPresentation`]).
//!   [`SdJwt::parse_issued`] refuses an SD-JWT+KB from an Issuer (§7.2).
//! - **Verify** ([`SdJwt::verify`], [`verify()`]): every rule of RFC 9901 §7.1–7.3, the key
//!   binding decided by the caller's [`KeyBinding`] policy, never by what was presented;
//!   the result is a [`Verified`] with the rebuilt claims, the Issuer header, the paths of
//!   disclosed claims and the KB-JWT claims.
//! - **SD-JWT VC** ([`vc`]): `typ`, `vct`, claim types, the claims that must never be
//!   disclosable, status reference, and Issuer keys from configuration, `x5c` or JWT VC
//!   Issuer Metadata ([`resolve`]) through an injected async [`Fetcher`].
//! - **Limits** ([`Limits`]): size, Disclosure count, Disclosure nesting and JSON nesting,
//!   each a specific error, each checked before the work it protects.
//!
//! The crate does no I/O; time ([`jose::Clock`]) and randomness ([`SaltSource`]) are
//! injected. Disclosures are kept and hashed exactly as received. The JWS JSON
//! serialization (RFC 9901 §8) and hash algorithms other than `sha-256` are not supported.

mod compact;
mod disclosure;
mod error;
mod issue;
mod kb;
mod limits;
mod path;
mod present;
mod process;
pub mod resolve;
mod salt;
pub mod vc;
mod verify;

pub use compact::SdJwt;
pub use disclosure::{Disclosure, SD_ALG, sha256_b64};
pub use error::{
    DisclosureError, FetchError, IssueError, JsonPart, KbError, ParseError, PresentError,
    ResolveError, SaltError, VcError, VerifyError,
};
pub use issue::{Decoys, Frame, IssueOptions, Issued, issue};
pub use kb::{KB_TYP, KbClaims, KbInput};
pub use limits::Limits;
pub use path::{ClaimPath, PathElement, PathError};
pub use present::{Presenter, UnsignedPresentation};
pub use resolve::{ChainValidator, Fetcher, KeyResolver, KeySource, ResolvedKey};
pub use salt::{SaltSource, SeededSalts, SystemSalts};
pub use verify::{KbExpectation, KeyBinding, Verified, VerifyOptions, verify};
