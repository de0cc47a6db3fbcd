//! The audit log: every attestation the A-Key signs is first appended to a durable,
//! hash-chained log ([`record`]): time, caller identity, pod, client_id, CI-Key thumbprint,
//! `jti`, A-Key `kid`, `exp`. The record is committed **before** the signature is made; if
//! it cannot be written, nothing is signed and the caller gets `503`.
//!
//! - [`AuditStore`]: where records live; [`sql::SqlAudit`] on the role's SQLite or
//!   PostgreSQL database (table `attester_audit`, created by the crate's migrations).
//! - [`AuditLog`]: the one writer per process. Requests hand it entries; it appends them in
//!   batches (one transaction for everything that queued up while the previous batch was
//!   being written), so the chain stays in order and a busy attester pays one commit per
//!   batch, not per signature.
//! - [`verify`]: walks the whole log page by page and checks the chain
//!   (`symbolon attester audit verify`).

pub mod record;
pub mod sql;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

pub use record::{
    AuditEntry, AuditRecord, ChainError, ChainSummary, ChainVerifier, GENESIS, Hash, hex,
    parse_hash,
};

/// Largest batch one transaction writes.
const MAX_BATCH: usize = 256;
/// Requests that may wait for the writer before new ones are refused.
const QUEUE: usize = 4096;

/// The future the store methods return.
pub type AuditFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, AuditError>> + Send + 'a>>;

/// The audit log could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A database statement failed.
    #[error("{op}: {source}")]
    Database {
        /// What was being done.
        op: &'static str,
        /// sqlx's error.
        source: sqlx::Error,
    },
    /// The database could not be prepared (migrations) or reached (ping).
    #[error(transparent)]
    Store(#[from] store::Error),
    /// Other writers kept taking the next sequence number (several replicas appending at
    /// once); the entry was not written.
    #[error("the audit log stayed contended after {0} attempts")]
    Contended(u32),
    /// A stored value cannot be decoded.
    #[error("record {seq}: stored {column} is malformed")]
    Malformed {
        /// The record.
        seq: i64,
        /// The column.
        column: &'static str,
    },
    /// The batch holding this entry could not be written.
    #[error("audit batch failed: {0}")]
    Batch(#[source] Arc<AuditError>),
    /// The writer task is gone or its queue is full.
    #[error("the audit writer is not accepting records")]
    WriterUnavailable,
}

impl AuditError {
    /// Wraps a sqlx error with what was being done.
    pub fn db(op: &'static str) -> impl FnOnce(sqlx::Error) -> AuditError {
        move |source| AuditError::Database { op, source }
    }
}

/// Durable storage of the chained records.
pub trait AuditStore: Send + Sync + fmt::Debug {
    /// Appends `entries`, in order, after the current head, all or none; returns the
    /// chained records.
    fn append<'a>(&'a self, entries: &'a [AuditEntry]) -> AuditFuture<'a, Vec<AuditRecord>>;

    /// Records with `seq > after`, in order, at most `limit`.
    fn page(&self, after: i64, limit: u32) -> AuditFuture<'_, Vec<AuditRecord>>;

    /// The newest record, `(seq, hash)`.
    fn head(&self) -> AuditFuture<'_, Option<(i64, Hash)>>;

    /// One round trip, for readiness.
    fn ping(&self) -> AuditFuture<'_, ()>;
}

type Reply = oneshot::Sender<Result<AuditRecord, Arc<AuditError>>>;

/// The process's audit writer. Cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    queue: mpsc::Sender<(AuditEntry, Reply)>,
    store: Arc<dyn AuditStore>,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Starts the writer task on the current Tokio runtime.
    pub fn spawn(store: Arc<dyn AuditStore>) -> AuditLog {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(writer(Arc::clone(&store), rx));
        AuditLog { queue, store }
    }

    /// Appends one entry and waits until it is committed.
    pub async fn append(&self, entry: AuditEntry) -> Result<AuditRecord, AuditError> {
        let (tx, rx) = oneshot::channel();
        self.queue
            .try_send((entry, tx))
            .map_err(|_| AuditError::WriterUnavailable)?;
        match rx.await {
            Ok(Ok(record)) => Ok(record),
            Ok(Err(e)) => Err(AuditError::Batch(e)),
            Err(_) => Err(AuditError::WriterUnavailable),
        }
    }

    /// The store, for reading.
    pub fn store(&self) -> &Arc<dyn AuditStore> {
        &self.store
    }
}

async fn writer(store: Arc<dyn AuditStore>, mut rx: mpsc::Receiver<(AuditEntry, Reply)>) {
    while let Some(first) = rx.recv().await {
        service::batch::gather().await;
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let entries: Vec<AuditEntry> = batch.iter().map(|(e, _)| e.clone()).collect();
        match store.append(&entries).await {
            Ok(records) => {
                if let Some(last) = records.last() {
                    // The head in the process log is the anchor `audit verify --head`
                    // compares against, kept outside the database.
                    tracing::info!(
                        target: "symbolon::audit",
                        first = records.first().map_or(0, |r| r.seq),
                        seq = last.seq,
                        hash = %hex(&last.hash),
                        "audit records appended"
                    );
                }
                for ((_, reply), record) in batch.into_iter().zip(records) {
                    // A caller that went away (timeout) leaves its record in the log: the
                    // signature it would have got is simply never made.
                    let _gone = reply.send(Ok(record));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, entries = batch.len(), "audit log write failed; nothing is signed");
                let shared = Arc::new(e);
                for (_, reply) in batch {
                    let _gone = reply.send(Err(Arc::clone(&shared)));
                }
            }
        }
    }
}

/// Page size of [`verify`].
const VERIFY_PAGE: u32 = 1000;

/// Why [`verify`] failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The chain is broken (the log was altered).
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The log could not be read (could not check).
    #[error(transparent)]
    Read(#[from] AuditError),
}

/// Reads the whole log from `store` and checks the chain; `anchor` is a head recorded
/// elsewhere that must still be part of it.
pub async fn verify(
    store: &dyn AuditStore,
    anchor: Option<(i64, Hash)>,
) -> Result<ChainSummary, VerifyError> {
    let mut verifier = ChainVerifier::new();
    if let Some((seq, hash)) = anchor {
        verifier = verifier.anchored(seq, hash);
    }
    let mut after = 0;
    loop {
        let page = match store.page(after, VERIFY_PAGE).await {
            Ok(p) => p,
            Err(AuditError::Malformed { seq, column }) => {
                return Err(ChainError::Malformed { seq, column }.into());
            }
            Err(e) => return Err(e.into()),
        };
        let Some(last) = page.last().map(|r| r.seq) else {
            break;
        };
        for record in &page {
            verifier.push(record)?;
        }
        after = last;
    }
    Ok(verifier.finish()?)
}
