//! Opening the configured cache backend: each choice yields a working store, and the
//! database choice without a database is refused.

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
use store::{Backend, CacheConfig, Caches, Error, InsertOutcome, RawCacheConfig};

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
async fn opens_memory_by_default() {
    let config = CacheConfig::try_from(RawCacheConfig::default()).unwrap();
    exercise(&Caches::open(&config, None, clock()).await.unwrap()).await;
}

#[tokio::test]
async fn opens_redis_from_its_url() {
    let raw = RawCacheConfig {
        redis_url: Some(SecretString::from(testing::redis_url().unwrap())),
        redis_prefix: Some(format!("{}:", testing::unique_name("caches").unwrap())),
        ..RawCacheConfig::default()
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
