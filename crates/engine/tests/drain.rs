//! Draining: when the process stops, every session is told `push draining`, new flows are
//! refused, and the connection closes (1001) once its running flows have ended — a flow
//! in progress is finished, not cut off.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

#[path = "../../wallet/tests/common/mod.rs"]
mod common;
mod support;

use common::platform;
use engine::Limits;
use serde_json::json;
use support::*;
use wallet_protocol::ErrorCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_an_idle_session_is_told_draining_and_closed_going_away() {
    let p = platform("").await;
    let key = session_key();
    let engine = engine_with(p.wallet_with(p.settings()), &key, Limits::default(), None);
    let mut raw = Raw::local(std::sync::Arc::clone(&engine));
    raw.handshake(&token(&key, &["receive", "present"])).await;
    assert_eq!(engine.sessions(), 1);
    engine.drain();
    let m = raw.message().await;
    assert_eq!(m["type"], "push", "{m}");
    assert_eq!(m["push_type"], "draining", "{m}");
    assert!(matches!(raw.closed().await, Got::Close(Some(1001))));
    tokio::time::timeout(std::time::Duration::from_secs(5), engine.drained())
        .await
        .expect("every session closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_draining_lets_a_running_flow_finish_and_refuses_new_ones() {
    let p = platform("").await;
    let key = session_key();
    let engine = engine_with(p.wallet_with(p.settings()), &key, Limits::default(), None);
    let mut raw = Raw::local(std::sync::Arc::clone(&engine));
    raw.handshake(&token(&key, &["receive", "present"])).await;
    let (_, link) = p
        .transaction(json!({"client_id_prefix": "redirect_uri"}))
        .await;
    raw.send(presentation_start("f-1", &link)).await;
    let (_, request) = raw.after_progress().await;
    assert_eq!(request["type"], "match_request", "{request}");

    engine.drain();
    let m = raw.message().await;
    assert_eq!(m["push_type"], "draining", "{m}");
    raw.send(presentation_start("f-2", &link)).await;
    raw.expect_error(ErrorCode::InternalError, Some("f-2"), None)
        .await;

    // The running flow is answered and ends; then the connection closes.
    raw.send(json!({"type": "match_response", "flow_id": "f-1",
        "message_id": request["message_id"], "no_match_reason": "nothing held"}))
        .await;
    let (_, end) = raw.after_progress().await;
    assert_eq!(end["type"], "flow_complete", "{end}");
    assert_eq!(end["declined"], true);
    assert!(matches!(raw.closed().await, Got::Close(Some(1001))));
}
