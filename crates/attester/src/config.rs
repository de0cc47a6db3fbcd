//! The `[attester]` configuration section: [`AttesterConfig`] deserializes straight into
//! typed values (durations, key and secret sources, networks, Kubernetes identities;
//! unknown keys refused), with the defaults in its `Default`, and
//! [`AttesterConfig::validate`] checks what one value alone cannot say (bounds, where the
//! A-Key lives, contradictions between keys), naming the key at fault.
//!
//! Defaults that depend on how the process runs (`--mode=all` or alone) stay `None` here
//! and are resolved by the role builder: the A-Key's store (embedded software key under
//! `--mode=all`, PKCS#11 otherwise), `dev_evidence` (on only under `--mode=all`) and
//! `kubernetes.enabled` (off only under `--mode=all`).

use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use keys::pkcs11::Pkcs11Config;
use keys::{KekSource, SecretSetting};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
pub use service::config::Section;
use service::config::{ConfigError, with};

/// Default per-identity limit: attestations per window.
pub const DEFAULT_RATE_REQUESTS: u32 = 60;
/// The Kubernetes identity admitted when none is configured.
pub const DEFAULT_ALLOWED_IDENTITY: &str = "cvm-wallets:wallet-sa";
/// Where a pod finds its own service-account token.
pub const IN_CLUSTER_TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
/// Where a pod finds the cluster's CA certificate.
pub const IN_CLUSTER_CA_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
/// Longest attestation lifetime accepted.
const MAX_ATTESTATION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Longest challenge lifetime accepted.
const MAX_CHALLENGE_TTL: Duration = Duration::from_secs(3600);

/// A configured secret (database or Redis URL): redacted in `Debug`, `<redacted>` when
/// shown, zeroized on drop.
pub use service::config::Secret;

/// `[attester]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct AttesterConfig {
    /// The attester identifier (`iss`); default: the role's external base URL. Its scheme
    /// is checked against the server's `allow_http_loopback` when the role starts.
    pub identifier: Option<String>,
    /// Lifetime of an attestation (`exp - iat`; at most 30 days).
    #[serde(with = "with::positive_duration")]
    pub attestation_ttl: Duration,
    /// Lifetime of a challenge (at most an hour).
    #[serde(with = "with::positive_duration")]
    pub challenge_ttl: Duration,
    /// Clock tolerance on the challenge response's `iat`.
    #[serde(with = "with::duration")]
    pub clock_skew: Duration,
    /// The A-Key in a PKCS#11 token.
    pub pkcs11: Option<Pkcs11Config>,
    /// The A-Key in an encrypted software key file.
    pub software_key: Option<SoftwareKey>,
    /// PEM certificate chain of the A-Key (leaf first), sent as `x5c`.
    pub certificate: Option<PathBuf>,
    /// Audit log database URL (secret: may hold a password).
    pub database_url: Option<Secret>,
    /// Bearer token of the admin API: inline, `{ file = … }` or `{ env = … }`
    /// ([`keys::SecretSetting`]), read when the role starts.
    pub admin_token: Option<SecretSetting>,
    /// Client networks allowed to call the attester (CIDR or single addresses); empty: any.
    #[serde(with = "nets")]
    pub allowed_ips: Vec<IpNet>,
    /// Accept `dev` evidence; default: only under `--mode=all`.
    pub dev_evidence: Option<bool>,
    /// `[attester.rate_limit]`.
    pub rate_limit: RateLimit,
    /// `[attester.cache]`: challenge store and rate limiter backend.
    pub cache: store::CacheSection,
    /// `[attester.kubernetes]`.
    pub kubernetes: KubernetesConfig,
}

impl Default for AttesterConfig {
    fn default() -> Self {
        AttesterConfig {
            identifier: None,
            attestation_ttl: Duration::from_secs(3600),
            challenge_ttl: Duration::from_secs(120),
            clock_skew: Duration::from_secs(30),
            pkcs11: None,
            software_key: None,
            certificate: None,
            database_url: None,
            admin_token: None,
            allowed_ips: Vec::new(),
            dev_evidence: None,
            rate_limit: RateLimit::default(),
            cache: store::CacheSection::default(),
            kubernetes: KubernetesConfig::default(),
        }
    }
}

/// `[attester.software_key]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct SoftwareKey {
    /// The encrypted key file (created on first start).
    pub key_file: Option<PathBuf>,
    /// The key-encryption key.
    pub kek: Option<KekSource>,
}

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

/// `[attester.rate_limit]`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimit {
    /// Attestations per identity per window (at least 1).
    pub requests: u32,
    /// The window.
    #[serde(with = "with::positive_duration")]
    pub window: Duration,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            requests: DEFAULT_RATE_REQUESTS,
            window: Duration::from_secs(60),
        }
    }
}

