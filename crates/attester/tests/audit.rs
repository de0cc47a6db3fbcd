//! The audit log end to end: every attestation leaves one chained record, the chain
//! verifies on SQLite and PostgreSQL (also with two replicas appending at once), the admin
//! endpoint lists records and the head, and editing, deleting, reordering or truncating
//! records in the database is detected.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use attester::audit::sql::SqlAudit;
use attester::audit::{self, AuditEntry, AuditLog, AuditStore, ChainError, VerifyError, hex};
use axum::http::StatusCode;
use client_attestation::EvidenceType;
use common::*;
use serde_json::json;

async fn issue(h: &Harness, n: usize) -> Vec<String> {
    let mut jtis = Vec::new();
    for i in 0..n {
        let token = h.wallet_token(&format!("wallet-{i}"));
        let body = h
            .request(&ci_key(), &format!("client-{i}"), kube_evidence(&token))
            .await;
        let a = h.post_attestation(&body).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        let jwt = a.json["client_attestation"].as_str().unwrap();
        let claims = jose::CompactJws::parse(jwt)
            .unwrap()
            .claims_unverified()
            .unwrap();
        jtis.push(claims["jti"].as_str().unwrap().to_owned());
    }
    jtis
}

async fn verify(h: &Harness) -> Result<audit::ChainSummary, VerifyError> {
    audit::verify(h.audit_store.as_ref(), None).await
}

async fn every_attestation_is_in_the_verified_chain(choice: AuditChoice) {
    let h = Harness::new(Options {
        audit: choice,
        ..Options::default()
    })
    .await;
    let jtis = issue(&h, 5).await;
    let summary = verify(&h).await.unwrap();
    assert_eq!(summary.records, 5);
    let records = h.audit_store.page(0, 100).await.unwrap();
    let recorded: Vec<&str> = records.iter().map(|r| r.entry.jti.as_str()).collect();
    assert_eq!(
        recorded,
        jtis.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(records[0].prev_hash, audit::GENESIS);
    assert_eq!(records[2].entry.pod.as_deref(), Some("wallet-2"));

    // The admin endpoint lists them, page by page, with the head.
    let a = h
        .admin_get("/admin/audit?after=2&limit=2", Some(ADMIN))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let listed = a.json["records"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["seq"], 3);
    assert_eq!(listed[0]["client_id"], "client-2");
    assert_eq!(
        listed[0]["identity"],
        "system:serviceaccount:cvm-wallets:wallet-sa"
    );
    assert_eq!(listed[0]["evidence"], "kubernetes");
    assert_eq!(listed[0]["hash"], hex(&records[2].hash));
    assert_eq!(a.json["head"]["seq"], 5);
    assert_eq!(a.json["head"]["hash"], hex(&summary.head.unwrap().1));
}

#[tokio::test]
async fn every_attestation_is_in_the_verified_chain_sqlite() {
    every_attestation_is_in_the_verified_chain(AuditChoice::Sqlite).await;
}

#[tokio::test]
async fn every_attestation_is_in_the_verified_chain_postgres() {
    every_attestation_is_in_the_verified_chain(AuditChoice::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_attestations_share_batches_and_keep_one_chain() {
    let h = Arc::new(Harness::new(Options::default()).await);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let h = Arc::clone(&h);
        tasks.push(tokio::spawn(async move {
            let token = h.wallet_token(&format!("pod-{i}"));
            let body = h.request(&ci_key(), "c", kube_evidence(&token)).await;
            h.post_attestation(&body).await.status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(verify(&h).await.unwrap().records, 40);
}

fn entry(n: usize) -> AuditEntry {
    AuditEntry {
        time: NOW,
        identity: format!("replica-entry-{n}"),
        evidence: EvidenceType::Dev,
        pod: None,
        client_id: "c".into(),
        ci_thumbprint: "t".into(),
        jti: format!("j{n}"),
        kid: "k".into(),
        exp: NOW + 60,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_appending_at_once_keep_one_chain_postgres() {
    let db = store::testing::TestDatabase::postgres().await.unwrap();
    let a = AuditLog::spawn(Arc::new(
        SqlAudit::new(db.connect().await.unwrap()).await.unwrap(),
    ));
    let b = AuditLog::spawn(Arc::new(
        SqlAudit::new(db.connect().await.unwrap()).await.unwrap(),
    ));
    let mut tasks = Vec::new();
    for i in 0..60 {
        let log = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move { log.append(entry(i)).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let summary = audit::verify(a.store().as_ref(), None).await.unwrap();
    assert_eq!(summary.records, 60);
}

async fn tampered(sql: &str) -> VerifyError {
    let h = Harness::new(Options::default()).await;
    issue(&h, 4).await;
    verify(&h).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(h.db.pool())
        .await
        .unwrap();
    verify(&h).await.unwrap_err()
}

#[tokio::test]
async fn rejects_an_edited_record() {
    let e = tampered("UPDATE attester_audit SET client_id = 'attacker' WHERE seq = 2").await;
    assert!(
        matches!(e, VerifyError::Chain(ChainError::Altered { seq: 2 })),
        "{e:?}"
    );
    let e = tampered("UPDATE attester_audit SET pod = NULL WHERE seq = 3").await;
    assert!(
        matches!(e, VerifyError::Chain(ChainError::Altered { seq: 3 })),
        "{e:?}"
    );
}

#[tokio::test]
async fn rejects_a_deleted_record() {
    let e = tampered("DELETE FROM attester_audit WHERE seq = 2").await;
    assert!(
        matches!(
            e,
            VerifyError::Chain(ChainError::Sequence {
                previous: 1,
                found: 3
            })
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn rejects_reordered_records() {
    // Swap the contents (and hashes) of records 2 and 3, keeping the numbers.
    let e = tampered(
        "UPDATE attester_audit SET seq = -2 WHERE seq = 2;
         UPDATE attester_audit SET seq = 2 WHERE seq = 3;
         UPDATE attester_audit SET seq = 3 WHERE seq = -2;",
    )
    .await;
    assert!(
        matches!(e, VerifyError::Chain(ChainError::BrokenLink { seq: 2 })),
        "{e:?}"
    );
}

#[tokio::test]
async fn rejects_a_malformed_stored_hash() {
    let e = tampered("UPDATE attester_audit SET hash = 'zz' WHERE seq = 4").await;
    assert!(
        matches!(
            e,
            VerifyError::Chain(ChainError::Malformed {
                seq: 4,
                column: "hash"
            })
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn rejects_a_truncated_log_against_a_recorded_head() {
    let h = Harness::new(Options::default()).await;
    issue(&h, 3).await;
    let head = verify(&h).await.unwrap().head.unwrap();
    sqlx::query("DELETE FROM attester_audit WHERE seq = 3")
        .execute(h.db.pool())
        .await
        .unwrap();
    // The chain alone cannot tell: what is left is a valid, shorter log.
    assert_eq!(verify(&h).await.unwrap().records, 2);
    let e = audit::verify(h.audit_store.as_ref(), Some(head))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            VerifyError::Chain(ChainError::HeadMismatch {
                expected_seq: 3,
                found_seq: 2,
                ..
            })
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn admin_listing_of_an_empty_log_has_no_head() {
    let h = Harness::new(Options::default()).await;
    let a = h.admin_get("/admin/audit", Some(ADMIN)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json, json!({"records": [], "head": null}));
}
