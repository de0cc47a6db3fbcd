//! `/readyz` for the attester: ready only when the A-Key signs (the token is logged in and
//! the key found), the audit database answers, and, with Kubernetes evidence, the
//! attester's own service-account token can be read.

use std::sync::Arc;

use service::readiness::{NotReady, Readiness, ReadyFuture};

use crate::state::State;

/// The attester's readiness check.
#[derive(Debug, Clone)]
pub struct AttesterReadiness(pub Arc<State>);

impl Readiness for AttesterReadiness {
    fn check(&self) -> ReadyFuture<'_> {
        let state = Arc::clone(&self.0);
        Box::pin(async move {
            let akey = Arc::clone(&state.akey);
            // A probe signature proves both login and key in one PKCS#11 call.
            let signed = tokio::task::spawn_blocking(move || akey.probe()).await;
            if !matches!(signed, Ok(Ok(()))) {
                return Err(NotReady::new(
                    "A-Key not usable (token not logged in or key missing)",
                ));
            }
            if state.audit.store().ping().await.is_err() {
                return Err(NotReady::new("audit log database unreachable"));
            }
            if let Some(k) = &state.kubernetes
                && !k.own_token_readable()
            {
                return Err(NotReady::new(
                    "the attester's service-account token cannot be read",
                ));
            }
            Ok(())
        })
    }
}
