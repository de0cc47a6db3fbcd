//! The authorization request (OpenID4VP 1.0 §5): its parameters, their rules, the
//! invocation URI that carries them by value or by reference (`openid4vp://?client_id=…
//! &request_uri=…`), and the request object ([`object`]).

pub mod object;

use serde_json::{Map, Value};

use crate::client_id::{ClientId, ClientIdError};
use crate::dcql::{DcqlError, DcqlQuery};
use crate::error::ErrorCode;
use crate::metadata::{ClientMetadata, MetadataError};

/// The `response_type` this crate handles.
pub const RESPONSE_TYPE_VP_TOKEN: &str = "vp_token";
/// The custom scheme for wallet invocation (§13.1.2).
pub const OPENID4VP_SCHEME: &str = "openid4vp";

/// How the wallet returns the response (§8.2, §8.3.1). Serde uses the registered names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ResponseMode {
    /// `direct_post`: form-encoded POST to `response_uri`.
    #[serde(rename = "direct_post")]
    DirectPost,
    /// `direct_post.jwt`: the same, with the parameters in an encrypted JWT `response`.
    #[serde(rename = "direct_post.jwt")]
    DirectPostJwt,
}

impl ResponseMode {
    /// The registered name.
    pub fn name(self) -> &'static str {
        match self {
            ResponseMode::DirectPost => "direct_post",
            ResponseMode::DirectPostJwt => "direct_post.jwt",
        }
    }

    /// Parses a registered name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "direct_post" => Some(ResponseMode::DirectPost),
            "direct_post.jwt" => Some(ResponseMode::DirectPostJwt),
            _ => None,
        }
    }
}

/// `request_uri_method` (§5.1). Serde uses the registered (case-sensitive) names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestUriMethod {
    /// `get`: fetch the request object with GET (RFC 9101).
    Get,
    /// `post`: POST `wallet_metadata` and `wallet_nonce` (§5.10).
    Post,
}

impl RequestUriMethod {
    /// The registered (case-sensitive) name.
    pub fn name(self) -> &'static str {
        match self {
            RequestUriMethod::Get => "get",
            RequestUriMethod::Post => "post",
        }
    }

    /// Parses a name; the comparison is case-sensitive (§5.1).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "get" => Some(RequestUriMethod::Get),
            "post" => Some(RequestUriMethod::Post),
            _ => None,
        }
    }
}

