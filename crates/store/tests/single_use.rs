//! The single-use suite, run unchanged against every backend: in-process, SQLite,
//! PostgreSQL (`TEST_POSTGRES_URL`) and Redis (`TEST_REDIS_URL`). Missing servers fail the
//! tests with instructions; nothing is skipped.

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
use store::{Error, InsertOutcome, MAX_VALUE_LEN, SingleUse};

const MINUTE: Duration = Duration::from_secs(60);
const ONE_SECOND: Duration = Duration::from_secs(1);

/// Spawns `n` concurrent `take`s of one key, alternating over `stores`; returns the values
/// they got.
async fn concurrent_takes(stores: &[Arc<dyn SingleUse>], key: &[u8], n: usize) -> Vec<Vec<u8>> {
    let mut tasks = Vec::new();
    for i in 0..n {
        let store = stores[i % stores.len()].clone();
        let key = key.to_vec();
        tasks.push(tokio::spawn(async move {
            store.take("code", &key).await.unwrap()
        }));
    }
    let mut got = Vec::new();
    for task in tasks {
        if let Some(v) = task.await.unwrap() {
            got.push(v);
        }
    }
    got
}

async fn concurrent_inserts(stores: &[Arc<dyn SingleUse>], key: &[u8], n: usize) -> usize {
    let mut tasks = Vec::new();
    for i in 0..n {
        let store = stores[i % stores.len()].clone();
        let key = key.to_vec();
        tasks.push(tokio::spawn(async move {
            store.insert_once("jti", &key, MINUTE).await.unwrap()
        }));
    }
    let mut inserted = 0;
    for task in tasks {
        if task.await.unwrap() == InsertOutcome::Inserted {
            inserted += 1;
        }
    }
    inserted
}

mod cases {
    use super::*;

