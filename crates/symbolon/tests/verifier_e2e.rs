//! End to end through the real binary: `symbolon verifier gen-cert`, then `symbolon serve
//! --mode=verifier` with that key and certificate, and a wallet (built on `oid4vp` and
//! `sd-jwt`) presenting over HTTP with `x509_san_dns`, `request_uri_method=post` and
//! `direct_post.jwt`; the RP reads the result and the session token. Pending transactions
//! survive a restart of the binary.

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::Command;

use common::{LoggedServer, free_port, symbolon};

use jose::jwe::{Enc, EncryptOptions};
use jose::{Algorithm, Clock, Signer, SoftwareSigner, TrustAnchors};
use oid4vp::request::object::WalletPolicy;
use oid4vp::sd_jwt_vc::{holder_credential, present};
use oid4vp::{
    AuthorizationResponse, DirectPostBody, Invocation, Presentation, RequestUriPost, VpToken,
};
use serde_json::{Map, Value, json};

/// The files one verifier needs: its request signing key and certificate (from `symbolon
/// verifier gen-cert`) and a trusted issuer's key.
struct Setup {
    dir: tempfile::TempDir,
    cert: std::path::PathBuf,
    config: String,
    issuer: SoftwareSigner,
    port: u16,
    base: String,
}

impl Setup {
    fn new() -> Setup {
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
        let port = free_port();
        let base = format!("http://localhost:{port}");
        let config = common::verifier_config(dir.path(), port, "e2e-token", &key, &cert, &issuer);
        Setup {
            dir,
            cert,
            config,
            issuer,
            port,
            base,
        }
    }

    /// `symbolon serve --mode=verifier` with the configuration plus `extra` lines in
    /// `[verifier]`, once it listens.
    fn start(&self, extra: &str) -> LoggedServer {
        let config_path = self.dir.path().join("verifier.toml");
        let config = self
            .config
            .replacen("[verifier]\n", &format!("[verifier]\n{extra}"), 1);
        std::fs::write(&config_path, config).unwrap();
        let mut command = symbolon();
        command
            .args(["serve", "--mode=verifier", "--config"])
            .arg(&config_path);
        LoggedServer::start(command)
    }

