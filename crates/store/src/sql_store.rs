//! Database single-use store and rate limiter: replay protection across replicas when
//! PostgreSQL is there and Redis is not, and across restarts on SQLite.
//!
//! Each operation is one statement, atomic on both engines:
//! - insert: `INSERT … ON CONFLICT DO UPDATE … WHERE <the old row has expired>`: one row
//!   changed means this caller won (a fresh key, or an expired leftover replaced); none
//!   means a live entry exists. PostgreSQL re-checks the condition on the latest row
//!   version under its row lock, so concurrent inserts of one key have one winner.
//! - take: `DELETE … RETURNING`: only the statement that deletes the row sees it; a
//!   concurrent delete of the same row waits and then finds nothing.
//! - rate limit: an upsert that restarts or increments the window and returns the count.
//!
//! Times are Unix seconds from the injected clock; entries are live through their
//! `expires_at` second.
//!
//! **Group commit on SQLite.** SQLite has one writer at a time, and a commit (WAL append,
//! lock hand-over between pooled connections) costs far more than the statement. So on
//! SQLite, inserts and takes are handed to one writer task that runs every operation
//! waiting (up to [`MAX_BATCH`]) in order inside one `BEGIN IMMEDIATE` transaction and
//! answers each caller only after the commit: nothing is reported done before it is
//! durable, and the operations of a batch see each other in queue order, as one at a time
//! would. If the batch fails (the transaction is rolled back whole), each operation is
//! run again on its own, so every caller gets its own outcome or its own error. PostgreSQL
//! keeps one autocommitted statement per operation: it has concurrent writers and row
//! locks, and batching across replicas could only add lock waits.

use std::sync::Arc;
use std::time::Duration;

use jose::jwt::Clock;
use tokio::sync::{mpsc, oneshot};

use crate::Error;
use crate::db::{Backend, Database};
use crate::key::{self, KeyHash, Purpose};
use crate::migrate::Migration;
use crate::rate::{RateDecision, RateLimiter};
use crate::single_use::{InsertOutcome, SingleUse, StoreFuture};

/// The migration component name of this crate's own tables.
pub const COMPONENT: &str = "store";

/// This crate's tables. `WITHOUT ROWID` on SQLite: the primary key is the only access path.
pub const MIGRATIONS: &[Migration] = &[Migration::per_backend(
    1,
    "single-use and rate-limit tables",
    "CREATE TABLE store_single_use (
        namespace TEXT NOT NULL,
        key_hash BLOB NOT NULL,
        value BLOB NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (namespace, key_hash)
    ) WITHOUT ROWID;
    CREATE INDEX store_single_use_expires ON store_single_use (expires_at);
    CREATE TABLE store_rate_limit (
        namespace TEXT NOT NULL,
        key_hash BLOB NOT NULL,
        hits BIGINT NOT NULL,
        window_end BIGINT NOT NULL,
        PRIMARY KEY (namespace, key_hash)
    ) WITHOUT ROWID;
    CREATE INDEX store_rate_limit_end ON store_rate_limit (window_end);",
    "CREATE TABLE store_single_use (
        namespace TEXT NOT NULL,
        key_hash BYTEA NOT NULL,
        value BYTEA NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (namespace, key_hash)
    );
    CREATE INDEX store_single_use_expires ON store_single_use (expires_at);
    CREATE TABLE store_rate_limit (
        namespace TEXT NOT NULL,
        key_hash BYTEA NOT NULL,
        hits BIGINT NOT NULL,
        window_end BIGINT NOT NULL,
        PRIMARY KEY (namespace, key_hash)
    );
    CREATE INDEX store_rate_limit_end ON store_rate_limit (window_end);",
)];

/// Most operations one SQLite transaction carries.
pub const MAX_BATCH: usize = 64;

/// The database backend for both [`SingleUse`] and [`RateLimiter`].
#[derive(Clone)]
pub struct SqlStore {
    db: Database,
    clock: Arc<dyn Clock>,
    /// The group-commit writer (SQLite only).
    writer: Option<mpsc::Sender<Job>>,
}

/// One single-use operation, its key already hashed, its times already taken.
#[derive(Debug)]
enum Op {
    Insert {
        namespace: String,
        hash: Vec<u8>,
        value: Vec<u8>,
        expires_at: i64,
        now: i64,
    },
    Take {
        namespace: String,
        hash: Vec<u8>,
    },
}

