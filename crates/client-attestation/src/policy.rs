//! A server's policy over the claims of an attestation. Attestations from Symbolon's own
//! attester carry `environment` claims ([`EnvironmentPolicy`]: which evidence types and
//! attester key protections are accepted, and claims that must have given values); those
//! from a third-party wallet provider do not, and get that provider's own policy
//! ([`WalletProviderPolicy`]: accepted client_ids and required claims).

use crate::claims::{Environment, EvidenceType, KeyProtection};
use serde_json::{Map, Value};

/// Why an attestation's environment was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyViolation {
    /// The attestation has no (or a malformed) `environment` claim and the policy needs one.
    #[error("attestation carries no valid `environment` claim")]
    NoEnvironment,
    /// Evidence type not accepted (e.g. `dev` in production).
    #[error("evidence type `{0}` is not accepted")]
    Evidence(&'static str),
    /// Attester key protection not accepted (e.g. `software`).
    #[error("attester key protection `{0}` is not accepted")]
    KeyProtection(&'static str),
    /// The attester (`iss`) is not allowed for this server.
    #[error("attester `{}` is not accepted", jose::escape_input(.0))]
    Attester(String),
    /// The client_id (attestation `sub`) is not among those accepted from this attester.
    #[error("client_id `{}` is not accepted from this attester", jose::escape_input(.0))]
    ClientId(String),
    /// A required claim (JSON pointer into the attestation claims) is absent or has a value
    /// outside the allowed set.
    #[error("claim `{pointer}` must be one of the configured values")]
    Claim {
        /// JSON pointer (RFC 6901) into the attestation claims.
        pointer: String,
    },
}

/// Claims (JSON pointer → accepted values) every attestation must carry.
fn required_claims(
    claims: &Map<String, Value>,
    required: &[(String, Vec<Value>)],
) -> Result<(), PolicyViolation> {
    if required.is_empty() {
        return Ok(());
    }
    let whole = Value::Object(claims.clone());
    for (pointer, allowed) in required {
        match whole.pointer(pointer) {
            Some(v) if allowed.contains(v) => {}
            _ => {
                return Err(PolicyViolation::Claim {
                    pointer: pointer.clone(),
                });
            }
        }
    }
    Ok(())
}

/// The policy over attestations from a third-party wallet provider: they carry no
/// Symbolon `environment` claim, so what the server can require is who the client is and
/// the provider's own claims (e.g. `/wallet_name`, `/status`).
#[derive(Clone, Debug, Default)]
pub struct WalletProviderPolicy {
    /// Accepted client_ids (attestation `sub`); empty accepts any the provider attests.
    pub client_ids: Vec<String>,
    /// Claims that must be present with one of the listed values (JSON pointer → values).
    pub required: Vec<(String, Vec<Value>)>,
}

impl WalletProviderPolicy {
    /// Evaluates the policy over verified attestation claims whose `sub` is `client_id`.
    pub fn evaluate(
        &self,
        client_id: &str,
        claims: &Map<String, Value>,
    ) -> Result<(), PolicyViolation> {
        if !self.client_ids.is_empty() && !self.client_ids.iter().any(|c| c == client_id) {
            return Err(PolicyViolation::ClientId(client_id.to_owned()));
        }
        required_claims(claims, &self.required)
    }
}

/// The policy. An empty list of evidence types or key protections accepts none: policies
/// are explicit.
#[derive(Clone, Debug)]
pub struct EnvironmentPolicy {
    /// Accepted evidence types.
    pub evidence: Vec<EvidenceType>,
    /// Accepted attester key protections.
    pub key_protection: Vec<KeyProtection>,
    /// If non-empty, only attestations whose `iss` is in this list.
    pub attesters: Vec<String>,
    /// Claims that must be present with one of the listed values (JSON pointer → values).
    pub required: Vec<(String, Vec<Value>)>,
}

impl EnvironmentPolicy {
    /// Production default: hardware-rooted evidence only (Kubernetes or TPM), attester key in
    /// PKCS#11 or a TPM.
    pub fn production() -> Self {
        EnvironmentPolicy {
            evidence: vec![EvidenceType::Kubernetes, EvidenceType::Tpm],
            key_protection: vec![KeyProtection::Pkcs11, KeyProtection::Tpm],
            attesters: Vec::new(),
            required: Vec::new(),
        }
    }

    /// Evaluates the policy over verified attestation claims.
    pub fn evaluate(&self, claims: &Map<String, Value>) -> Result<Environment, PolicyViolation> {
        if !self.attesters.is_empty() {
            let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
            if !self.attesters.iter().any(|a| a == iss) {
                return Err(PolicyViolation::Attester(iss.to_owned()));
            }
        }
        let env: Environment = claims
            .get("environment")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .ok_or(PolicyViolation::NoEnvironment)?;
        if !self.evidence.contains(&env.evidence) {
            return Err(PolicyViolation::Evidence(env.evidence.as_str()));
        }
        if !self.key_protection.contains(&env.key_protection) {
            return Err(PolicyViolation::KeyProtection(env.key_protection.as_str()));
        }
        required_claims(claims, &self.required)?;
        Ok(env)
    }
}
