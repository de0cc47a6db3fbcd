//! End to end through the real binary: `symbolon verifier gen-cert`, then `symbolon serve
//! --mode=verifier` with that key and certificate, and a wallet (built on `oid4vp` and
//! `sd-jwt`) presenting over HTTP with `x509_san_dns`, `request_uri_method=post` and
//! `direct_post.jwt`; the RP reads the result and the session token.

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use jose::jwe::{Enc, EncryptOptions};
use jose::{Algorithm, Clock, Signer, SoftwareSigner, TrustAnchors};
use oid4vp::request::object::WalletPolicy;
use oid4vp::sd_jwt_vc::{holder_credential, present};
use oid4vp::{
    AuthorizationResponse, DirectPostBody, Invocation, Presentation, RequestUriPost, VpToken,
};
use serde_json::{Map, Value, json};

struct Server(Child, mpsc::Receiver<String>);

impl Server {
    fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.1.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return,
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        panic!("no log line with {needle:?}; saw:\n{}", seen.join("\n"));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn symbolon() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_symbolon"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SYMBOLON_") {
            c.env_remove(name);
        }
    }
    c.env_remove("RUST_LOG");
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wallet_presents_to_the_verifier_binary_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("verifier-key.jwk");
    let cert = dir.path().join("verifier-cert.pem");
    let out = symbolon()
        .args(["verifier", "gen-cert", "--dns", "localhost", "--key-out"])
        .arg(&key)
        .arg("--cert-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        printed["client_ids"]["x509_san_dns"][0],
        "x509_san_dns:localhost"
    );

    let issuer = SoftwareSigner::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("iss-1");
    let jwks = json!({"keys": [issuer.public_jwk().to_value()]});
    let query = json!({"credentials": [{"id": "pass", "format": "dc+sd-jwt",
        "meta": {"vct_values": ["urn:symbolon:immerse:classroom-pass:1"]},
        "claims": [{"path": ["role"]}, {"path": ["course"]}]}]});
    let port = free_port();
    let base = format!("http://localhost:{port}");
    let config = format!(
        r#"data_dir = {data:?}
[server]
listen = "127.0.0.1:{port}"
public_url = "{base}"
allow_http_loopback = true
[verifier]
rp_token = "e2e-token"
signing_key = {key:?}
certificate = {cert:?}
default_policy = "classroom"
[verifier.issuers.school]
iss = "https://issuer.example"
jwks = '{jwks}'
[verifier.policies.classroom]
essential_claims = ["role", "course"]
trusted_issuers = ["school"]
dcql_query = '{query}'
"#,
        data = dir.path().join("data").display().to_string(),
        key = key.display().to_string(),
        cert = cert.display().to_string(),
    );
    let config_path = dir.path().join("verifier.toml");
    std::fs::write(&config_path, config).unwrap();

    let mut child = symbolon()
        .args(["serve", "--mode=verifier", "--config"])
        .arg(&config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let server = Server(child, rx);
    server.wait_for("listening");

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let local = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let created: Value = http
        .post(local("/transactions"))
        .bearer_auth("e2e-token")
        .json(
            &json!({"client_id_prefix": "x509_san_dns", "response_mode": "direct_post.jwt",
                      "request_uri_method": "post"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["transaction_id"].as_str().unwrap().to_owned();
    let link = created["authorization_request"].as_str().unwrap();

    // The wallet: fetch and verify the request object.
    let Invocation::ByReference {
        client_id,
        request_uri,
        ..
    } = Invocation::parse(link).unwrap()
    else {
        panic!("by reference expected")
    };
    assert!(request_uri.starts_with(&base));
    let post = RequestUriPost {
        wallet_metadata: Some(json!({"vp_formats_supported": {"dc+sd-jwt": {}}}).to_string()),
        wallet_nonce: Some("e2e-wallet-nonce".into()),
    };
    let response = http
        .post(local(request_uri.strip_prefix(&base).unwrap()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(post.to_form())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let jwt = response.text().await.unwrap();
    let chain = verifier::keyfiles::read_chain(&cert).unwrap();
    let anchors = TrustAnchors::from_der(chain).unwrap();
    let now = jose::SystemClock.now();
    let request = oid4vp::verify_request_object(
        &jwt,
        &client_id,
        Some("e2e-wallet-nonce"),
        &WalletPolicy {
            algorithms: &[Algorithm::Es256],
            anchors: &anchors,
            skew: 30,
            client_trusted: false,
        },
        now,
    )
    .unwrap();

    // A credential from the trusted issuer, presented as the query asks.
    let holder = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let mut claims = Map::new();
    claims.insert("iss".into(), "https://issuer.example".into());
    claims.insert("vct".into(), "urn:symbolon:immerse:classroom-pass:1".into());
    claims.insert("iat".into(), (now - 60).into());
    claims.insert("cnf".into(), json!({"jwk": holder.public_jwk().to_value()}));
    claims.insert("role".into(), "teacher".into());
    claims.insert("course".into(), "Immersive Chemistry".into());
    claims.insert("email".into(), "t@example.org".into());
    let frame = sd_jwt::Frame::new()
        .with(sd_jwt::ClaimPath::claim("role"))
        .with(sd_jwt::ClaimPath::claim("course"))
        .with(sd_jwt::ClaimPath::claim("email"));
    let issued =
        sd_jwt::vc::issue(claims, &frame, &issuer, &sd_jwt::SystemSalts::new(), None).unwrap();
    let sd = sd_jwt::SdJwt::parse(issued.as_str(), &sd_jwt::Limits::DEFAULT).unwrap();
    let mut presenter = sd.presenter().unwrap();
    let held = holder_credential(&presenter).unwrap();
    let matched = oid4vp::dcql::match_query(&request.dcql_query, &[held]);
    let plan = matched
        .plan(&matched.preferred_selection(false).unwrap())
        .unwrap();
    let planned = &plan.presentations[0];
    let vp = present(&mut presenter, planned, &request, now, &holder).unwrap();
    let mut vp_token = VpToken::new();
    vp_token.push(&planned.query_id, Presentation::Text(vp));
    let payload = Value::Object(
        AuthorizationResponse::Success {
            vp_token,
            state: request.state.clone(),
        }
        .to_payload(),
    )
    .to_string();
    let (jwk, enc) = request
        .client_metadata
        .as_ref()
        .unwrap()
        .response_encryption(&Enc::ALL)
        .unwrap();
    let jwe = jose::jwe::encrypt(payload.as_bytes(), jwk, enc, &EncryptOptions::default()).unwrap();
    let answer = http
        .post(local("/response"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(DirectPostBody::Encrypted(jwe).to_form())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);

    let result: Value = http
        .get(local(&format!("/transactions/{id}")))
        .bearer_auth("e2e-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(result["status"], "success", "{result}");
    let disclosed = &result["claims"]["pass"][0];
    assert_eq!(disclosed["role"], "teacher");
    assert_eq!(disclosed["course"], "Immersive Chemistry");
    assert!(
        disclosed.get("email").is_none(),
        "not requested, not disclosed"
    );
    assert!(result["session_token"].is_string());
    drop(server);
}

#[test]
fn the_example_verifier_configuration_is_accepted() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = symbolon()
        .args(["config", "check", "--config", "examples/verifier.toml"])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("[verifier.policies.immersive-classroom]"),
        "{text}"
    );
    assert!(text.contains("rp_token = \"<redacted>\""), "{text}");
}
