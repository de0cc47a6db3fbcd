//! Credential Issuer Metadata (§12.2) — unsigned JSON and the signed `application/jwt`
//! form (§12.2.3) — and the OAuth 2.0 Authorization Server Metadata an issuer publishes
//! (RFC 8414 with §12.3 and the Attestation-Based Client Authentication additions), plus
//! the well-known URL rule (path insertion, §12.2.2).
//!
//! Members this crate does not model are ignored when parsing, as §12.2.4 requires of
//! wallets; a configuration's format-specific members other than `vct` are carried in
//! [`CredentialConfiguration::extra`].

use jose::jwt::{Clock, TimeRules, check_time};
use jose::{Algorithm, CompactJws, HeaderBuilder, JwsPolicy, SignError, Signer, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `typ` of signed Credential Issuer Metadata (§12.2.3).
pub const SIGNED_METADATA_TYP: &str = "openidvci-issuer-metadata+jwt";
/// Well-known suffix of Credential Issuer Metadata.
pub const ISSUER_WELL_KNOWN: &str = "openid-credential-issuer";
/// Well-known suffix of Authorization Server Metadata (RFC 8414 §3).
pub const AS_WELL_KNOWN: &str = "oauth-authorization-server";
/// Well-known suffix of JWT VC Issuer Metadata (SD-JWT VC §3).
pub const JWT_VC_ISSUER_WELL_KNOWN: &str = "jwt-vc-issuer";
/// Format identifier of SD-JWT VC (Appendix A.3.1).
pub const FORMAT_SD_JWT_VC: &str = "dc+sd-jwt";

/// Metadata was refused.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// Not JSON of the expected shape.
    #[error("metadata does not have the expected shape: {0}")]
    Shape(serde_json::Error),
    /// Not a JSON object, or a repeated member.
    #[error("metadata is not a JSON object")]
    NotObject,
    /// `credential_issuer` differs from the identifier the metadata was fetched for
    /// (§12.2.4: simple string comparison).
    #[error(
        "metadata names issuer `{}`, expected `{expected}`",
        jose::escape_input(found)
    )]
    IssuerMismatch {
        /// The identifier the metadata was fetched for.
        expected: String,
        /// What the metadata says.
        found: String,
    },
    /// `credential_configurations_supported` is empty.
    #[error("`credential_configurations_supported` is empty")]
    NoConfigurations,
    /// `batch_size` is below 2 (§12.2.4).
    #[error("`batch_credential_issuance.batch_size` must be at least 2")]
    BatchSize,
    /// `proof_types_supported` present without `cryptographic_binding_methods_supported`,
    /// or the reverse (§12.2.4: present iff).
    #[error("configuration `{}`: proof types and binding methods must come together", jose::escape_input(.0))]
    BindingWithoutProofTypes(String),
    /// A `dc+sd-jwt` configuration without `vct` (Appendix A.3.2).
    #[error("configuration `{}`: `vct` is required for dc+sd-jwt", jose::escape_input(.0))]
    MissingVct(String),
    /// An array that must not be empty is empty.
    #[error("`{0}` must not be empty")]
    EmptyList(&'static str),
    /// A key in `credential_request_encryption.jwks` has no `kid` (§12.2.4).
    #[error("every key in `credential_request_encryption.jwks` needs a `kid`")]
    KeyWithoutKid,
    /// The signed metadata JWS is invalid.
    #[error("signed metadata: {0}")]
    Jws(jose::Error),
    /// The signed metadata's `sub` or `iat` is missing or wrong, or it expired.
    #[error("signed metadata claim `{0}` is missing or invalid")]
    SignedClaim(&'static str),
    /// The identifier is not an absolute URL with a host.
    #[error("`{0}` is not a URL an identifier can be")]
    Identifier(String),
}

/// `display` entry of the issuer (§12.2.4).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerDisplay {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// BCP 47 language tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Logo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<Logo>,
}

/// A logo or image reference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logo {
    /// `https:` or `data:` URI.
    pub uri: String,
    /// Alternative text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_text: Option<String>,
}

/// A background image reference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackgroundImage {
    /// `https:` or `data:` URI.
    pub uri: String,
}

/// `credential_metadata.display` entry (§12.2.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialDisplay {
    /// Display name (required).
    pub name: String,
    /// BCP 47 language tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Logo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<Logo>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// CSS colour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_color: Option<String>,
    /// Background image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_image: Option<BackgroundImage>,
    /// CSS colour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_color: Option<String>,
}

/// Display of one claim (Appendix B.2).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimDisplay {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// BCP 47 language tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

