//! The Digital Credentials Query Language (OpenID4VP 1.0 §6, §7).
//!
//! - [`query`]: the query types, parsed and validated once ([`DcqlQuery::from_value`]);
//! - [`path`]: claims path pointers and the concrete claim paths they select;
//! - [`wallet`]: the holder's side — which credentials match, why others do not, what
//!   to disclose for each way of answering ([`match_query`]);
//! - [`verifier`]: the verifier's side — does what was disclosed answer the query
//!   ([`check_response`]).
//!
//! Both sides share one implementation of the matching rules, so a wallet built on this
//! crate and the Symbolon verifier cannot disagree about what satisfies a query.

mod error;
mod matching;
pub mod path;
pub mod query;
pub mod verifier;
pub mod wallet;

pub use error::DcqlError;
pub use matching::{CredentialType, Mismatch, SetOutcome, TrustedAuthority};
pub use path::{ClaimPath, ClaimStep, ClaimsPathPointer, PathElement, PathError};
pub use query::{
    ClaimValue, ClaimsQuery, CredentialQuery, CredentialSetQuery, DcqlQuery, FORMAT_MSO_MDOC,
    FORMAT_SD_JWT_VC, Meta, TrustedAuthorityQuery,
};
pub use verifier::{PresentedCredential, Satisfaction, Unsatisfied, check_response};
pub use wallet::{
    Candidate, CredentialQueryMatch, DisclosureOption, HolderCredential, Pick, PlannedPresentation,
    PresentationPlan, QueryMatch, Rejection, RequestedClaim, Selection, SelectionError,
    UnansweredQuery, UnmetSet, match_query,
};