    fn local(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A `direct_post.jwt` transaction: its id and authorization request link.
    async fn create(&self, http: &reqwest::Client) -> (String, String) {
        let created: Value = http
            .post(self.local("/transactions"))
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
        let link = created["authorization_request"]
            .as_str()
            .unwrap()
            .to_owned();
        (id, link)
    }

    /// The wallet fetches the request object of `link`: the response, and the client id.
    async fn fetch(&self, http: &reqwest::Client, link: &str) -> (reqwest::Response, String) {
        let Invocation::ByReference {
            client_id,
            request_uri,
            ..
        } = Invocation::parse(link).unwrap()
        else {
            panic!("by reference expected")
        };
        assert!(request_uri.starts_with(&self.base));
        let post = RequestUriPost {
            wallet_metadata: Some(json!({"vp_formats_supported": {"dc+sd-jwt": {}}}).to_string()),
            wallet_nonce: Some("e2e-wallet-nonce".into()),
        };
        let response = http
            .post(self.local(request_uri.strip_prefix(&self.base).unwrap()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(post.to_form())
            .send()
            .await
            .unwrap();
        (response, client_id)
    }

    /// Verifies the request object as a wallet does.
    fn verify(&self, jwt: &str, client_id: &str) -> oid4vp::AuthorizationRequest {
        let chain = verifier::keyfiles::read_chain(&self.cert).unwrap();
        let anchors = TrustAnchors::from_der(chain).unwrap();
        oid4vp::verify_request_object(
            jwt,
            client_id,
            Some("e2e-wallet-nonce"),
            &WalletPolicy {
                algorithms: &[Algorithm::Es256],
                anchors: &anchors,
                skew: 30,
                client_trusted: false,
            },
            jose::SystemClock.now(),
        )
        .unwrap()
    }

    /// The encrypted `direct_post.jwt` answer to `request`: a credential from the trusted
    /// issuer, presented as the query asks.
    fn answer(&self, request: &oid4vp::AuthorizationRequest) -> String {
        let now = jose::SystemClock.now();
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
        let issued = sd_jwt::vc::issue(
            claims,
            &frame,
            &self.issuer,
            &sd_jwt::SystemSalts::new(),
            None,
        )
        .unwrap();
        let sd = sd_jwt::SdJwt::parse(issued.as_str(), &sd_jwt::Limits::DEFAULT).unwrap();
        let mut presenter = sd.presenter().unwrap();
        let held = holder_credential(&presenter).unwrap();
        let matched = oid4vp::dcql::match_query(&request.dcql_query, &[held]);
        let plan = matched
            .plan(&matched.preferred_selection(false).unwrap())
            .unwrap();
        let planned = &plan.presentations[0];
        let vp = present(&mut presenter, planned, request, now, &holder).unwrap();
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
        jose::jwe::encrypt(payload.as_bytes(), jwk, enc, &EncryptOptions::default()).unwrap()
    }

    async fn post_response(&self, http: &reqwest::Client, jwe: String) -> reqwest::Response {
        http.post(self.local("/response"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(DirectPostBody::Encrypted(jwe).to_form())
            .send()
            .await
            .unwrap()
    }

    async fn result(&self, http: &reqwest::Client, id: &str) -> Value {
        http.get(self.local(&format!("/transactions/{id}")))
            .bearer_auth("e2e-token")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wallet_presents_to_the_verifier_binary_over_http() {
    let setup = Setup::new();
    let server = setup.start("");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let (id, link) = setup.create(&http).await;

    // The wallet: fetch and verify the request object.
    let (response, client_id) = setup.fetch(&http, &link).await;
    assert_eq!(response.status(), 200);
    let jwt = response.text().await.unwrap();
    let request = setup.verify(&jwt, &client_id);

    let answer = setup.post_response(&http, setup.answer(&request)).await;
    assert_eq!(answer.status(), 200);

    let result = setup.result(&http, &id).await;
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

/// A `direct_post.jwt` transaction created before a restart is answered after it: the key
/// encryption key of the embedded setup is generated once into the data directory (0600)
/// and read back, not drawn per process.
#[tokio::test(flavor = "multi_thread")]
async fn issue10_pending_direct_post_jwt_transaction_is_answered_after_a_restart() {
    let setup = Setup::new();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let server = setup.start("");
    let (id, link) = setup.create(&http).await;
    // One fetched before the restart, answered after it; one fetched only after it.
    let (response, client_id) = setup.fetch(&http, &link).await;
    assert_eq!(response.status(), 200);
    let early = setup.verify(&response.text().await.unwrap(), &client_id);
    let (late_id, late_link) = setup.create(&http).await;
    let kek_path = setup.dir.path().join("data/verifier/kek");
    let kek = std::fs::read(&kek_path).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kek_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key encryption key is private");
    }
    // Killed, not stopped: nothing gets a chance to flush.
    let killed = Command::new("kill")
        .args(["-KILL", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    drop(server);

    let server = setup.start("");
    assert_eq!(std::fs::read(&kek_path).unwrap(), kek, "kept, not replaced");
    let answer = setup.post_response(&http, setup.answer(&early)).await;
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    assert_eq!(setup.result(&http, &id).await["status"], "success");

    let (response, client_id) = setup.fetch(&http, &late_link).await;
    assert_eq!(response.status(), 200);
    let late = setup.verify(&response.text().await.unwrap(), &client_id);
    let answer = setup.post_response(&http, setup.answer(&late)).await;
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    assert_eq!(setup.result(&http, &late_id).await["status"], "success");
    drop(server);
}

/// A transaction whose sealed key cannot be opened (the key encryption key was changed
/// between creation and answer) is a 400 `transaction_unusable` for that transaction,
/// never a 500, and stays pending; new transactions work.
#[tokio::test(flavor = "multi_thread")]
async fn issue10_rejects_transaction_sealed_under_another_key_with_400() {
    let setup = Setup::new();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let server = setup.start("");
    let (id, link) = setup.create(&http).await;
    let (response, client_id) = setup.fetch(&http, &link).await;
    assert_eq!(response.status(), 200);
    let request = setup.verify(&response.text().await.unwrap(), &client_id);
    let (other_id, other_link) = setup.create(&http).await;
    drop(server);

    let mut key = [0u8; 32];
    aws_lc_rs::rand::fill(&mut key).unwrap();
    let changed = format!("key_encryption_key = \"{}\"\n", jose::b64::encode(key));
    let server = setup.start(&changed);
    let answer = setup.post_response(&http, setup.answer(&request)).await;
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"], "transaction_unusable", "{body}");
    let (response, _) = setup.fetch(&http, &other_link).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "transaction_unusable", "{body}");
    assert_eq!(setup.result(&http, &id).await["status"], "pending");
    assert_eq!(setup.result(&http, &other_id).await["status"], "pending");

    // New transactions are sealed under the configured key and work.
    let (fresh_id, fresh_link) = setup.create(&http).await;
    let (response, client_id) = setup.fetch(&http, &fresh_link).await;
    assert_eq!(response.status(), 200);
    let fresh = setup.verify(&response.text().await.unwrap(), &client_id);
    let answer = setup.post_response(&http, setup.answer(&fresh)).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(setup.result(&http, &fresh_id).await["status"], "success");
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