/// A claims description object (Appendix B.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimDescription {
    /// Claims path pointer (Appendix C): strings, `null` or non-negative integers.
    pub path: Vec<Value>,
    /// Whether the claim is always included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mandatory: Option<bool>,
    /// Display per language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<Vec<ClaimDisplay>>,
}

/// `credential_metadata` of a configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialMetadata {
    /// Display per language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<Vec<CredentialDisplay>>,
    /// Claims descriptions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<Vec<ClaimDescription>>,
}

/// `key_attestations_required` of a proof type.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAttestationsRequired {
    /// Accepted key storage levels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_storage: Option<Vec<String>>,
    /// Accepted user authentication levels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_authentication: Option<Vec<String>>,
}

/// A proof type's metadata (`proof_types_supported.<type>`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofTypeMetadata {
    /// Accepted proof signing algorithms.
    pub proof_signing_alg_values_supported: Vec<String>,
    /// Key attestation requirements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_attestations_required: Option<KeyAttestationsRequired>,
}

/// One entry of `credential_configurations_supported`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CredentialConfiguration {
    /// Format identifier, e.g. `dc+sd-jwt`.
    pub format: String,
    /// OAuth scope for this configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Algorithms the issuer signs with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_signing_alg_values_supported: Option<Vec<String>>,
    /// Key binding methods (`jwk`, …); present iff key binding is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cryptographic_binding_methods_supported: Option<Vec<String>>,
    /// Proof types; present iff binding methods are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof_types_supported: Option<BTreeMap<String, ProofTypeMetadata>>,
    /// Display and claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_metadata: Option<CredentialMetadata>,
    /// SD-JWT VC type (required for `dc+sd-jwt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vct: Option<String>,
    /// Other format-specific members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `credential_response_encryption` metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseEncryptionMetadata {
    /// JWE `alg` values.
    pub alg_values_supported: Vec<String>,
    /// JWE `enc` values.
    pub enc_values_supported: Vec<String>,
    /// JWE `zip` values; absent means no compression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip_values_supported: Option<Vec<String>>,
    /// Whether every response is encrypted.
    pub encryption_required: bool,
}

/// A JWK Set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys, as JSON objects.
    pub keys: Vec<Value>,
}

/// `credential_request_encryption` metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestEncryptionMetadata {
    /// The issuer's key agreement keys; each has a `kid`.
    pub jwks: JwkSet,
    /// JWE `enc` values.
    pub enc_values_supported: Vec<String>,
    /// JWE `zip` values; absent means no compression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip_values_supported: Option<Vec<String>>,
    /// Whether every request must be encrypted.
    pub encryption_required: bool,
}

/// `batch_credential_issuance`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchIssuance {
    /// Largest `proofs` array (at least 2).
    pub batch_size: u32,
}

/// Credential Issuer Metadata (§12.2.4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CredentialIssuerMetadata {
    /// The Credential Issuer Identifier.
    pub credential_issuer: String,
    /// Authorization servers; absent means the issuer is its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_servers: Option<Vec<String>>,
    /// Credential endpoint.
    pub credential_endpoint: String,
    /// Nonce endpoint; present means proofs must carry a `c_nonce`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce_endpoint: Option<String>,
    /// Deferred credential endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferred_credential_endpoint: Option<String>,
    /// Notification endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_endpoint: Option<String>,
    /// Request encryption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_request_encryption: Option<RequestEncryptionMetadata>,
    /// Response encryption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_response_encryption: Option<ResponseEncryptionMetadata>,
    /// Batch issuance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_credential_issuance: Option<BatchIssuance>,
    /// Issuer display per language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<Vec<IssuerDisplay>>,
    /// Supported configurations by id.
    pub credential_configurations_supported: BTreeMap<String, CredentialConfiguration>,
}

impl CredentialIssuerMetadata {
    /// Parses metadata fetched for `expected_issuer` and checks it (§12.2.4).
    pub fn from_json(text: &[u8], expected_issuer: &str) -> Result<Self, MetadataError> {
        let o = jose::json::parse_object(text).map_err(|_| MetadataError::NotObject)?;
        Self::from_object(o, expected_issuer)
    }

    fn from_object(o: Map<String, Value>, expected_issuer: &str) -> Result<Self, MetadataError> {
        let m: CredentialIssuerMetadata =
            serde_json::from_value(Value::Object(o)).map_err(MetadataError::Shape)?;
        if m.credential_issuer != expected_issuer {
            return Err(MetadataError::IssuerMismatch {
                expected: expected_issuer.to_owned(),
                found: m.credential_issuer,
            });
        }
        m.validate()?;
        Ok(m)
    }

