//! The configuration of one process: defaults → TOML file → `SYMBOLON_*` environment,
//! layered by [`load()`] into [`Config`], whose sections deserialize straight into typed
//! values (the process-level `[server]` and `[metrics]` from `service`, each role's from
//! its crate), then validated once: each section's own checks
//! ([`service::config::Section`]) and the checks across sections here, naming both keys.
//! The config is passed to roles as `Arc<Config>`; there is no global.

mod load;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use service::config::{ConfigError, MetricsSection, Section, ServerSection};

pub(crate) use load::load;

/// `server.listen` when not configured and the attester is the only role: the port the
/// deployment's NetworkPolicy admits wallet engines on.
const ATTESTER_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 5000);

/// The whole file: top-level keys and one table per section. Every table refuses unknown
/// keys, so a misspelt key is an error naming it instead of a silently ignored setting.
///
/// A role adds its section as one optional field (`issuer: Option<IssuerConfig>`) and one
/// line in [`Config::validate`].
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Config {
    /// Directory for the embedded database, key files and caches.
    pub(crate) data_dir: PathBuf,
    /// `[server]`: the HTTP listener.
    pub(crate) server: ServerSection,
    /// `[metrics]`: the Prometheus endpoint.
    pub(crate) metrics: MetricsSection,
    /// `[issuer]`: the OpenID4VCI credential issuer, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) issuer: Option<issuer::config::IssuerConfig>,
    /// `[verifier]`: the OpenID4VP relying party, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) verifier: Option<verifier::config::VerifierConfig>,
    /// `[attester]`: the attestation service, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) attester: Option<attester::config::AttesterConfig>,
    /// `[engine]`: the wallet engine, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) engine: Option<engine::config::EngineConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./data"),
            server: ServerSection::default(),
            metrics: MetricsSection::default(),
            issuer: None,
            verifier: None,
            attester: None,
            engine: None,
        }
    }
}

/// A section, validated, its errors naming keys from the top (`issuer.…`).
fn section<S: Section>(section: &mut S, name: &str) -> Result<(), ConfigError> {
    section.validate().map_err(|e| e.in_section(name))
}

impl Section for Config {
    fn validate(&mut self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::OutOfRange {
                key: "data_dir".into(),
                value: "\"\"".into(),
                expected: "a non-empty path",
            });
        }
        section(&mut self.server, "server")?;
        section(&mut self.metrics, "metrics")?;
        if let Some(metrics_listen) = self.metrics.listen
            && Some(metrics_listen) == self.server.listen
            && metrics_listen.port() != 0
        {
            return Err(ConfigError::Incompatible {
                first: "metrics.listen".into(),
                second: "server.listen".into(),
                reason: "a separate metrics listener needs its own address; leave `metrics.listen` out to serve /metrics on the main listener",
            });
        }
        if let Some(s) = &mut self.issuer {
            section(s, "issuer")?;
        }
        if let Some(s) = &mut self.verifier {
            section(s, "verifier")?;
        }
        if let Some(s) = &mut self.attester {
            section(s, "attester")?;
        }
        if let Some(s) = &mut self.engine {
            section(s, "engine")?;
        }
        Ok(())
    }
}

impl Config {
    /// Settles `server.listen` when it was not configured: the attester's port 5000 when it
    /// is the only role served, else the general default. `config check` and `serve` both
    /// call it, so the printed address is the one served.
    pub(crate) fn default_listen_for(&mut self, only_role: Option<crate::mode::Role>) {
        if self.server.listen.is_none() {
            self.server.listen = Some(if only_role == Some(crate::mode::Role::Attester) {
                ATTESTER_LISTEN
            } else {
                service::config::server::DEFAULT_LISTEN
            });
        }
    }

    /// The address to listen on.
    pub(crate) fn listen(&self) -> SocketAddr {
        self.server
            .listen_or(service::config::server::DEFAULT_LISTEN)
    }

    /// The effective configuration as TOML, for `symbolon config check`. Secrets are
    /// written as `<redacted>`.
    pub(crate) fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(self)
    }
}

#[cfg(test)]
mod tests;
