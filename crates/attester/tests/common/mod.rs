//! Test harness: an attester built on a temporary SQLite (or PostgreSQL) audit log, an
//! in-process challenge store, the TokenReview stand-in and an A-Key that is either inside
//! the SoftHSM2 test token or a software key; plus a Rust wallet that builds requests and
//! can break each rule one at a time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    unreachable_pub
)]

pub mod kube;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use attester::akey::AKey;
use attester::audit::AuditStore;
use attester::audit::sql::SqlAudit;
use attester::config::{RateLimit, ServiceAccountRef};
use attester::evidence::kubernetes::{ReviewSettings, TokenReviewer};
use attester::{AttesterReadiness, Dependencies, Settings, State};
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use client_attestation::proof::sign_challenge_response;
use jose::random::SystemRandom;
use jose::{Algorithm, PublicJwk, SignError, Signer, SoftwareSigner};
use keys::{KeyProtection, KeySigner};
use serde_json::{Value, json};
use service::http::AddressPolicy;
use store::{Backend, Database, MemoryLimits, MemoryStore};
use tower::ServiceExt;

pub use kube::KubeStandIn;

pub const NOW: i64 = 1_800_000_000;
pub const IDENTIFIER: &str = "https://attester.example";
pub const ADMIN: &str = "admin-token-for-tests";
pub const WALLET_NS: &str = "cvm-wallets";
pub const WALLET_SA: &str = "wallet-sa";

/// A clock the tests move.
#[derive(Debug)]
pub struct TestClock(pub AtomicI64);

impl jose::Clock for TestClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl TestClock {
    pub fn at(t: i64) -> Arc<TestClock> {
        Arc::new(TestClock(AtomicI64::new(t)))
    }
    pub fn set(&self, t: i64) {
        self.0.store(t, Ordering::SeqCst);
    }
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

/// A software A-Key that counts its signatures (to prove nothing was signed).
pub struct CountingSigner {
    pub inner: SoftwareSigner,
    pub count: Arc<AtomicUsize>,
}

impl Signer for CountingSigner {
    fn algorithm(&self) -> Algorithm {
        self.inner.algorithm()
    }
    fn public_jwk(&self) -> &PublicJwk {
        self.inner.public_jwk()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.inner.sign(message)
    }
}

impl KeySigner for CountingSigner {
    fn protection(&self) -> KeyProtection {
        KeyProtection::Software
    }
}

/// A software key with `kid` = thumbprint.
pub fn software_key() -> SoftwareSigner {
    let s = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let kid = s.public_jwk().thumbprint();
    s.with_kid(kid)
}

/// A P-256 key pair made inside the SoftHSM2 test token, destroyed on drop. Holds the
/// cross-process token lock for its whole life.
pub struct HsmKey {
    pub token: keys::pkcs11::Pkcs11Token,
    pub label: String,
    pub signer: keys::pkcs11::Pkcs11Signer,
    _lock: keys::testing::TokenLock,
}

impl Drop for HsmKey {
    fn drop(&mut self) {
        let _ = self.token.destroy_key(&self.label);
    }
}

impl HsmKey {
    pub fn new(prefix: &str) -> HsmKey {
        let lock = keys::testing::lock_token().unwrap();
        let t = keys::testing::test_token().unwrap();
        let token =
            keys::pkcs11::Pkcs11Token::open_with_pin(&t.module, &t.label, t.pin, 4).unwrap();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let label = format!("{prefix}-{}-{nanos}", std::process::id());
        let signer = token.generate_key(&label).unwrap();
        HsmKey {
            token,
            label,
            signer,
            _lock: lock,
        }
    }
}

/// Which A-Key.
pub enum KeyChoice {
    Software,
    Counting(Arc<AtomicUsize>),
    Hsm(String),
}

/// Which audit store.
pub enum AuditChoice {
    Sqlite,
    Postgres,
}

pub struct Options {
    pub key: KeyChoice,
    pub audit: AuditChoice,
    pub dev: bool,
    pub kube: bool,
    pub allowed: Vec<&'static str>,
    pub allowed_ips: Vec<&'static str>,
    pub rate: u32,
    pub attestation_ttl: Duration,
    pub certificate: bool,
    /// A self-signed certificate for the A-Key, signed by it (`symbolon attester gen-cert`),
    /// valid around the real time, instead of a CA chain.
    pub self_signed: bool,
    /// Challenges and rate limits in this Redis instead of in process.
    pub redis_url: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            key: KeyChoice::Software,
            audit: AuditChoice::Sqlite,
            dev: false,
            kube: true,
            allowed: vec!["cvm-wallets:wallet-sa"],
            allowed_ips: Vec::new(),
            rate: 1000,
            attestation_ttl: Duration::from_secs(3600),
            certificate: false,
            self_signed: false,
            redis_url: None,
        }
    }
}

