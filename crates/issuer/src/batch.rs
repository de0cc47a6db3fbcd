//! Group commit for the two writes every issuance makes: redeeming a pre-authorized code
//! (with its access token) and recording issued credentials (their status entries).
//!
//! Requests hand their write to a writer task and wait for its answer. The writer takes
//! whatever is waiting (up to [`MAX_BATCH`]) and writes it with one multi-row statement, so
//! under load one database round trip and one commit serve many requests; alone, a request
//! is written at once. Each request's own rules are kept inside the statement: a code is
//! redeemed only while live and unused (of two requests for the same code in one batch, one
//! wins), and a request's credentials are recorded all or none (rows of a request that lost
//! a status entry to another replica are deleted before the commit).

use crate::db::{NewCredential, Redemption, TokenRow};
use sqlx::Row;
use std::sync::Arc;
use store::Database;
use tokio::sync::{mpsc, oneshot};

/// Most requests written by one statement.
pub(crate) const MAX_BATCH: usize = 64;

/// The writer failed; every request of the batch gets the same error.
pub(crate) type Shared = Arc<sqlx::Error>;

/// A code redemption: the code's hash, the time, the attempt limit, and the token to record.
#[derive(Debug)]
pub(crate) struct RedeemJob {
    pub(crate) code_hash: String,
    pub(crate) now: i64,
    pub(crate) max_attempts: i64,
    pub(crate) token_hash: String,
    pub(crate) token_expires_at: i64,
    pub(crate) client_id: String,
    pub(crate) jkt: String,
    pub(crate) cnf_jwk: String,
    pub(crate) attestation_hash: String,
    /// Empty for a bearer token (NULL in the row).
    pub(crate) dpop_jkt: String,
}

impl RedeemJob {
    pub(crate) fn new(code_hash: &str, now: i64, max_attempts: i64, r: &Redemption<'_>) -> Self {
        RedeemJob {
            code_hash: code_hash.to_owned(),
            now,
            max_attempts,
            token_hash: r.token_hash.to_owned(),
            token_expires_at: r.token_expires_at,
            client_id: r.client_id.to_owned(),
            jkt: r.jkt.to_owned(),
            cnf_jwk: r.cnf_jwk.to_owned(),
            attestation_hash: r.attestation_hash.to_owned(),
            dpop_jkt: r.dpop_jkt.unwrap_or_default().to_owned(),
        }
    }
}

type RedeemReply = oneshot::Sender<Result<Option<TokenRow>, Shared>>;
type RecordReply = oneshot::Sender<Result<bool, Shared>>;

/// The two writers of one issuer.
#[derive(Debug, Clone)]
pub(crate) struct Writers {
    redeem: mpsc::Sender<(RedeemJob, RedeemReply)>,
    record: mpsc::Sender<(Vec<NewCredential>, RecordReply)>,
}

/// The writer task is gone (the runtime is shutting down).
fn gone() -> Shared {
    Arc::new(sqlx::Error::PoolClosed)
}

impl Writers {
    /// Starts both writers on the current runtime.
    pub(crate) fn spawn(db: &Database) -> Writers {
        let (redeem, mut redeem_rx) = mpsc::channel::<(RedeemJob, RedeemReply)>(4 * MAX_BATCH);
        let (record, mut record_rx) =
            mpsc::channel::<(Vec<NewCredential>, RecordReply)>(4 * MAX_BATCH);
        let db1 = db.clone();
        tokio::spawn(async move {
            while let Some(first) = redeem_rx.recv().await {
                service::batch::gather().await;
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match redeem_rx.try_recv() {
                        Ok(j) => batch.push(j),
                        Err(_) => break,
                    }
                }
                let (jobs, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                match redeem_batch(&db1, &jobs).await {
                    Ok(rows) => {
                        for (job, reply) in jobs.iter().zip(replies) {
                            let won = rows
                                .iter()
                                .find(|(hash, _)| *hash == job.token_hash)
                                .map(|(_, r)| r.clone());
                            let _gone = reply.send(Ok(won));
                        }
                    }
                    Err(e) => {
                        let e = Arc::new(e);
                        for reply in replies {
                            let _gone = reply.send(Err(Arc::clone(&e)));
                        }
                    }
                }
            }
        });
        let db2 = db.clone();
        tokio::spawn(async move {
            while let Some(first) = record_rx.recv().await {
                service::batch::gather().await;
                let mut batch = vec![first];
                let mut rows = batch.first().map_or(0, |(r, _)| r.len());
                while batch.len() < MAX_BATCH && rows < MAX_BATCH {
                    match record_rx.try_recv() {
                        Ok(j) => {
                            rows += j.0.len();
                            batch.push(j);
                        }
                        Err(_) => break,
                    }
                }
                let (jobs, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                match record_batch(&db2, &jobs).await {
                    Ok(done) => {
                        for (ok, reply) in done.into_iter().zip(replies) {
                            let _gone = reply.send(Ok(ok));
                        }
                    }
                    Err(e) => {
                        let e = Arc::new(e);
                        for reply in replies {
                            let _gone = reply.send(Err(Arc::clone(&e)));
                        }
                    }
                }
            }
        });
        Writers { redeem, record }
    }

    /// Redeems a code (fast path: offers without transaction code); `None` if it is
    /// unknown, used, expired, dead or needs a transaction code.
    pub(crate) async fn redeem(&self, job: RedeemJob) -> Result<Option<TokenRow>, Shared> {
        let (tx, rx) = oneshot::channel();
        self.redeem.send((job, tx)).await.map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// Records one request's credentials, all or none; `false` when a status entry was
    /// taken meanwhile (nothing recorded).
    pub(crate) async fn record(&self, rows: Vec<NewCredential>) -> Result<bool, Shared> {
        let (tx, rx) = oneshot::channel();
        self.record.send((rows, tx)).await.map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }
}

/// `($a, $b, …), (…)` for `rows` rows of `cols` parameters.
fn placeholders(rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push_str(", ");
            }
            s.push('$');
            s.push_str(&(r * cols + c + 1).to_string());
        }
        s.push(')');
    }
    s
}

