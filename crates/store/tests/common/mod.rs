//! Shared test scaffolding: a settable clock and one harness per backend, so every suite
//! runs the same cases against in-process, SQLite, PostgreSQL and Redis.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use store::testing::{self, TestDatabase};
use store::{Backend, MemoryLimits, MemoryStore, RateLimiter, RedisStore, SingleUse, SqlStore};

/// A clock the test moves by hand.
#[derive(Debug)]
pub(crate) struct TestClock(AtomicI64);

impl TestClock {
    pub(crate) fn new(now: i64) -> Arc<TestClock> {
        Arc::new(TestClock(AtomicI64::new(now)))
    }

    pub(crate) fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl jose::jwt::Clock for TestClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Where a harness keeps its state, so a second "replica" can be opened on it.
pub(crate) enum Place {
    Memory,
    Sql(TestDatabase),
    Redis { url: String, prefix: String },
}

/// One backend under test.
pub(crate) struct Harness {
    pub(crate) store: Arc<dyn SingleUse>,
    pub(crate) limiter: Arc<dyn RateLimiter>,
    /// `None`: the backend keeps time itself (Redis), tests wait in real time.
    pub(crate) clock: Option<Arc<TestClock>>,
    pub(crate) place: Place,
}

pub(crate) const START: i64 = 1_767_225_600;

impl Harness {
    pub(crate) async fn memory() -> Harness {
        Harness::memory_with(MemoryLimits::default())
    }

    pub(crate) fn memory_with(limits: MemoryLimits) -> Harness {
        let clock = TestClock::new(START);
        let store = Arc::new(MemoryStore::new(limits, clock.clone()));
        Harness {
            store: store.clone(),
            limiter: store,
            clock: Some(clock),
            place: Place::Memory,
        }
    }

    pub(crate) async fn sql(backend: Backend) -> Harness {
        let db = TestDatabase::new(backend).await.unwrap();
        let clock = TestClock::new(START);
        let store = Arc::new(
            SqlStore::new(db.connect().await.unwrap(), clock.clone())
                .await
                .unwrap(),
        );
        Harness {
            store: store.clone(),
            limiter: store,
            clock: Some(clock),
            place: Place::Sql(db),
        }
    }

    pub(crate) async fn redis() -> Harness {
        let url = testing::redis_url().unwrap();
        let prefix = format!("{}:", testing::unique_name("test").unwrap());
        let store = Arc::new(RedisStore::connect(&url, &prefix).await.unwrap());
        Harness {
            store: store.clone(),
            limiter: store,
            clock: None,
            place: Place::Redis { url, prefix },
        }
    }

    /// A second, independent handle on the same state: another replica, or this one after
    /// a restart. `None` for the in-process backend, whose state is the process.
    pub(crate) async fn replica(&self) -> Option<(Arc<dyn SingleUse>, Arc<dyn RateLimiter>)> {
        match &self.place {
            Place::Memory => None,
            Place::Sql(db) => {
                let clock = self.clock.clone().unwrap();
                let store = Arc::new(
                    SqlStore::new(db.connect().await.unwrap(), clock)
                        .await
                        .unwrap(),
                );
                Some((store.clone(), store))
            }
            Place::Redis { url, prefix } => {
                let store = Arc::new(RedisStore::connect(url, prefix).await.unwrap());
                Some((store.clone(), store))
            }
        }
    }

    /// Moves time forward by `secs`: the test clock, or a real wait for Redis (plus a
    /// margin, Redis expiry being real time).
    pub(crate) async fn advance(&self, secs: i64) {
        match &self.clock {
            Some(clock) => clock.advance(secs),
            None => {
                let ms = u64::try_from(secs).unwrap() * 1000 + 150;
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
        }
    }

    pub(crate) fn real_time(&self) -> bool {
        self.clock.is_none()
    }
}
