//! Test harness: Symbolon's attester, issuer and verifier built from their crates'
//! state constructors and served together on one loopback listener
//! (`http://localhost:<port>/{attester,issuer,verifier}`, as `--mode=all` mounts them),
//! and a wallet core pointed at them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    unreachable_pub
)]

pub mod scripted;

use std::sync::Arc;

use client_attestation::{EvidenceType, KeyProtection};
use http_client::{AddressPolicy, GuardedClient, HttpSettings};
use issuer::config::Section as _;
use jose::{Algorithm, Clock, Signer, SoftwareSigner, TrustAnchors};
use serde_json::{Value, json};
use store::{CacheConfig, Caches, Database};
use wallet::attestation::{AttestationClient, ClientSettings, EvidenceSource};
use wallet::{Settings, Wallet};

pub const ADMIN: &str = "wallet-test-admin-token-0123456789";
pub const RP: &str = "wallet-test-rp-token";

pub struct Platform {
    pub base: String,
    pub issuer: String,
    pub verifier_cert: Vec<u8>,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

pub fn guarded() -> GuardedClient {
    GuardedClient::new(HttpSettings {
        policy: AddressPolicy::AllowLoopback,
        ..HttpSettings::default()
    })
    .unwrap()
}

async fn database(dir: &std::path::Path, name: &str) -> Database {
    Database::connect(&Database::sqlite_url(&dir.join(name)).unwrap())
        .await
        .unwrap()
}

/// Starts the platform. `issuer_toml` is added to the issuer's configuration.
pub async fn platform(issuer_toml: &str) -> Platform {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let clock: Arc<dyn Clock> = Arc::new(jose::SystemClock);

    // Attester: a software A-Key, dev evidence accepted.
    let adb = database(dir.path(), "attester.db").await;
    let acaches = Caches::open(&CacheConfig::default(), Some(&adb), Arc::clone(&clock))
        .await
        .unwrap();
    let a_key = SoftwareSigner::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("a-key-1");
    let a_public = a_key.public_jwk().clone();
    let mut settings = attester::Settings::new(format!("{base}/attester"));
    settings.dev_evidence = true;
    let attester_state = Arc::new(attester::State::new(
        settings,
        attester::Dependencies {
            clock: Arc::clone(&clock),
            random: Arc::new(jose::random::SystemRandom),
            akey: attester::AKey::new(Arc::new(a_key), Vec::new()).unwrap(),
            audit: Arc::new(attester::audit::sql::SqlAudit::new(adb).await.unwrap()),
            single_use: acaches.single_use,
            rate_limiter: acaches.rate_limiter,
            kubernetes: None,
        },
    ));

    // Issuer: the demo classroom pass, trusting the attester's key.
    let idb = database(dir.path(), "issuer.db").await;
    let icaches = Caches::open(&CacheConfig::default(), Some(&idb), Arc::clone(&clock))
        .await
        .unwrap();
    let mut config: issuer::config::IssuerConfig =
        toml::from_str(&format!("admin_token = \"{ADMIN}\"\n{issuer_toml}")).unwrap();
    config.validate().unwrap();
    issuer::demo::add_classroom_pass(&mut config);
    config.attestation.evidence.push(EvidenceType::Dev);
    config
        .attestation
        .key_protection
        .push(KeyProtection::Software);
    let mut kek = [0u8; 32];
    aws_lc_rs::rand::fill(&mut kek).unwrap();
    let kek = Arc::new(keys::Kek::from_bytes(&kek).unwrap());
    let issuer_id = format!("{base}/issuer");
    let issuer_state = issuer::State::new(issuer::Dependencies {
        config,
        identifier: issuer_id.clone(),
        database: idb,
        single_use: icaches.single_use,
        key_store: issuer::KeyStore::Software(Arc::clone(&kek)),
        kek: Some(kek),
        trust: issuer::TrustSources {
            keys: vec![a_public],
            ..issuer::TrustSources::default()
        },
        clock: Arc::clone(&clock),
        random: Arc::new(issuer::SystemRandom),
    })
    .await
    .unwrap();

    // Verifier: the classroom policy, trusting the issuer through its JWKS.
    let mut vconfig: verifier::config::VerifierConfig = serde_json::from_value(serde_json::json!({
        "rp_token": RP,
        "status_list": {"allow_loopback": true},
    }))
    .unwrap();
    vconfig.validate().unwrap();
    verifier::demo::add_classroom_policy(
        &mut vconfig,
        "school",
        verifier::config::IssuerConfig {
            iss: Some(issuer_id.clone()),
            jwks: None,
            jwks_file: None,
            jwks_uri: Some(format!("{issuer_id}/jwks")),
            x509_anchors: None,
            metadata: false,
        },
        None,
    )
    .unwrap();
    let cert =
        verifier::keyfiles::generate_self_signed(&["localhost".into()], clock.now(), 30).unwrap();
    let vdb = database(dir.path(), "verifier.db").await;
    let vcaches = Caches::open(&CacheConfig::default(), Some(&vdb), Arc::clone(&clock))
        .await
        .unwrap();
    let verifier_state = Arc::new(
        verifier::State::new(
            vconfig,
            &format!("{base}/verifier"),
            true,
            verifier::Dependencies {
                clock: Arc::clone(&clock),
                random: Arc::new(jose::random::SystemRandom),
                http: guarded(),
                store: Arc::new(verifier::sql::SqlTransactions::new(&vdb).await.unwrap()),
                request_signer: Arc::new(cert.signer),
                certificate_chain: vec![cert.der.clone()],
                session_signer: Arc::new(
                    SoftwareSigner::generate(Algorithm::Es256)
                        .unwrap()
                        .with_kid("session-1"),
                ),
                sealer: verifier::seal::Sealer::generate(&jose::random::SystemRandom).unwrap(),
                single_use: vcaches.single_use,
            },
        )
        .await
        .unwrap(),
    );

    let mut app = axum::Router::new()
        .nest("/attester", attester::router(attester_state))
        .nest("/issuer", issuer::router(Arc::clone(&issuer_state)))
        .nest("/verifier", verifier::router(verifier_state));
    for (path, route) in issuer::root_routes(&issuer_state) {
        app = app.route(&path, route);
    }
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Platform {
        base,
        issuer: issuer_id,
        verifier_cert: cert.der,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        _dir: dir,
    }
}

impl Platform {
    pub fn settings(&self) -> Settings {
        let mut s = Settings::new(TrustAnchors::from_der([self.verifier_cert.clone()]).unwrap());
        s.allow_http_loopback = true;
        s
    }

