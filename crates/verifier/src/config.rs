//! The `[verifier]` configuration section: [`VerifierConfig`] deserializes straight into
//! typed values (durations, response modes, `enc` values, DCQL queries, claim paths,
//! secrets; unknown keys refused), with the defaults in its `Default`, and
//! [`VerifierConfig::validate`] checks what one value alone cannot say (ranges, policies
//! against the trusted issuers, contradictions between keys), naming the key at fault.
//! Files (certificates, keys, JWKS) are read when the role starts, not here, so
//! `config check` works on another machine.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use jose::jwe::Enc;
use oid4vp::dcql::{ClaimsPathPointer, DcqlQuery};
use oid4vp::{ClientIdPrefix, RequestUriMethod, ResponseMode};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
pub use service::config::Section;
use service::config::{ConfigError, with};

use crate::transaction::Flow;
use service::config::Secret;

/// `[verifier]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct VerifierConfig {
    /// Bearer token of the RP backend API: inline, `{ file = … }` or `{ env = … }`
    /// ([`keys::SecretSetting`]), read when the role starts; without one the API refuses
    /// every call.
    pub rp_token: Option<keys::SecretSetting>,
    /// Default client identifier prefix: `x509_san_dns`, `x509_hash` or `redirect_uri`;
    /// `None`: chosen from the base URL at start.
    #[serde(with = "prefix")]
    pub client_id_prefix: Option<ClientIdPrefix>,
    /// The DNS name of `x509_san_dns` client identifiers (default: host of the base URL).
    pub dns_name: Option<String>,
    /// Default response mode: `direct_post` or `direct_post.jwt`.
    pub response_mode: ResponseMode,
    /// Default `request_uri_method`: `get` or `post`.
    pub request_uri_method: RequestUriMethod,
    /// `enc` values offered for `direct_post.jwt` (duplicates dropped).
    #[serde(with = "with::non_empty")]
    pub enc_values: Vec<Enc>,
    /// How long a transaction waits for the wallet.
    #[serde(with = "with::positive_duration")]
    pub transaction_ttl: Duration,
    /// How long a finished transaction's result is kept for the RP.
    #[serde(with = "with::positive_duration")]
    pub result_ttl: Duration,
    /// Lifetime of the session token issued on success.
    #[serde(with = "with::positive_duration")]
    pub session_token_ttl: Duration,
    /// Default maximum age of a KB-JWT (`iat`), per policy overridable.
    #[serde(with = "with::positive_duration")]
    pub kb_max_age: Duration,
    /// Clock skew tolerated on every time check.
    #[serde(with = "with::duration")]
    pub clock_skew: Duration,
    /// PEM certificate chain (leaf first) of the request signing key.
    pub certificate: Option<PathBuf>,
    /// The request signing key: a private JWK file (development; `gen-cert` writes one).
    pub signing_key: Option<PathBuf>,
    /// The request signing key in a PKCS#11 token (`module`, `token_label`, `pin`,
    /// `key_label`); the certificate is then issued for that key.
    pub signing_key_pkcs11: Option<keys::pkcs11::Pkcs11Config>,
    /// The session token signing key: a private JWK file.
    pub session_key: Option<PathBuf>,
    /// Serve the demo RP page (default: on under `--mode=all` only).
    pub demo: Option<bool>,
    /// The policy used when a transaction names none.
    pub default_policy: Option<String>,
    /// SQL database URL for transactions (default: SQLite under `data_dir`).
    pub database_url: Option<Secret>,
    /// Key (base64url, 32 bytes) sealing the per-transaction response decryption keys in
    /// the database; replicas sharing a database must share it.
    pub key_encryption_key: Option<Secret>,
    /// `[verifier.cache]`: where response codes are kept until exchanged.
    pub cache: store::CacheSection,
    /// `[verifier.status_list]`.
    pub status_list: StatusListConfig,
    /// `[verifier.issuers.<name>]`: trusted issuers, referenced by policies.
    pub issuers: BTreeMap<String, IssuerConfig>,
    /// `[verifier.policies.<name>]`.
    pub policies: BTreeMap<String, PolicyConfig>,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        VerifierConfig {
            rp_token: None,
            client_id_prefix: None,
            dns_name: None,
            response_mode: ResponseMode::DirectPostJwt,
            request_uri_method: RequestUriMethod::Post,
            enc_values: vec![Enc::A128Gcm, Enc::A256Gcm],
            transaction_ttl: Duration::from_secs(5 * 60),
            result_ttl: Duration::from_secs(10 * 60),
            session_token_ttl: Duration::from_secs(5 * 60),
            kb_max_age: Duration::from_secs(5 * 60),
            clock_skew: Duration::from_secs(30),
            certificate: None,
            signing_key: None,
            signing_key_pkcs11: None,
            session_key: None,
            demo: None,
            default_policy: None,
            database_url: None,
            key_encryption_key: None,
            cache: store::CacheSection::default(),
            status_list: StatusListConfig::default(),
            issuers: BTreeMap::new(),
            policies: BTreeMap::new(),
        }
    }
}

