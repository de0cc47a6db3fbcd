//! Credential Offers (§4.1): the offer object, its pre-authorized code grant with the
//! optional Transaction Code, and the URI a wallet is invoked with — by value
//! (`credential_offer=`) or by reference (`credential_offer_uri=`), under the
//! `openid-credential-offer://` scheme (§12.1.1) or an https wallet endpoint.
//!
//! Parsing is strict where the spec is (exactly one of the two query parameters, non-empty
//! unique configuration ids, `tx_code.description` at most 300 characters, https offer
//! URIs) and ignores members it does not know, as §4.1.1 requires of wallets.

use crate::json::{Member, opt_object, opt_str, opt_u64, put, req_str};
use serde_json::{Map, Value};

/// Grant type of the pre-authorized code flow.
pub const PRE_AUTHORIZED_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";
/// Grant type of the authorization code flow.
pub const AUTHORIZATION_CODE_GRANT: &str = "authorization_code";
/// The custom URI scheme wallets register for offers (§12.1.1).
pub const OFFER_SCHEME: &str = "openid-credential-offer";
/// Longest `tx_code.description` (§4.1.1).
pub const MAX_TX_CODE_DESCRIPTION: usize = 300;

/// An offer or offer URI was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    /// The offer is not a JSON object (or not JSON, or repeats a member).
    #[error("the credential offer is not a JSON object")]
    NotObject,
    /// A required member is missing.
    #[error("credential offer member `{0}` is missing")]
    Missing(&'static str),
    /// A member has the wrong JSON type.
    #[error("credential offer member `{0}` has the wrong type")]
    WrongType(&'static str),
    /// `credential_configuration_ids` is empty (§4.1.1: non-empty).
    #[error("`credential_configuration_ids` must not be empty")]
    NoConfigurationIds,
    /// `credential_configuration_ids` repeats a value (§4.1.1: unique).
    #[error("`credential_configuration_ids` repeats `{}`", jose::escape_input(.0))]
    DuplicateConfigurationId(String),
    /// A string member that must carry a value is empty.
    #[error("credential offer member `{0}` is empty")]
    Empty(&'static str),
    /// `tx_code.input_mode` is neither `numeric` nor `text`.
    #[error("`tx_code.input_mode` must be `numeric` or `text`")]
    InputMode,
    /// `tx_code.length` is zero.
    #[error("`tx_code.length` must be positive")]
    TxCodeLength,
    /// `tx_code.description` is longer than 300 characters (§4.1.1).
    #[error("`tx_code.description` is longer than 300 characters")]
    DescriptionTooLong,
    /// The offer URI is not a URI.
    #[error("the credential offer URI is not a valid URI")]
    NotUri,
    /// The offer URI uses another scheme than `openid-credential-offer` or `https`.
    #[error("the credential offer URI scheme `{}` is not accepted", jose::escape_input(.0))]
    Scheme(String),
    /// Neither `credential_offer` nor `credential_offer_uri` is present.
    #[error("the offer URI carries neither `credential_offer` nor `credential_offer_uri`")]
    NoOffer,
    /// Both are present (§4.1: they MUST NOT be used together).
    #[error("the offer URI carries both `credential_offer` and `credential_offer_uri`")]
    BothForms,
    /// A query parameter is repeated.
    #[error("the offer URI repeats `{0}`")]
    RepeatedParameter(&'static str),
    /// `credential_offer_uri` is not an https URL (§4.1: https only).
    #[error("`credential_offer_uri` must be an https URL")]
    OfferUriNotHttps,
}

impl From<Member> for OfferError {
    fn from(m: Member) -> Self {
        match m {
            Member::Missing(n) => OfferError::Missing(n),
            Member::WrongType(n) => OfferError::WrongType(n),
        }
    }
}

/// `tx_code.input_mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum InputMode {
    /// Digits only (the default).
    #[default]
    Numeric,
    /// Any characters.
    Text,
}

impl InputMode {
    /// The parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            InputMode::Numeric => "numeric",
            InputMode::Text => "text",
        }
    }

    /// Parses the parameter value.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "numeric" => Some(InputMode::Numeric),
            "text" => Some(InputMode::Text),
            _ => None,
        }
    }
}

/// What the Transaction Code looks like (§4.1.1). Present, even empty, means one is required.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxCode {
    /// Character set; absent means `numeric`.
    pub input_mode: Option<InputMode>,
    /// Number of characters.
    pub length: Option<u32>,
    /// Where the user finds the code (at most 300 characters).
    pub description: Option<String>,
}

