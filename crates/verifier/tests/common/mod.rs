//! Test harness: an issuer with a key the tests control, a real status list served over
//! loopback HTTP, a verifier built on a temporary SQLite database, and a Rust wallet built
//! on `oid4vp` + `sd-jwt` with knobs to break every rule one at a time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    unreachable_pub
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use jose::jwe::{Enc, EncryptOptions};
use jose::random::SystemRandom;
use jose::{Algorithm, Curve, PrivateJwk, PublicJwk, Signer, SoftwareSigner, TrustAnchors};
use oid4vp::dcql::match_query;
use oid4vp::request::object::WalletPolicy;
use oid4vp::sd_jwt_vc::{holder_credential, present};
use oid4vp::{
    AuthorizationRequest, AuthorizationResponse, DirectPostBody, Invocation, Presentation,
    RequestUriPost, ResponseMode, VpToken,
};
use sd_jwt::{ClaimPath, Frame, Limits, SdJwt, SeededSalts};
use serde_json::{Map, Value, json};
use service::http::{AddressPolicy, GuardedClient, HttpSettings};
use status_list::{Bits, Status, StatusList, StatusListTokenBuilder};
use tower::ServiceExt;
use verifier::config::{Section, VerifierConfig};
use verifier::demo::{CLASSROOM_PASS_VCT, classroom_query};
use verifier::seal::Sealer;
use verifier::sql::SqlTransactions;
use verifier::{Dependencies, State};

pub const NOW: i64 = 1_800_000_000;
pub const ISS: &str = "https://issuer.example";
pub const BASE: &str = "https://verifier.example";
pub const RP_TOKEN: &str = "rp-secret-token";

/// A clock the tests move.
#[derive(Debug, Default)]
pub struct TestClock(pub AtomicI64);

impl jose::Clock for TestClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl TestClock {
    pub fn set(&self, t: i64) {
        self.0.store(t, Ordering::SeqCst);
    }
}

/// A self-signed certificate for `dns` and a signer holding its key.
pub fn certificate(dns: &str) -> (Vec<u8>, SoftwareSigner) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec![dns.to_owned()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2040, 1, 1);
    let cert = params.self_signed(&key).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &key.serialize_der()).unwrap();
    let d = pair.private_key().as_be_bytes().unwrap().as_ref().to_vec();
    let public = PublicJwk::from_ec_point(Curve::P256, pair.public_key().as_ref()).unwrap();
    let private = PrivateJwk::new(public, zeroize::Zeroizing::new(d)).unwrap();
    (
        cert.der().to_vec(),
        SoftwareSigner::from_private_jwk(&private).unwrap(),
    )
}

/// The issuer: its key and the status list it serves.
pub struct Issuer {
    pub signer: SoftwareSigner,
    pub iss: String,
    /// The time credentials and lists are issued around.
    pub now: i64,
}

impl Issuer {
    pub fn new(kid: &str) -> Self {
        Self::at(kid, NOW)
    }

    pub fn at(kid: &str, now: i64) -> Self {
        Issuer {
            signer: SoftwareSigner::generate(Algorithm::Es256)
                .unwrap()
                .with_kid(kid),
            iss: ISS.into(),
            now,
        }
    }

    pub fn jwks(&self) -> Value {
        json!({"keys": [self.signer.public_jwk().to_value()]})
    }

    /// Issues a classroom pass bound to `holder`, with `status` index `idx` at `list_uri`.
    pub fn classroom_pass(
        &self,
        holder: &PublicJwk,
        list_uri: Option<&str>,
        idx: usize,
        exp: i64,
        vct: &str,
    ) -> String {
        let mut claims = Map::new();
        claims.insert("iss".into(), self.iss.clone().into());
        claims.insert("vct".into(), vct.into());
        claims.insert("iat".into(), (self.now - 3600).into());
        claims.insert("exp".into(), exp.into());
        claims.insert("cnf".into(), json!({"jwk": holder.to_value()}));
        if let Some(uri) = list_uri {
            claims.insert(
                "status".into(),
                json!({"status_list": {"idx": idx, "uri": uri}}),
            );
        }
        claims.insert("role".into(), "student".into());
        claims.insert("course".into(), "Immersive Physics 101".into());
        claims.insert("given_name".into(), "Erika".into());
        let frame = Frame::new()
            .with(ClaimPath::claim("role"))
            .with(ClaimPath::claim("course"))
            .with(ClaimPath::claim("given_name"));
        sd_jwt::vc::issue(claims, &frame, &self.signer, &SeededSalts::new(7), None)
            .unwrap()
            .as_str()
            .to_owned()
    }

