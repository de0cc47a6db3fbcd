//! The raw stage of configuration: what a TOML file or the environment may say, with the
//! defaults. Every table denies unknown keys, so a misspelt key is an error naming it
//! instead of a silently ignored setting. Values stay strings and numbers here; the
//! typed stage ([`super::Config`]) parses them.
//!
//! A role adds its section as one optional field (`issuer: Option<issuer::RawConfig>`)
//! with `#[serde(default)]`, next to the sections below.

use serde::Deserialize;

/// The whole file: top-level keys and one table per section.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawConfig {
    /// Directory for the embedded database, key files and caches.
    pub(crate) data_dir: String,
    /// `[server]`: the HTTP listener.
    pub(crate) server: RawServer,
    /// `[metrics]`: the Prometheus endpoint.
    pub(crate) metrics: RawMetrics,
    /// `[issuer]`: the OpenID4VCI credential issuer.
    pub(crate) issuer: Option<issuer::config::IssuerConfig>,
    /// `[verifier]`: the OpenID4VP relying party.
    pub(crate) verifier: Option<verifier::config::VerifierConfig>,
    /// `[attester]`: the attestation service.
    pub(crate) attester: Option<attester::config::AttesterConfig>,
}

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            data_dir: "./data".into(),
            server: RawServer::default(),
            metrics: RawMetrics::default(),
            issuer: None,
            verifier: None,
            attester: None,
        }
    }
}

/// `[server]`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawServer {
    /// `IP:port` to listen on. Default: `127.0.0.1:8080`; `127.0.0.1:5000` (the port of
    /// the deployment's NetworkPolicy) when the attester is the only role served.
    pub(crate) listen: Option<String>,
    /// Deadline for one request.
    pub(crate) request_timeout: String,
    /// Deadline for each role's readiness check in `/readyz`.
    pub(crate) readiness_timeout: String,
    /// How long to drain in-flight requests after SIGTERM.
    pub(crate) shutdown_grace: String,
    /// Largest accepted request body.
    pub(crate) body_limit_bytes: u64,
    /// How long a client may take to send a request's headers before its connection is
    /// closed.
    pub(crate) header_read_timeout: String,
    /// Most connections one client IP address may hold at once (0: no cap).
    pub(crate) max_connections_per_peer: u64,
    /// The external base URL clients reach this process at (identifiers such as the
    /// issuer's are derived from it). Default: `http://<listen>`, with the port actually
    /// bound (so `listen = "127.0.0.1:0"` works).
    pub(crate) public_url: Option<String>,
    /// Allow `http://` identifiers on loopback hosts (tests, local demos). Default: true
    /// under `--mode=all`, false otherwise.
    pub(crate) allow_http_loopback: Option<bool>,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: None,
            request_timeout: "30s".into(),
            readiness_timeout: "2s".into(),
            shutdown_grace: "10s".into(),
            body_limit_bytes: 1024 * 1024,
            header_read_timeout: "10s".into(),
            max_connections_per_peer: 128,
            public_url: None,
            allow_http_loopback: None,
        }
    }
}

/// `[metrics]`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawMetrics {
    /// Whether `/metrics` is served at all.
    pub(crate) enabled: bool,
    /// A separate `IP:port` for `/metrics`, to keep it off the public listener.
    pub(crate) listen: Option<String>,
}

impl Default for RawMetrics {
    fn default() -> Self {
        RawMetrics {
            enabled: true,
            listen: None,
        }
    }
}
