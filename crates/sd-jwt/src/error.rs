//! Errors, one enum per stage (parse, issue, present, verify, key binding, key resolution,
//! SD-JWT VC). Each variant names the rule that was broken. Failures to *produce* something
//! (a salt, a signature) and failures to *fetch* something ("could not check") are kept apart
//! from refusals of the input ("checked and invalid").

use crate::path::ClaimPath;
use jose::json::JsonError;
use jose::{ClaimError, JwkError, SignError, X5cError};

/// Which JSON text exceeded the nesting limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonPart {
    /// The Issuer-signed JWT payload.
    Payload,
    /// A Disclosure.
    Disclosure,
    /// The Key Binding JWT payload.
    KbPayload,
    /// The claims rebuilt from the payload and the Disclosures.
    Processed,
}

impl std::fmt::Display for JsonPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JsonPart::Payload => "issuer-signed JWT payload",
            JsonPart::Disclosure => "disclosure",
            JsonPart::KbPayload => "key binding JWT payload",
            JsonPart::Processed => "processed payload",
        })
    }
}

/// A Disclosure string does not have the form RFC 9901 §4.2 requires.
#[derive(Debug, thiserror::Error)]
pub enum DisclosureError {
    /// Not canonical unpadded base64url (§4.2.1).
    #[error("not base64url")]
    NotBase64,
    /// The decoded bytes are not JSON (or repeat a member name).
    #[error("not JSON: {0}")]
    NotJson(JsonError),
    /// The JSON is not an array (§4.2.1, §4.2.2).
    #[error("not a JSON array")]
    NotArray,
    /// The array has neither 3 (object property) nor 2 (array element) elements.
    #[error("array has {0} elements, expected 2 or 3")]
    WrongLength(usize),
    /// The salt is not a string (§4.2.1).
    #[error("salt is not a string")]
    SaltNotString,
    /// The claim name is not a string (§4.2.1).
    #[error("claim name is not a string")]
    NameNotString,
    /// The JSON nests deeper than the configured limit.
    #[error("nested deeper than {0} levels")]
    TooDeep(usize),
}