/// `[verifier.status_list]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct StatusListConfig {
    /// Timeout of one status list fetch.
    #[serde(with = "with::positive_duration")]
    pub timeout: Duration,
    /// Largest status list token accepted, bytes (1 to 64 MiB).
    pub max_bytes: usize,
    /// Cache lifetime of a token without `ttl` or `exp`.
    #[serde(with = "with::positive_duration")]
    pub default_ttl: Duration,
    /// Upper bound of the cache lifetime, whatever the token says.
    #[serde(with = "with::positive_duration")]
    pub max_ttl: Duration,
    /// Allow `http://` status lists on loopback (tests, the one-machine demo); `None`: as
    /// the server allows http loopback identifiers.
    pub allow_loopback: Option<bool>,
}

impl Default for StatusListConfig {
    fn default() -> Self {
        StatusListConfig {
            timeout: Duration::from_secs(5),
            max_bytes: 1024 * 1024,
            default_ttl: Duration::from_secs(5 * 60),
            max_ttl: Duration::from_secs(3600),
            allow_loopback: None,
        }
    }
}

/// `[verifier.issuers.<name>]`: one trusted issuer and how to find its keys.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct IssuerConfig {
    /// The issuer identifier its credentials carry in `iss` (required for `metadata`).
    pub iss: Option<String>,
    /// Its keys, as a JWKS (JSON text or inline table).
    #[serde(deserialize_with = "json_or_text_opt")]
    pub jwks: Option<Value>,
    /// Its keys, as a JWKS file.
    pub jwks_file: Option<PathBuf>,
    /// Its keys, fetched from this JWKS URL (cached).
    pub jwks_uri: Option<String>,
    /// PEM trust anchors for `x5c` chains in its credentials.
    pub x509_anchors: Option<PathBuf>,
    /// Fetch its keys from JWT VC Issuer Metadata of `iss`.
    pub metadata: bool,
}

/// `[verifier.policies.<name>]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Shown to the holder and in the demo.
    #[serde(default)]
    pub description: Option<String>,
    /// The DCQL query (JSON text or inline table).
    #[serde(deserialize_with = "dcql_query")]
    pub dcql_query: DcqlQuery,
    /// Claims that must be disclosed for access (claim names or claims path arrays).
    #[serde(
        default,
        deserialize_with = "essential_claims",
        serialize_with = "show_pointers"
    )]
    pub essential_claims: Vec<ClaimsPathPointer>,
    /// Names of `[verifier.issuers.*]` entries trusted for this policy.
    #[serde(default)]
    pub trusted_issuers: Vec<String>,
    /// Maximum KB-JWT age; [`VerifierConfig::validate`] sets `verifier.kb_max_age` when
    /// left out.
    #[serde(default, with = "optional_positive_duration")]
    pub kb_max_age: Option<Duration>,
    /// Where the wallet sends the holder's browser on success (a `response_code` is
    /// appended as fragment).
    #[serde(default)]
    pub success_redirect: Option<String>,
    /// Refuse credentials that carry no status reference.
    #[serde(default)]
    pub require_status: bool,
    /// The flow of transactions that name none: `cross_device` (default) or `same_device`.
    #[serde(default)]
    pub flow: Flow,
}

impl PolicyConfig {
    /// The maximum KB-JWT age: the policy's own, else `default` (the section's).
    pub fn kb_max_age_or(&self, default: Duration) -> Duration {
        self.kb_max_age.unwrap_or(default)
    }
}

/// `client_id_prefix`: the prefixes a transaction may use, by name.
mod prefix {
    use oid4vp::ClientIdPrefix;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<ClientIdPrefix>, D::Error> {
        let Some(name) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        super::parse_prefix("client_id_prefix", &name)
            .map(Some)
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "{name:?} is out of range: must be x509_san_dns, x509_hash or redirect_uri"
                ))
            })
    }

    pub(super) fn serialize<S: Serializer>(
        v: &Option<ClientIdPrefix>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(p) => s.serialize_str(p.name()),
            None => s.serialize_none(),
        }
    }
}

