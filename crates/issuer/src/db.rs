//! The issuer's tables (migrations for SQLite and PostgreSQL) and every query on them.
//!
//! - `issuer_offers`: one row per offer; the pre-authorized code, the by-reference handle and
//!   the transaction code are stored only as hashes. Redeeming the code and creating the
//!   access token is one conditional `UPDATE` on this row (one code, one token), so the
//!   code is single-use across replicas and restarts without a separate lock.
//! - `issuer_credentials`: one row per issued credential, which is also its status list
//!   entry: `UNIQUE (status_list, status_idx)` makes an index impossible to hand out twice,
//!   whichever replica picks it.
//! - `issuer_status_lists`: the lists, a version bumped on every status change, and the
//!   last signed token.
//! - `issuer_signing_keys`: one key per rotation period (`period` is the primary key, so
//!   replicas agree on one), sealed under the KEK or living in a PKCS#11 token.
//! - `issuer_encryption_keys`: the key agreement key for encrypted credential requests.
//!
//! An access token lives on its offer's row: its hash, expiry, client, the thumbprint of the
//! client instance key (`jkt`, from the attestation) and, when it is DPoP-bound, the
//! thumbprint of the DPoP key (`dpop_jkt`, RFC 9449 `cnf.jkt`; NULL for a bearer token).
//!
//! SQL follows the portable rules of the `store` crate: `$n` placeholders, `BIGINT` times
//! in Unix seconds, bytes through per-backend migrations.

use sqlx::{AnyPool, Row};
use store::{Database, Migration};

/// Append-only: never edit or reorder an entry once released.
pub const MIGRATIONS: &[Migration] = &[
    Migration::portable(
        1,
        "offers",
        "CREATE TABLE issuer_offers (
             id TEXT PRIMARY KEY,
             code_hash TEXT NOT NULL UNIQUE,
             ref_hash TEXT UNIQUE,
             configuration_ids TEXT NOT NULL,
             claims TEXT NOT NULL,
             tx_code_hash TEXT,
             tx_code_salt TEXT,
             tx_code_mode TEXT,
             tx_code_length BIGINT,
             tx_code_description TEXT,
             tx_attempts BIGINT NOT NULL DEFAULT 0,
             created_at BIGINT NOT NULL,
             expires_at BIGINT NOT NULL,
             redeemed_at BIGINT,
             token_hash TEXT UNIQUE,
             token_expires_at BIGINT,
             client_id TEXT,
             jkt TEXT,
             cnf_jwk TEXT,
             attestation_hash TEXT
         );
         CREATE INDEX issuer_offers_expires ON issuer_offers (expires_at);",
    ),
    Migration::portable(
        2,
        "status lists and credentials",
        "CREATE TABLE issuer_status_lists (
             id TEXT PRIMARY KEY,
             seq BIGINT NOT NULL UNIQUE,
             bits BIGINT NOT NULL,
             size BIGINT NOT NULL,
             full_since BIGINT,
             version BIGINT NOT NULL DEFAULT 0,
             token TEXT,
             token_version BIGINT,
             token_iat BIGINT,
             token_exp BIGINT,
             created_at BIGINT NOT NULL
         );
         CREATE TABLE issuer_credentials (
             id TEXT PRIMARY KEY,
             offer_id TEXT NOT NULL,
             notification_id TEXT NOT NULL,
             configuration_id TEXT NOT NULL,
             holder_jkt TEXT NOT NULL,
             status_list TEXT NOT NULL,
             status_idx BIGINT NOT NULL,
             status BIGINT NOT NULL DEFAULT 0,
             kid TEXT NOT NULL,
             issued_at BIGINT NOT NULL,
             expires_at BIGINT NOT NULL,
             status_changed_at BIGINT,
             notification_event TEXT,
             notified_at BIGINT,
             UNIQUE (status_list, status_idx)
         );
         CREATE INDEX issuer_credentials_notification ON issuer_credentials (notification_id);
         CREATE INDEX issuer_credentials_issued ON issuer_credentials (issued_at);
         CREATE INDEX issuer_credentials_status ON issuer_credentials (status_list, status);",
    ),
    Migration::per_backend(
        3,
        "keys",
        "CREATE TABLE issuer_signing_keys (
             period BIGINT PRIMARY KEY,
             kid TEXT NOT NULL UNIQUE,
             algorithm TEXT NOT NULL,
             public_jwk TEXT NOT NULL,
             sealed BLOB,
             token_label TEXT,
             not_before BIGINT NOT NULL,
             not_after BIGINT NOT NULL,
             publish_until BIGINT NOT NULL,
             created_at BIGINT NOT NULL
         );
         CREATE TABLE issuer_encryption_keys (
             kid TEXT PRIMARY KEY,
             public_jwk TEXT NOT NULL,
             sealed BLOB NOT NULL,
             created_at BIGINT NOT NULL
         );",
        "CREATE TABLE issuer_signing_keys (
             period BIGINT PRIMARY KEY,
             kid TEXT NOT NULL UNIQUE,
             algorithm TEXT NOT NULL,
             public_jwk TEXT NOT NULL,
             sealed BYTEA,
             token_label TEXT,
             not_before BIGINT NOT NULL,
             not_after BIGINT NOT NULL,
             publish_until BIGINT NOT NULL,
             created_at BIGINT NOT NULL
         );
         CREATE TABLE issuer_encryption_keys (
             kid TEXT PRIMARY KEY,
             public_jwk TEXT NOT NULL,
             sealed BYTEA NOT NULL,
             created_at BIGINT NOT NULL
         );",
    ),
    Migration::portable(
        4,
        "dpop-bound access tokens",
        "ALTER TABLE issuer_offers ADD COLUMN dpop_jkt TEXT;",
    ),
];

