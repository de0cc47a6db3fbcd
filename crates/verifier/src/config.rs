//! The `[verifier]` configuration section: the raw serde form (strings and numbers,
//! unknown keys refused) and the typed form it converts to with `TryFrom`, which parses
//! every value once — durations, algorithms, DCQL queries, claim paths — and refuses
//! contradictions naming both keys. Files (certificates, keys, JWKS) are read when the
//! role starts, not here, so `config check` works on another machine.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use jose::jwe::Enc;
use oid4vp::dcql::{ClaimsPathPointer, DcqlQuery};
use oid4vp::{ClientIdPrefix, RequestUriMethod, ResponseMode};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use service::config::{ConfigError, duration, positive_duration, show};

use crate::secret::Secret;
use crate::transaction::Flow;

/// The vct of the demo "IMMERSE classroom pass" the issuer serves under `--mode=all`.
pub const CLASSROOM_PASS_VCT: &str = "urn:symbolon:immerse:classroom-pass:1";
/// The name of the demo policy.
pub const CLASSROOM_POLICY: &str = "immersive-classroom";

/// `[verifier]` as written.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RawVerifierConfig {
    /// Bearer token of the RP backend API; without one the API refuses every call.
    pub rp_token: Option<String>,
    /// Default client identifier prefix: `x509_san_dns`, `x509_hash` or `redirect_uri`.
    pub client_id_prefix: Option<String>,
    /// The DNS name of `x509_san_dns` client identifiers (default: host of the base URL).
    pub dns_name: Option<String>,
    /// Default response mode: `direct_post` or `direct_post.jwt`.
    pub response_mode: String,
    /// Default `request_uri_method`: `get` or `post`.
    pub request_uri_method: String,
    /// `enc` values offered for `direct_post.jwt`.
    pub enc_values: Vec<String>,
    /// How long a transaction waits for the wallet.
    pub transaction_ttl: String,
    /// How long a finished transaction's result is kept for the RP.
    pub result_ttl: String,
    /// Lifetime of the session token issued on success.
    pub session_token_ttl: String,
    /// Default maximum age of a KB-JWT (`iat`), per policy overridable.
    pub kb_max_age: String,
    /// Clock skew tolerated on every time check.
    pub clock_skew: String,
    /// PEM certificate chain (leaf first) of the request signing key.
    pub certificate: Option<String>,
    /// The request signing key: a private JWK file (development; `gen-cert` writes one).
    pub signing_key: Option<String>,
    /// The request signing key in a PKCS#11 token (`module`, `token_label`, `pin`,
    /// `key_label`); the certificate is then issued for that key.
    pub signing_key_pkcs11: Option<keys::pkcs11::RawPkcs11Config>,
    /// The session token signing key: a private JWK file.
    pub session_key: Option<String>,
    /// Serve the demo RP page (default: on under `--mode=all` only).
    pub demo: Option<bool>,
    /// The policy used when a transaction names none.
    pub default_policy: Option<String>,
    /// SQL database URL for transactions (default: SQLite under `data_dir`).
    pub database_url: Option<String>,
    /// Key (base64url, 32 bytes) sealing the per-transaction response decryption keys in
    /// the database; replicas sharing a database must share it (default: random per
    /// process).
    pub key_encryption_key: Option<String>,
    /// `[verifier.cache]`: where response codes are kept until exchanged.
    pub cache: RawCache,
    /// `[verifier.status_list]`.
    pub status_list: RawStatusListConfig,
    /// `[verifier.issuers.<name>]`: trusted issuers, referenced by policies.
    pub issuers: BTreeMap<String, RawIssuerConfig>,
    /// `[verifier.policies.<name>]`.
    pub policies: BTreeMap<String, RawPolicyConfig>,
}

impl Default for RawVerifierConfig {
    fn default() -> Self {
        RawVerifierConfig {
            rp_token: None,
            client_id_prefix: None,
            dns_name: None,
            response_mode: "direct_post.jwt".into(),
            request_uri_method: "post".into(),
            enc_values: vec!["A128GCM".into(), "A256GCM".into()],
            transaction_ttl: "5m".into(),
            result_ttl: "10m".into(),
            session_token_ttl: "5m".into(),
            kb_max_age: "5m".into(),
            clock_skew: "30s".into(),
            certificate: None,
            signing_key: None,
            signing_key_pkcs11: None,
            session_key: None,
            demo: None,
            default_policy: None,
            database_url: None,
            key_encryption_key: None,
            cache: RawCache::default(),
            status_list: RawStatusListConfig::default(),
            issuers: BTreeMap::new(),
            policies: BTreeMap::new(),
        }
    }
}

