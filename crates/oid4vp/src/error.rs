//! Error codes of OpenID4VP 1.0 (§8.5) and the OAuth 2.0 / JAR codes it builds on, as
//! sent in an authorization error response or answered by a verifier endpoint.

use std::fmt;

/// An error code a wallet sends to a verifier (or a verifier endpoint answers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `invalid_request` (RFC 6749 §4.1.2.1; §8.5: both or neither of `dcql_query` and
    /// `scope`, unsupported client id prefix, prefix rules violated, `redirect_uri` with
    /// `direct_post`).
    InvalidRequest,
    /// `invalid_client` (§8.5: `client_metadata` sent for a pre-registered client).
    InvalidClient,
    /// `invalid_scope`.
    InvalidScope,
    /// `access_denied` (§8.5: no matching credentials, consent refused, holder
    /// authentication failed).
    AccessDenied,
    /// `unauthorized_client`.
    UnauthorizedClient,
    /// `unsupported_response_type`.
    UnsupportedResponseType,
    /// `server_error`.
    ServerError,
    /// `temporarily_unavailable`.
    TemporarilyUnavailable,
    /// `invalid_request_uri` (RFC 9101 §6.2): the `request_uri` could not be fetched.
    InvalidRequestUri,
    /// `invalid_request_object` (RFC 9101 §6.2): the request object is invalid.
    InvalidRequestObject,
    /// `vp_formats_not_supported` (§8.5).
    VpFormatsNotSupported,
    /// `invalid_request_uri_method` (§8.5).
    InvalidRequestUriMethod,
    /// `invalid_transaction_data` (§8.5).
    InvalidTransactionData,
    /// `wallet_unavailable` (§8.5).
    WalletUnavailable,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 14] = [
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidClient,
        ErrorCode::InvalidScope,
        ErrorCode::AccessDenied,
        ErrorCode::UnauthorizedClient,
        ErrorCode::UnsupportedResponseType,
        ErrorCode::ServerError,
        ErrorCode::TemporarilyUnavailable,
        ErrorCode::InvalidRequestUri,
        ErrorCode::InvalidRequestObject,
        ErrorCode::VpFormatsNotSupported,
        ErrorCode::InvalidRequestUriMethod,
        ErrorCode::InvalidTransactionData,
        ErrorCode::WalletUnavailable,
    ];

    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::InvalidRequestUri => "invalid_request_uri",
            ErrorCode::InvalidRequestObject => "invalid_request_object",
            ErrorCode::VpFormatsNotSupported => "vp_formats_not_supported",
            ErrorCode::InvalidRequestUriMethod => "invalid_request_uri_method",
            ErrorCode::InvalidTransactionData => "invalid_transaction_data",
            ErrorCode::WalletUnavailable => "wallet_unavailable",
        }
    }

    /// Parses a registered name (exact match).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `error` and `error_description` values must be printable ASCII except `"` and `\`
/// (RFC 6749 §4.1.2.1).
pub fn is_error_text(s: &str) -> bool {
    s.bytes()
        .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_name(c.as_str()), Some(c));
        }
        assert_eq!(ErrorCode::from_name("Invalid_Request"), None);
    }

    #[test]
    fn error_text_charset() {
        assert!(is_error_text("unsupported client_id_prefix"));
        assert!(!is_error_text("quote\"d"));
        assert!(!is_error_text("ümlaut"));
    }
}
