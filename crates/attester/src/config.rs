//! The `[attester]` configuration section: a raw serde form ([`RawAttesterConfig`], every
//! key optional, unknown keys refused) and the typed form ([`AttesterConfig`]) built with
//! `TryFrom`, which parses every value once and names the key at fault.
//!
//! Defaults that depend on how the process runs (`--mode=all` or alone) stay `None` here
//! and are resolved by the role builder: the A-Key's store (embedded software key under
//! `--mode=all`, PKCS#11 otherwise), `dev_evidence` (on only under `--mode=all`) and
//! `kubernetes.enabled` (off only under `--mode=all`).

use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use keys::kek::RawKekSource;
use keys::pkcs11::{Pkcs11Config, RawPkcs11Config};
use keys::secret::RawSecretSource;
use keys::{KekSource, SecretSource};
use serde::{Deserialize, Serialize, Serializer};
use service::config::{ConfigError, SecretString, positive_duration, show};

/// Default lifetime of an attestation.
pub const DEFAULT_ATTESTATION_TTL: &str = "1h";
/// Default lifetime of a challenge.
pub const DEFAULT_CHALLENGE_TTL: &str = "2m";
/// Default clock tolerance.
pub const DEFAULT_CLOCK_SKEW: &str = "30s";
/// Default per-identity limit: attestations per window.
pub const DEFAULT_RATE_REQUESTS: u32 = 60;
/// Default rate-limit window.
pub const DEFAULT_RATE_WINDOW: &str = "1m";
/// The Kubernetes identity admitted when none is configured.
pub const DEFAULT_ALLOWED_IDENTITY: &str = "cvm-wallets:wallet-sa";
/// Where a pod finds its own service-account token.
pub const IN_CLUSTER_TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
/// Where a pod finds the cluster's CA certificate.
pub const IN_CLUSTER_CA_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
/// Default timeout of one TokenReview call.
pub const DEFAULT_REVIEW_TIMEOUT: &str = "5s";
/// Longest attestation lifetime accepted.
const MAX_ATTESTATION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Longest challenge lifetime accepted.
const MAX_CHALLENGE_TTL: Duration = Duration::from_secs(3600);

/// `[attester]` as written.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RawAttesterConfig {
    /// The attester identifier (`iss`); default: the role's external base URL.
    pub identifier: Option<String>,
    /// Lifetime of an attestation (`exp - iat`).
    pub attestation_ttl: Option<String>,
    /// Lifetime of a challenge.
    pub challenge_ttl: Option<String>,
    /// Clock tolerance on the challenge response's `iat`.
    pub clock_skew: Option<String>,
    /// The A-Key in a PKCS#11 token.
    pub pkcs11: Option<RawPkcs11Config>,
    /// The A-Key in an encrypted software key file.
    pub software_key: Option<RawSoftwareKey>,
    /// PEM certificate chain of the A-Key (leaf first), sent as `x5c`.
    pub certificate: Option<String>,
    /// Audit log database URL (secret: may hold a password).
    pub database_url: Option<String>,
    /// Bearer token of the admin API.
    pub admin_token: Option<RawSecretSource>,
    /// Client networks allowed to call the attester (CIDR); empty: any.
    pub allowed_ips: Vec<String>,
    /// Accept `dev` evidence.
    pub dev_evidence: Option<bool>,
    /// `[attester.rate_limit]`.
    pub rate_limit: RawRateLimit,
    /// `[attester.cache]`.
    pub cache: RawCache,
    /// `[attester.kubernetes]`.
    pub kubernetes: RawKubernetes,
}

/// `[attester.software_key]` as written.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RawSoftwareKey {
    /// The encrypted key file (created on first start).
    pub key_file: Option<String>,
    /// The key-encryption key.
    pub kek: Option<RawKekSource>,
}

/// `[attester.rate_limit]` as written.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RawRateLimit {
    /// Attestations per identity per window.
    pub requests: Option<u32>,
    /// The window.
    pub window: Option<String>,
}

/// `[attester.cache]` as written (see `store::RawCacheConfig`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RawCache {
    /// `memory`, `redis` or `database`.
    pub backend: Option<String>,
    /// Redis URL (secret).
    pub redis_url: Option<String>,
    /// Redis key prefix.
    pub redis_prefix: Option<String>,
    /// In-process cap on entries.
    pub max_entries: Option<usize>,
    /// In-process cap on bytes.
    pub max_bytes: Option<usize>,
    /// In-process cap on rate-limit keys.
    pub max_rate_keys: Option<usize>,
}

