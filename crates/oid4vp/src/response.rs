//! The authorization response (OpenID4VP 1.0 §8): the `vp_token` (an object keyed by
//! credential query id, each value an array of presentations), the `direct_post` form
//! body, the decrypted `direct_post.jwt` payload, and the verifier's JSON reply.

use serde_json::{Map, Value};

use crate::error::{ErrorCode, is_error_text};

/// A `vp_token` (§8.1): per credential query id, one or more presentations, in the order
/// received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VpToken {
    entries: Vec<(String, Vec<Presentation>)>,
}

/// One presentation: a string (SD-JWT, mdoc DeviceResponse, JWT VP) or an object (LDP).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Presentation {
    /// A string presentation, e.g. an SD-JWT+KB.
    Text(String),
    /// An object presentation.
    Object(Map<String, Value>),
}

impl Presentation {
    /// The string form, if it is one.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Presentation::Text(s) => Some(s),
            Presentation::Object(_) => None,
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Presentation::Text(s) => Value::String(s.clone()),
            Presentation::Object(o) => Value::Object(o.clone()),
        }
    }
}

/// A response was refused before any presentation was looked at.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// The body is not `application/x-www-form-urlencoded` UTF-8, or a JWT payload is not
    /// a JSON object.
    #[error("the response is not a form body or JSON object")]
    Malformed,
    /// A parameter appears twice.
    #[error("parameter `{0}` appears more than once")]
    Duplicate(String),
    /// Neither `vp_token`, `error` nor `response`.
    #[error("the response has neither vp_token nor error")]
    Empty,
    /// `response` together with other response parameters (§8.3.1).
    #[error("response must be the only parameter of a direct_post.jwt body")]
    ResponseWithOthers,
    /// `vp_token` together with `error`.
    #[error("vp_token and error must not both be present")]
    TokenAndError,
    /// `vp_token` is not a JSON object.
    #[error("vp_token must be a JSON object keyed by credential query id")]
    VpTokenNotObject,
    /// `vp_token` has no entry.
    #[error("vp_token has no entry")]
    VpTokenEmpty,
    /// An entry is not a non-empty array of strings or objects.
    #[error("vp_token entry {0:?} must be a non-empty array of presentations")]
    BadEntry(String),
    /// A parameter has the wrong type.
    #[error("parameter `{0}` is malformed")]
    Invalid(&'static str),
}

impl VpToken {
    /// An empty token (add entries with [`VpToken::push`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a presentation for credential query `id`.
    pub fn push(&mut self, id: &str, presentation: Presentation) {
        match self.entries.iter_mut().find(|(k, _)| k == id) {
            Some((_, list)) => list.push(presentation),
            None => self.entries.push((id.to_owned(), vec![presentation])),
        }
    }

    /// The entries, in the order received.
    pub fn entries(&self) -> &[(String, Vec<Presentation>)] {
        &self.entries
    }

    /// Total number of presentations.
    pub fn len(&self) -> usize {
        self.entries.iter().map(|(_, v)| v.len()).sum()
    }

    /// Whether there is no presentation.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Parses the JSON form.
    pub fn from_value(v: &Value) -> Result<Self, ResponseError> {
        let m = v.as_object().ok_or(ResponseError::VpTokenNotObject)?;
        if m.is_empty() {
            return Err(ResponseError::VpTokenEmpty);
        }
        let mut entries = Vec::with_capacity(m.len());
        for (id, list) in m {
            let bad = || ResponseError::BadEntry(id.clone());
            let items = list.as_array().filter(|a| !a.is_empty()).ok_or_else(bad)?;
            let presentations = items
                .iter()
                .map(|p| match p {
                    Value::String(s) if !s.is_empty() => Ok(Presentation::Text(s.clone())),
                    Value::Object(o) => Ok(Presentation::Object(o.clone())),
                    _ => Err(bad()),
                })
                .collect::<Result<Vec<_>, _>>()?;
            entries.push((id.clone(), presentations));
        }
        Ok(VpToken { entries })
    }

    /// Parses JSON text (duplicate keys refused).
    pub fn from_json(text: &str) -> Result<Self, ResponseError> {
        let v = jose::json::parse_value(text.as_bytes())
            .map_err(|_| ResponseError::VpTokenNotObject)?;
        Self::from_value(&v)
    }

    /// The JSON form.
    pub fn to_value(&self) -> Value {
        Value::Object(
            self.entries
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        Value::Array(v.iter().map(Presentation::to_value).collect()),
                    )
                })
                .collect(),
        )
    }
}

/// An authorization response, once decrypted if it was encrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizationResponse {
    /// Presentations.
    Success {
        /// `vp_token`.
        vp_token: VpToken,
        /// `state`, if sent.
        state: Option<String>,
    },
    /// An error response (§8.5).
    Error {
        /// `error`, as sent (a registered code or another value).
        error: String,
        /// `error_description`, if sent.
        error_description: Option<String>,
        /// `state`, if sent.
        state: Option<String>,
    },
}