/// An authorization request was refused.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// A required parameter is absent.
    #[error("parameter `{0}` is required")]
    Missing(&'static str),
    /// A parameter has the wrong type or an invalid value.
    #[error("parameter `{0}` is invalid")]
    Invalid(&'static str),
    /// A parameter appears twice in a query string.
    #[error("parameter `{0}` appears more than once")]
    Duplicate(String),
    /// `response_type` is not `vp_token`.
    #[error("response_type {0:?} is not supported")]
    UnsupportedResponseType(String),
    /// `response_mode` is not `direct_post` or `direct_post.jwt`.
    #[error("response_mode {0:?} is not supported")]
    UnsupportedResponseMode(String),
    /// Both `dcql_query` and `scope` (§5.1, §8.5).
    #[error("dcql_query and scope must not both be present")]
    DcqlAndScope,
    /// `scope` instead of `dcql_query`: scope aliases are not supported.
    #[error("scope values for DCQL queries are not supported")]
    ScopeNotSupported,
    /// `redirect_uri` with `direct_post` (§8.2: invalid_request).
    #[error("redirect_uri must not be present with response_mode {0}")]
    RedirectUriWithDirectPost(&'static str),
    /// `response_uri` absent with `direct_post` (§8.2).
    #[error("response_uri is required with response_mode {0}")]
    MissingResponseUri(&'static str),
    /// `nonce` or `state` has characters outside the URL-safe set (§5.2).
    #[error("`{0}` must only contain URL-safe characters")]
    NotUrlSafe(&'static str),
    /// `request_uri_method` is neither `get` nor `post` (§8.5).
    #[error("request_uri_method {0:?} is neither get nor post")]
    InvalidRequestUriMethod(String),
    /// `request_uri_method` without `request_uri` (§5.1).
    #[error("request_uri_method requires request_uri")]
    MethodWithoutRequestUri,
    /// `direct_post.jwt` without an encryption key in `client_metadata.jwks`.
    #[error("direct_post.jwt needs an ECDH-ES key in client_metadata.jwks")]
    NoEncryptionKey,
    /// The client identifier or a prefix rule.
    #[error(transparent)]
    ClientId(#[from] ClientIdError),
    /// The DCQL query.
    #[error("dcql_query: {0}")]
    Dcql(#[from] DcqlError),
    /// `client_metadata`.
    #[error("client_metadata: {0}")]
    ClientMetadata(#[from] MetadataError),
    /// The request object (see [`object::ObjectError`]).
    #[error(transparent)]
    Object(#[from] object::ObjectError),
}

impl RequestError {
    /// The error code a wallet answers with (§8.5, RFC 9101 §6.2).
    pub fn error_code(&self) -> ErrorCode {
        match self {
            RequestError::UnsupportedResponseType(_) => ErrorCode::UnsupportedResponseType,
            RequestError::ScopeNotSupported => ErrorCode::InvalidScope,
            RequestError::InvalidRequestUriMethod(_) => ErrorCode::InvalidRequestUriMethod,
            RequestError::Object(e) => e.error_code(),
            _ => ErrorCode::InvalidRequest,
        }
    }
}

/// The parameters of an authorization request for `vp_token`.
#[derive(Clone, Debug, PartialEq)]
pub struct AuthorizationRequest {
    /// `client_id`, prefix included.
    pub client_id: ClientId,
    /// `response_mode`.
    pub response_mode: ResponseMode,
    /// `response_uri` (required with `direct_post` and `direct_post.jwt`).
    pub response_uri: String,
    /// `nonce`: fresh per request, URL-safe characters.
    pub nonce: String,
    /// `state`, if present.
    pub state: Option<String>,
    /// `dcql_query`.
    pub dcql_query: DcqlQuery,
    /// `client_metadata`, if present.
    pub client_metadata: Option<ClientMetadata>,
    /// `wallet_nonce`: echoes the wallet's nonce of a `request_uri` POST (§5.10).
    pub wallet_nonce: Option<String>,
    /// `transaction_data` (kept for the wallet to refuse or process; §5.1).
    pub transaction_data: Option<Vec<String>>,
}

/// §5.2: ASCII URL-safe characters (letters, digits, `-`, `.`, `_`, `~`).
pub fn is_url_safe(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

impl AuthorizationRequest {
    /// Checks the rules between parameters that typed fields cannot express.
    pub fn validate(&self) -> Result<(), RequestError> {
        if !is_url_safe(&self.nonce) {
            return Err(RequestError::NotUrlSafe("nonce"));
        }
        if let Some(s) = &self.state
            && !is_url_safe(s)
        {
            return Err(RequestError::NotUrlSafe("state"));
        }
        if self.response_mode == ResponseMode::DirectPostJwt
            && self
                .client_metadata
                .as_ref()
                .and_then(|m| m.response_encryption(&jose::jwe::Enc::ALL))
                .is_none()
        {
            return Err(RequestError::NoEncryptionKey);
        }
        Ok(())
    }

    /// The request parameters as a JSON object (the request object payload, before the
    /// signer adds `aud`, `iat` and `exp`).
    pub fn to_claims(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("response_type".into(), RESPONSE_TYPE_VP_TOKEN.into());
        m.insert("client_id".into(), self.client_id.as_str().into());
        m.insert("response_mode".into(), self.response_mode.name().into());
        m.insert("response_uri".into(), self.response_uri.clone().into());
        m.insert("nonce".into(), self.nonce.clone().into());
        if let Some(s) = &self.state {
            m.insert("state".into(), s.clone().into());
        }
        m.insert("dcql_query".into(), self.dcql_query.to_value());
        if let Some(cm) = &self.client_metadata {
            m.insert("client_metadata".into(), cm.to_value());
        }
        if let Some(n) = &self.wallet_nonce {
            m.insert("wallet_nonce".into(), n.clone().into());
        }
        if let Some(td) = &self.transaction_data {
            m.insert(
                "transaction_data".into(),
                Value::Array(td.iter().cloned().map(Value::String).collect()),
            );
        }
        m
    }

    /// Parses the parameters from a JSON object (a request object payload). Objects may
    /// also arrive as JSON strings, as in a query string.
    pub fn from_claims(m: &Map<String, Value>) -> Result<Self, RequestError> {
        let text = |name: &'static str| -> Result<Option<&str>, RequestError> {
            match m.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(_) => Err(RequestError::Invalid(name)),
            }
        };
        let object = |name: &'static str| -> Result<Option<Value>, RequestError> {
            match m.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => jose::json::parse_value(s.as_bytes())
                    .map(Some)
                    .map_err(|_| RequestError::Invalid(name)),
                Some(v) => Ok(Some(v.clone())),
            }
        };
        let response_type = text("response_type")?.ok_or(RequestError::Missing("response_type"))?;
        if response_type != RESPONSE_TYPE_VP_TOKEN {
            return Err(RequestError::UnsupportedResponseType(response_type.into()));
        }
        let client_id =
            ClientId::parse(text("client_id")?.ok_or(RequestError::Missing("client_id"))?)?;
        let mode_name = text("response_mode")?.ok_or(RequestError::Missing("response_mode"))?;
        let response_mode = ResponseMode::from_name(mode_name)
            .ok_or_else(|| RequestError::UnsupportedResponseMode(mode_name.into()))?;
        if m.contains_key("redirect_uri") {
            return Err(RequestError::RedirectUriWithDirectPost(
                response_mode.name(),
            ));
        }
        let response_uri = text("response_uri")?
            .ok_or(RequestError::MissingResponseUri(response_mode.name()))?
            .to_owned();
        let nonce = text("nonce")?
            .ok_or(RequestError::Missing("nonce"))?
            .to_owned();
        let state = text("state")?.map(str::to_owned);
        let dcql = object("dcql_query")?;
        let dcql_query = match (dcql, m.contains_key("scope")) {
            (Some(_), true) => return Err(RequestError::DcqlAndScope),
            (None, true) => return Err(RequestError::ScopeNotSupported),
            (None, false) => return Err(RequestError::Missing("dcql_query")),
            (Some(v), false) => DcqlQuery::from_value(&v)?,
        };
        let client_metadata = object("client_metadata")?
            .map(|v| ClientMetadata::from_value(&v))
            .transpose()?;
        let wallet_nonce = text("wallet_nonce")?.map(str::to_owned);
        let transaction_data = match object("transaction_data")? {
            None => None,
            Some(Value::Array(items)) if !items.is_empty() => Some(
                items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or(RequestError::Invalid("transaction_data"))?,
            ),
            Some(_) => return Err(RequestError::Invalid("transaction_data")),
        };
        if let Some(method) = text("request_uri_method")? {
            return Err(if RequestUriMethod::from_name(method).is_none() {
                RequestError::InvalidRequestUriMethod(method.into())
            } else {
                RequestError::MethodWithoutRequestUri
            });
        }
        let request = AuthorizationRequest {
            client_id,
            response_mode,
            response_uri,
            nonce,
            state,
            dcql_query,
            client_metadata,
            wallet_nonce,
            transaction_data,
        };
        request.validate()?;
        Ok(request)
    }

    /// The parameters for passing the request by value in a URI: strings as they are,
    /// objects as JSON text (§5.1).
    pub fn to_query_pairs(&self) -> Vec<(String, String)> {
        self.to_claims()
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect()
    }
}

/// How a wallet is invoked: the parameters of the invocation URI.
#[derive(Clone, Debug, PartialEq)]
pub enum Invocation {
    /// By reference (RFC 9101 §5.2): fetch the request object from `request_uri`.
    ByReference {
        /// `client_id`: must equal the request object's.
        client_id: String,
        /// `request_uri`.
        request_uri: String,
        /// `request_uri_method`, if given.
        request_uri_method: Option<RequestUriMethod>,
    },
    /// By value: every parameter in the URI (unsigned requests only).
    ByValue(Box<AuthorizationRequest>),
    /// A request object by value (`request=`).
    RequestObject {
        /// `client_id`: must equal the request object's.
        client_id: String,
        /// The request object.
        request: String,
    },
}

impl Invocation {
    /// The invocation URI with `scheme_and_authority` (e.g. `openid4vp://` or a wallet's
    /// `https://wallet.example/authorize`), parameters form-encoded in the query.
    pub fn to_uri(&self, scheme_and_authority: &str) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        match self {
            Invocation::ByReference {
                client_id,
                request_uri,
                request_uri_method,
            } => {
                ser.append_pair("client_id", client_id);
                ser.append_pair("request_uri", request_uri);
                if let Some(m) = request_uri_method {
                    ser.append_pair("request_uri_method", m.name());
                }
            }
            Invocation::ByValue(request) => {
                for (k, v) in request.to_query_pairs() {
                    ser.append_pair(&k, &v);
                }
            }
            Invocation::RequestObject { client_id, request } => {
                ser.append_pair("client_id", client_id);
                ser.append_pair("request", request);
            }
        }
        format!("{scheme_and_authority}?{}", ser.finish())
    }

    /// Parses an invocation URI: its query parameters, each at most once.
    pub fn parse(uri: &str) -> Result<Self, RequestError> {
        let url = url::Url::parse(uri).map_err(|_| RequestError::Invalid("uri"))?;
        let mut params = Map::new();
        for (k, v) in url.query_pairs() {
            if params
                .insert(k.clone().into_owned(), Value::String(v.into_owned()))
                .is_some()
            {
                return Err(RequestError::Duplicate(k.into_owned()));
            }
        }
        let get = |name: &str| params.get(name).and_then(Value::as_str).map(str::to_owned);
        let method = match get("request_uri_method") {
            None => None,
            Some(m) => Some(
                RequestUriMethod::from_name(&m).ok_or(RequestError::InvalidRequestUriMethod(m))?,
            ),
        };
        if let Some(request_uri) = get("request_uri") {
            let client_id = get("client_id").ok_or(RequestError::Missing("client_id"))?;
            return Ok(Invocation::ByReference {
                client_id,
                request_uri,
                request_uri_method: method,
            });
        }
        if method.is_some() {
            return Err(RequestError::MethodWithoutRequestUri);
        }
        if let Some(request) = get("request") {
            let client_id = get("client_id").ok_or(RequestError::Missing("client_id"))?;
            return Ok(Invocation::RequestObject { client_id, request });
        }
        let request = AuthorizationRequest::from_claims(&params)?;
        // Parameters by value cannot be signed: only prefixes that allow that may do so.
        request
            .client_id
            .check_unsigned(Some(&request.response_uri), None)?;
        Ok(Invocation::ByValue(Box::new(request)))
    }
}

/// The form body a wallet POSTs to a `request_uri` with `request_uri_method=post`
/// (§5.10): `wallet_metadata` (JSON text) and `wallet_nonce`, both optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestUriPost {
    /// `wallet_metadata`, as received.
    pub wallet_metadata: Option<String>,
    /// `wallet_nonce`.
    pub wallet_nonce: Option<String>,
}

impl RequestUriPost {
    /// Parses the form body. Unknown parameters are ignored (§5.10); a known parameter
    /// given twice is refused; an empty body is allowed.
    pub fn from_form(body: &[u8]) -> Result<Self, RequestError> {
        let mut out = RequestUriPost::default();
        for (k, v) in url::form_urlencoded::parse(body) {
            let slot = match k.as_ref() {
                "wallet_metadata" => &mut out.wallet_metadata,
                "wallet_nonce" => &mut out.wallet_nonce,
                _ => continue,
            };
            if slot.replace(v.into_owned()).is_some() {
                return Err(RequestError::Duplicate(k.into_owned()));
            }
        }
        Ok(out)
    }

    /// The form body.
    pub fn to_form(&self) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        if let Some(m) = &self.wallet_metadata {
            ser.append_pair("wallet_metadata", m);
        }
        if let Some(n) = &self.wallet_nonce {
            ser.append_pair("wallet_nonce", n);
        }
        ser.finish()
    }
}
