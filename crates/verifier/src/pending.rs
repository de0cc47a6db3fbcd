//! A process-local cache of pending transactions, so answering one costs a single
//! database statement (the conditional update) instead of a read and a write, and the
//! DCQL query is parsed once per transaction rather than per request.
//!
//! The cache only holds what never changes while a transaction is pending (identifiers,
//! nonce, request parameters, the parsed query). Whether a transaction is still pending is
//! never decided here: the store's conditional update is the one authority, so several
//! processes sharing a database stay correct. A miss (another replica created the
//! transaction, or this process restarted) falls back to the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use oid4vp::DcqlQuery;

use crate::transaction::{Status, Transaction};

/// A pending transaction with its query parsed.
#[derive(Debug)]
pub struct Pending {
    /// The transaction as stored at creation.
    pub tx: Transaction,
    /// Its DCQL query.
    pub query: DcqlQuery,
}

/// At most this many transactions are cached; beyond, expired ones are dropped, and if
/// that is not enough new ones are simply not cached.
const CAPACITY: usize = 100_000;

/// The cache, keyed by request id.
#[derive(Debug, Default)]
pub struct PendingCache {
    map: Mutex<HashMap<String, Arc<Pending>>>,
}

impl PendingCache {
    /// Caches a pending transaction (no-op for answered ones or a malformed query).
    pub fn put(&self, tx: &Transaction, now: i64) -> Option<Arc<Pending>> {
        if tx.status != Status::Pending {
            return None;
        }
        let query = DcqlQuery::from_json(tx.dcql_query.as_bytes()).ok()?;
        let entry = Arc::new(Pending {
            tx: tx.clone(),
            query,
        });
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= CAPACITY {
                map.retain(|_, p| p.tx.expires_at > now);
            }
            if map.len() < CAPACITY {
                map.insert(tx.request_id.clone(), Arc::clone(&entry));
            }
        }
        Some(entry)
    }

    /// The cached transaction with this request id.
    pub fn get(&self, request_id: &str) -> Option<Arc<Pending>> {
        self.map.lock().ok()?.get(request_id).cloned()
    }

    /// Forgets a transaction (answered, or found answered in the store).
    pub fn remove(&self, request_id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(request_id);
        }
    }

    /// Drops entries that expired before `now`.
    pub fn sweep(&self, now: i64) {
        if let Ok(mut map) = self.map.lock() {
            map.retain(|_, p| p.tx.expires_at > now);
        }
    }
}
