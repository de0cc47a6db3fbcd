//! IETF Token Status List (draft-ietf-oauth-status-list-20) for Symbolon.
//!
//! - [`StatusList`]: the bit-packed list (1, 2, 4 or 8 [`Bits`] per entry, least
//!   significant bit first within each byte), ZLIB-compressed at the highest level, and
//!   decompressed under a size cap ([`DecodeLimits`]) with truncated streams and trailing
//!   bytes refused.
//! - [`EncodedStatusList`]: the JSON form `{"bits":…,"lst":"…","aggregation_uri"?:…}`.
//! - [`Status`]: VALID, INVALID, SUSPENDED and any other value kept as [`Status::Other`].
//! - [`StatusListTokenBuilder`] / [`StatusListToken`] / [`VerifiedStatusListToken`]: the
//!   Status List Token in JWT form (`typ` `statuslist+jwt`), signed through a
//!   [`jose::Signer`] and verified with a caller-chosen key, algorithm allow-list and
//!   [`jose::Clock`].
//! - [`StatusClaim`], [`check_status`] and [`resolve_status`]: the referenced token's
//!   `status.status_list {idx, uri}` claim and the final lookup.
//! - [`IndexAllocator`]: random, never-repeated index allocation for issuers.
//!
//! Not implemented: the CWT form of the Status List Token and of the referenced token's
//! claim (draft §4.3, §5.2, §6.3), Status List Aggregation fetching (§9; the
//! `aggregation_uri` member is carried through), and HTTP retrieval (§8.1, §8.2), which
//! belongs to the services. The crate does no I/O; time and randomness are injected.

mod alloc;
mod encoded;
mod error;
mod list;
mod reference;
mod status;
mod token;

pub use alloc::{FromRandom, IndexAllocator, RandomSource, SystemRandom};
pub use encoded::EncodedStatusList;
pub use error::{AllocError, CheckError, ListError, ReferenceError, TokenError};
pub use list::{DEFAULT_MAX_DECOMPRESSED, DecodeLimits, StatusList};
pub use reference::{StatusClaim, check_status, resolve_status};
pub use status::{Bits, Status};
pub use token::{
    MEDIA_TYPE, StatusListClaims, StatusListToken, StatusListTokenBuilder, TYP,
    VerifiedStatusListToken, VerifyOptions,
};
