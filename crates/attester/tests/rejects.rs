//! Every refusal of the attestation API through the real router, each asserting the HTTP
//! status and the error code, and that a refused request leaves no audit record and no
//! signature.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use jose::Signer;
use serde_json::json;

async fn expect(h: &Harness, a: &Answer, status: StatusCode, code: &str) {
    assert_eq!(a.status, status, "{}", a.text);
    assert_eq!(a.code(), code, "{}", a.text);
    assert_eq!(a.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(
        h.audit_count().await,
        0,
        "a refused request left an audit record"
    );
}

#[tokio::test]
async fn rejects_an_unauthenticated_token() {
    let h = Harness::new(Options::default()).await;
    let body = h
        .request(&ci_key(), "w", kube_evidence("eyJ.not-a-known-token.sig"))
        .await;
    let a = h.post_attestation(&body).await;
    expect(&h, &a, StatusCode::UNAUTHORIZED, "invalid_evidence").await;
    assert_eq!(h.kube().requests(), 1);
}

#[tokio::test]
async fn rejects_a_token_minted_for_another_audience() {
    let h = Harness::new(Options::default()).await;
    let token = h.kube().add_token(
        WALLET_NS,
        WALLET_SA,
        Some("p"),
        &["https://other-service.example"],
    );
    let body = h.request(&ci_key(), "w", kube_evidence(&token)).await;
    let a = h.post_attestation(&body).await;
    expect(&h, &a, StatusCode::UNAUTHORIZED, "invalid_evidence").await;
}

#[tokio::test]
async fn rejects_an_authenticated_token_whose_audience_is_not_echoed() {
    let h = Harness::new(Options::default()).await;
    h.kube().ignore_audiences(true);
    let token = h.wallet_token("p");
    let body = h.request(&ci_key(), "w", kube_evidence(&token)).await;
    let a = h.post_attestation(&body).await;
    expect(&h, &a, StatusCode::UNAUTHORIZED, "invalid_evidence").await;
    assert!(
        a.json["error_description"]
            .as_str()
            .unwrap()
            .contains("audience")
    );
}

#[tokio::test]
async fn rejects_a_service_account_that_is_not_admitted() {
    let h = Harness::new(Options::default()).await;
    for (ns, sa) in [
        ("default", "default"),
        (WALLET_NS, "other-sa"),
        ("cvm-security", WALLET_SA),
    ] {
        let token = h.kube().add_token(ns, sa, Some("p"), &[IDENTIFIER]);
        let body = h.request(&ci_key(), "w", kube_evidence(&token)).await;
        let a = h.post_attestation(&body).await;
        expect(&h, &a, StatusCode::FORBIDDEN, "access_denied").await;
    }
}

#[tokio::test]
async fn rejects_a_user_that_is_not_a_service_account() {
    let h = Harness::new(Options::default()).await;
    h.kube().add_raw(
        "admin-token",
        common::kube::KnownToken {
            username: "kubernetes-admin".into(),
            uid: "u".into(),
            groups: vec!["system:masters".into()],
            extra: Default::default(),
            audiences: vec![IDENTIFIER.into()],
        },
    );
    let body = h
        .request(&ci_key(), "w", kube_evidence("admin-token"))
        .await;
    let a = h.post_attestation(&body).await;
    expect(&h, &a, StatusCode::FORBIDDEN, "access_denied").await;
}

#[tokio::test]
async fn rejects_a_wrong_challenge() {
    let h = Harness::new(Options::default()).await;
    let token = h.wallet_token("p");
    let ci = ci_key();
    let _issued = h.challenge().await;
    let body = request_body(
        &ci,
        "w",
        "made-up-challenge",
        IDENTIFIER,
        NOW,
        kube_evidence(&token),
    );
    let a = h.post_attestation(&body).await;
    expect(&h, &a, StatusCode::BAD_REQUEST, "invalid_challenge").await;
}

#[tokio::test]
async fn rejects_a_replayed_challenge() {
    let h = Harness::new(Options::default()).await;
    let token = h.wallet_token("p");
    let body = h.request(&ci_key(), "w", kube_evidence(&token)).await;
    assert_eq!(h.post_attestation(&body).await.status, StatusCode::OK);
    let a = h.post_attestation(&body).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text);
    assert_eq!(a.code(), "invalid_challenge");
    assert_eq!(
        h.audit_count().await,
        1,
        "only the first request was recorded"
    );
}

