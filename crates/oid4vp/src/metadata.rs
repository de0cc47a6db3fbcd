//! Verifier metadata (`client_metadata`, OpenID4VP 1.0 §5.1, §11) and wallet metadata
//! (§10, sent in a `request_uri` POST as `wallet_metadata`).
//!
//! Both are open-ended JSON objects: members this crate does not know are ignored, as
//! the spec requires, and are not carried through.

use jose::jwe::{ECDH_ES, Enc};
use jose::{Algorithm, PublicJwk};
use serde_json::{Map, Value};

use crate::dcql::FORMAT_SD_JWT_VC;

/// Metadata was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// The metadata is not a JSON object (or not JSON).
    #[error("{0} must be a JSON object")]
    NotObject(&'static str),
    /// A member has the wrong type.
    #[error("`{0}` is malformed")]
    Malformed(&'static str),
    /// A key in `jwks` has no `kid` (§5.1: each JWK MUST have one).
    #[error("every key in client_metadata.jwks needs a kid")]
    KeyWithoutKid,
    /// `encrypted_response_enc_values_supported` is empty.
    #[error("encrypted_response_enc_values_supported must not be empty")]
    EmptyEncValues,
}

/// `vp_formats_supported` for `dc+sd-jwt` (Appendix B.3.4).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SdJwtVcFormat {
    /// `sd-jwt_alg_values`: algorithms of the issuer-signed JWT.
    pub sd_jwt_alg_values: Option<Vec<String>>,
    /// `kb-jwt_alg_values`: algorithms of the key binding JWT.
    pub kb_jwt_alg_values: Option<Vec<String>>,
}

impl SdJwtVcFormat {
    /// Both lists set to `algs`.
    pub fn with_algorithms(algs: &[Algorithm]) -> Self {
        let names: Vec<String> = algs.iter().map(|a| a.name().to_owned()).collect();
        SdJwtVcFormat {
            sd_jwt_alg_values: Some(names.clone()),
            kb_jwt_alg_values: Some(names),
        }
    }

    fn to_value(&self) -> Value {
        let mut m = Map::new();
        if let Some(v) = &self.sd_jwt_alg_values {
            m.insert("sd-jwt_alg_values".into(), strings(v));
        }
        if let Some(v) = &self.kb_jwt_alg_values {
            m.insert("kb-jwt_alg_values".into(), strings(v));
        }
        Value::Object(m)
    }

    fn from_value(v: &Value) -> Result<Self, MetadataError> {
        let m = v
            .as_object()
            .ok_or(MetadataError::Malformed("vp_formats_supported"))?;
        Ok(SdJwtVcFormat {
            sd_jwt_alg_values: string_list(m, "sd-jwt_alg_values")?,
            kb_jwt_alg_values: string_list(m, "kb-jwt_alg_values")?,
        })
    }
}

/// Verifier metadata passed in the request (`client_metadata`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientMetadata {
    /// `vp_formats_supported` for `dc+sd-jwt`, if present.
    pub sd_jwt_vc: Option<SdJwtVcFormat>,
    /// `jwks`: keys the wallet may encrypt the response to (each with `kid`). Keys of
    /// types this crate cannot use are left out on parsing.
    pub jwks: Option<Vec<PublicJwk>>,
    /// `encrypted_response_enc_values_supported` (default `A128GCM` when absent). Values
    /// this crate does not implement are left out on parsing.
    pub encrypted_response_enc_values_supported: Option<Vec<Enc>>,
}

