//! The protocol's error codes, each with the one user-facing message the engine sends.
//! Internals (peer responses, HTTP statuses, parser details) go to the engine's log only.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Why a message, a flow or the connection failed (`error.code` / `flow_error.error.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The `app_token` is missing, invalid or expired, or no handshake came in time.
    AuthFailed,
    /// The token does not permit this flow (receiving or presenting).
    Forbidden,
    /// The message is not valid API v2 JSON, or not expected at this point of the flow.
    InvalidMessage,
    /// No running flow has this `flow_id` (or the `message_id` is not the one awaited).
    UnknownFlow,
    /// The flow ran longer than the flow limit.
    FlowTimeout,
    /// The credential offer could not be parsed.
    OfferParseError,
    /// The `credential_offer_uri` could not be fetched (including refused addresses).
    OfferFetchError,
    /// The issuer's, authorization server's or verifier's metadata could not be fetched.
    MetadataFetchError,
    /// The issuer is not trusted.
    UntrustedIssuer,
    /// The verifier is not trusted, or its request is not validly signed for its client id.
    UntrustedVerifier,
    /// The token endpoint refused the request.
    TokenError,
    /// The credential endpoint refused the request, or its answer is unusable.
    CredentialError,
    /// The client did not answer a `sign_request` in time.
    SignTimeout,
    /// The client's `sign_response` is unusable or reports a failure.
    SignError,
    /// The client did not answer a `match_request` in time.
    MatchTimeout,
    /// The client's `match_response` is unusable.
    MatchError,
    /// The presentation could not be built or the verifier refused it.
    PresentationError,
    /// A per-connection rate limit was exceeded.
    TooManyRequests,
    /// Something failed inside the engine.
    InternalError,
}

impl ErrorCode {
    /// Every code, in the order of the issue's list.
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::AuthFailed,
        ErrorCode::Forbidden,
        ErrorCode::InvalidMessage,
        ErrorCode::UnknownFlow,
        ErrorCode::FlowTimeout,
        ErrorCode::OfferParseError,
        ErrorCode::OfferFetchError,
        ErrorCode::MetadataFetchError,
        ErrorCode::UntrustedIssuer,
        ErrorCode::UntrustedVerifier,
        ErrorCode::TokenError,
        ErrorCode::CredentialError,
        ErrorCode::SignTimeout,
        ErrorCode::SignError,
        ErrorCode::MatchTimeout,
        ErrorCode::MatchError,
        ErrorCode::PresentationError,
        ErrorCode::TooManyRequests,
        ErrorCode::InternalError,
    ];

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AuthFailed => "AUTH_FAILED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::InvalidMessage => "INVALID_MESSAGE",
            ErrorCode::UnknownFlow => "UNKNOWN_FLOW",
            ErrorCode::FlowTimeout => "FLOW_TIMEOUT",
            ErrorCode::OfferParseError => "OFFER_PARSE_ERROR",
            ErrorCode::OfferFetchError => "OFFER_FETCH_ERROR",
            ErrorCode::MetadataFetchError => "METADATA_FETCH_ERROR",
            ErrorCode::UntrustedIssuer => "UNTRUSTED_ISSUER",
            ErrorCode::UntrustedVerifier => "UNTRUSTED_VERIFIER",
            ErrorCode::TokenError => "TOKEN_ERROR",
            ErrorCode::CredentialError => "CREDENTIAL_ERROR",
            ErrorCode::SignTimeout => "SIGN_TIMEOUT",
            ErrorCode::SignError => "SIGN_ERROR",
            ErrorCode::MatchTimeout => "MATCH_TIMEOUT",
            ErrorCode::MatchError => "MATCH_ERROR",
            ErrorCode::PresentationError => "PRESENTATION_ERROR",
            ErrorCode::TooManyRequests => "TOO_MANY_REQUESTS",
            ErrorCode::InternalError => "INTERNAL_ERROR",
        }
    }

    /// The message shown to the user; the same for every occurrence of the code, so no
    /// detail of the failure reaches the client.
    pub fn user_message(self) -> &'static str {
        match self {
            ErrorCode::AuthFailed => "Authentication failed. Please sign in again.",
            ErrorCode::Forbidden => "Your session does not permit this action.",
            ErrorCode::InvalidMessage => "The wallet sent a message the service could not accept.",
            ErrorCode::UnknownFlow => "This operation is no longer running.",
            ErrorCode::FlowTimeout => "The operation took too long and was stopped.",
            ErrorCode::OfferParseError => "The credential offer could not be read.",
            ErrorCode::OfferFetchError => "The credential offer could not be retrieved.",
            ErrorCode::MetadataFetchError => "The service's information could not be retrieved.",
            ErrorCode::UntrustedIssuer => "The issuer is not trusted.",
            ErrorCode::UntrustedVerifier => "The requesting party is not trusted.",
            ErrorCode::TokenError => "The issuer refused the request.",
            ErrorCode::CredentialError => "The issuer could not issue the credential.",
            ErrorCode::SignTimeout => "The wallet did not sign in time.",
            ErrorCode::SignError => "The wallet could not sign.",
            ErrorCode::MatchTimeout => "The wallet did not search its credentials in time.",
            ErrorCode::MatchError => "The wallet could not search its credentials.",
            ErrorCode::PresentationError => "The credentials could not be presented.",
            ErrorCode::TooManyRequests => "Too many requests. Please wait a moment.",
            ErrorCode::InternalError => "Something went wrong. Please try again.",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn wire_names_are_the_issue_list() {
        let names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names.join(", "),
            "AUTH_FAILED, FORBIDDEN, INVALID_MESSAGE, UNKNOWN_FLOW, FLOW_TIMEOUT, \
             OFFER_PARSE_ERROR, OFFER_FETCH_ERROR, METADATA_FETCH_ERROR, UNTRUSTED_ISSUER, \
             UNTRUSTED_VERIFIER, TOKEN_ERROR, CREDENTIAL_ERROR, SIGN_TIMEOUT, SIGN_ERROR, \
             MATCH_TIMEOUT, MATCH_ERROR, PRESENTATION_ERROR, TOO_MANY_REQUESTS, INTERNAL_ERROR"
        );
        for c in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            assert!(!c.user_message().is_empty());
        }
    }
}
