//! The credential request (§8.2) and response (§8.3), in JSON or encrypted as a JWE
//! (§10: the JWE plaintext is the JSON message; media type `application/jwt`).
//!
//! A request names exactly one of `credential_configuration_id` and
//! `credential_identifier`; `proofs` holds exactly one proof type with a non-empty array;
//! `credential_response_encryption` carries a public key whose `alg` is present (§10) and
//! an `enc` this crate implements. Unknown members are ignored (§8.2).

use crate::error::ErrorCode;
use crate::json::{Member, opt_object, opt_str, opt_u64};
use jose::jwe::{self, DecryptPolicy, ECDH_ES, Enc, EncryptOptions, EncryptionKey, JweError};
use jose::{JwkError, PublicJwk};
use serde_json::{Map, Value};

/// Media type of an encrypted request or response (§10).
pub const JWT_MEDIA_TYPE: &str = "application/jwt";

/// A credential request was refused.
#[derive(Debug, thiserror::Error)]
pub enum CredentialRequestError {
    /// Not a JSON object, or a repeated member.
    #[error("the credential request is not a JSON object")]
    NotObject,
    /// A member has the wrong type.
    #[error("credential request member `{0}` has the wrong type")]
    WrongType(&'static str),
    /// Neither `credential_configuration_id` nor `credential_identifier`.
    #[error("the request names neither `credential_configuration_id` nor `credential_identifier`")]
    NoTarget,
    /// Both (§8.2: mutually exclusive).
    #[error("`credential_configuration_id` and `credential_identifier` cannot both be used")]
    BothTargets,
    /// `proofs` does not hold exactly one proof type with a non-empty array.
    #[error("`proofs` must hold exactly one proof type with a non-empty array")]
    ProofsShape,
    /// A proof type this crate does not implement.
    #[error("proof type `{}` is not supported", jose::escape_input(.0))]
    UnsupportedProofType(String),
    /// `credential_response_encryption` is missing `jwk` or `enc`, or malformed.
    #[error("`credential_response_encryption.{0}` is missing or malformed")]
    EncryptionParameter(&'static str),
    /// The encryption JWK is not a usable public key.
    #[error("`credential_response_encryption.jwk` is invalid: {0}")]
    EncryptionKey(JwkError),
    /// The encryption JWK has no `alg` (§10: it MUST be present).
    #[error("`credential_response_encryption.jwk` has no `alg`")]
    EncryptionKeyWithoutAlg,
    /// The encryption JWK's `alg` is not `ECDH-ES`, or its `use` is not `enc`.
    #[error("`credential_response_encryption.jwk` cannot be used with ECDH-ES: {0}")]
    EncryptionKeyUnusable(String),
    /// `enc` is not implemented.
    #[error("`credential_response_encryption.enc` `{}` is not supported", jose::escape_input(.0))]
    UnsupportedEnc(String),
    /// `zip` is not `DEF`.
    #[error("`credential_response_encryption.zip` `{}` is not supported", jose::escape_input(.0))]
    UnsupportedZip(String),
    /// An encrypted request could not be decrypted.
    #[error("the encrypted credential request cannot be decrypted: {0}")]
    Decrypt(JweError),
}

impl CredentialRequestError {
    /// The error code (§8.3.1.2).
    pub fn code(&self) -> ErrorCode {
        match self {
            CredentialRequestError::NotObject
            | CredentialRequestError::WrongType(_)
            | CredentialRequestError::NoTarget
            | CredentialRequestError::BothTargets => ErrorCode::InvalidCredentialRequest,
            CredentialRequestError::ProofsShape
            | CredentialRequestError::UnsupportedProofType(_) => ErrorCode::InvalidProof,
            CredentialRequestError::EncryptionParameter(_)
            | CredentialRequestError::EncryptionKey(_)
            | CredentialRequestError::EncryptionKeyWithoutAlg
            | CredentialRequestError::EncryptionKeyUnusable(_)
            | CredentialRequestError::UnsupportedEnc(_)
            | CredentialRequestError::UnsupportedZip(_)
            | CredentialRequestError::Decrypt(_) => ErrorCode::InvalidEncryptionParameters,
        }
    }
}

impl From<Member> for CredentialRequestError {
    fn from(m: Member) -> Self {
        match m {
            Member::Missing(n) | Member::WrongType(n) => CredentialRequestError::WrongType(n),
        }
    }
}

/// What the request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialTarget {
    /// `credential_configuration_id`.
    ConfigurationId(String),
    /// `credential_identifier` (from the token response's `authorization_details`).
    Identifier(String),
}

/// `proofs` (§8.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Proofs {
    /// `jwt`: proof JWTs (Appendix F.1).
    Jwt(Vec<String>),
    /// `attestation`: exactly one key attestation JWT (Appendix F.3).
    Attestation(String),
}

