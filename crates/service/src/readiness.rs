//! Readiness: how a role tells `/readyz` whether it can take traffic right now.
//!
//! Liveness (`/healthz`) only says the process serves requests; readiness says the role's
//! dependencies (database, HSM session, caches) answer. A load balancer or Kubernetes stops
//! sending traffic to an instance whose readiness fails, without restarting it.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The future a [`Readiness`] check returns. Boxed so checks stay object-safe: the app
/// holds one `Arc<dyn Readiness>` per mounted role.
pub type ReadyFuture<'a> = Pin<Box<dyn Future<Output = Result<(), NotReady>> + Send + 'a>>;

/// A role's readiness check. The app bounds every check with a timeout, so a check may
/// simply await its dependency.
pub trait Readiness: Send + Sync {
    /// Resolves to `Ok(())` when the role can serve requests.
    fn check(&self) -> ReadyFuture<'_>;
}

impl<R: Readiness + ?Sized> Readiness for Arc<R> {
    fn check(&self) -> ReadyFuture<'_> {
        (**self).check()
    }
}

/// Why a role is not ready. The reason is shown in the `/readyz` body, so it must be a
/// short operator-facing phrase ("database unreachable"), never an error's internals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotReady {
    reason: Cow<'static, str>,
}

impl NotReady {
    /// A not-ready result with the given operator-facing reason.
    pub fn new(reason: impl Into<Cow<'static, str>>) -> Self {
        NotReady {
            reason: reason.into(),
        }
    }

    /// The reason shown in `/readyz`.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// A role with no dependencies: always ready.
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysReady;

impl Readiness for AlwaysReady {
    fn check(&self) -> ReadyFuture<'_> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// A switch a role flips from its own tasks (e.g. ready once keys are loaded, not ready
/// while a background connection is being re-established). Clones share the state.
#[derive(Clone, Debug)]
pub struct ReadyFlag {
    ready: Arc<AtomicBool>,
    reason: &'static str,
}

impl ReadyFlag {
    /// A flag in the given initial state; `reason` is reported while it is not ready.
    pub fn new(ready: bool, reason: &'static str) -> Self {
        ReadyFlag {
            ready: Arc::new(AtomicBool::new(ready)),
            reason,
        }
    }

    /// Marks the role ready or not ready.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    /// The current state.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

impl Readiness for ReadyFlag {
    fn check(&self) -> ReadyFuture<'_> {
        let result = if self.is_ready() {
            Ok(())
        } else {
            Err(NotReady::new(self.reason))
        };
        Box::pin(std::future::ready(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn flag_reports_its_state_and_reason() {
        let flag = ReadyFlag::new(false, "keys not loaded");
        let shared = flag.clone();
        assert_eq!(
            flag.check().await,
            Err(NotReady::new("keys not loaded")),
            "a new not-ready flag reports its reason"
        );
        shared.set_ready(true);
        assert_eq!(flag.check().await, Ok(()), "clones share the state");
    }

    #[tokio::test]
    async fn always_ready_is_ready_through_an_arc() {
        let r: Arc<dyn Readiness> = Arc::new(AlwaysReady);
        assert_eq!(r.check().await, Ok(()));
    }
}
