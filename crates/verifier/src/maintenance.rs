//! Background upkeep and readiness: results are deleted `result_ttl` after the answer and
//! unanswered transactions `result_ttl` after expiry (privacy: nothing is kept longer
//! than the RP needs it), and `/readyz` reports whether the transaction store answers.

use std::sync::Arc;
use std::time::Duration;

use service::NotReady;
use service::readiness::{Readiness, ReadyFuture};

use crate::state::State;

/// Deletes finished and expired transactions past retention, once.
pub async fn purge_once(state: &State) -> u64 {
    let now = state.clock().now();
    state.pending().sweep(now);
    if let Err(e) = state.single_use().purge_expired().await {
        tracing::warn!(error = %e, "purging expired response codes failed");
    }
    let keep = state.settings().result_ttl;
    match state
        .store()
        .purge(now.saturating_sub(keep), now.saturating_sub(keep))
        .await
    {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "purging old transactions failed");
            0
        }
    }
}

/// Runs [`purge_once`] every `every` until the runtime stops.
pub fn spawn_janitor(state: Arc<State>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let n = purge_once(&state).await;
            if n > 0 {
                tracing::debug!(deleted = n, "purged old transactions");
            }
        }
    })
}

/// Ready when the transaction store answers.
#[derive(Clone, Debug)]
pub struct StoreReady(pub Arc<State>);

impl Readiness for StoreReady {
    fn check(&self) -> ReadyFuture<'_> {
        Box::pin(async move {
            self.0
                .store()
                .ping()
                .await
                .map_err(|_| NotReady::new("transaction store unreachable"))
        })
    }
}
