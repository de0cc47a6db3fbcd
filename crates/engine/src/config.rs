//! The `[engine]` configuration section: [`EngineConfig`] deserializes straight into typed
//! values (URLs as text checked here, paths, durations, permission and policy enums;
//! unknown keys refused), with the defaults in its `Default`, and
//! [`EngineConfig::validate`] checks what one value alone cannot say, naming the key at
//! fault.
//!
//! Defaults that depend on how the process runs stay `None` here and are resolved by the
//! role builder (`crates/symbolon/src/roles/engine.rs`): under `--mode=all` the attester is
//! the one of the same process with `dev` evidence, anonymous sessions may receive and
//! present, and the outbound client may reach `http://` issuers and verifiers on loopback;
//! alone, `attester_url` is required, evidence is `kubernetes`, anonymous sessions are
//! refused and outbound calls go to public addresses only.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
pub use service::config::Section;
use service::config::{ConfigError, with};
use wallet_protocol::limits;

use crate::auth::Permissions;

/// The engine's `client_id` towards the attester when none is configured.
pub const DEFAULT_CLIENT_ID: &str = "symbolon-engine";
/// The session JWT audience when none is configured.
pub const DEFAULT_AUDIENCE: &str = "symbolon-engine";
/// Where the engine's pod finds its service-account token projected for the attester's
/// audience (deploy/engine).
pub const DEFAULT_TOKEN_FILE: &str = "/var/run/secrets/symbolon/attester/token";
/// Smallest `outbound.max_body`: issuer metadata alone is larger.
const MIN_BODY: usize = 16 * 1024;
/// Largest `outbound.max_body`.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Longest `outbound.timeout`: a flow as a whole has five minutes.
const MAX_TIMEOUT: Duration = Duration::from_secs(120);

/// `[engine]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Base URL of the attester the engine gets its own client attestation from;
    /// required unless `--mode=all` (the attester of the same process).
    pub attester_url: Option<String>,
    /// The attester identifier (its `iss`); default: `attester_url` (under `--mode=all`,
    /// the local attester's identifier).
    pub attester_id: Option<String>,
    /// The engine's `client_id` towards the attester (the attestation's `sub`).
    pub client_id: String,
    /// The evidence the engine proves itself with; default: `kubernetes`, `dev` under
    /// `--mode=all`.
    pub evidence: Option<Evidence>,
    /// The service-account token projected for the attester's audience (read before each
    /// attestation request; the kubelet rotates it). Used with `evidence = "kubernetes"`.
    pub token_file: PathBuf,
    /// `[engine.app_tokens]`: how clients authenticate.
    pub app_tokens: AppTokensConfig,
    /// `[engine.trust]`: which issuers and verifiers flows may talk to.
    pub trust: TrustConfig,
    /// `[engine.outbound]`: the SSRF-guarded client of the flows.
    pub outbound: OutboundConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            attester_url: None,
            attester_id: None,
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            evidence: None,
            token_file: PathBuf::from(DEFAULT_TOKEN_FILE),
            app_tokens: AppTokensConfig::default(),
            trust: TrustConfig::default(),
            outbound: OutboundConfig::default(),
        }
    }
}

/// The evidence of the engine's own attestation.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Evidence {
    /// The projected service-account token in `token_file` (Kubernetes TokenReview).
    Kubernetes,
    /// Development evidence, accepted only by attesters configured for it.
    Dev,
}

/// A permission an anonymous session gets.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Receive credentials (OpenID4VCI flows).
    Receive,
    /// Present credentials (OpenID4VP flows).
    Present,
}

/// [`Permissions`] from a configured list.
pub fn permissions(list: &[Permission]) -> Permissions {
    Permissions {
        receive: list.contains(&Permission::Receive),
        present: list.contains(&Permission::Present),
    }
}

/// `[engine.app_tokens]`: session JWTs from the auth role, and anonymous sessions.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct AppTokensConfig {
    /// JWK Set (public keys, each with a `kid`) the session JWTs are signed with.
    pub jwks_file: Option<PathBuf>,
    /// The auth role's JWK Set URL (its `/.well-known/jwks.json`), fetched and refreshed
    /// (every 5 min, and when a token names a key not seen yet): the keys rotate without a
    /// restart. An operator-configured address, so it may be in-cluster (private, plain
    /// http behind a NetworkPolicy). Exclusive with `jwks_file`.
    pub jwks_url: Option<String>,
    /// Required `iss` of session JWTs; absent: not checked.
    pub issuer: Option<String>,
    /// Required `aud` of session JWTs.
    pub audience: String,
    /// What an anonymous session (`app_token = "anonymous"`) may do; an empty list refuses
    /// anonymous sessions. Default: empty, both permissions under `--mode=all`.
    pub anonymous: Option<Vec<Permission>>,
}

