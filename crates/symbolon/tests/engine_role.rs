//! The wallet engine as a role of the real binary: `symbolon serve --mode=engine` with the
//! auth role's session keys in a JWK Set file serves the API v2 WebSocket and its schema
//! next to the shared probes and metrics; session JWTs grant what their permissions say
//! and every bad `app_token` is refused with `AUTH_FAILED` and a close; the flows'
//! outbound calls pass the SSRF guard; `config check --mode=engine` refuses an engine no
//! client could authenticate to; and under `--mode=all` the engine is mounted at
//! `/engine` and admits anonymous sessions.

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{LoggedServer, free_port, symbolon};
use futures_util::{SinkExt, StreamExt};
use jose::{Algorithm, Clock, HeaderBuilder, Signer, SoftwareSigner};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const ISSUER: &str = "https://auth.example";
const AUDIENCE: &str = "symbolon-engine";

/// A `--mode=engine` server whose clients authenticate with session JWTs signed by
/// `auth` (kid `auth-1`, in the JWK Set file of the configuration).
struct Engine {
    _dir: tempfile::TempDir,
    server: LoggedServer,
    auth: SoftwareSigner,
    port: u16,
}

fn engine_config(dir: &Path, port: u16, jwks: &Path) -> String {
    format!(
        r#"data_dir = {data:?}
[server]
listen = "127.0.0.1:{port}"
public_url = "https://wallet.example"
[engine]
attester_url = "http://127.0.0.1:9/attester"
[engine.app_tokens]
jwks_file = {jwks:?}
issuer = "{ISSUER}"
audience = "{AUDIENCE}"
"#,
        data = dir.join("data").display().to_string(),
        jwks = jwks.display().to_string(),
    )
}

impl Engine {
    fn start() -> Engine {
        let dir = tempfile::tempdir().unwrap();
        let auth = SoftwareSigner::generate(Algorithm::Es256)
            .unwrap()
            .with_kid("auth-1");
        let jwks = dir.path().join("session-keys.json");
        std::fs::write(
            &jwks,
            json!({"keys": [auth.public_jwk().to_value()]}).to_string(),
        )
        .unwrap();
        let port = free_port();
        let config = dir.path().join("engine.toml");
        std::fs::write(&config, engine_config(dir.path(), port, &jwks)).unwrap();
        let mut command = symbolon();
        command
            .args(["serve", "--mode=engine", "--config"])
            .arg(&config);
        let server = LoggedServer::start(command);
        Engine {
            _dir: dir,
            server,
            auth,
            port,
        }
    }

