//! A small in-process cache of access tokens (by hash), filled at `/token` and on lookups,
//! so the common `/token` → `/credential` sequence on one replica reads the database once
//! less. Safe because a token row never changes after it is written: only time ends it, and
//! the expiry is checked on every use.

use crate::db::TokenRow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Access tokens by hash.
#[derive(Debug)]
pub(crate) struct TokenCache {
    capacity: usize,
    map: Mutex<HashMap<String, Arc<TokenRow>>>,
}

impl TokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        TokenCache {
            capacity,
            map: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn get(&self, hash: &str) -> Option<Arc<TokenRow>> {
        self.map.lock().ok()?.get(hash).cloned()
    }

    pub(crate) fn insert(&self, hash: String, row: Arc<TokenRow>, now: i64) {
        let Ok(mut map) = self.map.lock() else {
            return;
        };
        if map.len() >= self.capacity {
            map.retain(|_, r| r.token_expires_at > now);
            if map.len() >= self.capacity {
                map.clear();
            }
        }
        map.insert(hash, row);
    }
}
