//! Why a response was refused, and what each endpoint answers.
//!
//! - [`Rejection`]: a presentation (or the response carrying it) was checked and is not
//!   acceptable. Each variant has a stable code ([`Rejection::code`]) that the wallet gets
//!   in the `error` member of the `400` answer and the RP sees in the transaction's
//!   `error`. The transaction is finished as `failed`.
//! - [`ProtocolError`]: the request to the response endpoint cannot be attributed to a
//!   live transaction, or arrives too late or twice. Nothing changes.
//! - "Could not check" (a status list or issuer metadata that cannot be fetched) is not a
//!   [`Rejection`]: it is reported as `503 temporarily_unavailable` and the transaction
//!   stays pending, so the wallet may retry.
//!
//! Descriptions never contain claim values. A rejection refused because a lower layer
//! refused (the SD-JWT parser, the key binding check, the DCQL matcher) carries that
//! layer's error as its `source`, so the log and tests see which rule was broken, not only
//! its text.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use service::ApiError;

/// A presentation or response that was checked and refused.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// The `vp_token` or one of its presentations is not well-formed.
    #[error("malformed vp_token: {0}")]
    MalformedVpToken(#[source] VpTokenFault),
    /// The issuer signature does not verify.
    #[error("the issuer signature is invalid")]
    InvalidSignature,
    /// A JWT of the presentation (issuer-signed or key binding) names an `alg` that is
    /// never accepted (`none`, HMAC, anything outside the allow-list): refused before any
    /// signature check, and not a formatting mistake.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(#[source] JwtFault),
    /// The issuer (its key, certificate or identifier) is not trusted by the policy.
    #[error("the issuer is not trusted for this policy: {0}")]
    UntrustedIssuer(#[source] TrustFault),
    /// The credential breaks an SD-JWT VC rule (`typ`, `vct`, claim types, disclosures).
    #[error("invalid credential: {0}")]
    InvalidCredential(#[source] CredentialFault),
    /// A disclosure does not belong to the credential or breaks RFC 9901 §7.1.
    #[error("invalid disclosure: {0}")]
    InvalidDisclosure(#[source] DisclosureFault),
    /// `exp` passed or `nbf` not reached.
    #[error("the credential is expired or not yet valid")]
    CredentialExpired,
    /// Holder binding is required and no KB-JWT was presented.
    #[error("the presentation has no key binding JWT")]
    KeyBindingMissing,
    /// The KB-JWT is malformed, has the wrong `typ` or algorithm, or its signature does
    /// not verify with `cnf`.
    #[error("the key binding JWT is invalid: {0}")]
    InvalidKeyBinding(#[source] sd_jwt::KbError),
    /// The KB-JWT `aud` is not this transaction's full client identifier.
    #[error("the key binding JWT audience is not this verifier's client_id")]
    WrongAudience,
    /// The KB-JWT `nonce` is not this transaction's nonce.
    #[error("the key binding JWT nonce is not this transaction's nonce")]
    WrongNonce,
    /// The KB-JWT `iat` is older than the policy allows, or in the future.
    #[error("the key binding JWT is too old or issued in the future")]
    StaleKeyBinding,
    /// The KB-JWT `sd_hash` does not cover the presented SD-JWT.
    #[error("the key binding JWT sd_hash does not match the presentation")]
    SdHashMismatch,
    /// The status list says revoked (INVALID).
    #[error("the credential has been revoked")]
    CredentialRevoked,
    /// The status list says suspended.
    #[error("the credential is suspended")]
    CredentialSuspended,
    /// The status reference or the status list token is invalid.
    #[error("the credential status cannot be established: {0}")]
    InvalidStatus(#[source] StatusFault),
    /// The policy requires a status reference and the credential has none.
    #[error("the credential has no status reference")]
    StatusMissing,
    /// The presentations do not answer the DCQL query.
    #[error("the presentation does not satisfy the request: {0}")]
    DcqlUnsatisfied(#[source] DcqlFault),
    /// An essential claim of the policy was not disclosed.
    #[error("essential claim {0} was not disclosed")]
    EssentialClaimMissing(String),
    /// The wallet answered with an error response.
    #[error("the wallet declined: {0}")]
    WalletError(String),
}

/// Why a `vp_token` is not well-formed.
#[derive(Debug, thiserror::Error)]
pub enum VpTokenFault {
    /// A `dc+sd-jwt` presentation is not a JSON string.
    #[error("a dc+sd-jwt presentation must be a string")]
    NotText,
    /// A presentation does not even have the shape of an SD-JWT.
    #[error("a presentation is not an SD-JWT (<JWT>~…~)")]
    NotSdJwt,
    /// The SD-JWT parser refused the presentation.
    #[error(transparent)]
    Parse(sd_jwt::ParseError),
}

/// A JWT of the presentation refused by JOSE, and which one.
#[derive(Debug, thiserror::Error)]
pub enum JwtFault {
    /// The issuer-signed JWT.
    #[error("issuer-signed JWT: {0}")]
    IssuerJwt(#[source] jose::Error),
    /// The key binding JWT.
    #[error("key binding JWT: {0}")]
    KbJwt(#[source] jose::Error),
}

/// Why the issuer is not trusted.
#[derive(Debug, thiserror::Error)]
pub enum TrustFault {
    /// No trusted issuer of the policy has the signing key.
    #[error("no trusted issuer has the signing key")]
    NoKey,
    /// The issuer's key could not be determined, or is not one of the trusted ones.
    #[error(transparent)]
    Resolve(sd_jwt::ResolveError),
    /// The credential's `iss` is not the one configured for the trust entry (named) whose
    /// key verified it.
    #[error("the credential's iss is not the one configured for issuer {0}")]
    IssMismatch(String),
}

/// Which SD-JWT VC rule the credential breaks.
#[derive(Debug, thiserror::Error)]
pub enum CredentialFault {
    /// An SD-JWT VC rule (`typ`, `vct`, claim types, `status`).
    #[error(transparent)]
    Vc(sd_jwt::VcError),
    /// The issuer-signed JWT was refused by JOSE for another reason than its signature
    /// or algorithm.
    #[error(transparent)]
    Jwt(JwtFault),
    /// An RFC 9901 rule of the SD-JWT (its audience).
    #[error(transparent)]
    Verify(sd_jwt::VerifyError),
}

/// Which disclosure rule is broken.
#[derive(Debug, thiserror::Error)]
pub enum DisclosureFault {
    /// The parser refused a disclosure (one repeated).
    #[error(transparent)]
    Parse(sd_jwt::ParseError),
    /// A claim that must not be selectively disclosed was.
    #[error(transparent)]
    Vc(sd_jwt::VcError),
    /// RFC 9901 §7.1 refused a disclosure.
    #[error(transparent)]
    Verify(sd_jwt::VerifyError),
}

/// Why a credential's status cannot be established (checked and invalid; a list that
/// cannot be fetched is "could not check", not one of these).
#[derive(Debug, thiserror::Error)]
pub enum StatusFault {
    /// The list was served with another media type.
    #[error("the status list is not application/statuslist+jwt")]
    WrongMediaType,
    /// The list's body is not UTF-8.
    #[error("the status list token is not text")]
    NotText,
    /// The Status List Token is malformed or does not verify.
    #[error("status list token: {0}")]
    Token(#[source] status_list::TokenError),
    /// The key of the list's signer could not be determined.
    #[error("status list token key: {0}")]
    Key(#[source] sd_jwt::ResolveError),
    /// The credential's `status` reference does not fit the list.
    #[error(transparent)]
    Check(status_list::CheckError),
    /// A status value other than VALID, INVALID and SUSPENDED.
    #[error("status value {0} is not accepted")]
    NotAccepted(u8),
}

/// Why the presentations do not answer the DCQL query.
#[derive(Debug, thiserror::Error)]
pub enum DcqlFault {
    /// The `vp_token` has an entry for an id the query does not have.
    #[error("vp_token has an entry for {0:?}, which is not a credential query id")]
    UnknownQueryId(String),
    /// The DCQL matcher found the query unanswered.
    #[error(transparent)]
    Unsatisfied(oid4vp::dcql::verifier::Unsatisfied),
}

impl Rejection {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::MalformedVpToken(_) => "malformed_vp_token",
            Rejection::InvalidSignature => "invalid_signature",
            Rejection::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Rejection::UntrustedIssuer(_) => "untrusted_issuer",
            Rejection::InvalidCredential(_) => "invalid_credential",
            Rejection::InvalidDisclosure(_) => "invalid_disclosure",
            Rejection::CredentialExpired => "credential_expired",
            Rejection::KeyBindingMissing => "key_binding_missing",
            Rejection::InvalidKeyBinding(_) => "invalid_key_binding",
            Rejection::WrongAudience => "wrong_audience",
            Rejection::WrongNonce => "wrong_nonce",
            Rejection::StaleKeyBinding => "stale_key_binding",
            Rejection::SdHashMismatch => "sd_hash_mismatch",
            Rejection::CredentialRevoked => "credential_revoked",
            Rejection::CredentialSuspended => "credential_suspended",
            Rejection::InvalidStatus(_) => "invalid_status",
            Rejection::StatusMissing => "status_missing",
            Rejection::DcqlUnsatisfied(_) => "dcql_unsatisfied",
            Rejection::EssentialClaimMissing(_) => "essential_claim_missing",
            Rejection::WalletError(_) => "wallet_error",
        }
    }

    /// The wallet-facing error: `400` with the code and the description.
    pub fn to_api_error(&self) -> ApiError {
        ApiError::bad_request(self.code()).with_description(self.to_string())
    }
}

/// A request to a wallet-facing endpoint that changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The body is not a valid form, or a required parameter is missing or malformed.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// No live transaction has this `state` (or request id).
    #[error("unknown or wrong state")]
    InvalidState,
    /// The transaction was already answered.
    #[error("the transaction has already been answered")]
    AlreadyAnswered,
    /// The transaction expired.
    #[error("the transaction has expired")]
    Expired,
    /// `direct_post.jwt`: the JWE cannot be decrypted with this transaction's key, or uses
    /// an `alg`/`enc` that was not offered.
    #[error("the encrypted response cannot be decrypted: {0}")]
    InvalidEncryption(String),
    /// A plain response where `direct_post.jwt` was requested (error responses excepted).
    #[error("this transaction requires an encrypted response (direct_post.jwt)")]
    EncryptionRequired,
    /// `request_uri_method` was `get` and a POST came, or the reverse.
    #[error("the request_uri was fetched with the wrong method")]
    WrongMethod,
    /// The wallet's metadata excludes everything this request needs.
    #[error("{0}")]
    WalletUnsupported(String),
    /// The transaction's sealed response decryption key cannot be opened with the current
    /// key encryption key (it was changed, or the transaction was created by a process with
    /// another one): no response to it can ever be decrypted.
    #[error(
        "this transaction's response key cannot be opened by this verifier (its key encryption key changed); start a new transaction"
    )]
    TransactionKeyUnreadable,
    /// A check could not be carried out (status list or issuer metadata unreachable).
    #[error("a dependency is unavailable; try again")]
    Unavailable,
}

impl ProtocolError {
    /// The code and status.
    pub fn to_api_error(&self) -> ApiError {
        let (status, code) = match self {
            ProtocolError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            ProtocolError::InvalidState => (StatusCode::BAD_REQUEST, "invalid_state"),
            ProtocolError::AlreadyAnswered => (StatusCode::BAD_REQUEST, "transaction_answered"),
            ProtocolError::Expired => (StatusCode::BAD_REQUEST, "transaction_expired"),
            ProtocolError::InvalidEncryption(_) => {
                (StatusCode::BAD_REQUEST, "invalid_response_encryption")
            }
            ProtocolError::EncryptionRequired => {
                (StatusCode::BAD_REQUEST, "invalid_response_encryption")
            }
            ProtocolError::WrongMethod => (StatusCode::BAD_REQUEST, "invalid_request_uri_method"),
            ProtocolError::WalletUnsupported(_) => {
                (StatusCode::BAD_REQUEST, "vp_formats_not_supported")
            }
            ProtocolError::TransactionKeyUnreadable => {
                (StatusCode::BAD_REQUEST, "transaction_unusable")
            }
            ProtocolError::Unavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
            }
        };
        ApiError::new(status, code).with_description(self.to_string())
    }
}

impl IntoResponse for ProtocolError {
    fn into_response(self) -> Response {
        self.to_api_error().into_response()
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        self.to_api_error().into_response()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn issue11_rejection_keeps_the_refusing_layer_error_as_its_source() {
        let r = Rejection::InvalidKeyBinding(sd_jwt::KbError::CnfNotJwk);
        // The text the wallet and the RP see is what it was when the cause was a string.
        assert_eq!(
            r.to_string(),
            "the key binding JWT is invalid: `cnf` has no `jwk` member"
        );
        assert!(matches!(
            r.source().unwrap().downcast_ref::<sd_jwt::KbError>(),
            Some(sd_jwt::KbError::CnfNotJwk)
        ));
        assert_eq!(r.code(), "invalid_key_binding");
    }

    #[test]
    fn issue11_typed_causes_keep_the_former_descriptions() {
        for (r, text) in [
            (
                Rejection::UntrustedIssuer(TrustFault::NoKey),
                "the issuer is not trusted for this policy: no trusted issuer has the signing key",
            ),
            (
                Rejection::UntrustedIssuer(TrustFault::IssMismatch("campus".into())),
                "the issuer is not trusted for this policy: the credential's iss is not the one configured for issuer campus",
            ),
            (
                Rejection::MalformedVpToken(VpTokenFault::NotText),
                "malformed vp_token: a dc+sd-jwt presentation must be a string",
            ),
            (
                Rejection::MalformedVpToken(VpTokenFault::NotSdJwt),
                "malformed vp_token: a presentation is not an SD-JWT (<JWT>~…~)",
            ),
            (
                Rejection::InvalidStatus(StatusFault::NotAccepted(3)),
                "the credential status cannot be established: status value 3 is not accepted",
            ),
            (
                Rejection::InvalidStatus(StatusFault::WrongMediaType),
                "the credential status cannot be established: the status list is not application/statuslist+jwt",
            ),
            (
                Rejection::DcqlUnsatisfied(DcqlFault::UnknownQueryId("pid".into())),
                "the presentation does not satisfy the request: vp_token has an entry for \"pid\", which is not a credential query id",
            ),
        ] {
            assert_eq!(r.to_string(), text);
        }
    }
}
