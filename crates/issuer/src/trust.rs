//! Which attesters the issuer trusts for client attestations: public keys from a JWK or JWK
//! Set file, and/or X.509 trust anchors for attestations that carry an `x5c` chain.
//!
//! The key file is re-read when it changes (the attester rotates its key; under
//! `--mode=all` the in-process attester writes `<data_dir>/attester/jwks.json` after the
//! issuer may have started). Until a configured file has been read successfully the
//! issuer is not ready and `/token` answers `temporarily_unavailable`: a missing trust
//! configuration never means "accept anything".

use client_attestation::{AttestationVerifier, TrustedAttester};
use jose::{Algorithm, CompactJws, PublicJwk, TrustAnchors, VerifyingKey};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// Trust could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The key file could not be read.
    #[error("cannot read attester keys from {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The key file is not a JWK or a JWK Set of usable public keys.
    #[error("attester key file {path} is not a JWK or JWK Set of public signature keys: {reason}")]
    Keys {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The anchors file is not PEM certificates.
    #[error("attester trust anchors: {0}")]
    Anchors(jose::X5cError),
}

/// How PoPs and attestations are checked, whatever the keys.
#[derive(Clone, Debug)]
pub struct VerifierSettings {
    /// The issuer identifier: the PoP `aud`.
    pub audience: String,
    /// Accepted algorithms (attestation and PoP).
    pub algorithms: Vec<Algorithm>,
    /// Clock skew in seconds.
    pub skew: u64,
    /// Maximum PoP age in seconds.
    pub pop_max_age: u64,
}

impl VerifierSettings {
    fn verifier(&self, keys: Vec<VerifyingKey>) -> AttestationVerifier {
        AttestationVerifier {
            audience: self.audience.clone(),
            attestation_algorithms: self.algorithms.clone(),
            pop_algorithms: self.algorithms.clone(),
            skew: self.skew,
            pop_max_age: self.pop_max_age,
            attesters: vec![TrustedAttester { issuer: None, keys }],
        }
    }
}

/// Where trust comes from.
#[derive(Clone, Debug, Default)]
pub struct TrustSources {
    /// A JWK or JWK Set file, watched for changes.
    pub jwks_file: Option<PathBuf>,
    /// PEM trust anchors for `x5c` attestations.
    pub anchors_file: Option<PathBuf>,
    /// Keys given directly (tests, embedding).
    pub keys: Vec<PublicJwk>,
}

#[derive(Debug)]
struct Loaded {
    verifier: Arc<AttestationVerifier>,
    stamp: Option<(SystemTime, u64)>,
}

/// The attester trust of one issuer.
#[derive(Debug)]
pub struct Trust {
    settings: VerifierSettings,
    jwks_file: Option<PathBuf>,
    inline: Vec<VerifyingKey>,
    anchors: Option<TrustAnchors>,
    loaded: RwLock<Option<Loaded>>,
    generation: AtomicU64,
}

