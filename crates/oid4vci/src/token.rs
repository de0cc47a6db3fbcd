//! The token request of the pre-authorized code flow (§6.1, form-encoded) and the token
//! response (§6.2; OpenID4VCI 1.0 has no `c_nonce` in it).
//!
//! Parameters may not repeat (RFC 6749 §3.2); parameters this crate does not know are
//! ignored (§6.1: "The Authorization Server MUST ignore any unrecognized parameters").

use crate::error::ErrorCode;
use crate::json::{Member, opt_u64, req_str};
use crate::offer::PRE_AUTHORIZED_CODE_GRANT;
use serde_json::{Map, Value};

/// A token request was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenRequestError {
    /// The body is not valid `application/x-www-form-urlencoded` UTF-8.
    #[error("the token request body is not form-encoded UTF-8")]
    NotForm,
    /// A parameter appears more than once (RFC 6749 §3.2).
    #[error("token request parameter `{}` is repeated", jose::escape_input(.0))]
    Repeated(String),
    /// A required parameter is missing or empty.
    #[error("token request parameter `{0}` is missing")]
    Missing(&'static str),
    /// `grant_type` is not one this server supports.
    #[error("grant type `{}` is not supported", jose::escape_input(.0))]
    UnsupportedGrantType(String),
    /// `tx_code` with another grant than the pre-authorized code (§6.1).
    #[error("`tx_code` is only used with the pre-authorized code grant")]
    TxCodeWithoutPreAuthorizedCode,
}

impl TokenRequestError {
    /// The error code (RFC 6749 §5.2).
    pub fn code(&self) -> ErrorCode {
        match self {
            TokenRequestError::UnsupportedGrantType(_) => ErrorCode::UnsupportedGrantType,
            _ => ErrorCode::InvalidRequest,
        }
    }
}

/// A token request with the pre-authorized code grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    /// `pre-authorized_code`.
    pub pre_authorized_code: String,
    /// `tx_code`, when the user entered one.
    pub tx_code: Option<String>,
    /// `client_id`, when sent (it must then equal the attestation `sub`).
    pub client_id: Option<String>,
    /// `authorization_details` as sent (a JSON string), when present.
    pub authorization_details: Option<String>,
    /// `resource` (RFC 8707), when present.
    pub resource: Option<String>,
}

impl TokenRequest {
    /// A request for `code` with an optional transaction code.
    pub fn new(code: impl Into<String>, tx_code: Option<String>) -> Self {
        TokenRequest {
            pre_authorized_code: code.into(),
            tx_code,
            client_id: None,
            authorization_details: None,
            resource: None,
        }
    }

    /// Parses a form-encoded body.
    pub fn from_form(body: &[u8]) -> Result<Self, TokenRequestError> {
        std::str::from_utf8(body).map_err(|_| TokenRequestError::NotForm)?;
        let mut seen: Vec<(String, String)> = Vec::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            if seen.iter().any(|(name, _)| *name == k) {
                return Err(TokenRequestError::Repeated(k.into_owned()));
            }
            seen.push((k.into_owned(), v.into_owned()));
        }
        let take = |name: &str| {
            seen.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let grant_type = take("grant_type").ok_or(TokenRequestError::Missing("grant_type"))?;
        if grant_type != PRE_AUTHORIZED_CODE_GRANT {
            if take("tx_code").is_some() {
                return Err(TokenRequestError::TxCodeWithoutPreAuthorizedCode);
            }
            return Err(TokenRequestError::UnsupportedGrantType(grant_type));
        }
        let pre_authorized_code =
            take("pre-authorized_code").ok_or(TokenRequestError::Missing("pre-authorized_code"))?;
        Ok(TokenRequest {
            pre_authorized_code,
            tx_code: take("tx_code"),
            client_id: take("client_id"),
            authorization_details: take("authorization_details"),
            resource: take("resource"),
        })
    }

    /// The form-encoded body.
    pub fn to_form(&self) -> String {
        let mut f = url::form_urlencoded::Serializer::new(String::new());
        f.append_pair("grant_type", PRE_AUTHORIZED_CODE_GRANT);
        f.append_pair("pre-authorized_code", &self.pre_authorized_code);
        let optional = [
            ("tx_code", &self.tx_code),
            ("client_id", &self.client_id),
            ("authorization_details", &self.authorization_details),
            ("resource", &self.resource),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                f.append_pair(name, v);
            }
        }
        f.finish()
    }
}

/// A token response was refused (wallet side).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenResponseError {
    /// Not a JSON object.
    #[error("the token response is not a JSON object")]
    NotObject,
    /// A member is missing.
    #[error("token response member `{0}` is missing")]
    Missing(&'static str),
    /// A member has the wrong type.
    #[error("token response member `{0}` has the wrong type")]
    WrongType(&'static str),
}

impl From<Member> for TokenResponseError {
    fn from(m: Member) -> Self {
        match m {
            Member::Missing(n) => TokenResponseError::Missing(n),
            Member::WrongType(n) => TokenResponseError::WrongType(n),
        }
    }
}

/// A successful token response (§6.2, RFC 6749 §5.1).
#[derive(Clone, Debug, PartialEq)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// `Bearer` (or `DPoP`).
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: Option<u64>,
    /// `authorization_details` with `credential_identifiers`, when used.
    pub authorization_details: Option<Vec<Value>>,
}

