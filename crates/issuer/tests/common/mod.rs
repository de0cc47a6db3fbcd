//! Test harness: an issuer state over a fresh database (SQLite or the PostgreSQL test
//! server), a single-use store (in-process, Redis or database), a hand-moved clock, a
//! trusted attester key, and a wallet that builds attestations, PoPs and proofs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    unreachable_pub
)]

use axum::Router;
use axum::body::Body;
use axum::body::Bytes;
use axum::http::{HeaderMap, Request, StatusCode, header};
use client_attestation::{AttestationClaims, Environment, EvidenceType, KeyProtection, PopClaims};
use issuer::config::{IssuerConfig, Section};
use issuer::{Dependencies, KeyStore, ManualClock, State, SystemRandom, TrustSources};
use jose::{Algorithm, Clock, Signer, SoftwareSigner};
use oid4vci::ProofClaims;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use store::testing::TestDatabase;
use store::{Backend, CacheConfig, Caches, Database};
use tower::ServiceExt;

pub const ISSUER: &str = "https://issuer.example";
pub const ADMIN: &str = "test-admin-token-0123456789";
pub const CLIENT_ID: &str = "https://wallet.example/client";
pub const CONFIG_ID: &str = issuer::demo::CLASSROOM_PASS_ID;
pub const FORM: &str = "application/x-www-form-urlencoded";

/// Which single-use backend.
#[derive(Clone, Debug)]
pub enum Cache {
    Memory,
    Redis(String),
    Database,
}

/// How to build a harness.
pub struct Options {
    pub backend: Backend,
    pub cache: Cache,
    pub config: String,
    pub identifier: String,
    /// Reuse this database (a second replica, or a restart).
    pub database: Option<Arc<TestDatabase>>,
    /// Reuse this attester and KEK (a second replica).
    pub attester: Option<SoftwareSigner>,
    pub kek: Option<[u8; 32]>,
    pub clock: Option<ManualClock>,
    /// Trust from this key file instead of the harness attester's key.
    pub trust_file: Option<std::path::PathBuf>,
    /// X.509 trust anchors (PEM file) besides the harness attester's key.
    pub anchors_file: Option<std::path::PathBuf>,
    /// Where signing keys live (default: software keys sealed under the KEK).
    pub key_store: Option<KeyStore>,
    /// Third-party wallet providers (with `[[attestation.wallet_providers]]` in `config`).
    pub wallet_providers: Vec<issuer::ProviderSource>,
}

impl Options {
    pub fn new(backend: Backend) -> Self {
        Options {
            backend,
            cache: Cache::Memory,
            config: String::new(),
            identifier: ISSUER.into(),
            database: None,
            attester: None,
            kek: None,
            clock: None,
            trust_file: None,
            anchors_file: None,
            key_store: None,
            wallet_providers: Vec::new(),
        }
    }
}

pub struct Harness {
    pub state: Arc<State>,
    pub app: Router,
    pub clock: ManualClock,
    pub attester: SoftwareSigner,
    pub database: Arc<TestDatabase>,
    pub db: Database,
    pub kek: [u8; 32],
    pub identifier: String,
}

pub fn typed_config(extra: &str) -> IssuerConfig {
    let text = format!("admin_token = \"{ADMIN}\"\n{extra}");
    let mut c = toml::from_str::<IssuerConfig>(&text)
        .unwrap()
        .validated()
        .unwrap();
    issuer::demo::add_classroom_pass(&mut c);
    c
}

pub async fn harness(backend: Backend) -> Harness {
    Harness::start(Options::new(backend)).await
}

