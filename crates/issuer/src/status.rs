//! Token Status Lists: allocating a random free index for each new credential, serving
//! the signed Status List Token (`GET /status/{list}`), and re-signing it when a status
//! changes.
//!
//! Allocation: each replica keeps an [`IndexAllocator`] of the open list, filled from the
//! database when the list is opened, and draws a uniformly random free index from it. The
//! database has the last word: a credential row's `UNIQUE (status_list, status_idx)` refuses
//! an index another replica took meanwhile, and the caller draws again. An index is consumed
//! only when the credential row is committed; after a rolled-back issuance the allocator is
//! rebuilt from the database, so the index becomes free again. A list is closed at three
//! quarters full (random draws stay cheap, and every list keeps a large herd of entries) and
//! the next one opened; replicas agree on list numbers through `UNIQUE (seq)`.
//!
//! Serving: the token is built from the entries whose status is not VALID, signed with the
//! current key (`typ` `statuslist+jwt`, `sub` = the list URI, `iat`, `exp`, `ttl`), stored
//! with the list version it reflects, and reused until the version changes or half of its
//! `ttl` has passed.

use crate::db;
use crate::error::Failure;
use crate::signing::SigningKeys;
use jose::random::Random;
use status_list::{Bits, IndexAllocator, StatusList, StatusListTokenBuilder};
use std::time::Duration;
use store::Database;
use tokio::sync::Mutex;

#[derive(Debug)]
struct Open {
    id: String,
    seq: i64,
    allocator: IndexAllocator,
}

/// The status lists of one issuer.
#[derive(Debug)]
pub struct StatusLists {
    db: Database,
    bits: Bits,
    size: usize,
    ttl: Duration,
    validity: Duration,
    base_uri: String,
    open: Mutex<Option<Open>>,
}

/// One allocated entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) list: String,
    pub(crate) idx: i64,
}

/// A signed Status List Token.
#[derive(Clone, Debug)]
pub(crate) struct SignedList {
    pub(crate) token: String,
    pub(crate) iat: i64,
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl StatusLists {
    /// Lists under `base_uri` (`<identifier>/status`).
    pub fn new(
        db: Database,
        bits: Bits,
        size: usize,
        ttl: Duration,
        validity: Duration,
        base_uri: String,
    ) -> Self {
        StatusLists {
            db,
            bits,
            size,
            ttl,
            validity,
            base_uri,
            open: Mutex::new(None),
        }
    }

    /// The URI of list `id` (the referenced tokens' `status.status_list.uri`).
    pub fn uri(&self, id: &str) -> String {
        format!("{}/{id}", self.base_uri)
    }

    fn size_i64(&self) -> i64 {
        i64::try_from(self.size).unwrap_or(i64::MAX)
    }

    async fn load(&self, now: i64) -> Result<Open, Failure> {
        let pool = self.db.pool();
        let row = match db::open_list(pool).await? {
            Some(r) => r,
            None => {
                let seq = db::last_list_seq(pool).await? + 1;
                db::create_list(pool, seq, i64::from(self.bits.get()), self.size_i64(), now)
                    .await?;
                db::open_list(pool)
                    .await?
                    .ok_or(Failure::Corrupt("status list"))?
            }
        };
        let size = usize::try_from(row.size).map_err(|_| Failure::Corrupt("status list size"))?;
        let taken = db::allocated_indices(pool, &row.id).await?;
        let taken = taken
            .into_iter()
            .map(usize::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Failure::Corrupt("status index"))?;
        let allocator = IndexAllocator::with_allocated(size, taken)
            .map_err(|_| Failure::Corrupt("status list entries"))?;
        Ok(Open {
            id: row.id,
            seq: row.seq,
            allocator,
        })
    }

    /// Draws `n` random free entries (not yet committed: the credential rows do that).
    pub(crate) async fn allocate(
        &self,
        n: usize,
        random: &dyn Random,
        now: i64,
    ) -> Result<Vec<Entry>, Failure> {
        let mut guard = self.open.lock().await;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            loop {
                let open = match guard.take() {
                    Some(o) => o,
                    None => self.load(now).await?,
                };
                let open = if open.allocator.remaining() * 4 <= open.allocator.capacity() {
                    // Three quarters full: close it and open the next.
                    db::mark_list_full(self.db.pool(), &open.id, now).await?;
                    let next = open.seq + 1;
                    db::create_list(
                        self.db.pool(),
                        next,
                        i64::from(self.bits.get()),
                        self.size_i64(),
                        now,
                    )
                    .await?;
                    self.load(now).await?
                } else {
                    open
                };
                let mut open = open;
                let drawn = open
                    .allocator
                    .allocate(&mut status_list::FromRandom(random));
                let list = open.id.clone();
                *guard = Some(open);
                match drawn {
                    Ok(idx) => {
                        let idx =
                            i64::try_from(idx).map_err(|_| Failure::Corrupt("status index"))?;
                        out.push(Entry { list, idx });
                        break;
                    }
                    Err(status_list::AllocError::Random) => {
                        return Err(jose::random::RandomError.into());
                    }
                    // Full in this replica's view: reload and close it next round.
                    Err(_) => *guard = None,
                }
            }
        }
        Ok(out)
    }

    /// After an issuance was rolled back: forget the in-memory view so the drawn indices
    /// are free again.
    pub(crate) async fn forget(&self) {
        *self.open.lock().await = None;
    }

    /// The signed token of list `id`, re-signed when its statuses changed or it is
    /// half-way through its `ttl`; `None` for an unknown list.
    pub(crate) async fn token(
        &self,
        id: &str,
        keys: &SigningKeys,
        now: i64,
    ) -> Result<Option<SignedList>, Failure> {
        let Some(row) = db::list(self.db.pool(), id).await? else {
            return Ok(None);
        };
        let fresh_until = row
            .token_iat
            .unwrap_or(i64::MIN)
            .saturating_add(secs(self.ttl) / 2);
        if let (Some(token), Some(v), Some(iat)) = (&row.token, row.token_version, row.token_iat)
            && v == row.version
            && now < fresh_until
            && row.token_exp.is_some_and(|exp| now < exp)
        {
            return Ok(Some(SignedList {
                token: token.clone(),
                iat,
            }));
        }
        let bits = u8::try_from(row.bits)
            .ok()
            .and_then(|b| Bits::try_from(b).ok())
            .ok_or(Failure::Corrupt("status list bits"))?;
        let size = usize::try_from(row.size).map_err(|_| Failure::Corrupt("status list size"))?;
        let mut list = StatusList::new(bits, size)?;
        for (idx, status) in db::non_valid_entries(self.db.pool(), id).await? {
            let idx = usize::try_from(idx).map_err(|_| Failure::Corrupt("status index"))?;
            let status = u8::try_from(status).map_err(|_| Failure::Corrupt("status value"))?;
            list.set(idx, status)?;
        }
        let encoded = list.encode()?;
        let key = keys.current(now).await?;
        let exp = now.saturating_add(secs(self.validity));
        let token = StatusListTokenBuilder::new(self.uri(id), encoded, now)
            .expires_at(exp)
            .ttl(self.ttl.as_secs().max(1))
            .kid(key.kid.clone())
            .sign(key.signer.as_ref())?;
        db::store_list_token(self.db.pool(), id, row.version, &token, now, exp).await?;
        Ok(Some(SignedList { token, iat: now }))
    }

    /// `ttl` in seconds (the HTTP cache lifetime of a freshly signed token).
    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }
}