/// `[verifier.cache]` as written (see `store::RawCacheConfig`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RawCache {
    /// `database` (default), `redis` (default with `redis_url`) or `memory`.
    pub backend: Option<String>,
    /// Redis URL (secret: may hold a password).
    pub redis_url: Option<String>,
    /// Redis key prefix.
    pub redis_prefix: Option<String>,
    /// In-process cap on entries.
    pub max_entries: Option<usize>,
    /// In-process cap on bytes.
    pub max_bytes: Option<usize>,
}

/// `[verifier.status_list]` as written.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RawStatusListConfig {
    /// Timeout of one status list fetch.
    pub timeout: String,
    /// Largest status list token accepted, bytes.
    pub max_bytes: u64,
    /// Cache lifetime of a token without `ttl` or `exp`.
    pub default_ttl: String,
    /// Upper bound of the cache lifetime, whatever the token says.
    pub max_ttl: String,
    /// Allow `http://` status lists on loopback (tests, the one-machine demo).
    pub allow_loopback: Option<bool>,
}

impl Default for RawStatusListConfig {
    fn default() -> Self {
        RawStatusListConfig {
            timeout: "5s".into(),
            max_bytes: 1024 * 1024,
            default_ttl: "5m".into(),
            max_ttl: "1h".into(),
            allow_loopback: None,
        }
    }
}

/// `[verifier.issuers.<name>]` as written: one trusted issuer and how to find its keys.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RawIssuerConfig {
    /// The issuer identifier its credentials carry in `iss` (required for `metadata`).
    pub iss: Option<String>,
    /// Its keys, as a JWKS (JSON text or inline table).
    pub jwks: Option<Value>,
    /// Its keys, as a JWKS file.
    pub jwks_file: Option<String>,
    /// Its keys, fetched from this JWKS URL (cached).
    pub jwks_uri: Option<String>,
    /// PEM trust anchors for `x5c` chains in its credentials.
    pub x509_anchors: Option<String>,
    /// Fetch its keys from JWT VC Issuer Metadata of `iss`.
    pub metadata: bool,
}

/// `[verifier.policies.<name>]` as written.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RawPolicyConfig {
    /// Shown to the holder and in the demo.
    pub description: Option<String>,
    /// The DCQL query (JSON text or inline table).
    pub dcql_query: Option<Value>,
    /// Claims that must be disclosed for access (claim names or claims path arrays).
    pub essential_claims: Vec<Value>,
    /// Names of `[verifier.issuers.*]` entries trusted for this policy.
    pub trusted_issuers: Vec<String>,
    /// Maximum KB-JWT age (default: `verifier.kb_max_age`).
    pub kb_max_age: Option<String>,
    /// Where the wallet sends the holder's browser on success (a `response_code` is
    /// appended as fragment).
    pub success_redirect: Option<String>,
    /// Refuse credentials that carry no status reference.
    pub require_status: bool,
    /// The flow of transactions that name none: `cross_device` (default) or `same_device`.
    pub flow: Option<String>,
}

