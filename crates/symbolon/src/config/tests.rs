//! Layering and typed-conversion tests. The environment is passed in, never read from
//! the process, so these tests do not depend on the shell they run in.

use std::ffi::OsString;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use service::config::ConfigError;

use super::load::{LoadError, load_raw};
use super::*;

fn env(vars: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
    vars.iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect()
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn load_with(text: Option<&str>, vars: &[(&str, &str)]) -> Result<Config, LoadError> {
    let f = text.map(file);
    load(f.as_ref().map(|f| f.path()), env(vars))
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn the_attester_alone_listens_on_5000_unless_configured() {
    use crate::mode::Role;
    let mut alone = load_with(None, &[]).unwrap();
    alone.default_listen_for(Some(Role::Attester));
    assert_eq!(alone.listen(), addr("127.0.0.1:5000"));

    let mut other = load_with(None, &[]).unwrap();
    other.default_listen_for(Some(Role::Issuer));
    assert_eq!(other.listen(), addr("127.0.0.1:8080"));
    let mut several = load_with(None, &[]).unwrap();
    several.default_listen_for(None);
    assert_eq!(several.listen(), addr("127.0.0.1:8080"));

    let mut configured = load_with(None, &[("SYMBOLON_SERVER__LISTEN", "127.0.0.1:7000")]).unwrap();
    configured.default_listen_for(Some(Role::Attester));
    assert_eq!(configured.listen(), addr("127.0.0.1:7000"));
}

#[test]
fn defaults_without_file_or_environment() {
    let config = load_with(None, &[]).unwrap();
    assert_eq!(config.data_dir, Path::new("./data"));
    assert_eq!(config.listen(), addr("127.0.0.1:8080"));
    assert_eq!(config.server.request_timeout, Duration::from_secs(30));
    assert_eq!(config.server.readiness_timeout, Duration::from_secs(2));
    assert_eq!(config.server.shutdown_grace, Duration::from_secs(10));
    assert_eq!(config.server.body_limit_bytes, 1024 * 1024);
    assert!(config.metrics.enabled);
    assert_eq!(config.metrics.listen, None);
}

#[test]
fn file_overrides_defaults_key_by_key() {
    let config = load_with(
        Some("data_dir = \"/var/lib/symbolon\"\n[server]\nlisten = \"0.0.0.0:9000\"\n"),
        &[],
    )
    .unwrap();
    assert_eq!(config.data_dir, Path::new("/var/lib/symbolon"));
    assert_eq!(config.listen(), addr("0.0.0.0:9000"));
    // Keys the file leaves out keep their defaults.
    assert_eq!(config.server.request_timeout, Duration::from_secs(30));
}

#[test]
fn environment_overrides_the_file() {
    let config = load_with(
        Some("[server]\nlisten = \"0.0.0.0:9000\"\nrequest_timeout = \"5s\"\n"),
        &[("SYMBOLON_SERVER__LISTEN", "127.0.0.1:9001")],
    )
    .unwrap();
    assert_eq!(config.listen(), addr("127.0.0.1:9001"));
    assert_eq!(
        config.server.request_timeout,
        Duration::from_secs(5),
        "a key the environment does not set keeps the file's value"
    );
}

#[test]
fn environment_values_are_read_as_toml_scalars() {
    let config = load_with(
        None,
        &[
            ("SYMBOLON_SERVER__BODY_LIMIT_BYTES", "2048"),
            ("SYMBOLON_METRICS__ENABLED", "false"),
            ("SYMBOLON_SERVER__REQUEST_TIMEOUT", "\"1m\""),
        ],
    )
    .unwrap();
    assert_eq!(config.server.body_limit_bytes, 2048);
    assert!(!config.metrics.enabled);
    assert_eq!(config.server.request_timeout, Duration::from_secs(60));
}

#[test]
fn a_number_is_taken_as_text_where_the_key_wants_text() {
    let config = load_with(None, &[("SYMBOLON_DATA_DIR", "2024")]).unwrap();
    assert_eq!(config.data_dir, Path::new("2024"));
}

#[test]
fn reserved_and_foreign_variables_are_not_config_keys() {
    let config = load_with(
        None,
        &[
            ("SYMBOLON_MODE", "issuer"),
            ("SYMBOLON_CONFIG", "/etc/symbolon.toml"),
            ("SYMBOLON_LOG_FORMAT", "json"),
            ("SYMBOLON_WALLET_PASSPHRASE", "correct horse"),
            ("PATH", "/usr/bin"),
            ("RUST_LOG", "debug"),
        ],
    )
    .unwrap();
    assert_eq!(config, load_with(None, &[]).unwrap());
}

#[test]
fn rejects_unknown_key_in_file_naming_it_and_its_table() {
    let err = load_with(Some("[server]\nlistn = \"127.0.0.1:1\"\n"), &[]).unwrap_err();
    let LoadError::FileKey { at, message, .. } = &err else {
        panic!("expected FileKey, got {err:?}");
    };
    assert_eq!(at, "server.listn");
    assert!(message.contains("unknown field `listn`"), "{message}");
    let shown = err.to_string();
    assert!(shown.contains("at `server.listn`"), "{shown}");
}

#[test]
fn rejects_unknown_top_level_key_in_file() {
    let err = load_with(Some("datadir = \"x\"\n"), &[]).unwrap_err();
    assert!(
        matches!(&err, LoadError::FileKey { at, message, .. }
            if at == "datadir" && message.contains("unknown field `datadir`")),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("expected one of `data_dir`"),
        "{err}"
    );
}

#[test]
fn rejects_unknown_table_in_file() {
    let err = load_with(Some("[issuerr]\nx = 1\n"), &[]).unwrap_err();
    assert!(
        matches!(&err, LoadError::FileKey { message, .. } if message.contains("`issuerr`")),
        "{err:?}"
    );
}

#[test]
fn rejects_wrong_type_in_file_naming_the_key() {
    let err = load_with(Some("[server]\nlisten = 8080\n"), &[]).unwrap_err();
    assert!(
        matches!(&err, LoadError::FileKey { at, .. } if at == "server.listen"),
        "{err:?}"
    );
}

#[test]
fn rejects_a_file_that_is_not_toml() {
    let err = load_with(Some("[server\nlisten = "), &[]).unwrap_err();
    assert!(matches!(err, LoadError::FileSyntax { .. }), "{err:?}");
}

#[test]
fn rejects_a_missing_file() {
    let err = load(Some(Path::new("/nonexistent/symbolon.toml")), env(&[])).unwrap_err();
    assert!(matches!(err, LoadError::ReadFile { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/symbolon.toml"));
}

#[test]
fn rejects_unknown_environment_variable_naming_it() {
    let err = load_with(None, &[("SYMBOLON_SERVER__LISTN", "127.0.0.1:1")]).unwrap_err();
    assert!(
        matches!(&err, LoadError::EnvKey { var, message, .. }
            if var == "SYMBOLON_SERVER__LISTN" && message.contains("unknown field `listn`")),
        "{err:?}"
    );
    assert!(err.to_string().contains("SYMBOLON_SERVER__LISTN"));
}

#[test]
fn rejects_unknown_top_level_environment_variable() {
    let err = load_with(None, &[("SYMBOLON_LISTEN", "127.0.0.1:1")]).unwrap_err();
    assert!(
        matches!(&err, LoadError::EnvKey { var, .. } if var == "SYMBOLON_LISTEN"),
        "{err:?}"
    );
}

#[test]
fn rejects_an_environment_scalar_where_a_table_belongs() {
    let err = load_with(None, &[("SYMBOLON_SERVER", "on")]).unwrap_err();
    assert!(
        matches!(&err, LoadError::EnvKey { var, .. } if var == "SYMBOLON_SERVER"),
        "{err:?}"
    );
}

#[test]
fn rejects_a_malformed_environment_name() {
    for var in [
        "SYMBOLON_",
        "SYMBOLON_SERVER___LISTEN",
        "SYMBOLON_SERVER__",
        "SYMBOLON_SERVER__LIS-TEN",
    ] {
        let err = load_with(None, &[(var, "x")]).unwrap_err();
        assert!(
            matches!(&err, LoadError::EnvName { var: v, .. } if v == var),
            "{var}: {err:?}"
        );
    }
}

#[test]
fn rejects_a_wrongly_typed_environment_value_naming_the_variable() {
    let err = load_with(None, &[("SYMBOLON_METRICS__ENABLED", "maybe")]).unwrap_err();
    assert!(
        matches!(&err, LoadError::EnvKey { var, message, .. }
            if var == "SYMBOLON_METRICS__ENABLED" && message.contains("invalid type")),
        "{err:?}"
    );
}

#[cfg(unix)]
#[test]
fn rejects_a_non_utf8_environment_value() {
    use std::os::unix::ffi::OsStringExt;
    let vars = vec![(
        OsString::from("SYMBOLON_DATA_DIR"),
        OsString::from_vec(vec![0x66, 0xff]),
    )];
    let err = load(None, vars).unwrap_err();
    assert!(
        matches!(&err, LoadError::EnvNotUtf8 { var } if var == "SYMBOLON_DATA_DIR"),
        "{err:?}"
    );
}

#[test]
fn rejects_a_bad_duration_naming_the_key() {
    let from_file = load_with(Some("[server]\nrequest_timeout = \"soon\"\n"), &[]).unwrap_err();
    assert!(
        matches!(&from_file, LoadError::FileKey { at, message, .. }
            if at == "server.request_timeout" && message.contains("invalid duration \"soon\"")),
        "{from_file:?}"
    );
    let from_env = load_with(None, &[("SYMBOLON_SERVER__SHUTDOWN_GRACE", "10")]).unwrap_err();
    assert!(
        matches!(&from_env, LoadError::EnvKey { at, message, .. }
            if at == "server.shutdown_grace" && message.contains("invalid duration \"10\"")),
        "{from_env:?}"
    );
    assert!(from_env.to_string().contains("server.shutdown_grace"));
}

#[test]
fn rejects_a_bad_listen_address_naming_the_key() {
    let err = load_with(None, &[("SYMBOLON_SERVER__LISTEN", "localhost")]).unwrap_err();
    assert!(
        matches!(&err, LoadError::EnvKey { at, message, .. }
            if at == "server.listen" && message.contains("invalid socket address")),
        "{err:?}"
    );
}

#[test]
fn rejects_metrics_listener_on_the_server_address_naming_both() {
    let err = load_with(
        Some("[server]\nlisten = \"127.0.0.1:9000\"\n[metrics]\nlisten = \"127.0.0.1:9000\"\n"),
        &[],
    )
    .unwrap_err();
    assert!(
        matches!(&err, LoadError::Invalid(ConfigError::Incompatible { first, second, .. })
            if first == "metrics.listen" && second == "server.listen"),
        "{err:?}"
    );
    let shown = err.to_string();
    assert!(shown.contains("metrics.listen") && shown.contains("server.listen"));
}

#[test]
fn rejects_metrics_listener_while_metrics_are_disabled() {
    let err = load_with(
        None,
        &[
            ("SYMBOLON_METRICS__ENABLED", "false"),
            ("SYMBOLON_METRICS__LISTEN", "127.0.0.1:9100"),
        ],
    )
    .unwrap_err();
    assert!(
        matches!(&err, LoadError::Invalid(ConfigError::Incompatible { first, second, .. })
            if first == "metrics.enabled" && second == "metrics.listen"),
        "{err:?}"
    );
}

#[test]
fn rejects_readiness_deadline_not_below_request_deadline() {
    let err = load_with(
        Some("[server]\nrequest_timeout = \"2s\"\nreadiness_timeout = \"2s\"\n"),
        &[],
    )
    .unwrap_err();
    assert!(
        matches!(&err, LoadError::Invalid(ConfigError::Incompatible { first, second, .. })
            if first == "server.readiness_timeout" && second == "server.request_timeout"),
        "{err:?}"
    );
}

#[test]
fn rejects_a_zero_body_limit() {
    let err = load_with(None, &[("SYMBOLON_SERVER__BODY_LIMIT_BYTES", "0")]).unwrap_err();
    assert!(
        matches!(&err, LoadError::Invalid(ConfigError::OutOfRange { key, .. })
            if key == "server.body_limit_bytes"),
        "{err:?}"
    );
}

#[test]
fn rejects_an_empty_data_dir() {
    let err = load_with(Some("data_dir = \"\"\n"), &[]).unwrap_err();
    assert!(
        matches!(&err, LoadError::Invalid(ConfigError::OutOfRange { key, .. }) if key == "data_dir"),
        "{err:?}"
    );
}

#[test]
fn merged_raw_layers_keep_unrelated_keys() {
    let f = file("[server]\nrequest_timeout = \"5s\"\n[metrics]\nenabled = false\n");
    let raw = load_raw(
        Some(f.path()),
        env(&[("SYMBOLON_SERVER__LISTEN", "127.0.0.1:1")]),
    )
    .unwrap();
    assert_eq!(raw.server.listen, Some(addr("127.0.0.1:1")));
    assert_eq!(raw.server.request_timeout, Duration::from_secs(5));
    assert!(!raw.metrics.enabled);
}

#[test]
fn printed_effective_config_loads_back_to_the_same_config() {
    let config = load_with(
        Some("[server]\nlisten = \"0.0.0.0:9000\"\nrequest_timeout = \"1h 30m\"\n[metrics]\nlisten = \"127.0.0.1:9100\"\n"),
        &[],
    )
    .unwrap();
    let printed = config.to_toml().unwrap();
    assert!(
        printed.contains("request_timeout = \"1h 30m\""),
        "{printed}"
    );
    assert_eq!(load_with(Some(&printed), &[]).unwrap(), config);
}

#[test]
fn issue10_listener_limits_default_and_are_configurable() {
    let config = load_with(None, &[]).unwrap();
    assert_eq!(
        config.server.listener(),
        service::ListenerSettings {
            header_read_timeout: Duration::from_secs(10),
            max_connections_per_peer: 128,
        }
    );
    let config = load_with(
        Some("[server]\nheader_read_timeout = \"2s\"\n"),
        &[("SYMBOLON_SERVER__MAX_CONNECTIONS_PER_PEER", "0")],
    )
    .unwrap();
    assert_eq!(config.server.header_read_timeout, Duration::from_secs(2));
    assert_eq!(config.server.max_connections_per_peer, 0);
}

#[test]
fn rejects_a_zero_header_read_timeout_naming_the_key() {
    let err = load_with(None, &[("SYMBOLON_SERVER__HEADER_READ_TIMEOUT", "0s")]).unwrap_err();
    assert!(
        matches!(&err, LoadError::Invalid(ConfigError::OutOfRange { key, .. })
            if key == "server.header_read_timeout"),
        "{err:?}"
    );
}
