//! Why a DCQL query is not valid (OpenID4VP 1.0 §6). Each variant names the rule and
//! where in the query it was broken, as a JSON-path-like location (`credentials[1].claims[0].path`).

use super::path::PointerSyntaxError;

/// A DCQL query was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DcqlError {
    /// The query (or a part of it) is not valid JSON.
    #[error("DCQL query is not valid JSON")]
    NotJson,
    /// A member that must be present is absent.
    #[error("`{at}` is required")]
    Missing {
        /// Location.
        at: String,
    },
    /// A member has the wrong JSON type.
    #[error("`{at}` must be {expected}")]
    WrongType {
        /// Location.
        at: String,
        /// The expected type, in words.
        expected: &'static str,
    },
    /// An array that must be non-empty is empty.
    #[error("`{at}` must not be empty")]
    Empty {
        /// Location.
        at: String,
    },
    /// An `id` is empty or has characters other than `[A-Za-z0-9_-]` (§6.1, §6.3).
    #[error("`{at}`: {id:?} is not a non-empty string of letters, digits, `_` and `-`")]
    InvalidId {
        /// Location.
        at: String,
        /// The id.
        id: String,
    },
    /// Two credential queries have the same `id` (§6.1).
    #[error("credential query id {0:?} is used more than once")]
    DuplicateCredentialId(String),
    /// Two claims queries of one credential query have the same `id` (§6.3).
    #[error("`{at}`: claim id {id:?} is used more than once")]
    DuplicateClaimId {
        /// Location of the credential query.
        at: String,
        /// The id.
        id: String,
    },
    /// Two claims queries of one credential query point to the same claim (§6.1: MUST NOT).
    #[error("`{at}`: two claims queries have the path {path}")]
    DuplicateClaimPath {
        /// Location of the credential query.
        at: String,
        /// The path, as JSON.
        path: String,
    },
    /// A `path` is not a claims path pointer (§7).
    #[error("`{at}`: {source}")]
    InvalidPath {
        /// Location.
        at: String,
        /// The syntax rule broken.
        source: PointerSyntaxError,
    },
    /// An mdoc claims path is not exactly two strings (§7.2).
    #[error("`{at}`: an mso_mdoc claims path must be exactly two strings")]
    InvalidMdocPath {
        /// Location.
        at: String,
    },
    /// An element of `values` is not a string, integer or boolean (§6.3).
    #[error("`{at}`: values must be strings, integers or booleans")]
    InvalidValue {
        /// Location.
        at: String,
    },
    /// `claim_sets` without `claims` (§6.4.1: MUST NOT).
    #[error("`{at}`: claim_sets requires claims")]
    ClaimSetsWithoutClaims {
        /// Location of the credential query.
        at: String,
    },
    /// A claims query without `id` in a credential query that has `claim_sets` (§6.3).
    #[error("`{at}`: id is required when claim_sets is present")]
    ClaimIdRequired {
        /// Location of the claims query.
        at: String,
    },
    /// A `claim_sets` entry names a claim id that the credential query does not define.
    #[error("`{at}`: unknown claim id {id:?}")]
    UnknownClaimId {
        /// Location.
        at: String,
        /// The id.
        id: String,
    },
    /// A `credential_sets` option names a credential query id that does not exist (§6.2).
    #[error("`{at}`: unknown credential query id {id:?}")]
    UnknownCredentialId {
        /// Location.
        at: String,
        /// The id.
        id: String,
    },
    /// `meta.vct_values` is absent for `dc+sd-jwt` (Appendix B.3.5: REQUIRED).
    #[error("`{at}`: meta.vct_values is required for dc+sd-jwt")]
    MissingVctValues {
        /// Location of the credential query.
        at: String,
    },
    /// `meta.doctype_value` is absent for `mso_mdoc` (Appendix B.2).
    #[error("`{at}`: meta.doctype_value is required for mso_mdoc")]
    MissingDoctype {
        /// Location of the credential query.
        at: String,
    },
}
