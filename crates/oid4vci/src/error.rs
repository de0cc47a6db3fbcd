//! The error codes an issuer answers (OpenID4VCI 1.0 §6.3, §8.3.1, §9.3, §11.3, RFC 6749
//! §5.2, RFC 6750 §3.1, Attestation-Based Client Authentication §7.4, RFC 9449 §5, §7.1, §8) with their HTTP
//! status, and the error response body both sides read and write.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An error code of an issuer or its authorization server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `invalid_request` (RFC 6749 §5.2; §6.3: `tx_code` missing or unexpected).
    InvalidRequest,
    /// `invalid_client` (RFC 6749 §5.2; §6.3: anonymous access not supported).
    InvalidClient,
    /// `invalid_grant` (§6.3: wrong `tx_code`, wrong or expired pre-authorized code).
    InvalidGrant,
    /// `unauthorized_client` (RFC 6749 §5.2).
    UnauthorizedClient,
    /// `unsupported_grant_type` (RFC 6749 §5.2).
    UnsupportedGrantType,
    /// `invalid_scope` (RFC 6749 §5.2).
    InvalidScope,
    /// `invalid_token` (RFC 6750 §3.1): the access token is missing, expired or unknown.
    InvalidToken,
    /// `insufficient_scope` (RFC 6750 §3.1).
    InsufficientScope,
    /// `invalid_credential_request` (§8.3.1.2).
    InvalidCredentialRequest,
    /// `unknown_credential_configuration` (§8.3.1.2).
    UnknownCredentialConfiguration,
    /// `unknown_credential_identifier` (§8.3.1.2).
    UnknownCredentialIdentifier,
    /// `invalid_proof` (§8.3.1.2): proofs missing, a proof invalid, or one without nonce.
    InvalidProof,
    /// `invalid_nonce` (§8.3.1.2): a proof carries an unknown, expired or used `c_nonce`.
    InvalidNonce,
    /// `invalid_encryption_parameters` (§8.3.1.2).
    InvalidEncryptionParameters,
    /// `credential_request_denied` (§8.3.1.2).
    CredentialRequestDenied,
    /// `invalid_transaction_id` (§9.3).
    InvalidTransactionId,
    /// `invalid_notification_id` (§11.3).
    InvalidNotificationId,
    /// `invalid_notification_request` (§11.3).
    InvalidNotificationRequest,
    /// `use_attestation_challenge` (ABCA §7.4): a fresh challenge must be used; the response
    /// carries one in `OAuth-Client-Attestation-Challenge`.
    UseAttestationChallenge,
    /// `use_fresh_attestation` (ABCA §7.4): the client attestation is too old.
    UseFreshAttestation,
    /// `invalid_client_attestation` (ABCA §7.4).
    InvalidClientAttestation,
    /// `invalid_dpop_proof` (RFC 9449 §5, §7.1): the DPoP proof is missing or invalid.
    InvalidDpopProof,
    /// `use_dpop_nonce` (RFC 9449 §8, §9): the proof must carry the server nonce the
    /// response sends in `DPoP-Nonce`.
    UseDpopNonce,
    /// `server_error` (RFC 6749 §4.1.2.1).
    ServerError,
    /// `temporarily_unavailable` (RFC 6749 §4.1.2.1).
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 25] = [
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidClient,
        ErrorCode::InvalidGrant,
        ErrorCode::UnauthorizedClient,
        ErrorCode::UnsupportedGrantType,
        ErrorCode::InvalidScope,
        ErrorCode::InvalidToken,
        ErrorCode::InsufficientScope,
        ErrorCode::InvalidCredentialRequest,
        ErrorCode::UnknownCredentialConfiguration,
        ErrorCode::UnknownCredentialIdentifier,
        ErrorCode::InvalidProof,
        ErrorCode::InvalidNonce,
        ErrorCode::InvalidEncryptionParameters,
        ErrorCode::CredentialRequestDenied,
        ErrorCode::InvalidTransactionId,
        ErrorCode::InvalidNotificationId,
        ErrorCode::InvalidNotificationRequest,
        ErrorCode::UseAttestationChallenge,
        ErrorCode::UseFreshAttestation,
        ErrorCode::InvalidClientAttestation,
        ErrorCode::InvalidDpopProof,
        ErrorCode::UseDpopNonce,
        ErrorCode::ServerError,
        ErrorCode::TemporarilyUnavailable,
    ];

    /// The registered string.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::InvalidCredentialRequest => "invalid_credential_request",
            ErrorCode::UnknownCredentialConfiguration => "unknown_credential_configuration",
            ErrorCode::UnknownCredentialIdentifier => "unknown_credential_identifier",
            ErrorCode::InvalidProof => "invalid_proof",
            ErrorCode::InvalidNonce => "invalid_nonce",
            ErrorCode::InvalidEncryptionParameters => "invalid_encryption_parameters",
            ErrorCode::CredentialRequestDenied => "credential_request_denied",
            ErrorCode::InvalidTransactionId => "invalid_transaction_id",
            ErrorCode::InvalidNotificationId => "invalid_notification_id",
            ErrorCode::InvalidNotificationRequest => "invalid_notification_request",
            ErrorCode::UseAttestationChallenge => "use_attestation_challenge",
            ErrorCode::UseFreshAttestation => "use_fresh_attestation",
            ErrorCode::InvalidClientAttestation => "invalid_client_attestation",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// Parses a registered string (exact match).
    pub fn from_name(name: &str) -> Option<Self> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The HTTP status an issuer answers with.
    ///
    /// - `invalid_token` is 401 and `insufficient_scope` 403 (RFC 6750 §3.1);
    /// - `server_error` 500 and `temporarily_unavailable` 503;
    /// - every other code 400: the token endpoint's codes (RFC 6749 §5.2 lets
    ///   `invalid_client` be 400 when the client did not authenticate through the
    ///   `Authorization` header, which attestation-based clients never do), and the
    ///   credential, deferred and notification endpoints' codes (§8.3.1.2, §9.3, §11.3);
    ///   `invalid_dpop_proof` and `use_dpop_nonce` are 400 at the token endpoint (RFC 9449
    ///   §5, §8) — a protected resource answers them with 401 and `WWW-Authenticate: DPoP`
    ///   (§7.1, §9), which the resource server sets itself.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidToken => 401,
            ErrorCode::InsufficientScope => 403,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The JSON body of an error response: `{"error": …, "error_description"?: …}`.