    fn http(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn ws(&self) -> String {
        format!("ws://127.0.0.1:{}/api/v2/wallet", self.port)
    }

    /// A session JWT of `signer` with `claims` over the defaults (iss, sub, aud, exp in
    /// five minutes, both permissions).
    fn token_by(signer: &SoftwareSigner, kid: &str, claims: Value) -> String {
        let now = jose::SystemClock.now();
        let mut body = json!({"iss": ISSUER, "sub": "user-1", "aud": AUDIENCE,
            "iat": now, "exp": now + 300, "permissions": ["receive", "present"]});
        for (k, v) in claims.as_object().unwrap() {
            body[k] = v.clone();
        }
        HeaderBuilder::new()
            .typ("session+jwt")
            .kid(kid)
            .sign(body.to_string().as_bytes(), signer)
            .unwrap()
    }

    fn token(&self, claims: Value) -> String {
        Self::token_by(&self.auth, "auth-1", claims)
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str) -> Socket {
    let (socket, response) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(response.status(), 101);
    socket
}

/// The next text message as JSON (pings are answered by tungstenite); `None` once the
/// engine closed the connection.
async fn next(socket: &mut Socket) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .expect("the engine answers within 30 s");
        match message {
            Some(Ok(Message::Text(text))) => return Some(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
            Some(Ok(Message::Close(_)) | Err(_)) | None => return None,
            Some(Ok(Message::Binary(b))) => panic!("a binary frame from the engine: {b:?}"),
        }
    }
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

/// Opens a session with `app_token`: the engine's first answer.
async fn handshake(url: &str, app_token: &str) -> (Socket, Value) {
    let mut socket = connect(url).await;
    send(
        &mut socket,
        json!({"type": "handshake", "app_token": app_token}),
    )
    .await;
    let answer = next(&mut socket).await.expect("an answer to the handshake");
    (socket, answer)
}

#[tokio::test]
async fn issue12_engine_serves_its_schema_probes_and_metrics() {
    let engine = Engine::start();
    let http = reqwest::Client::new();

    let response = http
        .get(engine.http("/api/v2/schema.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let served = response.bytes().await.unwrap();
    let committed = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/api-v2.schema.json"),
    )
    .unwrap();
    assert!(
        served.as_ref() == committed.as_slice(),
        "GET /api/v2/schema.json differs from docs/api-v2.schema.json"
    );

    let healthz = http.get(engine.http("/healthz")).send().await.unwrap();
    assert_eq!(healthz.status(), 200);
    let readyz = http.get(engine.http("/readyz")).send().await.unwrap();
    assert_eq!(readyz.status(), 200);
    let ready: Value = readyz.json().await.unwrap();
    assert_eq!(ready["status"], "ready", "{ready}");

    // One session, so the engine's gauge and counters exist.
    let (socket, answer) = handshake(&engine.ws(), &engine.token(json!({}))).await;
    assert_eq!(answer["type"], "handshake_complete", "{answer}");
    drop(socket);
    let metrics = http
        .get(engine.http("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("engine_sessions"), "{metrics}");
    assert!(metrics.contains("engine_handshakes_total"), "{metrics}");
}

#[tokio::test]
async fn issue12_engine_handshake_grants_what_the_session_jwt_permits() {
    let engine = Engine::start();
    for (permissions, capabilities) in [
        (json!(["receive", "present"]), json!(["oid4vci", "oid4vp"])),
        (json!(["receive"]), json!(["oid4vci"])),
        (json!(["present", "storage"]), json!(["oid4vp"])),
    ] {
        let token = engine.token(json!({ "permissions": permissions }));
        let (_socket, answer) = handshake(&engine.ws(), &token).await;
        assert_eq!(answer["type"], "handshake_complete", "{answer}");
        assert_eq!(answer["protocol_version"], "2.0", "{answer}");
        assert_eq!(answer["capabilities"], capabilities, "{answer}");
        assert!(answer["session_id"].as_str().is_some_and(|s| !s.is_empty()));
    }
    // An `aud` array holding the engine's audience is accepted too.
    let token = engine.token(json!({"aud": ["storage", AUDIENCE]}));
    let (_socket, answer) = handshake(&engine.ws(), &token).await;
    assert_eq!(answer["type"], "handshake_complete", "{answer}");
}

#[tokio::test]
async fn issue12_engine_rejects_bad_app_tokens_with_auth_failed_and_a_close() {
    let engine = Engine::start();
    let now = jose::SystemClock.now();
    let stranger = SoftwareSigner::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("auth-1");
    let cases = [
        (
            "expired",
            engine.token(json!({"iat": now - 600, "exp": now - 300})),
        ),
        ("another audience", engine.token(json!({"aud": "storage"}))),
        (
            "another issuer",
            engine.token(json!({"iss": "https://evil.example"})),
        ),
        (
            "an unknown key under a known kid",
            Engine::token_by(&stranger, "auth-1", json!({})),
        ),
        (
            "an unknown kid",
            Engine::token_by(&engine.auth, "auth-2", json!({})),
        ),
        ("anonymous, not allowed here", "anonymous".to_owned()),
    ];
    for (what, token) in cases {
        let (mut socket, answer) = handshake(&engine.ws(), &token).await;
        assert_eq!(answer["type"], "error", "{what}: {answer}");
        assert_eq!(answer["code"], "AUTH_FAILED", "{what}: {answer}");
        assert!(next(&mut socket).await.is_none(), "{what}: not closed");
    }
}

/// Starts an issuance of `offer` and returns the `flow_error` it ends with.
async fn offer_fails(socket: &mut Socket, flow_id: &str, offer: &str) -> Value {
    let key = jose::EncryptionKey::generate(jose::Curve::P256).unwrap();
    send(
        socket,
        json!({
            "type": "flow_start",
            "protocol": "oid4vci",
            "flow_id": flow_id,
            "offer": offer,
            "response_encryption": {
                "jwk": key.public_jwk_for_encryption().to_value(),
                "enc": "A128GCM",
            },
        }),
    )
    .await;
    loop {
        let message = next(socket).await.expect("the flow ends");
        assert_eq!(message["flow_id"], flow_id, "{message}");
        match message["type"].as_str() {
            Some("flow_progress") => {}
            Some("flow_error") => return message,
            _ => panic!("unexpected {message}"),
        }
    }
}

#[tokio::test]
async fn issue12_engine_refuses_an_offer_on_a_private_address_with_offer_fetch_error() {
    let engine = Engine::start();
    let (mut socket, answer) = handshake(&engine.ws(), &engine.token(json!({}))).await;
    assert_eq!(answer["type"], "handshake_complete", "{answer}");

    // An https offer location on a private address reaches the outbound client, whose
    // SSRF guard (`address_policy = "public_only"`) refuses it before connecting: the
    // log says so, so the code below is not a connection that merely failed.
    let error = offer_fails(
        &mut socket,
        "f-1",
        "openid-credential-offer://?credential_offer_uri=https%3A%2F%2F10.0.0.1%2Foffer",
    )
    .await;
    assert_eq!(error["step"], "parsing_offer", "{error}");
    assert_eq!(error["error"]["code"], "OFFER_FETCH_ERROR", "{error}");
    engine
        .server
        .wait_for("destination 10.0.0.1 is not allowed");

    // The same location over http is refused one step earlier, by the offer parser's
    // https-only rule (http only on loopback, and only with `trust.allow_http_loopback`):
    // it is never fetched either. The engine reports a location it refused to read with
    // one of the two offer codes (docs/api-v2.md), so only the step is pinned here.
    let error = offer_fails(
        &mut socket,
        "f-2",
        "openid-credential-offer://?credential_offer_uri=http%3A%2F%2F10.0.0.1%2Foffer",
    )
    .await;
    assert_eq!(error["step"], "parsing_offer", "{error}");
    let code = error["error"]["code"].as_str().unwrap();
    assert!(
        ["OFFER_FETCH_ERROR", "OFFER_PARSE_ERROR"].contains(&code),
        "{error}"
    );
}

#[test]
fn issue12_config_check_refuses_an_engine_no_client_can_authenticate_to() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.toml");
    std::fs::write(
        &path,
        "[server]\npublic_url = \"https://wallet.example\"\n[engine]\nattester_url = \"http://attester.svc:5000\"\n",
    )
    .unwrap();
    let out = symbolon()
        .args(["config", "check", "--mode=engine", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("engine.app_tokens.jwks_file"), "{stderr}");
    assert!(stderr.contains("engine.app_tokens.anonymous"), "{stderr}");

    // `anonymous = []` with no JWK Set is refused while the file is read, in any mode.
    std::fs::write(
        &path,
        "[server]\npublic_url = \"https://wallet.example\"\n[engine]\nattester_url = \"http://attester.svc:5000\"\n[engine.app_tokens]\nanonymous = []\n",
    )
    .unwrap();
    let out = symbolon()
        .args(["config", "check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("engine.app_tokens.jwks_file"), "{stderr}");
}

#[test]
fn issue12_the_example_engine_configuration_passes_config_check() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = symbolon()
        .args([
            "config",
            "check",
            "--mode=engine",
            "--config",
            "examples/engine.toml",
        ])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for table in [
        "[engine]",
        "[engine.app_tokens]",
        "[engine.trust]",
        "[engine.outbound]",
    ] {
        assert!(text.contains(table), "{table}: {text}");
    }
    assert!(text.contains("max_body = 1048576"), "{text}");
}

#[tokio::test]
async fn issue12_all_mode_engine_answers_an_anonymous_handshake_under_engine() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = common::start(dir.path());
    let port = base.rsplit(':').next().unwrap();
    let url = format!("ws://127.0.0.1:{port}/engine/api/v2/wallet");
    let (_socket, answer) = handshake(&url, "anonymous").await;
    assert_eq!(answer["type"], "handshake_complete", "{answer}");
    assert_eq!(
        answer["capabilities"],
        json!(["oid4vci", "oid4vp"]),
        "{answer}"
    );
    let schema = reqwest::get(format!("{base}/engine/api/v2/schema.json"))
        .await
        .unwrap();
    assert_eq!(schema.status(), 200);
}

#[tokio::test]
async fn issue12_a_stopping_engine_tells_its_sessions_draining_and_closes_them() {
    let mut engine = Engine::start();
    let (mut socket, answer) = handshake(&engine.ws(), &engine.token(json!({}))).await;
    assert_eq!(answer["type"], "handshake_complete", "{answer}");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &engine.server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let push = next(&mut socket).await.expect("a push before the close");
    assert_eq!(push["type"], "push", "{push}");
    assert_eq!(push["push_type"], "draining", "{push}");
    // Then the close, going away (1001).
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(u16::from(close.unwrap().code), 1001);
    // And the process ends well within its grace period.
    let exited = engine.server.0.wait().unwrap();
    assert!(exited.success(), "{exited:?}");
}
