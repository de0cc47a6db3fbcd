//! The in-process store's bounds: when full of live entries it refuses new ones with a
//! specific error and never evicts a live one (which would re-open a replay).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use common::{START, TestClock};
use store::{Error, InsertOutcome, MemoryLimits, MemoryStore, SingleUse};

const MINUTE: Duration = Duration::from_secs(60);

fn store(limits: MemoryLimits) -> (MemoryStore, std::sync::Arc<TestClock>) {
    let clock = TestClock::new(START);
    (MemoryStore::new(limits, clock.clone()), clock)
}

#[tokio::test]
async fn rejects_new_entries_when_full_without_evicting() {
    let (s, _clock) = store(MemoryLimits {
        max_entries: 3,
        ..MemoryLimits::default()
    });
    for k in [b"a", b"b", b"c"] {
        assert_eq!(
            s.insert_once("jti", k, MINUTE).await.unwrap(),
            InsertOutcome::Inserted
        );
    }
    let err = s.insert_once("jti", b"d", MINUTE).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::CapacityExceeded {
                table: "single-use store",
                entries: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_unavailable());
    assert!(matches!(
        s.put("code", b"e", b"v", MINUTE).await,
        Err(Error::CapacityExceeded { .. })
    ));
    // The live entries are all still there: a replay of any of them is still caught.
    for k in [b"a", b"b", b"c"] {
        assert_eq!(
            s.insert_once("jti", k, MINUTE).await.unwrap(),
            InsertOutcome::AlreadyPresent
        );
    }
    assert_eq!(s.len(), 3);
    // Taking one frees its slot.
    assert!(s.take("jti", b"a").await.unwrap().is_some());
    assert_eq!(
        s.insert_once("jti", b"d", MINUTE).await.unwrap(),
        InsertOutcome::Inserted
    );
}

#[tokio::test]
async fn rejects_values_beyond_the_byte_budget() {
    let (s, _clock) = store(MemoryLimits {
        max_bytes: 2_000,
        ..MemoryLimits::default()
    });
    assert_eq!(
        s.put("code", b"a", &[7; 1_000], MINUTE).await.unwrap(),
        InsertOutcome::Inserted
    );
    assert!(matches!(
        s.put("code", b"b", &[7; 1_000], MINUTE).await,
        Err(Error::CapacityExceeded {
            table: "single-use store",
            entries: 1,
            ..
        })
    ));
    // Small entries still fit in what is left.
    assert_eq!(
        s.put("code", b"c", &[7; 100], MINUTE).await.unwrap(),
        InsertOutcome::Inserted
    );
    assert_eq!(s.take("code", b"a").await.unwrap(), Some(vec![7; 1_000]));
    assert_eq!(
        s.put("code", b"b", &[7; 1_000], MINUTE).await.unwrap(),
        InsertOutcome::Inserted
    );
}

#[tokio::test]
async fn expired_entries_free_capacity() {
    let (s, clock) = store(MemoryLimits {
        max_entries: 2,
        ..MemoryLimits::default()
    });
    assert_eq!(
        s.insert_once("jti", b"a", Duration::from_secs(1))
            .await
            .unwrap(),
        InsertOutcome::Inserted
    );
    assert_eq!(
        s.insert_once("jti", b"b", MINUTE).await.unwrap(),
        InsertOutcome::Inserted
    );
    assert!(s.insert_once("jti", b"c", MINUTE).await.is_err());
    clock.advance(2);
    assert_eq!(s.len(), 1);
    assert_eq!(
        s.insert_once("jti", b"c", MINUTE).await.unwrap(),
        InsertOutcome::Inserted
    );
    // "b" was never evicted.
    assert_eq!(
        s.insert_once("jti", b"b", MINUTE).await.unwrap(),
        InsertOutcome::AlreadyPresent
    );
}

#[tokio::test]
async fn stays_within_its_cap_under_a_flood() {
    let (s, _clock) = store(MemoryLimits {
        max_entries: 1_000,
        ..MemoryLimits::default()
    });
    let mut refused = 0;
    for i in 0..5_000u32 {
        match s.insert_once("jti", &i.to_be_bytes(), MINUTE).await {
            Ok(InsertOutcome::Inserted) => {}
            Err(Error::CapacityExceeded { .. }) => refused += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(refused, 4_000);
    assert_eq!(s.len(), 1_000);
    // The first thousand are all still remembered.
    for i in 0..1_000u32 {
        assert_eq!(
            s.insert_once("jti", &i.to_be_bytes(), MINUTE)
                .await
                .unwrap(),
            InsertOutcome::AlreadyPresent
        );
    }
}
