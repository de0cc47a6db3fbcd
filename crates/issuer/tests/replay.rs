//! Single use across replicas and restarts: the same pre-authorized code, `c_nonce` and PoP
//! `jti` are refused the second time when sent to two issuer instances sharing PostgreSQL
//! and Redis, and after a restart (a new state over the same database and cache). Also:
//! replicas agree on one signing key per rotation period.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::http::StatusCode;
use client_attestation::PopClaims;
use common::*;
use jose::Clock;
use serde_json::json;
use std::sync::Arc;
use store::Backend;
use store::testing::TestDatabase;

/// Two replicas over one database and one cache.
async fn replicas(backend: Backend, cache: Cache) -> (Harness, Harness) {
    let database = Arc::new(TestDatabase::new(backend).await.unwrap());
    let mut a = Options::new(backend);
    a.database = Some(Arc::clone(&database));
    a.cache = cache.clone();
    let first = Harness::start(a).await;
    let mut b = Options::new(backend);
    b.database = Some(database);
    b.cache = cache;
    b.attester = Some(clone_signer(&first.attester));
    b.kek = Some(first.kek);
    b.clock = Some(first.clock.clone());
    let second = Harness::start(b).await;
    (first, second)
}

fn redis() -> Cache {
    Cache::Redis(format!(
        "{}:",
        store::testing::unique_name("issuer_test_").unwrap()
    ))
}