/// An optional positive duration (a policy's override of a section default).
mod optional_positive_duration {
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        service::config::with::positive_duration::deserialize(d).map(Some)
    }

    pub(super) fn serialize<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => service::config::show::duration(d, s),
            None => s.serialize_none(),
        }
    }
}

/// A JSON value given either as a TOML table/array or as JSON text.
fn json_or_text(v: Value) -> Result<Value, String> {
    match v {
        Value::String(text) => jose::json::parse_value(text.as_bytes())
            .map_err(|_| "not valid JSON (write JSON text or an inline TOML table)".to_owned()),
        other => Ok(other),
    }
}

fn json_or_text_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    json_or_text(Value::deserialize(d)?)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn dcql_query<'de, D: Deserializer<'de>>(d: D) -> Result<DcqlQuery, D::Error> {
    let value = json_or_text(Value::deserialize(d)?).map_err(serde::de::Error::custom)?;
    DcqlQuery::from_value(&value).map_err(|e| {
        serde::de::Error::custom(format!("not a valid DCQL query (OpenID4VP 1.0 §6): {e}"))
    })
}

fn essential_claims<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ClaimsPathPointer>, D::Error> {
    Vec::<Value>::deserialize(d)?
        .iter()
        .map(|v| essential_pointer("essential_claims", v).map_err(serde::de::Error::custom))
        .collect()
}

fn show_pointers<S: Serializer>(v: &[ClaimsPathPointer], s: S) -> Result<S::Ok, S::Error> {
    let values: Vec<Value> = v.iter().map(ClaimsPathPointer::to_value).collect();
    values.serialize(s)
}

/// The prefixes a transaction may use.
pub fn parse_prefix(key: &str, value: &str) -> Result<ClientIdPrefix, ConfigError> {
    match ClientIdPrefix::from_name(value) {
        Some(
            p @ (ClientIdPrefix::X509SanDns
            | ClientIdPrefix::X509Hash
            | ClientIdPrefix::RedirectUri),
        ) => Ok(p),
        _ => Err(ConfigError::OutOfRange {
            key: key.into(),
            value: format!("{value:?}"),
            expected: "x509_san_dns, x509_hash or redirect_uri",
        }),
    }
}

/// A claims path pointer from a config value: a claim name, or a JSON path array.
pub fn essential_pointer(key: &str, v: &Value) -> Result<ClaimsPathPointer, ConfigError> {
    let bad = || ConfigError::OutOfRange {
        key: key.into(),
        value: v.to_string(),
        expected: "a claim name or a claims path array such as [\"address\", \"locality\"]",
    };
    match v {
        Value::String(name) if !name.is_empty() => {
            ClaimsPathPointer::keys([name.as_str()]).ok_or_else(bad)
        }
        Value::Array(_) => ClaimsPathPointer::from_value(v).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

fn non_empty(key: String, v: Option<&String>) -> Result<(), ConfigError> {
    match v {
        Some(s) if s.trim().is_empty() => Err(ConfigError::OutOfRange {
            key,
            value: "\"\"".into(),
            expected: "a non-empty value",
        }),
        _ => Ok(()),
    }
}

impl Section for VerifierConfig {
    /// Checks what the types alone do not (ranges, contradictions, every policy against
    /// the trusted issuers) and completes what defaults to another value (a policy's
    /// `kb_max_age`); drops duplicate `enc_values`. Errors name keys relative to the section.
    fn validate(&mut self) -> Result<(), ConfigError> {
        if let Some(dns) = &self.dns_name
            && oid4vp::ClientId::x509_san_dns(dns).is_err()
        {
            return Err(ConfigError::OutOfRange {
                key: "dns_name".into(),
                value: format!("{dns:?}"),
                expected: "a DNS name",
            });
        }
        let mut enc_values = Vec::with_capacity(self.enc_values.len());
        for enc in &self.enc_values {
            if !enc_values.contains(enc) {
                enc_values.push(*enc);
            }
        }
        self.enc_values = enc_values;
        self.status_list.validate()?;
        for (name, issuer) in &self.issuers {
            issuer.validate(name)?;
        }
        for (name, policy) in &mut self.policies {
            policy.validate(name, self.kb_max_age, &self.issuers)?;
        }
        if let Some(d) = &self.default_policy
            && !self.policies.contains_key(d)
        {
            return Err(ConfigError::OutOfRange {
                key: "default_policy".into(),
                value: format!("{d:?}"),
                expected: "the name of a [verifier.policies.*] entry",
            });
        }
        if self.signing_key_pkcs11.is_some() && self.signing_key.is_some() {
            return Err(ConfigError::Incompatible {
                first: "signing_key".into(),
                second: "signing_key_pkcs11".into(),
                reason: "the request signing key is either a key file or a PKCS#11 key",
            });
        }
        if let Some(kek) = &mut self.key_encryption_key {
            let trimmed = kek.expose().trim();
            if jose::b64::decode(trimmed).is_none_or(|b| b.len() != 32) {
                return Err(ConfigError::OutOfRange {
                    key: "key_encryption_key".into(),
                    value: "<redacted>".into(),
                    expected: "32 random bytes, base64url without padding",
                });
            }
            *kek = Secret::new(trimmed.to_owned());
        }
        self.cache_config()?;
        Ok(())
    }
}

impl VerifierConfig {
    /// The cache configuration for `store`.
    pub fn cache_config(&self) -> Result<store::CacheConfig, ConfigError> {
        self.cache.checked().map_err(|e| ConfigError::Invalid {
            key: format!("cache.{}", e.key()),
            message: e.to_string(),
        })
    }
}

impl StatusListConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=64 * 1024 * 1024).contains(&self.max_bytes) {
            return Err(ConfigError::OutOfRange {
                key: "status_list.max_bytes".into(),
                value: self.max_bytes.to_string(),
                expected: "between 1 and 67108864",
            });
        }
        if self.default_ttl > self.max_ttl {
            return Err(ConfigError::Incompatible {
                first: "status_list.default_ttl".into(),
                second: "status_list.max_ttl".into(),
                reason: "the default cache lifetime must not exceed the maximum",
            });
        }
        Ok(())
    }
}