/// Parses a JWK or a JWK Set into verification keys.
pub fn parse_keys(text: &[u8]) -> Result<Vec<VerifyingKey>, String> {
    let v = jose::json::parse_value(text).map_err(|e| e.to_string())?;
    let list: Vec<&Value> = match v.get("keys") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(_) => return Err("`keys` is not an array".into()),
        None => vec![&v],
    };
    if list.is_empty() {
        return Err("no keys".into());
    }
    list.into_iter()
        .map(|k| {
            let jwk = PublicJwk::from_value(k).map_err(|e| e.to_string())?;
            VerifyingKey::from_jwk(&jwk).map_err(|e| e.to_string())
        })
        .collect()
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl Trust {
    /// Trust from `sources`; reads the files now (a missing key file is not an error here:
    /// [`Trust::is_loaded`] stays false until [`Trust::refresh`] finds it).
    pub fn new(settings: VerifierSettings, sources: &TrustSources) -> Result<Self, TrustError> {
        let anchors = match &sources.anchors_file {
            None => None,
            Some(path) => {
                let pem = std::fs::read_to_string(path).map_err(|source| TrustError::Read {
                    path: path.clone(),
                    source,
                })?;
                Some(TrustAnchors::from_pem(&pem).map_err(TrustError::Anchors)?)
            }
        };
        let inline = sources
            .keys
            .iter()
            .map(|k| {
                VerifyingKey::from_jwk(k).map_err(|e| TrustError::Keys {
                    path: PathBuf::from("<configured keys>"),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let trust = Trust {
            settings,
            jwks_file: sources.jwks_file.clone(),
            inline,
            anchors,
            loaded: RwLock::new(None),
            generation: AtomicU64::new(0),
        };
        if trust.jwks_file.is_none() && !trust.inline.is_empty() {
            trust.install(trust.inline.clone(), None);
        }
        if let Err(e) = trust.refresh() {
            tracing::warn!(error = %e, "client attestation trust not loaded yet");
        }
        Ok(trust)
    }

    fn install(&self, keys: Vec<VerifyingKey>, stamp: Option<(SystemTime, u64)>) {
        let verifier = Arc::new(self.settings.verifier(keys));
        if let Ok(mut slot) = self.loaded.write() {
            *slot = Some(Loaded { verifier, stamp });
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Changes whenever new keys are installed: results verified under an older generation
    /// must not be reused.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Re-reads the key file if it changed; `Ok(true)` when new keys were installed.
    pub fn refresh(&self) -> Result<bool, TrustError> {
        let Some(path) = &self.jwks_file else {
            return Ok(false);
        };
        let current = stamp(path);
        let known = self
            .loaded
            .read()
            .ok()
            .and_then(|l| l.as_ref().map(|l| l.stamp));
        if current.is_some() && known == Some(current) {
            return Ok(false);
        }
        let text = std::fs::read(path).map_err(|source| TrustError::Read {
            path: path.clone(),
            source,
        })?;
        let mut keys = parse_keys(&text).map_err(|reason| TrustError::Keys {
            path: path.clone(),
            reason,
        })?;
        keys.extend(self.inline.iter().cloned());
        tracing::info!(path = %path.display(), keys = keys.len(), "client attestation trust loaded");
        self.install(keys, current);
        Ok(true)
    }

    /// Whether attestations can be checked now.
    pub fn is_loaded(&self) -> bool {
        self.anchors.is_some() || self.loaded.read().is_ok_and(|l| l.is_some())
    }

    /// The verifier for `attestation`: the leaf key of its `x5c` chain when anchors are
    /// configured and it carries one, else the configured keys. `None` while no trust is
    /// loaded.
    pub fn verifier_for(
        &self,
        attestation: &str,
        now: i64,
    ) -> Option<Result<Arc<AttestationVerifier>, jose::X5cError>> {
        if let Some(anchors) = &self.anchors
            && let Ok(jws) = CompactJws::parse(attestation)
            && let Some(chain) = jws.header().x5c()
        {
            return Some(
                jose::x5c::validate_chain(chain, anchors, now).and_then(|leaf| {
                    let key = VerifyingKey::from_jwk(leaf.public_jwk())
                        .map_err(jose::X5cError::InvalidLeafKey)?;
                    Ok(Arc::new(self.settings.verifier(vec![key])))
                }),
            );
        }
        self.loaded
            .read()
            .ok()
            .and_then(|l| l.as_ref().map(|l| Ok(Arc::clone(&l.verifier))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jose::{Signer, SoftwareSigner};

    fn settings() -> VerifierSettings {
        VerifierSettings {
            audience: "https://issuer.example".into(),
            algorithms: vec![Algorithm::Es256],
            skew: 30,
            pop_max_age: 300,
        }
    }

    #[test]
    fn reads_a_jwk_or_a_jwk_set() {
        let a = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let b = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let one = a.public_jwk().to_value().to_string();
        assert_eq!(parse_keys(one.as_bytes()).unwrap().len(), 1);
        let set =
            serde_json::json!({"keys": [a.public_jwk().to_value(), b.public_jwk().to_value()]});
        assert_eq!(parse_keys(set.to_string().as_bytes()).unwrap().len(), 2);
        assert!(parse_keys(br#"{"keys":[]}"#).is_err());
        let private = a.to_private_jwk().unwrap().to_json();
        assert!(parse_keys(private.as_bytes()).is_err());
    }

    #[test]
    fn waits_for_a_missing_file_then_loads_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("attester/jwks.json");
        let trust = Trust::new(
            settings(),
            &TrustSources {
                jwks_file: Some(path.clone()),
                ..TrustSources::default()
            },
        )
        .unwrap();
        assert!(!trust.is_loaded());
        assert!(trust.verifier_for("a.b.c", 0).is_none());
        assert!(trust.refresh().is_err());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let key = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        std::fs::write(
            &path,
            serde_json::json!({"keys":[key.public_jwk().to_value()]}).to_string(),
        )
        .unwrap();
        assert!(trust.refresh().unwrap());
        assert!(trust.is_loaded());
        assert!(!trust.refresh().unwrap(), "unchanged file is not re-read");
    }
}