/// The typed `[verifier]` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifierConfig {
    /// RP API bearer token.
    #[serde(serialize_with = "show_secret")]
    pub rp_token: Option<Secret>,
    /// Default prefix; `None`: chosen from the base URL at start.
    #[serde(serialize_with = "show_prefix")]
    pub client_id_prefix: Option<ClientIdPrefix>,
    /// `x509_san_dns` name override.
    pub dns_name: Option<String>,
    /// Default response mode.
    #[serde(serialize_with = "show_mode")]
    pub response_mode: ResponseMode,
    /// Default request URI method.
    #[serde(serialize_with = "show_method")]
    pub request_uri_method: RequestUriMethod,
    /// Offered `enc` values.
    pub enc_values: Vec<Enc>,
    /// Transaction lifetime.
    #[serde(serialize_with = "show::duration")]
    pub transaction_ttl: Duration,
    /// Result retention.
    #[serde(serialize_with = "show::duration")]
    pub result_ttl: Duration,
    /// Session token lifetime.
    #[serde(serialize_with = "show::duration")]
    pub session_token_ttl: Duration,
    /// Default KB-JWT maximum age.
    #[serde(serialize_with = "show::duration")]
    pub kb_max_age: Duration,
    /// Clock skew.
    #[serde(serialize_with = "show::duration")]
    pub clock_skew: Duration,
    /// Certificate chain file.
    pub certificate: Option<PathBuf>,
    /// Request signing key file.
    pub signing_key: Option<PathBuf>,
    /// Request signing key in a PKCS#11 token.
    #[serde(serialize_with = "show_pkcs11")]
    pub signing_key_pkcs11: Option<keys::pkcs11::Pkcs11Config>,
    /// Session key file.
    pub session_key: Option<PathBuf>,
    /// Demo page switch; `None`: on under `--mode=all`.
    pub demo: Option<bool>,
    /// Default policy.
    pub default_policy: Option<String>,
    /// Database URL.
    #[serde(serialize_with = "show_url")]
    pub database_url: Option<Secret>,
    /// Sealing key (32 bytes, base64url).
    #[serde(serialize_with = "show_secret")]
    pub key_encryption_key: Option<Secret>,
    /// The cache backend for response codes.
    pub cache: CacheSection,
    /// Status list retrieval.
    pub status_list: StatusListConfig,
    /// Trusted issuers by name.
    pub issuers: BTreeMap<String, IssuerConfig>,
    /// Policies by name.
    pub policies: BTreeMap<String, PolicyConfig>,
}

/// Typed `[verifier.cache]`: checked once, converted with [`CacheSection::to_store`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CacheSection {
    /// `memory`, `redis` or `database`, when given.
    pub backend: Option<String>,
    /// Redis URL.
    #[serde(serialize_with = "show_secret")]
    pub redis_url: Option<Secret>,
    /// Redis key prefix.
    pub redis_prefix: Option<String>,
    /// In-process cap on entries.
    pub max_entries: Option<usize>,
    /// In-process cap on bytes.
    pub max_bytes: Option<usize>,
}

impl CacheSection {
    /// The `store` cache configuration.
    pub fn to_store(&self) -> Result<store::CacheConfig, ConfigError> {
        let backend = match self.backend.as_deref() {
            None => None,
            Some("memory") => Some(store::CacheKind::Memory),
            Some("redis") => Some(store::CacheKind::Redis),
            Some("database") => Some(store::CacheKind::Database),
            Some(other) => {
                return Err(ConfigError::OutOfRange {
                    key: "cache.backend".into(),
                    value: format!("{other:?}"),
                    expected: "memory, redis or database",
                });
            }
        };
        let raw = store::RawCacheConfig {
            backend,
            redis_url: self
                .redis_url
                .as_ref()
                .map(|s| service::config::SecretString::from(s.expose().to_owned())),
            redis_prefix: self.redis_prefix.clone(),
            max_entries: self.max_entries,
            max_bytes: self.max_bytes,
            max_rate_keys: None,
        };
        store::CacheConfig::try_from(raw).map_err(|e| ConfigError::Incompatible {
            first: "cache.backend".into(),
            second: "cache.redis_url".into(),
            reason: match e {
                store::CacheConfigError::RedisUrlMissing => "backend `redis` needs `redis_url`",
                store::CacheConfigError::ZeroCap(_) => "memory caps must be positive",
                _ => "Redis options need backend `redis`, memory caps backend `memory`",
            },
        })
    }
}

/// Typed `[verifier.status_list]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusListConfig {
    /// Fetch timeout.
    #[serde(serialize_with = "show::duration")]
    pub timeout: Duration,
    /// Body cap.
    pub max_bytes: usize,
    /// Cache lifetime without `ttl`/`exp`.
    #[serde(serialize_with = "show::duration")]
    pub default_ttl: Duration,
    /// Cache lifetime bound.
    #[serde(serialize_with = "show::duration")]
    pub max_ttl: Duration,
    /// Loopback allowed; `None`: as the server allows http loopback identifiers.
    pub allow_loopback: Option<bool>,
}

/// Typed `[verifier.issuers.<name>]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IssuerConfig {
    /// Expected `iss`.
    pub iss: Option<String>,
    /// Inline JWKS.
    pub jwks: Option<Value>,
    /// JWKS file.
    pub jwks_file: Option<PathBuf>,
    /// JWKS URL.
    pub jwks_uri: Option<String>,
    /// Trust anchor file.
    pub x509_anchors: Option<PathBuf>,
    /// JWT VC Issuer Metadata.
    pub metadata: bool,
}

