//! Claim sets of the Client Attestation JWT and its PoP, and Symbolon's environment claims
//! (what the attester checked about the wallet instance).

use jose::{HeaderBuilder, PublicJwk, SignError, Signer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// How the attester authenticated the wallet instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvidenceType {
    /// A Kubernetes service-account token checked with the TokenReview API.
    Kubernetes,
    /// TPM evidence: App Key certified by the AK, fresh quote.
    Tpm,
    /// Development evidence: nothing was checked. Issuers should refuse it in production.
    Dev,
}

impl EvidenceType {
    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceType::Kubernetes => "kubernetes",
            EvidenceType::Tpm => "tpm",
            EvidenceType::Dev => "dev",
        }
    }
}

/// How the attester's own signing key (the A-Key) is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyProtection {
    /// Inside a PKCS#11 token, non-extractable.
    Pkcs11,
    /// Inside a TPM.
    Tpm,
    /// A software key (encrypted at rest, but in process memory when used).
    Software,
}

impl KeyProtection {
    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyProtection::Pkcs11 => "pkcs11",
            KeyProtection::Tpm => "tpm",
            KeyProtection::Software => "software",
        }
    }
}

/// Symbolon's environment claims, carried in the attestation as the `environment` object.
///
/// `evidence` and `key_protection` are always present; the other members depend on the
/// evidence type (e.g. `namespace` and `service_account` for Kubernetes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// How the wallet instance was authenticated.
    pub evidence: EvidenceType,
    /// How the attester's signing key is protected.
    pub key_protection: KeyProtection,
    /// Kubernetes namespace of the wallet pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Kubernetes service account of the wallet pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// Further evidence-specific claims (e.g. TPM PCR digest, geolocation).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Claims of a Client Attestation JWT, as the attester writes them.
#[derive(Clone, Debug)]
pub struct AttestationClaims {
    /// Attester identifier (`iss`; required by -07, harmless for -10 verifiers).
    pub issuer: Option<String>,
    /// The client_id (`sub`).
    pub client_id: String,
    /// Issued-at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
    /// The client instance key (`cnf.jwk`).
    pub cnf: PublicJwk,
    /// Unique identifier of this attestation (for the audit log).
    pub jti: Option<String>,
    /// Environment claims.
    pub environment: Option<Environment>,
    /// Further claims (e.g. `wallet_name`, `wallet_link` from OID4VCI Appendix E).
    pub extra: Map<String, Value>,
}

impl AttestationClaims {
    /// The claims as a JSON object.
    pub fn to_object(&self) -> Map<String, Value> {
        let mut m = Map::new();
        if let Some(iss) = &self.issuer {
            m.insert("iss".into(), iss.clone().into());
        }
        m.insert("sub".into(), self.client_id.clone().into());
        m.insert("iat".into(), self.iat.into());
        m.insert("exp".into(), self.exp.into());
        m.insert("cnf".into(), json!({ "jwk": self.cnf.bare().to_value() }));
        if let Some(jti) = &self.jti {
            m.insert("jti".into(), jti.clone().into());
        }
        if let Some(env) = &self.environment {
            m.insert(
                "environment".into(),
                serde_json::to_value(env).unwrap_or(Value::Null),
            );
        }
        for (k, v) in &self.extra {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
        m
    }

    /// Signs the attestation (`typ` `oauth-client-attestation+jwt`, `kid` from the signer,
    /// optional `x5c`).
    pub fn sign(&self, signer: &dyn Signer, x5c: Option<&[Vec<u8>]>) -> Result<String, SignError> {
        let mut h = HeaderBuilder::new().typ(crate::ATTESTATION_TYP);
        if let Some(kid) = signer.key_id() {
            h = h.kid(kid);
        }
        if let Some(chain) = x5c {
            h = h.x5c(chain);
        }
        h.sign(
            Value::Object(self.to_object()).to_string().as_bytes(),
            signer,
        )
    }
}

/// Claims of a PoP JWT, as the wallet writes them.
#[derive(Clone, Debug)]
pub struct PopClaims {
    /// The authorization server's issuer identifier.
    pub aud: String,
    /// Unique identifier (the server keeps a replay cache of these).
    pub jti: String,
    /// Issued-at.
    pub iat: i64,
    /// The server-provided challenge, when it demanded one.
    pub challenge: Option<String>,
    /// Draft -07 compatibility: `iss` = client_id and `exp`. Servers following -10 ignore
    /// them; -07 servers require them.
    pub legacy: Option<(String, i64)>,
}

impl PopClaims {
    /// The claims as a JSON object.
    pub fn to_object(&self) -> Map<String, Value> {
        let mut m = Map::new();
        if let Some((iss, exp)) = &self.legacy {
            m.insert("iss".into(), iss.clone().into());
            m.insert("exp".into(), (*exp).into());
        }
        m.insert("aud".into(), self.aud.clone().into());
        m.insert("jti".into(), self.jti.clone().into());
        m.insert("iat".into(), self.iat.into());
        if let Some(c) = &self.challenge {
            m.insert("challenge".into(), c.clone().into());
        }
        m
    }

    /// Signs the PoP with the client instance key.
    pub fn sign(&self, ci_key: &dyn Signer) -> Result<String, SignError> {
        HeaderBuilder::new().typ(crate::POP_TYP).sign(
            Value::Object(self.to_object()).to_string().as_bytes(),
            ci_key,
        )
    }
}
