//! How the issuer answers a refused or failed request.
//!
//! - [`Rejection`]: a protocol error with the code the spec names (`invalid_proof`,
//!   `invalid_nonce`, `use_attestation_challenge`, …), its HTTP status from
//!   [`ErrorCode::http_status`], `Cache-Control: no-store`, and the headers some codes need
//!   (`WWW-Authenticate` for `invalid_token`, RFC 6750 §3; a fresh
//!   `OAuth-Client-Attestation-Challenge` for `use_attestation_challenge`, ABCA §7.4; a
//!   fresh `DPoP-Nonce` for `use_dpop_nonce`, RFC 9449 §8). At a protected resource the
//!   DPoP codes are 401 with `WWW-Authenticate: DPoP error=…` (RFC 9449 §7.1, §9), set
//!   with [`Rejection::at_resource`]. Every rejection also carries a [`Reason`]: which
//!   refusal it is, finer than the wire code (an unknown and an expired pre-authorized
//!   code are both `invalid_grant`). The reason never goes on the wire; it is logged, and
//!   put in the response's extensions so that tests driving the router can pin it.
//! - [`Failure`]: the server could not do its part (database, cache, keys, randomness).
//!   Logged with its cause; the client gets `server_error`, or `temporarily_unavailable`
//!   when a dependency is unreachable ("could not check" is never "invalid").

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oid4vci::{ErrorCode, ErrorResponse};
use std::borrow::Cow;

