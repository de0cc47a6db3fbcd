//! Transactions: one presentation request from creation to its single answer.
//!
//! What is stored is only what the protocol and the RP need: identifiers, the nonce, the
//! request parameters, the ephemeral response decryption key (encrypted, and wiped when
//! the transaction is answered), the status, and the result the RP must receive (the
//! disclosed claims or the refusal reason). The result is removed `result_ttl` after the
//! answer; presentations themselves are never stored.
//!
//! A transaction is answered at most once: [`TransactionStore::finish`] is a conditional
//! update (`pending` and not expired), so of two concurrent answers exactly one wins and
//! the other changes nothing. Response codes live in the `store` single-use cache (their
//! SHA-256 only), consumed once when the RP exchanges them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use oid4vp::{ClientIdPrefix, RequestUriMethod, ResponseMode};
use serde_json::Value;

/// Where a transaction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Waiting for the wallet.
    Pending,
    /// Answered with presentations that passed every check.
    Success,
    /// Answered and refused (or the wallet declined).
    Failed,
}

impl Status {
    /// The stored and API name.
    pub fn name(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Success => "success",
            Status::Failed => "failed",
        }
    }

    /// Parses the stored name.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Status::Pending),
            "success" => Some(Status::Success),
            "failed" => Some(Status::Failed),
            _ => None,
        }
    }
}

/// How the RP reads the result. Serde uses [`Flow::name`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// Cross-device: the RP polls `GET /transactions/<id>` and gets the result there.
    #[default]
    CrossDevice,
    /// Same-device: the result is only handed out in exchange for the `response_code`
    /// the wallet's redirect brought back to the browser that started the transaction
    /// (OpenID4VP §13.3, session fixation).
    SameDevice,
}

impl Flow {
    /// The stored and API name.
    pub fn name(self) -> &'static str {
        match self {
            Flow::CrossDevice => "cross_device",
            Flow::SameDevice => "same_device",
        }
    }

    /// Parses the name.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "cross_device" => Some(Flow::CrossDevice),
            "same_device" => Some(Flow::SameDevice),
            _ => None,
        }
    }
}

/// A stored transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct Transaction {
    /// The RP-facing id (128 random bits).
    pub id: String,
    /// The wallet-facing id: the `state` and the `request_uri` path segment (128 random
    /// bits, unrelated to `id`).
    pub request_id: String,
    /// The `nonce` the KB-JWT must carry.
    pub nonce: String,
    /// The policy name.
    pub policy: String,
    /// The DCQL query sent, as JSON text.
    pub dcql_query: String,
    /// The client identifier prefix.
    pub prefix: ClientIdPrefix,
    /// The full client identifier.
    pub client_id: String,
    /// The response mode.
    pub response_mode: ResponseMode,
    /// The request URI method.
    pub request_uri_method: RequestUriMethod,
    /// The ephemeral response decryption key (a private JWK), sealed with the verifier's
    /// key encryption key; `None` for `direct_post` and once answered.
    pub sealed_key: Option<Vec<u8>>,
    /// The flow.
    pub flow: Flow,
    /// Status.
    pub status: Status,
    /// Creation time.
    pub created_at: i64,
    /// Expiry time (of the pending state).
    pub expires_at: i64,
    /// When it was answered.
    pub finished_at: Option<i64>,
    /// The result: `{"claims": …, "essential": …}` or `{"error": …,
    /// "error_description": …}`.
    pub result: Option<Value>,
}

/// How a transaction is answered.
#[derive(Clone, Debug, PartialEq)]
pub struct Finish {
    /// `Success` or `Failed`.
    pub status: Status,
    /// The result.
    pub result: Value,
}

/// Why [`TransactionStore::finish`] did not apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishOutcome {
    /// The transaction is now answered.
    Done,
    /// It was already answered.
    AlreadyAnswered,
    /// It expired.
    Expired,
    /// There is no such transaction.
    Unknown,
}

/// The store failed (database unreachable, constraint violated, stored data this version
/// cannot read). Only an unreachable database is "could not check" (`503` with
/// `Retry-After`, [`StoreError::is_unavailable`]); anything else is a server error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A statement failed, or the database could not be reached. Shared (`Arc`) because
    /// one failed batch statement answers every caller in the batch.
    #[error("transaction store: {0}")]
    Database(#[source] Arc<sqlx::Error>),
    /// The verifier's migrations could not be applied.
    #[error("transaction store: {0}")]
    Migrate(#[source] store::Error),
    /// A stored column holds a value this version does not know.
    #[error("transaction store: stored {0} is not recognised")]
    Unrecognised(&'static str),
    /// The stored result is not the JSON that was written.
    #[error("transaction store: {0}")]
    StoredResult(#[source] serde_json::Error),
    /// The stored DCQL query does not parse.
    #[error("transaction store: stored DCQL query: {0}")]
    StoredQuery(#[source] oid4vp::DcqlError),
    /// The task that writes answers has stopped.
    #[error("transaction store: the answer writer has stopped")]
    WriterStopped,
}

impl StoreError {
    /// A database error (classified by [`StoreError::is_unavailable`]).
    pub fn database(e: sqlx::Error) -> Self {
        StoreError::Database(Arc::new(e))
    }

    /// True when the store could not be reached ([`store::is_connection_error`]): the same
    /// request may succeed shortly.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Database(e) if store::is_connection_error(e))
    }
}

/// A boxed future returned by the store.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Persistence of transactions.
pub trait TransactionStore: Send + Sync {
    /// Stores a new transaction.
    fn insert<'a>(&'a self, tx: &'a Transaction) -> StoreFuture<'a, ()>;
    /// The transaction with this RP-facing id.
    fn by_id<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Transaction>>;
    /// The transaction with this wallet-facing id.
    fn by_request_id<'a>(&'a self, request_id: &'a str) -> StoreFuture<'a, Option<Transaction>>;
    /// Answers the transaction if it is pending and `now < expires_at`; wipes the sealed
    /// key. Exactly one concurrent caller gets [`FinishOutcome::Done`].
    fn finish<'a>(
        &'a self,
        request_id: &'a str,
        finish: &'a Finish,
        now: i64,
    ) -> StoreFuture<'a, FinishOutcome>;
    /// Deletes transactions answered before `answered_before` and pending ones expired
    /// before `expired_before`; returns how many.
    fn purge(&self, answered_before: i64, expired_before: i64) -> StoreFuture<'_, u64>;
    /// Whether the store answers (readiness).
    fn ping(&self) -> StoreFuture<'_, ()>;
}