/// `[attester.kubernetes]` as written.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RawKubernetes {
    /// Accept Kubernetes evidence.
    pub enabled: Option<bool>,
    /// The API server's base URL.
    pub api_url: Option<String>,
    /// The attester's own service-account token file.
    pub token_file: Option<String>,
    /// The API server's CA certificate(s), PEM.
    pub ca_file: Option<String>,
    /// The audience the wallets' projected tokens carry.
    pub audience: Option<String>,
    /// Admitted identities, `namespace:serviceaccount`.
    pub allowed: Option<Vec<String>>,
    /// Timeout of one TokenReview call.
    pub timeout: Option<String>,
}

/// A configured secret (database or Redis URL): redacted in `Debug`, `<redacted>` when
/// shown, zeroized on drop.
pub use service::config::Secret;

/// Where the A-Key lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyConfig {
    /// In a PKCS#11 token (production).
    Pkcs11(Pkcs11Config),
    /// In an encrypted software key file; attestations say `key_protection: software`.
    Software {
        /// The key file.
        key_file: PathBuf,
        /// The key-encryption key.
        kek: KekSource,
    },
}

fn source_text(s: &SecretSource) -> String {
    // Where a secret is read is not secret; the value never reaches configuration.
    s.to_string()
}

impl Serialize for KeyConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        match self {
            KeyConfig::Pkcs11(p) => {
                let view = serde_json::json!({
                    "module": p.module.display().to_string(),
                    "token_label": p.token_label,
                    "key_label": p.key_label,
                    "pin": source_text(&p.pin),
                    "max_sessions": p.max_sessions,
                });
                m.serialize_entry("pkcs11", &view)?;
            }
            KeyConfig::Software { key_file, kek } => {
                let kek = match kek {
                    KekSource::Key(k) => serde_json::json!({ "key": source_text(k) }),
                    KekSource::Passphrase {
                        passphrase,
                        salt_file,
                        ..
                    } => serde_json::json!({
                        "passphrase": source_text(passphrase),
                        "salt_file": salt_file.display().to_string(),
                    }),
                };
                let view = serde_json::json!({
                    "key_file": key_file.display().to_string(),
                    "kek": kek,
                });
                m.serialize_entry("software_key", &view)?;
            }
        }
        m.end()
    }
}

/// A Kubernetes identity admitted to attestations.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServiceAccountRef {
    /// Namespace.
    pub namespace: String,
    /// Service account name.
    pub service_account: String,
}

impl ServiceAccountRef {
    /// Parses `namespace:serviceaccount` (both DNS labels / subdomains as Kubernetes names
    /// them: lowercase letters, digits, `-` and `.`).
    pub fn parse(text: &str) -> Option<Self> {
        let (ns, sa) = text.split_once(':')?;
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 253
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
                && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && s.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
        };
        (name_ok(ns) && name_ok(sa)).then(|| ServiceAccountRef {
            namespace: ns.to_owned(),
            service_account: sa.to_owned(),
        })
    }
}

impl std::fmt::Display for ServiceAccountRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.namespace, self.service_account)
    }
}

impl Serialize for ServiceAccountRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `[attester.rate_limit]`, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RateLimit {
    /// Attestations per identity per window.
    pub requests: u32,
    /// The window.
    #[serde(serialize_with = "show::duration")]
    pub window: Duration,
}

/// `[attester.cache]`, parsed (the store's own checks run in [`CacheSection::to_store`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CacheSection {
    /// `memory`, `redis` or `database`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// Redis URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<Secret>,
    /// Redis key prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_prefix: Option<String>,
    /// In-process cap on entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_entries: Option<usize>,
    /// In-process cap on bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<usize>,
    /// In-process cap on rate-limit keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_rate_keys: Option<usize>,
}

