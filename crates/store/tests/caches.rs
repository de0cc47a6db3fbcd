//! Opening the configured cache backend: each choice yields a working store, the default is
//! the database (durable across restarts), and the database choice without a database is
//! refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use store::testing::{self, TestDatabase};
use store::{Backend, CacheConfig, CacheKind, CacheSection, Caches, Error, InsertOutcome};

async fn exercise(caches: &Caches) {
    let s = &caches.single_use;
    assert_eq!(
        s.insert_once("jti", b"j", Duration::from_secs(60))
            .await
            .unwrap(),
        InsertOutcome::Inserted
    );
    assert_eq!(
        s.insert_once("jti", b"j", Duration::from_secs(60))
            .await
            .unwrap(),
        InsertOutcome::AlreadyPresent
    );
    assert_eq!(
        s.put("code", b"c", b"v", Duration::from_secs(60))
            .await
            .unwrap(),
        InsertOutcome::Inserted
    );
    assert_eq!(s.take("code", b"c").await.unwrap(), Some(b"v".to_vec()));
    assert!(
        caches
            .rate_limiter
            .check("attest", b"id", 1, Duration::from_secs(60))
            .await
            .unwrap()
            .is_allowed()
    );
    s.ping().await.unwrap();
}

fn clock() -> Arc<dyn jose::jwt::Clock> {
    Arc::new(jose::jwt::SystemClock)
}

#[tokio::test]
async fn opens_memory_when_chosen() {
    let raw = CacheSection {
        backend: Some(CacheKind::Memory),
        ..CacheSection::default()
    };
    let config = CacheConfig::try_from(raw).unwrap();
    exercise(&Caches::open(&config, None, clock()).await.unwrap()).await;
}

/// The default keeps single-use values in the role's database, so a value used before a
/// restart (a new pool on the same SQLite file) stays used after it.
#[tokio::test]
async fn issue10_default_cache_keeps_single_use_values_across_a_restart() {
    let config = CacheConfig::try_from(CacheSection::default()).unwrap();
    assert!(matches!(config, CacheConfig::Database), "{config:?}");
    let t = TestDatabase::sqlite().unwrap();
    let before = t.connect().await.unwrap();
    let caches = Caches::open(&config, Some(&before), clock()).await.unwrap();
    let ttl = Duration::from_secs(300);
    let s = &caches.single_use;
    assert_eq!(
        s.insert_once("pop_jti", b"captured", ttl).await.unwrap(),
        InsertOutcome::Inserted
    );
    assert_eq!(
        s.put("c_nonce", b"spent", b"1", ttl).await.unwrap(),
        InsertOutcome::Inserted
    );
    assert!(s.take("c_nonce", b"spent").await.unwrap().is_some());
    assert_eq!(
        s.put("c_nonce", b"pending", b"1", ttl).await.unwrap(),
        InsertOutcome::Inserted
    );
    drop(caches);
    before.close().await;

    let after = t.connect().await.unwrap();
    let caches = Caches::open(&config, Some(&after), clock()).await.unwrap();
    let s = &caches.single_use;
    assert_eq!(
        s.insert_once("pop_jti", b"captured", ttl).await.unwrap(),
        InsertOutcome::AlreadyPresent,
        "a jti seen before the restart is a replay after it"
    );
    assert_eq!(s.take("c_nonce", b"spent").await.unwrap(), None);
    assert_eq!(
        s.take("c_nonce", b"pending").await.unwrap(),
        Some(b"1".to_vec()),
        "a value handed out before the restart can still be used once"
    );
}

#[tokio::test]
async fn opens_redis_from_its_url() {
    let raw = CacheSection {
        redis_url: Some(SecretString::from(testing::redis_url().unwrap())),
        redis_prefix: Some(format!("{}:", testing::unique_name("caches").unwrap())),
        ..CacheSection::default()
    };
    let config = CacheConfig::try_from(raw).unwrap();
    assert!(matches!(config, CacheConfig::Redis { .. }));
    exercise(&Caches::open(&config, None, clock()).await.unwrap()).await;
}

#[tokio::test]
async fn opens_the_database_backend_on_both_engines() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let t = TestDatabase::new(backend).await.unwrap();
        let db = t.connect().await.unwrap();
        let caches = Caches::open(&CacheConfig::Database, Some(&db), clock())
            .await
            .unwrap();
        exercise(&caches).await;
    }
}

#[tokio::test]
async fn rejects_database_backend_without_database() {
    assert!(matches!(
        Caches::open(&CacheConfig::Database, None, clock()).await,
        Err(Error::DatabaseRequired)
    ));
}

#[tokio::test]
async fn rejects_unreachable_redis_at_start() {
    let config = CacheConfig::Redis {
        // Port 1 on loopback: nothing listens there.
        url: SecretString::from("redis://127.0.0.1:1"),
        prefix: "x:".to_owned(),
    };
    let err = Caches::open(&config, None, clock()).await.unwrap_err();
    assert!(matches!(err, Error::Redis { .. }), "{err:?}");
    assert!(err.is_unavailable());
}