/// Applies the migrations.
pub async fn migrate(db: &Database) -> Result<(), store::Error> {
    db.migrate("issuer", MIGRATIONS).await.map(drop)
}

/// A new offer.
#[derive(Debug)]
pub(crate) struct NewOffer<'a> {
    pub(crate) id: &'a str,
    pub(crate) code_hash: &'a str,
    pub(crate) ref_hash: Option<&'a str>,
    pub(crate) configuration_ids: &'a str,
    pub(crate) claims: &'a str,
    pub(crate) tx_code_hash: Option<&'a str>,
    pub(crate) tx_code_salt: Option<&'a str>,
    pub(crate) tx_code_mode: Option<&'a str>,
    pub(crate) tx_code_length: Option<i64>,
    pub(crate) tx_code_description: Option<&'a str>,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
}

pub(crate) async fn insert_offer(pool: &AnyPool, o: &NewOffer<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO issuer_offers (id, code_hash, ref_hash, configuration_ids, claims,
             tx_code_hash, tx_code_salt, tx_code_mode, tx_code_length, tx_code_description,
             created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(o.id)
    .bind(o.code_hash)
    .bind(o.ref_hash)
    .bind(o.configuration_ids)
    .bind(o.claims)
    .bind(o.tx_code_hash)
    .bind(o.tx_code_salt)
    .bind(o.tx_code_mode)
    .bind(o.tx_code_length)
    .bind(o.tx_code_description)
    .bind(o.created_at)
    .bind(o.expires_at)
    .execute(pool)
    .await
    .map(drop)
}

/// An offer as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct OfferRow {
    pub(crate) id: String,
    pub(crate) configuration_ids: String,
    pub(crate) tx_code_hash: Option<String>,
    pub(crate) tx_code_salt: Option<String>,
    pub(crate) tx_code_mode: Option<String>,
    pub(crate) tx_code_length: Option<i64>,
    pub(crate) tx_code_description: Option<String>,
    pub(crate) tx_attempts: i64,
    pub(crate) expires_at: i64,
    pub(crate) redeemed_at: Option<i64>,
}

const OFFER_COLUMNS: &str = "id, configuration_ids, tx_code_hash, tx_code_salt, tx_code_mode, \
     tx_code_length, tx_code_description, tx_attempts, expires_at, redeemed_at";

pub(crate) async fn offer_by_code(
    pool: &AnyPool,
    code_hash: &str,
) -> Result<Option<OfferRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {OFFER_COLUMNS} FROM issuer_offers WHERE code_hash = $1"
    )))
    .bind(code_hash)
    .fetch_optional(pool)
    .await
}

