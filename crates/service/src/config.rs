//! Configuration pieces shared by every role's section.
//!
//! Each role owns one config section: a struct that deserializes straight into typed
//! values (durations through [`with`], algorithms, enums, paths, [`Secret`]s; unknown keys
//! refused) with the defaults in its `Default`, and a `validate` step for what one value
//! alone cannot say (ranges, contradictions between keys). Errors name the offending key,
//! so `symbolon config check` can point at the line to fix; [`ConfigError::in_section`]
//! prefixes the section's name.

pub mod server;

pub use server::{MetricsSection, ServerSection};

pub use secrecy::{ExposeSecret, SecretString};

/// A configured secret (a bearer token, a database URL with a password): never shown by
/// `Debug`, zeroized on drop, not `Serialize`, and compared in constant time.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: String) -> Self {
        Secret(SecretString::from(value))
    }

    /// The secret, for the one place that needs it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Whether `candidate` equals the secret, in time independent of where they differ.
    pub fn matches(&self, candidate: &str) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(self.expose().as_bytes().ct_eq(candidate.as_bytes()))
    }
}

/// A secret read from a file or variable (`keys::SecretSetting::load`), kept as read.
impl From<SecretString> for Secret {
    fn from(value: SecretString) -> Self {
        Secret(value)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.matches(other.expose())
    }
}

impl Eq for Secret {}

/// Shown as `<redacted>` (`symbolon config check` prints the effective configuration).
impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

/// A configuration value is invalid, or two values contradict each other.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A value outside the accepted range.
    #[error("`{key}`: {value} is out of range: must be {expected}")]
    OutOfRange {
        /// Dotted key.
        key: String,
        /// The value as written.
        value: String,
        /// The accepted range, in words.
        expected: &'static str,
    },
    /// Two options that cannot be used together.
    #[error("`{first}` and `{second}` cannot be used together: {reason}")]
    Incompatible {
        /// Dotted key of the first option.
        first: String,
        /// Dotted key of the second option.
        second: String,
        /// Why, in words.
        reason: &'static str,
    },
    /// A value a feature needs is absent.
    #[error("`{key}` is required: {reason}")]
    Missing {
        /// Dotted key.
        key: String,
        /// Why it is needed.
        reason: &'static str,
    },
    /// A value its type refused while the configuration was read, or a shared section
    /// (owned by another crate, with its own error type) that contradicts itself.
    #[error("`{key}`: {message}")]
    Invalid {
        /// Dotted key.
        key: String,
        /// What is wrong, as the refusing type said it.
        message: String,
    },
}

impl ConfigError {
    /// The same error with `section.` prefixed to every key it names, for a section's
    /// conversion that names its keys relative to the section.
    #[must_use]
    pub fn in_section(self, section: &str) -> Self {
        let p = |key: String| format!("{section}.{key}");
        match self {
            ConfigError::OutOfRange {
                key,
                value,
                expected,
            } => ConfigError::OutOfRange {
                key: p(key),
                value,
                expected,
            },
            ConfigError::Incompatible {
                first,
                second,
                reason,
            } => ConfigError::Incompatible {
                first: p(first),
                second: p(second),
                reason,
            },
            ConfigError::Missing { key, reason } => ConfigError::Missing {
                key: p(key),
                reason,
            },
            ConfigError::Invalid { key, message } => ConfigError::Invalid {
                key: p(key),
                message,
            },
        }
    }

    /// The (first) key this error names.
    pub fn key(&self) -> &str {
        match self {
            ConfigError::OutOfRange { key, .. }
            | ConfigError::Missing { key, .. }
            | ConfigError::Invalid { key, .. } => key,
            ConfigError::Incompatible { first, .. } => first,
        }
    }
}

