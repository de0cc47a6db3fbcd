//! Which attesters the issuer trusts for client attestations, entry by entry: the Symbolon
//! attester(s) (the `[issuer.attestation]` keys; the environment policy applies) and each
//! third-party wallet provider (`[[issuer.attestation.wallet_providers]]`; its own policy).
//! An entry is trusted through public keys from a JWK or JWK Set file, and/or X.509 trust
//! anchors for attestations that carry an `x5c` chain. The entry whose key verified an
//! attestation decides its policy (`VerifiedAttestation::trusted_by` is the entry's index:
//! 0 is the Symbolon attester, `1 + i` the `i`-th wallet provider).
//!
//! Key files are re-read when they change (the attester rotates its key; under
//! `--mode=all` the in-process attester writes `<data_dir>/attester/jwks.json` after the
//! issuer may have started). Until every configured file has been read successfully the
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
    #[error("attester key file {path} is not a JWK or JWK Set of public signature keys: {source}")]
    Keys {
        /// The file.
        path: PathBuf,
        /// Why.
        source: KeysError,
    },
    /// The anchors file is not PEM certificates.
    #[error("attester trust anchors: {0}")]
    Anchors(#[source] jose::X5cError),
}

/// Why a JWK or JWK Set of attester keys is unusable.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// Not JSON (or JSON with duplicate members).
    #[error(transparent)]
    Json(#[from] jose::json::JsonError),
    /// `keys` is present but not an array.
    #[error("`keys` is not an array")]
    KeysNotArray,
    /// The set is empty.
    #[error("no keys")]
    NoKeys,
    /// A key is not a public signature key this issuer can verify with.
    #[error(transparent)]
    Jwk(#[from] jose::JwkError),
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
    fn verifier(&self, attesters: Vec<TrustedAttester>) -> AttestationVerifier {
        AttestationVerifier {
            audience: self.audience.clone(),
            attestation_algorithms: self.algorithms.clone(),
            pop_algorithms: self.algorithms.clone(),
            skew: self.skew,
            pop_max_age: self.pop_max_age,
            attesters,
        }
    }
}

/// Where the trust in one third-party wallet provider comes from.
#[derive(Clone, Debug, Default)]
pub struct ProviderSource {
    /// Its name (logs, error descriptions).
    pub name: String,
    /// A JWK or JWK Set file, watched for changes.
    pub jwks_file: Option<PathBuf>,
    /// PEM trust anchors for its `x5c` attestations.
    pub anchors_file: Option<PathBuf>,
    /// Keys given directly (tests, embedding).
    pub keys: Vec<PublicJwk>,
    /// Expected `iss` of its attestations, when they carry one.
    pub issuer: Option<String>,
}

/// Where trust comes from.
#[derive(Clone, Debug, Default)]
pub struct TrustSources {
    /// The Symbolon attester's JWK or JWK Set file, watched for changes.
    pub jwks_file: Option<PathBuf>,
    /// PEM trust anchors for the Symbolon attester's `x5c` attestations.
    pub anchors_file: Option<PathBuf>,
    /// Symbolon attester keys given directly (tests, embedding).
    pub keys: Vec<PublicJwk>,
    /// Third-party wallet providers, in order (entry `1 + i`).
    pub wallet_providers: Vec<ProviderSource>,
}

impl TrustSources {
    /// The sources `[issuer.attestation]` names (the Symbolon attester's key file is
    /// `jwks_file`, which the role may have defaulted).
    pub fn from_config(
        config: &crate::config::AttestationConfig,
        jwks_file: Option<PathBuf>,
    ) -> Self {
        TrustSources {
            jwks_file,
            anchors_file: config.x509_anchors.clone(),
            keys: Vec::new(),
            wallet_providers: config
                .wallet_providers
                .iter()
                .map(|p| ProviderSource {
                    name: p.name.clone(),
                    jwks_file: p.jwks_file.clone(),
                    anchors_file: p.x509_anchors.clone(),
                    keys: Vec::new(),
                    issuer: p.issuer.clone(),
                })
                .collect(),
        }
    }
}

/// One trust entry, as configured.
#[derive(Debug)]
struct Entry {
    name: String,
    jwks_file: Option<PathBuf>,
    inline: Vec<VerifyingKey>,
    anchors: Option<TrustAnchors>,
    issuer: Option<String>,
}

/// The keys read from an entry's file, and the file's stamp when read.
#[derive(Clone, Debug)]
struct FileKeys {
    keys: Vec<VerifyingKey>,
    stamp: Option<(SystemTime, u64)>,
}

#[derive(Debug, Default)]
struct Loaded {
    /// Per entry: the keys of its file, once read.
    files: Vec<Option<FileKeys>>,
    verifier: Option<Arc<AttestationVerifier>>,
}

/// The attester trust of one issuer.
#[derive(Debug)]
pub struct Trust {
    settings: VerifierSettings,
    entries: Vec<Entry>,
    loaded: RwLock<Loaded>,
    generation: AtomicU64,
}

/// Parses a JWK or a JWK Set into verification keys.
pub fn parse_keys(text: &[u8]) -> Result<Vec<VerifyingKey>, KeysError> {
    let v = jose::json::parse_value(text)?;
    let list: Vec<&Value> = match v.get("keys") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(_) => return Err(KeysError::KeysNotArray),
        None => vec![&v],
    };
    if list.is_empty() {
        return Err(KeysError::NoKeys);
    }
    list.into_iter()
        .map(|k| {
            let jwk = PublicJwk::from_value(k)?;
            Ok(VerifyingKey::from_jwk(&jwk)?)
        })
        .collect()
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

fn read_anchors(path: Option<&PathBuf>) -> Result<Option<TrustAnchors>, TrustError> {
    let Some(path) = path else {
        return Ok(None);
    };
    let pem = std::fs::read_to_string(path).map_err(|source| TrustError::Read {
        path: path.clone(),
        source,
    })?;
    Ok(Some(
        TrustAnchors::from_pem(&pem).map_err(TrustError::Anchors)?,
    ))
}

fn inline_keys(keys: &[PublicJwk]) -> Result<Vec<VerifyingKey>, TrustError> {
    keys.iter()
        .map(|k| {
            VerifyingKey::from_jwk(k).map_err(|e| TrustError::Keys {
                path: PathBuf::from("<configured keys>"),
                source: e.into(),
            })
        })
        .collect()
}

/// Name of the Symbolon attester entry (index 0) in logs.
pub const SYMBOLON_ATTESTER: &str = "symbolon attester";

impl Trust {
    /// Trust from `sources`; reads the files now (a missing key file is not an error here:
    /// [`Trust::is_loaded`] stays false until [`Trust::refresh`] finds it).
    pub fn new(settings: VerifierSettings, sources: &TrustSources) -> Result<Self, TrustError> {
        let mut entries = vec![Entry {
            name: SYMBOLON_ATTESTER.into(),
            jwks_file: sources.jwks_file.clone(),
            inline: inline_keys(&sources.keys)?,
            anchors: read_anchors(sources.anchors_file.as_ref())?,
            issuer: None,
        }];
        for p in &sources.wallet_providers {
            entries.push(Entry {
                name: p.name.clone(),
                jwks_file: p.jwks_file.clone(),
                inline: inline_keys(&p.keys)?,
                anchors: read_anchors(p.anchors_file.as_ref())?,
                issuer: p.issuer.clone(),
            });
        }
        let trust = Trust {
            settings,
            loaded: RwLock::new(Loaded {
                files: vec![None; entries.len()],
                verifier: None,
            }),
            entries,
            generation: AtomicU64::new(0),
        };
        if let Ok(mut loaded) = trust.loaded.write() {
            trust.install(&mut loaded);
        }
        if let Err(e) = trust.refresh() {
            tracing::warn!(error = %e, "client attestation trust not loaded yet");
        }
        Ok(trust)
    }

    /// Rebuilds the verifier from every entry's keys; none until every file was read once.
    fn install(&self, loaded: &mut Loaded) {
        let complete = self
            .entries
            .iter()
            .zip(&loaded.files)
            .all(|(e, f)| e.jwks_file.is_none() || f.is_some());
        // Nothing configured at all is not "trust loaded": it would refuse everyone, and
        // readiness should say so.
        let anything = self
            .entries
            .iter()
            .any(|e| e.jwks_file.is_some() || e.anchors.is_some() || !e.inline.is_empty());
        let attesters = self
            .entries
            .iter()
            .zip(&loaded.files)
            .map(|(e, f)| {
                let mut keys = f.as_ref().map(|f| f.keys.clone()).unwrap_or_default();
                keys.extend(e.inline.iter().cloned());
                TrustedAttester {
                    issuer: e.issuer.clone(),
                    keys,
                }
            })
            .collect();
        loaded.verifier =
            (complete && anything).then(|| Arc::new(self.settings.verifier(attesters)));
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Changes whenever new keys are installed: results verified under an older generation
    /// must not be reused.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The name of trust entry `index` (as `VerifiedAttestation::trusted_by` gives it).
    pub fn entry_name(&self, index: usize) -> &str {
        self.entries.get(index).map_or("?", |e| e.name.as_str())
    }

    /// Re-reads the key files that changed; `Ok(true)` when new keys were installed. A file
    /// that cannot be read keeps the keys read from it before; the first such error is
    /// returned after the other files were refreshed.
    pub fn refresh(&self) -> Result<bool, TrustError> {
        let mut first_error = None;
        let mut changed = Vec::new();
        for (i, entry) in self.entries.iter().enumerate() {
            let Some(path) = &entry.jwks_file else {
                continue;
            };
            let current = stamp(path);
            let known = self
                .loaded
                .read()
                .ok()
                .and_then(|l| l.files.get(i).cloned().flatten().map(|f| f.stamp));
            if current.is_some() && known == Some(current) {
                continue;
            }
            let read = std::fs::read(path)
                .map_err(|source| TrustError::Read {
                    path: path.clone(),
                    source,
                })
                .and_then(|text| {
                    parse_keys(&text).map_err(|source| TrustError::Keys {
                        path: path.clone(),
                        source,
                    })
                });
            match read {
                Ok(keys) => {
                    tracing::info!(
                        entry = %entry.name,
                        path = %path.display(),
                        keys = keys.len(),
                        "client attestation trust loaded"
                    );
                    changed.push((
                        i,
                        FileKeys {
                            keys,
                            stamp: current,
                        },
                    ));
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let installed = !changed.is_empty();
        if installed && let Ok(mut loaded) = self.loaded.write() {
            for (i, keys) in changed {
                if let Some(slot) = loaded.files.get_mut(i) {
                    *slot = Some(keys);
                }
            }
            self.install(&mut loaded);
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(installed),
        }
    }

    /// Whether attestations can be checked now: every configured key file was read once.
    pub fn is_loaded(&self) -> bool {
        self.loaded.read().is_ok_and(|l| l.verifier.is_some())
    }

    /// The verifier for `attestation`. When it carries an `x5c` chain that validates under
    /// an entry's anchors, a verifier that trusts only the chain's leaf key, for that entry;
    /// when no entry's anchors take the chain, the configured keys if one of them has the
    /// attestation's `kid` (an attester with a certificate still names its key), else the
    /// chain's error. `None` while trust is not loaded.
    pub fn verifier_for(
        &self,
        attestation: &str,
        now: i64,
    ) -> Option<Result<Arc<AttestationVerifier>, jose::X5cError>> {
        let base = self
            .loaded
            .read()
            .ok()
            .and_then(|l| l.verifier.as_ref().map(Arc::clone))?;
        let anchored = self.entries.iter().any(|e| e.anchors.is_some());
        let Some(jws) = CompactJws::parse(attestation).ok().filter(|_| anchored) else {
            return Some(Ok(base));
        };
        let Some(chain) = jws.header().x5c() else {
            return Some(Ok(base));
        };
        let mut chain_error = None;
        for (i, entry) in self.entries.iter().enumerate() {
            let Some(anchors) = &entry.anchors else {
                continue;
            };
            match jose::x5c::validate_chain(chain, anchors, now).and_then(|leaf| {
                VerifyingKey::from_jwk(leaf.public_jwk()).map_err(jose::X5cError::InvalidLeafKey)
            }) {
                Ok(key) => {
                    let attesters = self
                        .entries
                        .iter()
                        .enumerate()
                        .map(|(j, e)| TrustedAttester {
                            issuer: e.issuer.clone(),
                            keys: if i == j {
                                vec![key.clone()]
                            } else {
                                Vec::new()
                            },
                        })
                        .collect();
                    return Some(Ok(Arc::new(self.settings.verifier(attesters))));
                }
                Err(e) => {
                    chain_error.get_or_insert(e);
                }
            }
        }
        let kid = jws.header().kid();
        let named = kid.is_some()
            && base
                .attesters
                .iter()
                .flat_map(|a| a.keys.iter())
                .any(|k| k.jwk().kid() == kid);
        match chain_error {
            Some(e) if !named => Some(Err(e)),
            _ => Some(Ok(base)),
        }
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

    /// An unusable key file says which rule it broke, and keeps the failing call's error
    /// as its source instead of flattening it into a string.
    #[test]
    fn issue11_rejects_an_unusable_key_file_with_a_typed_source() {
        let a = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        assert!(matches!(parse_keys(b"{"), Err(KeysError::Json(_))));
        assert!(matches!(
            parse_keys(br#"{"keys":{}}"#),
            Err(KeysError::KeysNotArray)
        ));
        assert!(matches!(
            parse_keys(br#"{"keys":[]}"#),
            Err(KeysError::NoKeys)
        ));
        let private = a.to_private_jwk().unwrap().to_json();
        assert!(matches!(
            parse_keys(private.as_bytes()),
            Err(KeysError::Jwk(_))
        ));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        let trust = Trust::new(
            settings(),
            &TrustSources {
                jwks_file: Some(path.clone()),
                ..TrustSources::default()
            },
        )
        .unwrap();
        std::fs::write(&path, br#"{"keys":[]}"#).unwrap();
        let e = trust.refresh().unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "attester key file {} is not a JWK or JWK Set of public signature keys: no keys",
                path.display()
            )
        );
        let source = std::error::Error::source(&e).unwrap();
        assert!(matches!(
            source.downcast_ref::<KeysError>(),
            Some(KeysError::NoKeys)
        ));
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

    /// Issue 10 item 2: each entry's key file is its own; the issuer is ready once every
    /// file was read, and an attestation verified by a provider's key names that entry.
    #[test]
    fn issue10_each_trust_entry_has_its_own_keys_and_index() {
        use client_attestation::{AttestationClaims, PopClaims};
        let dir = tempfile::tempdir().unwrap();
        let provider_file = dir.path().join("provider.jwks");
        let ours = SoftwareSigner::generate(Algorithm::Es256)
            .unwrap()
            .with_kid("ours");
        let theirs = SoftwareSigner::generate(Algorithm::Es256)
            .unwrap()
            .with_kid("theirs");
        let trust = Trust::new(
            settings(),
            &TrustSources {
                keys: vec![ours.public_jwk().clone()],
                wallet_providers: vec![ProviderSource {
                    name: "acme".into(),
                    jwks_file: Some(provider_file.clone()),
                    ..ProviderSource::default()
                }],
                ..TrustSources::default()
            },
        )
        .unwrap();
        assert!(!trust.is_loaded(), "the provider's file is not there yet");
        std::fs::write(&provider_file, theirs.public_jwk().to_value().to_string()).unwrap();
        assert!(trust.refresh().unwrap());
        assert!(trust.is_loaded());
        assert_eq!(trust.entry_name(1), "acme");

        let now = 1_800_000_000;
        let ci = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let clock = jose::FixedClock(now);
        let pop = PopClaims {
            aud: "https://issuer.example".into(),
            jti: "j".into(),
            iat: now,
            challenge: None,
            legacy: None,
        }
        .sign(&ci)
        .unwrap();
        for (signer, entry) in [(&ours, 0), (&theirs, 1)] {
            let att = AttestationClaims {
                issuer: None,
                client_id: "c".into(),
                iat: now,
                exp: now + 60,
                cnf: ci.public_jwk().clone(),
                jti: None,
                environment: None,
                extra: serde_json::Map::new(),
            }
            .sign(signer, None)
            .unwrap();
            let v = trust.verifier_for(&att, now).unwrap().unwrap();
            assert_eq!(
                v.verify(&att, &pop, None, &clock).unwrap().trusted_by(),
                entry
            );
        }
    }
}