impl CacheSection {
    /// The store's cache configuration, with its consistency checks; errors name keys
    /// relative to the section.
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
                    expected: "\"memory\", \"redis\" or \"database\"",
                });
            }
        };
        let raw = store::RawCacheConfig {
            backend,
            redis_url: self
                .redis_url
                .as_ref()
                .map(|u| SecretString::from(u.expose().to_owned())),
            redis_prefix: self.redis_prefix.clone(),
            max_entries: self.max_entries,
            max_bytes: self.max_bytes,
            max_rate_keys: self.max_rate_keys,
        };
        store::CacheConfig::try_from(raw).map_err(|e| ConfigError::OutOfRange {
            key: "cache".into(),
            value: e.to_string(),
            expected: "a consistent cache section",
        })
    }
}

/// `[attester.kubernetes]`, parsed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KubernetesConfig {
    /// Accept Kubernetes evidence; default: yes, except under `--mode=all`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// API server base URL; default: `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`
    /// (in-cluster), else `https://kubernetes.default.svc`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// The attester's own service-account token (re-read as the kubelet rotates it).
    pub token_file: PathBuf,
    /// The API server's CA (PEM); the only trust anchors for the TokenReview call.
    pub ca_file: PathBuf,
    /// Expected audience of the wallets' tokens; default: the attester identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Admitted identities.
    pub allowed: Vec<ServiceAccountRef>,
    /// Timeout of one TokenReview call.
    #[serde(serialize_with = "show::duration")]
    pub timeout: Duration,
}

/// `[attester]`, parsed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AttesterConfig {
    /// The attester identifier (`iss`), when configured; checked against the server's
    /// `allow_http_loopback` when the role starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Lifetime of an attestation.
    #[serde(serialize_with = "show::duration")]
    pub attestation_ttl: Duration,
    /// Lifetime of a challenge.
    #[serde(serialize_with = "show::duration")]
    pub challenge_ttl: Duration,
    /// Clock tolerance.
    #[serde(serialize_with = "show::duration")]
    pub clock_skew: Duration,
    /// Where the A-Key lives; `None`: the embedded software key (only under `--mode=all`).
    /// Shown as the `pkcs11` or `software_key` table it was written as.
    #[serde(flatten)]
    pub key: Option<KeyConfig>,
    /// PEM certificate chain of the A-Key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<PathBuf>,
    /// Audit log database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<Secret>,
    /// Where the admin token is read.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "show_source"
    )]
    pub admin_token: Option<SecretSource>,
    /// Client networks allowed to call; empty: any.
    #[serde(serialize_with = "show_nets")]
    pub allowed_ips: Vec<IpNet>,
    /// Accept `dev` evidence; default: only under `--mode=all`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev_evidence: Option<bool>,
    /// Per-identity limit.
    pub rate_limit: RateLimit,
    /// Challenge store and rate limiter backend.
    pub cache: CacheSection,
    /// Kubernetes evidence.
    pub kubernetes: KubernetesConfig,
}

fn show_source<S: Serializer>(v: &Option<SecretSource>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(src) => s.serialize_str(&source_text(src)),
        None => s.serialize_none(),
    }
}

fn show_nets<S: Serializer>(v: &[IpNet], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|n| n.to_string()))
}

fn bounded(key: &str, value: &str, max: Duration) -> Result<Duration, ConfigError> {
    let d = positive_duration(key, value)?;
    if d > max {
        return Err(ConfigError::OutOfRange {
            key: key.to_owned(),
            value: value.to_owned(),
            expected: "within the documented maximum (attestation_ttl 30 days, challenge_ttl 1 hour)",
        });
    }
    Ok(d)
}

fn non_empty(key: &str, v: Option<String>) -> Result<Option<String>, ConfigError> {
    match v {
        Some(s) if s.trim().is_empty() => Err(ConfigError::OutOfRange {
            key: key.to_owned(),
            value: "\"\"".into(),
            expected: "a non-empty value (leave the key out for the default)",
        }),
        other => Ok(other),
    }
}

fn out_of_range(key: &str, value: impl std::fmt::Display, expected: &'static str) -> ConfigError {
    ConfigError::OutOfRange {
        key: key.to_owned(),
        value: value.to_string(),
        expected,
    }
}