/// What an operation found: `Insert` → whether a row was written; `Take` → the row.
#[derive(Debug)]
enum Done {
    Inserted(bool),
    Taken(Option<(Vec<u8>, i64)>),
}

type Job = (Op, oneshot::Sender<Result<Done, Error>>);

impl Op {
    /// Runs the operation's one statement on `conn` (a pooled connection, or the batch's
    /// transaction).
    async fn run<'c, E>(&self, conn: E) -> Result<Done, sqlx::Error>
    where
        E: sqlx::Executor<'c, Database = sqlx::Any>,
    {
        match self {
            Op::Insert {
                namespace,
                hash,
                value,
                expires_at,
                now,
            } => {
                let done = sqlx::query(
                    "INSERT INTO store_single_use (namespace, key_hash, value, expires_at) \
                     VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (namespace, key_hash) DO UPDATE \
                     SET value = excluded.value, expires_at = excluded.expires_at \
                     WHERE store_single_use.expires_at < $5",
                )
                .bind(namespace.as_str())
                .bind(hash.as_slice())
                .bind(value.as_slice())
                .bind(*expires_at)
                .bind(*now)
                .execute(conn)
                .await?;
                Ok(Done::Inserted(done.rows_affected() == 1))
            }
            Op::Take { namespace, hash } => {
                let row: Option<(Vec<u8>, i64)> = sqlx::query_as(
                    "DELETE FROM store_single_use WHERE namespace = $1 AND key_hash = $2 \
                     RETURNING value, expires_at",
                )
                .bind(namespace.as_str())
                .bind(hash.as_slice())
                .fetch_optional(conn)
                .await?;
                Ok(Done::Taken(row))
            }
        }
    }

    fn what(&self) -> &'static str {
        match self {
            Op::Insert { .. } => "insert single-use entry",
            Op::Take { .. } => "take single-use entry",
        }
    }
}

/// Runs `ops` in order in one write transaction; the results, once committed.
async fn run_batch(db: &Database, ops: &[&Op]) -> Result<Vec<Done>, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let mut done = Vec::with_capacity(ops.len());
    for op in ops {
        done.push(op.run(&mut *tx).await?);
    }
    tx.commit().await?;
    Ok(done)
}

