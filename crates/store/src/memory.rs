//! In-process single-use store and rate limiter: the embedded default (one process, state
//! lost at restart).
//!
//! Memory is bounded: a cap on entries and on bytes (values plus a fixed per-entry cost).
//! When full of live entries a new one is refused with [`Error::CapacityExceeded`] instead
//! of evicting: evicting a live nonce or `jti` would let it be replayed, so an attacker
//! flooding the cache gets refusals (which the role turns into 503s), not replays. Expired
//! entries are dropped in expiry order on every call (an ordered index, so the cost is per
//! expired entry, never a scan of the table).

use std::collections::hash_map::Entry as MapEntry;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use jose::jwt::{Clock, SystemClock};

use crate::Error;
use crate::key::{self, KeyHash, Purpose};
use crate::rate::{RateDecision, RateLimiter};
use crate::single_use::{InsertOutcome, SingleUse, StoreFuture};

/// Estimated bytes per entry beyond its value: the map slot, the expiry index node, the
/// hashed key twice.
const ENTRY_OVERHEAD: usize = 128;

/// Caps for a [`MemoryStore`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryLimits {
    /// Live single-use entries.
    pub max_entries: usize,
    /// Bytes of single-use entries (value length plus a fixed per-entry cost).
    pub max_bytes: usize,
    /// Keys with an open rate-limit window.
    pub max_rate_keys: usize,
}

impl Default for MemoryLimits {
    /// 100 000 entries and 32 MiB for single-use values, 100 000 rate-limit keys.
    fn default() -> Self {
        MemoryLimits {
            max_entries: 100_000,
            max_bytes: 32 * 1024 * 1024,
            max_rate_keys: 100_000,
        }
    }
}

struct Entry {
    value: Vec<u8>,
    expires_at: i64,
}

#[derive(Default)]
struct SingleTable {
    entries: HashMap<KeyHash, Entry>,
    by_expiry: BTreeSet<(i64, KeyHash)>,
    bytes: usize,
}

impl SingleTable {
    /// Drops entries whose `expires_at` is before `now` (an entry is live through its
    /// `expires_at` second).
    fn purge(&mut self, now: i64) -> u64 {
        let mut purged = 0;
        while let Some(&(expires_at, hash)) = self.by_expiry.first() {
            if expires_at >= now {
                break;
            }
            self.by_expiry.pop_first();
            if let Some(entry) = self.entries.remove(&hash) {
                self.bytes = self
                    .bytes
                    .saturating_sub(entry.value.len() + ENTRY_OVERHEAD);
            }
            purged += 1;
        }
        purged
    }

    fn insert(
        &mut self,
        limits: &MemoryLimits,
        hash: KeyHash,
        value: &[u8],
        expires_at: i64,
        now: i64,
    ) -> Result<InsertOutcome, Error> {
        self.purge(now);
        if self.entries.contains_key(&hash) {
            return Ok(InsertOutcome::AlreadyPresent);
        }
        let cost = value.len() + ENTRY_OVERHEAD;
        if self.entries.len() >= limits.max_entries || self.bytes + cost > limits.max_bytes {
            return Err(Error::CapacityExceeded {
                table: "single-use store",
                entries: self.entries.len(),
                bytes: self.bytes,
            });
        }
        self.entries.insert(
            hash,
            Entry {
                value: value.to_vec(),
                expires_at,
            },
        );
        self.by_expiry.insert((expires_at, hash));
        self.bytes += cost;
        Ok(InsertOutcome::Inserted)
    }

    fn take(&mut self, hash: &KeyHash, now: i64) -> Option<Vec<u8>> {
        self.purge(now);
        let entry = self.entries.remove(hash)?;
        self.by_expiry.remove(&(entry.expires_at, *hash));
        self.bytes = self
            .bytes
            .saturating_sub(entry.value.len() + ENTRY_OVERHEAD);
        Some(entry.value)
    }
}

struct Window {
    hits: i64,
    ends_at: i64,
}

#[derive(Default)]
struct RateTable {
    windows: HashMap<KeyHash, Window>,
    by_end: BTreeSet<(i64, KeyHash)>,
}

impl RateTable {
    /// Drops windows that have ended (a window covers `[start, ends_at)`).
    fn purge(&mut self, now: i64) {
        while let Some(&(ends_at, hash)) = self.by_end.first() {
            if ends_at > now {
                break;
            }
            self.by_end.pop_first();
            self.windows.remove(&hash);
        }
    }