/// Parses a CIDR (`10.0.0.0/8`) or a single address (`127.0.0.1`, `::1`).
pub fn parse_net(text: &str) -> Option<IpNet> {
    let t = text.trim();
    t.parse::<IpNet>()
        .ok()
        .or_else(|| t.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

impl TryFrom<RawKubernetes> for KubernetesConfig {
    type Error = ConfigError;

    fn try_from(raw: RawKubernetes) -> Result<Self, ConfigError> {
        let api_url = non_empty("kubernetes.api_url", raw.api_url)?;
        if let Some(u) = &api_url {
            let parsed = url::Url::parse(u)
                .map_err(|_| out_of_range("kubernetes.api_url", u, "an https URL"))?;
            if parsed.scheme() != "https" || parsed.host().is_none() {
                return Err(out_of_range(
                    "kubernetes.api_url",
                    u,
                    "an https URL (the API server is always TLS)",
                ));
            }
        }
        let audience = non_empty("kubernetes.audience", raw.audience)?;
        let allowed_raw = raw
            .allowed
            .unwrap_or_else(|| vec![DEFAULT_ALLOWED_IDENTITY.to_owned()]);
        let mut allowed = Vec::with_capacity(allowed_raw.len());
        for a in &allowed_raw {
            let parsed = ServiceAccountRef::parse(a).ok_or_else(|| {
                out_of_range(
                    "kubernetes.allowed",
                    format!("{a:?}"),
                    "entries of the form \"namespace:serviceaccount\"",
                )
            })?;
            if !allowed.contains(&parsed) {
                allowed.push(parsed);
            }
        }
        let timeout = positive_duration(
            "kubernetes.timeout",
            raw.timeout.as_deref().unwrap_or(DEFAULT_REVIEW_TIMEOUT),
        )?;
        if raw.enabled == Some(true) && allowed.is_empty() {
            return Err(ConfigError::Incompatible {
                first: "kubernetes.enabled".into(),
                second: "kubernetes.allowed".into(),
                reason: "Kubernetes evidence is enabled but no identity is admitted",
            });
        }
        Ok(KubernetesConfig {
            enabled: raw.enabled,
            api_url,
            token_file: PathBuf::from(
                non_empty("kubernetes.token_file", raw.token_file)?
                    .unwrap_or_else(|| IN_CLUSTER_TOKEN_FILE.to_owned()),
            ),
            ca_file: PathBuf::from(
                non_empty("kubernetes.ca_file", raw.ca_file)?
                    .unwrap_or_else(|| IN_CLUSTER_CA_FILE.to_owned()),
            ),
            audience,
            allowed,
            timeout,
        })
    }
}

impl TryFrom<RawAttesterConfig> for AttesterConfig {
    type Error = ConfigError;

    fn try_from(raw: RawAttesterConfig) -> Result<Self, ConfigError> {
        let identifier = non_empty("identifier", raw.identifier)?;
        if let Some(id) = &identifier {
            // The scheme rule (http only on loopback, when allowed) is applied at start,
            // when the mode is known; the shape is checked now.
            service::config::public_url("identifier", id, true)?;
        }
        let attestation_ttl = bounded(
            "attestation_ttl",
            raw.attestation_ttl
                .as_deref()
                .unwrap_or(DEFAULT_ATTESTATION_TTL),
            MAX_ATTESTATION_TTL,
        )?;
        let challenge_ttl = bounded(
            "challenge_ttl",
            raw.challenge_ttl
                .as_deref()
                .unwrap_or(DEFAULT_CHALLENGE_TTL),
            MAX_CHALLENGE_TTL,
        )?;
        let clock_skew = service::config::duration(
            "clock_skew",
            raw.clock_skew.as_deref().unwrap_or(DEFAULT_CLOCK_SKEW),
        )?;
        let key = match (raw.pkcs11, raw.software_key) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Incompatible {
                    first: "pkcs11".into(),
                    second: "software_key".into(),
                    reason: "the A-Key lives in one place",
                });
            }
            (Some(p), None) => Some(KeyConfig::Pkcs11(Pkcs11Config::try_from(p).map_err(
                |e| out_of_range("pkcs11", e, "a complete PKCS#11 key configuration"),
            )?)),
            (None, Some(s)) => {
                let key_file = non_empty("software_key.key_file", s.key_file)?.ok_or(
                    ConfigError::Missing {
                        key: "software_key.key_file".into(),
                        reason: "the encrypted A-Key file",
                    },
                )?;
                let kek = s.kek.ok_or(ConfigError::Missing {
                    key: "software_key.kek".into(),
                    reason: "the key-encryption key that seals the A-Key file",
                })?;
                let kek = KekSource::try_from(kek).map_err(|e| {
                    out_of_range(
                        "software_key.kek",
                        e,
                        "`{ key = … }` or `{ passphrase = …, salt_file = … }`",
                    )
                })?;
                Some(KeyConfig::Software {
                    key_file: PathBuf::from(key_file),
                    kek,
                })
            }
            (None, None) => None,
        };
        let admin_token = raw
            .admin_token
            .map(SecretSource::try_from)
            .transpose()
            .map_err(|e| out_of_range("admin_token", e, "`{ file = … }` or `{ env = … }`"))?;
        let mut allowed_ips = Vec::with_capacity(raw.allowed_ips.len());
        for text in &raw.allowed_ips {
            let net = parse_net(text).ok_or_else(|| {
                out_of_range(
                    "allowed_ips",
                    format!("{text:?}"),
                    "IP networks in CIDR form (\"10.0.0.0/8\") or single addresses",
                )
            })?;
            allowed_ips.push(net.trunc());
        }
        let rate_limit = RateLimit {
            requests: raw.rate_limit.requests.unwrap_or(DEFAULT_RATE_REQUESTS),
            window: positive_duration(
                "rate_limit.window",
                raw.rate_limit
                    .window
                    .as_deref()
                    .unwrap_or(DEFAULT_RATE_WINDOW),
            )?,
        };
        if rate_limit.requests == 0 {
            return Err(out_of_range(
                "rate_limit.requests",
                0,
                "at least 1 (a limit of 0 would refuse every attestation)",
            ));
        }
        let cache = CacheSection {
            backend: raw.cache.backend,
            redis_url: non_empty("cache.redis_url", raw.cache.redis_url)?.map(Secret::new),
            redis_prefix: raw.cache.redis_prefix,
            max_entries: raw.cache.max_entries,
            max_bytes: raw.cache.max_bytes,
            max_rate_keys: raw.cache.max_rate_keys,
        };
        cache.to_store()?;
        Ok(AttesterConfig {
            identifier,
            attestation_ttl,
            challenge_ttl,
            clock_skew,
            key,
            certificate: non_empty("certificate", raw.certificate)?.map(PathBuf::from),
            database_url: non_empty("database_url", raw.database_url)?.map(Secret::new),
            admin_token,
            allowed_ips,
            dev_evidence: raw.dev_evidence,
            rate_limit,
            cache,
            kubernetes: KubernetesConfig::try_from(raw.kubernetes)?,
        })
    }
}

