//! Evidence: how a caller proves which workload it is, and the identity that results. The
//! `evidence` member is parsed by `client_attestation::request` (re-exported here as
//! [`Evidence`]); this module authenticates it.
//!
//! The request's `evidence` object names its `type` ([`client_attestation::EvidenceType`]):
//! - `kubernetes`: `{"type": "kubernetes", "token": "<projected service-account token>"}`,
//!   checked with the TokenReview API ([`kubernetes`]);
//! - `dev`: `{"type": "dev"}`, accepted only when the configuration enables it (the
//!   `--mode=all` default); nothing is checked and the attestation says so;
//! - `tpm`: reserved for the TPM path (App Key certified by the AK, fresh quote); refused
//!   as not accepted until that path is implemented.
//!
//! Unknown members are refused, so a typo never silently turns into weaker evidence.

pub mod kubernetes;

use client_attestation::{Environment, EvidenceType, KeyProtection};
use serde_json::Map;

/// The evidence as sent and its parser (no I/O), shared with the fuzz target.
pub use client_attestation::request::{Evidence, MAX_TOKEN_LEN};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// How it was authenticated.
    pub evidence: EvidenceType,
    /// Who it is, for the audit log and the rate limit (the Kubernetes user name,
    /// `system:serviceaccount:<ns>:<sa>`; `dev` for development evidence).
    pub subject: String,
    /// Kubernetes namespace.
    pub namespace: Option<String>,
    /// Kubernetes service account.
    pub service_account: Option<String>,
    /// The pod the token was bound to, when the review names it.
    pub pod_name: Option<String>,
    /// That pod's UID.
    pub pod_uid: Option<String>,
}

impl Identity {
    /// The identity of development evidence: nothing was checked.
    pub fn dev() -> Identity {
        Identity {
            evidence: EvidenceType::Dev,
            subject: "dev".into(),
            namespace: None,
            service_account: None,
            pod_name: None,
            pod_uid: None,
        }
    }

    /// The rate-limit key: the pod when the token is bound to one (each wallet instance has
    /// its own budget), else the service account.
    pub fn rate_key(&self) -> String {
        match &self.pod_uid {
            Some(uid) => format!("{}/{uid}", self.subject),
            None => self.subject.clone(),
        }
    }

    /// The environment claims of an attestation for this caller.
    pub fn environment(&self, key_protection: KeyProtection) -> Environment {
        Environment {
            evidence: self.evidence,
            key_protection,
            namespace: self.namespace.clone(),
            service_account: self.service_account.clone(),
            extra: Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_key_is_per_pod_when_bound() {
        let mut id = Identity::dev();
        assert_eq!(id.rate_key(), "dev");
        id.pod_uid = Some("u1".into());
        assert_eq!(id.rate_key(), "dev/u1");
    }
}
