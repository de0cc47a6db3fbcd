//! Secrets from configuration: PINs and passphrases, read from a file or an environment
//! variable that the configuration names, never written into the configuration itself.
//!
//! The value is held in [`SecretString`] (redacted `Debug`, zeroized on drop, no
//! `Serialize`). A missing or empty secret is an error that names its source; there is no
//! default PIN or passphrase to fall back to.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;
use zeroize::Zeroizing;

/// Largest secret file read, so a misconfigured path (a log file, a device) cannot make
/// startup read without bound.
const MAX_SECRET_FILE: u64 = 64 * 1024;

/// Where a secret comes from.
///
/// In TOML: `pin = { file = "/run/secrets/hsm-pin" }` or `pin = { env = "HSM_USER_PIN" }`;
/// exactly one of the two.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawSecretSource")]
pub enum SecretSource {
    /// A file holding the secret. One trailing line break (`\n` or `\r\n`) is removed, since
    /// editors and `echo` add one; any other whitespace is part of the secret.
    File(PathBuf),
    /// An environment variable holding the secret.
    Env(String),
}

/// Written back as the table it is read from: where a secret is read is not secret (the
/// value itself never reaches configuration), and `symbolon config check` prints it.
impl serde::Serialize for SecretSource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        match self {
            SecretSource::File(path) => m.serialize_entry("file", path)?,
            SecretSource::Env(name) => m.serialize_entry("env", name)?,
        }
        m.end()
    }
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::File(p) => write!(f, "file `{}`", p.display()),
            SecretSource::Env(n) => write!(f, "environment variable `{n}`"),
        }
    }
}

/// The raw form of [`SecretSource`] as a configuration table: `{ file = … }` or
/// `{ env = … }`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecretSource {
    /// Path of a file holding the secret.
    pub file: Option<String>,
    /// Name of an environment variable holding the secret.
    pub env: Option<String>,
}

impl TryFrom<RawSecretSource> for SecretSource {
    type Error = SecretError;

    fn try_from(raw: RawSecretSource) -> Result<Self, SecretError> {
        match (raw.file, raw.env) {
            (Some(_), Some(_)) => Err(SecretError::BothSources),
            (None, None) => Err(SecretError::NoSource),
            (Some(f), None) if f.is_empty() => Err(SecretError::NoSource),
            (None, Some(e)) if e.is_empty() => Err(SecretError::NoSource),
            (Some(f), None) => Ok(SecretSource::File(PathBuf::from(f))),
            (None, Some(e)) => Ok(SecretSource::Env(e)),
        }
    }
}

/// Why a secret could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The configuration names both a file and an environment variable.
    #[error("a secret takes either `file` or `env`, not both")]
    BothSources,
    /// The configuration names neither a file nor an environment variable.
    #[error("a secret needs `file` or `env` naming where it is")]
    NoSource,
    /// The named environment variable is not set.
    #[error("secret {source_name} is not set")]
    Missing {
        /// Where the secret was looked for.
        source_name: SecretSource,
    },
    /// The environment variable's value is not valid UTF-8.
    #[error("secret {source_name} is not valid UTF-8")]
    NotUtf8 {
        /// Where the secret was read.
        source_name: SecretSource,
    },
    /// The secret is present but empty.
    #[error("secret {source_name} is empty")]
    Empty {
        /// Where the secret was read.
        source_name: SecretSource,
    },
    /// The secret file exceeds the size limit.
    #[error("secret {source_name} is larger than {MAX_SECRET_FILE} bytes")]
    TooLarge {
        /// Where the secret was read.
        source_name: SecretSource,
    },
    /// The secret file could not be read.
    #[error("secret {source_name} could not be read: {error}")]
    Read {
        /// Where the secret was read.
        source_name: SecretSource,
        /// The I/O error.
        error: std::io::Error,
    },
}

impl SecretSource {
    /// Reads the secret now.
    pub fn load(&self) -> Result<SecretString, SecretError> {
        let text = match self {
            // The value also stays in the process environment, so zeroizing this copy
            // would gain nothing; file contents are zeroized.
            SecretSource::Env(name) => match std::env::var_os(name) {
                None => {
                    return Err(SecretError::Missing {
                        source_name: self.clone(),
                    });
                }
                Some(os) => Zeroizing::new(os.into_string().map_err(|_| SecretError::NotUtf8 {
                    source_name: self.clone(),
                })?),
            },
            SecretSource::File(path) => Zeroizing::new(self.read_file(path)?),
        };
        let trimmed = strip_one_line_break(&text);
        if trimmed.is_empty() {
            return Err(SecretError::Empty {
                source_name: self.clone(),
            });
        }
        Ok(SecretString::from(trimmed.to_owned()))
    }