pub struct Harness {
    pub state: Arc<State>,
    pub router: Router,
    pub clock: Arc<TestClock>,
    pub kube: Option<KubeStandIn>,
    pub db: Database,
    pub audit_store: Arc<SqlAudit>,
    pub hsm: Option<HsmKey>,
    pub software: Option<SoftwareSigner>,
    pub akey_jwk: PublicJwk,
    pub db_url: String,
    _db: store::testing::TestDatabase,
}

/// A response read in full.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
    pub text: String,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.json["error"].as_str().unwrap_or("")
    }
}

/// The A-Key's public point as rcgen sees a subject key.
struct Subject(Vec<u8>);

impl rcgen::PublicKeyData for Subject {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

/// A CA and a certificate for `jwk`'s key issued by it: (leaf DER, CA DER).
pub fn certificate_for(jwk: &PublicJwk) -> (Vec<u8>, Vec<u8>) {
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "attester test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let mut params = rcgen::CertificateParams::new(vec!["attester.example".to_owned()]).unwrap();
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    let leaf = params
        .signed_by(&Subject(jwk.sec1_point().unwrap()), &issuer)
        .unwrap();
    (leaf.der().to_vec(), ca.der().to_vec())
}

impl Harness {
    pub async fn new(opts: Options) -> Harness {
        let clock = TestClock::at(NOW);
        let test_db = match opts.audit {
            AuditChoice::Sqlite => store::testing::TestDatabase::new(Backend::Sqlite)
                .await
                .unwrap(),
            AuditChoice::Postgres => store::testing::TestDatabase::new(Backend::Postgres)
                .await
                .unwrap(),
        };
        let db = test_db.connect().await.unwrap();
        let audit_store = Arc::new(SqlAudit::new(db.clone()).await.unwrap());
        let mut hsm = None;
        let mut software = None;
        let signer: Arc<dyn KeySigner> = match opts.key {
            KeyChoice::Software => {
                let s = software_key();
                software =
                    Some(SoftwareSigner::from_private_jwk(&s.to_private_jwk().unwrap()).unwrap());
                Arc::new(s)
            }
            KeyChoice::Counting(count) => Arc::new(CountingSigner {
                inner: software_key(),
                count,
            }),
            KeyChoice::Hsm(prefix) => {
                let k = HsmKey::new(&prefix);
                let signer = Arc::new(k.signer.clone());
                hsm = Some(k);
                signer
            }
        };
        let akey_jwk = signer.public_jwk().clone();
        let chain = if opts.certificate {
            let (leaf, ca) = certificate_for(&akey_jwk);
            vec![leaf, ca]
        } else if opts.self_signed {
            let subject = attester::certificate::Subject {
                common_name: "Symbolon attester".into(),
                organization: None,
                dns: vec!["attester.example".into()],
            };
            let (der, _) = attester::certificate::self_signed(
                &*signer,
                &subject,
                jose::Clock::now(&jose::SystemClock),
                30,
            )
            .unwrap();
            vec![der]
        } else {
            Vec::new()
        };
        let akey = AKey::new(signer, chain).unwrap();
        let kube = if opts.kube {
            Some(KubeStandIn::start().await)
        } else {
            None
        };
        let reviewer = kube.as_ref().map(|k| {
            TokenReviewer::new(ReviewSettings {
                api_url: k.url.clone(),
                token_file: k.attester_token_file.clone(),
                ca: k.ca_der(),
                audience: IDENTIFIER.to_owned(),
                allowed: opts
                    .allowed
                    .iter()
                    .map(|a| ServiceAccountRef::parse(a).unwrap())
                    .collect(),
                timeout: Duration::from_secs(5),
                policy: AddressPolicy::AllowPrivate,
            })
            .unwrap()
        });
        let caches = match &opts.redis_url {
            Some(url) => store::Caches::from_backend(
                store::RedisStore::connect(url, "attester-test:")
                    .await
                    .unwrap(),
            ),
            None => store::Caches::from_backend(MemoryStore::new(
                MemoryLimits::default(),
                clock.clone(),
            )),
        };
        let mut settings = Settings::new(IDENTIFIER);
        settings.dev_evidence = opts.dev;
        settings.attestation_ttl = opts.attestation_ttl;
        settings.rate_limit = RateLimit {
            requests: opts.rate,
            window: Duration::from_secs(60),
        };
        settings.allowed_ips = opts
            .allowed_ips
            .iter()
            .map(|n| attester::config::parse_net(n).unwrap())
            .collect();
        settings.admin_token = Some(service::config::Secret::new(ADMIN.to_owned()));
        let state = Arc::new(State::new(
            settings,
            Dependencies {
                clock: clock.clone(),
                random: Arc::new(SystemRandom),
                akey,
                audit: audit_store.clone() as Arc<dyn AuditStore>,
                single_use: caches.single_use,
                rate_limiter: caches.rate_limiter,
                kubernetes: reviewer,
            },
        ));
        Harness {
            router: attester::router(Arc::clone(&state)),
            state,
            clock,
            kube,
            db,
            audit_store,
            hsm,
            software,
            akey_jwk,
            db_url: test_db.url.clone(),
            _db: test_db,
        }
    }