/// A role's config section: deserialized straight into typed values, then checked for
/// what one value alone cannot say. Errors name keys relative to the section.
pub trait Section: Sized {
    /// Checks ranges, contradictions between keys and references between tables, and
    /// completes values that default to another one.
    fn validate(&mut self) -> Result<(), ConfigError>;

    /// The section, validated.
    fn validated(mut self) -> Result<Self, ConfigError> {
        self.validate()?;
        Ok(self)
    }
}

/// Deserializes a configuration value (a section, in tests; the whole file in the
/// binary), naming the key a refused value sits at.
pub fn deserialize<'de, T: serde::Deserialize<'de>>(
    d: impl serde::Deserializer<'de>,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(d).map_err(|e| ConfigError::Invalid {
        key: key_of(e.path()),
        message: e.into_inner().to_string(),
    })
}

/// The dotted config key of a deserialization path: table and key names, without the
/// positions of list entries (`attestation.evidence[0]` is the key `attestation.evidence`),
/// so a key is named the same whether a value or a check refused it.
pub fn key_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let names: Vec<&str> = path
        .iter()
        .filter_map(|segment| match segment {
            Segment::Map { key } => Some(key.as_str()),
            Segment::Enum { variant } => Some(variant.as_str()),
            Segment::Seq { .. } | Segment::Unknown => None,
        })
        .collect();
    names.join(".")
}

/// Parses a public base URL (an issuer identifier, a verifier's `response_uri` base …):
/// `https://`, or `http://` on a loopback host (`127.0.0.0/8`, `::1`, `localhost`) only
/// when `allow_http_loopback` is set. No query, no fragment, no user info; a trailing `/`
/// is removed so identifiers compare as plain strings.
pub fn public_url(
    key: &str,
    value: &str,
    allow_http_loopback: bool,
) -> Result<String, ConfigError> {
    let bad = |expected| ConfigError::OutOfRange {
        key: key.into(),
        value: format!("{value:?}"),
        expected,
    };
    let url = url::Url::parse(value).map_err(|_| bad("an absolute http(s) URL"))?;
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(bad("a URL without query, fragment or user info"));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(bad("a URL with a host")),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback && allow_http_loopback => {}
        "http" if loopback => {
            return Err(bad(
                "https (http on loopback only with `server.allow_http_loopback = true`)",
            ));
        }
        _ => return Err(bad("an https URL")),
    }
    Ok(value.trim_end_matches('/').to_owned())
}

/// `#[serde(with = …)]` modules for config fields of types whose own serde form is not the
/// configuration's: each reads the human syntax, refuses what the field cannot hold with a
/// message saying what to write, and writes back what it reads (so `symbolon config check`
/// prints a file that loads to the same configuration).
pub mod with {
    /// A duration in the `30s` / `15m` / `24h` / `1h 30m` syntax.
    pub mod duration {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        /// Reads one.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
            let text = String::deserialize(d)?;
            humantime::parse_duration(text.trim()).map_err(|e| {
                serde::de::Error::custom(format!(
                    "invalid duration {text:?} ({e}); write e.g. \"30s\", \"15m\" or \"24h\""
                ))
            })
        }

        /// Writes one as it is read.
        pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
            super::super::show::duration(d, s)
        }
    }

    /// A duration greater than zero (a lifetime, a timeout, a period).
    pub mod positive_duration {
        use std::time::Duration;

        use serde::{Deserializer, Serializer};

        /// Reads one.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
            let value = super::duration::deserialize(d)?;
            if value.is_zero() {
                return Err(serde::de::Error::custom(
                    "a zero duration is out of range: must be greater than zero",
                ));
            }
            Ok(value)
        }

        /// Writes one as it is read.
        pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
            super::super::show::duration(d, s)
        }
    }

    /// A list that must not be empty (accepted algorithms, `enc` values …).
    pub mod non_empty {
        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        /// Reads one.
        pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
            d: D,
        ) -> Result<Vec<T>, D::Error> {
            let values = Vec::<T>::deserialize(d)?;
            if values.is_empty() {
                return Err(serde::de::Error::custom(
                    "an empty list is out of range: name at least one value",
                ));
            }
            Ok(values)
        }

        /// Writes one as it is read.
        pub fn serialize<S: Serializer, T: Serialize>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v)
        }
    }
}