    /// A status list token for `uri` where index 1 is revoked and 2 suspended.
    pub fn status_list_token(&self, uri: &str) -> String {
        let mut list = StatusList::new(Bits::Two, 16).unwrap();
        list.set_status(1, Status::Invalid).unwrap();
        list.set_status(2, Status::Suspended).unwrap();
        StatusListTokenBuilder::new(uri, list.encode().unwrap(), self.now - 60)
            .ttl(600)
            .kid(self.signer.key_id().unwrap())
            .sign(&self.signer)
            .unwrap()
    }
}

/// Serves `token` as a status list at `http://127.0.0.1:<port>/lists/1`; returns the URI
/// and a counter of fetches.
pub async fn serve_status_list(issuer: &Issuer) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!(
        "http://127.0.0.1:{}/lists/1",
        listener.local_addr().unwrap().port()
    );
    let token = issuer.status_list_token(&uri);
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let app = axum::Router::new().route(
        "/lists/1",
        axum::routing::get(move || {
            let token = token.clone();
            counter.fetch_add(1, Ordering::SeqCst);
            async move { ([(header::CONTENT_TYPE, status_list::MEDIA_TYPE)], token) }
        }),
    );
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (uri, hits)
}

/// Serves the JWT VC Issuer Metadata of an issuer at `http://127.0.0.1:<port>` (SD-JWT VC
/// §3: `/.well-known/jwt-vc-issuer`) with `issuer`'s keys; returns that identifier.
pub async fn serve_issuer_metadata(issuer: &Issuer) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let iss = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let metadata = json!({"issuer": iss, "jwks": issuer.jwks()}).to_string();
    let app = axum::Router::new().route(
        "/.well-known/jwt-vc-issuer",
        axum::routing::get(move || {
            let metadata = metadata.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], metadata) }
        }),
    );
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    iss
}

/// Where transactions and response codes live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backends {
    /// SQLite file and in-process cache (the embedded default).
    Embedded,
    /// PostgreSQL (`TEST_POSTGRES_URL`) and Redis (`TEST_REDIS_URL`), as replicas use them.
    Replicated,
}

/// What a test changes in the verifier's configuration.
pub struct Setup {
    pub backends: Backends,
    /// A request signing key to use instead of a generated software key (a self-signed
    /// certificate is made for it).
    pub request_signer: Option<Arc<dyn Signer>>,
    pub enc_values: Vec<String>,
    pub require_status: bool,
    pub kb_max_age: Option<String>,
    pub success_redirect: Option<String>,
    /// The trusted issuer is found through JWT VC Issuer Metadata served over plain http
    /// on loopback (its `iss` is `http://127.0.0.1:<port>`), not an inline JWKS.
    pub issuer_metadata: bool,
    /// The demo is on (its page is where the demo policy redirects to by default).
    pub demo: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            backends: Backends::Embedded,
            request_signer: None,
            enc_values: vec!["A128GCM".into(), "A256GCM".into()],
            require_status: false,
            kb_max_age: None,
            success_redirect: Some("https://rp.example/classroom".into()),
            issuer_metadata: false,
            demo: true,
        }
    }
}

/// Everything a test needs.
pub struct Harness {
    pub base: String,
    pub cert: Vec<u8>,
    pub state: Arc<State>,
    pub router: axum::Router,
    pub clock: Arc<TestClock>,
    pub issuer: Issuer,
    pub holder: SoftwareSigner,
    pub anchors: TrustAnchors,
    pub list_uri: String,
    pub list_hits: Arc<std::sync::atomic::AtomicUsize>,
    _db: tempfile::TempDir,
}

pub fn verifier_config(setup: &Setup, issuer: &Issuer) -> VerifierConfig {
    let school = if setup.issuer_metadata {
        json!({"iss": issuer.iss, "metadata": true})
    } else {
        json!({"iss": issuer.iss, "jwks": issuer.jwks()})
    };
    let mut policy = json!({
        "description": "classroom",
        "dcql_query": classroom_query(),
        "essential_claims": ["role", "course"],
        "trusted_issuers": ["school"],
        "require_status": setup.require_status,
    });
    if let Some(age) = &setup.kb_max_age {
        policy["kb_max_age"] = json!(age);
    }
    if let Some(redirect) = &setup.success_redirect {
        policy["success_redirect"] = json!(redirect);
    }
    let section = json!({
        "rp_token": RP_TOKEN,
        "enc_values": setup.enc_values,
        "issuers": {"school": school},
        "policies": {"immersive-classroom": policy},
        "default_policy": "immersive-classroom",
    });
    serde_json::from_value::<VerifierConfig>(section)
        .unwrap()
        .validated()
        .unwrap()
}

