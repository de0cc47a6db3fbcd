//! Single-use values and replay caches: the one interface the roles use for nonces, PoP
//! `jti`s, pre-authorized codes, attestation challenges and response codes, whatever the
//! backend ([`crate::MemoryStore`], [`crate::RedisStore`], [`crate::SqlStore`]).
//!
//! Two patterns, each a single atomic operation on every backend:
//! - replay cache: [`SingleUse::insert_once`] records a value seen (a `jti`); the first
//!   call wins, every later one within the TTL gets [`InsertOutcome::AlreadyPresent`];
//! - consume once: [`SingleUse::put`] stores a value under a key the server handed out (a
//!   `c_nonce`, a code); [`SingleUse::take`] returns it and deletes it in the same step, so
//!   among any number of concurrent callers, in any number of processes, at most one gets
//!   it.
//!
//! A namespace is used for one pattern only. Keys are hashed before storage (see
//! [`crate::key`]). An entry lives at least its TTL (rounded up to whole seconds) and may
//! linger up to one second more. Errors mean "could not check": fail closed.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::Error;

/// The future every store method returns (boxed so the traits can be used as `dyn`).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>;

/// Whether an insert created the entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum InsertOutcome {
    /// The key was new (or its previous entry had expired): this caller won.
    Inserted,
    /// A live entry exists: a replay (or, for `put`, a key collision). Nothing changed.
    AlreadyPresent,
}

/// Atomic single-use operations. Implementations are safe to share between tasks and, for
/// the Redis and database backends, between processes.
pub trait SingleUse: Send + Sync + fmt::Debug {
    /// Records `key` in `namespace` for `ttl` unless a live entry exists.
    fn insert_once<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a [u8],
        ttl: Duration,
    ) -> StoreFuture<'a, InsertOutcome>;

    /// Stores `value` under `key` for `ttl` unless a live entry exists (never overwrites:
    /// a live value keeps its owner). `value` is at most [`crate::MAX_VALUE_LEN`] bytes.
    fn put<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a [u8],
        value: &'a [u8],
        ttl: Duration,
    ) -> StoreFuture<'a, InsertOutcome>;

    /// Removes and returns the live value under `key`; `None` if absent, expired or already
    /// taken. A value is returned at most once, ever.
    fn take<'a>(&'a self, namespace: &'a str, key: &'a [u8]) -> StoreFuture<'a, Option<Vec<u8>>>;

    /// Deletes expired entries (database and in-process backends; Redis expires on its
    /// own) and returns how many. Correctness never depends on it: expired entries are
    /// ignored when read. Run it from a periodic task to bound the table.
    fn purge_expired(&self) -> StoreFuture<'_, u64>;

    /// One round trip to the backend, for readiness probes.
    fn ping(&self) -> StoreFuture<'_, ()>;
}