/// A [`Secret`] written inline in the configuration (a bearer token, a database URL that
/// may carry a password): an empty or blank one is refused, since it would make a check
/// that compares against it meaningless.
impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = String::deserialize(d)?;
        if value.trim().is_empty() {
            return Err(serde::de::Error::custom(
                "an empty secret is out of range: must be a non-empty secret",
            ));
        }
        Ok(Secret::new(value))
    }
}

/// `serialize_with` helpers for printing an effective configuration.
pub mod show {
    use std::time::Duration;

    use serde::Serializer;

    /// Writes a duration in the same human syntax the config accepts.
    pub fn duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&human_duration(*d))
    }

    /// A duration as whole days, hours, minutes, seconds and sub-second units, largest
    /// first (`365d`, `1h 30m`, `1s 500ms`, `0s`). `humantime::format_duration` counts in
    /// its own months (30.44 days) and years (365.25 days), which turns a configured
    /// `365d` into `11months 30days 3h 50m 24s`; these units are exact, so what is printed
    /// reads like what was written and parses back to the same value.
    pub fn human_duration(d: Duration) -> String {
        let secs = d.as_secs();
        let nanos = d.subsec_nanos();
        let parts = [
            (secs / 86_400, "d"),
            (secs % 86_400 / 3_600, "h"),
            (secs % 3_600 / 60, "m"),
            (secs % 60, "s"),
            (u64::from(nanos / 1_000_000), "ms"),
            (u64::from(nanos % 1_000_000 / 1_000), "us"),
            (u64::from(nanos % 1_000), "ns"),
        ];
        let text: Vec<String> = parts
            .iter()
            .filter(|(n, _)| *n != 0)
            .map(|(n, unit)| format!("{n}{unit}"))
            .collect();
        if text.is_empty() {
            "0s".to_owned()
        } else {
            text.join(" ")
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn issue10_config_check_prints_365d_as_365d() {
        use std::time::Duration;

        use super::show::human_duration;
        let day = 86_400;
        for (secs, text) in [
            (365 * day, "365d"),
            (30 * day, "30d"),
            (day, "1d"),
            (90 * 60, "1h 30m"),
            (300, "5m"),
            (30, "30s"),
            (0, "0s"),
            (day + 3_600 + 60 + 1, "1d 1h 1m 1s"),
        ] {
            assert_eq!(human_duration(Duration::from_secs(secs)), text);
        }
        assert_eq!(human_duration(Duration::from_millis(1_500)), "1s 500ms");
        assert_eq!(human_duration(Duration::from_nanos(1_001)), "1us 1ns");
        // What is printed is accepted back by the config and means the same duration.
        for d in [
            Duration::from_secs(365 * day),
            Duration::from_secs(366 * day + 7),
            Duration::from_millis(86_400_001),
            Duration::from_nanos(123_456_789_012),
        ] {
            assert_eq!(read(&human_duration(d)).unwrap(), d);
        }
    }

    #[test]
    fn secret_compares_in_constant_time_and_redacts() {
        let s = super::Secret::new("admin-token".into());
        assert!(s.matches("admin-token"));
        assert!(!s.matches("admin-tokeN"));
        assert!(!s.matches(""));
        assert_eq!(s, super::Secret::new("admin-token".into()));
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"<redacted>\"");
    }

    #[test]
    fn public_url_accepts_https_and_loopback_http_when_allowed() {
        assert_eq!(
            super::public_url("k", "https://issuer.example/tenant/", false).unwrap(),
            "https://issuer.example/tenant"
        );
        assert_eq!(
            super::public_url("k", "http://127.0.0.1:8080", true).unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            super::public_url("k", "http://[::1]:8080/x", true).unwrap(),
            "http://[::1]:8080/x"
        );
    }

    #[test]
    fn rejects_public_url_http_outside_loopback_or_unless_allowed() {
        for (v, allow) in [
            ("http://127.0.0.1:8080", false),
            ("http://issuer.example", true),
            ("http://10.0.0.1", true),
            ("ftp://issuer.example", true),
            ("https://issuer.example/?q=1", true),
            ("https://u:p@issuer.example", true),
            ("issuer.example", true),
        ] {
            let e = super::public_url("server.public_url", v, allow).unwrap_err();
            assert_eq!(e.key(), "server.public_url", "{v}");
        }
    }

    use super::*;
    use std::time::Duration;

    /// `text` as a `[section] ttl = "<text>"` value read through `with::duration`.
    fn read(text: &str) -> Result<Duration, ConfigError> {
        #[derive(serde::Deserialize)]
        struct Section {
            #[serde(with = "with::duration")]
            #[allow(dead_code, reason = "read through serde")]
            ttl: Duration,
        }
        deserialize::<Section>(serde_json::json!({ "ttl": text })).map(|s| s.ttl)
    }

    #[test]
    fn parses_human_durations() {
        assert_eq!(read("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(read("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(read("1h 30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(read("250ms"), Ok(Duration::from_millis(250)));
    }

    #[test]
    fn rejects_a_duration_without_unit_naming_the_key() {
        let err = read("30").unwrap_err().in_section("server");
        assert!(matches!(
            &err,
            ConfigError::Invalid { key, message }
                if key == "server.ttl" && message.contains("invalid duration \"30\"")
        ));
        assert!(err.to_string().contains("server.ttl"));
    }

    #[test]
    fn rejects_a_zero_duration_where_positive_is_required() {
        #[derive(Debug, serde::Deserialize)]
        struct Section {
            #[serde(with = "with::positive_duration")]
            #[allow(dead_code, reason = "read through serde")]
            ttl: Duration,
        }
        let err = deserialize::<Section>(serde_json::json!({ "ttl": "0s" })).unwrap_err();
        assert!(
            matches!(&err, ConfigError::Invalid { key, message }
                if key == "ttl" && message.contains("greater than zero")),
            "{err}"
        );
    }

    #[test]
    fn rejects_a_host_name_as_socket_address() {
        let listen = |text: &str| {
            deserialize::<ServerSection>(serde_json::json!({ "listen": text })).map(|s| s.listen)
        };
        assert!(matches!(
            listen("localhost:8080"),
            Err(ConfigError::Invalid { key, message })
                if key == "listen" && message.contains("invalid socket address \"localhost:8080\"")
        ));
        assert!(matches!(listen("[::1]:8080"), Ok(Some(_))));
    }

    #[test]
    fn in_section_prefixes_every_key() {
        let err = ConfigError::Incompatible {
            first: "a".into(),
            second: "b".into(),
            reason: "r",
        }
        .in_section("issuer");
        assert_eq!(
            err.to_string(),
            "`issuer.a` and `issuer.b` cannot be used together: r"
        );
        assert_eq!(err.key(), "issuer.a");
    }

    #[test]
    fn secrets_are_redacted_in_debug_and_when_shown() {
        #[derive(serde::Serialize)]
        struct View {
            pin: Secret,
            #[serde(serialize_with = "show::duration")]
            ttl: Duration,
        }
        let view = View {
            pin: Secret::new("123456".into()),
            ttl: Duration::from_secs(90),
        };
        assert!(!format!("{:?}", view.pin).contains("123456"));
        let shown = serde_json::to_string(&view).unwrap();
        assert_eq!(shown, r#"{"pin":"<redacted>","ttl":"1m 30s"}"#);
        assert_eq!(view.pin.expose(), "123456");
    }
}