    /// Checks the rules of §12.2.4 and Appendix A.3.2.
    pub fn validate(&self) -> Result<(), MetadataError> {
        if self.credential_configurations_supported.is_empty() {
            return Err(MetadataError::NoConfigurations);
        }
        if self
            .batch_credential_issuance
            .is_some_and(|b| b.batch_size < 2)
        {
            return Err(MetadataError::BatchSize);
        }
        if self
            .authorization_servers
            .as_ref()
            .is_some_and(Vec::is_empty)
        {
            return Err(MetadataError::EmptyList("authorization_servers"));
        }
        if let Some(enc) = &self.credential_response_encryption
            && (enc.alg_values_supported.is_empty() || enc.enc_values_supported.is_empty())
        {
            return Err(MetadataError::EmptyList("credential_response_encryption"));
        }
        if let Some(enc) = &self.credential_request_encryption {
            if enc.enc_values_supported.is_empty() || enc.jwks.keys.is_empty() {
                return Err(MetadataError::EmptyList("credential_request_encryption"));
            }
            if enc
                .jwks
                .keys
                .iter()
                .any(|k| k.get("kid").and_then(Value::as_str).is_none())
            {
                return Err(MetadataError::KeyWithoutKid);
            }
        }
        for (id, c) in &self.credential_configurations_supported {
            if c.cryptographic_binding_methods_supported.is_some()
                != c.proof_types_supported.is_some()
            {
                return Err(MetadataError::BindingWithoutProofTypes(id.clone()));
            }
            if c.format == FORMAT_SD_JWT_VC && c.vct.is_none() {
                return Err(MetadataError::MissingVct(id.clone()));
            }
        }
        Ok(())
    }

    /// The metadata as a JSON object.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The signed form (§12.2.3): every parameter as a top-level claim plus `sub` (the
    /// issuer identifier), `iat` and optionally `exp`; `typ`
    /// `openidvci-issuer-metadata+jwt`, `kid` from the signer.
    pub fn sign(
        &self,
        signer: &dyn Signer,
        iat: i64,
        exp: Option<i64>,
    ) -> Result<String, SignError> {
        let mut claims = match self.to_value() {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        claims.insert("sub".into(), self.credential_issuer.clone().into());
        claims.insert("iat".into(), iat.into());
        if let Some(exp) = exp {
            claims.insert("exp".into(), exp.into());
        }
        let mut h = HeaderBuilder::new().typ(SIGNED_METADATA_TYP);
        if let Some(kid) = signer.key_id() {
            h = h.kid(kid);
        }
        h.sign(Value::Object(claims).to_string().as_bytes(), signer)
    }

    /// Verifies signed metadata with a key the wallet trusts for this issuer.
    pub fn from_signed(
        jwt: &str,
        key: &VerifyingKey,
        algorithms: &[Algorithm],
        expected_issuer: &str,
        clock: &dyn Clock,
    ) -> Result<Self, MetadataError> {
        let policy = JwsPolicy::new(algorithms).with_typ(&[SIGNED_METADATA_TYP]);
        let verified = CompactJws::parse(jwt)
            .and_then(|j| j.verify(key, &policy))
            .map_err(MetadataError::Jws)?;
        let mut claims = verified.claims().map_err(MetadataError::Jws)?;
        if claims.get("sub").and_then(Value::as_str) != Some(expected_issuer) {
            return Err(MetadataError::SignedClaim("sub"));
        }
        let rules = TimeRules {
            skew: 60,
            require_exp: false,
            require_iat: true,
            max_age: None,
        };
        check_time(&claims, clock, &rules).map_err(|_| MetadataError::SignedClaim("iat"))?;
        for name in ["sub", "iat", "exp", "iss"] {
            claims.remove(name);
        }
        Self::from_object(claims, expected_issuer)
    }
}

/// OAuth 2.0 Authorization Server Metadata (RFC 8414) as an issuer's authorization server
/// publishes it for the pre-authorized code flow with attestation-based client
/// authentication.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationServerMetadata {
    /// The authorization server's issuer identifier.
    pub issuer: String,
    /// Token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// Supported grant types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types_supported: Option<Vec<String>>,
    /// Response types (may be omitted by a pre-authorized-only server, §12.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_types_supported: Option<Vec<String>>,
    /// Whether a token request without client authentication is accepted (§12.3).
    #[serde(
        rename = "pre-authorized_grant_anonymous_access_supported",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub pre_authorized_grant_anonymous_access_supported: Option<bool>,
    /// Client authentication methods at the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// ABCA §8: client attestation signing algorithms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_attestation_signing_alg_values_supported: Option<Vec<String>>,
    /// ABCA §8: PoP signing algorithms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_attestation_pop_signing_alg_values_supported: Option<Vec<String>>,
    /// ABCA §8: PoP methods (`attestation_pop_jwt`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_attestation_pop_methods_supported: Option<Vec<String>>,
    /// ABCA §6: where clients fetch attestation challenges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge_endpoint: Option<String>,
    /// RFC 9449 §5.1: the DPoP proof algorithms accepted; absent when DPoP is not offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
}

