//! Transactions in SQL: SQLite (embedded default, WAL) or PostgreSQL, through one set of
//! portable statements. Answering is a conditional `UPDATE … WHERE status = 'pending' AND
//! expires_at > now … RETURNING request_id`, so across processes and replicas a
//! transaction is answered at most once; the response code is consumed the same way.
//!
//! Answers are written by one writer task that takes whatever answers are queued and
//! applies them in a single statement (`UPDATE … FROM (VALUES …)`): under load many
//! answers share one round trip and one commit, idle a single answer goes alone at once.
//! A transaction appears at most once per statement, so each answer learns on its own
//! whether it won.

use std::collections::HashSet;

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use store::{Database, Migration};
use tokio::sync::{mpsc, oneshot};

use crate::transaction::{
    Finish, FinishOutcome, Flow, Status, StoreError, StoreFuture, Transaction, TransactionStore,
};
use oid4vp::{ClientIdPrefix, RequestUriMethod, ResponseMode};

/// The verifier's tables: append-only, never edit a released entry (see `store`).
/// `BIGINT` for times, `TEXT` for everything else (the sealed key is base64url), so one
/// text serves SQLite and PostgreSQL.
const MIGRATIONS: &[Migration] = &[Migration::portable(
    1,
    "transactions",
    "CREATE TABLE verifier_transactions (
        id TEXT PRIMARY KEY,
        request_id TEXT NOT NULL UNIQUE,
        nonce TEXT NOT NULL,
        policy TEXT NOT NULL,
        dcql_query TEXT NOT NULL,
        prefix TEXT NOT NULL,
        client_id TEXT NOT NULL,
        response_mode TEXT NOT NULL,
        request_uri_method TEXT NOT NULL,
        sealed_key TEXT,
        flow TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        finished_at BIGINT,
        result TEXT
    );
    CREATE INDEX verifier_transactions_expires ON verifier_transactions (expires_at);",
)];

const COLUMNS: &str = "id, request_id, nonce, policy, dcql_query, prefix, client_id, response_mode, \
    request_uri_method, sealed_key, flow, status, created_at, expires_at, finished_at, result";

/// The SQL transaction store.
#[derive(Clone, Debug)]
pub struct SqlTransactions {
    pool: AnyPool,
    writer: mpsc::Sender<Job>,
}

/// One answer waiting for the writer.
#[derive(Debug)]
struct Job {
    request_id: String,
    finish: Finish,
    now: i64,
    reply: oneshot::Sender<Result<bool, StoreError>>,
}

/// Most answers per statement (4 parameters each, far below every parameter limit).
const MAX_BATCH: usize = 256;

fn db(e: sqlx::Error) -> StoreError {
    StoreError::database(e)
}

impl SqlTransactions {
    /// Uses `db` (the role's `store::Database`), applying the verifier's migrations.
    pub async fn new(db: &Database) -> Result<Self, StoreError> {
        db.migrate("verifier", MIGRATIONS)
            .await
            .map_err(StoreError::Migrate)?;
        let pool = db.pool().clone();
        let (writer, jobs) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(write_answers(pool.clone(), jobs));
        Ok(SqlTransactions { pool, writer })
    }
}

/// The writer task: applies queued answers in batches until every sender is gone.
async fn write_answers(pool: AnyPool, mut jobs: mpsc::Receiver<Job>) {
    let mut carry: Vec<Job> = Vec::new();
    loop {
        let mut batch: Vec<Job> = Vec::new();
        let mut ids: HashSet<String> = HashSet::new();
        let mut later: Vec<Job> = Vec::new();
        for job in carry.drain(..) {
            if batch.len() < MAX_BATCH && ids.insert(job.request_id.clone()) {
                batch.push(job);
            } else {
                later.push(job);
            }
        }
        carry = later;
        if batch.is_empty() {
            match jobs.recv().await {
                Some(job) => {
                    ids.insert(job.request_id.clone());
                    batch.push(job);
                }
                None => return,
            }
        }
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                // The same transaction twice in one statement could match twice: the
                // second answer waits for the next statement, where it loses.
                Ok(job) if !ids.insert(job.request_id.clone()) => carry.push(job),
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match apply(&pool, &batch).await {
            Ok(won) => {
                for job in batch {
                    let _ = job.reply.send(Ok(won.contains(&job.request_id)));
                }
            }
            Err(e) => {
                let e = std::sync::Arc::new(e);
                for job in batch {
                    let _ = job
                        .reply
                        .send(Err(StoreError::Database(std::sync::Arc::clone(&e))));
                }
            }
        }
    }
}

/// One statement answering `batch`; returns the request ids it answered.
async fn apply(pool: &AnyPool, batch: &[Job]) -> Result<HashSet<String>, sqlx::Error> {
    let mut sql = String::from(
        "UPDATE verifier_transactions SET status = v.column2, result = v.column3, \
         finished_at = v.column4, sealed_key = NULL FROM (VALUES ",
    );
    for i in 0..batch.len() {
        let p = i * 4;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("(${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4));
    }
    sql.push_str(
        ") AS v WHERE verifier_transactions.request_id = v.column1 \
         AND verifier_transactions.status = 'pending' \
         AND verifier_transactions.expires_at > v.column4 \
         RETURNING verifier_transactions.request_id",
    );
    // Only placeholders are interpolated: every value is bound.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for job in batch {
        query = query
            .bind(job.request_id.clone())
            .bind(job.finish.status.name().to_owned())
            .bind(job.finish.result.to_string())
            .bind(job.now);
    }
    let rows = query.fetch_all(pool).await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<HashSet<_>, _>>()
}