/// Typed `[verifier.policies.<name>]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyConfig {
    /// Description.
    pub description: Option<String>,
    /// The query.
    pub dcql_query: DcqlQuery,
    /// Essential claims.
    #[serde(serialize_with = "show_pointers")]
    pub essential_claims: Vec<ClaimsPathPointer>,
    /// Trusted issuers.
    pub trusted_issuers: Vec<String>,
    /// KB-JWT maximum age.
    #[serde(serialize_with = "show::duration")]
    pub kb_max_age: Duration,
    /// Success redirect.
    pub success_redirect: Option<String>,
    /// Status reference required.
    pub require_status: bool,
    /// Flow of transactions that name none.
    #[serde(serialize_with = "show_flow")]
    pub flow: Flow,
}

fn show_flow<S: Serializer>(v: &Flow, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.name())
}

fn show_secret<S: Serializer>(v: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(secret) => show::redacted(secret, s),
        None => s.serialize_none(),
    }
}

fn show_pkcs11<S: Serializer>(
    v: &Option<keys::pkcs11::Pkcs11Config>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(c) => serde_json::json!({
            "module": c.module.display().to_string(),
            "token_label": c.token_label,
            "key_label": c.key_label,
            "pin": c.pin.to_string(),
        })
        .serialize(s),
        None => s.serialize_none(),
    }
}

fn show_url<S: Serializer>(v: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    // A database URL may carry a password.
    show_secret(v, s)
}

fn show_prefix<S: Serializer>(v: &Option<ClientIdPrefix>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(p) => s.serialize_str(p.name()),
        None => s.serialize_none(),
    }
}

fn show_mode<S: Serializer>(v: &ResponseMode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.name())
}

fn show_method<S: Serializer>(v: &RequestUriMethod, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.name())
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

fn parse_mode(key: &str, value: &str) -> Result<ResponseMode, ConfigError> {
    ResponseMode::from_name(value).ok_or_else(|| ConfigError::OutOfRange {
        key: key.into(),
        value: format!("{value:?}"),
        expected: "direct_post or direct_post.jwt",
    })
}

fn parse_method(key: &str, value: &str) -> Result<RequestUriMethod, ConfigError> {
    RequestUriMethod::from_name(value).ok_or_else(|| ConfigError::OutOfRange {
        key: key.into(),
        value: format!("{value:?}"),
        expected: "get or post",
    })
}

/// A JSON value given either as a TOML table/array or as JSON text.
fn json_or_text(key: &str, v: &Value) -> Result<Value, ConfigError> {
    match v {
        Value::String(text) => {
            jose::json::parse_value(text.as_bytes()).map_err(|_| ConfigError::OutOfRange {
                key: key.into(),
                value: "(text)".into(),
                expected: "valid JSON (or an inline TOML table)",
            })
        }
        other => Ok(other.clone()),
    }
}

fn non_empty(key: &str, v: Option<String>) -> Result<Option<String>, ConfigError> {
    match v {
        Some(s) if s.trim().is_empty() => Err(ConfigError::OutOfRange {
            key: key.into(),
            value: "\"\"".into(),
            expected: "a non-empty value",
        }),
        other => Ok(other),
    }
}

impl TryFrom<RawVerifierConfig> for VerifierConfig {
    type Error = ConfigError;