impl Default for AppTokensConfig {
    fn default() -> Self {
        AppTokensConfig {
            jwks_file: None,
            jwks_url: None,
            issuer: None,
            audience: DEFAULT_AUDIENCE.to_owned(),
            anonymous: None,
        }
    }
}

/// `[engine.trust]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct TrustConfig {
    /// Credential issuers flows may receive from: `"any"` or a list of credential issuer
    /// identifiers.
    pub issuers: Issuers,
    /// PEM file of the CA certificates signed presentation requests must chain to;
    /// absent: only unsigned requests are answered.
    pub verifier_anchors: Option<PathBuf>,
    /// Accept `http://` issuer and verifier identifiers on loopback; default: only under
    /// `--mode=all`.
    pub allow_http_loopback: Option<bool>,
}

/// `trust.issuers`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Issuers {
    /// Any issuer whose metadata and credentials verify (the user decides).
    #[default]
    Any,
    /// Only these credential issuer identifiers.
    Only(Vec<String>),
}

impl From<&Issuers> for wallet::IssuerTrust {
    fn from(value: &Issuers) -> Self {
        match value {
            Issuers::Any => wallet::IssuerTrust::Any,
            Issuers::Only(list) => wallet::IssuerTrust::Only(list.clone()),
        }
    }
}

impl Serialize for Issuers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Issuers::Any => s.serialize_str("any"),
            Issuers::Only(list) => s.collect_seq(list),
        }
    }
}

impl<'de> Deserialize<'de> for Issuers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            List(Vec<String>),
        }
        let expected = "must be \"any\" or a non-empty list of credential issuer identifiers";
        match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom(format!("the value is out of range: {expected}"))
        })? {
            Raw::Word(w) if w == "any" => Ok(Issuers::Any),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "{w:?} is out of range: {expected}"
            ))),
            Raw::List(list) if list.is_empty() => Err(serde::de::Error::custom(format!(
                "an empty list is out of range: {expected}"
            ))),
            Raw::List(list) => Ok(Issuers::Only(list)),
        }
    }
}

/// `outbound.address_policy`: which destinations the flows' outbound calls may reach.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AddressPolicy {
    /// Public addresses only (production).
    PublicOnly,
    /// Public addresses, loopback and private networks.
    AllowPrivate,
    /// Public addresses and loopback (the one-machine demo); enables `http://` to loopback.
    AllowLoopback,
}

impl From<AddressPolicy> for http_client::AddressPolicy {
    fn from(value: AddressPolicy) -> Self {
        match value {
            AddressPolicy::PublicOnly => http_client::AddressPolicy::PublicOnly,
            AddressPolicy::AllowPrivate => http_client::AddressPolicy::AllowPrivate,
            AddressPolicy::AllowLoopback => http_client::AddressPolicy::AllowLoopback,
        }
    }
}

/// `[engine.outbound]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundConfig {
    /// Destinations allowed; default: `public_only`, `allow_loopback` under `--mode=all`.
    pub address_policy: Option<AddressPolicy>,
    /// One outbound request, connect to last body byte.
    #[serde(with = "with::positive_duration")]
    pub timeout: Duration,
    /// Largest response body read, in bytes.
    pub max_body: usize,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            address_policy: None,
            timeout: limits::OUTBOUND_HTTP_TIMEOUT,
            max_body: limits::OUTBOUND_HTTP_MAX_BYTES,
        }
    }
}

fn out_of_range(key: &str, value: impl std::fmt::Display, expected: &'static str) -> ConfigError {
    ConfigError::OutOfRange {
        key: key.to_owned(),
        value: value.to_string(),
        expected,
    }
}

/// An absolute `http(s)` URL without query, fragment or user info. The attester is an
/// operator-configured in-cluster address, often plain `http` behind a NetworkPolicy, so
/// the scheme is not restricted further here.
fn check_url(key: &str, value: &str) -> Result<(), ConfigError> {
    let bad = || {
        out_of_range(
            key,
            format!("{value:?}"),
            "an absolute http(s) URL with a host and without query, fragment or user info",
        )
    };
    let url = url::Url::parse(value).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(bad());
    }
    Ok(())
}