impl ClientMetadata {
    /// The JSON form.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        if let Some(f) = &self.sd_jwt_vc {
            let mut formats = Map::new();
            formats.insert(FORMAT_SD_JWT_VC.into(), f.to_value());
            m.insert("vp_formats_supported".into(), Value::Object(formats));
        }
        if let Some(keys) = &self.jwks {
            let mut jwks = Map::new();
            jwks.insert(
                "keys".into(),
                Value::Array(keys.iter().map(PublicJwk::to_value).collect()),
            );
            m.insert("jwks".into(), Value::Object(jwks));
        }
        if let Some(encs) = &self.encrypted_response_enc_values_supported {
            m.insert(
                "encrypted_response_enc_values_supported".into(),
                Value::Array(encs.iter().map(|e| Value::from(e.name())).collect()),
            );
        }
        Value::Object(m)
    }

    /// Parses the JSON form.
    pub fn from_value(v: &Value) -> Result<Self, MetadataError> {
        let m = v
            .as_object()
            .ok_or(MetadataError::NotObject("client_metadata"))?;
        let sd_jwt_vc = match m.get("vp_formats_supported") {
            None => None,
            Some(Value::Object(formats)) => formats
                .get(FORMAT_SD_JWT_VC)
                .map(SdJwtVcFormat::from_value)
                .transpose()?,
            Some(_) => return Err(MetadataError::Malformed("vp_formats_supported")),
        };
        let jwks = match m.get("jwks") {
            None => None,
            Some(v) => Some(parse_jwks(v)?),
        };
        let encrypted_response_enc_values_supported =
            match string_list(m, "encrypted_response_enc_values_supported")? {
                None => None,
                Some(v) if v.is_empty() => return Err(MetadataError::EmptyEncValues),
                Some(v) => Some(v.iter().filter_map(|n| Enc::from_name(n)).collect()),
            };
        Ok(ClientMetadata {
            sd_jwt_vc,
            jwks,
            encrypted_response_enc_values_supported,
        })
    }

    /// The `enc` values the verifier accepts: the listed ones, or `A128GCM` by default.
    pub fn enc_values(&self) -> Vec<Enc> {
        self.encrypted_response_enc_values_supported
            .clone()
            .unwrap_or_else(|| vec![Enc::A128Gcm])
    }

    /// For a wallet encrypting its response (§8.3): the first `ECDH-ES` key in `jwks`
    /// and the first listed `enc` the wallet also supports.
    pub fn response_encryption(&self, wallet_supports: &[Enc]) -> Option<(&PublicJwk, Enc)> {
        let key = self
            .jwks
            .iter()
            .flatten()
            .find(|k| k.alg() == Some(ECDH_ES) && k.key_use().is_none_or(|u| u == "enc"))?;
        let enc = self
            .enc_values()
            .into_iter()
            .find(|e| wallet_supports.contains(e))?;
        Some((key, enc))
    }
}

fn parse_jwks(v: &Value) -> Result<Vec<PublicJwk>, MetadataError> {
    let keys = v
        .as_object()
        .and_then(|o| o.get("keys"))
        .and_then(Value::as_array)
        .ok_or(MetadataError::Malformed("jwks"))?;
    let mut out = Vec::new();
    for k in keys {
        let o = k.as_object().ok_or(MetadataError::Malformed("jwks"))?;
        if !o.get("kid").is_some_and(Value::is_string) {
            return Err(MetadataError::KeyWithoutKid);
        }
        // A key of a type this crate cannot use (X25519, RSA …) is skipped, not fatal:
        // the verifier may offer several and the wallet picks one it supports.
        if let Ok(jwk) = PublicJwk::from_object(o) {
            out.push(jwk);
        }
    }
    Ok(out)
}

/// Wallet metadata (§10.1) as sent in a `request_uri` POST.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WalletMetadata {
    /// `vp_formats_supported` for `dc+sd-jwt`, if present.
    pub sd_jwt_vc: Option<SdJwtVcFormat>,
    /// Whether `vp_formats_supported` was present at all (and which formats it names).
    pub formats: Option<Vec<String>>,
    /// `client_id_prefixes_supported` (default: pre-registered only).
    pub client_id_prefixes_supported: Option<Vec<String>>,
    /// `request_object_signing_alg_values_supported`.
    pub request_object_signing_alg_values_supported: Option<Vec<String>>,
    /// `authorization_encryption_alg_values_supported`.
    pub authorization_encryption_alg_values_supported: Option<Vec<String>>,
    /// `authorization_encryption_enc_values_supported`.
    pub authorization_encryption_enc_values_supported: Option<Vec<String>>,
}