#[tokio::test]
async fn rejects_an_expired_challenge() {
    let h = Harness::new(Options::default()).await;
    let token = h.wallet_token("p");
    let ci = ci_key();
    let challenge = h.challenge().await;
    h.clock.advance(121);
    let body = request_body(
        &ci,
        "w",
        &challenge,
        IDENTIFIER,
        h.clock_now(),
        kube_evidence(&token),
    );
    let a = h.post_attestation(&body).await;
    expect(&h, &a, StatusCode::BAD_REQUEST, "invalid_challenge").await;
}

#[tokio::test]
async fn rejects_a_proof_by_another_key_and_keeps_the_challenge() {
    let h = Harness::new(Options::default()).await;
    let token = h.wallet_token("p");
    let holder = ci_key();
    let thief = ci_key();
    let challenge = h.challenge().await;
    // The thief asks for an attestation of the holder's key, signing with its own.
    let mut body = request_body(
        &thief,
        "w",
        &challenge,
        IDENTIFIER,
        NOW,
        kube_evidence(&token),
    );
    body["ci_jwk"] = holder.public_jwk().to_value();
    let a = h.post_attestation(&body).await;
    expect(&h, &a, StatusCode::BAD_REQUEST, "invalid_proof").await;
    // The refused proof did not consume the challenge: the holder can still use it.
    let body = request_body(
        &holder,
        "w",
        &challenge,
        IDENTIFIER,
        NOW,
        kube_evidence(&token),
    );
    assert_eq!(h.post_attestation(&body).await.status, StatusCode::OK);
}

#[tokio::test]
async fn rejects_a_proof_made_for_another_attester_or_client() {
    let h = Harness::new(Options::default()).await;
    let token = h.wallet_token("p");
    let ci = ci_key();
    let challenge = h.challenge().await;
    let body = request_body(
        &ci,
        "w",
        &challenge,
        "https://other-attester.example",
        NOW,
        kube_evidence(&token),
    );
    let a = h.post_attestation(&body).await;
    expect(&h, &a, StatusCode::BAD_REQUEST, "invalid_proof").await;
    let mut body = request_body(&ci, "w", &challenge, IDENTIFIER, NOW, kube_evidence(&token));
    body["client_id"] = json!("someone-else");
    let a = h.post_attestation(&body).await;
    expect(&h, &a, StatusCode::BAD_REQUEST, "invalid_proof").await;
    let stale = request_body(
        &ci,
        "w",
        &challenge,
        IDENTIFIER,
        NOW - 600,
        kube_evidence(&token),
    );
    let a = h.post_attestation(&stale).await;
    expect(&h, &a, StatusCode::BAD_REQUEST, "invalid_proof").await;
}

#[tokio::test]
async fn rejects_over_the_rate_limit_with_retry_after() {
    let h = Harness::new(Options {
        rate: 2,
        ..Options::default()
    })
    .await;
    let token = h.wallet_token("wallet-a");
    for _ in 0..2 {
        let body = h.request(&ci_key(), "w", kube_evidence(&token)).await;
        assert_eq!(h.post_attestation(&body).await.status, StatusCode::OK);
    }
    let body = h.request(&ci_key(), "w", kube_evidence(&token)).await;
    let a = h.post_attestation(&body).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.text);
    assert_eq!(a.code(), "rate_limited");
    let retry: u64 = a.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(h.audit_count().await, 2);
    // Another pod of the same service account has its own budget.
    let other = h.wallet_token("wallet-b");
    let body = h.request(&ci_key(), "w", kube_evidence(&other)).await;
    assert_eq!(h.post_attestation(&body).await.status, StatusCode::OK);
    // The window ends: the first pod may ask again.
    h.clock.advance(i64::try_from(retry).unwrap());
    let body = h.request(&ci_key(), "w", kube_evidence(&token)).await;
    assert_eq!(h.post_attestation(&body).await.status, StatusCode::OK);
}

#[tokio::test]
async fn rejects_dev_evidence_unless_enabled() {
    let h = Harness::new(Options::default()).await;
    let body = h.request(&ci_key(), "w", json!({"type": "dev"})).await;
    let a = h.post_attestation(&body).await;
    expect(&h, &a, StatusCode::BAD_REQUEST, "unsupported_evidence_type").await;
}

#[tokio::test]
async fn rejects_kubernetes_evidence_when_not_configured() {
    let h = Harness::new(Options {
        kube: false,
        dev: true,
        ..Options::default()
    })
    .await;
    let body = h.request(&ci_key(), "w", kube_evidence("t")).await;
    let a = h.post_attestation(&body).await;
    expect(&h, &a, StatusCode::BAD_REQUEST, "unsupported_evidence_type").await;
}