/// `[attester.kubernetes]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct KubernetesConfig {
    /// Accept Kubernetes evidence; default: yes, except under `--mode=all`.
    pub enabled: Option<bool>,
    /// API server base URL; default: `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`
    /// (in-cluster), else `https://kubernetes.default.svc`.
    pub api_url: Option<String>,
    /// The attester's own service-account token (re-read as the kubelet rotates it).
    pub token_file: PathBuf,
    /// The API server's CA (PEM); the only trust anchors for the TokenReview call.
    pub ca_file: PathBuf,
    /// Expected audience of the wallets' tokens; default: the attester identifier.
    pub audience: Option<String>,
    /// Admitted identities, `namespace:serviceaccount` (duplicates dropped).
    pub allowed: Vec<ServiceAccountRef>,
    /// Timeout of one TokenReview call.
    #[serde(with = "with::positive_duration")]
    pub timeout: Duration,
}

impl Default for KubernetesConfig {
    fn default() -> Self {
        KubernetesConfig {
            enabled: None,
            api_url: None,
            token_file: IN_CLUSTER_TOKEN_FILE.into(),
            ca_file: IN_CLUSTER_CA_FILE.into(),
            audience: None,
            allowed: ServiceAccountRef::parse(DEFAULT_ALLOWED_IDENTITY)
                .into_iter()
                .collect(),
            timeout: Duration::from_secs(5),
        }
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

impl<'de> Deserialize<'de> for ServiceAccountRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ServiceAccountRef::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{text:?} is out of range: must be of the form \"namespace:serviceaccount\""
            ))
        })
    }
}

/// `allowed_ips`: CIDR networks (`10.0.0.0/8`) or single addresses, kept truncated to the
/// network (`10.1.2.3/8` is `10.0.0.0/8`).
mod nets {
    use ipnet::IpNet;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|text| {
                super::parse_net(text).map(|n| n.trunc()).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "{text:?} is out of range: must be IP networks in CIDR form (\"10.0.0.0/8\") or single addresses"
                    ))
                })
            })
            .collect()
    }

    pub(super) fn serialize<S: Serializer>(v: &[IpNet], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(ToString::to_string))
    }
}

fn out_of_range(key: &str, value: impl std::fmt::Display, expected: &'static str) -> ConfigError {
    ConfigError::OutOfRange {
        key: key.to_owned(),
        value: value.to_string(),
        expected,
    }
}

fn non_empty(key: &str, v: Option<&String>) -> Result<(), ConfigError> {
    match v {
        Some(s) if s.trim().is_empty() => Err(out_of_range(
            key,
            "\"\"",
            "a non-empty value (leave the key out for the default)",
        )),
        _ => Ok(()),
    }
}

fn bounded(key: &str, value: Duration, max: Duration) -> Result<(), ConfigError> {
    if value > max {
        return Err(out_of_range(
            key,
            service::config::show::human_duration(value),
            "within the documented maximum (attestation_ttl 30 days, challenge_ttl 1 hour)",
        ));
    }
    Ok(())
}

