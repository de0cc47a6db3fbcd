//! Redis single-use store and rate limiter: replay protection shared by every replica and
//! kept across application restarts.
//!
//! Each operation is one atomic Redis command: `SET key value NX EX ttl` (first writer
//! wins; Redis expires the key itself) and `GETDEL key` (read and delete in one step, so
//! two replicas can never both get a value). The rate limiter runs `SET key 0 NX EX window`,
//! `INCR key`, `TTL key` in one `MULTI`/`EXEC`. Key names are
//! `<prefix>su:<namespace>:<hash>` and `<prefix>rl:<namespace>:<hash>` (hash: base64url
//! SHA-256, see [`crate::key`]); the prefix lets deployments share a Redis.
//!
//! The connection manager reconnects on its own after a Redis restart; commands have a
//! response timeout so a stalled Redis fails requests (closed) instead of hanging them.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::Error;
use crate::key::{self, KeyHash, Purpose};
use crate::rate::{RateDecision, RateLimiter};
use crate::single_use::{InsertOutcome, SingleUse, StoreFuture};

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "symbolon:";

/// The Redis backend for both [`SingleUse`] and [`RateLimiter`].
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisStore {
    // The URL (which may hold a password) is not kept.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://[:password@]host[:port][/db]`); fails if Redis cannot be
    /// reached now, so a misconfigured role does not start.
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisStore, Error> {
        check_prefix(prefix)?;
        let client = redis::Client::open(url).map_err(Error::redis("parse the Redis URL"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(3);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(Error::redis("connect"))?;
        let store = RedisStore {
            conn,
            prefix: prefix.to_owned(),
        };
        store.ping_now().await?;
        Ok(store)
    }

    fn key(&self, kind: &str, namespace: &str, hash: &KeyHash) -> String {
        format!("{}{kind}:{namespace}:{}", self.prefix, hash.encoded())
    }

    async fn set_nx(
        &self,
        namespace: &str,
        key: &[u8],
        value: &[u8],
        ttl: Duration,
    ) -> Result<InsertOutcome, Error> {
        key::check_namespace(namespace)?;
        key::check_value(value)?;
        let ttl = key::duration_secs(ttl)?;
        let name = self.key(
            "su",
            namespace,
            &KeyHash::new(Purpose::SingleUse, namespace, key),
        );
        let mut conn = self.conn.clone();
        let reply: Option<String> = redis::cmd("SET")
            .arg(name)
            .arg(value)
            .arg("NX")
            .arg("EX")
            .arg(ttl)
            .query_async(&mut conn)
            .await
            .map_err(Error::redis("SET NX"))?;
        match reply.as_deref() {
            Some("OK") => Ok(InsertOutcome::Inserted),
            None => Ok(InsertOutcome::AlreadyPresent),
            Some(_) => Err(Error::RedisReply("SET NX")),
        }
    }

    async fn get_del(&self, namespace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        key::check_namespace(namespace)?;
        let name = self.key(
            "su",
            namespace,
            &KeyHash::new(Purpose::SingleUse, namespace, key),
        );
        let mut conn = self.conn.clone();
        redis::cmd("GETDEL")
            .arg(name)
            .query_async(&mut conn)
            .await
            .map_err(Error::redis("GETDEL"))
    }

    async fn count(
        &self,
        namespace: &str,
        key: &[u8],
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, Error> {
        key::check_namespace(namespace)?;
        let window = key::duration_secs(window)?;
        let name = self.key(
            "rl",
            namespace,
            &KeyHash::new(Purpose::RateLimit, namespace, key),
        );
        let mut conn = self.conn.clone();
        let (hits, ttl): (i64, i64) = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(&name)
            .arg(0)
            .arg("NX")
            .arg("EX")
            .arg(window)
            .ignore()
            .cmd("INCR")
            .arg(&name)
            .cmd("TTL")
            .arg(&name)
            .query_async(&mut conn)
            .await
            .map_err(Error::redis("rate limit MULTI"))?;
        // TTL is -1/-2 only if the key lost its expiry or vanished between the commands,
        // which MULTI rules out; answer with the whole window rather than zero.
        let left = if ttl > 0 { ttl } else { window };
        Ok(RateDecision::from_count(hits, limit, left))
    }

    async fn ping_now(&self) -> Result<(), Error> {
        let mut conn = self.conn.clone();
        let pong: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(Error::redis("PING"))?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(Error::RedisReply("PING"))
        }
    }
}

fn check_prefix(prefix: &str) -> Result<(), Error> {
    let valid = prefix.len() <= 64
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidPrefix(prefix.to_owned()))
    }
}

impl SingleUse for RedisStore {
    fn insert_once<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a [u8],
        ttl: Duration,
    ) -> StoreFuture<'a, InsertOutcome> {
        // An empty value: Redis stores and returns it like any other.
        Box::pin(self.set_nx(namespace, key, &[], ttl))
    }

    fn put<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a [u8],
        value: &'a [u8],
        ttl: Duration,
    ) -> StoreFuture<'a, InsertOutcome> {
        Box::pin(self.set_nx(namespace, key, value, ttl))
    }

    fn take<'a>(&'a self, namespace: &'a str, key: &'a [u8]) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(self.get_del(namespace, key))
    }

    fn purge_expired(&self) -> StoreFuture<'_, u64> {
        Box::pin(async { Ok(0) })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(self.ping_now())
    }
}

impl RateLimiter for RedisStore {
    fn check<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a [u8],
        limit: u32,
        window: Duration,
    ) -> StoreFuture<'a, RateDecision> {
        Box::pin(self.count(namespace, key, limit, window))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_invalid_prefix() {
        for bad in ["a b", "a{b}", "ü", &"p".repeat(65)] {
            assert!(
                matches!(check_prefix(bad), Err(Error::InvalidPrefix(_))),
                "{bad:?}"
            );
        }
        for good in ["", DEFAULT_PREFIX, "prod.eu-1:"] {
            assert!(check_prefix(good).is_ok(), "{good}");
        }
    }
}
