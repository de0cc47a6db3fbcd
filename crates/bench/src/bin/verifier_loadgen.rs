//! Load generator for the verifier: presentations verified per CPU-second.
//!
//! ```sh
//! # in-process: the verification pipeline alone, then through the router (no socket)
//! cargo run --release -p symbolon-bench --bin verifier_loadgen -- in-process 5000
//! # over HTTP against the release binary, measuring the server process's CPU time
//! cargo build --release -p symbolon
//! cargo run --release -p symbolon-bench --bin verifier_loadgen -- http 5000 target/release/symbolon
//! ```
//!
//! Every presentation is a full SD-JWT VC + KB-JWT (ES256 issuer, ES256 holder, three
//! disclosures, a status list reference whose list is served on loopback and cached by
//! the verifier), answering its own transaction (fresh nonce), `direct_post`. Setup —
//! creating transactions, fetching request objects, building presentations — is not
//! timed; only the answers are. Over HTTP the figure is answers / (server user + system
//! CPU seconds) during the timed phase.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, header};
use jose::SystemClock;
use jose::random::SystemRandom;
use jose::{Algorithm, Clock, Signer, SoftwareSigner};
use oid4vp::{AuthorizationResponse, DirectPostBody, Invocation, Presentation, VpToken};
use serde_json::{Map, Value, json};
use service::http::{AddressPolicy, GuardedClient, HttpSettings};
use status_list::{Bits, StatusList, StatusListTokenBuilder};
use tower::ServiceExt;
use verifier::config::{Section, VerifierConfig};
use verifier::seal::Sealer;
use verifier::sql::SqlTransactions;
use verifier::{Dependencies, State};

const VCT: &str = "urn:symbolon:immerse:classroom-pass:1";
const ISS: &str = "https://issuer.example";
const TOKEN: &str = "loadgen-token";

fn now() -> i64 {
    SystemClock.now()
}

fn query() -> Value {
    json!({"credentials": [{"id": "pass", "format": "dc+sd-jwt",
        "meta": {"vct_values": [VCT]},
        "claims": [{"path": ["role"]}, {"path": ["course"]}, {"path": ["given_name"]}]}]})
}

struct Issuer {
    signer: SoftwareSigner,
    list_uri: String,
}

impl Issuer {
    fn credential(&self, holder: &SoftwareSigner) -> String {
        let mut c = Map::new();
        c.insert("iss".into(), ISS.into());
        c.insert("vct".into(), VCT.into());
        c.insert("iat".into(), (now() - 60).into());
        c.insert("exp".into(), (now() + 86_400).into());
        c.insert("cnf".into(), json!({"jwk": holder.public_jwk().to_value()}));
        c.insert(
            "status".into(),
            json!({"status_list": {"idx": 3, "uri": self.list_uri}}),
        );
        c.insert("role".into(), "student".into());
        c.insert("course".into(), "Immersive Physics 101".into());
        c.insert("given_name".into(), "Erika".into());
        c.insert("family_name".into(), "Mustermann".into());
        let frame = ["role", "course", "given_name", "family_name"]
            .into_iter()
            .fold(sd_jwt::Frame::new(), |f, n| {
                f.with(sd_jwt::ClaimPath::claim(n))
            });
        sd_jwt::vc::issue(c, &frame, &self.signer, &sd_jwt::SystemSalts::new(), None)
            .unwrap()
            .into_string()
    }
}

