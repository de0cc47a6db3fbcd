//! The body a wallet sends its attester to get an attestation (`POST /v1/attestations`):
//! the `client_id` to name, the CI-Key to attest (`ci_jwk`), the proof of possession of
//! that key ([`crate::proof`]) and the evidence of which workload the caller is.
//!
//! ```json
//! {"client_id": "wallet-1", "ci_jwk": {…}, "challenge_response": "<JWS>",
//!  "evidence": {"type": "kubernetes", "token": "<projected service-account token>"}}
//! ```
//!
//! Parsing does no I/O and checks nothing but the shape: the attester authenticates the
//! evidence and verifies the proof. It lives here, next to the proof, so the attester
//! and the fuzz target share one parser without the fuzz target linking the attester
//! service.
//!
//! The request's `evidence` object names its `type` ([`EvidenceType`]):
//! - `kubernetes`: `{"type": "kubernetes", "token": "<projected service-account token>"}`;
//! - `dev`: `{"type": "dev"}`, development evidence (nothing is checked);
//! - `tpm`: reserved for the TPM path (its members are not parsed yet).
//!
//! Unknown evidence members are refused, so a typo never silently turns into weaker
//! evidence; unknown top-level members are ignored, as OAuth does with unknown parameters.

use jose::{PublicJwk, VerifyingKey};
use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::EvidenceType;