impl Proofs {
    /// How many keys the proofs bind at most (one per `jwt` proof).
    pub fn len(&self) -> usize {
        match self {
            Proofs::Jwt(p) => p.len(),
            Proofs::Attestation(_) => 1,
        }
    }

    /// Never true for parsed proofs (the array is non-empty).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn from_object(o: &Map<String, Value>) -> Result<Self, CredentialRequestError> {
        let mut entries = o.iter();
        let (Some((kind, value)), None) = (entries.next(), entries.next()) else {
            return Err(CredentialRequestError::ProofsShape);
        };
        let items = match value {
            Value::Array(a) if !a.is_empty() => a,
            _ => return Err(CredentialRequestError::ProofsShape),
        };
        let strings = || {
            items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or(CredentialRequestError::ProofsShape)
        };
        match kind.as_str() {
            "jwt" => Ok(Proofs::Jwt(strings()?)),
            "attestation" => {
                let mut all = strings()?;
                match (all.pop(), all.is_empty()) {
                    (Some(one), true) => Ok(Proofs::Attestation(one)),
                    _ => Err(CredentialRequestError::ProofsShape),
                }
            }
            other => Err(CredentialRequestError::UnsupportedProofType(
                other.to_owned(),
            )),
        }
    }

    fn to_value(&self) -> Value {
        let (kind, items) = match self {
            Proofs::Jwt(p) => ("jwt", p.clone()),
            Proofs::Attestation(a) => ("attestation", vec![a.clone()]),
        };
        let mut m = Map::with_capacity(1);
        m.insert(kind.into(), items.into());
        Value::Object(m)
    }
}

/// `credential_response_encryption` of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseEncryption {
    /// The wallet's public key; its `alg` is `ECDH-ES`.
    pub jwk: PublicJwk,
    /// Content encryption.
    pub enc: Enc,
    /// Compress with DEFLATE before encrypting (`zip` `DEF`).
    pub zip: bool,
}

