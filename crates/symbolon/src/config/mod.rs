//! Configuration in two stages: [`raw`] (serde, defaults → TOML file → `SYMBOLON_*`
//! environment, layered by [`load()`]) and the typed [`Config`] built from it with
//! `TryFrom`, which parses every value once and rejects contradictory options naming
//! both keys. The typed config is passed to roles as `Arc<Config>`; there is no global.

mod load;
pub(crate) mod raw;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use service::config::{ConfigError, Section, duration, positive_duration, show, socket_addr};
use service::{HttpSettings, ListenerSettings};

pub(crate) use load::load;
use raw::{RawConfig, RawMetrics, RawServer};

/// The largest request body limit accepted: beyond it one request could exhaust memory.
const MAX_BODY_LIMIT: u64 = 64 * 1024 * 1024;

/// `server.listen` when not configured.
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// `server.listen` when not configured and the attester is the only role: the port the
/// deployment's NetworkPolicy admits wallet engines on.
const ATTESTER_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5000);

impl ServerConfig {
    /// Applies the listen address of a role served alone when none was configured: the
    /// attester's is port 5000; every other role keeps the general default.
    pub(crate) fn default_listen_for(&mut self, only_role: Option<crate::mode::Role>) {
        if self.listen_defaulted && only_role == Some(crate::mode::Role::Attester) {
            self.listen = ATTESTER_LISTEN;
        }
    }
}

/// The typed configuration of one process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Config {
    /// Directory for the embedded database, key files and caches.
    pub(crate) data_dir: PathBuf,
    /// `[server]`.
    pub(crate) server: ServerConfig,
    /// `[metrics]`.
    pub(crate) metrics: MetricsConfig,
    /// `[issuer]`, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) issuer: Option<issuer::config::IssuerConfig>,
    /// `[verifier]`, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) verifier: Option<verifier::config::VerifierConfig>,
    /// `[attester]`, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) attester: Option<attester::config::AttesterConfig>,
}

/// `[server]`, parsed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct ServerConfig {
    pub(crate) listen: SocketAddr,
    /// `listen` was not configured: [`ServerConfig::listen`] holds the general default,
    /// which [`ServerConfig::default_listen_for`] may replace with a role's own.
    #[serde(skip)]
    pub(crate) listen_defaulted: bool,
    #[serde(serialize_with = "show::duration")]
    pub(crate) request_timeout: Duration,
    #[serde(serialize_with = "show::duration")]
    pub(crate) readiness_timeout: Duration,
    #[serde(serialize_with = "show::duration")]
    pub(crate) shutdown_grace: Duration,
    pub(crate) body_limit_bytes: usize,
    #[serde(serialize_with = "show::duration")]
    pub(crate) header_read_timeout: Duration,
    pub(crate) max_connections_per_peer: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) public_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) allow_http_loopback: Option<bool>,
}

impl ServerConfig {
    /// The limits the standard layers enforce.
    pub(crate) fn http(&self) -> HttpSettings {
        HttpSettings {
            request_timeout: self.request_timeout,
            body_limit: self.body_limit_bytes,
            readiness_timeout: self.readiness_timeout,
        }
    }

    /// The connection limits the listener enforces.
    pub(crate) fn listener(&self) -> ListenerSettings {
        ListenerSettings {
            header_read_timeout: self.header_read_timeout,
            max_connections_per_peer: self.max_connections_per_peer,
        }
    }
}

/// `[metrics]`, parsed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct MetricsConfig {
    pub(crate) enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) listen: Option<SocketAddr>,
}

