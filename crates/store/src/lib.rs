//! Persistence for the Symbolon roles.
//!
//! - [`Database`]: a pool over SQLite (the embedded default: one file under the data
//!   directory, WAL) or PostgreSQL (replicas), with per-component [`Migration`]s applied at
//!   start, once, also when replicas start together.
//! - [`SingleUse`]: replay caches (`insert_once`) and consume-once values (`put` / `take`)
//!   for nonces, PoP `jti`s, pre-authorized codes, attestation challenges and response
//!   codes; the database ([`SqlStore`], the default), Redis ([`RedisStore`]) or
//!   in-process ([`MemoryStore`], tests and benchmarks only), chosen by [`CacheConfig`].
//! - [`RateLimiter`]: fixed-window limits per key with a `Retry-After`, on the same backends.
//!
//! Role crates define their tables as migrations and query through sqlx's `Any` driver
//! with runtime-checked `query` / `query_as` and `#[derive(sqlx::FromRow)]` (they depend
//! on the workspace `sqlx` for the derive). The same statement text runs on both engines
//! when it follows the rules below; `docs/storage.md` has the longer story.
//!
//! # Writing portable SQL
//!
//! - Placeholders are `$1, $2, …` on both engines (SQLite accepts `$N`); a number may
//!   appear twice. Never `?`. An unbound `$N` is NULL on SQLite but an error on
//!   PostgreSQL: the shared test suite catches it.
//! - Column types: `BIGINT` for every integer (times as Unix seconds from the injected
//!   clock, flags as 0/1: the `Any` driver cannot read SQLite integers as `bool`), `TEXT`
//!   for strings and JSON, bytes as `BLOB` (SQLite) / `BYTEA` (PostgreSQL) through
//!   [`Migration::per_backend`]; bind and read bytes as `&[u8]` / `Vec<u8>` on both. No
//!   `NUMERIC`, `UUID`, `JSONB`, `TIMESTAMPTZ` (the `Any` driver does not carry them);
//!   aggregate `SUM` needs `CAST(… AS BIGINT)` on PostgreSQL.
//! - `INSERT … ON CONFLICT (cols) DO NOTHING`, `… DO UPDATE SET c = excluded.c [WHERE …]`
//!   and `RETURNING` work on both. Name the conflict columns.
//! - One-shot state changes are single statements: `UPDATE … WHERE state = 'pending'` and
//!   check `rows_affected()`, or `DELETE … RETURNING` to consume. For a read-then-write
//!   sequence use [`Database::begin_write`] (SQLite takes the write lock at `BEGIN`).
//!   `SELECT … FOR UPDATE` is PostgreSQL-only; pick the text with [`Backend::choose`] if
//!   ever needed.
//! - Duplicate keys: `err.as_database_error().is_some_and(|e| e.is_unique_violation())`.
//! - Table names start with the component (`issuer_offers`), so roles sharing a database
//!   (`--mode=all`) never clash.
//!
//! # Example: a role's migrations and queries
//!
//! ```no_run
//! use store::{Database, Migration};
//!
//! /// Append-only: never edit or reorder an entry once released.
//! const MIGRATIONS: &[Migration] = &[
//!     Migration::portable(
//!         1,
//!         "offers",
//!         "CREATE TABLE issuer_offers (
//!              id TEXT PRIMARY KEY,
//!              created_at BIGINT NOT NULL,
//!              claims TEXT NOT NULL,
//!              redeemed BIGINT NOT NULL DEFAULT 0
//!          );
//!          CREATE INDEX issuer_offers_created ON issuer_offers (created_at);",
//!     ),
//!     Migration::per_backend(
//!         2,
//!         "offer key",
//!         "ALTER TABLE issuer_offers ADD COLUMN sealed_key BLOB",
//!         "ALTER TABLE issuer_offers ADD COLUMN sealed_key BYTEA",
//!     ),
//! ];
//!
//! #[derive(Debug, sqlx::FromRow)]
//! struct Offer {
//!     id: String,
//!     created_at: i64,
//!     claims: String,
//!     redeemed: i64,
//!     sealed_key: Option<Vec<u8>>,
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // "sqlite:/var/lib/symbolon/issuer.db" or "postgres://issuer:…@db/symbolon": same code.
//! let db = Database::connect("sqlite:/var/lib/symbolon/issuer.db").await?;
//! db.migrate("issuer", MIGRATIONS).await?;
//!
//! sqlx::query("INSERT INTO issuer_offers (id, created_at, claims, sealed_key) VALUES ($1, $2, $3, $4)")
//!     .bind("offer-1")
//!     .bind(1_767_225_600_i64)
//!     .bind(r#"{"given_name":"Erika"}"#)
//!     .bind(&b"\x01\x02"[..])
//!     .execute(db.pool())
//!     .await?;
//!
//! let offer: Option<Offer> = sqlx::query_as(
//!     "SELECT id, created_at, claims, redeemed, sealed_key FROM issuer_offers WHERE id = $1",
//! )
//! .bind("offer-1")
//! .fetch_optional(db.pool())
//! .await?;
//!
//! // Redeem at most once, whichever replica asks first.
//! let redeemed = sqlx::query("UPDATE issuer_offers SET redeemed = 1 WHERE id = $1 AND redeemed = 0")
//!     .bind("offer-1")
//!     .execute(db.pool())
//!     .await?
//!     .rows_affected()
//!     == 1;
//! # let _ = (offer, redeemed);
//! # Ok(())
//! # }
//! ```
//!
//! # Example: single-use values
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use store::{CacheConfig, Caches, Database, InsertOutcome};
//!
//! # async fn run() -> Result<(), store::Error> {
//! // The default keeps single-use values in the role's database: they survive restarts.
//! let db = Database::connect("sqlite:/var/lib/symbolon/issuer.db").await?;
//! let clock = Arc::new(jose::jwt::SystemClock);
//! let caches = Caches::open(&CacheConfig::default(), Some(&db), clock).await?;
//! // A PoP JWT's jti: the first presentation wins.
//! match caches.single_use.insert_once("pop_jti", b"jti-from-the-jwt", Duration::from_secs(300)).await? {
//!     InsertOutcome::Inserted => { /* accept */ }
//!     InsertOutcome::AlreadyPresent => { /* replay: reject */ }
//! }
//! // A c_nonce handed out now, consumed by exactly one credential request.
//! let _ = caches.single_use.put("c_nonce", b"nonce", b"", Duration::from_secs(300)).await?;
//! let fresh = caches.single_use.take("c_nonce", b"nonce").await?.is_some();
//! # let _ = fresh;
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod db;
mod error;
pub mod key;
pub mod memory;
pub mod migrate;
pub mod rate;
pub mod redis_store;
pub mod single_use;
pub mod sql_store;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{CacheConfig, CacheConfigError, CacheKind, CacheSection, Caches};
pub use db::{Backend, Database, DatabaseOptions};
pub use error::{Error, is_connection_error};
pub use key::{MAX_TTL, MAX_VALUE_LEN};
pub use memory::{MemoryLimits, MemoryStore};
pub use migrate::{Migration, MigrationReport};
pub use rate::{RateDecision, RateLimiter};
pub use redis_store::RedisStore;
pub use single_use::{InsertOutcome, SingleUse, StoreFuture};
pub use sql_store::SqlStore;

/// The sqlx this crate is built on (the `Any` driver with SQLite and PostgreSQL).
pub use sqlx;