impl ResponseEncryption {
    fn from_object(o: &Map<String, Value>) -> Result<Self, CredentialRequestError> {
        let jwk = o
            .get("jwk")
            .ok_or(CredentialRequestError::EncryptionParameter("jwk"))?;
        let jwk = PublicJwk::from_value(jwk).map_err(CredentialRequestError::EncryptionKey)?;
        match jwk.alg() {
            None => return Err(CredentialRequestError::EncryptionKeyWithoutAlg),
            Some(ECDH_ES) => {}
            Some(other) => {
                return Err(CredentialRequestError::EncryptionKeyUnusable(format!(
                    "alg `{}`",
                    jose::escape_input(other)
                )));
            }
        }
        if let Some(u) = jwk.key_use()
            && u != "enc"
        {
            return Err(CredentialRequestError::EncryptionKeyUnusable(format!(
                "use `{}`",
                jose::escape_input(u)
            )));
        }
        if jwk.curve().is_none() {
            return Err(CredentialRequestError::EncryptionKeyUnusable(
                "not an EC key".into(),
            ));
        }
        let enc = match o.get("enc") {
            Some(Value::String(s)) => Enc::from_name(s)
                .ok_or_else(|| CredentialRequestError::UnsupportedEnc(s.clone()))?,
            _ => return Err(CredentialRequestError::EncryptionParameter("enc")),
        };
        let zip = match o.get("zip") {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) if s == "DEF" => true,
            Some(Value::String(s)) => {
                return Err(CredentialRequestError::UnsupportedZip(s.clone()));
            }
            Some(_) => return Err(CredentialRequestError::EncryptionParameter("zip")),
        };
        Ok(ResponseEncryption { jwk, enc, zip })
    }

    /// The JSON form (`{jwk, enc, zip?}`).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("jwk".into(), self.jwk.to_value());
        m.insert("enc".into(), self.enc.name().into());
        if self.zip {
            m.insert("zip".into(), "DEF".into());
        }
        Value::Object(m)
    }

    /// Encrypts `plaintext` (a JSON message) to the wallet's key (§10: JWE `alg` = the
    /// JWK's `alg`, its `kid` copied).
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<String, JweError> {
        let options = EncryptOptions {
            zip: self.zip,
            ..EncryptOptions::default()
        };
        jwe::encrypt(plaintext, &self.jwk, self.enc, &options)
    }
}

/// A credential request (§8.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialRequest {
    /// What is requested.
    pub target: CredentialTarget,
    /// Key proofs.
    pub proofs: Option<Proofs>,
    /// Where to encrypt the response to.
    pub credential_response_encryption: Option<ResponseEncryption>,
}

impl CredentialRequest {
    /// Parses a JSON request body.
    pub fn from_json(text: &[u8]) -> Result<Self, CredentialRequestError> {
        let o = jose::json::parse_object(text).map_err(|_| CredentialRequestError::NotObject)?;
        Self::from_object(&o)
    }

    /// Parses an encrypted request (§10) with the issuer's key agreement key.
    pub fn from_jwe(
        jwe: &str,
        key: &EncryptionKey,
        policy: &DecryptPolicy<'_>,
    ) -> Result<Self, CredentialRequestError> {
        let plain =
            jwe::decrypt(jwe.trim(), key, policy).map_err(CredentialRequestError::Decrypt)?;
        Self::from_json(plain.plaintext())
    }

    /// Parses a request from a JSON object.
    pub fn from_object(o: &Map<String, Value>) -> Result<Self, CredentialRequestError> {
        let id = opt_str(o, "credential_configuration_id")?;
        let identifier = opt_str(o, "credential_identifier")?;
        let target = match (id, identifier) {
            (Some(_), Some(_)) => return Err(CredentialRequestError::BothTargets),
            (Some(id), None) => CredentialTarget::ConfigurationId(id.to_owned()),
            (None, Some(i)) => CredentialTarget::Identifier(i.to_owned()),
            (None, None) => return Err(CredentialRequestError::NoTarget),
        };
        let proofs = match o.get("proofs") {
            None | Some(Value::Null) => None,
            Some(Value::Object(p)) => Some(Proofs::from_object(p)?),
            Some(_) => return Err(CredentialRequestError::ProofsShape),
        };
        let credential_response_encryption = opt_object(o, "credential_response_encryption")
            .map_err(|_| {
                CredentialRequestError::EncryptionParameter("credential_response_encryption")
            })?
            .map(ResponseEncryption::from_object)
            .transpose()?;
        Ok(CredentialRequest {
            target,
            proofs,
            credential_response_encryption,
        })
    }