impl TryFrom<RawConfig> for Config {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<Self, ConfigError> {
        if raw.data_dir.trim().is_empty() {
            return Err(ConfigError::OutOfRange {
                key: "data_dir".into(),
                value: format!("{:?}", raw.data_dir),
                expected: "a non-empty path",
            });
        }
        let server = ServerConfig::try_from(raw.server).map_err(|e| e.in_section("server"))?;
        let metrics = MetricsConfig::try_from(raw.metrics).map_err(|e| e.in_section("metrics"))?;
        if let Some(metrics_listen) = metrics.listen
            && metrics_listen == server.listen
            && metrics_listen.port() != 0
        {
            return Err(ConfigError::Incompatible {
                first: "metrics.listen".into(),
                second: "server.listen".into(),
                reason: "a separate metrics listener needs its own address; leave `metrics.listen` out to serve /metrics on the main listener",
            });
        }
        let issuer = section(raw.issuer, "issuer")?;
        let verifier = section(raw.verifier, "verifier")?;
        let attester = section(raw.attester, "attester")?;
        Ok(Config {
            data_dir: PathBuf::from(raw.data_dir),
            server,
            metrics,
            issuer,
            verifier,
            attester,
        })
    }
}

/// A role's section, validated, its errors naming keys from the top (`issuer.…`).
fn section<S: Section>(section: Option<S>, name: &str) -> Result<Option<S>, ConfigError> {
    section
        .map(Section::validated)
        .transpose()
        .map_err(|e| e.in_section(name))
}

impl TryFrom<RawServer> for ServerConfig {
    type Error = ConfigError;

    fn try_from(raw: RawServer) -> Result<Self, ConfigError> {
        let request_timeout = positive_duration("request_timeout", &raw.request_timeout)?;
        let readiness_timeout = positive_duration("readiness_timeout", &raw.readiness_timeout)?;
        // `/readyz` runs under the request deadline too: a readiness deadline at or past it
        // would answer "request took too long" instead of naming the role that hangs.
        if readiness_timeout >= request_timeout {
            return Err(ConfigError::Incompatible {
                first: "readiness_timeout".into(),
                second: "request_timeout".into(),
                reason: "the readiness deadline must be shorter than the request deadline",
            });
        }
        if raw.body_limit_bytes == 0 || raw.body_limit_bytes > MAX_BODY_LIMIT {
            return Err(ConfigError::OutOfRange {
                key: "body_limit_bytes".into(),
                value: raw.body_limit_bytes.to_string(),
                expected: "between 1 and 67108864 (64 MiB)",
            });
        }
        let header_read_timeout =
            positive_duration("header_read_timeout", &raw.header_read_timeout)?;
        let max_connections_per_peer =
            usize::try_from(raw.max_connections_per_peer).map_err(|_| ConfigError::OutOfRange {
                key: "max_connections_per_peer".into(),
                value: raw.max_connections_per_peer.to_string(),
                expected: "addressable on this platform",
            })?;
        Ok(ServerConfig {
            listen: socket_addr("listen", raw.listen.as_deref().unwrap_or(DEFAULT_LISTEN))?,
            listen_defaulted: raw.listen.is_none(),
            request_timeout,
            readiness_timeout,
            shutdown_grace: duration("shutdown_grace", &raw.shutdown_grace)?,
            body_limit_bytes: usize::try_from(raw.body_limit_bytes).map_err(|_| {
                ConfigError::OutOfRange {
                    key: "body_limit_bytes".into(),
                    value: raw.body_limit_bytes.to_string(),
                    expected: "addressable on this platform",
                }
            })?,
            header_read_timeout,
            max_connections_per_peer,
            // Checked against `allow_http_loopback` when a role derives its base URL from it,
            // since the default for that flag depends on the mode being served.
            public_url: raw.public_url,
            allow_http_loopback: raw.allow_http_loopback,
        })
    }
}

impl TryFrom<RawMetrics> for MetricsConfig {
    type Error = ConfigError;

    fn try_from(raw: RawMetrics) -> Result<Self, ConfigError> {
        let listen = raw
            .listen
            .as_deref()
            .map(|l| socket_addr("listen", l))
            .transpose()?;
        if !raw.enabled && listen.is_some() {
            return Err(ConfigError::Incompatible {
                first: "enabled".into(),
                second: "listen".into(),
                reason: "a metrics listener is configured while metrics are disabled",
            });
        }
        Ok(MetricsConfig {
            enabled: raw.enabled,
            listen,
        })
    }
}

impl Config {
    /// The effective configuration as TOML, for `symbolon config check`. Secrets are
    /// written as `<redacted>` (each secret field opts in with `show::redacted`).
    pub(crate) fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(self)
    }
}

#[cfg(test)]
mod tests;