/// Longest `client_id` accepted.
pub const MAX_CLIENT_ID: usize = 255;
/// Longest `challenge_response` accepted.
pub const MAX_CHALLENGE_RESPONSE: usize = 8 * 1024;
/// Longest service-account token accepted (real ones are about 1 KiB).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Why an attestation request body was refused. Every message names the member and is
/// meant for the client developer.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The body is not a JSON object, or a member is missing or has the wrong type.
    #[error("request member `{0}` is missing or malformed")]
    Body(&'static str),
    /// `client_id` is empty, longer than 255 bytes, or not visible ASCII.
    #[error("`client_id` must be 1 to 255 visible ASCII characters")]
    ClientId,
    /// `ci_jwk` is not a public signature key this attester can bind.
    #[error("`ci_jwk` is not a usable public key: {0}")]
    CiKey(#[source] jose::JwkError),
    /// The evidence type is not one this crate knows.
    #[error("unknown evidence type")]
    UnknownEvidence,
}

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
    pub fn parse(value: &Value) -> Result<Evidence, RequestError> {
        let obj = value.as_object().ok_or(RequestError::Body("evidence"))?;
        let kind = obj
            .get("type")
            .and_then(Value::as_str)
            .ok_or(RequestError::Body("evidence.type"))?;
        match kind {
            "kubernetes" => {
                only(obj, &["type", "token"])?;
                let token = match obj.get("token") {
                    Some(Value::String(t)) if !t.is_empty() && t.len() <= MAX_TOKEN_LEN => t,
                    _ => return Err(RequestError::Body("evidence.token")),
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
            _ => Err(RequestError::UnknownEvidence),
        }
    }
}

fn only(obj: &Map<String, Value>, allowed: &[&str]) -> Result<(), RequestError> {
    if obj.keys().all(|k| allowed.contains(&k.as_str())) {
        Ok(())
    } else {
        Err(RequestError::Body("evidence"))
    }
}

/// An attestation request, parsed.
#[derive(Debug)]
pub struct AttestationRequest {
    /// The attestation's `sub`.
    pub client_id: String,
    /// The key to attest.
    pub ci_jwk: PublicJwk,
    ci_key: VerifyingKey,
    /// The proof of possession.
    pub challenge_response: String,
    /// How the caller authenticates.
    pub evidence: Evidence,
}

impl AttestationRequest {
    /// Parses a JSON body (duplicate members refused; unknown top-level members ignored,
    /// as OAuth does with unknown parameters).
    pub fn parse(body: &[u8]) -> Result<AttestationRequest, RequestError> {
        let obj = jose::json::parse_object(body).map_err(|_| RequestError::Body("body"))?;
        let client_id = match obj.get("client_id") {
            Some(Value::String(s)) => s,
            _ => return Err(RequestError::Body("client_id")),
        };
        if client_id.is_empty()
            || client_id.len() > MAX_CLIENT_ID
            || !client_id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(RequestError::ClientId);
        }
        let ci_value = obj.get("ci_jwk").ok_or(RequestError::Body("ci_jwk"))?;
        if !ci_value.is_object() {
            return Err(RequestError::Body("ci_jwk"));
        }
        let ci_jwk = PublicJwk::from_value(ci_value).map_err(RequestError::CiKey)?;
        let ci_key = VerifyingKey::from_jwk(&ci_jwk).map_err(RequestError::CiKey)?;
        let challenge_response = match obj.get("challenge_response") {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_CHALLENGE_RESPONSE => {
                s.clone()
            }
            _ => return Err(RequestError::Body("challenge_response")),
        };
        let evidence = Evidence::parse(obj.get("evidence").ok_or(RequestError::Body("evidence"))?)?;
        Ok(AttestationRequest {
            client_id: client_id.clone(),
            ci_jwk,
            ci_key,
            challenge_response,
            evidence,
        })
    }

    /// `ci_jwk` as a verifying key (checked usable while parsing).
    pub fn ci_key(&self) -> &VerifyingKey {
        &self.ci_key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jose::{Algorithm, Signer, SoftwareSigner};
    use serde_json::json;

    fn body(v: Value) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    fn valid() -> Value {
        let key = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        json!({
            "client_id": "wallet-1",
            "ci_jwk": key.public_jwk().to_value(),
            "challenge_response": "a.b.c",
            "evidence": {"type": "dev"},
        })
    }

    #[test]
    fn parses_a_valid_request_ignoring_unknown_members() {
        let mut v = valid();
        v["future_member"] = json!(1);
        let r = AttestationRequest::parse(&body(v)).unwrap();
        assert_eq!(r.client_id, "wallet-1");
        assert!(matches!(r.evidence, Evidence::Dev));
    }

    #[test]
    fn rejects_malformed_requests_naming_the_member() {
        type Mutation = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|v| v["client_id"] = json!(5)), "client_id"),
            (
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("client_id");
                }),
                "client_id",
            ),
            (Box::new(|v| v["ci_jwk"] = json!("jwk")), "ci_jwk"),
            (
                Box::new(|v| v["challenge_response"] = json!("")),
                "challenge_response",
            ),
            (
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("evidence");
                }),
                "evidence",
            ),
        ];
        for (mutate, member) in cases {
            let mut v = valid();
            mutate(&mut v);
            assert!(
                matches!(AttestationRequest::parse(&body(v)), Err(RequestError::Body(m)) if m == member),
                "{member}"
            );
        }
        assert!(matches!(
            AttestationRequest::parse(b"[1]"),
            Err(RequestError::Body("body"))
        ));
        assert!(matches!(
            AttestationRequest::parse(br#"{"client_id":"a","client_id":"b"}"#),
            Err(RequestError::Body("body"))
        ));
    }

    #[test]
    fn rejects_bad_client_ids() {
        for id in [String::new(), "a b".into(), "x".repeat(256), "é".into()] {
            let mut v = valid();
            v["client_id"] = json!(id);
            assert!(
                matches!(
                    AttestationRequest::parse(&body(v)),
                    Err(RequestError::ClientId)
                ),
                "{id:?}"
            );
        }
    }

    #[test]
    fn rejects_private_or_unusable_ci_keys() {
        let key = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let private = key.to_private_jwk().unwrap();
        let mut v = valid();
        v["ci_jwk"] = serde_json::from_str(&private.to_json()).unwrap();
        assert!(matches!(
            AttestationRequest::parse(&body(v)),
            Err(RequestError::CiKey(_))
        ));
        let mut v = valid();
        v["ci_jwk"] = json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"});
        assert!(matches!(
            AttestationRequest::parse(&body(v)),
            Err(RequestError::CiKey(_))
        ));
    }

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
                matches!(Evidence::parse(&v), Err(RequestError::Body(m)) if m == member),
                "{v}"
            );
        }
        assert!(matches!(
            Evidence::parse(&json!({"type": "sgx"})),
            Err(RequestError::UnknownEvidence)
        ));
    }

    #[test]
    fn token_is_redacted_in_debug() {
        let e = Evidence::parse(&json!({"type": "kubernetes", "token": "secret-token"})).unwrap();
        assert!(!format!("{e:?}").contains("secret-token"));
    }
}