    pub(super) async fn insert_once_first_use_wins(h: Harness) {
        let s = &h.store;
        assert_eq!(
            s.insert_once("jti", b"a", MINUTE).await.unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(
            s.insert_once("jti", b"a", MINUTE).await.unwrap(),
            InsertOutcome::AlreadyPresent
        );
        assert_eq!(
            s.insert_once("jti", b"b", MINUTE).await.unwrap(),
            InsertOutcome::Inserted
        );
        // Namespaces are separate key spaces.
        assert_eq!(
            s.insert_once("nonce", b"a", MINUTE).await.unwrap(),
            InsertOutcome::Inserted
        );
    }

    pub(super) async fn take_returns_value_once(h: Harness) {
        let s = &h.store;
        assert_eq!(
            s.put("code", b"k", b"offer-17", MINUTE).await.unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(
            s.take("code", b"k").await.unwrap(),
            Some(b"offer-17".to_vec())
        );
        assert_eq!(s.take("code", b"k").await.unwrap(), None);
        assert_eq!(s.take("code", b"never-put").await.unwrap(), None);
        // The same key in another namespace was never put.
        assert_eq!(
            s.put("code", b"k2", b"v", MINUTE).await.unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(s.take("other", b"k2").await.unwrap(), None);
        assert_eq!(s.take("code", b"k2").await.unwrap(), Some(b"v".to_vec()));
    }

    pub(super) async fn put_never_overwrites_a_live_value(h: Harness) {
        let s = &h.store;
        assert_eq!(
            s.put("code", b"k", b"first", MINUTE).await.unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(
            s.put("code", b"k", b"second", MINUTE).await.unwrap(),
            InsertOutcome::AlreadyPresent
        );
        assert_eq!(s.take("code", b"k").await.unwrap(), Some(b"first".to_vec()));
        // Once taken the key is free again.
        assert_eq!(
            s.put("code", b"k", b"third", MINUTE).await.unwrap(),
            InsertOutcome::Inserted
        );
    }

    pub(super) async fn empty_and_maximal_values_round_trip(h: Harness) {
        let s = &h.store;
        assert_eq!(
            s.put("code", b"empty", b"", MINUTE).await.unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(s.take("code", b"empty").await.unwrap(), Some(Vec::new()));
        let big: Vec<u8> = (0..MAX_VALUE_LEN).map(|i| (i % 251) as u8).collect();
        assert_eq!(
            s.put("code", b"big", &big, MINUTE).await.unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(s.take("code", b"big").await.unwrap(), Some(big));
        // Keys are arbitrary bytes of any length.
        let long_key = vec![0xff; 10_000];
        assert_eq!(
            s.put("code", &long_key, b"v", MINUTE).await.unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(
            s.take("code", &long_key).await.unwrap(),
            Some(b"v".to_vec())
        );
    }

    pub(super) async fn take_is_exactly_once_under_concurrency(h: Harness) {
        let stores = [h.store.clone()];
        for round in 0..5u8 {
            let key = [b'k', round];
            assert_eq!(
                h.store.put("code", &key, &[round], MINUTE).await.unwrap(),
                InsertOutcome::Inserted
            );
            let got = concurrent_takes(&stores, &key, 48).await;
            assert_eq!(got, vec![vec![round]], "round {round}");
        }
    }

    pub(super) async fn insert_once_is_exactly_once_under_concurrency(h: Harness) {
        let stores = [h.store.clone()];
        for round in 0..5u8 {
            assert_eq!(
                concurrent_inserts(&stores, &[b'j', round], 48).await,
                1,
                "round {round}"
            );
        }
    }

    /// Many different keys at once (what a group-committing writer gathers into one
    /// batch): every caller gets its own outcome — fresh inserts win, repeated ones lose,
    /// each take returns its own key's value once and nothing for an absent key.
    pub(super) async fn concurrent_distinct_keys_each_get_their_own_outcome(h: Harness) {
        for round in 0..3u8 {
            let mut tasks = Vec::new();
            for i in 0..40u8 {
                let store = h.store.clone();
                tasks.push(tokio::spawn(async move {
                    let key = [b'd', round, i];
                    // A fresh jti, one already recorded, a value put and taken, a take of
                    // a key never put.
                    match i % 4 {
                        0 => {
                            store.insert_once("jti", &key, MINUTE).await.unwrap()
                                == InsertOutcome::Inserted
                        }
                        1 => {
                            store.insert_once("jti", &key, MINUTE).await.unwrap()
                                == InsertOutcome::Inserted
                                && store.insert_once("jti", &key, MINUTE).await.unwrap()
                                    == InsertOutcome::AlreadyPresent
                        }
                        2 => {
                            store.put("code", &key, &[round, i], MINUTE).await.unwrap()
                                == InsertOutcome::Inserted
                                && store.take("code", &key).await.unwrap() == Some(vec![round, i])
                                && store.take("code", &key).await.unwrap().is_none()
                        }
                        _ => store.take("code", &key).await.unwrap().is_none(),
                    }
                }));
            }
            for (i, task) in tasks.into_iter().enumerate() {
                assert!(task.await.unwrap(), "round {round}, operation {i}");
            }
        }
    }

    pub(super) async fn take_is_exactly_once_across_replicas(h: Harness) {
        let (replica, _) = h.replica().await.unwrap();
        let stores = [h.store.clone(), replica];
        for round in 0..5u8 {
            let key = [b'r', round];
            assert_eq!(
                stores[usize::from(round % 2)]
                    .put("code", &key, &[round], MINUTE)
                    .await
                    .unwrap(),
                InsertOutcome::Inserted
            );
            let got = concurrent_takes(&stores, &key, 48).await;
            assert_eq!(got, vec![vec![round]], "round {round}");
        }
    }

    pub(super) async fn insert_once_is_exactly_once_across_replicas(h: Harness) {
        let (replica, _) = h.replica().await.unwrap();
        let stores = [h.store.clone(), replica];
        for round in 0..5u8 {
            assert_eq!(
                concurrent_inserts(&stores, &[b'x', round], 48).await,
                1,
                "round {round}"
            );
        }
    }

    pub(super) async fn values_survive_a_restart(h: Harness) {
        assert_eq!(
            h.store.put("code", b"k", b"v", MINUTE).await.unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(
            h.store.insert_once("jti", b"j", MINUTE).await.unwrap(),
            InsertOutcome::Inserted
        );
        // A new connection, as after a restart of the role.
        let (restarted, _) = h.replica().await.unwrap();
        assert_eq!(
            restarted.insert_once("jti", b"j", MINUTE).await.unwrap(),
            InsertOutcome::AlreadyPresent
        );
        assert_eq!(
            restarted.take("code", b"k").await.unwrap(),
            Some(b"v".to_vec())
        );
        assert_eq!(h.store.take("code", b"k").await.unwrap(), None);
        let (again, _) = h.replica().await.unwrap();
        assert_eq!(again.take("code", b"k").await.unwrap(), None);
    }

    pub(super) async fn entries_expire_after_their_ttl(h: Harness) {
        let s = &h.store;
        assert_eq!(
            s.insert_once("jti", b"j", ONE_SECOND).await.unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(
            s.put("code", b"k", b"v", ONE_SECOND).await.unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(
            s.put("code", b"k2", b"v2", MINUTE).await.unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(
            s.insert_once("jti", b"j", ONE_SECOND).await.unwrap(),
            InsertOutcome::AlreadyPresent
        );
        h.advance(1).await;
        if !h.real_time() {
            // Live through the whole TTL (rounded to the clock's seconds).
            assert_eq!(
                s.insert_once("jti", b"j", ONE_SECOND).await.unwrap(),
                InsertOutcome::AlreadyPresent
            );
            h.advance(1).await;
        }
        assert_eq!(s.take("code", b"k").await.unwrap(), None);
        // An expired replay-cache entry no longer blocks the key.
        assert_eq!(
            s.insert_once("jti", b"j", MINUTE).await.unwrap(),
            InsertOutcome::Inserted
        );
        // An expired value's key can be put again.
        assert_eq!(
            s.put("code", b"k", b"w", MINUTE).await.unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(s.take("code", b"k").await.unwrap(), Some(b"w".to_vec()));
        // The long-lived one is untouched.
        assert_eq!(s.take("code", b"k2").await.unwrap(), Some(b"v2".to_vec()));
    }

    pub(super) async fn purge_removes_only_expired_entries(h: Harness) {
        let s = &h.store;
        assert_eq!(
            s.put("code", b"short-1", b"v", ONE_SECOND).await.unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(
            s.insert_once("jti", b"short-2", ONE_SECOND).await.unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(
            s.put("code", b"long", b"v", MINUTE).await.unwrap(),
            InsertOutcome::Inserted
        );
        h.advance(2).await;
        assert_eq!(s.purge_expired().await.unwrap(), 2);
        assert_eq!(s.purge_expired().await.unwrap(), 0);
        assert_eq!(s.take("code", b"long").await.unwrap(), Some(b"v".to_vec()));
    }

    pub(super) async fn ping_answers(h: Harness) {
        h.store.ping().await.unwrap();
    }

    pub(super) async fn rejects_invalid_namespace(h: Harness) {
        let s = &h.store;
        for ns in ["", "Upper", "a:b", "has space"] {
            assert!(matches!(
                s.insert_once(ns, b"k", MINUTE).await,
                Err(Error::InvalidNamespace(_))
            ));
            assert!(matches!(
                s.put(ns, b"k", b"v", MINUTE).await,
                Err(Error::InvalidNamespace(_))
            ));
            assert!(matches!(
                s.take(ns, b"k").await,
                Err(Error::InvalidNamespace(_))
            ));
        }
    }

    pub(super) async fn rejects_zero_ttl(h: Harness) {
        let s = &h.store;
        assert!(matches!(
            s.insert_once("jti", b"k", Duration::ZERO).await,
            Err(Error::DurationOutOfRange { .. })
        ));
        assert!(matches!(
            s.put("code", b"k", b"v", Duration::ZERO).await,
            Err(Error::DurationOutOfRange { .. })
        ));
        assert!(matches!(
            s.put("code", b"k", b"v", store::MAX_TTL + ONE_SECOND).await,
            Err(Error::DurationOutOfRange { .. })
        ));
        // Nothing was stored by the refused calls.
        assert_eq!(
            s.insert_once("jti", b"k", MINUTE).await.unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(s.take("code", b"k").await.unwrap(), None);
    }

    pub(super) async fn rejects_oversized_value(h: Harness) {
        let s = &h.store;
        let too_big = vec![0u8; MAX_VALUE_LEN + 1];
        assert!(matches!(
            s.put("code", b"k", &too_big, MINUTE).await,
            Err(Error::ValueTooLarge {
                max: MAX_VALUE_LEN,
                ..
            })
        ));
        assert_eq!(s.take("code", b"k").await.unwrap(), None);
    }
}

/// One test per case for a backend; `$replicas` adds the cases that need a second handle
/// on the same state (not the in-process backend), `$purge` the purge case (not Redis,
/// which expires keys itself).
macro_rules! suite {
    ($name:ident, $make:expr, replicas: [$($replica_case:ident),*], extra: [$($extra_case:ident),*]) => {
        mod $name {
            use super::*;

            suite!(@cases $make;
                insert_once_first_use_wins,
                take_returns_value_once,
                put_never_overwrites_a_live_value,
                empty_and_maximal_values_round_trip,
                take_is_exactly_once_under_concurrency,
                insert_once_is_exactly_once_under_concurrency,
                concurrent_distinct_keys_each_get_their_own_outcome,
                entries_expire_after_their_ttl,
                ping_answers,
                rejects_invalid_namespace,
                rejects_zero_ttl,
                rejects_oversized_value
                $(, $replica_case)*
                $(, $extra_case)*
            );
        }
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                cases::$case($make.await).await;
            }
        )*
    };
}

suite!(memory, Harness::memory(), replicas: [], extra: [purge_removes_only_expired_entries]);
suite!(
    sqlite,
    Harness::sql(store::Backend::Sqlite),
    replicas: [
        take_is_exactly_once_across_replicas,
        insert_once_is_exactly_once_across_replicas,
        values_survive_a_restart
    ],
    extra: [purge_removes_only_expired_entries]
);
suite!(
    postgres,
    Harness::sql(store::Backend::Postgres),
    replicas: [
        take_is_exactly_once_across_replicas,
        insert_once_is_exactly_once_across_replicas,
        values_survive_a_restart
    ],
    extra: [purge_removes_only_expired_entries]
);
suite!(
    redis,
    Harness::redis(),
    replicas: [
        take_is_exactly_once_across_replicas,
        insert_once_is_exactly_once_across_replicas,
        values_survive_a_restart
    ],
    extra: []
);