    fn check(
        &mut self,
        limits: &MemoryLimits,
        hash: KeyHash,
        limit: u32,
        window: i64,
        now: i64,
    ) -> Result<RateDecision, Error> {
        self.purge(now);
        let open_windows = self.windows.len();
        let current = match self.windows.entry(hash) {
            MapEntry::Occupied(occupied) => {
                let current = occupied.into_mut();
                // Saturates just past the limit: the answer cannot change any more.
                current.hits = (current.hits + 1).min(i64::from(limit) + 1);
                current
            }
            MapEntry::Vacant(vacant) => {
                if open_windows >= limits.max_rate_keys {
                    return Err(Error::CapacityExceeded {
                        table: "rate limiter",
                        entries: open_windows,
                        bytes: open_windows * ENTRY_OVERHEAD,
                    });
                }
                let ends_at = now.saturating_add(window);
                self.by_end.insert((ends_at, hash));
                vacant.insert(Window { hits: 1, ends_at })
            }
        };
        Ok(RateDecision::from_count(
            current.hits,
            limit,
            current.ends_at - now,
        ))
    }
}

/// The in-process backend for both [`SingleUse`] and [`RateLimiter`].
pub struct MemoryStore {
    clock: Arc<dyn Clock>,
    limits: MemoryLimits,
    single: Mutex<SingleTable>,
    rates: Mutex<RateTable>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// The tables hold no invariant a panicking holder could break half-way (no code in the
/// critical sections panics), so a poisoned lock is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryStore {
    /// A store with these caps, reading time from `clock`.
    pub fn new(limits: MemoryLimits, clock: Arc<dyn Clock>) -> MemoryStore {
        MemoryStore {
            clock,
            limits,
            single: Mutex::new(SingleTable::default()),
            rates: Mutex::new(RateTable::default()),
        }
    }

    /// A store with default caps and the system clock.
    pub fn with_defaults() -> MemoryStore {
        MemoryStore::new(MemoryLimits::default(), Arc::new(SystemClock))
    }

    /// Live single-use entries (after dropping expired ones).
    pub fn len(&self) -> usize {
        let mut table = lock(&self.single);
        table.purge(self.clock.now());
        table.entries.len()
    }

    /// True when no live single-use entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert(
        &self,
        namespace: &str,
        key: &[u8],
        value: &[u8],
        ttl: Duration,
    ) -> Result<InsertOutcome, Error> {
        key::check_namespace(namespace)?;
        key::check_value(value)?;
        let ttl = key::duration_secs(ttl)?;
        let hash = KeyHash::new(Purpose::SingleUse, namespace, key);
        let now = self.clock.now();
        lock(&self.single).insert(&self.limits, hash, value, now.saturating_add(ttl), now)
    }
}

impl SingleUse for MemoryStore {
    fn insert_once<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a [u8],
        ttl: Duration,
    ) -> StoreFuture<'a, InsertOutcome> {
        let result = self.insert(namespace, key, &[], ttl);
        Box::pin(async move { result })
    }

    fn put<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a [u8],
        value: &'a [u8],
        ttl: Duration,
    ) -> StoreFuture<'a, InsertOutcome> {
        let result = self.insert(namespace, key, value, ttl);
        Box::pin(async move { result })
    }

    fn take<'a>(&'a self, namespace: &'a str, key: &'a [u8]) -> StoreFuture<'a, Option<Vec<u8>>> {
        let result = key::check_namespace(namespace).map(|()| {
            let hash = KeyHash::new(Purpose::SingleUse, namespace, key);
            lock(&self.single).take(&hash, self.clock.now())
        });
        Box::pin(async move { result })
    }

    fn purge_expired(&self) -> StoreFuture<'_, u64> {
        let purged = lock(&self.single).purge(self.clock.now());
        lock(&self.rates).purge(self.clock.now());
        Box::pin(async move { Ok(purged) })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
}

impl RateLimiter for MemoryStore {
    fn check<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a [u8],
        limit: u32,
        window: Duration,
    ) -> StoreFuture<'a, RateDecision> {
        let result = key::check_namespace(namespace)
            .and_then(|()| key::duration_secs(window))
            .and_then(|window| {
                let hash = KeyHash::new(Purpose::RateLimit, namespace, key);
                lock(&self.rates).check(&self.limits, hash, limit, window, self.clock.now())
            });
        Box::pin(async move { result })
    }
}
