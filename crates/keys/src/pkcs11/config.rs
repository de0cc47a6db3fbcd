//! Configuration of a PKCS#11 key: which module, which token, the user PIN's source and the
//! key's label, in a raw (serde) and a typed form.
//!
//! ```toml
//! [attester.pkcs11]
//! module = "/usr/lib/softhsm/libsofthsm2.so"
//! token_label = "IMMERSE"          # default
//! pin = { env = "ATTESTER_HSM_PIN" } # or { file = "/run/secrets/hsm-pin" }
//! key_label = "A-Key"              # default
//! max_sessions = 4                 # default: sessions signing in parallel
//! ```

use crate::secret::{RawSecretSource, SecretError, SecretSource};
use serde::Deserialize;
use std::path::PathBuf;

/// The token label used when none is configured.
pub const DEFAULT_TOKEN_LABEL: &str = "IMMERSE";
/// The key label used when none is configured (the attester's A-Key).
pub const DEFAULT_KEY_LABEL: &str = "A-Key";
/// Sessions opened at most per token when not configured.
pub const DEFAULT_MAX_SESSIONS: usize = 4;
/// Upper bound for `max_sessions`.
pub const MAX_SESSIONS_LIMIT: usize = 256;
/// A token label is at most 32 bytes (`CK_TOKEN_INFO.label`).
pub const MAX_TOKEN_LABEL: usize = 32;
/// Longest key label accepted.
pub const MAX_KEY_LABEL: usize = 128;

/// A PKCS#11 key's configuration (typed). Serialized as the table it is read from (the
/// PIN as where it is read, never its value).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(try_from = "RawPkcs11Config")]
pub struct Pkcs11Config {
    /// Path of the PKCS#11 module (shared library).
    pub module: PathBuf,
    /// Label of the token (the slot is found by it: slot ids are not stable).
    pub token_label: String,
    /// Where the user PIN is read.
    pub pin: SecretSource,
    /// Label of the key pair.
    pub key_label: String,
    /// Sessions opened at most, i.e. signatures computed in parallel.
    pub max_sessions: usize,
}

impl Pkcs11Config {
    /// A configuration with the default token label, key label and session bound.
    pub fn new(module: impl Into<PathBuf>, pin: SecretSource) -> Self {
        Pkcs11Config {
            module: module.into(),
            token_label: DEFAULT_TOKEN_LABEL.to_owned(),
            pin,
            key_label: DEFAULT_KEY_LABEL.to_owned(),
            max_sessions: DEFAULT_MAX_SESSIONS,
        }
    }

    /// Sets the token label.
    #[must_use]
    pub fn with_token_label(mut self, label: impl Into<String>) -> Self {
        self.token_label = label.into();
        self
    }

    /// Sets the key label.
    #[must_use]
    pub fn with_key_label(mut self, label: impl Into<String>) -> Self {
        self.key_label = label.into();
        self
    }

    /// Sets the session bound.
    #[must_use]
    pub fn with_max_sessions(mut self, n: usize) -> Self {
        self.max_sessions = n;
        self
    }
}

/// The raw form of [`Pkcs11Config`] (a configuration table; unknown keys refused).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPkcs11Config {
    /// Module path (required).
    pub module: Option<String>,
    /// Token label (default `IMMERSE`).
    pub token_label: Option<String>,
    /// User PIN source (required).
    pub pin: Option<RawSecretSource>,
    /// Key label (default `A-Key`).
    pub key_label: Option<String>,
    /// Session bound (default 4).
    pub max_sessions: Option<usize>,
}

/// Why a PKCS#11 configuration is not usable.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs11ConfigError {
    /// `module` is missing or empty.
    #[error("`pkcs11.module` (path of the PKCS#11 library) is required")]
    MissingModule,
    /// `pin` is missing.
    #[error("`pkcs11.pin` (`{{ file = … }}` or `{{ env = … }}`) is required")]
    MissingPin,
    /// `pin` is malformed.
    #[error("`pkcs11.pin`: {0}")]
    Pin(#[from] SecretError),
    /// The token label is empty or longer than 32 bytes.
    #[error("`pkcs11.token_label` `{0}` must be 1 to {MAX_TOKEN_LABEL} bytes")]
    BadTokenLabel(String),
    /// The key label is empty or too long.
    #[error("`pkcs11.key_label` `{0}` must be 1 to {MAX_KEY_LABEL} bytes")]
    BadKeyLabel(String),
    /// `max_sessions` is zero or too large.
    #[error("`pkcs11.max_sessions` {0} must be 1 to {MAX_SESSIONS_LIMIT}")]
    BadMaxSessions(usize),
}

