//! Signing keys and their rotation.
//!
//! Time is cut into periods of `rotation_period`; period `p` covers
//! `[p·rotation, (p+1)·rotation)`. The key of a period is created by whichever replica
//! needs it first and recorded in `issuer_signing_keys` under the period as primary key:
//! a replica that loses the race discards its key (destroying it in the token) and uses the
//! winner's, so every replica signs with the same key in a period.
//!
//! A key stays published in the JWT VC Issuer Metadata until `publish_until` =
//! end of its period + max(`retention`, the longest credential lifetime, the status list
//! token lifetime): every credential and status list token it signed can be verified for
//! as long as it is valid. `kid` is the key's RFC 7638 thumbprint.
//!
//! Software keys are generated in process and stored sealed under the key-encryption key
//! (`keys::seal_key`, bound to the kid); PKCS#11 keys are generated inside the token
//! (label `<key_label>-<period>`, default `issuer-<period>`), sensitive and not extractable.

use jose::{Algorithm, PublicJwk, Signer, SoftwareSigner};
use std::sync::Arc;
use std::time::Duration;
use store::Database;
use tokio::sync::{Mutex, RwLock};

use crate::db::{self, KeyRow};

/// A key could not be created, stored or loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The database failed.
    #[error("signing key storage: {0}")]
    Database(#[from] sqlx::Error),
    /// Sealing or opening a software key failed (wrong KEK, tampered record).
    #[error("signing key {kid}: {source}")]
    Seal {
        /// The key.
        kid: String,
        /// Why.
        source: keys::SealError,
    },
    /// Generating a key failed.
    #[error("signing key generation failed: {0}")]
    Generate(#[source] jose::SignError),
    /// The PKCS#11 token failed.
    #[error("PKCS#11: {0}")]
    Pkcs11(#[from] keys::pkcs11::Pkcs11Error),
    /// A stored public key does not parse.
    #[error("stored public key of {kid} is invalid")]
    StoredKey {
        /// The key.
        kid: String,
        /// Why it does not parse.
        source: jose::JwkError,
    },
    /// A stored key row has neither sealed material nor a token label.
    #[error("stored key {0} has no private key reference")]
    NoPrivateKey(String),
    /// A period computation overflowed (a clock far outside the supported range).
    #[error("the clock is outside the supported range")]
    Clock,
}

/// Label prefix of the issuer's PKCS#11 keys when `keys.pkcs11.key_label` is not set.
pub const DEFAULT_PKCS11_LABEL_PREFIX: &str = "issuer";

/// Where private keys live.
#[derive(Clone)]
pub enum KeyStore {
    /// Sealed under this KEK in the database.
    Software(Arc<keys::Kek>),
    /// Inside this PKCS#11 token, each key labelled `<label_prefix>-<period>`.
    Pkcs11 {
        /// The token.
        token: keys::pkcs11::Pkcs11Token,
        /// The configured `key_label` (default [`DEFAULT_PKCS11_LABEL_PREFIX`]).
        label_prefix: String,
    },
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyStore::Software(k) => write!(f, "Software({k:?})"),
            KeyStore::Pkcs11 {
                token,
                label_prefix,
            } => write!(f, "Pkcs11({}, {label_prefix}-<period>)", token.label()),
        }
    }
}

/// The key of the current period, ready to sign.
#[derive(Clone)]
pub struct CurrentKey {
    /// Its period.
    pub period: i64,
    /// `kid`.
    pub kid: String,
    /// The signer (reports the kid).
    pub signer: Arc<dyn Signer>,
}

impl std::fmt::Debug for CurrentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurrentKey")
            .field("period", &self.period)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Rotation settings.
#[derive(Clone, Copy, Debug)]
pub struct Rotation {
    /// Algorithm of new keys.
    pub algorithm: Algorithm,
    /// Length of a period.
    pub period: Duration,
    /// How long a key stays published after its period ends.
    pub publish_after: Duration,
}

/// The issuer's signing keys.
#[derive(Debug)]
pub struct SigningKeys {
    db: Database,
    store: KeyStore,
    rotation: Rotation,
    current: RwLock<Option<CurrentKey>>,
    rotate: Mutex<()>,
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX).max(1)
}

impl SigningKeys {
    /// Keys stored in `db`, private halves in `store`.
    pub fn new(db: Database, store: KeyStore, rotation: Rotation) -> Self {
        SigningKeys {
            db,
            store,
            rotation,
            current: RwLock::new(None),
            rotate: Mutex::new(()),
        }
    }

    /// The period containing `now`.
    pub fn period_of(&self, now: i64) -> i64 {
        now.div_euclid(secs(self.rotation.period))
    }

    /// The key to sign with at `now`, creating the period's key if no replica has yet.
    pub async fn current(&self, now: i64) -> Result<CurrentKey, KeyError> {
        let period = self.period_of(now);
        if let Some(k) = self.current.read().await.as_ref()
            && k.period == period
        {
            return Ok(k.clone());
        }
        let _one_at_a_time = self.rotate.lock().await;
        if let Some(k) = self.current.read().await.as_ref()
            && k.period == period
        {
            return Ok(k.clone());
        }
        let key = match db::key_for_period(self.db.pool(), period).await? {
            Some(row) => self.load(&row)?,
            None => self.create(period, now).await?,
        };
        tracing::info!(kid = %key.kid, period, "issuer signing key in use");
        *self.current.write().await = Some(key.clone());
        Ok(key)
    }