impl AuthorizationResponse {
    /// `state`, if sent.
    pub fn state(&self) -> Option<&str> {
        match self {
            AuthorizationResponse::Success { state, .. }
            | AuthorizationResponse::Error { state, .. } => state.as_deref(),
        }
    }

    /// The registered error code of an error response, if it is one.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            AuthorizationResponse::Error { error, .. } => ErrorCode::from_name(error),
            AuthorizationResponse::Success { .. } => None,
        }
    }

    /// Reads the parameters of a decrypted `direct_post.jwt` payload (§8.3: top-level
    /// members). `vp_token` may be the object itself or its JSON text.
    pub fn from_payload(m: &Map<String, Value>) -> Result<Self, ResponseError> {
        let text = |name: &'static str| -> Result<Option<String>, ResponseError> {
            match m.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ResponseError::Invalid(name)),
            }
        };
        let state = text("state")?;
        let vp_token = match m.get("vp_token") {
            None => None,
            Some(Value::String(s)) => Some(VpToken::from_json(s)?),
            Some(v) => Some(VpToken::from_value(v)?),
        };
        Self::assemble(vp_token, text("error")?, text("error_description")?, state)
    }

    fn assemble(
        vp_token: Option<VpToken>,
        error: Option<String>,
        error_description: Option<String>,
        state: Option<String>,
    ) -> Result<Self, ResponseError> {
        match (vp_token, error) {
            (Some(_), Some(_)) => Err(ResponseError::TokenAndError),
            (Some(vp_token), None) => Ok(AuthorizationResponse::Success { vp_token, state }),
            (None, Some(error)) => {
                if !is_error_text(&error)
                    || error_description
                        .as_deref()
                        .is_some_and(|d| !is_error_text(d))
                {
                    return Err(ResponseError::Invalid("error"));
                }
                Ok(AuthorizationResponse::Error {
                    error,
                    error_description,
                    state,
                })
            }
            (None, None) => Err(ResponseError::Empty),
        }
    }

    /// The `direct_post` form body.
    pub fn to_form(&self) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        match self {
            AuthorizationResponse::Success { vp_token, state } => {
                ser.append_pair("vp_token", &vp_token.to_value().to_string());
                if let Some(s) = state {
                    ser.append_pair("state", s);
                }
            }
            AuthorizationResponse::Error {
                error,
                error_description,
                state,
            } => {
                ser.append_pair("error", error);
                if let Some(d) = error_description {
                    ser.append_pair("error_description", d);
                }
                if let Some(s) = state {
                    ser.append_pair("state", s);
                }
            }
        }
        ser.finish()
    }

    /// The payload of a `direct_post.jwt` response JWT.
    pub fn to_payload(&self) -> Map<String, Value> {
        let mut m = Map::new();
        match self {
            AuthorizationResponse::Success { vp_token, state } => {
                m.insert("vp_token".into(), vp_token.to_value());
                if let Some(s) = state {
                    m.insert("state".into(), s.clone().into());
                }
            }
            AuthorizationResponse::Error {
                error,
                error_description,
                state,
            } => {
                m.insert("error".into(), error.clone().into());
                if let Some(d) = error_description {
                    m.insert("error_description".into(), d.clone().into());
                }
                if let Some(s) = state {
                    m.insert("state".into(), s.clone().into());
                }
            }
        }
        m
    }
}

/// A body POSTed to the `response_uri`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DirectPostBody {
    /// `direct_post`: the parameters in the clear.
    Plain(AuthorizationResponse),
    /// `direct_post.jwt`: the compact JWE in `response`, to decrypt with the request's
    /// encryption key and read with [`AuthorizationResponse::from_payload`]. A wallet
    /// that cannot encrypt may still send a plain error response (§8.3.1).
    Encrypted(String),
}

impl DirectPostBody {
    /// Parses a form body: each known parameter at most once; unknown ones ignored.
    pub fn from_form(body: &[u8]) -> Result<Self, ResponseError> {
        let mut vp_token = None;
        let mut state = None;
        let mut error = None;
        let mut error_description = None;
        let mut response = None;
        if std::str::from_utf8(body).is_err() {
            return Err(ResponseError::Malformed);
        }
        for (k, v) in url::form_urlencoded::parse(body) {
            let slot = match k.as_ref() {
                "vp_token" => &mut vp_token,
                "state" => &mut state,
                "error" => &mut error,
                "error_description" => &mut error_description,
                "response" => &mut response,
                _ => continue,
            };
            if slot.replace(v.into_owned()).is_some() {
                return Err(ResponseError::Duplicate(k.into_owned()));
            }
        }
        if let Some(jwe) = response {
            if vp_token.is_some() || error.is_some() || state.is_some() {
                return Err(ResponseError::ResponseWithOthers);
            }
            return Ok(DirectPostBody::Encrypted(jwe));
        }
        let vp_token = vp_token.as_deref().map(VpToken::from_json).transpose()?;
        AuthorizationResponse::assemble(vp_token, error, error_description, state)
            .map(DirectPostBody::Plain)
    }

