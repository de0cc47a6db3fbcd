//! The rate-limiter suite on every backend: in-process, SQLite, PostgreSQL, Redis.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::Harness;
use store::{Error, MemoryLimits, RateDecision, RateLimiter};

fn allowed(remaining: u32) -> RateDecision {
    RateDecision::Allowed { remaining }
}

/// The window used by a case: a minute on a test clock; one second on Redis, whose
/// expiry is real time.
fn window(h: &Harness) -> i64 {
    if h.real_time() { 1 } else { 60 }
}

async fn concurrent_checks(limiters: &[Arc<dyn RateLimiter>], n: usize, limit: u32) -> usize {
    let mut tasks = Vec::new();
    for i in 0..n {
        let limiter = limiters[i % limiters.len()].clone();
        tasks.push(tokio::spawn(async move {
            limiter
                .check("attest", b"alice", limit, Duration::from_secs(60))
                .await
                .unwrap()
        }));
    }
    let mut allowed = 0;
    for task in tasks {
        if task.await.unwrap().is_allowed() {
            allowed += 1;
        }
    }
    allowed
}

mod cases {
    use super::*;

    pub(super) async fn allows_limit_then_limits_with_retry_after(h: Harness) {
        let w = window(&h);
        let win = Duration::from_secs(u64::try_from(w).unwrap());
        let l = &h.limiter;
        assert_eq!(
            l.check("attest", b"alice", 3, win).await.unwrap(),
            allowed(2)
        );
        assert_eq!(
            l.check("attest", b"alice", 3, win).await.unwrap(),
            allowed(1)
        );
        assert_eq!(
            l.check("attest", b"alice", 3, win).await.unwrap(),
            allowed(0)
        );
        if h.real_time() {
            match l.check("attest", b"alice", 3, win).await.unwrap() {
                RateDecision::Limited { retry_after } => {
                    assert!(retry_after >= Duration::from_secs(1) && retry_after <= win);
                }
                other => panic!("expected Limited, got {other:?}"),
            }
        } else {
            h.advance(20).await;
            assert_eq!(
                l.check("attest", b"alice", 3, win).await.unwrap(),
                RateDecision::Limited {
                    retry_after: Duration::from_secs(40)
                }
            );
            // Refused calls do not extend the window.
            h.advance(39).await;
            assert_eq!(
                l.check("attest", b"alice", 3, win).await.unwrap(),
                RateDecision::Limited {
                    retry_after: Duration::from_secs(1)
                }
            );
        }
        // The window ends (Redis: a one-second window): a new one starts with the next call.
        h.advance(1).await;
        assert_eq!(
            l.check("attest", b"alice", 3, win).await.unwrap(),
            allowed(2)
        );
    }

    pub(super) async fn keys_and_namespaces_are_counted_apart(h: Harness) {
        let l = &h.limiter;
        let win = Duration::from_secs(60);
        assert_eq!(
            l.check("attest", b"alice", 1, win).await.unwrap(),
            allowed(0)
        );
        assert!(
            !l.check("attest", b"alice", 1, win)
                .await
                .unwrap()
                .is_allowed()
        );
        assert_eq!(l.check("attest", b"bob", 1, win).await.unwrap(), allowed(0));
        assert_eq!(
            l.check("token", b"alice", 1, win).await.unwrap(),
            allowed(0)
        );
    }

    pub(super) async fn limit_zero_refuses_every_call(h: Harness) {
        let r = h
            .limiter
            .check("attest", b"alice", 0, Duration::from_secs(60))
            .await
            .unwrap();
        assert!(
            matches!(r, RateDecision::Limited { retry_after } if retry_after >= Duration::from_secs(1))
        );
    }

    pub(super) async fn counts_concurrent_calls_exactly(h: Harness) {
        let limiters = [h.limiter.clone()];
        assert_eq!(concurrent_checks(&limiters, 40, 10).await, 10);
    }

    pub(super) async fn counts_calls_across_replicas(h: Harness) {
        let (_, replica) = h.replica().await.unwrap();
        let limiters = [h.limiter.clone(), replica];
        assert_eq!(concurrent_checks(&limiters, 40, 10).await, 10);
    }

    pub(super) async fn rejects_zero_window(h: Harness) {
        assert!(matches!(
            h.limiter.check("attest", b"alice", 3, Duration::ZERO).await,
            Err(Error::DurationOutOfRange { .. })
        ));
        assert!(matches!(
            h.limiter
                .check("Bad Namespace", b"alice", 3, Duration::from_secs(1))
                .await,
            Err(Error::InvalidNamespace(_))
        ));
    }
}

macro_rules! suite {
    ($name:ident, $make:expr, [$($case:ident),*]) => {
        mod $name {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    cases::$case($make.await).await;
                }
            )*
        }
    };
}

suite!(
    memory,
    Harness::memory(),
    [
        allows_limit_then_limits_with_retry_after,
        keys_and_namespaces_are_counted_apart,
        limit_zero_refuses_every_call,
        counts_concurrent_calls_exactly,
        rejects_zero_window
    ]
);
suite!(
    sqlite,
    Harness::sql(store::Backend::Sqlite),
    [
        allows_limit_then_limits_with_retry_after,
        keys_and_namespaces_are_counted_apart,
        limit_zero_refuses_every_call,
        counts_concurrent_calls_exactly,
        counts_calls_across_replicas,
        rejects_zero_window
    ]
);
suite!(
    postgres,
    Harness::sql(store::Backend::Postgres),
    [
        allows_limit_then_limits_with_retry_after,
        keys_and_namespaces_are_counted_apart,
        limit_zero_refuses_every_call,
        counts_concurrent_calls_exactly,
        counts_calls_across_replicas,
        rejects_zero_window
    ]
);
suite!(
    redis,
    Harness::redis(),
    [
        allows_limit_then_limits_with_retry_after,
        keys_and_namespaces_are_counted_apart,
        limit_zero_refuses_every_call,
        counts_concurrent_calls_exactly,
        counts_calls_across_replicas,
        rejects_zero_window
    ]
);

#[tokio::test]
async fn memory_rejects_new_keys_when_full() {
    let h = Harness::memory_with(MemoryLimits {
        max_rate_keys: 2,
        ..MemoryLimits::default()
    });
    let win = Duration::from_secs(10);
    assert_eq!(
        h.limiter.check("attest", b"a", 5, win).await.unwrap(),
        allowed(4)
    );
    assert_eq!(
        h.limiter.check("attest", b"b", 5, win).await.unwrap(),
        allowed(4)
    );
    let err = h.limiter.check("attest", b"c", 5, win).await.unwrap_err();
    assert!(matches!(
        err,
        Error::CapacityExceeded {
            table: "rate limiter",
            entries: 2,
            ..
        }
    ));
    assert!(err.is_unavailable());
    // Existing keys are still counted.
    assert_eq!(
        h.limiter.check("attest", b"a", 5, win).await.unwrap(),
        allowed(3)
    );
    // Ended windows free their slots.
    h.advance(10).await;
    assert_eq!(
        h.limiter.check("attest", b"c", 5, win).await.unwrap(),
        allowed(4)
    );
}
