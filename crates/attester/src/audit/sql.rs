//! [`SqlAudit`]: the audit log in the role's SQLite or PostgreSQL database.
//!
//! One table, `attester_audit`, keyed by `seq`. An append is one write transaction: read
//! the head, insert the chained records, commit. On SQLite the transaction takes the write
//! lock up front, so appenders queue; on PostgreSQL two replicas may read the same head,
//! and the primary key makes the second insert fail, which is retried from a fresh head.
//! Hashes are stored as lowercase hex text (portable across both engines).

use client_attestation::EvidenceType;
use store::{Database, Migration};

use super::record::{AuditEntry, AuditRecord, GENESIS, Hash, hex, parse_hash};
use super::{AuditError, AuditFuture, AuditStore};

/// The attester's migrations (append-only).
pub const MIGRATIONS: &[Migration] = &[Migration::portable(
    1,
    "audit log",
    "CREATE TABLE attester_audit (
         seq BIGINT PRIMARY KEY,
         time BIGINT NOT NULL,
         identity TEXT NOT NULL,
         evidence TEXT NOT NULL,
         pod TEXT,
         client_id TEXT NOT NULL,
         ci_thumbprint TEXT NOT NULL,
         jti TEXT NOT NULL,
         kid TEXT NOT NULL,
         exp BIGINT NOT NULL,
         prev_hash TEXT NOT NULL,
         hash TEXT NOT NULL
     )",
)];

/// Attempts of one append when other replicas keep taking the next number.
const APPEND_ATTEMPTS: u32 = 8;

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    time: i64,
    identity: String,
    evidence: String,
    pod: Option<String>,
    client_id: String,
    ci_thumbprint: String,
    jti: String,
    kid: String,
    exp: i64,
    prev_hash: String,
    hash: String,
}

fn evidence_from(seq: i64, s: &str) -> Result<EvidenceType, AuditError> {
    match s {
        "kubernetes" => Ok(EvidenceType::Kubernetes),
        "tpm" => Ok(EvidenceType::Tpm),
        "dev" => Ok(EvidenceType::Dev),
        _ => Err(AuditError::Malformed {
            seq,
            column: "evidence",
        }),
    }
}

impl Row {
    fn into_record(self) -> Result<AuditRecord, AuditError> {
        let seq = self.seq;
        let hash =
            |column, text: &str| parse_hash(text).ok_or(AuditError::Malformed { seq, column });
        Ok(AuditRecord {
            seq,
            prev_hash: hash("prev_hash", &self.prev_hash)?,
            hash: hash("hash", &self.hash)?,
            entry: AuditEntry {
                time: self.time,
                identity: self.identity,
                evidence: evidence_from(seq, &self.evidence)?,
                pod: self.pod,
                client_id: self.client_id,
                ci_thumbprint: self.ci_thumbprint,
                jti: self.jti,
                kid: self.kid,
                exp: self.exp,
            },
        })
    }
}

/// The audit log in a [`Database`].
#[derive(Debug, Clone)]
pub struct SqlAudit {
    db: Database,
}

impl SqlAudit {
    /// Uses `db`, creating the table if needed.
    pub async fn new(db: Database) -> Result<SqlAudit, AuditError> {
        db.migrate("attester", MIGRATIONS).await?;
        Ok(SqlAudit { db })
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    async fn try_append(&self, entries: &[AuditEntry]) -> Result<Vec<AuditRecord>, sqlx::Error> {
        let mut tx = self.db.begin_write().await?;
        let head: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM attester_audit ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
        let (mut seq, mut prev) = match head {
            None => (0, GENESIS),
            Some((seq, hash)) => (
                seq,
                // A malformed head cannot be chained onto; refuse rather than fork the chain.
                parse_hash(&hash).ok_or_else(|| {
                    sqlx::Error::Decode(
                        "attester_audit.hash of the head is not a SHA-256 hex value".into(),
                    )
                })?,
            ),
        };
        let mut records = Vec::with_capacity(entries.len());
        for entry in entries {
            seq += 1;
            let record = AuditRecord::chain(seq, entry.clone(), prev);
            prev = record.hash;
            sqlx::query(
                "INSERT INTO attester_audit (seq, time, identity, evidence, pod, client_id, \
                 ci_thumbprint, jti, kid, exp, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(record.seq)
            .bind(record.entry.time)
            .bind(&record.entry.identity)
            .bind(record.entry.evidence.as_str())
            .bind(record.entry.pod.as_deref())
            .bind(&record.entry.client_id)
            .bind(&record.entry.ci_thumbprint)
            .bind(&record.entry.jti)
            .bind(&record.entry.kid)
            .bind(record.entry.exp)
            .bind(hex(&record.prev_hash))
            .bind(hex(&record.hash))
            .execute(&mut *tx)
            .await?;
            records.push(record);
        }
        tx.commit().await?;
        Ok(records)
    }
}

fn is_conflict(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

impl AuditStore for SqlAudit {
    fn append<'a>(&'a self, entries: &'a [AuditEntry]) -> AuditFuture<'a, Vec<AuditRecord>> {
        Box::pin(async move {
            for _ in 0..APPEND_ATTEMPTS {
                match self.try_append(entries).await {
                    Ok(records) => return Ok(records),
                    Err(e) if is_conflict(&e) => {}
                    Err(source) => {
                        return Err(AuditError::Database {
                            op: "append to attester_audit",
                            source,
                        });
                    }
                }
            }
            Err(AuditError::Contended(APPEND_ATTEMPTS))
        })
    }

    fn page(&self, after: i64, limit: u32) -> AuditFuture<'_, Vec<AuditRecord>> {
        Box::pin(async move {
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT seq, time, identity, evidence, pod, client_id, ci_thumbprint, jti, kid, \
                 exp, prev_hash, hash FROM attester_audit WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(self.db.pool())
            .await
            .map_err(AuditError::db("read attester_audit"))?;
            rows.into_iter().map(Row::into_record).collect()
        })
    }

    fn head(&self) -> AuditFuture<'_, Option<(i64, Hash)>> {
        Box::pin(async move {
            let head: Option<(i64, String)> =
                sqlx::query_as("SELECT seq, hash FROM attester_audit ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(self.db.pool())
                    .await
                    .map_err(AuditError::db("read the audit head"))?;
            match head {
                None => Ok(None),
                Some((seq, hash)) => {
                    parse_hash(&hash)
                        .map(|h| Some((seq, h)))
                        .ok_or(AuditError::Malformed {
                            seq,
                            column: "hash",
                        })
                }
            }
        })
    }

    fn ping(&self) -> AuditFuture<'_, ()> {
        Box::pin(async move { self.db.ping().await.map_err(AuditError::Store) })
    }
}
