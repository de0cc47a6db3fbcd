//! The wallet side over HTTP: `wallet::attestation::AttestationClient` obtains an attestation
//! for its in-memory CI-Key from a running attester (Kubernetes evidence through the
//! TokenReview stand-in), caches it until shortly before expiry, re-reads its rotated
//! token, and makes a fresh PoP per token request that Symbolon's `AttestationVerifier`
//! accepts, with and without a server challenge.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use client_attestation::{AttestationVerifier, TrustedAttester};
use common::*;
use jose::random::SystemRandom;
use jose::{Algorithm, FixedClock, PublicJwk, VerifyingKey};
use service::http::{AddressPolicy, GuardedClient, HttpSettings};
use wallet::attestation::{
    AttestationClient, ClientError, ClientSettings, EvidenceSource, challenge_from, fetch_challenge,
};

fn http() -> GuardedClient {
    GuardedClient::new(HttpSettings {
        policy: AddressPolicy::AllowPrivate,
        ..HttpSettings::default()
    })
    .unwrap()
}

struct Wallet {
    client: AttestationClient,
    token_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn wallet(h: &Harness, base: &str, pod: &str) -> Wallet {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, h.wallet_token(pod)).unwrap();
    let mut settings = ClientSettings::new(
        base,
        "wallet-instance-7",
        EvidenceSource::Kubernetes {
            token_file: token_file.clone(),
        },
    );
    settings.attester_id = Some(IDENTIFIER.into());
    let client =
        AttestationClient::new(settings, http(), h.clock.clone(), Arc::new(SystemRandom)).unwrap();
    Wallet {
        client,
        token_file,
        _dir: dir,
    }
}