impl TryFrom<RawPkcs11Config> for Pkcs11Config {
    type Error = Pkcs11ConfigError;

    fn try_from(raw: RawPkcs11Config) -> Result<Self, Pkcs11ConfigError> {
        let module = raw
            .module
            .filter(|m| !m.is_empty())
            .ok_or(Pkcs11ConfigError::MissingModule)?;
        let pin = SecretSource::try_from(raw.pin.ok_or(Pkcs11ConfigError::MissingPin)?)?;
        let token_label = raw
            .token_label
            .unwrap_or_else(|| DEFAULT_TOKEN_LABEL.to_owned());
        if token_label.is_empty() || token_label.len() > MAX_TOKEN_LABEL {
            return Err(Pkcs11ConfigError::BadTokenLabel(token_label));
        }
        let key_label = raw
            .key_label
            .unwrap_or_else(|| DEFAULT_KEY_LABEL.to_owned());
        if key_label.is_empty() || key_label.len() > MAX_KEY_LABEL {
            return Err(Pkcs11ConfigError::BadKeyLabel(key_label));
        }
        let max_sessions = raw.max_sessions.unwrap_or(DEFAULT_MAX_SESSIONS);
        if !(1..=MAX_SESSIONS_LIMIT).contains(&max_sessions) {
            return Err(Pkcs11ConfigError::BadMaxSessions(max_sessions));
        }
        Ok(Pkcs11Config {
            module: module.into(),
            token_label,
            pin,
            key_label,
            max_sessions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply() {
        let c: Pkcs11Config = serde_json::from_str(
            r#"{"module":"/usr/lib/softhsm/libsofthsm2.so","pin":{"env":"HSM_PIN"}}"#,
        )
        .unwrap();
        assert_eq!(c.token_label, "IMMERSE");
        assert_eq!(c.key_label, "A-Key");
        assert_eq!(c.max_sessions, DEFAULT_MAX_SESSIONS);
        assert_eq!(c.pin, SecretSource::Env("HSM_PIN".into()));
        assert_eq!(
            c,
            Pkcs11Config::new(
                "/usr/lib/softhsm/libsofthsm2.so",
                SecretSource::Env("HSM_PIN".into())
            )
        );
    }

    #[test]
    fn rejects_missing_module_or_pin() {
        let no_module = RawPkcs11Config {
            pin: Some(RawSecretSource {
                env: Some("P".into()),
                file: None,
            }),
            ..Default::default()
        };
        assert!(matches!(
            Pkcs11Config::try_from(no_module),
            Err(Pkcs11ConfigError::MissingModule)
        ));
        let no_pin = RawPkcs11Config {
            module: Some("/m.so".into()),
            ..Default::default()
        };
        assert!(matches!(
            Pkcs11Config::try_from(no_pin),
            Err(Pkcs11ConfigError::MissingPin)
        ));
    }

    #[test]
    fn rejects_bad_labels_and_session_bounds() {
        let base = RawPkcs11Config {
            module: Some("/m.so".into()),
            pin: Some(RawSecretSource {
                env: Some("P".into()),
                file: None,
            }),
            ..Default::default()
        };
        let long = RawPkcs11Config {
            token_label: Some("x".repeat(33)),
            ..base.clone()
        };
        assert!(matches!(
            Pkcs11Config::try_from(long),
            Err(Pkcs11ConfigError::BadTokenLabel(_))
        ));
        let empty_key = RawPkcs11Config {
            key_label: Some(String::new()),
            ..base.clone()
        };
        assert!(matches!(
            Pkcs11Config::try_from(empty_key),
            Err(Pkcs11ConfigError::BadKeyLabel(_))
        ));
        let zero = RawPkcs11Config {
            max_sessions: Some(0),
            ..base
        };
        assert!(matches!(
            Pkcs11Config::try_from(zero),
            Err(Pkcs11ConfigError::BadMaxSessions(0))
        ));
        assert!(
            serde_json::from_str::<Pkcs11Config>(
                r#"{"module":"/m.so","pin":{"env":"P"},"slot":1}"#
            )
            .is_err()
        );
    }
}
