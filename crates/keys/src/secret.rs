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

/// A secret that the configuration may hold inline or name a place for — the one way a
/// role's bearer token is configured (`issuer.admin_token`, `verifier.rp_token`,
/// `attester.admin_token`):
///
/// ```toml
/// admin_token = "a-long-random-token"                  # inline
/// admin_token = { file = "/run/secrets/admin-token" }  # a mounted secret file
/// admin_token = { env = "ADMIN_TOKEN" }                # an environment variable
/// ```
///
/// Files and variables are read by [`SecretSetting::load`] when the role starts, not
/// when the configuration is parsed, so `symbolon config check` works without them.
/// Shown (`config check`) as `"<redacted>"` when inline and as its `{ file }` / `{ env }`
/// table otherwise; compared in constant time.
#[derive(Clone)]
pub enum SecretSetting {
    /// The secret itself, written in the configuration (never blank).
    Inline(SecretString),
    /// A file or environment variable holding it.
    Source(SecretSource),
}

/// What a [`SecretSetting`] may be, for error messages.
const SECRET_SETTING_FORMS: &str =
    "an inline string, { file = \"<path>\" } or { env = \"<VARIABLE>\" }";

impl SecretSetting {
    /// An inline secret (e.g. one generated at start).
    pub fn inline(value: impl Into<String>) -> Self {
        SecretSetting::Inline(SecretString::from(value.into()))
    }

    /// The secret: inline as written, else read now from its file or variable (bounded,
    /// one trailing line break removed, empty refused; see [`SecretSource::load`]).
    pub fn load(&self) -> Result<SecretString, SecretError> {
        match self {
            SecretSetting::Inline(s) => Ok(s.clone()),
            SecretSetting::Source(source) => source.load(),
        }
    }
}

impl fmt::Debug for SecretSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSetting::Inline(_) => f.write_str("Inline(<redacted>)"),
            SecretSetting::Source(source) => f.debug_tuple("Source").field(source).finish(),
        }
    }
}

impl PartialEq for SecretSetting {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (SecretSetting::Inline(a), SecretSetting::Inline(b)) => secrets_equal(a, b),
            (SecretSetting::Source(a), SecretSetting::Source(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for SecretSetting {}

impl From<SecretSource> for SecretSetting {
    fn from(source: SecretSource) -> Self {
        SecretSetting::Source(source)
    }
}

/// `"<redacted>"` for an inline secret; the `{ file }` / `{ env }` table otherwise
/// (where a secret is read is not secret).
impl serde::Serialize for SecretSetting {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SecretSetting::Inline(_) => s.serialize_str("<redacted>"),
            SecretSetting::Source(source) => source.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for SecretSetting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = SecretSetting;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a secret: {SECRET_SETTING_FORMS}")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SecretSetting, E> {
                if v.trim().is_empty() {
                    return Err(E::custom(
                        "an empty secret is out of range: must be a non-empty secret",
                    ));
                }
                Ok(SecretSetting::inline(v))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<SecretSetting, A::Error> {
                let raw =
                    RawSecretSource::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                        .map_err(|e| {
                            serde::de::Error::custom(format!(
                                "{e}; a secret is {SECRET_SETTING_FORMS}"
                            ))
                        })?;
                SecretSource::try_from(raw)
                    .map(SecretSetting::Source)
                    .map_err(|e| {
                        serde::de::Error::custom(format!("{e}; a secret is {SECRET_SETTING_FORMS}"))
                    })
            }
        }

        d.deserialize_any(Visitor)
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
    fn issue11_secret_setting_accepts_inline_file_and_env() {
        let s: SecretSetting = serde_json::from_str(r#""t0ken""#).unwrap();
        assert_eq!(s.load().unwrap().expose_secret(), "t0ken");
        let f = file_with(b"from-file\n");
        let json = serde_json::json!({ "file": f.path() });
        let s: SecretSetting = serde_json::from_value(json).unwrap();
        assert_eq!(s.load().unwrap().expose_secret(), "from-file");
        let s: SecretSetting = serde_json::from_str(r#"{"env":"PATH"}"#).unwrap();
        assert_eq!(s, SecretSetting::Source(SecretSource::Env("PATH".into())));
        assert!(!s.load().unwrap().expose_secret().is_empty());
    }

    #[test]
    fn issue11_secret_setting_shows_inline_redacted_and_sources_as_tables() {
        let inline = SecretSetting::inline("hunter2");
        assert_eq!(serde_json::to_string(&inline).unwrap(), r#""<redacted>""#);
        assert!(!format!("{inline:?}").contains("hunter2"));
        let env = SecretSetting::from(SecretSource::Env("ADMIN".into()));
        assert_eq!(serde_json::to_string(&env).unwrap(), r#"{"env":"ADMIN"}"#);
        let file = SecretSetting::from(SecretSource::File("/run/t".into()));
        assert_eq!(
            serde_json::to_string(&file).unwrap(),
            r#"{"file":"/run/t"}"#
        );
    }

    #[test]
    fn issue11_rejects_a_blank_or_malformed_secret_setting_naming_the_forms() {
        for bad in [r#""""#, r#""  ""#] {
            let e = serde_json::from_str::<SecretSetting>(bad).unwrap_err();
            assert!(e.to_string().contains("non-empty"), "{e}");
        }
        for bad in [
            r#"42"#,
            r#"["a"]"#,
            r#"{"value":"x"}"#,
            r#"{"file":"a","env":"B"}"#,
            r#"{}"#,
        ] {
            let e = serde_json::from_str::<SecretSetting>(bad).unwrap_err();
            assert!(
                e.to_string().contains("{ file = ") && e.to_string().contains("{ env = "),
                "{bad}: {e}"
            );
        }
        let e = SecretSetting::from(SecretSource::Env("KEYS_TEST_SURELY_UNSET_VARIABLE".into()))
            .load()
            .unwrap_err();
        assert!(matches!(e, SecretError::Missing { .. }));
    }

    #[test]
    fn secrets_compare_by_value() {
        let a = SecretString::from("1234");
        assert!(secrets_equal(&a, &SecretString::from("1234")));
        assert!(!secrets_equal(&a, &SecretString::from("1235")));
        assert!(!secrets_equal(&a, &SecretString::from("12345")));
    }
}