pub(crate) async fn offer_by_ref(
    pool: &AnyPool,
    ref_hash: &str,
) -> Result<Option<OfferRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {OFFER_COLUMNS} FROM issuer_offers WHERE ref_hash = $1"
    )))
    .bind(ref_hash)
    .fetch_optional(pool)
    .await
}

/// What the access token binds.
#[derive(Debug)]
pub(crate) struct Redemption<'a> {
    pub(crate) token_hash: &'a str,
    pub(crate) token_expires_at: i64,
    pub(crate) client_id: &'a str,
    pub(crate) jkt: &'a str,
    pub(crate) cnf_jwk: &'a str,
    pub(crate) attestation_hash: &'a str,
    /// Thumbprint of the DPoP key the token is bound to; `None`: a bearer token.
    pub(crate) dpop_jkt: Option<&'a str>,
}

/// Redeems the code and records the access token in one statement: succeeds for exactly
/// one caller, only while the offer is live, unredeemed, and its `tx_code` (if any) has not
/// used up its attempts. (Offers without a transaction code go through the grouped
/// writer of [`crate::batch`] with the same conditions.)
pub(crate) async fn redeem(
    pool: &AnyPool,
    code_hash: &str,
    now: i64,
    max_attempts: i64,
    r: &Redemption<'_>,
) -> Result<Option<TokenRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE issuer_offers SET redeemed_at = $1, token_hash = $2, token_expires_at = $3,
             client_id = $4, jkt = $5, cnf_jwk = $6, attestation_hash = $7,
             dpop_jkt = NULLIF($10, '')
         WHERE code_hash = $8 AND redeemed_at IS NULL AND expires_at > $1
             AND tx_attempts < $9
         RETURNING {TOKEN_COLUMNS}"
    )))
    .bind(now)
    .bind(r.token_hash)
    .bind(r.token_expires_at)
    .bind(r.client_id)
    .bind(r.jkt)
    .bind(r.cnf_jwk)
    .bind(r.attestation_hash)
    .bind(code_hash)
    .bind(max_attempts)
    .bind(r.dpop_jkt.unwrap_or_default())
    .fetch_optional(pool)
    .await
}

/// Counts one wrong transaction code; returns the attempts so far, or `None` when the
/// offer was redeemed meanwhile.
pub(crate) async fn count_tx_attempt(pool: &AnyPool, id: &str) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE issuer_offers SET tx_attempts = tx_attempts + 1
         WHERE id = $1 AND redeemed_at IS NULL RETURNING tx_attempts",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(|r| r.try_get::<i64, _>(0)).transpose()
}

/// An access token as stored (on its offer's row).
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct TokenRow {
    pub(crate) id: String,
    pub(crate) configuration_ids: String,
    pub(crate) claims: String,
    pub(crate) token_expires_at: i64,
    pub(crate) client_id: String,
    pub(crate) jkt: String,
    pub(crate) dpop_jkt: Option<String>,
}

const TOKEN_COLUMNS: &str =
    "id, configuration_ids, claims, token_expires_at, client_id, jkt, dpop_jkt";

pub(crate) async fn token(
    pool: &AnyPool,
    token_hash: &str,
) -> Result<Option<TokenRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TOKEN_COLUMNS} FROM issuer_offers WHERE token_hash = $1"
    )))
    .bind(token_hash)
    .fetch_optional(pool)
    .await
}

/// A credential about to be recorded.
#[derive(Clone, Debug)]
pub(crate) struct NewCredential {
    pub(crate) id: String,
    pub(crate) offer_id: String,
    pub(crate) notification_id: String,
    pub(crate) configuration_id: String,
    pub(crate) holder_jkt: String,
    pub(crate) status_list: String,
    pub(crate) status_idx: i64,
    pub(crate) kid: String,
    pub(crate) issued_at: i64,
    pub(crate) expires_at: i64,
}

/// Records a notification event on every credential of `notification_id` issued under
/// `offer_id`; returns how many rows it touched (0: unknown id for this token).
pub(crate) async fn record_notification(
    pool: &AnyPool,
    notification_id: &str,
    offer_id: &str,
    event: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE issuer_credentials SET notification_event = $1, notified_at = $2
         WHERE notification_id = $3 AND offer_id = $4",
    )
    .bind(event)
    .bind(now)
    .bind(notification_id)
    .bind(offer_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// A credential as the admin API lists it: no claim values.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct CredentialRow {
    pub(crate) id: String,
    pub(crate) offer_id: String,
    pub(crate) configuration_id: String,
    pub(crate) holder_jkt: String,
    pub(crate) status_list: String,
    pub(crate) status_idx: i64,
    pub(crate) status: i64,
    pub(crate) kid: String,
    pub(crate) issued_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) status_changed_at: Option<i64>,
    pub(crate) notification_event: Option<String>,
    pub(crate) notified_at: Option<i64>,
}

