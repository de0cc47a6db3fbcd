//! The issuer's state, shared by every request: configuration, database, single-use
//! store, keys, attestation trust, status lists, prebuilt metadata — and the injected
//! clock and randomness. Built once at start by [`State::new`] from [`Dependencies`], which
//! runs the migrations, opens or creates the request encryption key and the current
//! signing key, so a misconfiguration stops the start instead of the first request.

use crate::access_tokens::TokenCache;
use crate::auth::{ClientAuth, ClientPolicy};
use crate::config::IssuerConfig;
use crate::error::Failure;
use crate::metadata::{Endpoints, as_metadata, issuer_metadata};
use crate::signing::{KeyStore, Rotation, SigningKeys};
use crate::status::StatusLists;
use crate::trust::{Trust, TrustSources, VerifierSettings};
use client_attestation::EnvironmentPolicy;
use jose::jwe::EncryptionKey;
use jose::random::Random;
use jose::{Clock, Curve, PrivateJwk};
use oid4vci::{AuthorizationServerMetadata, CredentialIssuerMetadata};
use service::config::Secret;
use std::sync::Arc;
use std::time::Duration;
use store::{Database, SingleUse};

/// Why the issuer could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be migrated.
    #[error("issuer database: {0}")]
    Migrate(#[from] store::Error),
    /// A query at start failed.
    #[error("issuer database: {0}")]
    Database(#[from] sqlx::Error),
    /// The signing key could not be created or opened.
    #[error("issuer signing key: {0}")]
    Keys(#[from] crate::signing::KeyError),
    /// The attestation trust could not be read.
    #[error(transparent)]
    Trust(#[from] crate::trust::TrustError),
    /// Encryption is enabled but no KEK protects the request encryption key.
    #[error(
        "`issuer.encryption.enabled` needs `issuer.keys.kek` to protect the request encryption key"
    )]
    EncryptionWithoutKek,
    /// The request encryption key could not be created or opened.
    #[error("issuer request encryption key: {0}")]
    EncryptionKey(#[from] EncryptionKeyError),
    /// No credential configuration is set.
    #[error(
        "issuer configuration: no credential configuration: add [issuer.credentials.<id>] (or run with --mode=all for the demo)"
    )]
    NoCredentials,
    /// The trusted wallet providers and their policies (`attestation.wallet_providers`)
    /// are not the same list.
    #[error(
        "issuer configuration: the trusted wallet providers differ from `attestation.wallet_providers`: each needs its policy"
    )]
    WalletProviderPolicies,
    /// The credential issuer metadata built from the configuration breaks a rule of
    /// OpenID4VCI §12.2.
    #[error("issuer configuration: {0}")]
    Metadata(#[from] oid4vci::MetadataError),
    /// `issuer.admin_token` names a file or variable that cannot be read.
    #[error("cannot read `issuer.admin_token`: {0}")]
    AdminToken(#[source] keys::SecretError),
    /// A start-up step (status lists, keys in the database) failed.
    #[error("issuer configuration: {0}")]
    Failed(#[from] Failure),
}

/// Why the request encryption key could not be created or opened (the step that failed,
/// with the error of the call).
#[derive(Debug, thiserror::Error)]
pub enum EncryptionKeyError {
    /// No random key id.
    #[error(transparent)]
    Random(#[from] jose::random::RandomError),
    /// Generating the key, exporting it, or importing the stored one failed.
    #[error(transparent)]
    Key(#[from] jose::jwe::JweError),
    /// Sealing it under the KEK, or opening the stored record, failed (a different KEK,
    /// or a damaged record).
    #[error(transparent)]
    Seal(#[from] keys::seal::SealError),
    /// The stored record does not hold a private JWK.
    #[error(transparent)]
    Jwk(#[from] jose::JwkError),
    /// No key is stored, even after inserting one.
    #[error("not stored")]
    NotStored,
}

/// Everything the issuer needs from outside.
pub struct Dependencies {
    /// The typed `[issuer]` section.
    pub config: IssuerConfig,
    /// The Credential Issuer Identifier (https, or loopback http when allowed).
    pub identifier: String,
    /// The database (SQLite or PostgreSQL).
    pub database: Database,
    /// Single-use values (in-process, Redis or database).
    pub single_use: Arc<dyn SingleUse>,
    /// Where private signing keys live.
    pub key_store: KeyStore,
    /// The KEK for the request encryption key (required when encryption is enabled).
    pub kek: Option<Arc<keys::Kek>>,
    /// Attester trust.
    pub trust: TrustSources,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The random generator.
    pub random: Arc<dyn Random>,
}

impl std::fmt::Debug for Dependencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dependencies")
            .field("identifier", &self.identifier)
            .finish_non_exhaustive()
    }
}

/// Settings the handlers read.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) identifier: String,
    pub(crate) offer_ttl: i64,
    pub(crate) access_token_ttl: i64,
    pub(crate) nonce_ttl: Duration,
    pub(crate) tx_code_max_attempts: i64,
    pub(crate) proof_max_age: u64,
    pub(crate) skew: u64,
    pub(crate) batch_size: usize,
}

/// The shared state.
pub struct State {
    pub(crate) config: IssuerConfig,
    pub(crate) settings: Settings,
    pub(crate) db: Database,
    pub(crate) single_use: Arc<dyn SingleUse>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) random: Arc<dyn Random>,
    pub(crate) keys: SigningKeys,
    pub(crate) encryption_key: Option<EncryptionKey>,
    pub(crate) auth: ClientAuth,
    pub(crate) dpop: crate::dpop::Dpop,
    pub(crate) status: StatusLists,
    pub(crate) tokens: TokenCache,
    pub(crate) writers: crate::batch::Writers,
    pub(crate) admin_token: Option<Secret>,
    pub(crate) issuer_metadata: CredentialIssuerMetadata,
    pub(crate) issuer_metadata_json: String,
    pub(crate) as_metadata_json: String,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("identifier", &self.settings.identifier)
            .finish_non_exhaustive()
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Opens the request encryption key, creating it on first start.
async fn encryption_key(
    db: &Database,
    kek: &keys::Kek,
    random: &dyn Random,
    now: i64,
) -> Result<EncryptionKey, StartError> {
    let aad = |kid: &str| format!("symbolon-issuer request-encryption-key\0{kid}").into_bytes();
    if crate::db::encryption_key(db.pool()).await?.is_none() {
        let kid = jose::random::token(random, 12).map_err(EncryptionKeyError::from)?;
        let key = EncryptionKey::generate(Curve::P256).map_err(EncryptionKeyError::from)?;
        let private = key.to_private_jwk().map_err(EncryptionKeyError::from)?;
        let sealed = keys::seal::seal(kek, &aad(&kid), private.to_json().as_bytes())
            .map_err(EncryptionKeyError::from)?;
        let public = key.public_jwk_for_encryption().with_kid(kid.clone());
        crate::db::insert_encryption_key(
            db.pool(),
            &kid,
            &public.to_value().to_string(),
            &sealed,
            now,
        )
        .await?;
    }
    // Replicas starting together may each insert one: all use the first.
    let (kid, sealed) = crate::db::encryption_key(db.pool())
        .await?
        .ok_or(EncryptionKeyError::NotStored)?;
    let plain = keys::seal::open(kek, &aad(&kid), &sealed).map_err(EncryptionKeyError::from)?;
    let private = PrivateJwk::from_json(&plain).map_err(EncryptionKeyError::from)?;
    Ok(EncryptionKey::from_private_jwk(&private)
        .map_err(EncryptionKeyError::from)?
        .with_kid(kid))
}

/// The start-up checks of [`State::new`] that need only the configuration and whether a
/// KEK is available: `symbolon config check --mode=issuer` runs them without opening the
/// database, so it refuses what `serve` would refuse.
pub fn check_config(config: &IssuerConfig, has_kek: bool) -> Result<(), StartError> {
    if config.credentials.is_empty() {
        return Err(StartError::NoCredentials);
    }
    if config.encryption.enabled && !has_kek {
        return Err(StartError::EncryptionWithoutKek);
    }
    Ok(())
}

impl State {
    /// Builds the state: migrations, keys, metadata.
    pub async fn new(deps: Dependencies) -> Result<Arc<State>, StartError> {
        let Dependencies {
            config,
            identifier,
            database,
            single_use,
            key_store,
            kek,
            trust,
            clock,
            random,
        } = deps;
        check_config(&config, kek.is_some())?;
        crate::db::migrate(&database).await?;
        let now = clock.now();
        let encryption_key = match (config.encryption.enabled, &kek) {
            (false, _) => None,
            (true, None) => return Err(StartError::EncryptionWithoutKek),
            (true, Some(kek)) => Some(encryption_key(&database, kek, random.as_ref(), now).await?),
        };
        let publish_after = config
            .keys
            .retention
            .max(config.longest_validity())
            .max(config.status_list.validity);
        let keys = SigningKeys::new(
            database.clone(),
            key_store,
            Rotation {
                algorithm: config.keys.algorithm,
                period: config.keys.rotation_period,
                publish_after,
            },
        );
        keys.current(now).await?;
        let skew = config.clock_skew.as_secs();
        let attestation = &config.attestation;
        if trust.wallet_providers.len() != attestation.wallet_providers.len() {
            return Err(StartError::WalletProviderPolicies);
        }
        let trust = Trust::new(
            VerifierSettings {
                audience: identifier.clone(),
                algorithms: attestation.algorithms.clone(),
                skew,
                pop_max_age: attestation.pop_max_age.as_secs(),
            },
            &trust,
        )?;
        let auth = ClientAuth {
            trust,
            policy: ClientPolicy {
                environment: EnvironmentPolicy {
                    evidence: attestation.evidence.clone(),
                    key_protection: attestation.key_protection.clone(),
                    attesters: attestation.attesters.clone(),
                    required: attestation
                        .required_claims
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                },
                require_environment: attestation.require_environment.unwrap_or(true),
                client_ids: attestation.client_ids.clone(),
                wallet_providers: attestation
                    .wallet_providers
                    .iter()
                    .map(|p| client_attestation::WalletProviderPolicy {
                        client_ids: p.client_ids.clone(),
                        required: p
                            .required_claims
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    })
                    .collect(),
                require_challenge: attestation.require_challenge,
                challenge_ttl: attestation.challenge_ttl,
                jti_ttl: attestation.pop_max_age + config.clock_skew * 2,
            },
            single_use: Arc::clone(&single_use),
            random: Arc::clone(&random),
            verified: crate::auth::AttestationCache::new(16_384),
        };
        let dpop = crate::dpop::Dpop::new(
            config.dpop.clone(),
            skew,
            Arc::clone(&single_use),
            Arc::clone(&random),
        );
        let status = StatusLists::new(
            database.clone(),
            config.status_list.bits,
            config.status_list.size,
            config.status_list.ttl,
            config.status_list.validity,
            format!("{identifier}/status"),
        );
        let endpoints = Endpoints {
            identifier: identifier.clone(),
        };
        let encryption_public = encryption_key
            .as_ref()
            .map(|k| k.public_jwk_for_encryption().with_alg(jose::jwe::ECDH_ES));
        let issuer_metadata = issuer_metadata(&config, &endpoints, encryption_public.as_ref());
        issuer_metadata.validate().map_err(StartError::Metadata)?;
        let as_metadata: AuthorizationServerMetadata = as_metadata(&config, &endpoints);
        let settings = Settings {
            identifier,
            offer_ttl: secs(config.offer_ttl),
            access_token_ttl: secs(config.access_token_ttl),
            nonce_ttl: config.nonce_ttl,
            tx_code_max_attempts: i64::from(config.tx_code_max_attempts),
            proof_max_age: config.proof_max_age.as_secs(),
            skew,
            batch_size: usize::try_from(config.batch_size).unwrap_or(1),
        };
        let admin_token = config
            .admin_token
            .as_ref()
            .map(|t| t.load().map(Secret::from))
            .transpose()
            .map_err(StartError::AdminToken)?;
        let writers = crate::batch::Writers::spawn(&database);
        Ok(Arc::new(State {
            writers,
            admin_token,
            issuer_metadata_json: issuer_metadata.to_value().to_string(),
            as_metadata_json: as_metadata.to_value().to_string(),
            issuer_metadata,
            settings,
            db: database,
            single_use,
            clock,
            random,
            keys,
            encryption_key,
            auth,
            dpop,
            status,
            tokens: TokenCache::new(4096),
            config,
        }))
    }

    /// The Credential Issuer Identifier.
    pub fn identifier(&self) -> &str {
        &self.settings.identifier
    }

    /// Re-reads the attester key file if it changed (call periodically).
    pub fn refresh_trust(&self) -> Result<bool, crate::trust::TrustError> {
        self.auth.trust.refresh()
    }

    /// Whether attestations can be checked (trust loaded).
    pub fn trust_loaded(&self) -> bool {
        self.auth.trust.is_loaded()
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The single-use store.
    pub fn single_use(&self) -> &Arc<dyn SingleUse> {
        &self.single_use
    }

    /// The signing keys.
    pub fn signing_keys(&self) -> &SigningKeys {
        &self.keys
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }
}

impl service::AdminTokens for State {
    fn admin_token(&self) -> Option<&Secret> {
        self.admin_token.as_ref()
    }
}