/// The compact serialization could not be parsed (RFC 9901 §4), or exceeded a limit.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The input is longer than the configured limit (checked before anything else).
    #[error("SD-JWT is {size} bytes, at most {max} are accepted")]
    TooLarge {
        /// Bytes received.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// There is no `~`: this is not an SD-JWT (§4).
    #[error("not an SD-JWT: no `~` separator")]
    NotSdJwt,
    /// More Disclosures than the configured limit.
    #[error("{count} disclosures, at most {max} are accepted")]
    TooManyDisclosures {
        /// Disclosures received.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The Issuer-signed JWT is not a compact JWS with a supported header.
    #[error("issuer-signed JWT is malformed: {0}")]
    IssuerJwt(#[source] jose::Error),
    /// The Issuer-signed JWT payload is not a JSON object.
    #[error("issuer-signed JWT payload is not a JSON object: {0}")]
    PayloadNotJson(#[source] JsonError),
    /// A JSON text nests deeper than the configured limit.
    #[error("{part} nests deeper than {max} levels")]
    JsonTooDeep {
        /// Which text.
        part: JsonPart,
        /// The limit.
        max: usize,
    },
    /// A Disclosure between two `~` is empty (§4: `DISCLOSURE = BASE64URL`, one or more
    /// characters).
    #[error("disclosure {index} is empty")]
    EmptyDisclosure {
        /// Position among the Disclosures (0-based).
        index: usize,
    },
    /// A Disclosure is malformed.
    #[error("disclosure {index}: {source}")]
    Disclosure {
        /// Position among the Disclosures (0-based).
        index: usize,
        /// What is wrong with it.
        source: DisclosureError,
    },
    /// The same Disclosure was sent twice (§4: a Holder MUST NOT send a Disclosure more
    /// than once).
    #[error("disclosure {index} repeats an earlier disclosure")]
    DuplicateDisclosure {
        /// Position of the repetition (0-based).
        index: usize,
    },
    /// The part after the last `~` is not a compact JWS.
    #[error("key binding JWT is malformed: {0}")]
    KbJwt(#[source] jose::Error),
    /// A Holder received an SD-JWT+KB from an Issuer (§7.2: it MUST be rejected).
    #[error("an issued SD-JWT must not carry a key binding JWT")]
    KeyBindingFromIssuer,
}

/// Issuance failed.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// A frame path names a claim the input does not have (or indexes a non-array, names
    /// a member of a non-object).
    #[error("frame path {0} does not exist in the claims")]
    PathNotFound(ClaimPath),
    /// The input uses a name reserved by RFC 9901 (`_sd`, `...`, `_sd_alg`, §4.1).
    #[error("claim name `{0}` is reserved")]
    ReservedClaimName(String),
    /// The salt source failed (could not produce a salt; nothing about the input).
    #[error("salt source failed")]
    Salt(#[source] SaltError),
    /// The signer failed (could not sign; nothing about the input).
    #[error("signing failed: {0}")]
    Sign(#[source] SignError),
}

/// A [`SaltSource`](crate::SaltSource) could not produce random bytes.
pub use jose::random::RandomError as SaltError;

/// Building a presentation failed.
#[derive(Debug, thiserror::Error)]
pub enum PresentError {
    /// The stored SD-JWT itself breaks a rule of RFC 9901 §7.1.
    #[error("stored SD-JWT is invalid: {0}")]
    Invalid(#[source] VerifyError),
    /// A selection path names no claim of the SD-JWT.
    #[error("claim {0} does not exist in this SD-JWT")]
    ClaimNotFound(ClaimPath),
    /// The signer failed (could not sign the key binding JWT).
    #[error("signing the key binding JWT failed: {0}")]
    Sign(#[source] SignError),
}

/// The SD-JWT (RFC 9901 §7.1) or its key binding (§7.3) was refused.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The compact serialization was refused.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The Issuer-signed JWT header or signature was refused (§7.1 step 2).
    #[error("issuer-signed JWT refused: {0}")]
    IssuerSignature(#[source] jose::Error),
    /// `_sd_alg` names a hash algorithm that is not accepted (§7.1 step 2.d).
    #[error("`_sd_alg` `{0}` is not accepted (only sha-256)")]
    UnsupportedSdAlg(String),
    /// `_sd_alg` is not a string (§4.1.1).
    #[error("`_sd_alg` is not a string")]
    SdAlgNotString,
    /// `_sd_alg` appears in a nested object (§4.1.1: top level only).
    #[error("`_sd_alg` appears below the top level")]
    SdAlgNotAtTopLevel,
    /// An `_sd` member is not an array of strings (§4.2.4.1).
    #[error("`_sd` is not an array of strings")]
    SdNotArrayOfStrings,
    /// An array element has a `...` member but is not `{"...": "<digest>"}` (§4.2.4.2).
    #[error("array element with `...` must be an object with that single string member")]
    MalformedArrayDigest,
    /// A digest appears more than once, among Disclosure digests and decoys alike
    /// (§4.1, §7.1 step 4).
    #[error("digest {0} is used more than once")]
    DigestUsedTwice(String),
    /// A Disclosure is not referenced by any digest (§7.1 step 5).
    #[error("disclosure with digest {0} is not referenced")]
    DisclosureNotReferenced(String),
    /// A digest in `_sd` matched a 2-element Disclosure, or a digest in an array matched a
    /// 3-element one (§7.1 steps 3.c.ii.1 and 3.c.iii.1).
    #[error("disclosure {digest} has the wrong shape: expected {expected} elements")]
    WrongDisclosureShape {
        /// The Disclosure's digest.
        digest: String,
        /// Elements required at that place (3 in `_sd`, 2 in an array).
        expected: usize,
    },
    /// A disclosed claim name (or a plaintext member) uses `_sd`, `...` or `_sd_alg`
    /// (§4.1 rule 7, §7.1 step 3.c.ii.2).
    #[error("claim name `{0}` is reserved")]
    ReservedClaimName(String),
    /// A disclosed claim name already exists at that level (§7.1 step 3.c.ii.3).
    #[error("disclosed claim `{0}` already exists at that level")]
    ClaimAlreadyExists(String),
    /// Disclosures nest inside Disclosures deeper than the configured limit.
    #[error("disclosures nest deeper than {0} levels")]
    DisclosureNestingTooDeep(usize),
    /// The rebuilt claims nest deeper than the configured limit.
    #[error("processed payload nests deeper than {0} levels")]
    JsonTooDeep(usize),
    /// `exp`, `nbf` or `iat` of the processed payload fails (§7.1 step 6).
    #[error("issuer-signed JWT time check failed: {0}")]
    Time(#[source] ClaimError),
    /// The processed payload has an `aud` that does not name the configured audience
    /// (§7.1 step 6, RFC 7519 §4.1.3).
    #[error("issuer-signed JWT `aud` does not include the expected audience")]
    AudienceMismatch,
    /// The processed payload has an `aud` but the verifier configured no audience.
    #[error("issuer-signed JWT has an `aud` but no audience is expected")]
    AudienceNotExpected,
    /// The key binding was refused (§7.3 step 5).
    #[error("key binding: {0}")]
    KeyBinding(#[from] KbError),
}

/// The Key Binding JWT (RFC 9901 §4.3, §7.3) was refused, missing or unexpected.
#[derive(Debug, thiserror::Error)]
pub enum KbError {
    /// Policy requires key binding and the presentation has no KB-JWT (§7.3 step 2).
    #[error("key binding is required but no KB-JWT was presented")]
    KbJwtMissing,
    /// Policy forbids key binding and a KB-JWT was presented.
    #[error("a KB-JWT was presented where none is expected")]
    KbJwtNotExpected,
    /// The SD-JWT has no `cnf` claim to verify the KB-JWT with (§4.1.2).
    #[error("the SD-JWT has no `cnf` claim")]
    CnfMissing,
    /// `cnf` is present but holds no `jwk`, the only confirmation method supported.
    #[error("`cnf` has no `jwk` member")]
    CnfNotJwk,
    /// `cnf.jwk` is not a usable public key.
    #[error("`cnf.jwk` is invalid: {0}")]
    HolderKeyInvalid(#[source] JwkError),
    /// `typ` is not `kb+jwt` (§4.3).
    #[error("KB-JWT `typ` must be `kb+jwt`, found {}", shown(.0))]
    WrongTyp(Option<String>),
    /// `alg` is not in the caller's allow-list (§7.3 step 5.b).
    #[error("KB-JWT `alg` {0} is not allowed")]
    AlgorithmNotAllowed(jose::Algorithm),
    /// The header is refused (unknown `crit`) or the signature does not verify with the
    /// `cnf` key (§7.3 step 5.c).
    #[error("KB-JWT signature refused: {0}")]
    Signature(#[source] jose::Error),
    /// The payload is not a JSON object.
    #[error("KB-JWT payload is not a JSON object: {0}")]
    PayloadNotJson(#[source] JsonError),
    /// A required claim (`iat`, `aud`, `nonce`, `sd_hash`) is absent (§4.3).
    #[error("KB-JWT claim `{0}` is required")]
    ClaimMissing(&'static str),
    /// A claim has the wrong type (`aud` must be a single string, `nonce` and `sd_hash`
    /// strings, `iat` a number) (§4.3).
    #[error("KB-JWT claim `{0}` has the wrong type")]
    ClaimWrongType(&'static str),
    /// `nonce` differs from the expected one (§7.3 step 5.f).
    #[error("KB-JWT `nonce` does not match")]
    NonceMismatch,
    /// `aud` differs from the expected audience (§7.3 step 5.f).
    #[error("KB-JWT `aud` does not match")]
    AudienceMismatch,
    /// `sd_hash` is not the digest of the SD-JWT as presented (§7.3 step 5.g).
    #[error("KB-JWT `sd_hash` does not match the presented SD-JWT")]
    SdHashMismatch,
    /// `iat` is outside the accepted window, or `exp`/`nbf` fail (§7.3 step 5.e).
    #[error("KB-JWT time check failed: {0}")]
    Time(#[source] ClaimError),
}

/// An HTTP retrieval through a [`Fetcher`](crate::Fetcher) failed: nothing was checked.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server answered with a status other than 200.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The response was not `application/json`.
    #[error("unexpected content type")]
    ContentType,
    /// The body exceeded the fetcher's size cap.
    #[error("response body exceeds {0} bytes")]
    TooLarge(usize),
    /// The URL was refused before any request (scheme, address, policy).
    #[error("URL refused: {0}")]
    Refused(&'static str),
    /// Connection, TLS or timeout failure.
    #[error("transport failure: {0}")]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The Issuer's verification key could not be determined (SD-JWT VC §2.5, §3).
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// No mechanism is configured that applies to this SD-JWT.
    #[error("no permitted key discovery mechanism applies")]
    NoKeySource,
    /// The header `kid` names no configured or published key.
    #[error("no key with `kid` `{0}`")]
    UnknownKid(String),
    /// Several keys are candidates and the header has no `kid`.
    #[error("several keys are candidates and the header has no `kid`")]
    AmbiguousKey,
    /// The `x5c` chain was refused.
    #[error("x5c chain refused: {0}")]
    X5c(#[source] X5cError),
    /// `iss` is present but names neither a URI SAN nor the host of a DNS SAN of the
    /// `x5c` leaf certificate.
    #[error("`iss` is not bound to the x5c leaf certificate")]
    IssuerNotInCertificate,
    /// JWT VC Issuer Metadata needs an `iss` claim.
    #[error("`iss` is missing or not a string")]
    IssuerMissing,
    /// `iss` is not an https URL with a host and without query or fragment (§3).
    #[error("`iss` is not a valid https issuer identifier: {0}")]
    InvalidIssuerUrl(&'static str),
    /// Retrieval failed: the key could not be checked (not a judgement on the SD-JWT).
    #[error("could not fetch {url}: {source}")]
    Fetch {
        /// What was requested.
        url: String,
        /// Why it failed.
        source: FetchError,
    },
    /// The metadata or JWK Set is not the JSON object it must be.
    #[error("{0} is not a valid JSON document")]
    MalformedDocument(&'static str),
    /// The metadata `issuer` is not identical to `iss` (§3.3).
    #[error("metadata issuer `{found}` is not `{expected}`")]
    IssuerMismatch {
        /// `iss` of the SD-JWT.
        expected: String,
        /// `issuer` of the metadata.
        found: String,
    },
    /// The metadata has both `jwks` and `jwks_uri` (§3.2).
    #[error("metadata has both `jwks` and `jwks_uri`")]
    JwksAndJwksUri,
    /// The metadata has neither `jwks` nor `jwks_uri` (§3.2).
    #[error("metadata has neither `jwks` nor `jwks_uri`")]
    NoJwks,
    /// `jwks_uri` is not an https URL.
    #[error("`jwks_uri` is not an https URL")]
    InvalidJwksUri,
    /// The selected key cannot be used for verification.
    #[error("selected key is not usable: {0}")]
    KeyNotUsable(#[source] JwkError),
}

impl ResolveError {
    /// True when the key could not be *checked* (retrieval failed), as opposed to a key
    /// that was checked and refused.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ResolveError::Fetch { .. })
    }
}

/// An SD-JWT VC (draft-ietf-oauth-sd-jwt-vc-18) was refused.
#[derive(Debug, thiserror::Error)]
pub enum VcError {
    /// The input could not be parsed.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// `typ` is not `dc+sd-jwt` (or the legacy `vc+sd-jwt` where allowed) (§2.2.1).
    #[error("`typ` must be `dc+sd-jwt`, found {}", shown(.0))]
    WrongTyp(Option<String>),
    /// The Issuer key could not be determined.
    #[error("issuer key: {0}")]
    Resolve(#[from] ResolveError),
    /// RFC 9901 processing or key binding failed.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// A required claim is absent (`vct`, or `cnf` when key binding is required).
    #[error("claim `{0}` is required")]
    ClaimMissing(&'static str),
    /// A claim has the wrong type (`vct`, `iss`, `vct#integrity` strings; `cnf` an object
    /// with a `jwk`; `aka_vcts` a non-empty array of strings without `vct`).
    #[error("claim `{0}` has the wrong type or value")]
    ClaimWrongType(&'static str),
    /// A claim that MUST NOT be selectively disclosable arrived through a Disclosure, or an
    /// issuance frame tried to make it disclosable (§2.2.2.3).
    #[error("claim `{0}` must not be selectively disclosable")]
    NonDisclosableClaim(String),
    /// `status` is malformed (Token Status List §6.2).
    #[error("`status`: {0}")]
    Status(#[source] status_list::ReferenceError),
    /// Issuance failed.
    #[error(transparent)]
    Issue(#[from] IssueError),
}

impl VcError {
    /// True when the SD-JWT VC could not be *checked* because a key could not be fetched.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, VcError::Resolve(r) if r.is_unavailable())
    }
}

/// An optional value from the input, for a message: `` `value` `` or `absent` (never
/// Rust's `Some("…")` / `None`, which would reach clients in error descriptions).
fn shown(value: &Option<String>) -> String {
    match value {
        Some(v) => format!("`{v}`"),
        None => "absent".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue10_wrong_typ_messages_have_no_rust_debug_text() {
        assert_eq!(
            VcError::WrongTyp(None).to_string(),
            "`typ` must be `dc+sd-jwt`, found absent"
        );
        assert_eq!(
            KbError::WrongTyp(Some("jwt".into())).to_string(),
            "KB-JWT `typ` must be `kb+jwt`, found `jwt`"
        );
    }
}