fn parse<T>(what: &'static str, v: Option<T>) -> Result<T, StoreError> {
    v.ok_or(StoreError::Unrecognised(what))
}

fn from_row(row: &AnyRow) -> Result<Transaction, StoreError> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
    let opt_text = |name: &str| row.try_get::<Option<String>, _>(name).map_err(db);
    let int = |name: &str| row.try_get::<i64, _>(name).map_err(db);
    let sealed_key = match opt_text("sealed_key")? {
        None => None,
        Some(s) => Some(parse("sealed key", jose::b64::decode(s))?),
    };
    let result = match opt_text("result")? {
        None => None,
        Some(s) => Some(serde_json::from_str(&s).map_err(StoreError::StoredResult)?),
    };
    Ok(Transaction {
        id: text("id")?,
        request_id: text("request_id")?,
        nonce: text("nonce")?,
        policy: text("policy")?,
        dcql_query: text("dcql_query")?,
        prefix: parse("prefix", ClientIdPrefix::from_name(&text("prefix")?))?,
        client_id: text("client_id")?,
        response_mode: parse(
            "response mode",
            ResponseMode::from_name(&text("response_mode")?),
        )?,
        request_uri_method: parse(
            "request_uri_method",
            RequestUriMethod::from_name(&text("request_uri_method")?),
        )?,
        sealed_key,
        flow: parse("flow", Flow::from_name(&text("flow")?))?,
        status: parse("status", Status::from_name(&text("status")?))?,
        created_at: int("created_at")?,
        expires_at: int("expires_at")?,
        finished_at: row.try_get::<Option<i64>, _>("finished_at").map_err(db)?,
        result,
    })
}

impl SqlTransactions {
    async fn select(&self, column: &str, value: &str) -> Result<Option<Transaction>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM verifier_transactions WHERE {column} = $1");
        // `column` is one of two constants and COLUMNS is a constant: no input in the text.
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(value.to_owned())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(from_row).transpose()
    }
}

impl TransactionStore for SqlTransactions {
    fn insert<'a>(&'a self, tx: &'a Transaction) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let sql = format!(
                "INSERT INTO verifier_transactions ({COLUMNS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tx.id.clone())
                .bind(tx.request_id.clone())
                .bind(tx.nonce.clone())
                .bind(tx.policy.clone())
                .bind(tx.dcql_query.clone())
                .bind(tx.prefix.name().to_owned())
                .bind(tx.client_id.clone())
                .bind(tx.response_mode.name().to_owned())
                .bind(tx.request_uri_method.name().to_owned())
                .bind(tx.sealed_key.as_ref().map(jose::b64::encode))
                .bind(tx.flow.name().to_owned())
                .bind(tx.status.name().to_owned())
                .bind(tx.created_at)
                .bind(tx.expires_at)
                .bind(tx.finished_at)
                .bind(tx.result.as_ref().map(ToString::to_string))
                .execute(&self.pool)
                .await
                .map_err(db)?;
            Ok(())
        })
    }

    fn by_id<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Transaction>> {
        Box::pin(self.select("id", id))
    }

    fn by_request_id<'a>(&'a self, request_id: &'a str) -> StoreFuture<'a, Option<Transaction>> {
        Box::pin(self.select("request_id", request_id))
    }

    fn finish<'a>(
        &'a self,
        request_id: &'a str,
        finish: &'a Finish,
        now: i64,
    ) -> StoreFuture<'a, FinishOutcome> {
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            let job = Job {
                request_id: request_id.to_owned(),
                finish: finish.clone(),
                now,
                reply,
            };
            self.writer
                .send(job)
                .await
                .map_err(|_| StoreError::WriterStopped)?;
            let won = answer.await.map_err(|_| StoreError::WriterStopped)??;
            if won {
                return Ok(FinishOutcome::Done);
            }
            Ok(match self.select("request_id", request_id).await? {
                None => FinishOutcome::Unknown,
                Some(t) if t.status != Status::Pending => FinishOutcome::AlreadyAnswered,
                Some(_) => FinishOutcome::Expired,
            })
        })
    }

    fn purge(&self, answered_before: i64, expired_before: i64) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let done = sqlx::query(
                "DELETE FROM verifier_transactions WHERE \
                 (finished_at IS NOT NULL AND finished_at < $1) OR \
                 (finished_at IS NULL AND expires_at < $2)",
            )
            .bind(answered_before)
            .bind(expired_before)
            .execute(&self.pool)
            .await
            .map_err(db)?;
            Ok(done.rows_affected())
        })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            sqlx::query("SELECT 1")
                .execute(&self.pool)
                .await
                .map_err(db)?;
            Ok(())
        })
    }
}
