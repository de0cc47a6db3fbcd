//! Errors, one enum per stage: issuance, checking a received credential, presentation,
//! lifecycle. Each variant names the rule broken or the call that failed; "could not
//! reach or check" ([`PeerError::Unreachable`], [`CredentialCheck::KeysUnavailable`],
//! [`Lifecycle::Unknown`](crate::lifecycle::Lifecycle::Unknown)) is kept apart from "checked
//! and refused".

use http_client::FetchError;
use jose::SignError;
use jose::jwe::JweError;

/// A peer (issuer, authorization server, attester, verifier) could not be reached or
/// answered outside the protocol.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The request was refused by the outbound guard or failed in transport.
    #[error("cannot reach the {what}: {source}")]
    Unreachable {
        /// Which endpoint.
        what: &'static str,
        /// Why.
        #[source]
        source: FetchError,
    },
    /// The peer answered with an error status.
    #[error("the {what} answered HTTP {status}{}", describe(error.as_deref(), description.as_deref()))]
    Refused {
        /// Which endpoint.
        what: &'static str,
        /// HTTP status.
        status: u16,
        /// The protocol `error` code, when sent.
        error: Option<String>,
        /// `error_description`, when sent.
        description: Option<String>,
    },
    /// The answer does not have the shape the protocol prescribes.
    #[error("the {what} sent a malformed answer: {detail}")]
    Malformed {
        /// Which endpoint.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
}

fn describe(error: Option<&str>, description: Option<&str>) -> String {
    match (error, description) {
        (Some(e), Some(d)) => format!(": {e} ({d})"),
        (Some(e), None) => format!(": {e}"),
        (None, _) => String::new(),
    }
}

impl PeerError {
    /// The protocol error code the peer sent, if any.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            PeerError::Refused { error, .. } => error.as_deref(),
            _ => None,
        }
    }
}