///
/// `error` is kept as a string so a wallet can read codes this crate does not know;
/// [`ErrorResponse::code`] maps it to an [`ErrorCode`] when it is one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error code.
    pub error: String,
    /// Text for the client developer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

impl ErrorResponse {
    /// A response with `code` and an optional description. Characters outside the set
    /// §8.3.1.2 allows in `error_description` (`%x20-21 / %x23-5B / %x5D-7E`) are
    /// replaced by `?`, so a description built from input can never break the rule.
    pub fn new(code: ErrorCode, description: Option<&str>) -> Self {
        ErrorResponse {
            error: code.as_str().to_owned(),
            error_description: description.map(sanitize_description),
        }
    }

    /// The code, when it is one this crate knows.
    pub fn code(&self) -> Option<ErrorCode> {
        ErrorCode::from_name(&self.error)
    }

    /// Parses an error response body.
    pub fn from_json(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

/// Whether `text` only uses the characters `error_description` and `event_description`
/// may contain (`%x20-21 / %x23-5B / %x5D-7E`).
pub fn is_description_text(text: &str) -> bool {
    text.bytes()
        .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

fn sanitize_description(text: &str) -> String {
    text.chars()
        .map(|c| {
            let ok = u8::try_from(u32::from(c))
                .is_ok_and(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E));
            if ok { c } else { '?' }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_name() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_name(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::from_name("Invalid_Proof"), None);
    }

    #[test]
    fn statuses_follow_the_specs() {
        assert_eq!(ErrorCode::InvalidToken.http_status(), 401);
        assert_eq!(ErrorCode::InsufficientScope.http_status(), 403);
        assert_eq!(ErrorCode::InvalidProof.http_status(), 400);
        assert_eq!(ErrorCode::InvalidNonce.http_status(), 400);
        assert_eq!(ErrorCode::InvalidGrant.http_status(), 400);
        assert_eq!(ErrorCode::ServerError.http_status(), 500);
        assert_eq!(ErrorCode::TemporarilyUnavailable.http_status(), 503);
    }

    #[test]
    fn descriptions_never_carry_quotes_or_backslashes() {
        let r = ErrorResponse::new(ErrorCode::InvalidProof, Some("bad \"typ\" \\ é\n"));
        let d = r.error_description.as_deref().unwrap();
        assert!(is_description_text(d), "{d}");
        assert_eq!(d, "bad ?typ? ? ??");
        let back = ErrorResponse::from_json(serde_json::to_string(&r).unwrap().as_bytes()).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.code(), Some(ErrorCode::InvalidProof));
    }

    #[test]
    fn unknown_codes_parse_but_have_no_enum() {
        let r = ErrorResponse::from_json(br#"{"error":"slow_down"}"#).unwrap();
        assert_eq!(r.code(), None);
        assert_eq!(r.error, "slow_down");
    }
}