/// Serves a status list on loopback; returns the issuer.
async fn issuer() -> Issuer {
    let signer = SoftwareSigner::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("loadgen-issuer");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!(
        "http://127.0.0.1:{}/lists/1",
        listener.local_addr().unwrap().port()
    );
    let list = StatusList::new(Bits::One, 1024).unwrap();
    let token = StatusListTokenBuilder::new(&uri, list.encode().unwrap(), now())
        .ttl(3600)
        .kid("loadgen-issuer")
        .sign(&signer)
        .unwrap();
    let app = axum::Router::new().route(
        "/lists/1",
        axum::routing::get(move || {
            let token = token.clone();
            async move { ([(header::CONTENT_TYPE, status_list::MEDIA_TYPE)], token) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Issuer {
        signer,
        list_uri: uri,
    }
}

/// The `[verifier]` section of the benchmark, as JSON (the same data model as the TOML the
/// binary reads).
fn section(issuer: &Issuer) -> serde_json::Value {
    json!({
        "rp_token": TOKEN,
        "response_mode": "direct_post",
        "request_uri_method": "get",
        "client_id_prefix": "redirect_uri",
        "transaction_ttl": "1h",
        "status_list": {"allow_loopback": true},
        "issuers": {"school": {
            "iss": ISS,
            "jwks": {"keys": [issuer.signer.public_jwk().to_value()]},
        }},
        "policies": {"classroom": {
            "dcql_query": query(),
            "essential_claims": ["role", "course"],
            "trusted_issuers": ["school"],
        }},
        "default_policy": "classroom",
    })
}

/// One prepared answer: the form body for the response endpoint.
fn answer(link: &str, credential: &str, holder: &SoftwareSigner) -> String {
    let Invocation::ByValue(request) = Invocation::parse(link).unwrap() else {
        panic!("redirect_uri requests travel by value")
    };
    let sd = sd_jwt::SdJwt::parse(credential, &sd_jwt::Limits::DEFAULT).unwrap();
    let mut presenter = sd.presenter().unwrap();
    let held = oid4vp::sd_jwt_vc::holder_credential(&presenter).unwrap();
    let m = oid4vp::dcql::match_query(&request.dcql_query, &[held]);
    let plan = m.plan(&m.preferred_selection(false).unwrap()).unwrap();
    let planned = &plan.presentations[0];
    let vp = oid4vp::sd_jwt_vc::present(&mut presenter, planned, &request, now(), holder).unwrap();
    let mut token = VpToken::new();
    token.push(&planned.query_id, Presentation::Text(vp));
    DirectPostBody::Plain(AuthorizationResponse::Success {
        vp_token: token,
        state: request.state.clone(),
    })
    .to_form()
}

fn report(label: &str, n: usize, cpu: Duration, wall: Duration) {
    println!(
        "RESULT {label}: {n} presentations, {:.2} CPU-s, {:.2} s wall, {:.0} per CPU-second, {:.0} per second",
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
        n as f64 / cpu.as_secs_f64(),
        n as f64 / wall.as_secs_f64()
    );
}

/// CPU time (user + system) of `pid`, from /proc.
fn cpu_of(pid: u32) -> Duration {
    measure::process_cpu(pid).unwrap()
}

fn own_cpu() -> Duration {
    cpu_of(std::process::id())
}

async fn in_process(n: usize) {
    let issuer = issuer().await;
    let holder = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let db = tempfile::tempdir().unwrap();
    let database =
        store::Database::connect(&store::Database::sqlite_url(&db.path().join("v.db")).unwrap())
            .await
            .unwrap();
    let transactions = SqlTransactions::new(&database).await.unwrap();
    let (signer, chain) = {
        let c = verifier::keyfiles::generate_self_signed(&["localhost".into()], now(), 1).unwrap();
        (c.signer, vec![c.der])
    };
    let deps = Dependencies {
        clock: Arc::new(SystemClock),
        random: Arc::new(SystemRandom),
        http: GuardedClient::new(HttpSettings {
            policy: AddressPolicy::AllowLoopback,
            ..HttpSettings::default()
        })
        .unwrap(),
        store: Arc::new(transactions),
        request_signer: Arc::new(signer),
        certificate_chain: chain,
        session_signer: Arc::new(SoftwareSigner::generate(Algorithm::Es256).unwrap()),
        sealer: Sealer::generate(&SystemRandom).unwrap(),
        single_use: Arc::new(store::MemoryStore::with_defaults()),
    };
    let config = serde_json::from_value::<VerifierConfig>(section(&issuer))
        .unwrap()
        .validated()
        .unwrap();
    let state = Arc::new(
        State::new(config, "https://verifier.example", false, deps)
            .await
            .unwrap(),
    );
    let router = verifier::router(Arc::clone(&state));

    // Setup: n transactions, n answers.
    let credential = issuer.credential(&holder);
    let mut bodies = Vec::with_capacity(n);
    let mut requests = Vec::with_capacity(n);
    for _ in 0..n {
        let created = verifier::flow::create(&state, verifier::flow::CreateRequest::default())
            .await
            .unwrap();
        let body = answer(&created.authorization_request, &credential, &holder);
        let Invocation::ByValue(request) =
            Invocation::parse(&created.authorization_request).unwrap()
        else {
            unreachable!()
        };
        requests.push(request);
        bodies.push(body);
    }

    // 0. The crypto ceiling in this run: two ES256 verifications per presentation (issuer
    //    signature, KB-JWT), the key parsed once.
    let key = jose::VerifyingKey::from_jwk(holder.public_jwk()).unwrap();
    let message = b"eyJhbGciOiJFUzI1NiJ9.eyJub25jZSI6Im4ifQ";
    let signature = holder.sign(message).unwrap();
    let (cpu0, t0) = (own_cpu(), Instant::now());
    for _ in 0..2 * n {
        key.verify(Algorithm::Es256, message, &signature).unwrap();
    }
    report(
        "crypto ceiling (2 x ES256 verify)",
        n,
        own_cpu() - cpu0,
        t0.elapsed(),
    );

    // 1. The checks alone (what a response costs before the database), one thread.
    let policy = state.policy("classroom").unwrap().clone();
    let tokens: Vec<VpToken> = bodies
        .iter()
        .map(|b| match DirectPostBody::from_form(b.as_bytes()).unwrap() {
            DirectPostBody::Plain(AuthorizationResponse::Success { vp_token, .. }) => vp_token,
            _ => unreachable!(),
        })
        .collect();
    // Warm the status list cache.
    let warm = verifier::verify::Expectation {
        policy: &policy,
        query: &requests[0].dcql_query,
        client_id: requests[0].client_id.as_str(),
        nonce: &requests[0].nonce,
    };
    verifier::verify::check_vp_token(&state, &warm, &tokens[0])
        .await
        .unwrap();
    let (cpu0, t0) = (own_cpu(), Instant::now());
    for (request, token) in requests.iter().zip(&tokens) {
        let expect = verifier::verify::Expectation {
            policy: &policy,
            query: &request.dcql_query,
            client_id: request.client_id.as_str(),
            nonce: &request.nonce,
        };
        verifier::verify::check_vp_token(&state, &expect, token)
            .await
            .unwrap();
    }
    report("in-process checks", n, own_cpu() - cpu0, t0.elapsed());

    // 2. Through the router: parse, check, answer the transaction in SQLite; eight
    //    concurrent callers, as a server sees them.
    let queue = Arc::new(std::sync::Mutex::new(bodies));
    let (cpu0, t0) = (own_cpu(), Instant::now());
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let queue = Arc::clone(&queue);
        let router = router.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(body) = queue.lock().unwrap().pop() else {
                    break;
                };
                let response = router
                    .clone()
                    .oneshot(
                        Request::post("/response")
                            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                            .body(Body::from(body))
                            .unwrap(),
                    )
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    report(
        "in-process router (with SQLite)",
        n,
        own_cpu() - cpu0,
        t0.elapsed(),
    );
}

async fn http(n: usize, binary: &str, concurrency: usize) {
    let issuer = issuer().await;
    let holder = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let section = section(&issuer);
    let config = format!(
        r#"data_dir = {data:?}
[server]
listen = "127.0.0.1:{port}"
allow_http_loopback = true
[metrics]
enabled = false
[verifier]
rp_token = "{TOKEN}"
response_mode = "direct_post"
client_id_prefix = "redirect_uri"
transaction_ttl = "1h"
default_policy = "classroom"
[verifier.status_list]
allow_loopback = true
[verifier.issuers.school]
iss = "{ISS}"
jwks = '{jwks}'
[verifier.policies.classroom]
essential_claims = ["role", "course"]
trusted_issuers = ["school"]
dcql_query = '{query}'
"#,
        data = dir.path().display().to_string(),
        jwks = section["issuers"]["school"]["jwks"],
        query = section["policies"]["classroom"]["dcql_query"],
    );
    let path = dir.path().join("verifier.toml");
    std::fs::write(&path, config).unwrap();
    let mut child = std::process::Command::new(binary)
        .args(["serve", "--mode=verifier", "--config"])
        .arg(&path)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    for _ in 0..100 {
        if client.get(format!("{base}/readyz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Setup: transactions and answers.
    let credential = issuer.credential(&holder);
    let mut bodies = Vec::with_capacity(n);
    for _ in 0..n {
        let created: Value = client
            .post(format!("{base}/transactions"))
            .bearer_auth(TOKEN)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        bodies.push(answer(
            created["authorization_request"].as_str().unwrap(),
            &credential,
            &holder,
        ));
    }
    // Warm up: the first answer fetches the status list.
    let first = bodies.pop().unwrap();
    let r = client
        .post(format!("{base}/response"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(first)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    let count = bodies.len();
    let queue = Arc::new(std::sync::Mutex::new(bodies));
    let (cpu0, t0) = (cpu_of(child.id()), Instant::now());
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let queue = Arc::clone(&queue);
        let client = client.clone();
        let url = format!("{base}/response");
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(body) = queue.lock().unwrap().pop() else {
                    break;
                };
                let r = client
                    .post(&url)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (cpu, wall) = (cpu_of(child.id()) - cpu0, t0.elapsed());
    report(
        &format!("HTTP, server process, concurrency {concurrency}"),
        count,
        cpu,
        wall,
    );
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2000);
    match args.get(1).map(String::as_str) {
        Some("in-process") => in_process(n).await,
        Some("http") => {
            let binary = args
                .get(3)
                .map_or("target/release/symbolon", String::as_str);
            let concurrency = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(8);
            http(n, binary, concurrency).await;
        }
        _ => eprintln!(
            "usage: verifier_loadgen in-process [N] | verifier_loadgen http [N] [BINARY] [CONCURRENCY]"
        ),
    }
}