impl IssuerConfig {
    fn validate(&self, name: &str) -> Result<(), ConfigError> {
        let at = |k: &str| format!("issuers.{name}.{k}");
        let sources = usize::from(self.jwks.is_some())
            + usize::from(self.jwks_file.is_some())
            + usize::from(self.jwks_uri.is_some())
            + usize::from(self.x509_anchors.is_some())
            + usize::from(self.metadata);
        if sources == 0 {
            return Err(ConfigError::Missing {
                key: at("jwks"),
                reason: "an issuer needs jwks, jwks_file, jwks_uri, x509_anchors or metadata = true",
            });
        }
        if self.metadata && self.iss.is_none() {
            return Err(ConfigError::Missing {
                key: at("iss"),
                reason: "JWT VC Issuer Metadata is fetched from the issuer identifier",
            });
        }
        // SD-JWT VC §3: the metadata is at `https://<host>/.well-known/jwt-vc-issuer…`
        // of `iss`. A loopback `http://` issuer is accepted here and checked at start
        // against `status_list.allow_loopback`, whose default depends on the mode.
        if let (true, Some(iss)) = (self.metadata, &self.iss)
            && sd_jwt::resolve::loopback_metadata_url(iss).is_err()
        {
            return Err(ConfigError::OutOfRange {
                key: at("iss"),
                value: format!("{iss:?}"),
                expected: "with `metadata = true`, an https URL without query, fragment or userinfo (http only to a loopback host, with `status_list.allow_loopback`)",
            });
        }
        non_empty(at("iss"), self.iss.as_ref())?;
        non_empty(at("jwks_uri"), self.jwks_uri.as_ref())
    }
}