impl AuthorizationServerMetadata {
    /// Parses AS metadata fetched for `expected_issuer` (RFC 8414 §3.3: `issuer` must be
    /// identical).
    pub fn from_json(text: &[u8], expected_issuer: &str) -> Result<Self, MetadataError> {
        let o = jose::json::parse_object(text).map_err(|_| MetadataError::NotObject)?;
        let m: AuthorizationServerMetadata =
            serde_json::from_value(Value::Object(o)).map_err(MetadataError::Shape)?;
        if m.issuer != expected_issuer {
            return Err(MetadataError::IssuerMismatch {
                expected: expected_issuer.to_owned(),
                found: m.issuer,
            });
        }
        Ok(m)
    }

    /// The metadata as a JSON object.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The well-known URL of `identifier` with `suffix` (e.g. [`ISSUER_WELL_KNOWN`]) inserted
/// between host and path (§12.2.2, RFC 8414 §3.1): `https://h/t` → `https://h/.well-known/
/// openid-credential-issuer/t`. A trailing `/` of the identifier is dropped first.
pub fn well_known_url(identifier: &str, suffix: &str) -> Result<String, MetadataError> {
    let url = url::Url::parse(identifier)
        .map_err(|_| MetadataError::Identifier(identifier.to_owned()))?;
    if url.cannot_be_a_base() || url.host_str().is_none() || url.query().is_some() {
        return Err(MetadataError::Identifier(identifier.to_owned()));
    }
    let path = url.path().trim_end_matches('/');
    Ok(format!(
        "{}/.well-known/{suffix}{path}",
        url.origin().ascii_serialization()
    ))
}

/// The path (no scheme, no host) of [`well_known_url`]: the route a server registers.
pub fn well_known_path(identifier: &str, suffix: &str) -> Result<String, MetadataError> {
    let full = well_known_url(identifier, suffix)?;
    let url =
        url::Url::parse(&full).map_err(|_| MetadataError::Identifier(identifier.to_owned()))?;
    Ok(url.path().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jose::{FixedClock, SoftwareSigner};

    const SPEC_SD_JWT_VC: &str = r#"{
  "credential_issuer": "https://credential-issuer.example.com",
  "credential_endpoint": "https://credential-issuer.example.com/credential",
  "credential_configurations_supported":{"SD_JWT_VC_example_in_OpenID4VCI":{
  "format":"dc+sd-jwt","scope":"SD_JWT_VC_example_in_OpenID4VCI",
  "cryptographic_binding_methods_supported":["jwk"],
  "credential_signing_alg_values_supported":["ES256"],
  "proof_types_supported":{"jwt":{"proof_signing_alg_values_supported":["ES256"]}},
  "vct":"SD_JWT_VC_example_in_OpenID4VCI",
  "credential_metadata":{"display":[{"name":"IdentityCredential","locale":"en-US"}],
                         "claims":[{"path":["given_name"],"display":[{"name":"Given Name","locale":"en-US"}]}]}}}}"#;

    #[test]
    fn oid4vci_a_3_2_sd_jwt_vc_metadata_parses_and_round_trips() {
        let m = CredentialIssuerMetadata::from_json(
            SPEC_SD_JWT_VC.as_bytes(),
            "https://credential-issuer.example.com",
        )
        .unwrap();
        let c = &m.credential_configurations_supported["SD_JWT_VC_example_in_OpenID4VCI"];
        assert_eq!(c.vct.as_deref(), Some("SD_JWT_VC_example_in_OpenID4VCI"));
        assert_eq!(
            c.proof_types_supported.as_ref().unwrap()["jwt"].proof_signing_alg_values_supported,
            ["ES256"]
        );
        let text = m.to_value().to_string();
        let again =
            CredentialIssuerMetadata::from_json(text.as_bytes(), &m.credential_issuer).unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn rejects_metadata_for_another_issuer() {
        let e = CredentialIssuerMetadata::from_json(
            SPEC_SD_JWT_VC.as_bytes(),
            "https://credential-issuer.example.com/",
        )
        .unwrap_err();
        assert!(matches!(e, MetadataError::IssuerMismatch { .. }), "{e}");
    }

    #[test]
    fn rejects_sd_jwt_vc_configuration_without_vct_or_binding_without_proofs() {
        let no_vct = SPEC_SD_JWT_VC.replace(r#""vct":"SD_JWT_VC_example_in_OpenID4VCI","#, "");
        assert!(matches!(
            CredentialIssuerMetadata::from_json(
                no_vct.as_bytes(),
                "https://credential-issuer.example.com"
            ),
            Err(MetadataError::MissingVct(_))
        ));
        let no_proofs = SPEC_SD_JWT_VC.replace(
            r#""proof_types_supported":{"jwt":{"proof_signing_alg_values_supported":["ES256"]}},"#,
            "",
        );
        assert!(matches!(
            CredentialIssuerMetadata::from_json(
                no_proofs.as_bytes(),
                "https://credential-issuer.example.com"
            ),
            Err(MetadataError::BindingWithoutProofTypes(_))
        ));
    }

    #[test]
    fn rejects_batch_size_below_two() {
        let m =
            SPEC_SD_JWT_VC.replacen('{', r#"{"batch_credential_issuance":{"batch_size":1},"#, 1);
        assert!(matches!(
            CredentialIssuerMetadata::from_json(
                m.as_bytes(),
                "https://credential-issuer.example.com"
            ),
            Err(MetadataError::BatchSize)
        ));
    }

    #[test]
    fn signed_metadata_round_trips_and_checks_sub() {
        let m = CredentialIssuerMetadata::from_json(
            SPEC_SD_JWT_VC.as_bytes(),
            "https://credential-issuer.example.com",
        )
        .unwrap();
        let signer = SoftwareSigner::generate(Algorithm::Es256)
            .unwrap()
            .with_kid("k1");
        let jwt = m.sign(&signer, 1_700_000_000, None).unwrap();
        let key = VerifyingKey::from_jwk(signer.public_jwk()).unwrap();
        let back = CredentialIssuerMetadata::from_signed(
            &jwt,
            &key,
            &[Algorithm::Es256],
            "https://credential-issuer.example.com",
            &FixedClock(1_700_000_010),
        )
        .unwrap();
        assert_eq!(back, m);
        assert!(matches!(
            CredentialIssuerMetadata::from_signed(
                &jwt,
                &key,
                &[Algorithm::Es256],
                "https://other.example.com",
                &FixedClock(1_700_000_010),
            ),
            Err(MetadataError::SignedClaim("sub"))
        ));
    }

    #[test]
    fn well_known_urls_insert_the_suffix_before_the_path() {
        assert_eq!(
            well_known_url("https://issuer.example.com/tenant", ISSUER_WELL_KNOWN).unwrap(),
            "https://issuer.example.com/.well-known/openid-credential-issuer/tenant"
        );
        assert_eq!(
            well_known_url("https://tenant.issuer.example.com", ISSUER_WELL_KNOWN).unwrap(),
            "https://tenant.issuer.example.com/.well-known/openid-credential-issuer"
        );
        assert_eq!(
            well_known_url("http://127.0.0.1:8080/issuer/", AS_WELL_KNOWN).unwrap(),
            "http://127.0.0.1:8080/.well-known/oauth-authorization-server/issuer"
        );
        assert_eq!(
            well_known_path("http://127.0.0.1:8080/issuer", JWT_VC_ISSUER_WELL_KNOWN).unwrap(),
            "/.well-known/jwt-vc-issuer/issuer"
        );
        assert!(well_known_url("urn:x:y", ISSUER_WELL_KNOWN).is_err());
    }

    #[test]
    fn as_metadata_uses_the_hyphenated_anonymous_access_name() {
        let m = AuthorizationServerMetadata {
            issuer: "https://i.example".into(),
            token_endpoint: Some("https://i.example/token".into()),
            grant_types_supported: None,
            response_types_supported: None,
            pre_authorized_grant_anonymous_access_supported: Some(false),
            token_endpoint_auth_methods_supported: Some(vec!["attest_jwt_client_auth".into()]),
            client_attestation_signing_alg_values_supported: None,
            client_attestation_pop_signing_alg_values_supported: None,
            client_attestation_pop_methods_supported: None,
            challenge_endpoint: None,
            dpop_signing_alg_values_supported: None,
        };
        let text = m.to_value().to_string();
        assert!(text.contains(r#""pre-authorized_grant_anonymous_access_supported":false"#));
        assert_eq!(
            AuthorizationServerMetadata::from_json(text.as_bytes(), "https://i.example").unwrap(),
            m
        );
    }
}