    async fn create(&self, period: i64, now: i64) -> Result<CurrentKey, KeyError> {
        let len = secs(self.rotation.period);
        let not_before = period.checked_mul(len).ok_or(KeyError::Clock)?;
        let not_after = not_before.checked_add(len).ok_or(KeyError::Clock)?;
        let publish_until = not_after
            .checked_add(secs(self.rotation.publish_after))
            .ok_or(KeyError::Clock)?;
        let (row, signer) = match &self.store {
            KeyStore::Software(kek) => {
                let signer = SoftwareSigner::generate(self.rotation.algorithm)
                    .map_err(KeyError::Generate)?;
                let kid = signer.public_jwk().thumbprint();
                let sealed =
                    keys::seal::seal_key(kek, &kid, &signer).map_err(|source| KeyError::Seal {
                        kid: kid.clone(),
                        source,
                    })?;
                let signer: Arc<dyn Signer> = Arc::new(signer.with_kid(kid.clone()));
                (
                    self.row(
                        period,
                        &kid,
                        signer.public_jwk(),
                        Some(sealed),
                        None,
                        (not_before, not_after, publish_until),
                    ),
                    signer,
                )
            }
            KeyStore::Pkcs11 {
                token,
                label_prefix,
            } => {
                let label = format!("{label_prefix}-{period}");
                let signer = match token.generate_key(&label) {
                    Ok(s) => s,
                    // Another replica generated it in the same token a moment ago.
                    Err(keys::pkcs11::Pkcs11Error::KeyExists { .. }) => token.signer(&label)?,
                    Err(e) => return Err(e.into()),
                };
                let kid = signer.public_jwk().thumbprint();
                let signer: Arc<dyn Signer> = Arc::new(signer);
                (
                    self.row(
                        period,
                        &kid,
                        signer.public_jwk(),
                        None,
                        Some(label),
                        (not_before, not_after, publish_until),
                    ),
                    signer,
                )
            }
        };
        if db::insert_key(self.db.pool(), &row, now).await? {
            return Ok(CurrentKey {
                period,
                kid: row.kid,
                signer,
            });
        }
        // Another replica recorded its key first: use that one, and drop ours.
        let winner = db::key_for_period(self.db.pool(), period)
            .await?
            .ok_or_else(|| KeyError::NoPrivateKey(row.kid.clone()))?;
        if let (KeyStore::Pkcs11 { token, .. }, Some(label)) = (&self.store, &row.token_label)
            && winner.token_label.as_deref() != Some(label.as_str())
            && let Err(e) = token.destroy_key(label)
        {
            tracing::warn!(error = %e, label, "could not destroy an unused PKCS#11 key");
        }
        self.load(&winner)
    }

    fn row(
        &self,
        period: i64,
        kid: &str,
        public: &PublicJwk,
        sealed: Option<Vec<u8>>,
        token_label: Option<String>,
        (not_before, not_after, publish_until): (i64, i64, i64),
    ) -> KeyRow {
        KeyRow {
            period,
            kid: kid.to_owned(),
            algorithm: self.rotation.algorithm.name().to_owned(),
            public_jwk: public.bare().with_kid(kid).to_value().to_string(),
            sealed,
            token_label,
            not_before,
            not_after,
            publish_until,
        }
    }

    fn load(&self, row: &KeyRow) -> Result<CurrentKey, KeyError> {
        let signer: Arc<dyn Signer> = match (&self.store, &row.sealed, &row.token_label) {
            (KeyStore::Software(kek), Some(sealed), _) => Arc::new(
                keys::seal::open_key(kek, &row.kid, sealed).map_err(|source| KeyError::Seal {
                    kid: row.kid.clone(),
                    source,
                })?,
            ),
            (KeyStore::Pkcs11 { token, .. }, _, Some(label)) => Arc::new(token.signer(label)?),
            _ => return Err(KeyError::NoPrivateKey(row.kid.clone())),
        };
        Ok(CurrentKey {
            period: row.period,
            kid: row.kid.clone(),
            signer,
        })
    }

    /// Every key published at `now` (after making sure the current one exists), as public
    /// JWKs with `kid`, `alg` and `use`.
    pub async fn published(&self, now: i64) -> Result<Vec<PublicJwk>, KeyError> {
        self.current(now).await?;
        let rows = db::published_keys(self.db.pool(), now).await?;
        rows.iter()
            .map(|r| {
                PublicJwk::from_json(r.public_jwk.as_bytes())
                    .map(|k| k.with_alg(r.algorithm.clone()).with_use("sig"))
                    .map_err(|source| KeyError::StoredKey {
                        kid: r.kid.clone(),
                        source,
                    })
            })
            .collect()
    }
}
