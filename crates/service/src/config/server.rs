//! The process-level sections every role shares: `[server]` (the HTTP listener and its
//! limits) and `[metrics]` (the Prometheus endpoint). The binary embeds them as they are.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Section, with};
use crate::{HttpSettings, ListenerSettings};

/// The largest request body limit accepted: beyond it one request could exhaust memory.
const MAX_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// `server.listen` when not configured.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// `[server]`: the HTTP listener.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// `IP:port` to listen on; `None`: [`DEFAULT_LISTEN`], or a role's own default when it
    /// is served alone (the binary decides, see [`ServerSection::listen_or`]).
    #[serde(with = "socket_addr")]
    pub listen: Option<SocketAddr>,
    /// Deadline for one request.
    #[serde(with = "with::duration")]
    pub request_timeout: Duration,
    /// Deadline for each role's readiness check in `/readyz` (shorter than
    /// `request_timeout`).
    #[serde(with = "with::duration")]
    pub readiness_timeout: Duration,
    /// How long to drain in-flight requests after SIGTERM.
    #[serde(with = "with::duration")]
    pub shutdown_grace: Duration,
    /// Largest accepted request body (1 byte to 64 MiB).
    pub body_limit_bytes: usize,
    /// How long a client may take to send a request's headers before its connection is
    /// closed.
    #[serde(with = "with::duration")]
    pub header_read_timeout: Duration,
    /// Most connections one client IP address may hold at once (0: no cap).
    pub max_connections_per_peer: usize,
    /// The external base URL clients reach this process at (identifiers such as the
    /// issuer's are derived from it). Default: `http://<listen>`, with the port actually
    /// bound (so `listen = "127.0.0.1:0"` works). Checked against `allow_http_loopback`
    /// when the roles are planned, since that default depends on the mode.
    pub public_url: Option<String>,
    /// Allow `http://` identifiers on loopback hosts (tests, local demos). Default: true
    /// under `--mode=all`, false otherwise.
    pub allow_http_loopback: Option<bool>,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            listen: None,
            request_timeout: Duration::from_secs(30),
            readiness_timeout: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(10),
            body_limit_bytes: 1024 * 1024,
            header_read_timeout: Duration::from_secs(10),
            max_connections_per_peer: 128,
            public_url: None,
            allow_http_loopback: None,
        }
    }
}

fn positive(key: &str, d: Duration) -> Result<(), ConfigError> {
    if d.is_zero() {
        return Err(ConfigError::OutOfRange {
            key: key.to_owned(),
            value: super::show::human_duration(d),
            expected: "greater than zero",
        });
    }
    Ok(())
}

impl Section for ServerSection {
    fn validate(&mut self) -> Result<(), ConfigError> {
        positive("request_timeout", self.request_timeout)?;
        positive("readiness_timeout", self.readiness_timeout)?;
        positive("header_read_timeout", self.header_read_timeout)?;
        // `/readyz` runs under the request deadline too: a readiness deadline at or past it
        // would answer "request took too long" instead of naming the role that hangs.
        if self.readiness_timeout >= self.request_timeout {
            return Err(ConfigError::Incompatible {
                first: "readiness_timeout".into(),
                second: "request_timeout".into(),
                reason: "the readiness deadline must be shorter than the request deadline",
            });
        }
        if !(1..=MAX_BODY_LIMIT).contains(&self.body_limit_bytes) {
            return Err(ConfigError::OutOfRange {
                key: "body_limit_bytes".into(),
                value: self.body_limit_bytes.to_string(),
                expected: "between 1 and 67108864 (64 MiB)",
            });
        }
        Ok(())
    }
}

impl ServerSection {
    /// The address to listen on: the configured one, else `default`.
    pub fn listen_or(&self, default: SocketAddr) -> SocketAddr {
        self.listen.unwrap_or(default)
    }

    /// The limits the standard layers enforce.
    pub fn http(&self) -> HttpSettings {
        HttpSettings {
            request_timeout: self.request_timeout,
            body_limit: self.body_limit_bytes,
            readiness_timeout: self.readiness_timeout,
        }
    }

    /// The connection limits the listener enforces.
    pub fn listener(&self) -> ListenerSettings {
        ListenerSettings {
            header_read_timeout: self.header_read_timeout,
            max_connections_per_peer: self.max_connections_per_peer,
        }
    }
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSection {
    /// Whether `/metrics` is served at all.
    pub enabled: bool,
    /// A separate `IP:port` for `/metrics`, to keep it off the public listener.
    #[serde(with = "socket_addr")]
    pub listen: Option<SocketAddr>,
}

impl Default for MetricsSection {
    fn default() -> Self {
        MetricsSection {
            enabled: true,
            listen: None,
        }
    }
}

impl Section for MetricsSection {
    fn validate(&mut self) -> Result<(), ConfigError> {
        if !self.enabled && self.listen.is_some() {
            return Err(ConfigError::Incompatible {
                first: "enabled".into(),
                second: "listen".into(),
                reason: "a metrics listener is configured while metrics are disabled",
            });
        }
        Ok(())
    }
}

/// An optional `IP:port`. Host names are refused on purpose: a listener binds to an
/// address, and resolving a name at start-up hides which one.
mod socket_addr {
    use std::net::SocketAddr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SocketAddr>, D::Error> {
        let text = String::deserialize(d)?;
        text.trim().parse().map(Some).map_err(|_| {
            serde::de::Error::custom(format!(
                "invalid socket address {text:?}; write e.g. \"127.0.0.1:8080\" or \"[::1]:8080\""
            ))
        })
    }

    pub(super) fn serialize<S: Serializer>(
        v: &Option<SocketAddr>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(addr) => s.collect_str(addr),
            None => s.serialize_none(),
        }
    }
}