    fn try_from(raw: RawVerifierConfig) -> Result<Self, ConfigError> {
        let client_id_prefix = raw
            .client_id_prefix
            .as_deref()
            .map(|p| parse_prefix("client_id_prefix", p))
            .transpose()?;
        if let Some(dns) = &raw.dns_name
            && oid4vp::ClientId::x509_san_dns(dns).is_err()
        {
            return Err(ConfigError::OutOfRange {
                key: "dns_name".into(),
                value: format!("{dns:?}"),
                expected: "a DNS name",
            });
        }
        let mut enc_values = Vec::new();
        for (i, name) in raw.enc_values.iter().enumerate() {
            let enc = Enc::from_name(name).ok_or_else(|| ConfigError::OutOfRange {
                key: format!("enc_values[{i}]"),
                value: format!("{name:?}"),
                expected: "A128GCM or A256GCM",
            })?;
            if !enc_values.contains(&enc) {
                enc_values.push(enc);
            }
        }
        if enc_values.is_empty() {
            return Err(ConfigError::OutOfRange {
                key: "enc_values".into(),
                value: "[]".into(),
                expected: "at least one of A128GCM, A256GCM",
            });
        }
        let kb_max_age = positive_duration("kb_max_age", &raw.kb_max_age)?;
        let clock_skew = duration("clock_skew", &raw.clock_skew)?;
        let transaction_ttl = positive_duration("transaction_ttl", &raw.transaction_ttl)?;
        let result_ttl = positive_duration("result_ttl", &raw.result_ttl)?;
        let session_token_ttl = positive_duration("session_token_ttl", &raw.session_token_ttl)?;

        let status_list = StatusListConfig {
            timeout: positive_duration("status_list.timeout", &raw.status_list.timeout)?,
            max_bytes: usize::try_from(raw.status_list.max_bytes)
                .ok()
                .filter(|n| (1..=64 * 1024 * 1024).contains(n))
                .ok_or_else(|| ConfigError::OutOfRange {
                    key: "status_list.max_bytes".into(),
                    value: raw.status_list.max_bytes.to_string(),
                    expected: "between 1 and 67108864",
                })?,
            default_ttl: positive_duration(
                "status_list.default_ttl",
                &raw.status_list.default_ttl,
            )?,
            max_ttl: positive_duration("status_list.max_ttl", &raw.status_list.max_ttl)?,
            allow_loopback: raw.status_list.allow_loopback,
        };
        if status_list.default_ttl > status_list.max_ttl {
            return Err(ConfigError::Incompatible {
                first: "status_list.default_ttl".into(),
                second: "status_list.max_ttl".into(),
                reason: "the default cache lifetime must not exceed the maximum",
            });
        }

        let mut issuers = BTreeMap::new();
        for (name, r) in raw.issuers {
            let at = |k: &str| format!("issuers.{name}.{k}");
            let jwks = r
                .jwks
                .as_ref()
                .map(|v| json_or_text(&at("jwks"), v))
                .transpose()?;
            let sources = usize::from(jwks.is_some())
                + usize::from(r.jwks_file.is_some())
                + usize::from(r.jwks_uri.is_some())
                + usize::from(r.x509_anchors.is_some())
                + usize::from(r.metadata);
            if sources == 0 {
                return Err(ConfigError::Missing {
                    key: at("jwks"),
                    reason: "an issuer needs jwks, jwks_file, jwks_uri, x509_anchors or metadata = true",
                });
            }
            if r.metadata && r.iss.is_none() {
                return Err(ConfigError::Missing {
                    key: at("iss"),
                    reason: "JWT VC Issuer Metadata is fetched from the issuer identifier",
                });
            }
            // SD-JWT VC §3: the metadata is at `https://<host>/.well-known/jwt-vc-issuer…`
            // of `iss`. A loopback `http://` issuer is accepted here and checked at start
            // against `status_list.allow_loopback`, whose default depends on the mode.
            if let (true, Some(iss)) = (r.metadata, &r.iss)
                && sd_jwt::resolve::loopback_metadata_url(iss).is_err()
            {
                return Err(ConfigError::OutOfRange {
                    key: at("iss"),
                    value: format!("{iss:?}"),
                    expected: "with `metadata = true`, an https URL without query, fragment or userinfo (http only to a loopback host, with `status_list.allow_loopback`)",
                });
            }
            issuers.insert(
                name.clone(),
                IssuerConfig {
                    iss: non_empty(&at("iss"), r.iss)?,
                    jwks,
                    jwks_file: r.jwks_file.map(PathBuf::from),
                    jwks_uri: non_empty(&at("jwks_uri"), r.jwks_uri)?,
                    x509_anchors: r.x509_anchors.map(PathBuf::from),
                    metadata: r.metadata,
                },
            );
        }

        let mut policies = BTreeMap::new();
        for (name, r) in raw.policies {
            let policy = parse_policy(&name, r, kb_max_age, &issuers)?;
            policies.insert(name, policy);
        }
        if let Some(d) = &raw.default_policy
            && !policies.contains_key(d)
        {
            return Err(ConfigError::OutOfRange {
                key: "default_policy".into(),
                value: format!("{d:?}"),
                expected: "the name of a [verifier.policies.*] entry",
            });
        }

        let signing_key_pkcs11 = match raw.signing_key_pkcs11 {
            None => None,
            Some(_) if raw.signing_key.is_some() => {
                return Err(ConfigError::Incompatible {
                    first: "signing_key".into(),
                    second: "signing_key_pkcs11".into(),
                    reason: "the request signing key is either a key file or a PKCS#11 key",
                });
            }
            Some(p) => Some(keys::pkcs11::Pkcs11Config::try_from(p).map_err(|e| {
                ConfigError::OutOfRange {
                    key: "signing_key_pkcs11".into(),
                    value: e.to_string(),
                    expected: "module, pin ({ file } or { env }), token_label, key_label",
                }
            })?),
        };
        let cache = CacheSection {
            backend: raw.cache.backend,
            redis_url: non_empty("cache.redis_url", raw.cache.redis_url)?.map(Secret::new),
            redis_prefix: raw.cache.redis_prefix,
            max_entries: raw.cache.max_entries,
            max_bytes: raw.cache.max_bytes,
        };
        cache.to_store()?;
        Ok(VerifierConfig {
            rp_token: non_empty("rp_token", raw.rp_token)?.map(Secret::new),
            client_id_prefix,
            dns_name: raw.dns_name,
            response_mode: parse_mode("response_mode", &raw.response_mode)?,
            request_uri_method: parse_method("request_uri_method", &raw.request_uri_method)?,
            enc_values,
            transaction_ttl,
            result_ttl,
            session_token_ttl,
            kb_max_age,
            clock_skew,
            certificate: raw.certificate.map(PathBuf::from),
            signing_key: raw.signing_key.map(PathBuf::from),
            signing_key_pkcs11,
            session_key: raw.session_key.map(PathBuf::from),
            demo: raw.demo,
            default_policy: raw.default_policy,
            database_url: non_empty("database_url", raw.database_url)?.map(Secret::new),
            key_encryption_key: match raw.key_encryption_key {
                None => None,
                Some(k) if jose::b64::decode(k.trim()).is_some_and(|b| b.len() == 32) => {
                    Some(Secret::new(k.trim().to_owned()))
                }
                Some(_) => {
                    return Err(ConfigError::OutOfRange {
                        key: "key_encryption_key".into(),
                        value: "<redacted>".into(),
                        expected: "32 random bytes, base64url without padding",
                    });
                }
            },
            cache,
            status_list,
            issuers,
            policies,
        })
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

fn parse_policy(
    name: &str,
    r: RawPolicyConfig,
    default_kb_age: Duration,
    issuers: &BTreeMap<String, IssuerConfig>,
) -> Result<PolicyConfig, ConfigError> {
    let at = |k: &str| format!("policies.{name}.{k}");
    if !oid4vp_id_like(name) {
        return Err(ConfigError::OutOfRange {
            key: format!("policies.{name}"),
            value: format!("{name:?}"),
            expected: "a policy name of letters, digits, `_` and `-`",
        });
    }
    let raw_query = r.dcql_query.as_ref().ok_or_else(|| ConfigError::Missing {
        key: at("dcql_query"),
        reason: "a policy needs the DCQL query it sends",
    })?;
    let query_value = json_or_text(&at("dcql_query"), raw_query)?;
    let dcql_query = DcqlQuery::from_value(&query_value).map_err(|e| ConfigError::OutOfRange {
        key: at("dcql_query"),
        value: e.to_string(),
        expected: "a valid DCQL query (OpenID4VP 1.0 §6)",
    })?;
    let mut essential_claims = Vec::with_capacity(r.essential_claims.len());
    for (i, v) in r.essential_claims.iter().enumerate() {
        let p = essential_pointer(&format!("{}[{i}]", at("essential_claims")), v)?;
        // A claim the query does not ask for is never disclosed by a compliant wallet, so
        // the policy could never grant access.
        let requested = dcql_query
            .credentials()
            .iter()
            .any(|c| c.claims.iter().flatten().any(|q| q.path == p));
        if !requested {
            return Err(ConfigError::Incompatible {
                first: at("essential_claims"),
                second: at("dcql_query"),
                reason: "every essential claim must be requested by a claims query with the same path",
            });
        }
        essential_claims.push(p);
    }
    if r.trusted_issuers.is_empty() {
        return Err(ConfigError::Missing {
            key: at("trusted_issuers"),
            reason: "a policy must name the issuers it trusts",
        });
    }
    for (i, issuer) in r.trusted_issuers.iter().enumerate() {
        if !issuers.contains_key(issuer) {
            return Err(ConfigError::OutOfRange {
                key: format!("{}[{i}]", at("trusted_issuers")),
                value: format!("{issuer:?}"),
                expected: "the name of a [verifier.issuers.*] entry",
            });
        }
    }
    let kb_max_age = match &r.kb_max_age {
        Some(v) => positive_duration(&at("kb_max_age"), v)?,
        None => default_kb_age,
    };
    if let Some(redirect) = &r.success_redirect {
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
    let flow = match r.flow.as_deref() {
        None => Flow::CrossDevice,
        Some(f) => Flow::from_name(f).ok_or_else(|| ConfigError::OutOfRange {
            key: at("flow"),
            value: format!("{f:?}"),
            expected: "`cross_device` or `same_device`",
        })?,
    };
    // A same-device result is handed out only for the response code that the wallet's
    // redirect brings back to the browser (OpenID4VP §13.3); without a redirect the
    // code never reaches the RP and no transaction could ever deliver its claims.
    if flow == Flow::SameDevice && r.success_redirect.is_none() {
        return Err(ConfigError::Incompatible {
            first: at("flow"),
            second: at("success_redirect"),
            reason: "a same-device policy needs `success_redirect`: the result is handed out only for the response_code the wallet's redirect brings back to the browser",
        });
    }
    Ok(PolicyConfig {
        description: r.description,
        dcql_query,
        essential_claims,
        trusted_issuers: r.trusted_issuers,
        kb_max_age,
        success_redirect: r.success_redirect,
        require_status: r.require_status,
        flow,
    })
}

fn oid4vp_id_like(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The DCQL query of the demo policy: the classroom pass with `role` and `course`.
pub fn classroom_query() -> Value {
    serde_json::json!({
        "credentials": [{
            "id": "classroom_pass",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": [CLASSROOM_PASS_VCT]},
            "claims": [
                {"path": ["role"]},
                {"path": ["course"]}
            ]
        }]
    })
}

/// Adds the demo policy ([`CLASSROOM_POLICY`]) trusting `issuer` (inserted as a trusted
/// issuer entry under `issuer_name`), unless a policy of that name is configured.
pub fn add_classroom_policy(
    config: &mut VerifierConfig,
    issuer_name: &str,
    issuer: IssuerConfig,
    success_redirect: Option<String>,
) -> Result<(), ConfigError> {
    if config.policies.contains_key(CLASSROOM_POLICY) {
        return Ok(());
    }
    config
        .issuers
        .entry(issuer_name.to_owned())
        .or_insert(issuer);
    let raw = RawPolicyConfig {
        description: Some(
            "IMMERSE immersive classroom: role and course from the classroom pass".into(),
        ),
        dcql_query: Some(classroom_query()),
        essential_claims: vec![Value::from("role"), Value::from("course")],
        trusted_issuers: vec![issuer_name.to_owned()],
        kb_max_age: None,
        success_redirect,
        require_status: false,
        flow: None,
    };
    let policy = parse_policy(CLASSROOM_POLICY, raw, config.kb_max_age, &config.issuers)?;
    config.policies.insert(CLASSROOM_POLICY.to_owned(), policy);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn issue10_response_codes_default_to_the_database() {
        let c = VerifierConfig::try_from(RawVerifierConfig::default()).unwrap();
        assert!(matches!(
            c.cache.to_store().unwrap(),
            store::CacheConfig::Database
        ));
    }

    fn raw_with_policy(policy: RawPolicyConfig) -> RawVerifierConfig {
        let mut raw = RawVerifierConfig::default();
        raw.issuers.insert(
            "school".into(),
            RawIssuerConfig {
                iss: Some("https://issuer.example".into()),
                metadata: true,
                ..RawIssuerConfig::default()
            },
        );
        raw.policies.insert("classroom".into(), policy);
        raw
    }

    fn classroom() -> RawPolicyConfig {
        RawPolicyConfig {
            dcql_query: Some(classroom_query()),
            essential_claims: vec![json!("role"), json!(["course"])],
            trusted_issuers: vec!["school".into()],
            ..RawPolicyConfig::default()
        }
    }

    #[test]
    fn defaults_and_a_policy_convert() {
        let c = VerifierConfig::try_from(raw_with_policy(classroom())).unwrap();
        assert_eq!(c.response_mode, ResponseMode::DirectPostJwt);
        assert_eq!(c.request_uri_method, RequestUriMethod::Post);
        assert_eq!(c.enc_values, vec![Enc::A128Gcm, Enc::A256Gcm]);
        let p = &c.policies["classroom"];
        assert_eq!(p.essential_claims.len(), 2);
        assert_eq!(p.kb_max_age, Duration::from_secs(300));
    }

    #[test]
    fn dcql_query_may_be_json_text() {
        let mut p = classroom();
        p.dcql_query = Some(Value::String(classroom_query().to_string()));
        assert!(VerifierConfig::try_from(raw_with_policy(p)).is_ok());
    }

    #[test]
    fn rejects_an_essential_claim_the_query_does_not_request() {
        let mut p = classroom();
        p.essential_claims.push(json!("birthdate"));
        let e = VerifierConfig::try_from(raw_with_policy(p)).unwrap_err();
        assert!(matches!(e, ConfigError::Incompatible { .. }), "{e}");
    }

    #[test]
    fn rejects_an_unknown_trusted_issuer_and_a_policy_without_issuers() {
        let mut p = classroom();
        p.trusted_issuers = vec!["nobody".into()];
        assert!(VerifierConfig::try_from(raw_with_policy(p)).is_err());
        let mut p = classroom();
        p.trusted_issuers.clear();
        assert!(matches!(
            VerifierConfig::try_from(raw_with_policy(p)),
            Err(ConfigError::Missing { .. })
        ));
    }

    #[test]
    fn rejects_invalid_dcql_and_bad_values() {
        let mut p = classroom();
        p.dcql_query = Some(json!({"credentials": []}));
        assert!(VerifierConfig::try_from(raw_with_policy(p)).is_err());
        let mut raw = raw_with_policy(classroom());
        raw.client_id_prefix = Some("did".into());
        assert_eq!(
            VerifierConfig::try_from(raw).unwrap_err().key(),
            "client_id_prefix"
        );
        let mut raw = raw_with_policy(classroom());
        raw.enc_values = vec!["A128CBC-HS256".into()];
        assert_eq!(
            VerifierConfig::try_from(raw).unwrap_err().key(),
            "enc_values[0]"
        );
        let mut raw = raw_with_policy(classroom());
        raw.default_policy = Some("nope".into());
        assert_eq!(
            VerifierConfig::try_from(raw).unwrap_err().key(),
            "default_policy"
        );
        let mut raw = raw_with_policy(classroom());
        raw.issuers
            .insert("empty".into(), RawIssuerConfig::default());
        assert!(matches!(
            VerifierConfig::try_from(raw),
            Err(ConfigError::Missing { .. })
        ));
    }

    #[test]
    fn issue10_rejects_a_same_device_policy_without_success_redirect() {
        let mut p = classroom();
        p.flow = Some("same_device".into());
        let e = VerifierConfig::try_from(raw_with_policy(p.clone())).unwrap_err();
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
        p.success_redirect = Some("https://rp.example/done".into());
        let c = VerifierConfig::try_from(raw_with_policy(p)).unwrap();
        assert_eq!(c.policies["classroom"].flow, Flow::SameDevice);
        // The default stays cross-device, which needs no redirect.
        let c = VerifierConfig::try_from(raw_with_policy(classroom())).unwrap();
        assert_eq!(c.policies["classroom"].flow, Flow::CrossDevice);
        let mut p = classroom();
        p.flow = Some("same-device".into());
        let e = VerifierConfig::try_from(raw_with_policy(p)).unwrap_err();
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
            let mut raw = raw_with_policy(classroom());
            if let Some(school) = raw.issuers.get_mut("school") {
                school.iss = Some(iss.into());
            }
            let e = VerifierConfig::try_from(raw).unwrap_err();
            assert_eq!(e.key(), "issuers.school.iss", "{iss}");
        }
        // A loopback http issuer parses; whether it may be used depends on the mode
        // (checked at start, see `trust::check_metadata_issuers`).
        let mut raw = raw_with_policy(classroom());
        if let Some(school) = raw.issuers.get_mut("school") {
            school.iss = Some("http://127.0.0.1:8080/issuer".into());
        }
        let c = VerifierConfig::try_from(raw).unwrap();
        assert!(crate::trust::check_metadata_issuers(&c.issuers, true).is_ok());
        let e = crate::trust::check_metadata_issuers(&c.issuers, false).unwrap_err();
        assert!(e.to_string().contains("allow_loopback"), "{e}");
    }

    #[test]
    fn rp_token_is_redacted_when_shown() {
        let mut raw = raw_with_policy(classroom());
        raw.rp_token = Some("s3cret".into());
        let c = VerifierConfig::try_from(raw).unwrap();
        let text = serde_json::to_string(&c).unwrap();
        assert!(!text.contains("s3cret") && text.contains("<redacted>"));
    }
}