impl PolicyConfig {
    /// Checks one policy, with keys relative to the section.
    pub fn validate(
        &mut self,
        name: &str,
        default_kb_age: Duration,
        issuers: &BTreeMap<String, IssuerConfig>,
    ) -> Result<(), ConfigError> {
        let at = |k: &str| format!("policies.{name}.{k}");
        if !oid4vp_id_like(name) {
            return Err(ConfigError::OutOfRange {
                key: format!("policies.{name}"),
                value: format!("{name:?}"),
                expected: "a policy name of letters, digits, `_` and `-`",
            });
        }
        for p in &self.essential_claims {
            // A claim the query does not ask for is never disclosed by a compliant wallet,
            // so the policy could never grant access.
            let requested = self
                .dcql_query
                .credentials()
                .iter()
                .any(|c| c.claims.iter().flatten().any(|q| q.path == *p));
            if !requested {
                return Err(ConfigError::Incompatible {
                    first: at("essential_claims"),
                    second: at("dcql_query"),
                    reason: "every essential claim must be requested by a claims query with the same path",
                });
            }
        }
        if self.trusted_issuers.is_empty() {
            return Err(ConfigError::Missing {
                key: at("trusted_issuers"),
                reason: "a policy must name the issuers it trusts",
            });
        }
        for issuer in &self.trusted_issuers {
            if !issuers.contains_key(issuer) {
                return Err(ConfigError::OutOfRange {
                    key: at("trusted_issuers"),
                    value: format!("{issuer:?}"),
                    expected: "the name of a [verifier.issuers.*] entry",
                });
            }
        }
        self.kb_max_age.get_or_insert(default_kb_age);
        if let Some(redirect) = &self.success_redirect {
            let ok = url::Url::parse(redirect)
                .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.fragment().is_none());
            if !ok {
                return Err(ConfigError::OutOfRange {
                    key: at("success_redirect"),
                    value: format!("{redirect:?}"),
                    expected: "an absolute http(s) URL without fragment",
                });
            }
        }
        // A same-device result is handed out only for the response code that the wallet's
        // redirect brings back to the browser (OpenID4VP §13.3); without a redirect the
        // code never reaches the RP and no transaction could ever deliver its claims.
        if self.flow == Flow::SameDevice && self.success_redirect.is_none() {
            return Err(ConfigError::Incompatible {
                first: at("flow"),
                second: at("success_redirect"),
                reason: "a same-device policy needs `success_redirect`: the result is handed out only for the response_code the wallet's redirect brings back to the browser",
            });
        }
        Ok(())
    }
}