/// Parses a CIDR (`10.0.0.0/8`) or a single address (`127.0.0.1`, `::1`).
pub fn parse_net(text: &str) -> Option<IpNet> {
    let t = text.trim();
    t.parse::<IpNet>()
        .ok()
        .or_else(|| t.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

impl Section for AttesterConfig {
    /// Checks what the types alone do not (bounds, where the A-Key lives, contradictions
    /// between keys). Errors name keys relative to the section.
    fn validate(&mut self) -> Result<(), ConfigError> {
        non_empty("identifier", self.identifier.as_ref())?;
        if let Some(id) = &self.identifier {
            // The scheme rule (http only on loopback, when allowed) is applied at start,
            // when the mode is known; the shape is checked now.
            service::config::public_url("identifier", id, true)?;
        }
        bounded("attestation_ttl", self.attestation_ttl, MAX_ATTESTATION_TTL)?;
        bounded("challenge_ttl", self.challenge_ttl, MAX_CHALLENGE_TTL)?;
        if self.pkcs11.is_some() && self.software_key.is_some() {
            return Err(ConfigError::Incompatible {
                first: "pkcs11".into(),
                second: "software_key".into(),
                reason: "the A-Key lives in one place",
            });
        }
        if let Some(s) = &self.software_key {
            if s.key_file.as_ref().is_none_or(|f| f.as_os_str().is_empty()) {
                return Err(ConfigError::Missing {
                    key: "software_key.key_file".into(),
                    reason: "the encrypted A-Key file",
                });
            }
            if s.kek.is_none() {
                return Err(ConfigError::Missing {
                    key: "software_key.kek".into(),
                    reason: "the key-encryption key that seals the A-Key file",
                });
            }
        }
        if self
            .certificate
            .as_ref()
            .is_some_and(|c| c.as_os_str().is_empty())
        {
            return Err(out_of_range("certificate", "\"\"", "a non-empty path"));
        }
        if self.rate_limit.requests == 0 {
            return Err(out_of_range(
                "rate_limit.requests",
                0,
                "at least 1 (a limit of 0 would refuse every attestation)",
            ));
        }
        self.kubernetes.validate()?;
        self.cache_config()?;
        Ok(())
    }
}

impl AttesterConfig {
    /// Where the A-Key lives; `None`: the embedded software key (only under `--mode=all`).
    /// Complete once [`AttesterConfig::validate`] passed.
    pub fn key(&self) -> Option<KeyConfig> {
        if let Some(p) = &self.pkcs11 {
            return Some(KeyConfig::Pkcs11(p.clone()));
        }
        let s = self.software_key.as_ref()?;
        Some(KeyConfig::Software {
            key_file: s.key_file.clone()?,
            kek: s.kek.clone()?,
        })
    }

    /// The cache configuration for `store`.
    pub fn cache_config(&self) -> Result<store::CacheConfig, ConfigError> {
        self.cache.checked().map_err(|e| ConfigError::Invalid {
            key: format!("cache.{}", e.key()),
            message: e.to_string(),
        })
    }
}

impl KubernetesConfig {
    fn validate(&mut self) -> Result<(), ConfigError> {
        non_empty("kubernetes.api_url", self.api_url.as_ref())?;
        if let Some(u) = &self.api_url {
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
        non_empty("kubernetes.audience", self.audience.as_ref())?;
        for (key, path) in [
            ("kubernetes.token_file", &self.token_file),
            ("kubernetes.ca_file", &self.ca_file),
        ] {
            if path.as_os_str().is_empty() {
                return Err(out_of_range(key, "\"\"", "a non-empty path"));
            }
        }
        let mut allowed: Vec<ServiceAccountRef> = Vec::with_capacity(self.allowed.len());
        for a in self.allowed.drain(..) {
            if !allowed.contains(&a) {
                allowed.push(a);
            }
        }
        self.allowed = allowed;
        if self.enabled == Some(true) && self.allowed.is_empty() {
            return Err(ConfigError::Incompatible {
                first: "kubernetes.enabled".into(),
                second: "kubernetes.allowed".into(),
                reason: "Kubernetes evidence is enabled but no identity is admitted",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a section as `symbolon` does: typed values, then the section's checks. The
    /// workspace's TOML reader is the binary's; JSON has the same data model for these
    /// tests.
    fn parse(text: &str) -> Result<AttesterConfig, ConfigError> {
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        service::config::deserialize::<AttesterConfig>(value)?.validated()
    }

    #[test]
    fn issue10_challenges_default_to_the_database() {
        let c = parse("{}").unwrap();
        assert!(matches!(
            c.cache_config().unwrap(),
            store::CacheConfig::Database
        ));
        let memory = parse(r#"{"cache":{"backend":"memory"}}"#).unwrap();
        assert!(matches!(
            memory.cache_config().unwrap(),
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
        assert!(c.key().is_none() && c.dev_evidence.is_none());
        assert_eq!(c, AttesterConfig::default());
    }

    #[test]
    fn issue11_admin_token_takes_inline_file_and_env() {
        use keys::{ExposeSecret, SecretSource};
        let c = parse(r#"{"admin_token":"inline-admin"}"#).unwrap();
        let token = c.admin_token.as_ref().unwrap();
        assert_eq!(token.load().unwrap().expose_secret(), "inline-admin");
        let shown = serde_json::to_string(&c).unwrap();
        assert!(shown.contains(r#""admin_token":"<redacted>""#), "{shown}");
        let c = parse(r#"{"admin_token":{"file":"/run/t"}}"#).unwrap();
        assert_eq!(
            c.admin_token,
            Some(SecretSetting::Source(SecretSource::File("/run/t".into())))
        );
        let c = parse(r#"{"admin_token":{"env":"ATTESTER_ADMIN"}}"#).unwrap();
        assert_eq!(
            c.admin_token,
            Some(SecretSetting::Source(SecretSource::Env(
                "ATTESTER_ADMIN".into()
            )))
        );
    }

    #[test]
    fn issue11_rejects_a_blank_or_malformed_admin_token() {
        for bad in [
            r#"{"admin_token":""}"#,
            r#"{"admin_token":42}"#,
            r#"{"admin_token":{"value":"x"}}"#,
            r#"{"admin_token":{}}"#,
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.key().starts_with("admin_token"), "{bad}: {e}");
        }
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
        assert!(matches!(c.key(), Some(KeyConfig::Pkcs11(ref p)) if p.key_label == "A-Key"));
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
        assert!(serde_json::from_str::<AttesterConfig>(r#"{"idenitfier":"x"}"#).is_err());
        assert!(
            serde_json::from_str::<AttesterConfig>(r#"{"kubernetes":{"namespace":"x"}}"#).is_err()
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