    /// The form body.
    pub fn to_form(&self) -> String {
        match self {
            DirectPostBody::Plain(r) => r.to_form(),
            DirectPostBody::Encrypted(jwe) => {
                let mut ser = url::form_urlencoded::Serializer::new(String::new());
                ser.append_pair("response", jwe);
                ser.finish()
            }
        }
    }
}

/// The verifier's `200` reply to a direct post (§8.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseUriReply {
    /// Where the wallet must send the user agent, if anywhere.
    pub redirect_uri: Option<String>,
}

impl ResponseUriReply {
    /// The JSON form.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        if let Some(r) = &self.redirect_uri {
            m.insert("redirect_uri".into(), r.clone().into());
        }
        Value::Object(m)
    }

    /// Parses the JSON form (unknown members ignored).
    pub fn from_value(v: &Value) -> Result<Self, ResponseError> {
        let m = v.as_object().ok_or(ResponseError::Malformed)?;
        let redirect_uri = match m.get("redirect_uri") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(ResponseError::Invalid("redirect_uri")),
        };
        Ok(ResponseUriReply { redirect_uri })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn oid4vp_s8_1_vp_token_examples_parse() {
        let t = VpToken::from_value(&json!({"my_credential": ["eyJhbGci...QMA"]})).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t.entries()[0].0, "my_credential");
        let t = VpToken::from_value(&json!({"my_credential": ["a", "b", "c"]})).unwrap();
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn rejects_malformed_vp_tokens() {
        assert_eq!(
            VpToken::from_value(&json!("eyJ...")),
            Err(ResponseError::VpTokenNotObject)
        );
        assert_eq!(
            VpToken::from_value(&json!({})),
            Err(ResponseError::VpTokenEmpty)
        );
        assert_eq!(
            VpToken::from_value(&json!({"a": []})),
            Err(ResponseError::BadEntry("a".into()))
        );
        assert_eq!(
            VpToken::from_value(&json!({"a": "x"})),
            Err(ResponseError::BadEntry("a".into()))
        );
        assert_eq!(
            VpToken::from_value(&json!({"a": [1]})),
            Err(ResponseError::BadEntry("a".into()))
        );
        assert_eq!(
            VpToken::from_json(r#"{"a":["x"],"a":["y"]}"#),
            Err(ResponseError::VpTokenNotObject)
        );
    }

    #[test]
    fn form_round_trip_and_rules() {
        let mut t = VpToken::new();
        t.push("pid", Presentation::Text("abc~".into()));
        let r = AuthorizationResponse::Success {
            vp_token: t,
            state: Some("s1".into()),
        };
        let body = DirectPostBody::Plain(r.clone());
        assert_eq!(
            DirectPostBody::from_form(body.to_form().as_bytes()).unwrap(),
            body
        );

        let enc = DirectPostBody::Encrypted("a.b.c.d.e".into());
        assert_eq!(
            DirectPostBody::from_form(enc.to_form().as_bytes()).unwrap(),
            enc
        );

        assert_eq!(
            DirectPostBody::from_form(b"state=a&state=b&vp_token=%7B%7D"),
            Err(ResponseError::Duplicate("state".into()))
        );
        assert_eq!(
            DirectPostBody::from_form(b"response=x&state=y"),
            Err(ResponseError::ResponseWithOthers)
        );
        assert_eq!(
            DirectPostBody::from_form(b"state=y"),
            Err(ResponseError::Empty)
        );
        assert_eq!(
            DirectPostBody::from_form(
                b"vp_token=%7B%22a%22%3A%5B%22x%22%5D%7D&error=access_denied"
            ),
            Err(ResponseError::TokenAndError)
        );
        let e = DirectPostBody::from_form(b"error=access_denied&state=s").unwrap();
        let DirectPostBody::Plain(e) = e else {
            panic!()
        };
        assert_eq!(e.error_code(), Some(ErrorCode::AccessDenied));
        assert_eq!(e.state(), Some("s"));
    }

    #[test]
    fn payload_accepts_vp_token_object_or_text() {
        let p = json!({"vp_token": {"example_credential_id": ["eyJhb...YMetA"]}});
        let r = AuthorizationResponse::from_payload(p.as_object().unwrap()).unwrap();
        assert_eq!(r.to_payload(), *p.as_object().unwrap());
        let p = json!({"vp_token": "{\"x\":[\"y\"]}", "state": "s"});
        assert!(AuthorizationResponse::from_payload(p.as_object().unwrap()).is_ok());
    }
}