async fn check_replays(a: &Harness, b: &Harness) {
    // The code: redeemed at A, refused at B.
    let code = a.simple_offer().await;
    let w = a.wallet();
    assert_eq!(a.token(&w, &code, None).await.status, StatusCode::OK);
    b.token(&b.wallet(), &code, None)
        .await
        .assert_error(400, "invalid_grant");

    // The PoP jti: accepted at A, refused at B.
    let pop = PopClaims {
        aud: ISSUER.into(),
        jti: "shared-jti".into(),
        iat: a.now(),
        challenge: None,
        legacy: None,
    }
    .sign(&w.instance)
    .unwrap();
    let c1 = a.simple_offer().await;
    let c2 = a.simple_offer().await;
    assert_eq!(
        a.send(token_request(&w, &pop, &c1)).await.status,
        StatusCode::OK
    );
    b.send(token_request(&w, &pop, &c2))
        .await
        .assert_error(400, "invalid_client");

    // The nonce: handed out by A, used at A, refused at B — with an access token A issued.
    let code = a.simple_offer().await;
    let at = a.access_token(&w, &code).await;
    let nonce = a.nonce().await;
    let body = json!({"credential_configuration_id": CONFIG_ID, "proofs": {"jwt": [w.proof(ISSUER, a.now(), Some(&nonce))]}});
    assert_eq!(
        a.credential(&w, &at, body.clone()).await.status,
        StatusCode::OK
    );
    let body = json!({"credential_configuration_id": CONFIG_ID, "proofs": {"jwt": [w.proof(ISSUER, a.now(), Some(&nonce))]}});
    b.credential(&w, &at, body)
        .await
        .assert_error(400, "invalid_nonce");
    // And a nonce from A works at B (the store is shared), once.
    let nonce = a.nonce().await;
    let body = json!({"credential_configuration_id": CONFIG_ID, "proofs": {"jwt": [w.proof(ISSUER, a.now(), Some(&nonce))]}});
    assert_eq!(b.credential(&w, &at, body).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_are_refused_across_two_instances_sharing_postgres_and_redis() {
    let (a, b) = replicas(Backend::Postgres, redis()).await;
    check_replays(&a, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_are_refused_across_two_instances_sharing_postgres_as_cache() {
    let (a, b) = replicas(Backend::Postgres, Cache::Database).await;
    check_replays(&a, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_redeemed_concurrently_on_two_instances_yields_one_token() {
    let (a, b) = replicas(Backend::Postgres, redis()).await;
    let a = Arc::new(a);
    let b = Arc::new(b);
    for _ in 0..5 {
        let code = a.simple_offer().await;
        let mut tasks = Vec::new();
        for i in 0..8 {
            let h = if i % 2 == 0 {
                Arc::clone(&a)
            } else {
                Arc::clone(&b)
            };
            let code = code.clone();
            tasks.push(tokio::spawn(async move {
                let w = h.wallet();
                h.token(&w, &code, None).await.status
            }));
        }
        let mut ok = 0;
        for t in tasks {
            if t.await.unwrap() == StatusCode::OK {
                ok += 1;
            }
        }
        assert_eq!(ok, 1, "exactly one redemption wins");
    }
}

async fn restart(backend: Backend, cache: Cache) {
    let database = Arc::new(TestDatabase::new(backend).await.unwrap());
    let mut o = Options::new(backend);
    o.database = Some(Arc::clone(&database));
    o.cache = cache.clone();
    let before = Harness::start(o).await;
    let w = before.wallet();
    let code = before.simple_offer().await;
    let pop = w.pop(before.now());
    let r = before.send(token_request(&w, &pop, &code)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let at = r.json()["access_token"].as_str().unwrap().to_owned();
    let nonce = before.nonce().await;
    let body = json!({"credential_configuration_id": CONFIG_ID, "proofs": {"jwt": [w.proof(ISSUER, before.now(), Some(&nonce))]}});
    assert_eq!(
        before.credential(&w, &at, body).await.status,
        StatusCode::OK
    );
    let (attester, kek, clock) = (
        clone_signer(&before.attester),
        before.kek,
        before.clock.clone(),
    );
    let kid_before = before
        .state
        .signing_keys()
        .current(clock.now())
        .await
        .unwrap()
        .kid;
    drop(before);

    let mut o = Options::new(backend);
    o.database = Some(database);
    o.cache = cache;
    o.attester = Some(attester);
    o.kek = Some(kek);
    o.clock = Some(clock.clone());
    let after = Harness::start(o).await;
    assert_eq!(
        after
            .state
            .signing_keys()
            .current(clock.now())
            .await
            .unwrap()
            .kid,
        kid_before,
        "the key survives the restart"
    );
    after
        .token(&w, &code, None)
        .await
        .assert_error(400, "invalid_grant");
    let body = json!({"credential_configuration_id": CONFIG_ID, "proofs": {"jwt": [w.proof(ISSUER, after.now(), Some(&nonce))]}});
    after
        .credential(&w, &at, body)
        .await
        .assert_error(400, "invalid_nonce");
    let other = after.simple_offer().await;
    let r = after.send(token_request(&w, &pop, &other)).await;
    r.assert_error(400, "invalid_client");
    // The access token survives too: a fresh nonce still buys a credential.
    let nonce = after.nonce().await;
    let body = json!({"credential_configuration_id": CONFIG_ID, "proofs": {"jwt": [w.proof(ISSUER, after.now(), Some(&nonce))]}});
    assert_eq!(after.credential(&w, &at, body).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_are_refused_after_a_restart_on_postgres_and_redis() {
    restart(Backend::Postgres, redis()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_are_refused_after_a_restart_on_sqlite_with_the_database_cache() {
    restart(Backend::Sqlite, Cache::Database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_agree_on_one_key_per_period() {
    let (a, b) = replicas(Backend::Postgres, redis()).await;
    for step in 0..3 {
        a.clock.advance(24 * 3600);
        let now = a.clock.now();
        let (ka, kb) = tokio::join!(
            a.state.signing_keys().current(now),
            b.state.signing_keys().current(now)
        );
        assert_eq!(ka.unwrap().kid, kb.unwrap().kid, "period {step}");
    }
    let keys = a
        .count("SELECT CAST(COUNT(*) AS BIGINT) FROM issuer_signing_keys")
        .await;
    assert_eq!(keys, 4);
}
