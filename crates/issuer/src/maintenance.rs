//! What runs beside the requests: the readiness check (`/readyz`) and the periodic tasks —
//! re-reading the attester key file when it changes, and purging expired single-use
//! values from backends that keep them (database, in-process).

use crate::state::State;
use service::readiness::{NotReady, Readiness, ReadyFuture};
use std::sync::Arc;
use std::time::Duration;

/// Ready when attester trust is loaded and the database and single-use store answer.
#[derive(Clone, Debug)]
pub struct IssuerReadiness(pub Arc<State>);

impl Readiness for IssuerReadiness {
    fn check(&self) -> ReadyFuture<'_> {
        Box::pin(async move {
            if !self.0.trust_loaded() {
                return Err(NotReady::new(
                    "client attestation trust not loaded (attester keys missing)",
                ));
            }
            if self.0.database().ping().await.is_err() {
                return Err(NotReady::new("database unreachable"));
            }
            if self.0.single_use().ping().await.is_err() {
                return Err(NotReady::new("single-use store unreachable"));
            }
            Ok(())
        })
    }
}

/// Starts the periodic tasks on the current runtime; they end when the state is dropped by
/// everyone else.
pub fn spawn(state: &Arc<State>, trust_every: Duration, purge_every: Duration) {
    let weak = Arc::downgrade(state);
    tokio::spawn(async move {
        let mut trust = tokio::time::interval(trust_every);
        let mut purge = tokio::time::interval(purge_every);
        loop {
            tokio::select! {
                _ = trust.tick() => {
                    let Some(state) = weak.upgrade() else { return };
                    if let Err(e) = state.refresh_trust() {
                        tracing::debug!(error = %e, "attester keys not (re)loaded");
                    }
                }
                _ = purge.tick() => {
                    let Some(state) = weak.upgrade() else { return };
                    match state.single_use().purge_expired().await {
                        Ok(n) if n > 0 => tracing::debug!(purged = n, "expired single-use values removed"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "purging single-use values failed"),
                    }
                }
            }
        }
    });
}