/// Which refusal a [`Rejection`] is: one variant per distinct check the issuer makes.
///
/// Several reasons share a wire code (RFC 6749 and OpenID4VCI define few codes); the
/// reason tells them apart for the log and for tests, and never reaches the client. It
/// is in the extensions of the response a rejection turns into
/// (`response.extensions().get::<Reason>()`), which no HTTP server serializes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    // Token request (`/token`).
    /// The token request is not `application/x-www-form-urlencoded`.
    TokenRequestNotForm,
    /// The token request form is malformed (code from the parser: `invalid_request` or
    /// `unsupported_grant_type`).
    TokenRequestMalformed,
    /// No offer has this pre-authorized code.
    UnknownCode,
    /// The pre-authorized code was already redeemed.
    CodeAlreadyUsed,
    /// The pre-authorized code has expired.
    ExpiredCode,
    /// Too many wrong transaction codes were tried: the pre-authorized code is dead.
    CodeDead,
    /// The offer has a transaction code and the request has no `tx_code`.
    TxCodeMissing,
    /// The offer has no transaction code and the request sent one.
    TxCodeUnexpected,
    /// The transaction code is wrong (one attempt counted).
    WrongTxCode,
    /// The code was redeemed or expired between the read and the conditional update.
    CodeLostRace,

    // Client attestation (`/token`, and the resources under `bind_access_token`).
    /// An attestation header is missing.
    AttestationHeaderMissing,
    /// An attestation header appears more than once.
    AttestationHeaderRepeated,
    /// An attestation header is not text.
    AttestationHeaderNotText,
    /// No trusted anchor takes the attestation's `x5c` chain.
    AttestationChainUntrusted,
    /// The attestation or its PoP failed a check (code from the check).
    AttestationInvalid,
    /// The PoP has no attestation challenge and one is required.
    AttestationChallengeMissing,
    /// The PoP's attestation challenge is unknown, expired or used.
    AttestationChallengeUnknown,
    /// The attestation verified under a wallet provider entry without a policy.
    WalletProviderPolicyMissing,
    /// The wallet provider's policy refuses the attestation.
    WalletProviderPolicyRefused,
    /// The `client_id` is not on the allow-list.
    ClientIdNotAccepted,
    /// The environment policy refuses the attestation.
    EnvironmentPolicyRefused,
    /// The attester is not on the allow-list.
    AttesterNotAccepted,
    /// The PoP `jti` was already used.
    PopReplay,

    // DPoP (RFC 9449).
    /// The `DPoP` header is not text or appears more than once.
    DpopHeaderMalformed,
    /// DPoP is required and the token request has no proof.
    DpopRequired,
    /// The DPoP proof failed a check (code from the check).
    DpopProofInvalid,
    /// Nonces are demanded and the proof has none.
    DpopNonceMissing,
    /// The proof's nonce is unknown, expired or already used.
    DpopNonceUnknown,
    /// The proof's `jti` was already used.
    DpopReplay,
    /// DPoP is required and a token that is not DPoP-bound was presented as `Bearer`.
    DpopBoundTokenRequired,
    /// A token that is not DPoP-bound was presented as `DPoP`.
    TokenNotDpopBound,
    /// A DPoP-bound token was presented as `Bearer`.
    DpopBoundTokenAsBearer,
    /// A DPoP-bound token was presented without a proof.
    DpopProofMissing,
    /// The DPoP proof is signed by another key than the token is bound to.
    DpopKeyMismatch,

    // Access token (`/credential`, `/notification`).
    /// No `Authorization` header with a usable scheme and token.
    AccessTokenMissing,
    /// No access token has this value.
    UnknownAccessToken,
    /// The access token has expired.
    ExpiredAccessToken,
    /// The token is bound to a client instance key and no valid attestation and PoP came.
    BindingProofMissing,
    /// The PoP is signed by another key than the token is bound to.
    BindingKeyMismatch,
    /// The binding PoP's `jti` was already used.
    BindingPopReplay,

    // Credential request (`/credential`).
    /// The body is neither `application/json` nor `application/jwt`.
    CredentialRequestMediaType,
    /// The credential request is malformed or cannot be decrypted (code from the parser).
    CredentialRequestMalformed,
    /// A plain request where encrypted requests are required.
    RequestEncryptionRequired,
    /// An encrypted request and this issuer has no key agreement key.
    RequestEncryptionNotOffered,
    /// The encrypted request is not text.
    JweNotText,
    /// `credential_response_encryption` in a plain request.
    ResponseEncryptionInPlainRequest,
    /// No `credential_response_encryption` where it is required.
    ResponseEncryptionRequired,
    /// `credential_response_encryption` and this issuer does not encrypt responses.
    ResponseEncryptionNotOffered,
    /// The requested `enc` is not offered.
    EncNotOffered,
    /// `zip` is requested and not offered.
    ZipNotOffered,
    /// `credential_identifier` was sent (this issuer hands out none).
    CredentialIdentifierUnsupported,
    /// The credential configuration is unknown.
    UnknownConfiguration,
    /// The access token does not cover the configuration.
    ConfigurationNotGranted,
    /// No `proofs`.
    ProofMissing,
    /// The `attestation` proof type.
    ProofTypeUnsupported,
    /// More proofs than `batch_size`.
    TooManyProofs,
    /// A proof failed a check of Appendix F (signature, `aud`, `iat`, `typ`, …).
    ProofInvalid,
    /// Two proofs are for the same key.
    ProofKeyRepeated,
    /// A proof's `c_nonce` is unknown, expired or already used (the single-use store
    /// cannot tell these apart: a consumed value is gone).
    NonceUnknown,

    // Notification (`/notification`).
    /// The notification request is malformed (code from the parser).
    NotificationRequestMalformed,
    /// No credential of this access token has this `notification_id`.
    UnknownNotificationId,

    // Administration.
    /// An offer request breaks a rule (the description says which).
    OfferRequestInvalid,
    /// An admin API request breaks a rule (the description says which).
    AdminRequestInvalid,
}

/// A request refused with a protocol error code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    code: ErrorCode,
    reason: Reason,
    description: Option<Cow<'static, str>>,
    challenge: Option<String>,
    dpop_nonce: Option<String>,
    /// The `WWW-Authenticate` challenge scheme and parameters, at a protected resource.
    resource: Option<Cow<'static, str>>,
}