/// The SQLite writer: takes what is waiting, commits it once, answers each caller.
async fn write_loop(db: Database, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.recv().await {
        // Let requests that are already runnable queue their operation too (as the
        // issuer's and attester's group-commit writers do): a commit saved per joiner.
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let ops: Vec<&Op> = batch.iter().map(|(op, _)| op).collect();
        match run_batch(&db, &ops).await {
            Ok(done) => {
                for ((_, reply), done) in batch.into_iter().zip(done) {
                    let _gone = reply.send(Ok(done));
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, size = batch.len(), "single-use batch failed; running its operations one by one");
                for (op, reply) in batch {
                    let outcome = op.run(db.pool()).await.map_err(Error::db(op.what()));
                    let _gone = reply.send(outcome);
                }
            }
        }
    }
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// Creates the tables if needed (migration component [`COMPONENT`]) and returns the
    /// store.
    pub async fn new(db: Database, clock: Arc<dyn Clock>) -> Result<SqlStore, Error> {
        db.migrate(COMPONENT, MIGRATIONS).await?;
        let writer = (db.backend() == Backend::Sqlite).then(|| {
            let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
            tokio::spawn(write_loop(db.clone(), rx));
            tx
        });
        Ok(SqlStore { db, clock, writer })
    }

    /// Runs `op`: through the writer on SQLite, as its own statement on PostgreSQL.
    async fn execute(&self, op: Op) -> Result<Done, Error> {
        let what = op.what();
        let Some(writer) = &self.writer else {
            return op.run(self.db.pool()).await.map_err(Error::db(what));
        };
        let (reply, answer) = oneshot::channel();
        // The writer ends only with the runtime; then the pool is closing too.
        let closed = || Error::db(what)(sqlx::Error::PoolClosed);
        writer.send((op, reply)).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    async fn insert(
        &self,
        namespace: &str,
        key: &[u8],
        value: &[u8],
        ttl: Duration,
    ) -> Result<InsertOutcome, Error> {
        key::check_namespace(namespace)?;
        key::check_value(value)?;
        let ttl = key::duration_secs(ttl)?;
        let hash = KeyHash::new(Purpose::SingleUse, namespace, key);
        let now = self.clock.now();
        let op = Op::Insert {
            namespace: namespace.to_owned(),
            hash: hash.as_bytes().to_vec(),
            value: value.to_vec(),
            expires_at: now.saturating_add(ttl),
            now,
        };
        Ok(match self.execute(op).await? {
            Done::Inserted(true) => InsertOutcome::Inserted,
            Done::Inserted(false) | Done::Taken(_) => InsertOutcome::AlreadyPresent,
        })
    }

    async fn remove(&self, namespace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        key::check_namespace(namespace)?;
        let hash = KeyHash::new(Purpose::SingleUse, namespace, key);
        // An expired row is deleted too (it is garbage either way) but not returned.
        let op = Op::Take {
            namespace: namespace.to_owned(),
            hash: hash.as_bytes().to_vec(),
        };
        let row = match self.execute(op).await? {
            Done::Taken(row) => row,
            Done::Inserted(_) => None,
        };
        let now = self.clock.now();
        Ok(row.and_then(|(value, expires_at)| (expires_at >= now).then_some(value)))
    }

    async fn purge(&self) -> Result<u64, Error> {
        let now = self.clock.now();
        let single = sqlx::query("DELETE FROM store_single_use WHERE expires_at < $1")
            .bind(now)
            .execute(self.db.pool())
            .await
            .map_err(Error::db("purge single-use entries"))?;
        sqlx::query("DELETE FROM store_rate_limit WHERE window_end <= $1")
            .bind(now)
            .execute(self.db.pool())
            .await
            .map_err(Error::db("purge rate-limit windows"))?;
        Ok(single.rows_affected())
    }

    async fn count(
        &self,
        namespace: &str,
        key: &[u8],
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, Error> {
        key::check_namespace(namespace)?;
        let window = key::duration_secs(window)?;
        let hash = KeyHash::new(Purpose::RateLimit, namespace, key);
        let now = self.clock.now();
        // SET expressions read the row as it was before the update, on both engines. The
        // count saturates just past the limit so it never grows without bound.
        let (hits, window_end): (i64, i64) = sqlx::query_as(
            "INSERT INTO store_rate_limit (namespace, key_hash, hits, window_end) \
             VALUES ($1, $2, 1, $3) \
             ON CONFLICT (namespace, key_hash) DO UPDATE SET \
             hits = CASE WHEN store_rate_limit.window_end <= $4 THEN 1 \
                         WHEN store_rate_limit.hits > $5 THEN store_rate_limit.hits \
                         ELSE store_rate_limit.hits + 1 END, \
             window_end = CASE WHEN store_rate_limit.window_end <= $4 THEN excluded.window_end \
                               ELSE store_rate_limit.window_end END \
             RETURNING hits, window_end",
        )
        .bind(namespace)
        .bind(hash.as_bytes())
        .bind(now.saturating_add(window))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_one(self.db.pool())
        .await
        .map_err(Error::db("count rate-limit hit"))?;
        Ok(RateDecision::from_count(hits, limit, window_end - now))
    }
}

impl SingleUse for SqlStore {
    fn insert_once<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a [u8],
        ttl: Duration,
    ) -> StoreFuture<'a, InsertOutcome> {
        Box::pin(self.insert(namespace, key, &[], ttl))
    }

    fn put<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a [u8],
        value: &'a [u8],
        ttl: Duration,
    ) -> StoreFuture<'a, InsertOutcome> {
        Box::pin(self.insert(namespace, key, value, ttl))
    }

    fn take<'a>(&'a self, namespace: &'a str, key: &'a [u8]) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(self.remove(namespace, key))
    }

    fn purge_expired(&self) -> StoreFuture<'_, u64> {
        Box::pin(self.purge())
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(self.db.ping())
    }
}

impl RateLimiter for SqlStore {
    fn check<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a [u8],
        limit: u32,
        window: Duration,
    ) -> StoreFuture<'a, RateDecision> {
        Box::pin(self.count(namespace, key, limit, window))
    }
}