#[tokio::test]
async fn rejects_tpm_and_unknown_evidence_types() {
    let h = Harness::new(Options::default()).await;
    for evidence in [json!({"type": "tpm", "quote": "x"}), json!({"type": "sgx"})] {
        let body = h.request(&ci_key(), "w", evidence).await;
        let a = h.post_attestation(&body).await;
        expect(&h, &a, StatusCode::BAD_REQUEST, "unsupported_evidence_type").await;
    }
}

#[tokio::test]
async fn rejects_malformed_requests() {
    let h = Harness::new(Options::default()).await;
    let token = h.wallet_token("p");
    let good = h.request(&ci_key(), "w", kube_evidence(&token)).await;
    let mut cases = Vec::new();
    let mut v = good.clone();
    v.as_object_mut().unwrap().remove("ci_jwk");
    cases.push(v);
    let mut v = good.clone();
    v["client_id"] = json!("has space");
    cases.push(v);
    let mut v = good.clone();
    v["evidence"] = json!({"type": "kubernetes"});
    cases.push(v);
    let mut v = good.clone();
    v["ci_jwk"]["d"] = json!("AAAA");
    cases.push(v);
    cases.push(json!("not an object"));
    for body in cases {
        let a = h.post_attestation(&body).await;
        expect(&h, &a, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    // Not JSON, or the wrong content type.
    let a = h
        .send(
            Request::post("/v1/attestations")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{not json"))
                .unwrap(),
        )
        .await;
    expect(&h, &a, StatusCode::BAD_REQUEST, "invalid_request").await;
    let a = h
        .send(
            Request::post("/v1/attestations")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(good.to_string()))
                .unwrap(),
        )
        .await;
    expect(&h, &a, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(
        h.kube().requests(),
        0,
        "malformed requests never reach TokenReview"
    );
}

#[tokio::test]
async fn rejects_addresses_outside_the_allow_list() {
    let h = Harness::new(Options {
        allowed_ips: vec!["10.244.0.0/16"],
        ..Options::default()
    })
    .await;
    let token = h.wallet_token("p");
    let a = h
        .send_from(
            Request::post("/v1/challenge").body(Body::empty()).unwrap(),
            "192.168.1.5:1234",
        )
        .await;
    expect(&h, &a, StatusCode::FORBIDDEN, "access_denied").await;
    // From inside the list everything works.
    let challenge = h
        .send_from(
            Request::post("/v1/challenge").body(Body::empty()).unwrap(),
            "10.244.3.7:1234",
        )
        .await;
    assert_eq!(challenge.status, StatusCode::OK);
    let c = challenge.json["attestation_challenge"].as_str().unwrap();
    let ci = ci_key();
    let body = request_body(&ci, "w", c, IDENTIFIER, NOW, kube_evidence(&token));
    let a = h.post_attestation_from(&body, "172.16.0.1:999").await;
    expect(&h, &a, StatusCode::FORBIDDEN, "access_denied").await;
    let a = h
        .post_attestation_from(&body, "[::ffff:10.244.3.7]:1234")
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    // Without a known peer address the list cannot be checked: refused.
    let response = tower::ServiceExt::oneshot(
        h.router.clone(),
        Request::post("/v1/challenge").body(Body::empty()).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn rejects_when_the_api_server_refuses_the_attesters_credentials() {
    let h = Harness::new(Options::default()).await;
    let token = h.wallet_token("p");
    std::fs::write(&h.kube().attester_token_file, "a-revoked-token").unwrap();
    // The attester re-reads its token file at most once a minute: a fresh harness reads
    // the changed file at its first review.
    let body = h.request(&ci_key(), "w", kube_evidence(&token)).await;
    let a = h.post_attestation(&body).await;
    expect(
        &h,
        &a,
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
    )
    .await;
}

#[tokio::test]
async fn rejects_when_the_api_server_is_unreachable() {
    let mut h = Harness::new(Options::default()).await;
    let token = h.wallet_token("p");
    let body = h.request(&ci_key(), "w", kube_evidence(&token)).await;
    assert_eq!(h.post_attestation(&body).await.status, StatusCode::OK);
    // Stop the stand-in (its listener closes): connections are refused. The attester's own
    // token is cached from the first review, so this is the network failure alone.
    h.kube = None;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let body = h.request(&ci_key(), "w", kube_evidence(&token)).await;
    let a = h.post_attestation(&body).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text);
    assert_eq!(a.code(), "temporarily_unavailable");
    assert_eq!(h.audit_count().await, 1);
}

#[tokio::test]
async fn rejects_when_the_audit_log_cannot_be_written_and_signs_nothing() {
    let count = Arc::new(AtomicUsize::new(0));
    let h = Harness::new(Options {
        key: KeyChoice::Counting(Arc::clone(&count)),
        ..Options::default()
    })
    .await;
    let token = h.wallet_token("p");
    let body = h.request(&ci_key(), "w", kube_evidence(&token)).await;
    assert_eq!(h.post_attestation(&body).await.status, StatusCode::OK);
    assert_eq!(count.load(Ordering::SeqCst), 1);
    // The audit database goes away (its pool is closed): every later write fails.
    h.db.close().await;
    let body = h.request(&ci_key(), "w", kube_evidence(&token)).await;
    let a = h.post_attestation(&body).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text);
    assert_eq!(a.code(), "temporarily_unavailable");
    assert!(a.json.get("client_attestation").is_none());
    assert_eq!(count.load(Ordering::SeqCst), 1, "nothing was signed");
}

#[tokio::test]
async fn rejects_admin_calls_without_the_admin_token() {
    let h = Harness::new(Options::default()).await;
    for token in [None, Some("wrong"), Some("")] {
        let a = h.admin_get("/admin/audit", token).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
        assert_eq!(a.code(), "invalid_token");
        assert!(a.headers.contains_key(header::WWW_AUTHENTICATE));
    }
    let a = h.admin_get("/admin/audit?limit=0", Some(ADMIN)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.code(), "invalid_request");
    let a = h.admin_get("/admin/audit?after=x", Some(ADMIN)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.code(), "invalid_request");
}

#[tokio::test]
async fn rejects_certificate_requests_when_none_is_configured() {
    let h = Harness::new(Options {
        kube: false,
        ..Options::default()
    })
    .await;
    let a = h.get("/v1/certificate").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text);
    assert_eq!(a.code(), "not_found");
    // The JWK Set is still there, without x5c.
    let jwks = h.get("/.well-known/jwks.json").await;
    assert_eq!(jwks.status, StatusCode::OK);
    assert!(jwks.json["keys"][0].get("x5c").is_none());
}

/// A redis-server of this test's own (Debian's `redis-server`, installed by the test
/// script), so that it can be stopped while the attester uses it.
struct OwnRedis(std::process::Child);

impl OwnRedis {
    fn start() -> (OwnRedis, String) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is needed (scripts/test.sh installs it)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        (OwnRedis(child), format!("redis://127.0.0.1:{port}"))
    }

    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn rejects_when_the_challenge_store_is_unreachable_and_signs_nothing() {
    let (mut redis, url) = OwnRedis::start();
    let count = Arc::new(AtomicUsize::new(0));
    let h = Harness::new(Options {
        key: KeyChoice::Counting(Arc::clone(&count)),
        redis_url: Some(url),
        ..Options::default()
    })
    .await;
    let token = h.wallet_token("p");
    // Works while Redis runs; a second challenge is taken for the request sent after.
    let body = h.request(&ci_key(), "w", kube_evidence(&token)).await;
    assert_eq!(h.post_attestation(&body).await.status, StatusCode::OK);
    let pending = h.request(&ci_key(), "w", kube_evidence(&token)).await;
    assert_eq!(h.audit_count().await, 1);

    redis.stop();
    let c = h
        .send(Request::post("/v1/challenge").body(Body::empty()).unwrap())
        .await;
    assert_eq!(c.status, StatusCode::SERVICE_UNAVAILABLE, "{}", c.text);
    assert_eq!(c.code(), "temporarily_unavailable");
    let a = h.post_attestation(&pending).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text);
    assert_eq!(a.code(), "temporarily_unavailable");
    assert!(a.json.get("client_attestation").is_none());
    assert_eq!(count.load(Ordering::SeqCst), 1, "nothing more was signed");
    assert_eq!(h.audit_count().await, 1, "nothing more was recorded");
}

/// One layer marks every answer of the per-caller routes `no-store` (the audit page and its
/// refusal too), while the published keys stay cacheable.
#[tokio::test]
async fn issue11_every_per_caller_answer_is_no_store_and_the_published_keys_are_cacheable() {
    let h = Harness::new(Options::default()).await;
    let page = h.admin_get("/admin/audit", Some(ADMIN)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
    let refused = h.admin_get("/admin/audit", Some("not-the-token")).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);
    assert_eq!(refused.headers[header::CACHE_CONTROL], "no-store");
    let keys = h.get("/.well-known/jwks.json").await;
    assert_eq!(keys.status, StatusCode::OK, "{}", keys.text);
    assert_eq!(keys.headers[header::CACHE_CONTROL], "public, max-age=300");
}
