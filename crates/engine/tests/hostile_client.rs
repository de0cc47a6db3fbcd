//! A hostile client against the engine, in raw frames with no client library: handshakes
//! that must fail, malformed and oversized messages, messages for no flow or at the wrong
//! step, floods, a client that never answers pings, a session that expires. Every refused
//! message must get `error` with the right code and the message's ids when readable, and
//! change nothing: the connection (and a waiting flow) stays usable where the protocol
//! says so. The WebSocket-specific cases (close codes, frame sizes) run against the
//! engine's router on loopback; the rest over the in-memory transport.

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

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use common::{Platform, platform};
use engine::{Engine, Frame, Limits, Permissions};
use jose::{Algorithm, Signer, SoftwareSigner};
use serde_json::{Value, json};
use support::*;
use wallet_protocol::ErrorCode;

/// An engine with no platform behind it (its flows reach only test servers on loopback).
fn offline_engine(key: &SoftwareSigner, limits: Limits) -> Arc<Engine> {
    engine_with(
        offline_core(loopback_http(Duration::from_secs(30)), loopback_settings()),
        key,
        limits,
        None,
    )
}

/// An engine running flows against the platform.
fn platform_engine(p: &Platform, key: &SoftwareSigner, limits: Limits) -> Arc<Engine> {
    engine_with(p.wallet_with(p.settings()), key, limits, None)
}

/// An issuer whose metadata never comes: flows started at it stay at
/// `fetching_metadata`.
async fn hanging_issuer() -> String {
    serve_http(axum::Router::new().route(
        "/.well-known/openid-credential-issuer",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(120)).await;
            "{}"
        }),
    ))
    .await
}

/// A connection past its handshake, over the in-memory transport.
async fn connected(engine: Arc<Engine>, key: &SoftwareSigner) -> Raw {
    let mut raw = Raw::local(engine);
    raw.handshake(&token(key, &["receive", "present"])).await;
    raw
}

/// A valid message that proves the connection still works: `decline` for a flow that
/// does not exist is answered `UNKNOWN_FLOW` naming it.
async fn still_usable(raw: &mut Raw) {
    raw.send(decline("probe")).await;
    raw.expect_error(ErrorCode::UnknownFlow, Some("probe"), None)
        .await;
}