    /// The JSON body.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        match &self.target {
            CredentialTarget::ConfigurationId(id) => {
                m.insert("credential_configuration_id".into(), id.clone().into());
            }
            CredentialTarget::Identifier(id) => {
                m.insert("credential_identifier".into(), id.clone().into());
            }
        }
        if let Some(p) = &self.proofs {
            m.insert("proofs".into(), p.to_value());
        }
        if let Some(e) = &self.credential_response_encryption {
            m.insert("credential_response_encryption".into(), e.to_value());
        }
        Value::Object(m)
    }

    /// The request encrypted to the issuer's key agreement key (§8.2, §10).
    pub fn to_jwe(&self, issuer_key: &PublicJwk, enc: Enc) -> Result<String, JweError> {
        jwe::encrypt(
            self.to_value().to_string().as_bytes(),
            issuer_key,
            enc,
            &EncryptOptions::default(),
        )
    }
}

/// A credential response was refused (wallet side).
#[derive(Debug, thiserror::Error)]
pub enum CredentialResponseError {
    /// Not a JSON object.
    #[error("the credential response is not a JSON object")]
    NotObject,
    /// A member is missing.
    #[error("credential response member `{0}` is missing")]
    Missing(&'static str),
    /// A member has the wrong type.
    #[error("credential response member `{0}` has the wrong type")]
    WrongType(&'static str),
    /// `credentials` together with `transaction_id`, or neither (§8.3).
    #[error("a credential response carries either `credentials` or `transaction_id`")]
    Shape,
    /// An encrypted response could not be decrypted.
    #[error("the encrypted credential response cannot be decrypted: {0}")]
    Decrypt(JweError),
}

impl From<Member> for CredentialResponseError {
    fn from(m: Member) -> Self {
        match m {
            Member::Missing(n) => CredentialResponseError::Missing(n),
            Member::WrongType(n) => CredentialResponseError::WrongType(n),
        }
    }
}

/// A credential response (§8.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialResponse {
    /// `200`: the credentials, one per bound key.
    Issued {
        /// Each `credential` value (for `dc+sd-jwt`, the SD-JWT string).
        credentials: Vec<Value>,
        /// For the notification endpoint.
        notification_id: Option<String>,
    },
    /// `202`: issuance is deferred.
    Deferred {
        /// For the deferred credential endpoint.
        transaction_id: String,
        /// Seconds to wait before asking.
        interval: u64,
    },
}

impl CredentialResponse {
    /// The HTTP status (200 or 202).
    pub fn http_status(&self) -> u16 {
        match self {
            CredentialResponse::Issued { .. } => 200,
            CredentialResponse::Deferred { .. } => 202,
        }
    }