impl Default for AttesterConfig {
    fn default() -> Self {
        // The defaults are valid by construction; the conversion is the single place that
        // spells them out.
        match AttesterConfig::try_from(RawAttesterConfig::default()) {
            Ok(c) => c,
            Err(_) => AttesterConfig {
                identifier: None,
                attestation_ttl: Duration::from_secs(3600),
                challenge_ttl: Duration::from_secs(120),
                clock_skew: Duration::from_secs(30),
                key: None,
                certificate: None,
                database_url: None,
                admin_token: None,
                allowed_ips: Vec::new(),
                dev_evidence: None,
                rate_limit: RateLimit {
                    requests: DEFAULT_RATE_REQUESTS,
                    window: Duration::from_secs(60),
                },
                cache: CacheSection::default(),
                kubernetes: KubernetesConfig {
                    enabled: None,
                    api_url: None,
                    token_file: IN_CLUSTER_TOKEN_FILE.into(),
                    ca_file: IN_CLUSTER_CA_FILE.into(),
                    audience: None,
                    allowed: Vec::new(),
                    timeout: Duration::from_secs(5),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AttesterConfig, ConfigError> {
        let raw: RawAttesterConfig = toml_from(text);
        AttesterConfig::try_from(raw)
    }

    fn toml_from(text: &str) -> RawAttesterConfig {
        // The workspace's TOML reader is the binary's; JSON has the same data model for
        // these tests.
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn issue10_challenges_default_to_the_database() {
        let c = parse("{}").unwrap();
        assert!(matches!(
            c.cache.to_store().unwrap(),
            store::CacheConfig::Database
        ));
        let memory = parse(r#"{"cache":{"backend":"memory"}}"#).unwrap();
        assert!(matches!(
            memory.cache.to_store().unwrap(),
            store::CacheConfig::Memory(_)
        ));
    }

    #[test]
    fn defaults_apply() {
        let c = parse("{}").unwrap();
        assert_eq!(c.attestation_ttl, Duration::from_secs(3600));
        assert_eq!(c.challenge_ttl, Duration::from_secs(120));
        assert_eq!(c.rate_limit.requests, 60);
        assert_eq!(c.kubernetes.allowed.len(), 1);
        assert_eq!(c.kubernetes.allowed[0].to_string(), "cvm-wallets:wallet-sa");
        assert_eq!(
            c.kubernetes.token_file,
            PathBuf::from(IN_CLUSTER_TOKEN_FILE)
        );
        assert!(c.key.is_none() && c.dev_evidence.is_none());
        assert_eq!(c, AttesterConfig::default());
    }

    #[test]
    fn parses_a_full_section_and_shows_no_secret() {
        let c = parse(
            r#"{"identifier":"https://attester.example","attestation_ttl":"30m",
                "pkcs11":{"module":"/usr/lib/softhsm/libsofthsm2.so","pin":{"env":"HSM_PIN"}},
                "database_url":"postgres://a:hunter2@db/x","admin_token":{"file":"/run/t"},
                "allowed_ips":["10.0.0.0/8","127.0.0.1"],
                "kubernetes":{"allowed":["ns1:sa1","ns2:sa2"],"audience":"aud"}}"#,
        )
        .unwrap();
        assert!(matches!(c.key, Some(KeyConfig::Pkcs11(ref p)) if p.key_label == "A-Key"));
        assert_eq!(c.allowed_ips.len(), 2);
        assert_eq!(c.kubernetes.allowed.len(), 2);
        let shown = serde_json::to_string(&c).unwrap();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(shown.contains("HSM_PIN"), "{shown}");
    }

    #[test]
    fn rejects_both_key_stores() {
        let e = parse(
            r#"{"pkcs11":{"module":"/m.so","pin":{"env":"P"}},
                "software_key":{"key_file":"/k","kek":{"key":{"env":"K"}}}}"#,
        )
        .unwrap_err();
        assert!(matches!(e, ConfigError::Incompatible { ref first, .. } if first == "pkcs11"));
    }

    #[test]
    fn rejects_incomplete_software_key() {
        let e = parse(r#"{"software_key":{"key_file":"/k"}}"#).unwrap_err();
        assert!(matches!(e, ConfigError::Missing { ref key, .. } if key == "software_key.kek"));
    }

    #[test]
    fn rejects_bad_identities_networks_and_limits() {
        for (text, key) in [
            (
                r#"{"kubernetes":{"allowed":["wallet-sa"]}}"#,
                "kubernetes.allowed",
            ),
            (
                r#"{"kubernetes":{"allowed":["NS:sa"]}}"#,
                "kubernetes.allowed",
            ),
            (r#"{"allowed_ips":["10.0.0.0/33"]}"#, "allowed_ips"),
            (r#"{"rate_limit":{"requests":0}}"#, "rate_limit.requests"),
            (r#"{"attestation_ttl":"0s"}"#, "attestation_ttl"),
            (r#"{"attestation_ttl":"400days"}"#, "attestation_ttl"),
            (
                r#"{"kubernetes":{"api_url":"http://10.96.0.1"}}"#,
                "kubernetes.api_url",
            ),
            (r#"{"identifier":"ftp://x"}"#, "identifier"),
            (r#"{"cache":{"backend":"memcached"}}"#, "cache.backend"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.key(), key, "{text}: {e}");
        }
        let e = parse(r#"{"kubernetes":{"enabled":true,"allowed":[]}}"#).unwrap_err();
        assert!(matches!(e, ConfigError::Incompatible { .. }));
    }

    #[test]
    fn rejects_unknown_keys() {
        assert!(serde_json::from_str::<RawAttesterConfig>(r#"{"idenitfier":"x"}"#).is_err());
        assert!(
            serde_json::from_str::<RawAttesterConfig>(r#"{"kubernetes":{"namespace":"x"}}"#)
                .is_err()
        );
    }

    #[test]
    fn service_account_refs_follow_kubernetes_names() {
        assert!(ServiceAccountRef::parse("cvm-wallets:wallet-sa").is_some());
        for bad in ["", ":", "a:", ":b", "a:b:c", "-a:b", "a:b-", "A:b", "a b:c"] {
            assert!(ServiceAccountRef::parse(bad).is_none(), "{bad}");
        }
    }
}