    fn read_file(&self, path: &std::path::Path) -> Result<String, SecretError> {
        use std::io::Read;
        let read_err = |error| SecretError::Read {
            source_name: self.clone(),
            error,
        };
        let file = std::fs::File::open(path).map_err(read_err)?;
        let mut buf = Zeroizing::new(Vec::with_capacity(256));
        file.take(MAX_SECRET_FILE + 1)
            .read_to_end(&mut buf)
            .map_err(read_err)?;
        if buf.len() as u64 > MAX_SECRET_FILE {
            return Err(SecretError::TooLarge {
                source_name: self.clone(),
            });
        }
        String::from_utf8(buf.to_vec()).map_err(|e| {
            let mut bytes = e.into_bytes();
            zeroize::Zeroize::zeroize(&mut bytes);
            SecretError::NotUtf8 {
                source_name: self.clone(),
            }
        })
    }
}

fn strip_one_line_break(s: &str) -> &str {
    s.strip_suffix("\r\n")
        .or_else(|| s.strip_suffix('\n'))
        .unwrap_or(s)
}

/// Compares two secrets in time independent of where they differ (the length may leak).
pub(crate) fn secrets_equal(a: &SecretString, b: &SecretString) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(
        a.expose_secret()
            .as_bytes()
            .ct_eq(b.expose_secret().as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(content: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content).unwrap();
        f
    }

    #[test]
    fn file_secret_loses_one_trailing_line_break_only() {
        let f = file_with(b" pin 1234 \n\n");
        let s = SecretSource::File(f.path().into()).load().unwrap();
        assert_eq!(s.expose_secret(), " pin 1234 \n");
        let f = file_with(b"1234\r\n");
        let s = SecretSource::File(f.path().into()).load().unwrap();
        assert_eq!(s.expose_secret(), "1234");
    }

    #[test]
    fn env_secret_is_read() {
        // PATH is set in every environment this runs in.
        let s = SecretSource::Env("PATH".into()).load().unwrap();
        assert!(!s.expose_secret().is_empty());
    }

    #[test]
    fn rejects_missing_env_naming_the_variable() {
        let err = SecretSource::Env("KEYS_TEST_SURELY_UNSET_VARIABLE".into())
            .load()
            .unwrap_err();
        assert!(matches!(err, SecretError::Missing { .. }));
        assert_eq!(
            err.to_string(),
            "secret environment variable `KEYS_TEST_SURELY_UNSET_VARIABLE` is not set"
        );
    }

    #[test]
    fn rejects_empty_file_naming_the_path() {
        let f = file_with(b"\n");
        let err = SecretSource::File(f.path().into()).load().unwrap_err();
        assert!(matches!(err, SecretError::Empty { .. }));
        assert!(err.to_string().contains(&f.path().display().to_string()));
    }

    #[test]
    fn rejects_missing_file_naming_the_path() {
        let err = SecretSource::File("/nonexistent/keys-test/pin".into())
            .load()
            .unwrap_err();
        assert!(matches!(err, SecretError::Read { .. }));
        assert!(err.to_string().contains("/nonexistent/keys-test/pin"));
    }

    #[test]
    fn rejects_oversized_file() {
        let f = file_with(&vec![b'a'; MAX_SECRET_FILE as usize + 1]);
        let err = SecretSource::File(f.path().into()).load().unwrap_err();
        assert!(matches!(err, SecretError::TooLarge { .. }));
    }

    #[test]
    fn rejects_both_or_neither_source() {
        let both = RawSecretSource {
            file: Some("a".into()),
            env: Some("B".into()),
        };
        assert!(matches!(
            SecretSource::try_from(both),
            Err(SecretError::BothSources)
        ));
        assert!(matches!(
            SecretSource::try_from(RawSecretSource::default()),
            Err(SecretError::NoSource)
        ));
    }

    #[test]
    fn deserializes_from_a_table() {
        let s: SecretSource = serde_json::from_str(r#"{"env":"HSM_PIN"}"#).unwrap();
        assert_eq!(s, SecretSource::Env("HSM_PIN".into()));
        let s: SecretSource = serde_json::from_str(r#"{"file":"/run/pin"}"#).unwrap();
        assert_eq!(s, SecretSource::File("/run/pin".into()));
        assert!(serde_json::from_str::<SecretSource>(r#"{"value":"1234"}"#).is_err());
    }

    #[test]
    fn secret_debug_is_redacted() {
        let f = file_with(b"hunter2");
        let s = SecretSource::File(f.path().into()).load().unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn secrets_compare_by_value() {
        let a = SecretString::from("1234");
        assert!(secrets_equal(&a, &SecretString::from("1234")));
        assert!(!secrets_equal(&a, &SecretString::from("1235")));
        assert!(!secrets_equal(&a, &SecretString::from("12345")));
    }
}
