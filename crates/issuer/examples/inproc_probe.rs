#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]
//! temporary probe
use axum::body::Body;
use axum::http::{Request, header};
use client_attestation::*;
use issuer::config::{IssuerConfig, RawIssuerConfig};
use issuer::*;
use jose::{Algorithm, Signer, SoftwareSigner};
use serde_json::{Map, json};
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceExt;

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let db = store::Database::connect(&format!("sqlite:{}/x.db", dir.path().display())).await.unwrap();
        let clock: Arc<dyn jose::Clock> = Arc::new(jose::SystemClock);
        let caches = store::Caches::open(&store::CacheConfig::default(), Some(&db), clock.clone()).await.unwrap();
        let raw: RawIssuerConfig = toml::from_str("admin_token = \"a\"").unwrap();
        let mut config = IssuerConfig::try_from(raw).unwrap();
        issuer::demo::add_classroom_pass(&mut config);
        let kek = Arc::new(keys::Kek::from_bytes(&[7u8; 32]).unwrap());
        let attester = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let mem = std::env::var("MEMDB").is_ok();
        let state = State::new(Dependencies { config, identifier: "https://i.example".into(), database: db, single_use: caches.single_use,
            key_store: KeyStore::Software(kek.clone()), kek: Some(kek), trust: TrustSources { keys: vec![attester.public_jwk().clone()], ..Default::default() },
            clock: clock.clone(), random: Arc::new(SystemRandom) }).await.unwrap();
        let _ = mem;
        {
            let pool = state.database().pool().clone();
            sqlx::query("CREATE TABLE probe (id TEXT PRIMARY KEY, a TEXT, b BIGINT)").execute(&pool).await.unwrap();
            let t = Instant::now();
            for i in 0..2000 {
                sqlx::query("INSERT INTO probe (id, a, b) VALUES ($1, $2, $3)").bind(format!("k{i}")).bind("x").bind(i as i64).execute(&pool).await.unwrap();
            }
            println!("sqlx insert {:.0}us", t.elapsed().as_secs_f64() * 1e6 / 2000.0);
            let t = Instant::now();
            for i in 0..2000 {
                let _r: Option<(String,)> = sqlx::query_as("SELECT a FROM probe WHERE id = $1").bind(format!("k{i}")).fetch_optional(&pool).await.unwrap();
            }
            println!("sqlx select {:.0}us", t.elapsed().as_secs_f64() * 1e6 / 2000.0);
            let key = jose::VerifyingKey::from_jwk(attester.public_jwk()).unwrap();
            let msg = b"hello world";
            let sig = attester.sign(msg).unwrap();
            let t = Instant::now();
            for _ in 0..2000 { key.verify(Algorithm::Es256, msg, &sig).unwrap(); }
            println!("verify {:.0}us", t.elapsed().as_secs_f64() * 1e6 / 2000.0);
        }
        let app = issuer::router(state);
        let n = 2000;
        let mut codes = Vec::new();
        for _ in 0..n {
            let r = app.clone().oneshot(Request::post("/admin/offers").header(header::AUTHORIZATION, "Bearer a").header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json!({"credential_configuration_ids": [issuer::demo::CLASSROOM_PASS_ID], "claims": issuer::demo::example_claims()}).to_string())).unwrap()).await.unwrap();
            let b = axum::body::to_bytes(r.into_body(), 1<<20).await.unwrap();
            let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
            let uri = oid4vci::OfferUri::parse(v["offer_uri"].as_str().unwrap(), Default::default()).unwrap();
            let oid4vci::OfferReference::ByValue(o) = uri.offer else { panic!() };
            codes.push(o.pre_authorized_code.unwrap().pre_authorized_code);
        }
        let instance = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let holder = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let now = jose::Clock::now(&jose::SystemClock);
        let att = AttestationClaims { issuer: None, client_id: "c".into(), iat: now, exp: now + 3600, cnf: instance.public_jwk().clone(), jti: None,
            environment: Some(Environment { evidence: EvidenceType::Tpm, key_protection: KeyProtection::Tpm, namespace: None, service_account: None, extra: Map::new() }), extra: Map::new() }.sign(&attester, None).unwrap();
        let pop = |i: usize, k: &str| PopClaims { aud: "https://i.example".into(), jti: format!("{k}{i}"), iat: now, challenge: None, legacy: None }.sign(&instance).unwrap();
        let (mut t_token, mut t_nonce, mut t_cred, mut t_client) = (0f64, 0f64, 0f64, 0f64);
        for (i, code) in codes.iter().enumerate() {
            let c0 = Instant::now();
            let p = pop(i, "t");
            let form = format!("grant_type={}&pre-authorized_code={}", url::form_urlencoded::byte_serialize(oid4vci::PRE_AUTHORIZED_CODE_GRANT.as_bytes()).collect::<String>(), code);
            t_client += c0.elapsed().as_secs_f64();
            let t0 = Instant::now();
            let r = app.clone().oneshot(Request::post("/token").header(ATTESTATION_HEADER, &att).header(POP_HEADER, p).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(Body::from(form)).unwrap()).await.unwrap();
            let b = axum::body::to_bytes(r.into_body(), 1<<20).await.unwrap();
            t_token += t0.elapsed().as_secs_f64();
            let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
            let at = v["access_token"].as_str().unwrap().to_owned();
            let t1 = Instant::now();
            let r = app.clone().oneshot(Request::post("/nonce").body(Body::empty()).unwrap()).await.unwrap();
            let b = axum::body::to_bytes(r.into_body(), 1<<20).await.unwrap();
            t_nonce += t1.elapsed().as_secs_f64();
            let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
            let c1 = Instant::now();
            let proof = oid4vci::ProofClaims { aud: "https://i.example".into(), iat: now, nonce: Some(v["c_nonce"].as_str().unwrap().into()), iss: None }.sign(&holder).unwrap();
            let p2 = pop(i, "c");
            let body = json!({"credential_configuration_id": issuer::demo::CLASSROOM_PASS_ID, "proofs": {"jwt": [proof]}}).to_string();
            t_client += c1.elapsed().as_secs_f64();
            let t2 = Instant::now();
            let r = app.clone().oneshot(Request::post("/credential").header(ATTESTATION_HEADER, &att).header(POP_HEADER, p2).header(header::AUTHORIZATION, format!("Bearer {at}")).header(header::CONTENT_TYPE, "application/json").body(Body::from(body)).unwrap()).await.unwrap();
            assert_eq!(r.status(), 200);
            let _ = axum::body::to_bytes(r.into_body(), 1<<20).await.unwrap();
            t_cred += t2.elapsed().as_secs_f64();
        }
        let us = |t: f64| t * 1e6 / n as f64;
        println!("token {:.0}us nonce {:.0}us credential {:.0}us (client side {:.0}us)", us(t_token), us(t_nonce), us(t_cred), us(t_client));
    });
}
