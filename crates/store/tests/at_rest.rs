//! What the backends hold at rest: hashed keys only, never the secret a client presents.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::TestClock;
use store::testing::{self, TestDatabase};
use store::{Backend, InsertOutcome, RateLimiter, RedisStore, SingleUse, SqlStore};

const SECRET_CODE: &[u8] = b"pre-authorized-code-Zx81kQ0vB7";
const SECRET_JTI: &[u8] = b"jti-3b1f0c5e9d7a4c2b8e6f";
const IDENTITY: &[u8] = b"wallet-instance-42@cvm-wallets";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn fill(store: &dyn SingleUse, limiter: &dyn RateLimiter) {
    let minute = Duration::from_secs(60);
    let put = store.put("code", SECRET_CODE, b"offer-1", minute).await;
    assert_eq!(put.unwrap(), InsertOutcome::Inserted);
    let seen = store.insert_once("jti", SECRET_JTI, minute).await;
    assert_eq!(seen.unwrap(), InsertOutcome::Inserted);
    let counted = limiter.check("attest", IDENTITY, 5, minute).await;
    assert!(counted.unwrap().is_allowed());
}

async fn stored_keys(db: &store::Database) -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = Vec::new();
    for sql in [
        "SELECT key_hash FROM store_single_use",
        "SELECT key_hash FROM store_rate_limit",
    ] {
        let rows: Vec<(Vec<u8>,)> = sqlx::query_as(sql).fetch_all(db.pool()).await.unwrap();
        keys.extend(rows.into_iter().map(|(k,)| k));
    }
    keys
}

#[tokio::test]
async fn sqlite_file_holds_only_hashed_keys() {
    let t = TestDatabase::new(Backend::Sqlite).await.unwrap();
    let db = t.connect().await.unwrap();
    let store = SqlStore::new(db.clone(), TestClock::new(common::START))
        .await
        .unwrap();
    fill(&store, &store).await;
    let keys = stored_keys(&db).await;
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| k.len() == 32));
    db.close().await;
    // Every byte on disk: the database file and its write-ahead log.
    let path = t
        .url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let mut disk = std::fs::read(&path).unwrap();
    if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
        disk.extend(wal);
    }
    assert!(contains(&disk, b"store_single_use"), "the file was read");
    for secret in [SECRET_CODE, SECRET_JTI, IDENTITY] {
        assert!(!contains(&disk, secret));
    }
}

#[tokio::test]
async fn postgres_tables_hold_only_hashed_keys() {
    let t = TestDatabase::new(Backend::Postgres).await.unwrap();
    let db = t.connect().await.unwrap();
    let store = SqlStore::new(db.clone(), TestClock::new(common::START))
        .await
        .unwrap();
    fill(&store, &store).await;
    let keys = stored_keys(&db).await;
    assert_eq!(keys.len(), 3);
    for key in keys {
        assert_eq!(key.len(), 32);
        for secret in [SECRET_CODE, SECRET_JTI, IDENTITY] {
            assert!(!contains(&key, &secret[..16]));
        }
    }
}

#[tokio::test]
async fn redis_holds_only_hashed_keys() {
    let url = testing::redis_url().unwrap();
    let prefix = format!("{}:", testing::unique_name("atrest").unwrap());
    let store = Arc::new(RedisStore::connect(&url, &prefix).await.unwrap());
    fill(store.as_ref(), store.as_ref()).await;

    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let names: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(names.len(), 3, "{names:?}");
    for name in &names {
        for secret in [SECRET_CODE, SECRET_JTI, IDENTITY] {
            assert!(!contains(name.as_bytes(), secret), "{name}");
        }
        let ttl: i64 = redis::cmd("TTL")
            .arg(name)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!((1..=60).contains(&ttl), "every key expires: {name} {ttl}");
    }
}