impl Rejection {
    /// A rejection with wire `code`, for `reason`.
    pub fn new(code: ErrorCode, reason: Reason) -> Self {
        Rejection {
            code,
            reason,
            description: None,
            challenge: None,
            dpop_nonce: None,
            resource: None,
        }
    }

    /// With a description for the client developer (no secrets, no internals).
    #[must_use]
    pub fn describe(mut self, text: impl Into<Cow<'static, str>>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// With a fresh attestation challenge in the response header.
    #[must_use]
    pub fn with_challenge(mut self, challenge: String) -> Self {
        self.challenge = Some(challenge);
        self
    }

    /// With a fresh DPoP nonce in the `DPoP-Nonce` response header.
    #[must_use]
    pub fn with_dpop_nonce(mut self, nonce: String) -> Self {
        self.dpop_nonce = Some(nonce);
        self
    }

    /// Answered by a protected resource: 401 (for the codes RFC 6750 §3.1 and RFC 9449
    /// §7.1 give that status) with `WWW-Authenticate: <scheme> error="<code>"<params>`;
    /// `scheme_and_params` is `Bearer` or `DPoP algs="ES256"` (no input, ever: it goes into
    /// a header).
    #[must_use]
    pub fn at_resource(mut self, scheme_and_params: impl Into<Cow<'static, str>>) -> Self {
        self.resource = Some(scheme_and_params.into());
        self
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// Which refusal this is.
    pub fn reason(&self) -> Reason {
        self.reason
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let unauthorized = matches!(
            self.code,
            ErrorCode::InvalidToken | ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce
        );
        let status = if self.resource.is_some() && unauthorized {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
        };
        let body = ErrorResponse::new(self.code, self.description.as_deref());
        tracing::debug!(error = self.code.as_str(), reason = ?self.reason, "request refused");
        let mut response = (status, axum::Json(body)).into_response();
        response.extensions_mut().insert(self.reason);
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match (&self.resource, self.code) {
            (Some(scheme), code) => {
                let (name, params) = scheme.split_once(' ').unwrap_or((scheme, ""));
                let sep = if params.is_empty() { "" } else { ", " };
                let value = format!("{name} error=\"{}\"{sep}{params}", code.as_str());
                if let Ok(v) = HeaderValue::from_str(&value) {
                    headers.insert(header::WWW_AUTHENTICATE, v);
                }
            }
            (None, ErrorCode::InvalidToken) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            (None, _) => {}
        }
        if let Some(n) = self.dpop_nonce
            && let Ok(v) = HeaderValue::from_str(&n)
        {
            headers.insert(oid4vci::DPOP_NONCE_HEADER, v);
        }
        if let Some(c) = self.challenge
            && let Ok(v) = HeaderValue::from_str(&c)
        {
            headers.insert(client_attestation::CHALLENGE_HEADER, v);
        }
        response
    }
}

/// The server could not do its part.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// A database query failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A grouped write failed (every request of its batch gets this).
    #[error("database write: {0}")]
    Write(std::sync::Arc<sqlx::Error>),
    /// The single-use value store failed.
    #[error("single-use store: {0}")]
    Store(#[from] store::Error),
    /// Signing keys could not be loaded or created.
    #[error("signing keys: {0}")]
    Keys(#[from] crate::signing::KeyError),
    /// The random generator failed.
    #[error(transparent)]
    Random(#[from] jose::random::RandomError),
    /// Issuing the SD-JWT VC failed after every input was checked.
    #[error("SD-JWT VC issuance: {0}")]
    Issue(#[from] sd_jwt::VcError),
    /// Building or encoding a status list failed.
    #[error("status list: {0}")]
    StatusList(#[from] status_list::ListError),
    /// Building or signing a status list token failed.
    #[error("status list: {0}")]
    StatusListToken(#[from] status_list::TokenError),
    /// Signing failed.
    #[error("signing: {0}")]
    Sign(#[from] jose::SignError),
    /// Encrypting the response failed after its parameters were checked.
    #[error("response encryption: {0}")]
    Encrypt(#[from] jose::JweError),
    /// Stored data is not what this version wrote.
    #[error("stored {0} is malformed")]
    Corrupt(&'static str),
    /// Every random status index tried was taken.
    #[error("no free status list index after repeated attempts")]
    StatusIndexExhausted,
    /// Attestation trust is not loaded yet (its file is missing).
    #[error("client attestation trust is not loaded")]
    TrustNotLoaded,
}

impl From<std::sync::Arc<sqlx::Error>> for Failure {
    fn from(e: std::sync::Arc<sqlx::Error>) -> Self {
        Failure::Write(e)
    }
}

impl Failure {
    fn unavailable(&self) -> bool {
        match self {
            Failure::Store(e) => e.is_unavailable(),
            // A PostgreSQL restart ends in-flight statements with "terminating connection
            // due to administrator command" (57P01): unavailable, not a server error.
            Failure::Database(e) => store::is_connection_error(e),
            Failure::Write(e) => store::is_connection_error(e),
            Failure::Keys(crate::signing::KeyError::Database(e)) => store::is_connection_error(e),
            Failure::TrustNotLoaded => true,
            _ => false,
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        if self.unavailable() {
            tracing::warn!(error = %self, "dependency unavailable");
            return service::ApiError::unavailable().into_response();
        }
        service::ApiError::internal(&self).into_response()
    }
}

/// A handler's error: refused, or failed.
#[derive(Debug)]
pub enum HandlerError {
    /// Refused with a protocol code.
    Rejected(Rejection),
    /// The server failed.
    Failed(Failure),
    /// A plain HTTP-level error (`not_found`).
    Api(service::ApiError),
}

impl From<Rejection> for HandlerError {
    fn from(r: Rejection) -> Self {
        HandlerError::Rejected(r)
    }
}

impl From<Failure> for HandlerError {
    fn from(f: Failure) -> Self {
        HandlerError::Failed(f)
    }
}

macro_rules! failure_from {
    ($($t:ty),*) => {$(
        impl From<$t> for HandlerError {
            fn from(e: $t) -> Self {
                HandlerError::Failed(e.into())
            }
        }
    )*};
}

failure_from!(
    std::sync::Arc<sqlx::Error>,
    sqlx::Error,
    store::Error,
    crate::signing::KeyError,
    jose::random::RandomError,
    sd_jwt::VcError,
    jose::SignError,
    jose::JweError
);

impl IntoResponse for HandlerError {
    fn into_response(self) -> Response {
        match self {
            HandlerError::Rejected(r) => r.into_response(),
            HandlerError::Failed(f) => f.into_response(),
            HandlerError::Api(e) => e.into_response(),
        }
    }
}

/// A handler's result.
pub type HandlerResult<T> = Result<T, HandlerError>;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn issue11_reason_is_a_response_extension_and_not_on_the_wire() {
        let r = Rejection::new(ErrorCode::InvalidGrant, Reason::ExpiredCode)
            .describe("the pre-authorized code has expired");
        assert_eq!(r.reason(), Reason::ExpiredCode);
        let response = r.into_response();
        assert_eq!(
            response.extensions().get::<Reason>(),
            Some(&Reason::ExpiredCode)
        );
        for (_, value) in response.headers() {
            assert!(!value.to_str().unwrap().contains("ExpiredCode"));
        }
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "error": "invalid_grant",
                "error_description": "the pre-authorized code has expired"
            })
        );
    }

    #[test]
    fn issue11_reason_tells_refusals_with_one_wire_code_apart() {
        let unknown = Rejection::new(ErrorCode::InvalidGrant, Reason::UnknownCode);
        let expired = Rejection::new(ErrorCode::InvalidGrant, Reason::ExpiredCode);
        assert_eq!(unknown.code(), expired.code());
        assert_ne!(unknown, expired);
        assert_ne!(unknown.reason(), expired.reason());
    }
}