impl TxCode {
    fn from_object(o: &Map<String, Value>) -> Result<Self, OfferError> {
        let input_mode = match opt_str(o, "input_mode")? {
            None => None,
            Some(s) => Some(InputMode::from_name(s).ok_or(OfferError::InputMode)?),
        };
        let length = match opt_u64(o, "length")? {
            None => None,
            Some(0) => return Err(OfferError::TxCodeLength),
            Some(n) => Some(u32::try_from(n).map_err(|_| OfferError::WrongType("length"))?),
        };
        let description = opt_str(o, "description")?.map(str::to_owned);
        if description
            .as_deref()
            .is_some_and(|d| d.chars().count() > MAX_TX_CODE_DESCRIPTION)
        {
            return Err(OfferError::DescriptionTooLong);
        }
        Ok(TxCode {
            input_mode,
            length,
            description,
        })
    }

    fn to_value(&self) -> Value {
        let mut m = Map::new();
        put(&mut m, "input_mode", self.input_mode.map(InputMode::as_str));
        put(&mut m, "length", self.length);
        put(&mut m, "description", self.description.clone());
        Value::Object(m)
    }
}

/// The pre-authorized code grant of an offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreAuthorizedCodeGrant {
    /// The code (short-lived, single use).
    pub pre_authorized_code: String,
    /// Present when the token request must carry a `tx_code`.
    pub tx_code: Option<TxCode>,
    /// Which authorization server to use, when the issuer lists several.
    pub authorization_server: Option<String>,
}

/// The authorization code grant of an offer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthorizationCodeGrant {
    /// Opaque value to send back in the authorization request.
    pub issuer_state: Option<String>,
    /// Which authorization server to use, when the issuer lists several.
    pub authorization_server: Option<String>,
}

/// A Credential Offer object (§4.1.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialOffer {
    /// The Credential Issuer Identifier.
    pub credential_issuer: String,
    /// Offered configurations (keys of `credential_configurations_supported`).
    pub credential_configuration_ids: Vec<String>,
    /// The pre-authorized code grant, if offered.
    pub pre_authorized_code: Option<PreAuthorizedCodeGrant>,
    /// The authorization code grant, if offered.
    pub authorization_code: Option<AuthorizationCodeGrant>,
}

impl CredentialOffer {
    /// Parses an offer from JSON text (duplicate members refused, unknown ones ignored).
    pub fn from_json(text: &[u8]) -> Result<Self, OfferError> {
        let o = jose::json::parse_object(text).map_err(|_| OfferError::NotObject)?;
        Self::from_object(&o)
    }

    /// Parses an offer from a JSON object.
    pub fn from_object(o: &Map<String, Value>) -> Result<Self, OfferError> {
        let credential_issuer = req_str(o, "credential_issuer")?;
        if credential_issuer.is_empty() {
            return Err(OfferError::Empty("credential_issuer"));
        }
        let ids = match o.get("credential_configuration_ids") {
            None => return Err(OfferError::Missing("credential_configuration_ids")),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or(OfferError::WrongType("credential_configuration_ids"))
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err(OfferError::WrongType("credential_configuration_ids")),
        };
        check_ids(&ids)?;
        let mut pre_authorized_code = None;
        let mut authorization_code = None;
        if let Some(grants) = opt_object(o, "grants")? {
            if let Some(g) = opt_object(grants, PRE_AUTHORIZED_CODE_GRANT)? {
                let code = req_str(g, "pre-authorized_code")?;
                if code.is_empty() {
                    return Err(OfferError::Empty("pre-authorized_code"));
                }
                let tx_code = opt_object(g, "tx_code")?
                    .map(TxCode::from_object)
                    .transpose()?;
                pre_authorized_code = Some(PreAuthorizedCodeGrant {
                    pre_authorized_code: code.to_owned(),
                    tx_code,
                    authorization_server: opt_str(g, "authorization_server")?.map(str::to_owned),
                });
            }
            if let Some(g) = opt_object(grants, AUTHORIZATION_CODE_GRANT)? {
                authorization_code = Some(AuthorizationCodeGrant {
                    issuer_state: opt_str(g, "issuer_state")?.map(str::to_owned),
                    authorization_server: opt_str(g, "authorization_server")?.map(str::to_owned),
                });
            }
        }
        Ok(CredentialOffer {
            credential_issuer: credential_issuer.to_owned(),
            credential_configuration_ids: ids,
            pre_authorized_code,
            authorization_code,
        })
    }

