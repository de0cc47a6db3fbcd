//! Choosing the cache backend from configuration: [`CacheSection`] is the `[<role>.cache]`
//! table every role's config section embeds as it is (serde, every field optional, printed
//! by `config check` with its defaults and the Redis URL redacted), [`CacheSection::checked`]
//! the checked choice ([`CacheConfig`]), and [`Caches::open`] connects it.
//!
//! ```toml
//! [issuer.cache]            # all optional
//! backend = "redis"         # "database" (default), "redis" (default with redis_url), "memory"
//! redis_url = "redis://:password@redis.internal:6379/0"
//! redis_prefix = "symbolon:"
//! # memory only:
//! max_entries = 100000
//! max_bytes = 33554432
//! max_rate_keys = 100000
//! ```
//!
//! The default is the role's own database: single-use values then survive a restart (SQLite,
//! the embedded default) and are shared by replicas (PostgreSQL). Redis is the faster shared
//! choice. In-process is an explicit choice for tests and benchmarks only: it forgets every
//! nonce, code and PoP `jti` at a restart (a value captured before it can be replayed after
//! it) and is not shared between replicas.

use std::sync::Arc;

use jose::jwt::Clock;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::db::Database;
use crate::memory::{MemoryLimits, MemoryStore};
use crate::rate::RateLimiter;
use crate::redis_store::{DEFAULT_PREFIX, RedisStore};
use crate::single_use::SingleUse;
use crate::sql_store::SqlStore;

/// Which backend, as written in a config file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheKind {
    /// In-process (tests and benchmarks: lost at restart, one replica only).
    Memory,
    /// Redis (`redis_url`).
    Redis,
    /// The role's own database (the default without `redis_url`).
    Database,
}

/// The cache section as read from config; see the module documentation.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSection {
    /// `memory`, `redis` or `database`; default: `redis` if `redis_url` is set, else
    /// `database`.
    pub backend: Option<CacheKind>,
    /// Redis URL (may hold a password: kept secret).
    pub redis_url: Option<SecretString>,
    /// Redis key prefix, default `symbolon:`.
    pub redis_prefix: Option<String>,
    /// In-process cap on single-use entries.
    pub max_entries: Option<usize>,
    /// In-process cap on single-use bytes.
    pub max_bytes: Option<usize>,
    /// In-process cap on rate-limit keys.
    pub max_rate_keys: Option<usize>,
}

/// The checked choice.
#[derive(Clone, Debug)]
pub enum CacheConfig {
    /// In-process, with these caps.
    Memory(MemoryLimits),
    /// Redis.
    Redis {
        /// The URL.
        url: SecretString,
        /// The key prefix.
        prefix: String,
    },
    /// The role's database.
    Database,
}

impl Default for CacheConfig {
    /// The role's database: durable across restarts, shared by replicas.
    fn default() -> Self {
        CacheConfig::Database
    }
}

/// A cache section that contradicts itself.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheConfigError {
    /// `backend = "redis"` without `redis_url`.
    #[error("cache: backend = \"redis\" needs redis_url")]
    RedisUrlMissing,
    /// `redis_url` or `redis_prefix` with another backend: probably a typo'd backend.
    #[error("cache: {option} is set but backend = \"{backend}\"; remove one of them")]
    RedisOptionWithoutRedis {
        /// `redis_url` or `redis_prefix`.
        option: &'static str,
        /// The backend given.
        backend: &'static str,
    },
    /// A memory cap with another backend.
    #[error("cache: {option} applies to backend = \"memory\" only, but backend = \"{backend}\"")]
    MemoryOptionWithoutMemory {
        /// The cap's name.
        option: &'static str,
        /// The backend given.
        backend: &'static str,
    },
    /// A memory cap of zero would refuse every entry.
    #[error("cache: {0} must be positive")]
    ZeroCap(&'static str),
}

impl CacheConfigError {
    /// The key of the section the error is about, for an error that names it.
    pub fn key(&self) -> &'static str {
        match self {
            CacheConfigError::RedisUrlMissing => "redis_url",
            CacheConfigError::RedisOptionWithoutRedis { option, .. }
            | CacheConfigError::MemoryOptionWithoutMemory { option, .. }
            | CacheConfigError::ZeroCap(option) => option,
        }
    }
}

impl CacheSection {
    /// The checked choice.
    pub fn checked(&self) -> Result<CacheConfig, CacheConfigError> {
        CacheConfig::try_from(self.clone())
    }
}