/// Why a received credential was refused (nothing of it is stored).
#[derive(Debug, thiserror::Error)]
pub enum CredentialCheck {
    /// Not a string SD-JWT VC.
    #[error("the credential is not an SD-JWT VC string")]
    NotSdJwtVc,
    /// The issuer's keys could not be fetched: nothing was checked.
    #[error("the issuer's keys could not be fetched: {0}")]
    KeysUnavailable(#[source] Box<PeerError>),
    /// The issuer's key set is not usable.
    #[error("the issuer's JWT VC Issuer Metadata is unusable: {0}")]
    IssuerKeys(&'static str),
    /// Signature, SD-JWT or SD-JWT VC rules.
    #[error("the credential does not verify: {0}")]
    Invalid(#[source] sd_jwt::VcError),
    /// `iss` is not the credential issuer the flow ran with.
    #[error("the credential names issuer {}, expected `{expected}`", shown(found))]
    WrongIssuer {
        /// The credential issuer.
        expected: String,
        /// `iss` found.
        found: Option<String>,
    },
    /// `vct` is not the offered configuration's.
    #[error("the credential has vct {found:?}, the offer was for {expected:?}")]
    WrongVct {
        /// Offered.
        expected: String,
        /// Found.
        found: String,
    },
    /// No `cnf.jwk`.
    #[error("the credential is not bound to a holder key (no cnf.jwk)")]
    NotHolderBound,
    /// `cnf.jwk` is not one of the keys the proofs were signed with.
    #[error("the credential is bound to another key than the holder's")]
    BoundToAnotherKey,
    /// `exp` has passed.
    #[error("the credential has already expired")]
    Expired,
}

/// An issuance flow failed; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum IssuanceError {
    /// The offer or its URI.
    #[error("the credential offer is invalid: {0}")]
    Offer(#[from] oid4vci::OfferError),
    /// Issuer or authorization server metadata.
    #[error("the issuer metadata is invalid: {0}")]
    Metadata(#[from] oid4vci::MetadataError),
    /// A peer failed.
    #[error(transparent)]
    Peer(#[from] PeerError),
    /// The trust configuration does not list this issuer.
    #[error("issuer {0} is not trusted by this wallet's configuration")]
    UntrustedIssuer(String),
    /// Only the pre-authorized code flow is implemented.
    #[error("the offer has no pre-authorized code grant (only that flow is supported)")]
    NoPreAuthorizedCode,
    /// The offer asks for a transaction code and none was given.
    #[error("this offer needs a transaction code{}", .0.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    TxCodeRequired(Option<String>),
    /// A transaction code was given for an offer without one.
    #[error("this offer has no transaction code")]
    TxCodeNotExpected,
    /// The transaction code does not have the announced length or character set.
    #[error("the transaction code does not match what the offer announced ({0})")]
    TxCodeShape(&'static str),
    /// The offer names a configuration the metadata does not describe.
    #[error("the issuer metadata has no credential configuration {0:?}")]
    UnknownConfiguration(String),
    /// A configuration of a format this wallet does not hold.
    #[error("credential format {0:?} is not supported (dc+sd-jwt only)")]
    UnsupportedFormat(String),
    /// The holder key's algorithm is not one the configuration accepts for proofs.
    #[error("the issuer does not accept {0} proofs for this credential")]
    UnsupportedProofAlgorithm(&'static str),
    /// More holder keys than the issuer's batch size, or none.
    #[error("cannot request {requested} credentials: the issuer's batch size is {allowed}")]
    BatchSize {
        /// Keys given.
        requested: usize,
        /// Allowed.
        allowed: usize,
    },
    /// The AS metadata has no token endpoint.
    #[error("the authorization server publishes no token endpoint")]
    NoTokenEndpoint,
    /// Obtaining the client attestation or its PoP failed.
    #[error("client attestation: {0}")]
    Attestation(#[from] crate::attestation::ClientError),
    /// Signing a proof with the holder key failed.
    #[error("the holder key could not sign: {0}")]
    Sign(#[from] SignError),
    /// Encrypting the request or decrypting the response failed.
    #[error("credential request/response encryption: {0}")]
    Encryption(#[from] JweError),
    /// The token or credential response does not parse.
    #[error("the {0} response is malformed")]
    Response(&'static str),
    /// Deferred issuance is not supported.
    #[error("the issuer deferred issuance, which this wallet does not support")]
    Deferred,
    /// The issuer returned a different number of credentials than proofs sent.
    #[error("the issuer returned {returned} credentials for {requested} proofs")]
    CredentialCount {
        /// Proofs sent.
        requested: usize,
        /// Credentials returned.
        returned: usize,
    },
    /// A received credential was refused.
    #[error("credential {index} refused: {source}")]
    Credential {
        /// Position in the response.
        index: usize,
        /// Why.
        #[source]
        source: CredentialCheck,
    },
    /// The random generator failed (a DPoP proof `jti`).
    #[error("the random generator failed")]
    Random,
    /// The token endpoint answered `token_type: DPoP` to a request without a DPoP proof.
    #[error("the issuer bound the access token to a DPoP key this wallet did not offer")]
    UnexpectedDpopToken,
}

/// A presentation flow failed; nothing was sent unless the variant says so.
#[derive(Debug, thiserror::Error)]
pub enum PresentationError {
    /// The invocation URI or the request parameters.
    #[error("the presentation request is invalid: {0}")]
    Request(#[from] oid4vp::RequestError),
    /// The `request_uri` answer is not a request object.
    #[error(
        "the request_uri answered with content type {}, not a request object",
        shown(.0)
    )]
    RequestObjectType(Option<String>),
    /// A peer failed.
    #[error(transparent)]
    Peer(#[from] PeerError),
    /// The holder's choice breaks the query's rules (unknown query, `multiple`, a
    /// required credential set left unmet, a query outside the requested sets).
    #[error("the choice does not answer the request: {0}")]
    Selection(#[from] oid4vp::dcql::SelectionError),
    /// The verifier asks for a claim outside what it is registered for.
    #[error("verifier {client_id} asks for {claim}, which it is not registered to receive")]
    ExceedsRegistration {
        /// The client identifier.
        client_id: String,
        /// The claim path asked for.
        claim: String,
    },
    /// A signed request (`x509_san_dns`, `x509_hash`) arrived and the wallet has no
    /// verifier trust anchors to check it with; nothing was fetched or sent.
    #[error(
        "verifier {0} signs its requests with a certificate, and this wallet has no verifier trust anchors to check it"
    )]
    NoVerifierAnchors(String),
    /// The request object verified, but its parameters are invalid; the verifier was
    /// sent `code` at the response URI it signed (when `told`), so it need not wait.
    #[error("the presentation request is invalid: {source} (the verifier {}: {code})", if *told { "was told" } else { "could not be told" })]
    InvalidRequestAnswered {
        /// Why the parameters were refused.
        #[source]
        source: oid4vp::RequestError,
        /// The error code sent.
        code: &'static str,
        /// Whether the verifier accepted the error response.
        told: bool,
    },
    /// The request carries `transaction_data`, which this wallet does not support (§5.1:
    /// the request is refused; a signed one is answered `invalid_transaction_data`).
    #[error("the request carries transaction_data, which this wallet does not support")]
    TransactionDataUnsupported,
    /// The configuration requires verifiers to be registered.
    #[error("verifier {0} is not registered with this wallet")]
    UnregisteredVerifier(String),
    /// A chosen credential index is out of range or not a candidate.
    #[error("credential {0} cannot answer this request")]
    NotACandidate(usize),
    /// A chosen claim is not in the credential.
    #[error("the credential has no claim {0}")]
    UnknownClaim(String),
    /// No credential was chosen.
    #[error("nothing was chosen to present")]
    NothingChosen,
    /// A held credential cannot be read.
    #[error("a held credential cannot be read: {0}")]
    Held(#[from] crate::credential::HeldError),
    /// The SD-JWT presentation could not be built.
    #[error("the presentation could not be built: {0}")]
    Present(#[from] oid4vp::sd_jwt_vc::SdJwtVcError),
    /// `direct_post.jwt` without a usable verifier encryption key.
    #[error(
        "direct_post.jwt needs a verifier encryption key (client_metadata.jwks) with a supported enc"
    )]
    NoEncryptionKey,
    /// Encrypting the response failed.
    #[error("encrypting the response: {0}")]
    Encryption(#[from] JweError),
    /// The verifier refused the response (it was sent).
    #[error("the verifier refused the presentation: {0}")]
    Refused(#[source] PeerError),
    /// The verifier's `redirect_uri` is not an acceptable URL.
    #[error("the verifier's redirect_uri is not an http(s) URL")]
    RedirectUri,
}

/// A lifecycle check failed.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The stored credential cannot be read.
    #[error("the stored credential cannot be read: {0}")]
    Held(#[from] crate::credential::HeldError),
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
    fn issue10_messages_have_no_rust_debug_text() {
        let e = CredentialCheck::WrongIssuer {
            expected: "https://issuer.example".into(),
            found: None,
        };
        assert_eq!(
            e.to_string(),
            "the credential names issuer absent, expected `https://issuer.example`"
        );
        let e = PresentationError::RequestObjectType(Some("text/html".into()));
        assert!(!e.to_string().contains("Some("), "{e}");
        assert!(e.to_string().contains("`text/html`"), "{e}");
    }
}