fn issuer_verifier(h: &Harness) -> AttestationVerifier {
    AttestationVerifier {
        audience: "https://issuer.example".into(),
        attestation_algorithms: vec![Algorithm::Es256],
        pop_algorithms: vec![Algorithm::Es256],
        skew: 30,
        pop_max_age: 60,
        attesters: vec![TrustedAttester {
            issuer: Some(IDENTIFIER.into()),
            keys: vec![VerifyingKey::from_jwk(&h.akey_jwk).unwrap()],
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_client_caches_its_attestation_and_refreshes_before_expiry() {
    let h = Harness::new(Options::default()).await;
    let base = h.serve().await;
    let w = wallet(&h, &base, "wallet-engine-a").await;

    let first = w.client.attestation().await.unwrap();
    let again = w.client.attestation().await.unwrap();
    assert!(Arc::ptr_eq(&first, &again), "served from the cache");
    assert_eq!(h.audit_count().await, 1);
    let claims = jose::CompactJws::parse(&first)
        .unwrap()
        .claims_unverified()
        .unwrap();
    assert!(
        PublicJwk::from_value(&claims["cnf"]["jwk"])
            .unwrap()
            .same_key(w.client.ci_jwk())
    );

    // Still fresh until five minutes before expiry, then replaced.
    h.clock.set(NOW + 3600 - 301);
    assert!(Arc::ptr_eq(&first, &w.client.attestation().await.unwrap()));
    h.clock.set(NOW + 3600 - 299);
    let renewed = w.client.attestation().await.unwrap();
    assert!(!Arc::ptr_eq(&first, &renewed));
    assert_eq!(h.audit_count().await, 2);
    // The same CI-Key all along: it belongs to the instance.
    let claims = jose::CompactJws::parse(&renewed)
        .unwrap()
        .claims_unverified()
        .unwrap();
    assert!(
        PublicJwk::from_value(&claims["cnf"]["jwk"])
            .unwrap()
            .same_key(w.client.ci_jwk())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_client_makes_a_fresh_pop_per_request_that_the_issuer_accepts() {
    let h = Harness::new(Options::default()).await;
    let base = h.serve().await;
    let w = wallet(&h, &base, "wallet-engine-b").await;
    let verifier = issuer_verifier(&h);
    let clock = FixedClock(NOW + 1);

    let one = w
        .client
        .headers("https://issuer.example", None)
        .await
        .unwrap();
    let two = w
        .client
        .headers("https://issuer.example", None)
        .await
        .unwrap();
    assert_eq!(one.attestation, two.attestation);
    let v1 = verifier
        .verify(
            &one.attestation,
            &one.pop,
            Some("wallet-instance-7"),
            &clock,
        )
        .unwrap();
    let v2 = verifier
        .verify(
            &two.attestation,
            &two.pop,
            Some("wallet-instance-7"),
            &clock,
        )
        .unwrap();
    assert_ne!(v1.pop_jti(), v2.pop_jti(), "each PoP has its own jti");
    assert_eq!(v1.challenge(), None);

    // Answering a server challenge (`use_attestation_challenge`).
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "OAuth-Client-Attestation-Challenge",
        "c-42".parse().unwrap(),
    );
    let challenge = challenge_from(&headers);
    let h3 = w
        .client
        .headers("https://issuer.example", challenge.as_deref())
        .await
        .unwrap();
    let v3 = verifier
        .verify(&h3.attestation, &h3.pop, None, &clock)
        .unwrap();
    assert_eq!(v3.challenge(), Some("c-42"));
    // A PoP for another server is refused there.
    let elsewhere = w.client.pop("https://elsewhere.example", None).unwrap();
    assert!(
        verifier
            .verify(&h3.attestation, &elsewhere, None, &clock)
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_client_rereads_its_rotated_token() {
    let h = Harness::new(Options::default()).await;
    let base = h.serve().await;
    let w = wallet(&h, &base, "pod-before").await;
    w.client.attestation().await.unwrap();
    std::fs::write(&w.token_file, h.wallet_token("pod-after")).unwrap();
    w.client.refresh().await.unwrap();
    let records = attester::audit::AuditStore::page(h.audit_store.as_ref(), 0, 10)
        .await
        .unwrap();
    let pods: Vec<_> = records
        .iter()
        .map(|r| r.entry.pod.clone().unwrap())
        .collect();
    assert_eq!(pods, ["pod-before", "pod-after"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_client_fetches_a_challenge_from_a_challenge_endpoint() {
    // The attester's own challenge endpoint has the ABCA challenge-endpoint shape.
    let h = Harness::new(Options::default()).await;
    let base = h.serve().await;
    let c = fetch_challenge(&http(), &format!("{base}/v1/challenge"))
        .await
        .unwrap();
    assert_eq!(c.len(), 43);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_refusals_as_typed_client_errors() {
    let h = Harness::new(Options {
        rate: 1,
        allowed: vec!["cvm-wallets:other-sa"],
        ..Options::default()
    })
    .await;
    let base = h.serve().await;
    let w = wallet(&h, &base, "p").await;
    let e = w.client.attestation().await.unwrap_err();
    assert!(
        matches!(&e, ClientError::Refused { status: 403, error: Some(code), .. } if code == "access_denied"),
        "{e:?}"
    );

    let h = Harness::new(Options {
        rate: 1,
        ..Options::default()
    })
    .await;
    let base = h.serve().await;
    let w = wallet(&h, &base, "p").await;
    w.client.attestation().await.unwrap();
    let e = w.client.refresh().await.unwrap_err();
    assert!(
        matches!(&e, ClientError::Refused { status: 429, retry_after: Some(s), .. } if *s >= 1),
        "{e:?}"
    );

    // An attester URL the guard refuses is never contacted.
    let mut settings = ClientSettings::new("http://169.254.169.254", "w", EvidenceSource::Dev);
    settings.refresh_before = Duration::from_secs(1);
    let c =
        AttestationClient::new(settings, http(), h.clock.clone(), Arc::new(SystemRandom)).unwrap();
    assert!(matches!(c.attestation().await, Err(ClientError::Http(_))));
}