// ---------------------------------------------------------------------------------------
// Handshake

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_no_handshake_within_the_limit_is_auth_failed_then_closed() {
    let key = session_key();
    let url = serve_ws(offline_engine(&key, short_limits())).await;
    let mut raw = Raw::ws(&url).await;
    let started = Instant::now();
    raw.expect_error(ErrorCode::AuthFailed, None, None).await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(raw.closed().await, Got::Close(Some(1008)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_first_message_that_is_not_a_handshake_is_auth_failed_then_closed() {
    let key = session_key();
    let url = serve_ws(offline_engine(&key, short_limits())).await;
    let mut raw = Raw::ws(&url).await;
    raw.send(
        json!({"type": "flow_action", "flow_id": "f-1", "message_id": "m-1",
        "action": "decline"}),
    )
    .await;
    raw.expect_error(ErrorCode::AuthFailed, Some("f-1"), Some("m-1"))
        .await;
    assert_eq!(raw.closed().await, Got::Close(Some(1008)));

    // Not JSON at all, and a binary frame: the same.
    let mut raw = Raw::ws(&url).await;
    raw.send_text("hello").await;
    raw.expect_error(ErrorCode::AuthFailed, None, None).await;
    assert_eq!(raw.closed().await, Got::Close(Some(1008)));
    let mut raw = Raw::ws(&url).await;
    raw.send_frame(Frame::Binary(b"{\"type\":\"handshake\"}".to_vec()))
        .await
        .unwrap();
    raw.expect_error(ErrorCode::AuthFailed, None, None).await;
    assert_eq!(raw.closed().await, Got::Close(Some(1008)));
}

/// A compact JWS with any header, payload and signature bytes.
fn forged(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        jose::b64::encode(header.to_string()),
        jose::b64::encode(claims.to_string()),
        jose::b64::encode(signature)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_rejects_every_kind_of_bad_app_token_with_auth_failed_and_close() {
    let key = session_key();
    let engine = offline_engine(&key, short_limits());
    let typ = engine::auth::SESSION_TYP;
    let good = claims(&["receive", "present"], 600);
    let other = SoftwareSigner::generate(Algorithm::Es256)
        .unwrap()
        .with_kid(KID);
    let claims_with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let mut without_permissions = good.clone();
    without_permissions
        .as_object_mut()
        .unwrap()
        .remove("permissions");
    // An HS256 token: the algorithm is refused whatever the key (the HMAC here uses the
    // public key's bytes, the classic confusion attack).
    let hs_header = json!({"alg": "HS256", "typ": typ, "kid": KID});
    let hs_input = format!(
        "{}.{}",
        jose::b64::encode(hs_header.to_string()),
        jose::b64::encode(good.to_string())
    );
    let hmac_key = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA256,
        key.public_jwk().to_value().to_string().as_bytes(),
    );
    let hs256 = format!(
        "{hs_input}.{}",
        jose::b64::encode(aws_lc_rs::hmac::sign(&hmac_key, hs_input.as_bytes()).as_ref())
    );
    let cases: Vec<(&str, String)> = vec![
        ("bad signature", sign_token(&other, typ, KID, &good)),
        ("wrong typ", sign_token(&key, "JWT", KID, &good)),
        ("no typ", {
            jose::HeaderBuilder::new()
                .kid(KID)
                .sign(good.to_string().as_bytes(), &key)
                .unwrap()
        }),
        ("unknown kid", sign_token(&key, typ, "session-2", &good)),
        (
            "expired",
            sign_token(&key, typ, KID, &claims_with("exp", json!(now() - 3600))),
        ),
        (
            "wrong audience",
            sign_token(&key, typ, KID, &claims_with("aud", json!("another-engine"))),
        ),
        (
            "wrong issuer",
            sign_token(
                &key,
                typ,
                KID,
                &claims_with("iss", json!("https://evil.test")),
            ),
        ),
        (
            "not yet valid",
            sign_token(&key, typ, KID, &claims_with("nbf", json!(now() + 3600))),
        ),
        (
            "issued in the future",
            sign_token(&key, typ, KID, &claims_with("iat", json!(now() + 3600))),
        ),
        (
            "audience list without this engine",
            sign_token(&key, typ, KID, &claims_with("aud", json!(["a", "b"]))),
        ),
        (
            "permissions not a list",
            sign_token(
                &key,
                typ,
                KID,
                &claims_with("permissions", json!("receive")),
            ),
        ),
        ("ES256 header over an Ed25519 key", {
            let ed = SoftwareSigner::generate(Algorithm::Ed25519).unwrap();
            let header = json!({"alg": "ES256", "typ": typ, "kid": KID});
            let input = format!(
                "{}.{}",
                jose::b64::encode(header.to_string()),
                jose::b64::encode(good.to_string())
            );
            forged(&header, &good, &ed.sign(input.as_bytes()).unwrap())
        }),
        (
            "an unknown critical header",
            jose::HeaderBuilder::new()
                .typ(typ)
                .kid(KID)
                .param("crit", json!(["x-policy"]))
                .param("x-policy", json!("anything"))
                .sign(good.to_string().as_bytes(), &key)
                .unwrap(),
        ),
        (
            "its own key embedded in the header",
            jose::HeaderBuilder::new()
                .typ(typ)
                .kid(KID)
                .jwk(other.public_jwk())
                .sign(good.to_string().as_bytes(), &other)
                .unwrap(),
        ),
        (
            "no exp",
            sign_token(&key, typ, KID, &claims_with("exp", Value::Null)),
        ),
        (
            "no permissions",
            sign_token(&key, typ, KID, &without_permissions),
        ),
        (
            "alg none",
            forged(&json!({"alg": "none", "typ": typ, "kid": KID}), &good, b""),
        ),
        ("HS256", hs256),
        ("anonymous when not allowed", "anonymous".to_owned()),
        ("not a JWT", "not-a-jwt".to_owned()),
        ("empty", String::new()),
    ];
    for (what, token) in cases {
        let mut raw = Raw::local(Arc::clone(&engine));
        raw.send(json!({"type": "handshake", "message_id": "h-1", "app_token": token}))
            .await;
        let m = raw.message().await;
        assert_error(&m, ErrorCode::AuthFailed, None, Some("h-1"));
        assert_eq!(raw.closed().await, Got::Close(Some(1008)), "{what}");
    }
    // The good token passes on the same engine (the refusals are the token's fault).
    let mut raw = Raw::local(Arc::clone(&engine));
    let done = raw.handshake(&sign_token(&key, typ, KID, &good)).await;
    assert_eq!(done["capabilities"], json!(["oid4vci", "oid4vp"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_anonymous_is_admitted_only_with_the_permissions_allowed() {
    let key = session_key();
    let engine = engine_with(
        offline_core(loopback_http(Duration::from_secs(5)), loopback_settings()),
        &key,
        short_limits(),
        Some(Permissions {
            receive: true,
            present: false,
        }),
    );
    let mut raw = Raw::local(engine);
    let done = raw.handshake("anonymous").await;
    assert_eq!(done["capabilities"], json!(["oid4vci"]));
    raw.send(presentation_start("f-1", "openid4vp://?client_id=x"))
        .await;
    let m = raw.message().await;
    assert_flow_error(&m, "f-1", ErrorCode::Forbidden, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_second_handshake_is_invalid_and_the_connection_stays() {
    let key = session_key();
    let mut raw = connected(offline_engine(&key, short_limits()), &key).await;
    raw.send(json!({"type": "handshake", "message_id": "h-2",
        "app_token": token(&key, &["receive"])}))
        .await;
    raw.expect_error(ErrorCode::InvalidMessage, None, Some("h-2"))
        .await;
    still_usable(&mut raw).await;
}

// ---------------------------------------------------------------------------------------
// Malformed messages

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_malformed_messages_are_invalid_and_change_nothing() {
    let key = session_key();
    let mut raw = connected(offline_engine(&key, short_limits()), &key).await;
    let deep = format!(
        r#"{{"type":"flow_action","flow_id":"f-1","action":"decline","reason":{}1{}}}"#,
        "[".repeat(40),
        "]".repeat(40)
    );
    let cases: Vec<(&str, String, Option<&str>, Option<&str>)> = vec![
        ("not JSON", r#"{"type": "flow_action", "flow_id": "f-1""#.into(), None, None),
        ("trailing data", r#"{"type":"flow_action","flow_id":"f-1","action":"decline"} x"#.into(), None, None),
        ("an array", r#"[{"type":"flow_action","flow_id":"f-1","action":"decline"}]"#.into(), None, None),
        ("a string", r#""flow_action""#.into(), None, None),
        ("no type", r#"{"flow_id":"f-1","action":"decline"}"#.into(), Some("f-1"), None),
        ("unknown type", r#"{"type":"flow_cancel","flow_id":"f-1","message_id":"m-1"}"#.into(), Some("f-1"), Some("m-1")),
        ("an engine type", r#"{"type":"flow_complete","flow_id":"f-1"}"#.into(), Some("f-1"), None),
        ("type not a string", r#"{"type":7,"flow_id":"f-1"}"#.into(), Some("f-1"), None),
        ("unknown member", r#"{"type":"flow_action","flow_id":"f-1","action":"decline","extra":1}"#.into(), Some("f-1"), None),
        ("unknown protocol", r#"{"type":"flow_start","flow_id":"f-1","protocol":"oid4vci-draft13","offer":"x"}"#.into(), Some("f-1"), None),
        ("flow_start without offer", r#"{"type":"flow_start","flow_id":"f-1","protocol":"oid4vci"}"#.into(), Some("f-1"), None),
        ("presentation fields on an issuance", r#"{"type":"flow_start","flow_id":"f-1","protocol":"oid4vci","offer":"x","request":"y"}"#.into(), Some("f-1"), None),
        ("unknown action", r#"{"type":"flow_action","flow_id":"f-1","action":"cancel"}"#.into(), Some("f-1"), None),
        ("missing message_id", r#"{"type":"sign_response","flow_id":"f-1","error":"no"}"#.into(), Some("f-1"), None),
        ("missing flow_id", r#"{"type":"sign_response","message_id":"e-1","error":"no"}"#.into(), None, Some("e-1")),
        ("both proofs and error", r#"{"type":"sign_response","flow_id":"f-1","message_id":"e-1","error":"no","proofs":[{"proof_type":"jwt","jwt":"a.b.c"}]}"#.into(), Some("f-1"), Some("e-1")),
        ("empty matches", r#"{"type":"match_response","flow_id":"f-1","message_id":"e-1","matches":[]}"#.into(), Some("f-1"), Some("e-1")),
        ("mistyped member", r#"{"type":"flow_action","flow_id":"f-1","action":"decline","reason":5}"#.into(), Some("f-1"), None),
        ("invalid flow id", r#"{"type":"flow_action","flow_id":"f 1/..","action":"decline"}"#.into(), None, None),
        ("duplicate member", r#"{"type":"flow_action","flow_id":"f-1","action":"decline","action":"decline"}"#.into(), None, None),
        ("duplicate type", r#"{"type":"flow_action","type":"flow_start","flow_id":"f-1","action":"decline"}"#.into(), None, None),
        ("nesting deeper than 32", deep, None, None),
    ];
    for (what, text, flow_id, message_id) in cases {
        raw.send_text(text).await;
        let m = raw.message().await;
        assert_eq!(m["type"], "error", "{what}: {m}");
        assert_error(&m, ErrorCode::InvalidMessage, flow_id, message_id);
        still_usable(&mut raw).await;
    }
    raw.send_frame(Frame::Binary(br#"{"type":"flow_action"}"#.to_vec()))
        .await
        .unwrap();
    raw.expect_error(ErrorCode::InvalidMessage, None, None)
        .await;
    still_usable(&mut raw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_binary_frame_over_the_websocket_is_invalid_and_the_socket_stays() {
    let key = session_key();
    let url = serve_ws(offline_engine(&key, short_limits())).await;
    let mut raw = Raw::ws(&url).await;
    raw.handshake(&token(&key, &["receive"])).await;
    raw.send_frame(Frame::Binary(vec![0, 1, 2, 3]))
        .await
        .unwrap();
    raw.expect_error(ErrorCode::InvalidMessage, None, None)
        .await;
    still_usable(&mut raw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_an_oversized_message_is_invalid_and_a_huge_frame_closes_with_1009() {
    let key = session_key();
    let url = serve_ws(offline_engine(&key, Limits::default())).await;
    let max = wallet_protocol::limits::MAX_MESSAGE_BYTES;
    let mut raw = Raw::ws(&url).await;
    raw.handshake(&token(&key, &["receive"])).await;
    let message = |len: usize| {
        let head = r#"{"type":"flow_action","flow_id":"f-1","action":"decline","reason":""#;
        format!("{head}{}\"}}", "x".repeat(len - head.len() - 2))
    };
    // Just over the limit, and just under twice it: refused, ids not read (the message
    // is not parsed at all), the connection stays.
    for len in [max + 1, max * 2 - 16] {
        let text = message(len);
        assert_eq!(text.len(), len);
        raw.send_text(text).await;
        raw.expect_error(ErrorCode::InvalidMessage, None, None)
            .await;
        still_usable(&mut raw).await;
    }
    // Exactly the limit is a message like any other.
    raw.send_text(message(max)).await;
    raw.expect_error(ErrorCode::UnknownFlow, Some("f-1"), None)
        .await;
    // Above twice the limit the WebSocket layer stops reading: the connection closes
    // with 1009 (message too big), and nothing else is answered.
    raw.send_text(message(max * 2 + 1024)).await;
    assert_eq!(raw.closed().await, Got::Close(Some(1009)));

    // The same before the handshake.
    let mut raw = Raw::ws(&url).await;
    raw.send_text(message(max * 2 + 1024)).await;
    assert_eq!(raw.closed().await, Got::Close(Some(1009)));
}

// ---------------------------------------------------------------------------------------
// Flow messages for no flow, bad flow starts

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_flow_messages_for_no_flow_are_unknown_flow_naming_it() {
    let key = session_key();
    let mut raw = connected(offline_engine(&key, short_limits()), &key).await;
    raw.send(
        json!({"type": "flow_action", "flow_id": "f-9", "message_id": "m-1",
        "action": "provide_pin", "tx_code": "1234"}),
    )
    .await;
    raw.expect_error(ErrorCode::UnknownFlow, Some("f-9"), None)
        .await;
    raw.send(
        json!({"type": "sign_response", "flow_id": "f-9", "message_id": "e-1",
        "proofs": [{"proof_type": "jwt", "jwt": "a.b.c"}]}),
    )
    .await;
    raw.expect_error(ErrorCode::UnknownFlow, Some("f-9"), Some("e-1"))
        .await;
    raw.send(
        json!({"type": "match_response", "flow_id": "f-9", "message_id": "e-2",
        "no_match_reason": "nothing"}),
    )
    .await;
    raw.expect_error(ErrorCode::UnknownFlow, Some("f-9"), Some("e-2"))
        .await;
    raw.send(json!({"type": "credential_notification", "flow_id": "f-9",
        "message_id": "n-1", "notification_id": "nid", "event": "credential_accepted"}))
        .await;
    raw.expect_error(ErrorCode::UnknownFlow, Some("f-9"), Some("n-1"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_duplicate_flow_id_while_the_flow_runs_is_invalid() {
    let key = session_key();
    let issuer = hanging_issuer().await;
    let mut raw = connected(offline_engine(&key, short_limits()), &key).await;
    let (_, jwk) = response_jwk();
    raw.send(issuance_start("f-1", &offer_by_value(&issuer), &jwk))
        .await;
    raw.until_step("fetching_metadata").await;
    let mut again = issuance_start("f-1", &offer_by_value(&issuer), &jwk);
    again["message_id"] = json!("m-2");
    raw.send(again).await;
    raw.expect_error(ErrorCode::InvalidMessage, Some("f-1"), Some("m-2"))
        .await;
    // Another id starts a flow of its own.
    raw.send(issuance_start("f-2", &offer_by_value(&issuer), &jwk))
        .await;
    let m = raw.message().await;
    assert_eq!(m["flow_id"], "f-2", "{m}");
    assert_eq!(m["step"], "parsing_offer", "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_rejects_a_response_key_that_is_private_not_p256_or_not_ec() {
    let key = session_key();
    let mut raw = connected(offline_engine(&key, short_limits()), &key).await;
    let offer = offer_by_value("https://issuer.example");
    let private_jwk = jose::EncryptionKey::generate(jose::Curve::P256)
        .unwrap()
        .to_private_jwk()
        .unwrap();
    let mut private = private_jwk.public().to_value();
    private["d"] = json!(jose::b64::encode(private_jwk.d()));
    let p384 = jose::EncryptionKey::generate(jose::Curve::P384)
        .unwrap()
        .public_jwk_for_encryption()
        .to_value();
    let rsa: Value = serde_json::from_str(
        r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RSA-OAEP"}"#,
    )
    .unwrap();
    let symmetric = json!({"kty": "oct", "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"});
    let (_, good) = response_jwk();
    let mut bad_enc = issuance_start("f-6", &offer, &good);
    bad_enc["response_encryption"]["enc"] = json!("A192CBC-HS384");
    let cases = [
        issuance_start("f-1", &offer, &private),
        issuance_start("f-2", &offer, &p384),
        issuance_start("f-3", &offer, &rsa),
        issuance_start("f-4", &offer, &symmetric),
        issuance_start(
            "f-5",
            &offer,
            &json!({"kty": "EC", "crv": "P-256", "alg": "ECDH-ES"}),
        ),
        bad_enc,
    ];
    for start in cases {
        let flow_id = start["flow_id"].as_str().unwrap().to_owned();
        raw.send(start).await;
        raw.expect_error(ErrorCode::InvalidMessage, Some(&flow_id), None)
            .await;
        // No flow was made.
        raw.send(decline(&flow_id)).await;
        raw.expect_error(ErrorCode::UnknownFlow, Some(&flow_id), None)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_receive_only_session_starting_a_presentation_gets_forbidden() {
    let key = session_key();
    let mut raw = Raw::local(offline_engine(&key, short_limits()));
    let done = raw.handshake(&token(&key, &["receive"])).await;
    assert_eq!(done["capabilities"], json!(["oid4vci"]));
    let mut start = presentation_start("f-1", "openid4vp://?client_id=x&request_uri=y");
    start["message_id"] = json!("m-1");
    raw.send(start).await;
    let m = raw.message().await;
    assert_flow_error(&m, "f-1", ErrorCode::Forbidden, None);
    assert!(m.get("step").is_none(), "{m}");
    // No flow runs under that id.
    raw.send(decline("f-1")).await;
    raw.expect_error(ErrorCode::UnknownFlow, Some("f-1"), None)
        .await;
    // And a present-only session cannot receive.
    let mut raw = Raw::local(offline_engine(&key, short_limits()));
    raw.handshake(&token(&key, &["present"])).await;
    let (_, jwk) = response_jwk();
    raw.send(issuance_start(
        "f-1",
        &offer_by_value("https://i.example"),
        &jwk,
    ))
    .await;
    let m = raw.message().await;
    assert_flow_error(&m, "f-1", ErrorCode::Forbidden, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_flow_id_can_be_reused_as_soon_as_its_flow_error_arrives() {
    let key = session_key();
    let limits = Limits {
        flow_starts_per_minute: 100,
        messages_per_minute: 1000,
        ..short_limits()
    };
    let mut raw = connected(offline_engine(&key, limits), &key).await;
    let (_, jwk) = response_jwk();
    // An offer location on a private address fails at once, in the guard.
    let offer = "openid-credential-offer://?credential_offer_uri=https%3A%2F%2F10.1.2.3%2Foffer";
    for round in 0..60 {
        raw.send(issuance_start("again", offer, &jwk)).await;
        let (steps, m) = raw.after_progress().await;
        assert_eq!(steps, ["parsing_offer"], "round {round}");
        assert_flow_error(
            &m,
            "again",
            ErrorCode::OfferFetchError,
            Some("parsing_offer"),
        );
    }
}

// ---------------------------------------------------------------------------------------
// Out of order, with real flows waiting

async fn issuance_at_sign(
    p: &Platform,
    raw: &mut Raw,
    flow_id: &str,
) -> (jose::EncryptionKey, Value) {
    let offer = p.offer(json!({})).await;
    let (key, jwk) = response_jwk();
    raw.send(issuance_start(
        flow_id,
        offer["offer_uri"].as_str().unwrap(),
        &jwk,
    ))
    .await;
    let (steps, m) = raw.after_progress().await;
    assert_eq!(
        steps.last().map(String::as_str),
        Some("token_obtained"),
        "{steps:?}"
    );
    assert_eq!(m["type"], "sign_request", "{m}");
    assert_eq!(m["flow_id"], flow_id, "{m}");
    assert_eq!(m["action"], "generate_proof", "{m}");
    (key, m)
}

async fn presentation_at_match(p: &Platform, raw: &mut Raw, flow_id: &str) -> (String, Value) {
    let (id, link) = p.transaction(json!({})).await;
    raw.send(presentation_start(flow_id, &link)).await;
    let (steps, m) = raw.after_progress().await;
    assert_eq!(
        steps.last().map(String::as_str),
        Some("match_credentials"),
        "{steps:?}"
    );
    assert_eq!(m["type"], "match_request", "{m}");
    assert_eq!(m["flow_id"], flow_id, "{m}");
    (id, m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_wrong_answers_to_a_waiting_flow_are_refused_and_the_flow_completes() {
    let p = platform("").await;
    let key = session_key();
    let limits = Limits {
        sign: Duration::from_secs(30),
        matching: Duration::from_secs(30),
        ..short_limits()
    };
    let mut raw = connected(platform_engine(&p, &key, limits), &key).await;
    let (response_key, request) = issuance_at_sign(&p, &mut raw, "f-1").await;
    let message_id = request["message_id"].as_str().unwrap().to_owned();

    // A consent while a sign_request is pending: not expected at this step.
    raw.send(
        json!({"type": "flow_action", "flow_id": "f-1", "message_id": "m-1",
        "action": "consent", "selected_credentials": [{"credential_id": "c-1",
        "disclosed_claims": [["role"]]}]}),
    )
    .await;
    raw.expect_error(ErrorCode::InvalidMessage, Some("f-1"), Some("m-1"))
        .await;
    // A select_credential and a match_response there too.
    raw.send(
        json!({"type": "flow_action", "flow_id": "f-1", "action": "select_credential",
        "credential_configuration_id": "x"}),
    )
    .await;
    raw.expect_error(ErrorCode::InvalidMessage, Some("f-1"), None)
        .await;
    raw.send(
        json!({"type": "match_response", "flow_id": "f-1", "message_id": message_id,
        "no_match_reason": "none"}),
    )
    .await;
    raw.expect_error(ErrorCode::UnknownFlow, Some("f-1"), Some(&message_id))
        .await;

    // A sign_response answering another request id.
    let holder = common::holder();
    let mut wrong = proofs_for(&request, &[&holder]);
    wrong["message_id"] = json!("e-99");
    raw.send(wrong).await;
    raw.expect_error(ErrorCode::UnknownFlow, Some("f-1"), Some("e-99"))
        .await;

    // A second flow waits at match_request; a sign_response sent to it (with the id of
    // the first flow's request) is refused there and leaves both flows waiting.
    let (_, matching) = presentation_at_match(&p, &mut raw, "f-2").await;
    let mut misrouted = proofs_for(&request, &[&holder]);
    misrouted["flow_id"] = json!("f-2");
    raw.send(misrouted).await;
    raw.expect_error(ErrorCode::UnknownFlow, Some("f-2"), Some(&message_id))
        .await;

    // The right answer completes the first flow.
    raw.send(proofs_for(&request, &[&holder])).await;
    let (steps, done) = raw.after_progress().await;
    assert_eq!(steps, ["requesting_credential"]);
    assert_eq!(done["type"], "flow_complete", "{done}");
    assert_eq!(done["flow_id"], "f-1");
    let jwe = done["encrypted_response"].as_str().unwrap();
    let reply = wallet::issuance::decrypt_reply(jwe, &response_key, jose::Enc::A128Gcm).unwrap();
    assert!(
        matches!(reply, wallet::issuance::CredentialReply::Issued { ref credentials, .. } if credentials.len() == 1)
    );

    // And the second flow still answers its own request: declining ends it.
    raw.send(json!({"type": "match_response", "flow_id": "f-2",
        "message_id": matching["message_id"], "no_match_reason": "nothing held"}))
        .await;
    let (_, end) = raw.after_progress().await;
    assert_eq!(end["type"], "flow_complete", "{end}");
    assert_eq!(end["flow_id"], "f-2");
    assert_eq!(end["declined"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_no_sign_response_in_time_is_sign_timeout() {
    let p = platform("").await;
    let key = session_key();
    let mut raw = connected(platform_engine(&p, &key, short_limits()), &key).await;
    let started = Instant::now();
    let (_, request) = issuance_at_sign(&p, &mut raw, "f-1").await;
    let m = raw.message().await;
    assert_flow_error(&m, "f-1", ErrorCode::SignTimeout, Some("token_obtained"));
    assert!(started.elapsed() < Duration::from_secs(10));
    // The flow is gone: a late answer is for no flow.
    raw.send(proofs_for(&request, &[&common::holder()])).await;
    raw.expect_error(ErrorCode::UnknownFlow, Some("f-1"), Some("e-1"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_no_match_response_in_time_is_match_timeout() {
    let p = platform("").await;
    let key = session_key();
    let mut raw = connected(platform_engine(&p, &key, short_limits()), &key).await;
    let (_, request) = presentation_at_match(&p, &mut raw, "f-1").await;
    let m = raw.message().await;
    assert_flow_error(
        &m,
        "f-1",
        ErrorCode::MatchTimeout,
        Some("match_credentials"),
    );
    raw.send(json!({"type": "match_response", "flow_id": "f-1",
        "message_id": request["message_id"], "no_match_reason": "late"}))
        .await;
    raw.expect_error(ErrorCode::UnknownFlow, Some("f-1"), Some("e-1"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_flow_past_the_flow_limit_is_flow_timeout() {
    let p = platform("").await;
    let key = session_key();
    let limits = Limits {
        flow: Duration::from_millis(1500),
        sign: Duration::from_secs(60),
        ..short_limits()
    };
    let mut raw = connected(platform_engine(&p, &key, limits), &key).await;
    let started = Instant::now();
    issuance_at_sign(&p, &mut raw, "f-1").await;
    let m = raw.message().await;
    assert_flow_error(&m, "f-1", ErrorCode::FlowTimeout, Some("token_obtained"));
    assert!(started.elapsed() < Duration::from_secs(10));
    still_usable(&mut raw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_sign_response_with_error_is_sign_error() {
    let p = platform("").await;
    let key = session_key();
    let limits = Limits {
        sign: Duration::from_secs(30),
        ..short_limits()
    };
    let mut raw = connected(platform_engine(&p, &key, limits), &key).await;
    let (_, request) = issuance_at_sign(&p, &mut raw, "f-1").await;
    raw.send(json!({"type": "sign_response", "flow_id": "f-1",
        "message_id": request["message_id"], "error": "the user cancelled"}))
        .await;
    let m = raw.message().await;
    assert_flow_error(&m, "f-1", ErrorCode::SignError, Some("token_obtained"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_proofs_the_issuer_refuses_are_sign_error() {
    let p = platform("").await;
    let key = session_key();
    let limits = Limits {
        sign: Duration::from_secs(30),
        ..short_limits()
    };
    let mut raw = connected(platform_engine(&p, &key, limits), &key).await;
    let holder = common::holder();
    let impostor = common::holder();

    // A proof whose header key is not the key that signed it.
    let (_, request) = issuance_at_sign(&p, &mut raw, "f-1").await;
    let claims = json!({"aud": request["params"]["audience"], "iat": now(),
        "nonce": request["params"]["nonce"]});
    let jwt = jose::HeaderBuilder::new()
        .typ("openid4vci-proof+jwt")
        .jwk(holder.public_jwk())
        .sign(claims.to_string().as_bytes(), &impostor)
        .unwrap();
    raw.send(json!({"type": "sign_response", "flow_id": "f-1",
        "message_id": request["message_id"], "proofs": [{"proof_type": "jwt", "jwt": jwt}]}))
        .await;
    let (steps, m) = raw.after_progress().await;
    assert_eq!(steps, ["requesting_credential"]);
    assert_flow_error(
        &m,
        "f-1",
        ErrorCode::SignError,
        Some("requesting_credential"),
    );

    // A proof for another audience and nonce.
    let (_, request) = issuance_at_sign(&p, &mut raw, "f-2").await;
    let mut forged_request = request.clone();
    forged_request["params"]["audience"] = json!("https://other.example");
    forged_request["params"]["nonce"] = json!("not-the-nonce");
    raw.send(proofs_for(&forged_request, &[&holder])).await;
    let (_, m) = raw.after_progress().await;
    assert_flow_error(
        &m,
        "f-2",
        ErrorCode::SignError,
        Some("requesting_credential"),
    );

    // More proofs than the batch size.
    let (_, request) = issuance_at_sign(&p, &mut raw, "f-4").await;
    let count = request["params"]["count"].as_u64().unwrap() as usize;
    let keys: Vec<SoftwareSigner> = (0..=count).map(|_| common::holder()).collect();
    let signers: Vec<&dyn Signer> = keys.iter().map(|k| k as &dyn Signer).collect();
    raw.send(proofs_for(&request, &signers)).await;
    let m = raw.message().await;
    assert_flow_error(&m, "f-4", ErrorCode::SignError, Some("token_obtained"));

    // Not a JWT at all.
    let (_, request) = issuance_at_sign(&p, &mut raw, "f-3").await;
    raw.send(json!({"type": "sign_response", "flow_id": "f-3",
        "message_id": request["message_id"], "proofs": [{"proof_type": "jwt", "jwt": "a.b.c"}]}))
        .await;
    let (_, m) = raw.after_progress().await;
    assert_flow_error(
        &m,
        "f-3",
        ErrorCode::SignError,
        Some("requesting_credential"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_consent_at_match_request_is_invalid_and_a_decline_still_ends_it() {
    let p = platform("").await;
    let key = session_key();
    let limits = Limits {
        matching: Duration::from_secs(30),
        ..short_limits()
    };
    let mut raw = connected(platform_engine(&p, &key, limits), &key).await;
    let (id, _) = presentation_at_match(&p, &mut raw, "f-1").await;
    raw.send(
        json!({"type": "flow_action", "flow_id": "f-1", "action": "consent",
        "selected_credentials": [{"credential_id": "c-1", "disclosed_claims": [["role"]]}]}),
    )
    .await;
    raw.expect_error(ErrorCode::InvalidMessage, Some("f-1"), None)
        .await;
    raw.send(
        json!({"type": "sign_response", "flow_id": "f-1", "message_id": "e-1",
        "vp_token": {"q": ["x"]}}),
    )
    .await;
    raw.expect_error(ErrorCode::UnknownFlow, Some("f-1"), Some("e-1"))
        .await;
    raw.send(decline("f-1")).await;
    let (_, m) = raw.after_progress().await;
    assert_eq!(m["type"], "flow_complete", "{m}");
    assert_eq!(m["declined"], true);
    assert!(p.result(&id).await.to_string().contains("access_denied"));
}

// ---------------------------------------------------------------------------------------
// Floods

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_message_flood_gets_too_many_requests_then_is_disconnected() {
    let key = session_key();
    let url = serve_ws(offline_engine(&key, Limits::default())).await;
    let mut raw = Raw::ws(&url).await;
    raw.handshake(&token(&key, &["receive"])).await;
    let limit = wallet_protocol::limits::MESSAGES_PER_MINUTE as usize;
    for i in 1..=limit * 2 {
        raw.send(decline(&format!("f-{i}"))).await;
        let code = if i <= limit {
            ErrorCode::UnknownFlow
        } else {
            ErrorCode::TooManyRequests
        };
        raw.expect_error(code, Some(&format!("f-{i}")), None).await;
    }
    raw.send(decline("f-last")).await;
    raw.expect_error(ErrorCode::TooManyRequests, None, None)
        .await;
    assert_eq!(raw.closed().await, Got::Close(Some(1008)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_binary_frame_flood_counts_against_the_message_limit() {
    let key = session_key();
    let limits = Limits {
        messages_per_minute: 20,
        ..Limits::default()
    };
    let url = serve_ws(offline_engine(&key, limits)).await;
    let mut raw = Raw::ws(&url).await;
    raw.handshake(&token(&key, &["receive"])).await;
    for i in 1..=40 {
        raw.send_frame(Frame::Binary(vec![1, 2, 3])).await.unwrap();
        let code = if i <= 20 {
            ErrorCode::InvalidMessage
        } else {
            ErrorCode::TooManyRequests
        };
        raw.expect_error(code, None, None).await;
    }
    raw.send_frame(Frame::Binary(vec![1])).await.unwrap();
    raw.expect_error(ErrorCode::TooManyRequests, None, None)
        .await;
    assert_eq!(raw.closed().await, Got::Close(Some(1008)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_more_flow_starts_than_the_limit_get_too_many_requests_then_a_close() {
    let key = session_key();
    let mut raw = Raw::local(offline_engine(&key, Limits::default()));
    // A receive-only session: each presentation start ends at once with FORBIDDEN, so no
    // flow stays open and only the start rate counts.
    raw.handshake(&token(&key, &["receive"])).await;
    let limit = wallet_protocol::limits::FLOW_STARTS_PER_MINUTE as usize;
    for i in 1..=limit {
        raw.send(presentation_start(&format!("f-{i}"), "openid4vp://?x=y"))
            .await;
        let m = raw.message().await;
        assert_flow_error(&m, &format!("f-{i}"), ErrorCode::Forbidden, None);
    }
    let mut start = presentation_start("f-over", "openid4vp://?x=y");
    start["message_id"] = json!("m-over");
    raw.send(start).await;
    raw.expect_error(ErrorCode::TooManyRequests, Some("f-over"), Some("m-over"))
        .await;
    // Other messages still go through.
    still_usable(&mut raw).await;
    // Past twice the limit the connection is closed.
    for i in limit + 2..=limit * 2 {
        raw.send(presentation_start(&format!("f-{i}"), "openid4vp://?x=y"))
            .await;
        raw.expect_error(ErrorCode::TooManyRequests, Some(&format!("f-{i}")), None)
            .await;
    }
    raw.send(presentation_start("f-last", "openid4vp://?x=y"))
        .await;
    raw.expect_error(ErrorCode::TooManyRequests, Some("f-last"), None)
        .await;
    assert_eq!(raw.closed().await, Got::Close(Some(1008)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_more_concurrent_flows_than_the_limit_get_too_many_requests() {
    let key = session_key();
    let issuer = hanging_issuer().await;
    let limits = Limits {
        concurrent_flows: 3,
        ..short_limits()
    };
    let mut raw = connected(offline_engine(&key, limits), &key).await;
    let (_, jwk) = response_jwk();
    for i in 1..=3 {
        raw.send(issuance_start(
            &format!("f-{i}"),
            &offer_by_value(&issuer),
            &jwk,
        ))
        .await;
        raw.until_step("fetching_metadata").await;
    }
    raw.send(issuance_start("f-4", &offer_by_value(&issuer), &jwk))
        .await;
    raw.expect_error(ErrorCode::TooManyRequests, Some("f-4"), None)
        .await;
    // No fourth flow runs.
    raw.send(decline("f-4")).await;
    raw.expect_error(ErrorCode::UnknownFlow, Some("f-4"), None)
        .await;
}

// ---------------------------------------------------------------------------------------
// Keep-alive and session expiry

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_client_that_never_answers_pings_is_disconnected_after_two() {
    let key = session_key();
    let limits = Limits {
        ping_interval: Duration::from_millis(200),
        ..short_limits()
    };
    let mut raw = connected(offline_engine(&key, limits), &key).await;
    let started = Instant::now();
    assert_eq!(raw.event().await, Got::Ping);
    assert_eq!(raw.event().await, Got::Ping);
    assert_eq!(raw.event().await, Got::Close(Some(1008)));
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_client_that_answers_pings_stays_connected() {
    let key = session_key();
    let limits = Limits {
        ping_interval: Duration::from_millis(100),
        ..short_limits()
    };
    let mut raw = connected(offline_engine(&key, limits), &key).await;
    let mut pings = 0;
    while pings < 8 {
        match raw.event().await {
            Got::Ping => {
                pings += 1;
                raw.send_frame(Frame::Pong(Vec::new())).await.unwrap();
            }
            other => panic!("{other:?}"),
        }
    }
    raw.send(decline("probe")).await;
    loop {
        match raw.event().await {
            Got::Ping => raw.send_frame(Frame::Pong(Vec::new())).await.unwrap(),
            Got::Message(m) => {
                assert_error(&m, ErrorCode::UnknownFlow, Some("probe"), None);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_an_expiring_session_is_told_then_closed_at_expiry() {
    let key = session_key();
    let mut raw = Raw::local(offline_engine(&key, short_limits()));
    let t = sign_token(
        &key,
        engine::auth::SESSION_TYP,
        KID,
        &claims(&["receive"], 2),
    );
    raw.handshake(&t).await;
    let started = Instant::now();
    let push = raw.message().await;
    assert_eq!(push["type"], "push", "{push}");
    assert_eq!(push["push_type"], "session_expiring", "{push}");
    assert!(push["expires_in"].as_u64().unwrap() <= 2, "{push}");
    assert!(started.elapsed() < Duration::from_millis(900));
    raw.expect_error(ErrorCode::AuthFailed, None, None).await;
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(raw.closed().await, Got::Close(Some(1000)));
}

/// The platform's presentation up to `awaiting_consent`, with the client claiming to
/// hold `c-1` answering the first query with `role` and `course`; returns the query id.
async fn presentation_at_consent(p: &Platform, raw: &mut Raw, flow_id: &str) -> String {
    let (_, request) = presentation_at_match(p, raw, flow_id).await;
    let query = request["dcql_query"]["credentials"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    raw.send(json!({"type": "match_response", "flow_id": flow_id,
        "message_id": request["message_id"], "matches": [{"credential_query_id": query,
        "credential_id": "c-1", "available_claims": [["role"], ["course"]]}]}))
        .await;
    let consent = raw.until_step("awaiting_consent").await;
    assert_eq!(consent["flow_id"], flow_id);
    query
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_matches_consents_and_presentations_outside_the_request_are_refused() {
    let p = platform("").await;
    let key = session_key();
    let limits = Limits {
        sign: Duration::from_secs(30),
        matching: Duration::from_secs(30),
        ..short_limits()
    };
    let mut raw = connected(platform_engine(&p, &key, limits), &key).await;

    // A match naming a query the request does not have ends the flow.
    let (_, request) = presentation_at_match(&p, &mut raw, "f-1").await;
    raw.send(json!({"type": "match_response", "flow_id": "f-1",
        "message_id": request["message_id"], "matches": [{"credential_query_id": "nope",
        "credential_id": "c-1", "available_claims": [["role"]]}]}))
        .await;
    let m = raw.message().await;
    assert_flow_error(&m, "f-1", ErrorCode::MatchError, Some("match_credentials"));

    // A consent to a credential that was not matched, or to a claim it does not have, is
    // refused and the flow keeps waiting for a consent it can take.
    let query = presentation_at_consent(&p, &mut raw, "f-2").await;
    let consent = |credential: &str, claims: Value| {
        json!({"type": "flow_action", "flow_id": "f-2", "action": "consent",
            "selected_credentials": [{"credential_id": credential,
            "disclosed_claims": claims}]})
    };
    raw.send(consent("c-2", json!([["role"]]))).await;
    raw.expect_error(ErrorCode::InvalidMessage, Some("f-2"), None)
        .await;
    raw.send(consent("c-1", json!([["given_name"]]))).await;
    raw.expect_error(ErrorCode::InvalidMessage, Some("f-2"), None)
        .await;
    let mut wrong_query = consent("c-1", json!([["role"]]));
    wrong_query["selected_credentials"][0]["credential_query_id"] = json!("other");
    raw.send(wrong_query).await;
    raw.expect_error(ErrorCode::InvalidMessage, Some("f-2"), None)
        .await;
    raw.send(consent("c-1", json!([["role"]]))).await;
    let sign = raw.message().await;
    assert_eq!(sign["type"], "sign_request", "{sign}");
    assert_eq!(sign["action"], "sign_presentation", "{sign}");
    assert_eq!(
        sign["params"]["credentials_to_include"],
        json!([{"credential_id": "c-1", "credential_query_id": query,
            "disclosed_claims": [["role"]]}])
    );
    // A vp_token answering a query the holder did not consent to ends the flow.
    raw.send(json!({"type": "sign_response", "flow_id": "f-2",
        "message_id": sign["message_id"], "vp_token": {"other": ["x~"]}}))
        .await;
    let m = raw.message().await;
    assert_flow_error(&m, "f-2", ErrorCode::SignError, Some("awaiting_consent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_an_unreadable_offer_is_offer_parse_error() {
    let key = session_key();
    let mut raw = connected(offline_engine(&key, short_limits()), &key).await;
    let (_, jwk) = response_jwk();
    for offer in [
        "not an offer",
        "openid-credential-offer://?credential_offer=%7Bnot-json",
        "openid-credential-offer://?credential_offer=%7B%7D",
        "https://issuer.example/offer",
    ] {
        raw.send(issuance_start("f-1", offer, &jwk)).await;
        let (steps, m) = raw.after_progress().await;
        assert_eq!(steps, ["parsing_offer"], "{offer}");
        assert_flow_error(&m, "f-1", ErrorCode::OfferParseError, Some("parsing_offer"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_malformed_presentation_the_verifier_refuses_is_sign_error() {
    let p = platform("").await;
    let key = session_key();
    let limits = Limits {
        sign: Duration::from_secs(30),
        matching: Duration::from_secs(30),
        ..short_limits()
    };
    let mut raw = connected(platform_engine(&p, &key, limits), &key).await;
    let query = presentation_at_consent(&p, &mut raw, "f-1").await;
    let (steps, m) = raw
        .consent_and_present(&query, json!(["not-an-sd-jwt"]))
        .await;
    assert_eq!(steps, ["submitting_response"]);
    assert_flow_error(&m, "f-1", ErrorCode::SignError, Some("submitting_response"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_rejects_a_response_key_not_for_ecdh_es_encryption() {
    let p = platform("").await;
    let key = session_key();
    let limits = Limits {
        sign: Duration::from_secs(30),
        ..short_limits()
    };
    let mut raw = connected(platform_engine(&p, &key, limits), &key).await;
    let (_, good) = response_jwk();
    let mut no_alg = good.clone();
    no_alg.as_object_mut().unwrap().remove("alg");
    let mut signing = good.clone();
    signing["alg"] = json!("ES256");
    let mut sig_use = good.clone();
    sig_use["use"] = json!("sig");
    for (i, jwk) in [no_alg, signing, sig_use].iter().enumerate() {
        let flow_id = format!("f-{i}");
        let offer = p.offer(json!({})).await;
        raw.send(issuance_start(
            &flow_id,
            offer["offer_uri"].as_str().unwrap(),
            jwk,
        ))
        .await;
        let m = raw.message().await;
        assert_error(&m, ErrorCode::InvalidMessage, Some(&flow_id), None);
    }
    // Nothing was spent: the same kind of offer goes through with a usable key.
    let offer = p.offer(json!({})).await;
    raw.send(issuance_start(
        "f-ok",
        offer["offer_uri"].as_str().unwrap(),
        &good,
    ))
    .await;
    let (_, request) = raw.after_progress().await;
    assert_eq!(request["type"], "sign_request", "{request}");
    raw.send(proofs_for(&request, &[&common::holder()])).await;
    let (_, done) = raw.after_progress().await;
    assert_eq!(done["type"], "flow_complete", "{done}");
    assert!(done["encrypted_response"].is_string(), "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_wrong_transaction_codes_past_the_attempts_end_with_token_error() {
    let p = platform("").await;
    let key = session_key();
    let mut raw = connected(platform_engine(&p, &key, short_limits()), &key).await;
    let offer = p
        .offer(json!({"tx_code": {"length": 6, "input_mode": "numeric"}}))
        .await;
    let right = offer["tx_code"].as_str().unwrap();
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let (_, jwk) = response_jwk();
    raw.send(issuance_start(
        "f-1",
        offer["offer_uri"].as_str().unwrap(),
        &jwk,
    ))
    .await;
    let attempts = Limits::default().tx_code_attempts;
    for attempt in 0..attempts {
        let prompt = raw.until_step("awaiting_tx_code").await;
        let retry = prompt["payload"]["retry"].as_bool().unwrap_or(false);
        assert_eq!(retry, attempt > 0, "{prompt}");
        assert_eq!(prompt["payload"]["tx_code"]["length"], 6, "{prompt}");
        // An answer of another kind first: refused, the prompt stands.
        raw.send(json!({"type": "flow_action", "flow_id": "f-1",
            "action": "select_credential", "credential_configuration_id": "x"}))
            .await;
        raw.expect_error(ErrorCode::InvalidMessage, Some("f-1"), None)
            .await;
        raw.send(
            json!({"type": "flow_action", "flow_id": "f-1", "action": "provide_pin",
            "tx_code": wrong}),
        )
        .await;
    }
    let (steps, m) = raw.after_progress().await;
    assert_eq!(steps, ["exchanging_token"]);
    assert_flow_error(&m, "f-1", ErrorCode::TokenError, Some("exchanging_token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_client_that_stops_reading_is_given_up_at_the_keep_alive() {
    let key = session_key();
    let limits = Limits {
        ping_interval: Duration::from_millis(100),
        ..short_limits()
    };
    let engine = offline_engine(&key, limits);
    let (mut sink, stream) = engine::local::connect(engine);
    use futures_util::SinkExt;
    sink.send(Frame::Text(
        json!({"type": "handshake", "app_token": token(&key, &["receive"])}).to_string(),
    ))
    .await
    .unwrap();
    // Fill the engine's outgoing queue (32 frames, handshake_complete included) with
    // answers the client never reads.
    for i in 0..31 {
        sink.send(Frame::Text(decline(&format!("f-{i}")).to_string()))
            .await
            .unwrap();
    }
    // The engine cannot even write its ping now; it must give the client up rather than
    // wait for it for ever.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        sink.send(Frame::Text(decline("late").to_string()))
            .await
            .is_err(),
        "the session still runs for a client that does not read"
    );
    drop(stream);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_client_that_pings_without_reading_cannot_outlast_the_handshake_limit() {
    let key = session_key();
    let engine = offline_engine(&key, short_limits());
    let (mut sink, stream) = engine::local::connect(engine);
    use futures_util::SinkExt;
    // 40 pings: the engine's 32-frame queue fills with pongs nobody reads.
    let mut refused = false;
    for _ in 0..40 {
        if sink.send(Frame::Ping(Vec::new())).await.is_err() {
            refused = true;
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    refused = refused || sink.send(Frame::Ping(Vec::new())).await.is_err();
    assert!(refused, "the handshake limit did not hold");
    drop(stream);
}

/// Records every panic in this test process (nextest runs each test in its own).
fn watch_panics() -> Arc<std::sync::atomic::AtomicBool> {
    let seen = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = Arc::clone(&seen);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
        previous(info);
    }));
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_local_client_that_hangs_up_mid_session_panics_nothing() {
    use futures_util::SinkExt;
    let panicked = watch_panics();
    let key = session_key();
    let limits = Limits {
        messages_per_minute: 3,
        ..short_limits()
    };
    let engine = offline_engine(&key, limits);

    // Before the handshake: pings whose pongs cannot be delivered.
    let (mut sink, stream) = engine::local::connect(Arc::clone(&engine));
    drop(stream);
    for _ in 0..3 {
        let _ = sink.send(Frame::Ping(Vec::new())).await;
    }
    // After it: a flood past twice the limit (a refusal, then a close) to a client that
    // no longer reads.
    let (mut sink2, mut stream2) = engine::local::connect(Arc::clone(&engine));
    use futures_util::StreamExt;
    sink2
        .send(Frame::Text(
            json!({"type": "handshake", "app_token": token(&key, &["receive"])}).to_string(),
        ))
        .await
        .unwrap();
    assert!(matches!(stream2.next().await, Some(Frame::Text(_))));
    drop(stream2);
    for i in 0..8 {
        let _ = sink2
            .send(Frame::Text(decline(&format!("f-{i}")).to_string()))
            .await;
    }
    // A bad handshake from a client that has hung up: a refusal, then a close.
    let (mut sink3, stream3) = engine::local::connect(engine);
    drop(stream3);
    let _ = sink3
        .send(Frame::Text(
            json!({"type": "handshake", "app_token": "nope"}).to_string(),
        ))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !panicked.load(std::sync::atomic::Ordering::SeqCst),
        "the engine panicked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_token_expiring_in_the_far_future_is_served_without_overflow() {
    let panicked = watch_panics();
    let key = session_key();
    let engine = offline_engine(&key, short_limits());
    for exp in [253_402_300_799_i64, 1_000_000_000_000_000, i64::MAX / 2] {
        let mut c = claims(&["receive"], 0);
        c["exp"] = json!(exp);
        let mut raw = Raw::local(Arc::clone(&engine));
        raw.send(json!({"type": "handshake",
            "app_token": sign_token(&key, engine::auth::SESSION_TYP, KID, &c)}))
            .await;
        let m = raw.message().await;
        if m["type"] == "handshake_complete" {
            still_usable(&mut raw).await;
        } else {
            assert_error(&m, ErrorCode::AuthFailed, None, None);
        }
    }
    assert!(!panicked.load(std::sync::atomic::Ordering::SeqCst));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_answers_sent_before_their_step_are_refused_not_kept_for_later() {
    let p = platform("").await;
    let key = session_key();
    let limits = Limits {
        sign: Duration::from_secs(30),
        ..short_limits()
    };
    let mut raw = connected(platform_engine(&p, &key, limits), &key).await;
    let offer = p
        .offer(json!({"tx_code": {"length": 6, "input_mode": "numeric"}}))
        .await;
    let right = offer["tx_code"].as_str().unwrap().to_owned();
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let (_, jwk) = response_jwk();
    // Right behind the flow_start, before any prompt: a decline, a transaction code and
    // a sign_response guessing the first request's id.
    raw.send(issuance_start(
        "f-1",
        offer["offer_uri"].as_str().unwrap(),
        &jwk,
    ))
    .await;
    raw.send(
        json!({"type": "flow_action", "flow_id": "f-1", "message_id": "m-1",
        "action": "decline"}),
    )
    .await;
    raw.send(
        json!({"type": "flow_action", "flow_id": "f-1", "message_id": "m-2",
        "action": "provide_pin", "tx_code": wrong}),
    )
    .await;
    raw.send(
        json!({"type": "sign_response", "flow_id": "f-1", "message_id": "e-1",
        "error": "guessing"}),
    )
    .await;
    let mut refused = Vec::new();
    loop {
        let m = raw.message().await;
        match m["type"].as_str() {
            Some("error") => refused.push((
                m["code"].as_str().unwrap().to_owned(),
                m["message_id"].as_str().unwrap().to_owned(),
            )),
            Some("flow_progress") if m["step"] == "awaiting_tx_code" => {
                assert!(m["payload"]["retry"].as_bool() != Some(true), "{m}");
                break;
            }
            Some("flow_progress") => {}
            _ => panic!("{m}"),
        }
    }
    assert_eq!(
        refused,
        [
            ("INVALID_MESSAGE".to_owned(), "m-1".to_owned()),
            ("INVALID_MESSAGE".to_owned(), "m-2".to_owned()),
            ("UNKNOWN_FLOW".to_owned(), "e-1".to_owned()),
        ]
    );
    // The flow is where it should be: the right code now gets the credential.
    raw.send(
        json!({"type": "flow_action", "flow_id": "f-1", "action": "provide_pin",
        "tx_code": right}),
    )
    .await;
    let (_, request) = raw.after_progress().await;
    assert_eq!(request["type"], "sign_request", "{request}");
    raw.send(proofs_for(&request, &[&common::holder()])).await;
    let (_, done) = raw.after_progress().await;
    assert_eq!(done["type"], "flow_complete", "{done}");
}