impl Harness {
    pub async fn start(o: Options) -> Harness {
        let database = match o.database {
            Some(d) => d,
            None => Arc::new(TestDatabase::new(o.backend).await.unwrap()),
        };
        let db = database.connect().await.unwrap();
        let clock = o
            .clock
            .unwrap_or_else(|| ManualClock::new(jose::SystemClock.now()));
        let shared_clock: Arc<dyn Clock> = Arc::new(clock.clone());
        let cache = match &o.cache {
            Cache::Memory => CacheConfig::Memory(store::MemoryLimits::default()),
            Cache::Redis(prefix) => CacheConfig::Redis {
                url: store::testing::redis_url().unwrap().into(),
                prefix: prefix.clone(),
            },
            Cache::Database => CacheConfig::Database,
        };
        let caches = Caches::open(&cache, Some(&db), Arc::clone(&shared_clock))
            .await
            .unwrap();
        let attester = o.attester.unwrap_or_else(|| {
            SoftwareSigner::generate(Algorithm::Es256)
                .unwrap()
                .with_kid("attester-1")
        });
        let kek_bytes = o.kek.unwrap_or_else(|| {
            let mut k = [0u8; 32];
            aws_lc_rs::rand::fill(&mut k).unwrap();
            k
        });
        let kek = Arc::new(keys::Kek::from_bytes(&kek_bytes).unwrap());
        let state = State::new(Dependencies {
            config: typed_config(&o.config),
            identifier: o.identifier.clone(),
            database: db.clone(),
            single_use: caches.single_use,
            key_store: o
                .key_store
                .unwrap_or_else(|| KeyStore::Software(Arc::clone(&kek))),
            kek: Some(kek),
            trust: match o.trust_file {
                Some(path) => TrustSources {
                    jwks_file: Some(path),
                    wallet_providers: o.wallet_providers,
                    ..TrustSources::default()
                },
                None => TrustSources {
                    keys: vec![attester.public_jwk().clone()],
                    anchors_file: o.anchors_file,
                    wallet_providers: o.wallet_providers,
                    ..TrustSources::default()
                },
            },
            clock: shared_clock,
            random: Arc::new(SystemRandom),
        })
        .await
        .unwrap();
        let app = issuer::router(Arc::clone(&state));
        Harness {
            state,
            app,
            clock,
            attester,
            database,
            db,
            kek: kek_bytes,
            identifier: o.identifier,
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let reason = response.extensions().get::<issuer::Reason>().copied();
        let body = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        Reply {
            status,
            headers,
            body,
            reason,
        }
    }

    pub fn wallet(&self) -> Wallet {
        Wallet::new(&self.attester, self.now(), &self.identifier)
    }

    /// Creates an offer through the admin API.
    pub async fn offer(&self, body: Value) -> Value {
        let r = self
            .send(
                Request::post("/admin/offers")
                    .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()
    }

    /// A plain classroom pass offer; returns its pre-authorized code.
    pub async fn simple_offer(&self) -> String {
        let o = self
            .offer(json!({
                "credential_configuration_ids": [CONFIG_ID],
                "claims": issuer::demo::example_claims(),
            }))
            .await;
        code_of(&o)
    }

    pub async fn token(&self, wallet: &Wallet, code: &str, tx_code: Option<&str>) -> Reply {
        let mut form = format!(
            "grant_type={}&pre-authorized_code={}",
            enc(oid4vci::PRE_AUTHORIZED_CODE_GRANT),
            enc(code)
        );
        if let Some(t) = tx_code {
            form.push_str(&format!("&tx_code={}", enc(t)));
        }
        self.send(
            wallet
                .authed(Request::post("/token"), self.now())
                .header(header::CONTENT_TYPE, FORM)
                .body(Body::from(form))
                .unwrap(),
        )
        .await
    }

    pub async fn access_token(&self, wallet: &Wallet, code: &str) -> String {
        let r = self.token(wallet, code, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn nonce(&self) -> String {
        let r = self
            .send(Request::post("/nonce").body(Body::empty()).unwrap())
            .await;
        assert_eq!(r.status, StatusCode::OK);
        r.json()["c_nonce"].as_str().unwrap().to_owned()
    }

    /// A credential request with the given body, bound headers and bearer token.
    pub async fn credential(&self, wallet: &Wallet, access_token: &str, body: Value) -> Reply {
        self.send(
            wallet
                .authed(Request::post("/credential"), self.now())
                .header(header::AUTHORIZATION, format!("Bearer {access_token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    /// The standard request for one credential with a fresh nonce.
    pub async fn request_body(&self, wallet: &Wallet) -> Value {
        let nonce = self.nonce().await;
        json!({
            "credential_configuration_id": CONFIG_ID,
            "proofs": {"jwt": [wallet.proof(&self.identifier, self.now(), Some(&nonce))]}
        })
    }

    /// Offer → token → nonce → credential; returns the compact SD-JWT and the token.
    pub async fn issue_one(&self, wallet: &Wallet) -> (String, String, Value) {
        let code = self.simple_offer().await;
        let at = self.access_token(wallet, &code).await;
        let body = self.request_body(wallet).await;
        let r = self.credential(wallet, &at, body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let json = r.json();
        let credential = json["credentials"][0]["credential"]
            .as_str()
            .unwrap()
            .to_owned();
        (credential, at, json)
    }

    pub async fn admin_get(&self, path: &str) -> Reply {
        self.send(
            Request::get(path)
                .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> Reply {
        self.send(
            Request::post(path)
                .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    /// Counts rows of a table (state-change assertions).
    pub async fn count(&self, sql: &'static str) -> i64 {
        use sqlx::Row;
        sqlx::query(sql)
            .fetch_one(self.db.pool())
            .await
            .unwrap()
            .try_get::<i64, _>(0)
            .unwrap()
    }

    pub async fn issued(&self) -> i64 {
        self.count("SELECT CAST(COUNT(*) AS BIGINT) FROM issuer_credentials")
            .await
    }

    pub async fn redeemed(&self) -> i64 {
        self.count(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM issuer_offers WHERE redeemed_at IS NOT NULL",
        )
        .await
    }

    pub async fn tx_attempts(&self) -> i64 {
        self.count("SELECT CAST(COALESCE(SUM(tx_attempts), 0) AS BIGINT) FROM issuer_offers")
            .await
    }
}

pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn code_of(offer: &Value) -> String {
    let uri = offer["offer_uri"].as_str().unwrap();
    let parsed = oid4vci::OfferUri::parse(
        uri,
        oid4vci::OfferUriOptions {
            allow_http_loopback: true,
        },
    )
    .unwrap();
    match parsed.offer {
        oid4vci::OfferReference::ByValue(o) => o.pre_authorized_code.unwrap().pre_authorized_code,
        oid4vci::OfferReference::ByReference(_) => panic!("offer by reference: fetch it first"),
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Which refusal it was (a response extension: never on the wire).
    pub reason: Option<issuer::Reason>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.text()))
    }
    /// The protocol error code of an error response.
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status.as_u16(), self.error().as_str()),
            (status, code),
            "{}",
            self.text()
        );
        assert_eq!(self.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    }
    /// The error code and the refusal reason behind it.
    pub fn assert_refused(&self, status: u16, code: &str, reason: issuer::Reason) {
        self.assert_error(status, code);
        assert_eq!(self.reason, Some(reason), "{}", self.text());
    }
}

/// A wallet instance: its client instance key with an attestation, and a holder key.
pub struct Wallet {
    pub instance: SoftwareSigner,
    pub holder: SoftwareSigner,
    pub attestation: String,
    pub aud: String,
    pub challenge: Option<String>,
}

pub fn environment(evidence: EvidenceType, protection: KeyProtection) -> Environment {
    Environment {
        evidence,
        key_protection: protection,
        namespace: Some("cvm-wallets".into()),
        service_account: Some("wallet-sa".into()),
        extra: Map::new(),
    }
}

pub fn attestation_for(
    attester: &SoftwareSigner,
    instance: &SoftwareSigner,
    now: i64,
    env: Option<Environment>,
) -> String {
    AttestationClaims {
        issuer: Some("https://attester.example".into()),
        client_id: CLIENT_ID.into(),
        iat: now - 5,
        exp: now + 3600,
        cnf: instance.public_jwk().clone(),
        jti: None,
        environment: env,
        extra: Map::new(),
    }
    .sign(attester, None)
    .unwrap()
}

impl Wallet {
    pub fn new(attester: &SoftwareSigner, now: i64, aud: &str) -> Wallet {
        let instance = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let holder = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let attestation = attestation_for(
            attester,
            &instance,
            now,
            Some(environment(EvidenceType::Kubernetes, KeyProtection::Pkcs11)),
        );
        Wallet {
            instance,
            holder,
            attestation,
            aud: aud.to_owned(),
            challenge: None,
        }
    }

    pub fn pop(&self, now: i64) -> String {
        let mut jti = [0u8; 16];
        aws_lc_rs::rand::fill(&mut jti).unwrap();
        PopClaims {
            aud: self.aud.clone(),
            jti: jose::b64::encode(jti),
            iat: now,
            challenge: self.challenge.clone(),
            legacy: Some((CLIENT_ID.into(), now + 300)),
        }
        .sign(&self.instance)
        .unwrap()
    }

    /// Adds the attestation and a fresh PoP.
    pub fn authed(
        &self,
        builder: axum::http::request::Builder,
        now: i64,
    ) -> axum::http::request::Builder {
        builder
            .header(client_attestation::ATTESTATION_HEADER, &self.attestation)
            .header(client_attestation::POP_HEADER, self.pop(now))
    }

    pub fn proof(&self, aud: &str, now: i64, nonce: Option<&str>) -> String {
        ProofClaims {
            aud: aud.into(),
            iat: now,
            nonce: nonce.map(str::to_owned),
            iss: None,
        }
        .sign(&self.holder)
        .unwrap()
    }

    pub fn proof_with(
        &self,
        holder: &dyn Signer,
        aud: &str,
        now: i64,
        nonce: Option<&str>,
    ) -> String {
        ProofClaims {
            aud: aud.into(),
            iat: now,
            nonce: nonce.map(str::to_owned),
            iss: None,
        }
        .sign(holder)
        .unwrap()
    }
}

/// Generates `#[tokio::test]` variants of `async fn name(backend: Backend)` for SQLite and
/// PostgreSQL (`TEST_POSTGRES_URL`; the PostgreSQL variant fails when it is unset).
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(store::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(store::Backend::Postgres).await
                }
            )*
        }
    };
}

/// A copy of a software signer (the same key), for a second replica.
pub fn clone_signer(s: &SoftwareSigner) -> SoftwareSigner {
    let copy = SoftwareSigner::from_private_jwk(&s.to_private_jwk().unwrap()).unwrap();
    match s.key_id() {
        Some(kid) => copy.with_kid(kid),
        None => copy,
    }
}

/// An issuer served over HTTP on 127.0.0.1, nested under `/issuer` with its well-known
/// documents at the root (as under `--mode=all`).
pub struct Served {
    pub harness: Harness,
    pub base: String,
    pub origin: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn serve(backend: Backend, config: &str) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let base = format!("{origin}/issuer");
    let mut o = Options::new(backend);
    o.identifier = base.clone();
    o.config = config.to_owned();
    let harness = Harness::start(o).await;
    let mut role = service::RoleService::new(
        "issuer",
        issuer::router(Arc::clone(&harness.state)),
        issuer::maintenance::IssuerReadiness(Arc::clone(&harness.state)),
    );
    for (path, route) in issuer::root_routes(&harness.state) {
        role = role.with_root_route(path, route);
    }
    let app = service::AppBuilder::new(service::HttpSettings::default())
        .mount(service::Mount::Nested)
        .role(role)
        .build()
        .unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Served {
        harness,
        base,
        origin,
        task,
    }
}

/// Verifies an issued credential against the published keys (JWT VC Issuer Metadata).
pub async fn verify_with_published_keys(h: &Harness, credential: &str) -> Value {
    let r = h
        .send(
            Request::get("/.well-known/jwt-vc-issuer")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert_eq!(doc["issuer"], h.identifier.as_str());
    let header = jose::CompactJws::parse(credential.split('~').next().unwrap()).unwrap();
    let kid = header.header().kid().unwrap().to_owned();
    let jwk = doc["jwks"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("kid {kid} not published: {doc}"));
    let key = jose::VerifyingKey::from_jwk(&jose::PublicJwk::from_value(jwk).unwrap()).unwrap();
    let verifier = sd_jwt::vc::VcVerifier::new(
        sd_jwt::resolve::KeyResolver::new().with_key(key),
        &[Algorithm::Es256],
    );
    let verified = verifier
        .verify(
            credential,
            sd_jwt::KeyBinding::Forbidden,
            &jose::FixedClock(h.now()),
        )
        .unwrap();
    serde_json::Value::Object(verified.claims().clone())
}

/// `POST /token` for `code` with the wallet's attestation and the given PoP.
pub fn token_request(w: &Wallet, pop: &str, code: &str) -> Request<Body> {
    Request::post("/token")
        .header(client_attestation::ATTESTATION_HEADER, &w.attestation)
        .header(client_attestation::POP_HEADER, pop)
        .header(header::CONTENT_TYPE, FORM)
        .body(Body::from(format!(
            "grant_type={}&pre-authorized_code={}",
            enc(oid4vci::PRE_AUTHORIZED_CODE_GRANT),
            enc(code)
        )))
        .unwrap()
}

/// Attestation claims for `instance` as the harness attester signs them.
pub fn attestation_claims(
    h: &Harness,
    instance: &SoftwareSigner,
    issuer: Option<&str>,
    env: Environment,
) -> AttestationClaims {
    AttestationClaims {
        issuer: issuer.map(str::to_owned),
        client_id: CLIENT_ID.into(),
        iat: h.now() - 5,
        exp: h.now() + 3600,
        cnf: instance.public_jwk().clone(),
        jti: None,
        environment: Some(env),
        extra: Map::new(),
    }
}