    pub fn readiness(&self) -> AttesterReadiness {
        AttesterReadiness(Arc::clone(&self.state))
    }

    pub fn kube(&self) -> &KubeStandIn {
        self.kube.as_ref().unwrap()
    }

    /// A token for the admitted wallet identity, bound to `pod`, for the attester's audience.
    pub fn wallet_token(&self, pod: &str) -> String {
        self.kube()
            .add_token(WALLET_NS, WALLET_SA, Some(pod), &[IDENTIFIER])
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        self.send_from(request, "10.1.2.3:40000").await
    }

    pub async fn send_from(&self, mut request: Request<Body>, peer: &str) -> Answer {
        let addr: SocketAddr = peer.parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(addr));
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            json,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    pub async fn admin_get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut r = Request::get(path);
        if let Some(t) = token {
            r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.send(r.body(Body::empty()).unwrap()).await
    }

    pub async fn challenge(&self) -> String {
        let a = self
            .send(Request::post("/v1/challenge").body(Body::empty()).unwrap())
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        assert_eq!(a.headers[header::CACHE_CONTROL], "no-store");
        a.json["attestation_challenge"].as_str().unwrap().to_owned()
    }

    pub async fn post_attestation(&self, body: &Value) -> Answer {
        self.post_attestation_from(body, "10.1.2.3:40000").await
    }

    pub async fn post_attestation_from(&self, body: &Value, peer: &str) -> Answer {
        let request = Request::post("/v1/attestations")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send_from(request, peer).await
    }

    /// A full, valid request: fresh challenge, proof by `ci`, the given evidence.
    pub async fn request(&self, ci: &SoftwareSigner, client_id: &str, evidence: Value) -> Value {
        let challenge = self.challenge().await;
        request_body(
            ci,
            client_id,
            &challenge,
            IDENTIFIER,
            self.clock_now(),
            evidence,
        )
    }

    pub fn clock_now(&self) -> i64 {
        jose::Clock::now(&*self.clock)
    }

    /// Audit records in the database.
    pub async fn audit_count(&self) -> i64 {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM attester_audit")
            .fetch_one(self.db.pool())
            .await
            .unwrap();
        n
    }

    /// Serves the router over loopback HTTP with peer addresses; returns the base URL.
    pub async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = self
            .router
            .clone()
            .into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        format!("http://{addr}")
    }
}

/// The body of an attestation request.
pub fn request_body(
    ci: &SoftwareSigner,
    client_id: &str,
    challenge: &str,
    audience: &str,
    iat: i64,
    evidence: Value,
) -> Value {
    let response = sign_challenge_response(ci, challenge, audience, client_id, iat).unwrap();
    json!({
        "client_id": client_id,
        "ci_jwk": ci.public_jwk().to_value(),
        "challenge_response": response,
        "evidence": evidence,
    })
}

pub fn kube_evidence(token: &str) -> Value {
    json!({"type": "kubernetes", "token": token})
}

pub fn ci_key() -> SoftwareSigner {
    SoftwareSigner::generate(Algorithm::Es256).unwrap()
}

/// Every JSON object member named `d` anywhere in `v` (private JWK material).
pub fn has_private_member(v: &Value) -> bool {
    match v {
        Value::Object(o) => o.contains_key("d") || o.values().any(has_private_member),
        Value::Array(a) => a.iter().any(has_private_member),
        _ => false,
    }
}