fn oid4vp_id_like(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::classroom_query;
    use serde_json::json;

    /// Reads a section as `symbolon` does: typed values, then the section's checks.
    fn parse(section: Value) -> Result<VerifierConfig, ConfigError> {
        service::config::deserialize::<VerifierConfig>(section)?.validated()
    }

    #[test]
    fn issue10_response_codes_default_to_the_database() {
        let c = parse(json!({})).unwrap();
        assert!(matches!(
            c.cache_config().unwrap(),
            store::CacheConfig::Database
        ));
    }

    fn with_policy(policy: Value) -> Value {
        json!({
            "issuers": {"school": {"iss": "https://issuer.example", "metadata": true}},
            "policies": {"classroom": policy},
        })
    }

    fn classroom() -> Value {
        json!({
            "dcql_query": classroom_query(),
            "essential_claims": ["role", ["course"]],
            "trusted_issuers": ["school"],
        })
    }

    #[test]
    fn defaults_and_a_policy_convert() {
        let c = parse(with_policy(classroom())).unwrap();
        assert_eq!(c.response_mode, ResponseMode::DirectPostJwt);
        assert_eq!(c.request_uri_method, RequestUriMethod::Post);
        assert_eq!(c.enc_values, vec![Enc::A128Gcm, Enc::A256Gcm]);
        let p = &c.policies["classroom"];
        assert_eq!(p.essential_claims.len(), 2);
        assert_eq!(p.kb_max_age, Some(Duration::from_secs(300)));
    }

    #[test]
    fn dcql_query_may_be_json_text() {
        let mut p = classroom();
        p["dcql_query"] = Value::String(classroom_query().to_string());
        assert!(parse(with_policy(p)).is_ok());
    }

    #[test]
    fn rejects_an_essential_claim_the_query_does_not_request() {
        let mut p = classroom();
        p["essential_claims"] = json!(["role", ["course"], "birthdate"]);
        let e = parse(with_policy(p)).unwrap_err();
        assert!(matches!(e, ConfigError::Incompatible { .. }), "{e}");
    }

    #[test]
    fn rejects_an_unknown_trusted_issuer_and_a_policy_without_issuers() {
        let mut p = classroom();
        p["trusted_issuers"] = json!(["nobody"]);
        assert!(parse(with_policy(p)).is_err());
        let mut p = classroom();
        p["trusted_issuers"] = json!([]);
        assert!(matches!(
            parse(with_policy(p)),
            Err(ConfigError::Missing { .. })
        ));
    }

    #[test]
    fn rejects_invalid_dcql_and_bad_values() {
        let mut p = classroom();
        p["dcql_query"] = json!({"credentials": []});
        assert!(parse(with_policy(p)).is_err());
        for (key, value) in [
            ("client_id_prefix", json!("did")),
            ("enc_values", json!(["A128CBC-HS256"])),
            ("default_policy", json!("nope")),
        ] {
            let mut section = with_policy(classroom());
            section[key] = value;
            assert_eq!(parse(section).unwrap_err().key(), key);
        }
        let mut section = with_policy(classroom());
        section["issuers"]["empty"] = json!({});
        assert!(matches!(parse(section), Err(ConfigError::Missing { .. })));
    }

    #[test]
    fn issue10_rejects_a_same_device_policy_without_success_redirect() {
        let mut p = classroom();
        p["flow"] = json!("same_device");
        let e = parse(with_policy(p.clone())).unwrap_err();
        let ConfigError::Incompatible { first, second, .. } = &e else {
            panic!("{e}");
        };
        assert_eq!(
            (first.as_str(), second.as_str()),
            (
                "policies.classroom.flow",
                "policies.classroom.success_redirect"
            )
        );
        p["success_redirect"] = json!("https://rp.example/done");
        let c = parse(with_policy(p)).unwrap();
        assert_eq!(c.policies["classroom"].flow, Flow::SameDevice);
        // The default stays cross-device, which needs no redirect.
        let c = parse(with_policy(classroom())).unwrap();
        assert_eq!(c.policies["classroom"].flow, Flow::CrossDevice);
        let mut p = classroom();
        p["flow"] = json!("same-device");
        let e = parse(with_policy(p)).unwrap_err();
        assert_eq!(e.key(), "policies.classroom.flow");
    }

    #[test]
    fn issue10_rejects_metadata_from_an_iss_that_cannot_serve_it() {
        for iss in [
            "http://issuer.example",
            "http://10.0.0.1:8080",
            "https://issuer.example/?tenant=1",
            "issuer.example",
        ] {
            let mut section = with_policy(classroom());
            section["issuers"]["school"]["iss"] = json!(iss);
            let e = parse(section).unwrap_err();
            assert_eq!(e.key(), "issuers.school.iss", "{iss}");
        }
        // A loopback http issuer parses; whether it may be used depends on the mode
        // (checked at start, see `trust::check_metadata_issuers`).
        let mut section = with_policy(classroom());
        section["issuers"]["school"]["iss"] = json!("http://127.0.0.1:8080/issuer");
        let c = parse(section).unwrap();
        assert!(crate::trust::check_metadata_issuers(&c.issuers, true).is_ok());
        let e = crate::trust::check_metadata_issuers(&c.issuers, false).unwrap_err();
        assert!(e.to_string().contains("allow_loopback"), "{e}");
    }

    #[test]
    fn issue11_rp_token_takes_inline_file_and_env() {
        use keys::{ExposeSecret, SecretSetting, SecretSource};
        let mut section = with_policy(classroom());
        section["rp_token"] = json!("inline-rp");
        let c = parse(section).unwrap();
        let token = c.rp_token.as_ref().unwrap();
        assert_eq!(token.load().unwrap().expose_secret(), "inline-rp");
        let mut section = with_policy(classroom());
        section["rp_token"] = json!({"file": "/run/secrets/rp"});
        let c = parse(section).unwrap();
        assert_eq!(
            c.rp_token,
            Some(SecretSetting::Source(SecretSource::File(
                "/run/secrets/rp".into()
            )))
        );
        let mut section = with_policy(classroom());
        section["rp_token"] = json!({"env": "VERIFIER_RP"});
        let c = parse(section).unwrap();
        assert_eq!(
            c.rp_token,
            Some(SecretSetting::Source(SecretSource::Env(
                "VERIFIER_RP".into()
            )))
        );
        let shown = serde_json::to_string(&c).unwrap();
        assert!(
            shown.contains(r#""rp_token":{"env":"VERIFIER_RP"}"#),
            "{shown}"
        );
    }

    #[test]
    fn issue11_rejects_a_blank_or_malformed_rp_token() {
        for bad in [
            json!(""),
            json!(" "),
            json!(7),
            json!({"path": "/run/t"}),
            json!({"file": "a", "env": "B"}),
        ] {
            let mut section = with_policy(classroom());
            section["rp_token"] = bad.clone();
            let e = parse(section).unwrap_err();
            assert!(e.key().starts_with("rp_token"), "{bad}: {e}");
        }
    }

    #[test]
    fn rp_token_is_redacted_when_shown() {
        let mut section = with_policy(classroom());
        section["rp_token"] = json!("s3cret");
        let c = parse(section).unwrap();
        let text = serde_json::to_string(&c).unwrap();
        assert!(!text.contains("s3cret") && text.contains("<redacted>"));
    }
}
