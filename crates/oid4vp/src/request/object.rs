//! The request object (RFC 9101 JAR as profiled by OpenID4VP 1.0 §5): a JWS with `typ`
//! `oauth-authz-req+jwt` whose payload holds the authorization request parameters.
//!
//! - The verifier builds one with [`sign_request_object`]: the parameters, `aud`
//!   `https://self-issued.me/v2` (static discovery, §5.8), `iat`, `exp`, and the `x5c`
//!   chain for the `x509_*` prefixes.
//! - A wallet checks one with [`verify_request_object`]: `typ`, the client identifier
//!   against the one in the invocation URI (§5.10.1), the prefix's trust rule (`x5c`
//!   chain to the wallet's anchors, SAN or hash), the signature, time, the echoed
//!   `wallet_nonce`, then the parameters themselves.
//! - When only the parameters are wrong, the object is still authentic: the verifier
//!   signed them and its response URI passes the prefix's rule. Then
//!   [`verify_request_object_for_reply`] also says where the wallet may send its
//!   `invalid_request` (§8.5), so the verifier does not wait for an answer until its
//!   transaction expires. An object whose signature, chain, time or `wallet_nonce` fails
//!   names no destination: its `response_uri` is nobody's word.

use jose::x5c::{TrustAnchors, X5cError};
use jose::{Algorithm, CompactJws, HeaderBuilder, JwsPolicy, SignError, Signer};
use serde_json::Value;

use super::{AuthorizationRequest, RequestError, ResponseMode, is_url_safe};
use crate::client_id::{ClientId, ClientIdError, ClientIdPrefix};
use crate::error::ErrorCode;
use crate::metadata::ClientMetadata;

/// `typ` of a request object (RFC 9101 §10.8; OpenID4VP §5: MUST).
pub const TYP: &str = "oauth-authz-req+jwt";
/// Media type of a request object response (§5.10.1).
pub const MEDIA_TYPE: &str = "application/oauth-authz-req+jwt";
/// `aud` with static discovery (§5.8).
pub const AUD_SELF_ISSUED: &str = "https://self-issued.me/v2";

/// A request object could not be built, or was refused.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// Signing failed (says nothing about any input).
    #[error("signing the request object failed: {0}")]
    Sign(#[source] SignError),
    /// An `x509_*` client identifier needs the certificate chain.
    #[error("an x509 client_id prefix needs the certificate chain in x5c")]
    MissingChain,
    /// `typ` is absent or not `oauth-authz-req+jwt` (§5: MUST NOT process).
    #[error("request object typ must be oauth-authz-req+jwt, found {}", shown(.0))]
    WrongTyp(Option<String>),
    /// Not a compact JWS, bad algorithm or signature.
    #[error("request object JWS: {0}")]
    Jws(#[source] jose::Error),
    /// The `x5c` chain or its signature.
    #[error("request object x5c: {0}")]
    X5c(#[source] X5cError),
    /// The payload has no `client_id`.
    #[error("request object has no client_id")]
    MissingClientId,
    /// The payload's `client_id` differs from the invocation's (§5.10.1).
    #[error("request object client_id differs from the client_id of the request")]
    ClientIdMismatch,
    /// The payload does not echo the wallet's `wallet_nonce` (§5.10.1).
    #[error("request object does not carry the wallet_nonce sent")]
    WalletNonceMismatch,
    /// `exp` passed, `iat` in the future.
    #[error("request object time: {0}")]
    Time(#[source] jose::ClaimError),
    /// The client id prefix rules.
    #[error(transparent)]
    ClientId(#[from] ClientIdError),
}

impl ObjectError {
    /// The error code a wallet answers with.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            ObjectError::ClientIdMismatch | ObjectError::ClientId(_) => ErrorCode::InvalidRequest,
            ObjectError::Sign(_) | ObjectError::MissingChain => ErrorCode::ServerError,
            _ => ErrorCode::InvalidRequestObject,
        }
    }
}

/// Signs `request` as a request object at Unix time `now`, valid for `lifetime_secs`.
/// For `x509_san_dns`/`x509_hash` client identifiers `x5c` must hold the chain (leaf
/// first, DER) whose leaf key is `signer`'s; it is put in the header.
pub fn sign_request_object(
    request: &AuthorizationRequest,
    signer: &dyn Signer,
    x5c: Option<&[Vec<u8>]>,
    now: i64,
    lifetime_secs: i64,
) -> Result<String, ObjectError> {
    let mut claims = request.to_claims();
    claims.insert("aud".into(), AUD_SELF_ISSUED.into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), now.saturating_add(lifetime_secs).into());
    let mut header = HeaderBuilder::new().typ(TYP);
    match (request.client_id.prefix(), x5c) {
        (ClientIdPrefix::X509SanDns | ClientIdPrefix::X509Hash, None) => {
            return Err(ObjectError::MissingChain);
        }
        (_, Some(chain)) => header = header.x5c(chain),
        (_, None) => {}
    }
    if let Some(kid) = signer.key_id() {
        header = header.kid(kid);
    }
    let payload = Value::Object(claims).to_string();
    header
        .sign(payload.as_bytes(), signer)
        .map_err(ObjectError::Sign)
}

/// What a wallet accepts when verifying a request object.
#[derive(Clone, Copy, Debug)]
pub struct WalletPolicy<'a> {
    /// Signature algorithms accepted.
    pub algorithms: &'a [Algorithm],
    /// Trust anchors for `x5c` chains.
    pub anchors: &'a TrustAnchors,
    /// Clock skew allowed on `iat`/`exp`, seconds.
    pub skew: u64,
    /// Whether the verifier is trusted by other means, letting an `x509_san_dns`
    /// client choose a response URI on another host (§5.9.3).
    pub client_trusted: bool,
}