const CREDENTIAL_COLUMNS: &str = "id, offer_id, configuration_id, holder_jkt, status_list, \
     status_idx, status, kid, issued_at, expires_at, status_changed_at, notification_event, \
     notified_at";

/// Credentials issued before `before` (newest first, then by descending id), at most
/// `limit`, continuing after the row `after` (`(issued_at, id)` of the previous page's
/// last row). The order is total (`id` is unique), so a page boundary inside one second
/// neither skips nor repeats a row.
pub(crate) async fn list_credentials(
    pool: &AnyPool,
    before: i64,
    after: Option<(i64, &str)>,
    limit: i64,
) -> Result<Vec<CredentialRow>, sqlx::Error> {
    match after {
        None => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {CREDENTIAL_COLUMNS} FROM issuer_credentials WHERE issued_at < $1
                 ORDER BY issued_at DESC, id DESC LIMIT $2"
            )))
            .bind(before)
            .bind(limit)
            .fetch_all(pool)
            .await
        }
        Some((issued_at, id)) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {CREDENTIAL_COLUMNS} FROM issuer_credentials WHERE issued_at < $1
                 AND (issued_at < $2 OR (issued_at = $2 AND id < $3))
                 ORDER BY issued_at DESC, id DESC LIMIT $4"
            )))
            .bind(before)
            .bind(issued_at)
            .bind(id)
            .bind(limit)
            .fetch_all(pool)
            .await
        }
    }
}

pub(crate) async fn credential(
    pool: &AnyPool,
    id: &str,
) -> Result<Option<CredentialRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CREDENTIAL_COLUMNS} FROM issuer_credentials WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Sets a credential's status and bumps its list's version, in one transaction; returns
/// the list id, or `None` for an unknown credential.
pub(crate) async fn set_status(
    db: &Database,
    id: &str,
    status: i64,
    now: i64,
) -> Result<Option<String>, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(
        "UPDATE issuer_credentials SET status = $1, status_changed_at = $2 WHERE id = $3
         RETURNING status_list",
    )
    .bind(status)
    .bind(now)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        tx.rollback().await?;
        return Ok(None);
    };
    let list: String = row.try_get(0)?;
    sqlx::query("UPDATE issuer_status_lists SET version = version + 1 WHERE id = $1")
        .bind(list.as_str())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(list))
}

/// A status list as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct ListRow {
    pub(crate) id: String,
    pub(crate) seq: i64,
    pub(crate) bits: i64,
    pub(crate) size: i64,
    pub(crate) version: i64,
    pub(crate) token: Option<String>,
    pub(crate) token_version: Option<i64>,
    pub(crate) token_iat: Option<i64>,
    pub(crate) token_exp: Option<i64>,
}

const LIST_COLUMNS: &str =
    "id, seq, bits, size, version, token, token_version, token_iat, token_exp";

pub(crate) async fn list(pool: &AnyPool, id: &str) -> Result<Option<ListRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {LIST_COLUMNS} FROM issuer_status_lists WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The open list with the lowest sequence number.
pub(crate) async fn open_list(pool: &AnyPool) -> Result<Option<ListRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {LIST_COLUMNS} FROM issuer_status_lists WHERE full_since IS NULL
         ORDER BY seq LIMIT 1"
    )))
    .fetch_optional(pool)
    .await
}

/// The highest sequence number used so far (0 when there is no list).
pub(crate) async fn last_list_seq(pool: &AnyPool) -> Result<i64, sqlx::Error> {
    let row = sqlx::query("SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM issuer_status_lists")
        .fetch_one(pool)
        .await?;
    row.try_get(0)
}

