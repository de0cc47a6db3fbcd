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
//! Descriptions never contain claim values.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use service::ApiError;

/// A presentation or response that was checked and refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The `vp_token` or one of its presentations is not well-formed.
    #[error("malformed vp_token: {0}")]
    MalformedVpToken(String),
    /// The issuer signature does not verify.
    #[error("the issuer signature is invalid")]
    InvalidSignature,
    /// A JWT of the presentation (issuer-signed or key binding) names an `alg` that is
    /// never accepted (`none`, HMAC, anything outside the allow-list): refused before any
    /// signature check, and not a formatting mistake.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// The issuer (its key, certificate or identifier) is not trusted by the policy.
    #[error("the issuer is not trusted for this policy: {0}")]
    UntrustedIssuer(String),
    /// The credential breaks an SD-JWT VC rule (`typ`, `vct`, claim types, disclosures).
    #[error("invalid credential: {0}")]
    InvalidCredential(String),
    /// A disclosure does not belong to the credential or breaks RFC 9901 §7.1.
    #[error("invalid disclosure: {0}")]
    InvalidDisclosure(String),
    /// `exp` passed or `nbf` not reached.
    #[error("the credential is expired or not yet valid")]
    CredentialExpired,
    /// Holder binding is required and no KB-JWT was presented.
    #[error("the presentation has no key binding JWT")]
    KeyBindingMissing,
    /// The KB-JWT is malformed, has the wrong `typ` or algorithm, or its signature does
    /// not verify with `cnf`.
    #[error("the key binding JWT is invalid: {0}")]
    InvalidKeyBinding(String),
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
    InvalidStatus(String),
    /// The policy requires a status reference and the credential has none.
    #[error("the credential has no status reference")]
    StatusMissing,
    /// The presentations do not answer the DCQL query.
    #[error("the presentation does not satisfy the request: {0}")]
    DcqlUnsatisfied(String),
    /// An essential claim of the policy was not disclosed.
    #[error("essential claim {0} was not disclosed")]
    EssentialClaimMissing(String),
    /// The wallet answered with an error response.
    #[error("the wallet declined: {0}")]
    WalletError(String),
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