impl WalletMetadata {
    /// Parses JSON text (duplicate member names refused).
    pub fn from_json(text: &str) -> Result<Self, MetadataError> {
        let v = jose::json::parse_value(text.as_bytes())
            .map_err(|_| MetadataError::NotObject("wallet_metadata"))?;
        Self::from_value(&v)
    }

    /// Parses the JSON form.
    pub fn from_value(v: &Value) -> Result<Self, MetadataError> {
        let m = v
            .as_object()
            .ok_or(MetadataError::NotObject("wallet_metadata"))?;
        let (sd_jwt_vc, formats) = match m.get("vp_formats_supported") {
            None => (None, None),
            Some(Value::Object(f)) => (
                f.get(FORMAT_SD_JWT_VC)
                    .map(SdJwtVcFormat::from_value)
                    .transpose()?,
                Some(f.keys().cloned().collect()),
            ),
            Some(_) => return Err(MetadataError::Malformed("vp_formats_supported")),
        };
        Ok(WalletMetadata {
            sd_jwt_vc,
            formats,
            client_id_prefixes_supported: string_list(m, "client_id_prefixes_supported")?,
            request_object_signing_alg_values_supported: string_list(
                m,
                "request_object_signing_alg_values_supported",
            )?,
            authorization_encryption_alg_values_supported: string_list(
                m,
                "authorization_encryption_alg_values_supported",
            )?,
            authorization_encryption_enc_values_supported: string_list(
                m,
                "authorization_encryption_enc_values_supported",
            )?,
        })
    }

    /// The JSON form.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        if let Some(f) = &self.sd_jwt_vc {
            let mut formats = Map::new();
            formats.insert(FORMAT_SD_JWT_VC.into(), f.to_value());
            m.insert("vp_formats_supported".into(), Value::Object(formats));
        }
        let lists = [
            (
                "client_id_prefixes_supported",
                &self.client_id_prefixes_supported,
            ),
            (
                "request_object_signing_alg_values_supported",
                &self.request_object_signing_alg_values_supported,
            ),
            (
                "authorization_encryption_alg_values_supported",
                &self.authorization_encryption_alg_values_supported,
            ),
            (
                "authorization_encryption_enc_values_supported",
                &self.authorization_encryption_enc_values_supported,
            ),
        ];
        for (name, list) in lists {
            if let Some(list) = list {
                m.insert(name.into(), strings(list));
            }
        }
        Value::Object(m)
    }

    /// Whether the wallet can verify a request object signed with `alg` (true when it
    /// did not say).
    pub fn accepts_request_alg(&self, alg: Algorithm) -> bool {
        self.request_object_signing_alg_values_supported
            .as_ref()
            .is_none_or(|l| l.iter().any(|a| a == alg.name()))
    }

    /// Whether the wallet supports `dc+sd-jwt` (true when it did not list formats).
    pub fn supports_sd_jwt_vc(&self) -> bool {
        self.formats
            .as_ref()
            .is_none_or(|f| f.iter().any(|x| x == FORMAT_SD_JWT_VC))
    }

    /// Of `offered`, the `enc` values the wallet supports (all of them when it did not
    /// say).
    pub fn enc_values(&self, offered: &[Enc]) -> Vec<Enc> {
        match &self.authorization_encryption_enc_values_supported {
            None => offered.to_vec(),
            Some(list) => offered
                .iter()
                .copied()
                .filter(|e| list.iter().any(|n| n == e.name()))
                .collect(),
        }
    }
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().cloned().map(Value::String).collect())
}