/// Creates list `seq` unless another replica did; the id is the sequence number.
pub(crate) async fn create_list(
    pool: &AnyPool,
    seq: i64,
    bits: i64,
    size: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO issuer_status_lists (id, seq, bits, size, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO NOTHING",
    )
    .bind(seq.to_string())
    .bind(seq)
    .bind(bits)
    .bind(size)
    .bind(now)
    .execute(pool)
    .await
    .map(drop)
}

pub(crate) async fn mark_list_full(pool: &AnyPool, id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE issuer_status_lists SET full_since = $1 WHERE id = $2 AND full_since IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(pool)
    .await
    .map(drop)
}

/// Every allocated index of a list.
pub(crate) async fn allocated_indices(pool: &AnyPool, list: &str) -> Result<Vec<i64>, sqlx::Error> {
    let rows = sqlx::query("SELECT status_idx FROM issuer_credentials WHERE status_list = $1")
        .bind(list)
        .fetch_all(pool)
        .await?;
    rows.iter().map(|r| r.try_get::<i64, _>(0)).collect()
}

/// The entries of a list whose status is not VALID.
pub(crate) async fn non_valid_entries(
    pool: &AnyPool,
    list: &str,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT status_idx, status FROM issuer_credentials WHERE status_list = $1 AND status <> 0",
    )
    .bind(list)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?)))
        .collect()
}

/// Stores a signed token for `version` unless a newer one is stored.
pub(crate) async fn store_list_token(
    pool: &AnyPool,
    id: &str,
    version: i64,
    token: &str,
    iat: i64,
    exp: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE issuer_status_lists SET token = $1, token_version = $2, token_iat = $3,
             token_exp = $4
         WHERE id = $5 AND (token_version IS NULL OR token_version <= $2)",
    )
    .bind(token)
    .bind(version)
    .bind(iat)
    .bind(exp)
    .bind(id)
    .execute(pool)
    .await
    .map(drop)
}

/// A signing key as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct KeyRow {
    pub(crate) period: i64,
    pub(crate) kid: String,
    pub(crate) algorithm: String,
    pub(crate) public_jwk: String,
    pub(crate) sealed: Option<Vec<u8>>,
    pub(crate) token_label: Option<String>,
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
    pub(crate) publish_until: i64,
}

const KEY_COLUMNS: &str =
    "period, kid, algorithm, public_jwk, sealed, token_label, not_before, not_after, publish_until";

pub(crate) async fn key_for_period(
    pool: &AnyPool,
    period: i64,
) -> Result<Option<KeyRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {KEY_COLUMNS} FROM issuer_signing_keys WHERE period = $1"
    )))
    .bind(period)
    .fetch_optional(pool)
    .await
}

/// Keys still published at `now`, newest first.
pub(crate) async fn published_keys(pool: &AnyPool, now: i64) -> Result<Vec<KeyRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {KEY_COLUMNS} FROM issuer_signing_keys
         WHERE publish_until > $1 AND not_before <= $1 ORDER BY period DESC"
    )))
    .bind(now)
    .fetch_all(pool)
    .await
}

/// Records the key of a period; `false` when another replica recorded one first.
pub(crate) async fn insert_key(pool: &AnyPool, k: &KeyRow, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO issuer_signing_keys (period, kid, algorithm, public_jwk, sealed,
             token_label, not_before, not_after, publish_until, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (period) DO NOTHING",
    )
    .bind(k.period)
    .bind(k.kid.as_str())
    .bind(k.algorithm.as_str())
    .bind(k.public_jwk.as_str())
    .bind(k.sealed.as_deref())
    .bind(k.token_label.as_deref())
    .bind(k.not_before)
    .bind(k.not_after)
    .bind(k.publish_until)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The request encryption key, if one was created.
pub(crate) async fn encryption_key(
    pool: &AnyPool,
) -> Result<Option<(String, Vec<u8>)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT kid, sealed FROM issuer_encryption_keys ORDER BY created_at, kid LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    row.map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<Vec<u8>, _>(1)?)))
        .transpose()
}

pub(crate) async fn insert_encryption_key(
    pool: &AnyPool,
    kid: &str,
    public_jwk: &str,
    sealed: &[u8],
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO issuer_encryption_keys (kid, public_jwk, sealed, created_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT (kid) DO NOTHING",
    )
    .bind(kid)
    .bind(public_jwk)
    .bind(sealed)
    .bind(now)
    .execute(pool)
    .await
    .map(drop)
}