/// Compares what was written (the Redis URL too: a configuration is not a credential check).
impl PartialEq for CacheSection {
    fn eq(&self, other: &Self) -> bool {
        self.backend == other.backend
            && self.redis_url.as_ref().map(ExposeSecret::expose_secret)
                == other.redis_url.as_ref().map(ExposeSecret::expose_secret)
            && self.redis_prefix == other.redis_prefix
            && self.max_entries == other.max_entries
            && self.max_bytes == other.max_bytes
            && self.max_rate_keys == other.max_rate_keys
    }
}

impl Eq for CacheSection {}

/// As `config check` prints it: the checked choice with its defaults, the Redis URL (it may
/// carry a password) redacted; as written when it does not check (the role then refuses to
/// start, naming the reason).
impl Serialize for CacheSection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        match self.checked() {
            Ok(CacheConfig::Memory(limits)) => {
                m.serialize_entry("backend", "memory")?;
                m.serialize_entry("max_entries", &limits.max_entries)?;
                m.serialize_entry("max_bytes", &limits.max_bytes)?;
                m.serialize_entry("max_rate_keys", &limits.max_rate_keys)?;
            }
            Ok(CacheConfig::Redis { prefix, .. }) => {
                m.serialize_entry("backend", "redis")?;
                m.serialize_entry("redis_url", "<redacted>")?;
                m.serialize_entry("redis_prefix", &prefix)?;
            }
            Ok(CacheConfig::Database) => m.serialize_entry("backend", "database")?,
            Err(_) => {
                if let Some(backend) = self.backend {
                    m.serialize_entry("backend", backend.name())?;
                }
                if self.redis_url.is_some() {
                    m.serialize_entry("redis_url", "<redacted>")?;
                }
            }
        }
        m.end()
    }
}

impl CacheKind {
    fn name(self) -> &'static str {
        match self {
            CacheKind::Memory => "memory",
            CacheKind::Redis => "redis",
            CacheKind::Database => "database",
        }
    }
}

impl TryFrom<CacheSection> for CacheConfig {
    type Error = CacheConfigError;

    fn try_from(raw: CacheSection) -> Result<Self, CacheConfigError> {
        // Never in-process by default: it forgets single-use values at a restart.
        let kind = raw.backend.unwrap_or(if raw.redis_url.is_some() {
            CacheKind::Redis
        } else {
            CacheKind::Database
        });
        let caps = [
            ("max_entries", raw.max_entries),
            ("max_bytes", raw.max_bytes),
            ("max_rate_keys", raw.max_rate_keys),
        ];
        if kind != CacheKind::Memory
            && let Some((option, _)) = caps.iter().find(|(_, v)| v.is_some())
        {
            return Err(CacheConfigError::MemoryOptionWithoutMemory {
                option,
                backend: kind.name(),
            });
        }
        if kind != CacheKind::Redis {
            let redis_options = [
                ("redis_url", raw.redis_url.is_some()),
                ("redis_prefix", raw.redis_prefix.is_some()),
            ];
            if let Some((option, _)) = redis_options.iter().find(|(_, set)| *set) {
                return Err(CacheConfigError::RedisOptionWithoutRedis {
                    option,
                    backend: kind.name(),
                });
            }
        }
        if let Some((option, _)) = caps.iter().find(|(_, v)| *v == Some(0)) {
            return Err(CacheConfigError::ZeroCap(option));
        }
        Ok(match kind {
            CacheKind::Memory => {
                let d = MemoryLimits::default();
                CacheConfig::Memory(MemoryLimits {
                    max_entries: raw.max_entries.unwrap_or(d.max_entries),
                    max_bytes: raw.max_bytes.unwrap_or(d.max_bytes),
                    max_rate_keys: raw.max_rate_keys.unwrap_or(d.max_rate_keys),
                })
            }
            CacheKind::Redis => CacheConfig::Redis {
                url: raw.redis_url.ok_or(CacheConfigError::RedisUrlMissing)?,
                prefix: raw
                    .redis_prefix
                    .unwrap_or_else(|| DEFAULT_PREFIX.to_owned()),
            },
            CacheKind::Database => CacheConfig::Database,
        })
    }
}

/// The connected cache: one backend behind both interfaces.
#[derive(Clone, Debug)]
pub struct Caches {
    /// Single-use values and replay caches.
    pub single_use: Arc<dyn SingleUse>,
    /// The rate limiter.
    pub rate_limiter: Arc<dyn RateLimiter>,
}

