//! Evidence: how a caller proves which workload it is, and the identity that results.
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
use keys::SecretString;
use serde_json::{Map, Value};

use crate::error::AttestError;

/// Longest service-account token accepted (real ones are about 1 KiB).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Evidence as sent, parsed.
#[derive(Debug)]
pub enum Evidence {
    /// A Kubernetes service-account token (a bearer credential: redacted in `Debug`).
    Kubernetes {
        /// The token.
        token: SecretString,
    },
    /// TPM evidence (not accepted yet).
    Tpm,
    /// Development evidence.
    Dev,
}

impl Evidence {
    /// The evidence type.
    pub fn kind(&self) -> EvidenceType {
        match self {
            Evidence::Kubernetes { .. } => EvidenceType::Kubernetes,
            Evidence::Tpm => EvidenceType::Tpm,
            Evidence::Dev => EvidenceType::Dev,
        }
    }

    /// Parses the request's `evidence` member.
    pub fn parse(value: &Value) -> Result<Evidence, AttestError> {
        let obj = value.as_object().ok_or(AttestError::Body("evidence"))?;
        let kind = obj
            .get("type")
            .and_then(Value::as_str)
            .ok_or(AttestError::Body("evidence.type"))?;
        match kind {
            "kubernetes" => {
                only(obj, &["type", "token"])?;
                let token = match obj.get("token") {
                    Some(Value::String(t)) if !t.is_empty() && t.len() <= MAX_TOKEN_LEN => t,
                    _ => return Err(AttestError::Body("evidence.token")),
                };
                Ok(Evidence::Kubernetes {
                    token: SecretString::from(token.clone()),
                })
            }
            "dev" => {
                only(obj, &["type"])?;
                Ok(Evidence::Dev)
            }
            "tpm" => Ok(Evidence::Tpm),
            _ => Err(AttestError::UnknownEvidence),
        }
    }
}

fn only(obj: &Map<String, Value>, allowed: &[&str]) -> Result<(), AttestError> {
    if obj.keys().all(|k| allowed.contains(&k.as_str())) {
        Ok(())
    } else {
        Err(AttestError::Body("evidence"))
    }
}

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
    use serde_json::json;

    #[test]
    fn parses_each_evidence_type() {
        assert!(matches!(
            Evidence::parse(&json!({"type": "kubernetes", "token": "eyJ"})),
            Ok(Evidence::Kubernetes { .. })
        ));
        assert!(matches!(
            Evidence::parse(&json!({"type": "dev"})),
            Ok(Evidence::Dev)
        ));
        assert_eq!(
            Evidence::parse(&json!({"type": "tpm", "quote": "x"}))
                .unwrap()
                .kind(),
            EvidenceType::Tpm
        );
    }

    #[test]
    fn rejects_malformed_evidence_naming_the_member() {
        for (v, member) in [
            (json!("kubernetes"), "evidence"),
            (json!({}), "evidence.type"),
            (json!({"type": 1}), "evidence.type"),
            (json!({"type": "kubernetes"}), "evidence.token"),
            (json!({"type": "kubernetes", "token": ""}), "evidence.token"),
            (
                json!({"type": "kubernetes", "token": "x", "extra": 1}),
                "evidence",
            ),
            (json!({"type": "dev", "namespace": "x"}), "evidence"),
        ] {
            assert!(
                matches!(Evidence::parse(&v), Err(AttestError::Body(m)) if m == member),
                "{v}"
            );
        }
        assert!(matches!(
            Evidence::parse(&json!({"type": "sgx"})),
            Err(AttestError::UnknownEvidence)
        ));
    }

    #[test]
    fn token_is_redacted_in_debug() {
        let e = Evidence::parse(&json!({"type": "kubernetes", "token": "secret-token"})).unwrap();
        assert!(!format!("{e:?}").contains("secret-token"));
    }

    #[test]
    fn rate_key_is_per_pod_when_bound() {
        let mut id = Identity::dev();
        assert_eq!(id.rate_key(), "dev");
        id.pod_uid = Some("u1".into());
        assert_eq!(id.rate_key(), "dev/u1");
    }
}
