//! Layering: defaults → TOML file → `SYMBOLON_*` environment variables.
//!
//! Each layer is checked against the raw schema on its own before it is merged, so an
//! error names where the bad setting came from: the file and the key's table, or the
//! exact environment variable. Environment names map to keys by stripping `SYMBOLON_`,
//! splitting on `__` and lower-casing (`SYMBOLON_SERVER__REQUEST_TIMEOUT` →
//! `server.request_timeout`). A value is read as a TOML value when it is one (`8080`,
//! `true`, `"quoted"`, `["a", "b"]`) and as a plain string otherwise (`127.0.0.1:9000`,
//! `30s`).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use service::config::ConfigError;
use toml::{Table, Value};

use super::Config;
use service::config::Section;

/// Prefix of the environment variables that set config keys.
pub(crate) const ENV_PREFIX: &str = "SYMBOLON_";

/// Variables with the prefix that are not config keys: the binary's own flags and the
/// documented inputs of the command-line wallet. Any other `SYMBOLON_*` variable must map
/// to a config key.
pub(crate) const RESERVED_ENV: &[&str] = &[
    "SYMBOLON_MODE",
    "SYMBOLON_CONFIG",
    "SYMBOLON_LOG_FORMAT",
    "SYMBOLON_WALLET_PASSPHRASE",
    "SYMBOLON_ENGINE_TOKEN",
];

/// The configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    /// The file named by `--config` could not be read.
    #[error("cannot read config file {}", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("config file {} is not valid TOML: {message}", path.display())]
    FileSyntax { path: PathBuf, message: String },
    /// The file is TOML but a key is unknown or has the wrong type.
    #[error("config file {}: {}: {message}", path.display(), place(at))]
    FileKey {
        path: PathBuf,
        /// Dotted path of the table or key the error is about (empty: top level).
        at: String,
        message: String,
    },
    /// A `SYMBOLON_*` variable maps to no key, or its value has the wrong type.
    #[error("environment variable {var}: {}: {message}", place(at))]
    EnvKey {
        var: String,
        /// Dotted path of the key the error is about.
        at: String,
        message: String,
    },
    /// A `SYMBOLON_*` variable's name cannot be a key path.
    #[error("environment variable {var}: {reason}")]
    EnvName { var: String, reason: &'static str },
    /// A `SYMBOLON_*` variable's name or value is not UTF-8.
    #[error("environment variable {var}: not valid UTF-8")]
    EnvNotUtf8 { var: String },
    /// The merged layers do not fit the schema (a file table replaced by an env scalar).
    #[error("merged configuration: {}: {message}", place(at))]
    Merged { at: String, message: String },
    /// A value is invalid or two values contradict each other.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
}

fn place(at: &str) -> String {
    if at.is_empty() {
        "at the top level".to_owned()
    } else {
        format!("at `{at}`")
    }
}

/// Loads the configuration from the defaults, the optional file and `env` (pass
/// `std::env::vars_os()`; tests pass their own), and validates it.
pub(crate) fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<Config, LoadError> {
    Ok(load_raw(file, env)?.validated()?)
}

/// The merged configuration, every value typed but not yet validated across keys.
pub(crate) fn load_raw(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<Config, LoadError> {
    let mut merged = Table::new();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::ReadFile {
            path: path.to_owned(),
            source,
        })?;
        let table: Table = toml::from_str(&text).map_err(|e| LoadError::FileSyntax {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        check::<Config>(&table).map_err(|(at, message)| LoadError::FileKey {
            path: path.to_owned(),
            at,
            message,
        })?;
        merge(&mut merged, table);
    }
    merge(&mut merged, env_layer(env)?);
    typed::<Config>(merged).map_err(|(at, message)| LoadError::Merged { at, message })
}

/// Deserializes `table` into `T`, reporting the dotted path of the failure.
fn typed<T: DeserializeOwned>(table: Table) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(Value::Table(table)).map_err(|e| {
        let at = service::config::key_of(e.path());
        (at, e.into_inner().message().to_owned())
    })
}