fn string_list(
    m: &Map<String, Value>,
    key: &'static str,
) -> Result<Option<Vec<String>>, MetadataError> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or(MetadataError::Malformed(key)),
        Some(_) => Err(MetadataError::Malformed(key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn oid4vp_b3_4_example_client_metadata_parses() {
        let v = json!({
          "vp_formats_supported": {
            "dc+sd-jwt": {
              "sd-jwt_alg_values": ["ES256", "ES384"],
              "kb-jwt_alg_values": ["ES256", "ES384"]
            }
          }
        });
        let m = ClientMetadata::from_value(&v).unwrap();
        assert_eq!(
            m.sd_jwt_vc.as_ref().unwrap().kb_jwt_alg_values.as_deref(),
            Some(&["ES256".to_owned(), "ES384".to_owned()][..])
        );
        assert_eq!(m.to_value(), v);
        assert_eq!(m.enc_values(), vec![Enc::A128Gcm]);
    }

    #[test]
    fn oid4vp_s8_3_encryption_keys_pick_the_ec_key() {
        // The §8.3 example: an EC P-256 key, an X25519 key this crate cannot use, …
        let v = json!({"jwks": {"keys": [
            {"kty":"EC","kid":"ac","use":"enc","crv":"P-256","alg":"ECDH-ES",
             "x":"YO4epjifD-KWeq1sL2tNmm36BhXnkJ0He-WqMYrp9Fk",
             "y":"Hekpm0zfK7C-YccH5iBjcIXgf6YdUvNUac_0At55Okk"},
            {"kty":"OKP","kid":"jc","use":"enc","crv":"X25519","alg":"ECDH-ES",
             "x":"WPX7wnwq10hFNK9aDSyG1QlLswE_CJY14LdhcFUIVVc"}
        ]}, "encrypted_response_enc_values_supported": ["A128GCM", "A128CBC-HS256"]});
        let m = ClientMetadata::from_value(&v).unwrap();
        assert_eq!(m.jwks.as_ref().unwrap().len(), 1);
        let (key, enc) = m
            .response_encryption(&[Enc::A128Gcm, Enc::A256Gcm])
            .unwrap();
        assert_eq!(key.kid(), Some("ac"));
        assert_eq!(enc, Enc::A128Gcm);
    }

    #[test]
    fn rejects_a_jwks_key_without_kid() {
        let v = json!({"jwks": {"keys": [{"kty":"EC","crv":"P-256","x":"a","y":"b"}]}});
        assert_eq!(
            ClientMetadata::from_value(&v),
            Err(MetadataError::KeyWithoutKid)
        );
    }

    #[test]
    fn wallet_metadata_filters_enc_and_algs() {
        let w = WalletMetadata::from_json(
            r#"{"vp_formats_supported":{"dc+sd-jwt":{"kb-jwt_alg_values":["ES256"]}},
                "request_object_signing_alg_values_supported":["ES256"],
                "authorization_encryption_enc_values_supported":["A256GCM"]}"#,
        )
        .unwrap();
        assert!(w.accepts_request_alg(Algorithm::Es256));
        assert!(!w.accepts_request_alg(Algorithm::Es384));
        assert!(w.supports_sd_jwt_vc());
        assert_eq!(
            w.enc_values(&[Enc::A128Gcm, Enc::A256Gcm]),
            vec![Enc::A256Gcm]
        );
        assert_eq!(WalletMetadata::from_value(&w.to_value()).unwrap(), w);
    }

    #[test]
    fn rejects_malformed_wallet_metadata() {
        assert!(WalletMetadata::from_json("[1]").is_err());
        assert!(WalletMetadata::from_json("{").is_err());
        assert_eq!(
            WalletMetadata::from_json(r#"{"client_id_prefixes_supported":"x509_hash"}"#),
            Err(MetadataError::Malformed("client_id_prefixes_supported"))
        );
    }
}