impl TokenResponse {
    /// Parses a token response.
    pub fn from_json(text: &[u8]) -> Result<Self, TokenResponseError> {
        let o = jose::json::parse_object(text).map_err(|_| TokenResponseError::NotObject)?;
        Self::from_object(&o)
    }

    fn from_object(o: &Map<String, Value>) -> Result<Self, TokenResponseError> {
        let authorization_details = match o.get("authorization_details") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(a.clone()),
            Some(_) => return Err(TokenResponseError::WrongType("authorization_details")),
        };
        Ok(TokenResponse {
            access_token: req_str(o, "access_token")?.to_owned(),
            token_type: req_str(o, "token_type")?.to_owned(),
            expires_in: opt_u64(o, "expires_in")?,
            authorization_details,
        })
    }

    /// The JSON body.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("access_token".into(), self.access_token.clone().into());
        m.insert("token_type".into(), self.token_type.clone().into());
        if let Some(e) = self.expires_in {
            m.insert("expires_in".into(), e.into());
        }
        if let Some(d) = &self.authorization_details {
            m.insert("authorization_details".into(), Value::Array(d.clone()));
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid4vci_6_1_pre_authorized_token_request_parses() {
        let body = "grant_type=urn:ietf:params:oauth:grant-type:pre-authorized_code\
            &pre-authorized_code=SplxlOBeZQQYbYS6WxSbIA&tx_code=493536\
            &authorization_details=%5B%7B%22type%22%3A%20%22openid_credential%22%7D%5D";
        let r = TokenRequest::from_form(body.as_bytes()).unwrap();
        assert_eq!(r.pre_authorized_code, "SplxlOBeZQQYbYS6WxSbIA");
        assert_eq!(r.tx_code.as_deref(), Some("493536"));
        assert_eq!(
            r.authorization_details.as_deref(),
            Some(r#"[{"type": "openid_credential"}]"#)
        );
        assert_eq!(TokenRequest::from_form(r.to_form().as_bytes()).unwrap(), r);
    }

    #[test]
    fn unknown_parameters_are_ignored() {
        let body = format!(
            "grant_type={}&pre-authorized_code=c&frobnicate=1&scope=x",
            url::form_urlencoded::byte_serialize(PRE_AUTHORIZED_CODE_GRANT.as_bytes())
                .collect::<String>()
        );
        let r = TokenRequest::from_form(body.as_bytes()).unwrap();
        assert_eq!(r, TokenRequest::new("c", None));
    }

    #[test]
    fn rejects_repeated_parameters() {
        let body = "grant_type=urn:ietf:params:oauth:grant-type:pre-authorized_code&pre-authorized_code=a&pre-authorized_code=b";
        assert_eq!(
            TokenRequest::from_form(body.as_bytes()),
            Err(TokenRequestError::Repeated("pre-authorized_code".into()))
        );
    }

    #[test]
    fn issue11_parameter_names_and_grant_types_in_messages_are_escaped() {
        let e = TokenRequest::from_form(b"a%0Ab=1&a%0Ab=2").unwrap_err();
        assert_eq!(e, TokenRequestError::Repeated("a\nb".into()));
        assert_eq!(e.to_string(), "token request parameter `a\\nb` is repeated");
        let e = TokenRequest::from_form(b"grant_type=x%0D%0Ay").unwrap_err();
        assert_eq!(e.to_string(), "grant type `x\\r\\ny` is not supported");
    }

    #[test]
    fn rejects_other_grant_types_and_missing_code() {
        let e = TokenRequest::from_form(b"grant_type=authorization_code&code=x").unwrap_err();
        assert_eq!(
            e,
            TokenRequestError::UnsupportedGrantType("authorization_code".into())
        );
        assert_eq!(e.code(), ErrorCode::UnsupportedGrantType);
        let e = TokenRequest::from_form(b"grant_type=client_credentials&tx_code=1").unwrap_err();
        assert_eq!(e, TokenRequestError::TxCodeWithoutPreAuthorizedCode);
        assert_eq!(e.code(), ErrorCode::InvalidRequest);
        assert_eq!(
            TokenRequest::from_form(
                b"grant_type=urn:ietf:params:oauth:grant-type:pre-authorized_code"
            ),
            Err(TokenRequestError::Missing("pre-authorized_code"))
        );
        assert_eq!(
            TokenRequest::from_form(b"pre-authorized_code=x"),
            Err(TokenRequestError::Missing("grant_type"))
        );
        assert_eq!(
            TokenRequest::from_form(&[0xff, 0xfe]),
            Err(TokenRequestError::NotForm)
        );
    }

    #[test]
    fn token_response_round_trips_without_c_nonce() {
        let r = TokenResponse {
            access_token: "at".into(),
            token_type: "Bearer".into(),
            expires_in: Some(300),
            authorization_details: None,
        };
        let text = r.to_value().to_string();
        assert!(!text.contains("c_nonce"));
        assert_eq!(TokenResponse::from_json(text.as_bytes()).unwrap(), r);
        assert_eq!(
            TokenResponse::from_json(br#"{"token_type":"Bearer"}"#),
            Err(TokenResponseError::Missing("access_token"))
        );
    }
}