impl Caches {
    /// Connects the configured backend. `database` is the role's own database, needed for
    /// [`CacheConfig::Database`] (its tables are migrated here).
    pub async fn open(
        config: &CacheConfig,
        database: Option<&Database>,
        clock: Arc<dyn Clock>,
    ) -> Result<Caches, Error> {
        Ok(match config {
            CacheConfig::Memory(limits) => Caches::from_backend(MemoryStore::new(*limits, clock)),
            CacheConfig::Redis { url, prefix } => {
                Caches::from_backend(RedisStore::connect(url.expose_secret(), prefix).await?)
            }
            CacheConfig::Database => {
                let db = database.ok_or(Error::DatabaseRequired)?;
                Caches::from_backend(SqlStore::new(db.clone(), clock).await?)
            }
        })
    }

    /// Both interfaces from one backend value.
    pub fn from_backend<B: SingleUse + RateLimiter + 'static>(backend: B) -> Caches {
        let backend = Arc::new(backend);
        Caches {
            single_use: backend.clone(),
            rate_limiter: backend,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CacheConfig, CacheConfigError> {
        let raw: CacheSection = toml::from_str(text).unwrap();
        CacheConfig::try_from(raw)
    }

    #[test]
    fn issue10_cache_defaults_to_the_database_never_in_process() {
        assert!(matches!(parse(""), Ok(CacheConfig::Database)));
        assert!(matches!(CacheConfig::default(), CacheConfig::Database));
        assert!(matches!(
            parse("backend = \"memory\""),
            Ok(CacheConfig::Memory(l)) if l == MemoryLimits::default()
        ));
    }

    #[test]
    fn defaults_to_redis_with_a_url() {
        match parse("redis_url = \"redis://127.0.0.1:6379\"").unwrap() {
            CacheConfig::Redis { url, prefix } => {
                assert_eq!(url.expose_secret(), "redis://127.0.0.1:6379");
                assert_eq!(prefix, DEFAULT_PREFIX);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse("backend = \"database\""),
            Ok(CacheConfig::Database)
        ));
        assert!(matches!(
            parse("backend = \"memory\"\nmax_entries = 10"),
            Ok(CacheConfig::Memory(MemoryLimits {
                max_entries: 10,
                ..
            }))
        ));
    }

    #[test]
    fn redis_url_is_redacted_in_debug() {
        let config = parse("redis_url = \"redis://:hunter2@db:6379\"").unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn issue11_the_section_prints_its_checked_choice_with_the_redis_url_redacted() {
        let shown = |text: &str| {
            let section: CacheSection = toml::from_str(text).unwrap();
            toml::to_string(&section).unwrap()
        };
        assert_eq!(shown(""), "backend = \"database\"\n");
        let redis = shown("redis_url = \"redis://:hunter2@db:6379\"");
        assert!(!redis.contains("hunter2"), "{redis}");
        assert_eq!(
            redis,
            "backend = \"redis\"\nredis_url = \"<redacted>\"\nredis_prefix = \"symbolon:\"\n"
        );
        // A section that does not check is shown as written, still redacted.
        let bad = shown("backend = \"memory\"\nredis_url = \"redis://:hunter2@db\"");
        assert_eq!(bad, "backend = \"memory\"\nredis_url = \"<redacted>\"\n");
    }

    #[test]
    fn rejects_redis_without_url() {
        assert_eq!(
            parse("backend = \"redis\"").unwrap_err(),
            CacheConfigError::RedisUrlMissing
        );
    }

    #[test]
    fn rejects_redis_options_with_another_backend() {
        assert_eq!(
            parse("backend = \"memory\"\nredis_url = \"redis://x\"").unwrap_err(),
            CacheConfigError::RedisOptionWithoutRedis {
                option: "redis_url",
                backend: "memory"
            }
        );
        assert_eq!(
            parse("backend = \"database\"\nredis_prefix = \"x:\"").unwrap_err(),
            CacheConfigError::RedisOptionWithoutRedis {
                option: "redis_prefix",
                backend: "database"
            }
        );
    }

    #[test]
    fn rejects_memory_caps_with_another_backend() {
        assert_eq!(
            parse("redis_url = \"redis://x\"\nmax_bytes = 5").unwrap_err(),
            CacheConfigError::MemoryOptionWithoutMemory {
                option: "max_bytes",
                backend: "redis"
            }
        );
    }

    #[test]
    fn rejects_zero_caps() {
        assert_eq!(
            parse("backend = \"memory\"\nmax_rate_keys = 0").unwrap_err(),
            CacheConfigError::ZeroCap("max_rate_keys")
        );
    }

    #[test]
    fn rejects_unknown_fields_and_backends() {
        assert!(toml::from_str::<CacheSection>("redis = \"x\"").is_err());
        assert!(toml::from_str::<CacheSection>("backend = \"memcached\"").is_err());
    }
}