    /// The JSON body.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        match self {
            CredentialResponse::Issued {
                credentials,
                notification_id,
            } => {
                let list = credentials
                    .iter()
                    .map(|c| {
                        let mut o = Map::with_capacity(1);
                        o.insert("credential".into(), c.clone());
                        Value::Object(o)
                    })
                    .collect();
                m.insert("credentials".into(), Value::Array(list));
                if let Some(n) = notification_id {
                    m.insert("notification_id".into(), n.clone().into());
                }
            }
            CredentialResponse::Deferred {
                transaction_id,
                interval,
            } => {
                m.insert("transaction_id".into(), transaction_id.clone().into());
                m.insert("interval".into(), (*interval).into());
            }
        }
        Value::Object(m)
    }

    /// Parses a JSON response body (unknown members ignored).
    pub fn from_json(text: &[u8]) -> Result<Self, CredentialResponseError> {
        let o = jose::json::parse_object(text).map_err(|_| CredentialResponseError::NotObject)?;
        match (o.get("credentials"), opt_str(&o, "transaction_id")?) {
            (Some(Value::Array(list)), None) => {
                if list.is_empty() {
                    return Err(CredentialResponseError::WrongType("credentials"));
                }
                let credentials = list
                    .iter()
                    .map(|e| {
                        e.as_object()
                            .and_then(|o| o.get("credential"))
                            .cloned()
                            .ok_or(CredentialResponseError::WrongType("credentials"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(CredentialResponse::Issued {
                    credentials,
                    notification_id: opt_str(&o, "notification_id")?.map(str::to_owned),
                })
            }
            (Some(_), None) => Err(CredentialResponseError::WrongType("credentials")),
            (None, Some(t)) => Ok(CredentialResponse::Deferred {
                transaction_id: t.to_owned(),
                interval: opt_u64(&o, "interval")?
                    .filter(|i| *i > 0)
                    .ok_or(CredentialResponseError::Missing("interval"))?,
            }),
            _ => Err(CredentialResponseError::Shape),
        }
    }

    /// Decrypts an encrypted response with the wallet's key and parses it.
    pub fn from_jwe(
        jwe: &str,
        key: &EncryptionKey,
        policy: &DecryptPolicy<'_>,
    ) -> Result<Self, CredentialResponseError> {
        let plain =
            jwe::decrypt(jwe.trim(), key, policy).map_err(CredentialResponseError::Decrypt)?;
        Self::from_json(plain.plaintext())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jose::Curve;

    #[test]
    fn oid4vci_8_2_sd_jwt_vc_request_parses_and_round_trips() {
        let body = br#"{"credential_identifier":"CivilEngineeringDegree-2023","proofs":{"jwt":["a.b.c","d.e.f"]}}"#;
        let r = CredentialRequest::from_json(body).unwrap();
        assert_eq!(
            r.target,
            CredentialTarget::Identifier("CivilEngineeringDegree-2023".into())
        );
        assert_eq!(r.proofs.as_ref().unwrap().len(), 2);
        assert_eq!(
            CredentialRequest::from_json(r.to_value().to_string().as_bytes()).unwrap(),
            r
        );
    }

    #[test]
    fn rejects_both_or_no_target() {
        let e = CredentialRequest::from_json(
            br#"{"credential_identifier":"a","credential_configuration_id":"b"}"#,
        )
        .unwrap_err();
        assert!(matches!(e, CredentialRequestError::BothTargets));
        assert_eq!(e.code(), ErrorCode::InvalidCredentialRequest);
        let e = CredentialRequest::from_json(br#"{"proofs":{"jwt":["x"]}}"#).unwrap_err();
        assert!(matches!(e, CredentialRequestError::NoTarget));
    }

    #[test]
    fn rejects_malformed_proofs() {
        for body in [
            &br#"{"credential_configuration_id":"a","proofs":{"jwt":[]}}"#[..],
            br#"{"credential_configuration_id":"a","proofs":{}}"#,
            br#"{"credential_configuration_id":"a","proofs":{"jwt":["x"],"attestation":["y"]}}"#,
            br#"{"credential_configuration_id":"a","proofs":{"jwt":[1]}}"#,
            br#"{"credential_configuration_id":"a","proofs":{"attestation":["x","y"]}}"#,
            br#"{"credential_configuration_id":"a","proofs":["x"]}"#,
        ] {
            let e = CredentialRequest::from_json(body).unwrap_err();
            assert!(matches!(e, CredentialRequestError::ProofsShape), "{e}");
            assert_eq!(e.code(), ErrorCode::InvalidProof);
        }
        let e = CredentialRequest::from_json(
            br#"{"credential_configuration_id":"a","proofs":{"di_vp":[{}]}}"#,
        )
        .unwrap_err();
        assert!(matches!(e, CredentialRequestError::UnsupportedProofType(t) if t == "di_vp"));
    }

    fn wallet_key() -> EncryptionKey {
        EncryptionKey::generate(Curve::P256).unwrap().with_kid("w1")
    }

    fn encryption_body(jwk: Value, enc: &str) -> Vec<u8> {
        serde_json::json!({
            "credential_configuration_id": "a",
            "credential_response_encryption": {"jwk": jwk, "enc": enc}
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn rejects_encryption_key_without_alg_or_for_signing() {
        let key = wallet_key();
        let bare = key.public_jwk().to_value();
        let e = CredentialRequest::from_json(&encryption_body(bare, "A128GCM")).unwrap_err();
        assert!(matches!(e, CredentialRequestError::EncryptionKeyWithoutAlg));
        assert_eq!(e.code(), ErrorCode::InvalidEncryptionParameters);
        let signing = key.public_jwk().clone().with_alg("ES256").to_value();
        let e = CredentialRequest::from_json(&encryption_body(signing, "A128GCM")).unwrap_err();
        assert!(matches!(
            e,
            CredentialRequestError::EncryptionKeyUnusable(_)
        ));
        let good = key.public_jwk().clone().with_alg(ECDH_ES).to_value();
        let e = CredentialRequest::from_json(&encryption_body(good, "A192GCM")).unwrap_err();
        assert!(matches!(e, CredentialRequestError::UnsupportedEnc(s) if s == "A192GCM"));
    }

    #[test]
    fn encrypted_request_and_response_round_trip() {
        let issuer = EncryptionKey::generate(Curve::P256).unwrap().with_kid("i1");
        let wallet = wallet_key();
        let request = CredentialRequest {
            target: CredentialTarget::ConfigurationId("pass".into()),
            proofs: Some(Proofs::Jwt(vec!["a.b.c".into()])),
            credential_response_encryption: Some(ResponseEncryption {
                jwk: wallet.public_jwk().clone().with_alg(ECDH_ES),
                enc: Enc::A256Gcm,
                zip: true,
            }),
        };
        let issuer_public = issuer.public_jwk().clone().with_alg(ECDH_ES);
        let jwe = request.to_jwe(&issuer_public, Enc::A128Gcm).unwrap();
        let policy = DecryptPolicy::new(&Enc::ALL).with_zip();
        let got = CredentialRequest::from_jwe(&jwe, &issuer, &policy).unwrap();
        assert_eq!(got, request);

        let response = CredentialResponse::Issued {
            credentials: vec!["eyJ...~".into()],
            notification_id: Some("n1".into()),
        };
        let params = got.credential_response_encryption.unwrap();
        let sealed = params
            .encrypt(response.to_value().to_string().as_bytes())
            .unwrap();
        let header = jose::jwe::CompactJwe::parse(&sealed).unwrap();
        assert_eq!(header.header().kid(), Some("w1"));
        let opened = CredentialResponse::from_jwe(&sealed, &wallet, &policy).unwrap();
        assert_eq!(opened, response);
    }

    #[test]
    fn credential_responses_parse_both_forms() {
        let issued = CredentialResponse::from_json(
            br#"{"credentials":[{"credential":"LUpixVCWJk0eOt4CXQe1NXK....WZwmhmn9OQp6YxX0a2L"},{"credential":"YXNkZnNhZGZkamZqZGFza23....29tZTIzMjMyMzIzMjMy"}],"notification_id":"3fwe98js"}"#,
        )
        .unwrap();
        assert_eq!(issued.http_status(), 200);
        let deferred =
            CredentialResponse::from_json(br#"{"transaction_id":"8xLOxBtZp8","interval":3600}"#)
                .unwrap();
        assert_eq!(deferred.http_status(), 202);
        for r in [issued, deferred] {
            assert_eq!(
                CredentialResponse::from_json(r.to_value().to_string().as_bytes()).unwrap(),
                r
            );
        }
    }

    #[test]
    fn rejects_credential_response_with_both_or_neither_form() {
        assert!(matches!(
            CredentialResponse::from_json(
                br#"{"credentials":[{"credential":"x"}],"transaction_id":"t","interval":1}"#
            ),
            Err(CredentialResponseError::Shape)
        ));
        assert!(matches!(
            CredentialResponse::from_json(br#"{"notification_id":"n"}"#),
            Err(CredentialResponseError::Shape)
        ));
        assert!(matches!(
            CredentialResponse::from_json(br#"{"transaction_id":"t"}"#),
            Err(CredentialResponseError::Missing("interval"))
        ));
    }
}