pub fn guarded_client() -> GuardedClient {
    GuardedClient::new(HttpSettings {
        policy: AddressPolicy::AllowLoopback,
        ..HttpSettings::default()
    })
    .unwrap()
}

pub async fn harness(setup: Setup) -> Harness {
    build(setup, BASE, "verifier.example", None).await
}

/// A verifier served over HTTP at `http://localhost:<port>` (its certificate names
/// `localhost`, so `x509_san_dns` works), with the real system clock.
pub async fn http_harness(setup: Setup) -> (Harness, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let h = build(setup, &base, "localhost", Some(listener)).await;
    (h, base)
}

async fn build(
    setup: Setup,
    base: &str,
    dns: &str,
    listener: Option<tokio::net::TcpListener>,
) -> Harness {
    let start = if listener.is_some() {
        use jose::Clock;
        jose::SystemClock.now()
    } else {
        NOW
    };
    let mut issuer = Issuer::at("issuer-1", start);
    if setup.issuer_metadata {
        issuer.iss = serve_issuer_metadata(&issuer).await;
    }
    let (list_uri, list_hits) = serve_status_list(&issuer).await;
    let config = verifier_config(&setup, &issuer);
    let clock = Arc::new(TestClock(AtomicI64::new(start)));
    let (cert, request_signer): (Vec<u8>, Arc<dyn Signer>) = match &setup.request_signer {
        None => {
            let (cert, signer) = certificate(dns);
            (cert, Arc::new(signer))
        }
        Some(signer) => {
            let (der, _) = verifier::keyfiles::self_signed_certificate(
                signer.as_ref(),
                &[dns.to_owned()],
                start,
                30,
            )
            .unwrap();
            (der, Arc::clone(signer))
        }
    };
    let anchors = TrustAnchors::from_der([cert.clone()]).unwrap();
    let cert_der = cert.clone();
    let db = tempfile::tempdir().unwrap();
    let (database, single_use): (store::Database, Arc<dyn store::SingleUse>) = match setup.backends
    {
        Backends::Embedded => (
            store::Database::connect(
                &store::Database::sqlite_url(&db.path().join("v.db")).unwrap(),
            )
            .await
            .unwrap(),
            Arc::new(store::MemoryStore::new(
                store::MemoryLimits::default(),
                clock.clone(),
            )),
        ),
        Backends::Replicated => {
            let pg = store::testing::TestDatabase::postgres().await.unwrap();
            let redis = store::testing::redis_url().unwrap();
            let prefix = store::testing::unique_name("verifier-test:").unwrap();
            (
                pg.connect().await.unwrap(),
                Arc::new(store::RedisStore::connect(&redis, &prefix).await.unwrap()),
            )
        }
    };
    let transactions = SqlTransactions::new(&database).await.unwrap();
    let deps = Dependencies {
        clock: clock.clone(),
        random: Arc::new(SystemRandom),
        http: guarded_client(),
        store: Arc::new(transactions),
        request_signer,
        certificate_chain: vec![cert],
        session_signer: Arc::new(
            SoftwareSigner::generate(Algorithm::Es256)
                .unwrap()
                .with_kid("session-1"),
        ),
        sealer: Sealer::generate(&SystemRandom).unwrap(),
        single_use,
    };
    let state = Arc::new(State::new(config, base, setup.demo, deps).await.unwrap());
    let router = verifier::router(Arc::clone(&state));
    if let Some(listener) = listener {
        let app = router.clone();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
    }
    Harness {
        base: base.to_owned(),
        cert: cert_der,
        state,
        router,
        clock,
        issuer,
        holder: SoftwareSigner::generate(Algorithm::Es256).unwrap(),
        anchors,
        list_uri,
        list_hits,
        _db: db,
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }
}

impl Harness {
    /// The verifier's clock.
    pub fn now(&self) -> i64 {
        self.clock.0.load(Ordering::SeqCst)
    }

    pub async fn call(&self, req: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec();
        Answer {
            status,
            content_type,
            body,
        }
    }