    pub fn wallet_with(&self, settings: Settings) -> Wallet {
        let http = guarded();
        let clock: Arc<dyn Clock> = Arc::new(jose::SystemClock);
        let attestation = AttestationClient::new(
            ClientSettings::new(
                format!("{}/attester", self.base),
                "symbolon-wallet-test",
                EvidenceSource::Dev,
            ),
            http.clone(),
            Arc::clone(&clock),
            Arc::new(jose::random::SystemRandom),
        )
        .unwrap();
        Wallet::new(
            settings,
            http,
            Arc::new(attestation),
            clock,
            Arc::new(jose::random::SystemRandom),
        )
    }

    pub fn wallet(&self) -> Wallet {
        self.wallet_with(self.settings())
    }

    /// Creates an offer through the admin API; returns the issuer's answer.
    pub async fn offer(&self, extra: Value) -> Value {
        let mut body = json!({
            "credential_configuration_ids": [issuer::demo::CLASSROOM_PASS_ID],
            "claims": issuer::demo::example_claims(),
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = self
            .http
            .post(format!("{}/admin/offers", self.issuer))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    /// Starts a verifier transaction; returns (id, link).
    pub async fn transaction(&self, params: Value) -> (String, String) {
        let r: Value = self
            .http
            .post(format!("{}/verifier/transactions", self.base))
            .bearer_auth(RP)
            .json(&params)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            r["transaction_id"].as_str().unwrap().to_owned(),
            r["authorization_request"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn result(&self, id: &str) -> Value {
        self.http
            .get(format!("{}/verifier/transactions/{id}", self.base))
            .bearer_auth(RP)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Revokes every credential bound to `holder`.
    pub async fn revoke(&self, holder: &dyn Signer) {
        let list: Value = self
            .http
            .get(format!("{}/admin/credentials", self.issuer))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let jkt = holder.public_jwk().thumbprint();
        let mut n = 0;
        for c in list["credentials"].as_array().unwrap() {
            if c["holder_key_thumbprint"] == jkt.as_str() {
                let r = self
                    .http
                    .post(format!(
                        "{}/admin/credentials/{}/status",
                        self.issuer,
                        c["id"].as_str().unwrap()
                    ))
                    .bearer_auth(ADMIN)
                    .json(&json!({"status": "INVALID"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                n += 1;
            }
        }
        assert!(n > 0, "no credential for this holder: {list}");
    }
}

/// A classroom pass from the platform's issuer, bound to `holder`.
pub async fn issue(p: &Platform, holder: &dyn Signer) -> wallet::HeldCredential {
    let w = p.wallet();
    let offer = p.offer(json!({})).await;
    let pending = w
        .resolve_offer(offer["offer_uri"].as_str().unwrap())
        .await
        .unwrap();
    let issued = w.accept(&pending, None, &[holder]).await.unwrap();
    issued.credentials[0].credential.clone()
}

pub fn holder() -> SoftwareSigner {
    SoftwareSigner::generate(Algorithm::Es256).unwrap()
}