/// One `UPDATE … FROM (VALUES …)` redeeming every code it can; returns the token hash and
/// row of each redemption that won.
async fn redeem_batch(
    db: &Database,
    jobs: &[RedeemJob],
) -> Result<Vec<(String, TokenRow)>, sqlx::Error> {
    // VALUES columns are named column1… on both SQLite and PostgreSQL.
    let sql = format!(
        "UPDATE issuer_offers SET redeemed_at = v.column1, token_hash = v.column2,
             token_expires_at = v.column3, client_id = v.column4, jkt = v.column5,
             cnf_jwk = v.column6, attestation_hash = v.column7,
             dpop_jkt = NULLIF(v.column10, '')
         FROM (VALUES {}) AS v
         WHERE issuer_offers.code_hash = v.column8 AND issuer_offers.redeemed_at IS NULL
             AND issuer_offers.expires_at > v.column1 AND issuer_offers.tx_attempts < v.column9
             AND issuer_offers.tx_code_hash IS NULL
         RETURNING issuer_offers.token_hash, issuer_offers.id, issuer_offers.configuration_ids,
             issuer_offers.claims, issuer_offers.token_expires_at, issuer_offers.client_id,
             issuer_offers.jkt, issuer_offers.dpop_jkt",
        placeholders(jobs.len(), 10)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for j in jobs {
        q = q
            .bind(j.now)
            .bind(j.token_hash.as_str())
            .bind(j.token_expires_at)
            .bind(j.client_id.as_str())
            .bind(j.jkt.as_str())
            .bind(j.cnf_jwk.as_str())
            .bind(j.attestation_hash.as_str())
            .bind(j.code_hash.as_str())
            .bind(j.max_attempts)
            .bind(j.dpop_jkt.as_str());
    }
    let rows = q.fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>(0)?,
                TokenRow {
                    id: r.try_get(1)?,
                    configuration_ids: r.try_get(2)?,
                    claims: r.try_get(3)?,
                    token_expires_at: r.try_get(4)?,
                    client_id: r.try_get(5)?,
                    jkt: r.try_get(6)?,
                    dpop_jkt: r.try_get(7)?,
                },
            ))
        })
        .collect()
}

const CREDENTIAL_INSERT: &str = "INSERT INTO issuer_credentials (id, offer_id, notification_id,
     configuration_id, holder_jkt, status_list, status_idx, kid, issued_at, expires_at) VALUES ";

/// One multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING id`; a request with a row that
/// was not inserted gets `false` and its other rows are deleted in the same transaction.
async fn record_batch(
    db: &Database,
    jobs: &[Vec<NewCredential>],
) -> Result<Vec<bool>, sqlx::Error> {
    let rows: Vec<&NewCredential> = jobs.iter().flatten().collect();
    let sql = format!(
        "{CREDENTIAL_INSERT}{} ON CONFLICT (status_list, status_idx) DO NOTHING RETURNING id",
        placeholders(rows.len(), 10)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for c in &rows {
        q = q
            .bind(c.id.as_str())
            .bind(c.offer_id.as_str())
            .bind(c.notification_id.as_str())
            .bind(c.configuration_id.as_str())
            .bind(c.holder_jkt.as_str())
            .bind(c.status_list.as_str())
            .bind(c.status_idx)
            .bind(c.kid.as_str())
            .bind(c.issued_at)
            .bind(c.expires_at);
    }
    let atomic_needed = jobs.iter().any(|j| j.len() > 1);
    let inserted: Vec<String> = if atomic_needed {
        let mut tx = db.begin_write().await?;
        let ids: Vec<String> = q
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?;
        for job in jobs {
            let partial =
                job.iter().any(|c| ids.contains(&c.id)) && !job.iter().all(|c| ids.contains(&c.id));
            if partial {
                for c in job {
                    sqlx::query("DELETE FROM issuer_credentials WHERE id = $1")
                        .bind(c.id.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        ids
    } else {
        q.fetch_all(db.pool())
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?
    };
    Ok(jobs
        .iter()
        .map(|job| job.iter().all(|c| inserted.contains(&c.id)))
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_rows_then_columns() {
        assert_eq!(super::placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::placeholders(1, 1), "($1)");
    }
}