/// Where a wallet may send the error response for an authentic request object it cannot
/// accept: the values the verifier signed, the response URI checked against the client
/// identifier prefix's rule.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplyTo {
    /// `response_uri`.
    pub response_uri: String,
    /// `response_mode`, when it is one this crate knows.
    pub response_mode: Option<ResponseMode>,
    /// `state`, when present and URL-safe.
    pub state: Option<String>,
    /// `client_metadata`, when it parses (for `direct_post.jwt` encryption).
    pub client_metadata: Option<ClientMetadata>,
}

/// A refused request object, and where the error response may go when the object
/// itself was authentic.
#[derive(Debug)]
pub struct Refusal {
    /// Why it was refused.
    pub error: RequestError,
    /// Where to send the error response; `None` when the object is not authentic (or
    /// names no acceptable response URI), so nothing may be sent.
    pub reply_to: Option<Box<ReplyTo>>,
}

impl From<RequestError> for Refusal {
    fn from(error: RequestError) -> Self {
        Refusal {
            error,
            reply_to: None,
        }
    }
}

impl From<ObjectError> for Refusal {
    fn from(error: ObjectError) -> Self {
        RequestError::from(error).into()
    }
}

/// Verifies a request object fetched for an invocation with `client_id` (from the URI),
/// at Unix time `now`, after sending `wallet_nonce` (if any), and returns its request.
pub fn verify_request_object(
    jwt: &str,
    client_id: &str,
    wallet_nonce: Option<&str>,
    policy: &WalletPolicy<'_>,
    now: i64,
) -> Result<AuthorizationRequest, RequestError> {
    verify_request_object_for_reply(jwt, client_id, wallet_nonce, policy, now).map_err(|r| r.error)
}

/// [`verify_request_object`], and on refusal where the error response may be sent.
pub fn verify_request_object_for_reply(
    jwt: &str,
    client_id: &str,
    wallet_nonce: Option<&str>,
    policy: &WalletPolicy<'_>,
    now: i64,
) -> Result<AuthorizationRequest, Refusal> {
    let jws = CompactJws::parse(jwt.trim_ascii()).map_err(ObjectError::Jws)?;
    if jws.header().typ() != Some(TYP) {
        return Err(ObjectError::WrongTyp(jws.header().typ().map(str::to_owned)).into());
    }
    let unverified = jws.claims_unverified().map_err(ObjectError::Jws)?;
    let object_client_id = unverified
        .get("client_id")
        .and_then(Value::as_str)
        .ok_or(ObjectError::MissingClientId)?;
    if object_client_id != client_id {
        return Err(ObjectError::ClientIdMismatch.into());
    }
    let id = ClientId::parse(client_id).map_err(RequestError::from)?;
    let jws_policy = JwsPolicy::new(policy.algorithms).with_typ(&[TYP]);
    let (verified, leaf) = match id.prefix() {
        ClientIdPrefix::X509SanDns | ClientIdPrefix::X509Hash => {
            jose::x5c::verify_jws(jws, policy.anchors, now, &jws_policy)
                .map_err(ObjectError::X5c)?
        }
        ClientIdPrefix::RedirectUri => {
            return Err(ObjectError::ClientId(ClientIdError::MustNotBeSigned(id.prefix())).into());
        }
        other => return Err(ObjectError::ClientId(ClientIdError::NotImplemented(other)).into()),
    };
    let claims = verified.claims().map_err(ObjectError::Jws)?;
    let rules = jose::TimeRules {
        skew: policy.skew,
        require_exp: false,
        require_iat: false,
        max_age: None,
    };
    jose::jwt::check_time(&claims, &jose::FixedClock(now), &rules).map_err(ObjectError::Time)?;
    if let Some(sent) = wallet_nonce
        && claims.get("wallet_nonce").and_then(Value::as_str) != Some(sent)
    {
        return Err(ObjectError::WalletNonceMismatch.into());
    }
    let request = match AuthorizationRequest::from_claims(&claims) {
        Ok(r) => r,
        Err(error) => {
            // Signed by the verifier, fresh, for this wallet: only the parameters are
            // wrong, so the verifier is owed an answer, at a response URI its
            // certificate covers.
            let reply_to = claims
                .get("response_uri")
                .and_then(Value::as_str)
                .filter(|uri| {
                    id.check_x509(&leaf, Some(uri), None, policy.client_trusted)
                        .is_ok()
                })
                .map(|uri| ReplyTo {
                    response_uri: uri.to_owned(),
                    response_mode: claims
                        .get("response_mode")
                        .and_then(Value::as_str)
                        .and_then(ResponseMode::from_name),
                    state: claims
                        .get("state")
                        .and_then(Value::as_str)
                        .filter(|s| is_url_safe(s))
                        .map(str::to_owned),
                    client_metadata: claims
                        .get("client_metadata")
                        .and_then(|v| ClientMetadata::from_value(v).ok()),
                })
                .map(Box::new);
            return Err(Refusal { error, reply_to });
        }
    };
    id.check_x509(
        &leaf,
        Some(&request.response_uri),
        None,
        policy.client_trusted,
    )
    .map_err(ObjectError::ClientId)?;
    Ok(request)
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
mod issue10_tests {
    use super::*;

    #[test]
    fn issue10_wrong_typ_message_has_no_rust_debug_text() {
        assert_eq!(
            ObjectError::WrongTyp(None).to_string(),
            "request object typ must be oauth-authz-req+jwt, found absent"
        );
    }
}
