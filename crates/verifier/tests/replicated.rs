//! The verifier on the replicated backends: transactions in PostgreSQL, response codes in
//! Redis. Needs `TEST_POSTGRES_URL` and `TEST_REDIS_URL` (scripts/test.sh starts both;
//! otherwise `eval "$(scripts/pg-setup.sh /tmp/pg)"` and `eval "$(scripts/redis-setup.sh
//! /tmp/redis)"`); fails with that instruction when they are missing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

fn replicated() -> Setup {
    Setup {
        backends: Backends::Replicated,
        ..Setup::default()
    }
}

#[tokio::test]
async fn a_presentation_succeeds_and_the_code_is_exchanged_once() {
    let h = harness(replicated()).await;
    for mode in ["direct_post", "direct_post.jwt"] {
        let (id, link) = h
            .start(json!({"flow": "same_device", "response_mode": mode}))
            .await;
        let request = h.resolve(&link, None).await;
        let (qid, vp) = h.presentation(&h.pass(), &request, None);
        let a = h
            .form("/response", h.answer(&request, h.vp_token(&qid, vp)))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        let redirect = a.json()["redirect_uri"].as_str().unwrap().to_owned();
        let code = redirect.split("#response_code=").nth(1).unwrap().to_owned();
        let path = format!("/transactions/{id}?response_code={code}");
        let v = h.rp("GET", &path, None).await;
        assert_eq!(v.status, StatusCode::OK, "{}", v.text());
        assert_eq!(v.json()["claims"]["classroom_pass"][0]["role"], "student");
        let again = h.rp("GET", &path, None).await;
        assert_eq!(again.error(), "invalid_grant");
    }
}

#[tokio::test]
async fn rejects_a_replayed_response_on_postgres() {
    let h = harness(replicated()).await;
    let (_, link) = h.start(json!({})).await;
    let request = h.resolve(&link, None).await;
    let (qid, vp) = h.presentation(&h.pass(), &request, None);
    let form = h.answer(&request, h.vp_token(&qid, vp));
    assert_eq!(
        h.form("/response", form.clone()).await.status,
        StatusCode::OK
    );
    let again = h.form("/response", form).await;
    assert_eq!(again.error(), "transaction_answered");
}

#[tokio::test]
async fn rejects_a_late_response_on_postgres() {
    let h = harness(replicated()).await;
    let (id, link) = h.start(json!({})).await;
    let request = h.resolve(&link, None).await;
    let (qid, vp) = h.presentation(&h.pass(), &request, None);
    let form = h.answer(&request, h.vp_token(&qid, vp));
    h.clock.set(NOW + 301);
    assert_eq!(
        h.form("/response", form).await.error(),
        "transaction_expired"
    );
    assert_eq!(h.view(&id).await["status"], "expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_answers_have_exactly_one_winner_on_postgres() {
    let h = Arc::new(harness(replicated()).await);
    let (id, link) = h.start(json!({"response_mode": "direct_post"})).await;
    let request = h.resolve(&link, None).await;
    let (qid, vp) = h.presentation(&h.pass(), &request, None);
    let form = h.answer(&request, h.vp_token(&qid, vp));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let h = Arc::clone(&h);
        let form = form.clone();
        tasks.push(tokio::spawn(async move { h.form("/response", form).await }));
    }
    let mut ok = 0;
    for t in tasks {
        let a = t.await.unwrap();
        if a.status == StatusCode::OK {
            ok += 1;
        } else {
            assert_eq!(a.error(), "transaction_answered", "{}", a.text());
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(h.view(&id).await["status"], "success");
}