    /// The offer as a JSON object.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "credential_issuer".into(),
            self.credential_issuer.clone().into(),
        );
        m.insert(
            "credential_configuration_ids".into(),
            self.credential_configuration_ids.clone().into(),
        );
        let mut grants = Map::new();
        if let Some(g) = &self.pre_authorized_code {
            let mut p = Map::new();
            p.insert(
                "pre-authorized_code".into(),
                g.pre_authorized_code.clone().into(),
            );
            if let Some(tx) = &g.tx_code {
                p.insert("tx_code".into(), tx.to_value());
            }
            put(
                &mut p,
                "authorization_server",
                g.authorization_server.clone(),
            );
            grants.insert(PRE_AUTHORIZED_CODE_GRANT.into(), Value::Object(p));
        }
        if let Some(g) = &self.authorization_code {
            let mut a = Map::new();
            put(&mut a, "issuer_state", g.issuer_state.clone());
            put(
                &mut a,
                "authorization_server",
                g.authorization_server.clone(),
            );
            grants.insert(AUTHORIZATION_CODE_GRANT.into(), Value::Object(a));
        }
        if !grants.is_empty() {
            m.insert("grants".into(), Value::Object(grants));
        }
        Value::Object(m)
    }

    /// The offer as JSON text.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }
}

fn check_ids(ids: &[String]) -> Result<(), OfferError> {
    if ids.is_empty() {
        return Err(OfferError::NoConfigurationIds);
    }
    for (i, id) in ids.iter().enumerate() {
        if ids.iter().take(i).any(|earlier| earlier == id) {
            return Err(OfferError::DuplicateConfigurationId(id.clone()));
        }
    }
    Ok(())
}

/// How the offer travels in the URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OfferReference {
    /// `credential_offer=<JSON>`.
    ByValue(CredentialOffer),
    /// `credential_offer_uri=<https URL>`; the wallet GETs the offer from it.
    ByReference(String),
}

/// A URI invoking a wallet with an offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferUri {
    /// Where the query goes: `openid-credential-offer://` or an https wallet endpoint
    /// (without query).
    pub endpoint: String,
    /// The offer or its location.
    pub offer: OfferReference,
}

/// Options for [`OfferUri::parse`].
#[derive(Clone, Copy, Debug, Default)]
pub struct OfferUriOptions {
    /// Accept `http://` offer locations on loopback hosts (tests and local demos only).
    pub allow_http_loopback: bool,
}

impl OfferUri {
    /// An `openid-credential-offer://` URI.
    pub fn with_scheme(offer: OfferReference) -> Self {
        OfferUri {
            endpoint: format!("{OFFER_SCHEME}://"),
            offer,
        }
    }

    /// Parses an offer URI.
    pub fn parse(uri: &str, options: OfferUriOptions) -> Result<Self, OfferError> {
        let url = url::Url::parse(uri).map_err(|_| OfferError::NotUri)?;
        match url.scheme() {
            OFFER_SCHEME | "https" => {}
            other => return Err(OfferError::Scheme(other.to_owned())),
        }
        let mut by_value = None;
        let mut by_reference = None;
        for (k, v) in url.query_pairs() {
            let (slot, name) = match k.as_ref() {
                "credential_offer" => (&mut by_value, "credential_offer"),
                "credential_offer_uri" => (&mut by_reference, "credential_offer_uri"),
                _ => continue,
            };
            if slot.replace(v.into_owned()).is_some() {
                return Err(OfferError::RepeatedParameter(name));
            }
        }
        let offer = match (by_value, by_reference) {
            (Some(_), Some(_)) => return Err(OfferError::BothForms),
            (None, None) => return Err(OfferError::NoOffer),
            (Some(json), None) => {
                OfferReference::ByValue(CredentialOffer::from_json(json.as_bytes())?)
            }
            (None, Some(location)) => {
                check_offer_location(&location, options)?;
                OfferReference::ByReference(location)
            }
        };
        let mut endpoint = url;
        endpoint.set_query(None);
        endpoint.set_fragment(None);
        Ok(OfferUri {
            endpoint: endpoint.to_string(),
            offer,
        })
    }

    /// The URI text.
    pub fn to_uri(&self) -> String {
        let (name, value) = match &self.offer {
            OfferReference::ByValue(o) => ("credential_offer", o.to_json()),
            OfferReference::ByReference(u) => ("credential_offer_uri", u.clone()),
        };
        let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        format!("{}?{name}={encoded}", self.endpoint)
    }
}