    pub async fn rp(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {RP_TOKEN}"));
        let body = match body {
            Some(v) => {
                b = b.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.call(b.body(body).unwrap()).await
    }

    pub async fn form(&self, path: &str, form: String) -> Answer {
        self.call(
            Request::builder()
                .method("POST")
                .uri(path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form))
                .unwrap(),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Request::builder().uri(path).body(Body::empty()).unwrap())
            .await
    }

    /// Starts a transaction; returns its id and authorization request link.
    pub async fn start(&self, body: Value) -> (String, String) {
        let a = self.rp("POST", "/transactions", Some(body)).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
        let v = a.json();
        (
            v["transaction_id"].as_str().unwrap().to_owned(),
            v["authorization_request"].as_str().unwrap().to_owned(),
        )
    }

    /// A valid classroom pass for the holder (status index 0: valid).
    pub fn pass(&self) -> String {
        self.issuer.classroom_pass(
            self.holder.public_jwk(),
            Some(&self.list_uri),
            0,
            self.issuer.now + 86_400,
            CLASSROOM_PASS_VCT,
        )
    }

    /// Resolves the authorization request as a wallet: by value, or fetching and
    /// verifying the request object (GET, or POST with `post`).
    pub async fn resolve(&self, link: &str, post: Option<RequestUriPost>) -> AuthorizationRequest {
        match Invocation::parse(link).unwrap() {
            Invocation::ByValue(r) => *r,
            Invocation::ByReference {
                client_id,
                request_uri,
                ..
            } => {
                let path = request_uri.strip_prefix(&self.base).unwrap();
                let a = match &post {
                    None => self.get(path).await,
                    Some(p) => self.form(path, p.to_form()).await,
                };
                assert_eq!(a.status, StatusCode::OK, "{}", a.text());
                assert_eq!(
                    a.content_type.as_deref(),
                    Some("application/oauth-authz-req+jwt")
                );
                let policy = WalletPolicy {
                    algorithms: &[Algorithm::Es256],
                    anchors: &self.anchors,
                    skew: 30,
                    client_trusted: false,
                };
                oid4vp::verify_request_object(
                    &a.text(),
                    &client_id,
                    post.as_ref().and_then(|p| p.wallet_nonce.as_deref()),
                    &policy,
                    self.clock.0.load(Ordering::SeqCst),
                )
                .unwrap()
            }
            Invocation::RequestObject { .. } => panic!("unexpected request by value"),
        }
    }

    /// The holder's presentation of `credential` for `request`, disclosing what the DCQL
    /// plan says (or, with `withhold`, everything but that claim).
    pub fn presentation(
        &self,
        credential: &str,
        request: &AuthorizationRequest,
        withhold: Option<&str>,
    ) -> (String, String) {
        let sd = SdJwt::parse(credential, &Limits::DEFAULT).unwrap();
        let mut presenter = sd.presenter().unwrap();
        let held = holder_credential(&presenter).unwrap();
        let m = match_query(&request.dcql_query, &[held]);
        let selection = m
            .preferred_selection(false)
            .expect("the pass answers the query");
        let mut plan = m.plan(&selection).unwrap();
        let planned = &mut plan.presentations[0];
        if let Some(w) = withhold {
            planned
                .disclose
                .retain(|p| *p != oid4vp::dcql::ClaimPath::keys([w]));
        }
        let now = self.now();
        let vp = present(&mut presenter, planned, request, now, &self.holder).unwrap();
        (planned.query_id.clone(), vp)
    }

    /// The form body answering `request` with `vp_token` (encrypted when asked).
    pub fn answer(&self, request: &AuthorizationRequest, vp_token: VpToken) -> String {
        let response = AuthorizationResponse::Success {
            vp_token,
            state: request.state.clone(),
        };
        match request.response_mode {
            ResponseMode::DirectPost => DirectPostBody::Plain(response).to_form(),
            ResponseMode::DirectPostJwt => {
                let (jwk, enc) = request
                    .client_metadata
                    .as_ref()
                    .unwrap()
                    .response_encryption(&Enc::ALL)
                    .unwrap();
                let payload = Value::Object(response.to_payload()).to_string();
                let jwe =
                    jose::jwe::encrypt(payload.as_bytes(), jwk, enc, &EncryptOptions::default())
                        .unwrap();
                DirectPostBody::Encrypted(jwe).to_form()
            }
        }
    }

    /// One presentation of `credential` as a `vp_token`.
    pub fn vp_token(&self, query_id: &str, vp: String) -> VpToken {
        let mut t = VpToken::new();
        t.push(query_id, Presentation::Text(vp));
        t
    }

    /// Starts a transaction with `body`, resolves it, presents `credential`, posts the
    /// answer; returns the transaction id and the response endpoint's answer.
    pub async fn run(&self, body: Value, credential: &str) -> (String, Answer) {
        let (id, link) = self.start(body).await;
        let request = self.resolve(&link, None).await;
        let (qid, vp) = self.presentation(credential, &request, None);
        let form = self.answer(&request, self.vp_token(&qid, vp));
        let a = self.form("/response", form).await;
        (id, a)
    }

    /// The RP's view of a transaction.
    pub async fn view(&self, id: &str) -> Value {
        let a = self.rp("GET", &format!("/transactions/{id}"), None).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        a.json()
    }
}