fn check<T: DeserializeOwned>(table: &Table) -> Result<(), (String, String)> {
    typed::<T>(table.clone()).map(|_: T| ())
}

/// Deep merge: tables merge key by key, anything else replaces.
fn merge(base: &mut Table, overlay: Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// The environment layer as a table, every variable checked on its own.
fn env_layer(env: impl IntoIterator<Item = (OsString, OsString)>) -> Result<Table, LoadError> {
    // Sorted, so the first error reported does not depend on the environment's order.
    let mut vars = BTreeMap::new();
    for (name, value) in env {
        if !name.as_encoded_bytes().starts_with(ENV_PREFIX.as_bytes()) {
            continue;
        }
        let Some(name) = name.to_str().map(str::to_owned) else {
            return Err(LoadError::EnvNotUtf8 {
                var: name.to_string_lossy().into_owned(),
            });
        };
        if RESERVED_ENV.contains(&name.as_str()) {
            continue;
        }
        let Ok(value) = value.into_string() else {
            return Err(LoadError::EnvNotUtf8 { var: name });
        };
        vars.insert(name, value);
    }

    let mut layer = Table::new();
    for (name, value) in vars {
        let path = key_path(&name)?;
        let mut attempts = candidates(&value).into_iter().map(|v| nest(&path, v));
        // The text itself is the last reading tried and the likeliest meant (`10` for a
        // duration is a duration without its unit, not a number of the wrong type), so its
        // error is the one reported.
        let mut last_error = None;
        let table = attempts.find(|t| match check::<Config>(t) {
            Ok(()) => true,
            Err(error) => {
                last_error = Some(error);
                false
            }
        });
        match table {
            Some(table) => merge(&mut layer, table),
            None => {
                let (at, message) = last_error.unwrap_or_default();
                return Err(LoadError::EnvKey {
                    var: name,
                    at,
                    message,
                });
            }
        }
    }
    Ok(layer)
}

/// `SYMBOLON_SERVER__REQUEST_TIMEOUT` → `["server", "request_timeout"]`.
fn key_path(var: &str) -> Result<Vec<String>, LoadError> {
    let rest = var.strip_prefix(ENV_PREFIX).unwrap_or(var);
    let bad = |reason| LoadError::EnvName {
        var: var.to_owned(),
        reason,
    };
    if rest.is_empty() {
        return Err(bad("no key after the `SYMBOLON_` prefix"));
    }
    rest.split("__")
        .map(|segment| {
            let well_formed = !segment.is_empty()
                && !segment.starts_with('_')
                && !segment.ends_with('_')
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if well_formed {
                Ok(segment.to_ascii_lowercase())
            } else {
                Err(bad(
                    "not a key path: use letters, digits and `_` for key names and `__` between a table and its key",
                ))
            }
        })
        .collect()
}

/// The values a variable may stand for, in order of preference: the TOML value it
/// spells (`8080`, `true`), then the text itself.
fn candidates(text: &str) -> Vec<Value> {
    let mut out = Vec::with_capacity(2);
    if let Ok(value) = text.parse::<Value>() {
        if let Value::String(_) = value {
            // Quoted on purpose: that is the string meant.
            return vec![value];
        }
        out.push(value);
    }
    out.push(Value::String(text.to_owned()));
    out
}

/// `["server", "listen"]`, `v` → `{server = {listen = v}}`.
fn nest(path: &[String], value: Value) -> Table {
    let mut value = value;
    for segment in path.iter().skip(1).rev() {
        let mut t = Table::new();
        t.insert(segment.clone(), value);
        value = Value::Table(t);
    }
    let mut top = Table::new();
    if let Some(first) = path.first() {
        top.insert(first.clone(), value);
    }
    top
}