/// A non-empty identifier of printable ASCII, at most 256 bytes (`client_id`, `aud`).
fn check_name(key: &str, value: &str) -> Result<(), ConfigError> {
    if value.is_empty() || value.len() > 256 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(out_of_range(
            key,
            format!("{value:?}"),
            "1 to 256 printable ASCII characters without spaces",
        ));
    }
    Ok(())
}

impl Section for EngineConfig {
    fn validate(&mut self) -> Result<(), ConfigError> {
        if let Some(url) = &self.attester_url {
            check_url("attester_url", url)?;
        }
        if let Some(id) = &self.attester_id {
            check_url("attester_id", id)?;
        }
        check_name("client_id", &self.client_id)?;
        if self.evidence != Some(Evidence::Dev) && self.token_file.as_os_str().is_empty() {
            return Err(out_of_range(
                "token_file",
                "\"\"",
                "the path of the projected service-account token",
            ));
        }

        let tokens = &mut self.app_tokens;
        check_name("app_tokens.audience", &tokens.audience)?;
        if let Some(issuer) = &tokens.issuer {
            check_name("app_tokens.issuer", issuer)?;
        }
        if let Some(url) = &tokens.jwks_url {
            check_url("app_tokens.jwks_url", url)?;
            if tokens.jwks_file.is_some() {
                return Err(out_of_range(
                    "app_tokens.jwks_url",
                    format!("{url:?}"),
                    "not together with `app_tokens.jwks_file`: the session keys come from one place",
                ));
            }
        }
        if let Some(list) = &mut tokens.anonymous {
            list.sort_unstable();
            list.dedup();
            if list.is_empty() && tokens.jwks_file.is_none() && tokens.jwks_url.is_none() {
                return Err(ConfigError::Missing {
                    key: "app_tokens.jwks_file".into(),
                    reason: "with `engine.app_tokens.anonymous = []` no client could open a session: configure the auth role's JWK Set, or allow anonymous sessions",
                });
            }
        }

        if let Issuers::Only(list) = &mut self.trust.issuers {
            for issuer in list.iter() {
                check_url("trust.issuers", issuer)?;
            }
            list.sort_unstable();
            list.dedup();
        }
        if self.trust.allow_http_loopback == Some(true)
            && self.outbound.address_policy == Some(AddressPolicy::PublicOnly)
        {
            return Err(ConfigError::Incompatible {
                first: "trust.allow_http_loopback".into(),
                second: "outbound.address_policy".into(),
                reason: "`public_only` refuses every loopback address, so `http://` loopback issuers and verifiers could never be reached: use `allow_loopback`",
            });
        }
        let outbound = &self.outbound;
        if outbound.timeout > MAX_TIMEOUT {
            return Err(out_of_range(
                "outbound.timeout",
                format!(
                    "{:?}",
                    service::config::show::human_duration(outbound.timeout)
                ),
                "at most 2m",
            ));
        }
        if !(MIN_BODY..=MAX_BODY).contains(&outbound.max_body) {
            return Err(out_of_range(
                "outbound.max_body",
                outbound.max_body,
                "between 16384 (16 KiB) and 16777216 (16 MiB) bytes",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<EngineConfig, ConfigError> {
        let table: toml::Table = toml::from_str(text).unwrap();
        let config: EngineConfig = service::config::deserialize(table)?;
        config.validated()
    }

    #[test]
    fn issue12_defaults_are_the_documented_values() {
        let c = read("").unwrap();
        assert_eq!(c.client_id, "symbolon-engine");
        assert_eq!(c.app_tokens.audience, "symbolon-engine");
        assert_eq!(c.token_file, PathBuf::from(DEFAULT_TOKEN_FILE));
        assert_eq!(c.trust.issuers, Issuers::Any);
        assert_eq!(c.outbound.timeout, Duration::from_secs(10));
        assert_eq!(c.outbound.max_body, 1024 * 1024);
        assert_eq!(c.app_tokens.anonymous, None);
        assert_eq!(c.outbound.address_policy, None);
    }

    #[test]
    fn issue12_reads_every_key() {
        let c = read(
            r#"
attester_url = "http://cvm-attester.cvm-security.svc:5000"
attester_id = "https://attester.example"
client_id = "engine-1"
evidence = "kubernetes"
token_file = "/run/token"
[app_tokens]
jwks_file = "/etc/auth/jwks.json"
issuer = "https://auth.example"
audience = "wallet-engine"
anonymous = ["present", "receive", "present"]
[trust]
issuers = ["https://issuer.example", "https://issuer.example"]
verifier_anchors = "/etc/anchors.pem"
allow_http_loopback = false
[outbound]
address_policy = "allow_private"
timeout = "5s"
max_body = 65536
"#,
        )
        .unwrap();
        assert_eq!(c.evidence, Some(Evidence::Kubernetes));
        assert_eq!(
            c.app_tokens.anonymous,
            Some(vec![Permission::Receive, Permission::Present])
        );
        assert_eq!(
            permissions(c.app_tokens.anonymous.as_deref().unwrap()),
            Permissions::ALL
        );
        assert_eq!(
            c.trust.issuers,
            Issuers::Only(vec!["https://issuer.example".into()])
        );
        assert_eq!(
            http_client::AddressPolicy::from(c.outbound.address_policy.unwrap()),
            http_client::AddressPolicy::AllowPrivate
        );
        assert_eq!(c.outbound.timeout, Duration::from_secs(5));
        // What `config check` prints reads back to the same section.
        let printed = toml::to_string(&c).unwrap();
        assert_eq!(read(&printed).unwrap(), c, "{printed}");
    }

    #[test]
    fn issue12_a_jwk_set_url_is_one_source_of_session_keys() {
        let c = read(
            "[app_tokens]\nanonymous = []\njwks_url = \"http://auth.symbolon.svc:8080/.well-known/jwks.json\"\n",
        )
        .unwrap();
        assert!(c.app_tokens.jwks_url.is_some());
        let both = read(
            "[app_tokens]\njwks_file = \"k.json\"\njwks_url = \"https://auth.example/jwks\"\n",
        )
        .unwrap_err();
        assert_eq!(both.key(), "app_tokens.jwks_url", "{both}");
        let bad = read("[app_tokens]\njwks_url = \"file:///etc/jwks.json\"\n").unwrap_err();
        assert_eq!(bad.key(), "app_tokens.jwks_url", "{bad}");
    }

    #[test]
    fn issue12_rejects_anonymous_off_without_a_jwk_set_naming_the_key() {
        let e = read("[app_tokens]\nanonymous = []\n").unwrap_err();
        assert_eq!(e.key(), "app_tokens.jwks_file", "{e}");
        assert!(read("[app_tokens]\nanonymous = []\njwks_file = \"k.json\"\n").is_ok());
    }

    #[test]
    fn issue12_rejects_bad_values_naming_the_key() {
        for (text, key) in [
            ("attester_url = \"not a url\"", "attester_url"),
            ("attester_url = \"ftp://a.example\"", "attester_url"),
            ("attester_url = \"https://u:p@a.example\"", "attester_url"),
            ("attester_id = \"https://a.example/?x=1\"", "attester_id"),
            ("client_id = \"\"", "client_id"),
            ("client_id = \"two words\"", "client_id"),
            ("evidence = \"tpm\"", "evidence"),
            ("token_file = \"\"", "token_file"),
            ("[app_tokens]\naudience = \"\"", "app_tokens.audience"),
            (
                "[app_tokens]\nanonymous = [\"store\"]",
                "app_tokens.anonymous",
            ),
            ("[app_tokens]\nissuer = \"\"", "app_tokens.issuer"),
            ("[trust]\nissuers = \"all\"", "trust.issuers"),
            ("[trust]\nissuers = []", "trust.issuers"),
            ("[trust]\nissuers = [\"issuer.example\"]", "trust.issuers"),
            (
                "[outbound]\naddress_policy = \"anything\"",
                "outbound.address_policy",
            ),
            ("[outbound]\ntimeout = \"0s\"", "outbound.timeout"),
            ("[outbound]\ntimeout = \"10m\"", "outbound.timeout"),
            ("[outbound]\nmax_body = 10", "outbound.max_body"),
            ("[outbound]\nmax_body = 1073741824", "outbound.max_body"),
            ("[outbound]\nproxy = \"x\"", "outbound"),
        ] {
            let e = read(text).unwrap_err();
            assert!(e.key().starts_with(key), "{text}: {e}");
        }
    }

    #[test]
    fn issue12_rejects_http_loopback_trust_with_a_public_only_client_naming_both() {
        let e = read(
            "[trust]\nallow_http_loopback = true\n[outbound]\naddress_policy = \"public_only\"\n",
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("trust.allow_http_loopback") && text.contains("outbound.address_policy"),
            "{text}"
        );
    }
}