fn check_offer_location(location: &str, options: OfferUriOptions) -> Result<(), OfferError> {
    let url = url::Url::parse(location).map_err(|_| OfferError::OfferUriNotHttps)?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(OfferError::OfferUriNotHttps),
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback && options.allow_http_loopback => Ok(()),
        _ => Err(OfferError::OfferUriNotHttps),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_PRE_AUTH: &str = r#"{"credential_issuer":"https://credential-issuer.example.com",
 "credential_configuration_ids":["UniversityDegreeCredential"],
 "grants":{"urn:ietf:params:oauth:grant-type:pre-authorized_code":{
   "pre-authorized_code":"adhjhdjajkdkhjhdj",
   "tx_code":{"description":"Please provide the one-time code which was sent to your mobile phone via SMS"}}}}"#;

    #[test]
    fn oid4vci_4_1_1_pre_authorized_offer_parses() {
        let o = CredentialOffer::from_json(SPEC_PRE_AUTH.as_bytes()).unwrap();
        assert_eq!(o.credential_issuer, "https://credential-issuer.example.com");
        let g = o.pre_authorized_code.as_ref().unwrap();
        assert_eq!(g.pre_authorized_code, "adhjhdjajkdkhjhdj");
        let tx = g.tx_code.as_ref().unwrap();
        assert_eq!(tx.input_mode, None);
        assert!(
            tx.description
                .as_deref()
                .unwrap()
                .starts_with("Please provide")
        );
        let again = CredentialOffer::from_json(o.to_json().as_bytes()).unwrap();
        assert_eq!(again, o);
    }

    #[test]
    fn oid4vci_4_1_2_offer_uri_by_value_parses() {
        let uri = "openid-credential-offer://?credential_offer=%7B%22credential_issuer%22:%22https://credential-issuer.example.com%22,%22credential_configuration_ids%22:%5B%22org.iso.18013.5.1.mDL%22%5D,%22grants%22:%7B%22urn:ietf:params:oauth:grant-type:pre-authorized_code%22:%7B%22pre-authorized_code%22:%22oaKazRN8I0IbtZ0C7JuMn5%22,%22tx_code%22:%7B%22input_mode%22:%22text%22,%22description%22:%22Please%20enter%20the%20serial%20number%20of%20your%20physical%20drivers%20license%22%7D%7D%7D%7D";
        let parsed = OfferUri::parse(uri, OfferUriOptions::default()).unwrap();
        assert_eq!(parsed.endpoint, "openid-credential-offer://");
        let OfferReference::ByValue(o) = &parsed.offer else {
            panic!("by value expected")
        };
        let tx = o
            .pre_authorized_code
            .as_ref()
            .unwrap()
            .tx_code
            .as_ref()
            .unwrap();
        assert_eq!(tx.input_mode, Some(InputMode::Text));
        let back = OfferUri::parse(&parsed.to_uri(), OfferUriOptions::default()).unwrap();
        assert_eq!(back, parsed);
    }

    #[test]
    fn oid4vci_4_1_3_offer_uri_by_reference_parses() {
        let uri = "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fserver%2Eexample%2Ecom%2Fcredential-offer%2FGkurKxf5T0Y-mnPFCHqWOMiZi4VS138cQO_V7PZHAdM";
        let parsed = OfferUri::parse(uri, OfferUriOptions::default()).unwrap();
        assert_eq!(
            parsed.offer,
            OfferReference::ByReference(
                "https://server.example.com/credential-offer/GkurKxf5T0Y-mnPFCHqWOMiZi4VS138cQO_V7PZHAdM".into()
            )
        );
        let https = OfferUri {
            endpoint: "https://wallet.example/offer".into(),
            offer: parsed.offer.clone(),
        };
        assert_eq!(
            OfferUri::parse(&https.to_uri(), OfferUriOptions::default()).unwrap(),
            https
        );
    }

    #[test]
    fn rejects_offer_uri_with_both_or_neither_form() {
        let both = "openid-credential-offer://?credential_offer=%7B%7D&credential_offer_uri=https%3A%2F%2Fa.example";
        assert_eq!(
            OfferUri::parse(both, OfferUriOptions::default()),
            Err(OfferError::BothForms)
        );
        assert_eq!(
            OfferUri::parse("openid-credential-offer://?x=1", OfferUriOptions::default()),
            Err(OfferError::NoOffer)
        );
        assert_eq!(
            OfferUri::parse(
                "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fa.example&credential_offer_uri=https%3A%2F%2Fb.example",
                OfferUriOptions::default()
            ),
            Err(OfferError::RepeatedParameter("credential_offer_uri"))
        );
    }

    #[test]
    fn rejects_offer_uri_over_plain_http_unless_loopback_allowed() {
        let uri =
            "openid-credential-offer://?credential_offer_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fo%2F1";
        assert_eq!(
            OfferUri::parse(uri, OfferUriOptions::default()),
            Err(OfferError::OfferUriNotHttps)
        );
        assert!(
            OfferUri::parse(
                uri,
                OfferUriOptions {
                    allow_http_loopback: true
                }
            )
            .is_ok()
        );
        let remote =
            "openid-credential-offer://?credential_offer_uri=http%3A%2F%2Fissuer.example%2Fo";
        assert_eq!(
            OfferUri::parse(
                remote,
                OfferUriOptions {
                    allow_http_loopback: true
                }
            ),
            Err(OfferError::OfferUriNotHttps)
        );
        assert_eq!(
            OfferUri::parse(
                "ftp://x/?credential_offer_uri=a",
                OfferUriOptions::default()
            ),
            Err(OfferError::Scheme("ftp".into()))
        );
    }

    #[test]
    fn rejects_offer_without_or_with_repeated_configuration_ids() {
        let empty =
            r#"{"credential_issuer":"https://i.example","credential_configuration_ids":[]}"#;
        assert_eq!(
            CredentialOffer::from_json(empty.as_bytes()),
            Err(OfferError::NoConfigurationIds)
        );
        let dup = r#"{"credential_issuer":"https://i.example","credential_configuration_ids":["a","b","a"]}"#;
        assert_eq!(
            CredentialOffer::from_json(dup.as_bytes()),
            Err(OfferError::DuplicateConfigurationId("a".into()))
        );
        let missing = r#"{"credential_configuration_ids":["a"]}"#;
        assert_eq!(
            CredentialOffer::from_json(missing.as_bytes()),
            Err(OfferError::Missing("credential_issuer"))
        );
    }

    #[test]
    fn rejects_tx_code_description_over_300_characters() {
        let long = "é".repeat(301);
        let json = format!(
            r#"{{"credential_issuer":"https://i.example","credential_configuration_ids":["a"],"grants":{{"{PRE_AUTHORIZED_CODE_GRANT}":{{"pre-authorized_code":"c","tx_code":{{"description":"{long}"}}}}}}}}"#
        );
        assert_eq!(
            CredentialOffer::from_json(json.as_bytes()),
            Err(OfferError::DescriptionTooLong)
        );
        let ok = json.replace(&long, &"é".repeat(300));
        assert!(CredentialOffer::from_json(ok.as_bytes()).is_ok());
    }

    #[test]
    fn rejects_bad_tx_code_members() {
        let base = |tx: &str| {
            format!(
                r#"{{"credential_issuer":"https://i.example","credential_configuration_ids":["a"],"grants":{{"{PRE_AUTHORIZED_CODE_GRANT}":{{"pre-authorized_code":"c","tx_code":{tx}}}}}}}"#
            )
        };
        assert_eq!(
            CredentialOffer::from_json(base(r#"{"input_mode":"digits"}"#).as_bytes()),
            Err(OfferError::InputMode)
        );
        assert_eq!(
            CredentialOffer::from_json(base(r#"{"length":0}"#).as_bytes()),
            Err(OfferError::TxCodeLength)
        );
        assert_eq!(
            CredentialOffer::from_json(base(r#"{"length":"6"}"#).as_bytes()),
            Err(OfferError::WrongType("length"))
        );
        // Empty object: a code is required, nothing more is said about it.
        let o = CredentialOffer::from_json(base("{}").as_bytes()).unwrap();
        assert_eq!(
            o.pre_authorized_code.unwrap().tx_code,
            Some(TxCode::default())
        );
    }

    #[test]
    fn rejects_duplicate_members_and_unknown_ones_are_ignored() {
        let dup = r#"{"credential_issuer":"https://a.example","credential_issuer":"https://b.example","credential_configuration_ids":["a"]}"#;
        assert_eq!(
            CredentialOffer::from_json(dup.as_bytes()),
            Err(OfferError::NotObject)
        );
        let extra = r#"{"credential_issuer":"https://a.example","credential_configuration_ids":["a"],"future":1}"#;
        assert!(CredentialOffer::from_json(extra.as_bytes()).is_ok());
    }
}
