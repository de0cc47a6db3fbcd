//! The `[issuer]` configuration section in two stages: [`RawIssuerConfig`] (serde, strings
//! and numbers, unknown keys refused) and [`IssuerConfig`] (typed: durations, algorithms,
//! credential configurations), built with `TryFrom`. Every key is documented in
//! `docs/configuration.md`; `examples/issuer.toml` shows them all.
//!
//! What depends on the mode (`--mode=all` embedded defaults, the issuer identifier derived
//! from the server's public URL) is decided when the role is built, not here.

use crate::secret::Secret;
use client_attestation::{EvidenceType, KeyProtection};
use jose::Algorithm;
use jose::jwe::Enc;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service::config::{ConfigError, duration, positive_duration, show};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// `[issuer]` as written.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RawIssuerConfig {
    /// Credential Issuer Identifier; default: the role's base URL.
    pub identifier: Option<String>,
    /// `postgres://…` or `sqlite:…`; default: SQLite at `<data_dir>/issuer/issuer.db`.
    pub database_url: Option<String>,
    /// Bearer token of the admin API (offers, revocation, listing).
    pub admin_token: Option<String>,
    /// Issuer display name in the metadata.
    pub display_name: Option<String>,
    /// Lifetime of an offer and its pre-authorized code.
    pub offer_ttl: String,
    /// Lifetime of an access token.
    pub access_token_ttl: String,
    /// Lifetime of a `c_nonce`.
    pub nonce_ttl: String,
    /// Wrong `tx_code` values accepted before the code is dead.
    pub tx_code_max_attempts: u32,
    /// How old a proof's `iat` may be.
    pub proof_max_age: String,
    /// Clock skew tolerated on every time check.
    pub clock_skew: String,
    /// Largest `proofs` array of one credential request (1 disables batch issuance).
    pub batch_size: u32,
    /// Serve the demo credential configuration (default: on under `--mode=all` only).
    pub demo: Option<bool>,
    /// `[issuer.cache]`: single-use values (nonces, PoP `jti`, challenges).
    pub cache: RawCache,
    /// `[issuer.keys]`: signing keys and their rotation.
    pub keys: RawKeys,
    /// `[issuer.attestation]`: which client attestations `/token` accepts.
    pub attestation: RawAttestation,
    /// `[issuer.dpop]`: DPoP-bound access tokens (RFC 9449).
    pub dpop: crate::dpop::RawDpop,
    /// `[issuer.status_list]`.
    pub status_list: RawStatusList,
    /// `[issuer.encryption]`: credential request/response encryption.
    pub encryption: RawEncryption,
    /// `[issuer.credentials.<id>]`: the credential configurations.
    pub credentials: BTreeMap<String, RawCredential>,
}

impl Default for RawIssuerConfig {
    fn default() -> Self {
        RawIssuerConfig {
            identifier: None,
            database_url: None,
            admin_token: None,
            display_name: None,
            offer_ttl: "15m".into(),
            access_token_ttl: "5m".into(),
            nonce_ttl: "5m".into(),
            tx_code_max_attempts: 3,
            proof_max_age: "5m".into(),
            clock_skew: "60s".into(),
            batch_size: 10,
            demo: None,
            cache: RawCache::default(),
            keys: RawKeys::default(),
            attestation: RawAttestation::default(),
            dpop: crate::dpop::RawDpop::default(),
            status_list: RawStatusList::default(),
            encryption: RawEncryption::default(),
            credentials: BTreeMap::new(),
        }
    }
}

/// `[issuer.cache]` as written (see `store::RawCacheConfig`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RawCache {
    /// `memory`, `redis` or `database`.
    pub backend: Option<String>,
    /// Redis URL (secret: may hold a password).
    pub redis_url: Option<String>,
    /// Redis key prefix.
    pub redis_prefix: Option<String>,
    /// In-process cap on entries.
    pub max_entries: Option<usize>,
    /// In-process cap on bytes.
    pub max_bytes: Option<usize>,
}

/// `[issuer.keys]` as written.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RawKeys {
    /// `software` (encrypted in the database) or `pkcs11`.
    pub backend: String,
    /// Signing algorithm of credential and status list keys.
    pub algorithm: String,
    /// A new key every this long.
    pub rotation_period: String,
    /// How long a retired key stays published (at least as long as credentials live).
    pub retention: String,
    /// Key-encryption key for software keys: `{ key = { env = "…" } }` or a passphrase.
    pub kek: Option<keys::KekSource>,
    /// PKCS#11 token for `backend = "pkcs11"` (`module`, `token_label`, `pin`; `key_label`
    /// is the prefix of the keys' labels, `<key_label>-<period>`, default `issuer`).
    #[serde(deserialize_with = "issuer_pkcs11")]
    pub pkcs11: Option<keys::pkcs11::Pkcs11Config>,
}

/// `[issuer.keys.pkcs11]`: the shared PKCS#11 table, with the issuer's own default key
/// label (the attester's default, `A-Key`, names one key; the issuer makes one per period).
fn issuer_pkcs11<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<keys::pkcs11::Pkcs11Config>, D::Error> {
    let mut raw = keys::pkcs11::RawPkcs11Config::deserialize(d)?;
    raw.key_label
        .get_or_insert_with(|| crate::DEFAULT_PKCS11_LABEL_PREFIX.to_owned());
    keys::pkcs11::Pkcs11Config::try_from(raw)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

impl Default for RawKeys {
    fn default() -> Self {
        RawKeys {
            backend: "software".into(),
            algorithm: "ES256".into(),
            rotation_period: "24h".into(),
            retention: "48h".into(),
            kek: None,
            pkcs11: None,
        }
    }
}

/// `[issuer.attestation]` as written.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RawAttestation {
    /// File with the attesters' public keys: a JWK or a JWK Set.
    pub jwks_file: Option<String>,
    /// PEM file of X.509 trust anchors; attestations then carry an `x5c` chain.
    pub x509_anchors: Option<String>,
    /// Accepted attester identifiers (`iss`); empty accepts any trusted key.
    pub attesters: Vec<String>,
    /// Accepted client_ids (attestation `sub`); empty accepts any.
    pub client_ids: Vec<String>,
    /// Accepted attestation and PoP signature algorithms.
    pub algorithms: Vec<String>,
    /// How old a PoP's `iat` may be.
    pub pop_max_age: String,
    /// Demand a server-issued challenge in every PoP.
    pub require_challenge: bool,
    /// Lifetime of a challenge.
    pub challenge_ttl: String,
    /// Accepted evidence types (`kubernetes`, `tpm`, `dev`).
    pub evidence: Vec<String>,
    /// Accepted attester key protections (`pkcs11`, `tpm`, `software`).
    pub key_protection: Vec<String>,
    /// Refuse attestations without Symbolon's `environment` claim (default: true).
    pub require_environment: Option<bool>,
    /// Claims (JSON pointer → accepted values) every attestation must carry.
    pub required_claims: BTreeMap<String, Vec<Value>>,
    /// Stricter than OpenID4VCI: bind the access token to the client instance key and
    /// demand the attestation and a fresh PoP at `/credential` and `/notification` too.
    pub bind_access_token: bool,
    /// `[[issuer.attestation.wallet_providers]]`: third-party wallet providers, each with
    /// its own keys or anchors and its own policy (the keys above are Symbolon attesters).
    pub wallet_providers: Vec<RawWalletProvider>,
}

/// `[[issuer.attestation.wallet_providers]]` as written: one third-party wallet provider.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RawWalletProvider {
    /// Names the provider in logs and error descriptions.
    pub name: String,
    /// The provider's public keys: a JWK or JWK Set file.
    pub jwks_file: Option<String>,
    /// PEM trust anchors for the provider's `x5c` attestations.
    pub x509_anchors: Option<String>,
    /// Expected `iss` of its attestations, when they carry one.
    pub issuer: Option<String>,
    /// Accepted client_ids (attestation `sub`); empty accepts any.
    pub client_ids: Vec<String>,
    /// Claims (JSON pointer → accepted values) its attestations must carry.
    pub required_claims: BTreeMap<String, Vec<Value>>,
}

impl Default for RawAttestation {
    fn default() -> Self {
        RawAttestation {
            jwks_file: None,
            x509_anchors: None,
            attesters: Vec::new(),
            client_ids: Vec::new(),
            algorithms: vec!["ES256".into()],
            pop_max_age: "5m".into(),
            require_challenge: false,
            challenge_ttl: "5m".into(),
            evidence: vec!["kubernetes".into(), "tpm".into()],
            key_protection: vec!["pkcs11".into(), "tpm".into()],
            require_environment: None,
            required_claims: BTreeMap::new(),
            bind_access_token: false,
            wallet_providers: Vec::new(),
        }
    }
}

/// `[issuer.status_list]` as written.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RawStatusList {
    /// Entries per list.
    pub size: u64,
    /// Bits per entry (2: VALID, INVALID, SUSPENDED).
    pub bits: u8,
    /// `ttl` claim and HTTP cache lifetime of the token.
    pub ttl: String,
    /// Lifetime (`exp − iat`) of a signed token.
    pub validity: String,
}

impl Default for RawStatusList {
    fn default() -> Self {
        RawStatusList {
            size: 131_072,
            bits: 2,
            ttl: "5m".into(),
            validity: "24h".into(),
        }
    }
}

/// `[issuer.encryption]` as written.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RawEncryption {
    /// Offer encrypted credential responses (and therefore encrypted requests).
    pub enabled: bool,
    /// Refuse credential requests without `credential_response_encryption`.
    pub response_required: bool,
    /// Refuse unencrypted credential requests.
    pub request_required: bool,
    /// Accepted and offered `enc` values.
    pub enc: Vec<String>,
    /// Accept and offer `zip` `DEF`.
    pub zip: bool,
}

impl Default for RawEncryption {
    fn default() -> Self {
        RawEncryption {
            enabled: true,
            response_required: false,
            request_required: false,
            enc: vec!["A128GCM".into(), "A256GCM".into()],
            zip: false,
        }
    }
}

/// `[issuer.credentials.<id>]` as written.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RawCredential {
    /// SD-JWT VC type.
    pub vct: String,
    /// OAuth scope (default: the configuration id).
    pub scope: Option<String>,
    /// Credential lifetime (`exp − iat`).
    pub validity: String,
    /// Accepted proof algorithms.
    pub proof_algorithms: Vec<String>,
    /// Display per language.
    pub display: Vec<RawDisplay>,
    /// The claims the credential carries.
    pub claims: Vec<RawClaim>,
}

impl Default for RawCredential {
    fn default() -> Self {
        RawCredential {
            vct: String::new(),
            scope: None,
            validity: "365d".into(),
            proof_algorithms: vec!["ES256".into()],
            display: Vec::new(),
            claims: Vec::new(),
        }
    }
}

/// A credential display entry as written.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawDisplay {
    /// Name.
    pub name: String,
    /// BCP 47 tag.
    pub locale: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// CSS colour.
    pub background_color: Option<String>,
    /// CSS colour.
    pub text_color: Option<String>,
    /// Logo URI.
    pub logo_uri: Option<String>,
    /// Logo alternative text.
    pub logo_alt_text: Option<String>,
}

/// A claim of a credential configuration as written.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RawClaim {
    /// Path of object member names, e.g. `["address", "locality"]`.
    pub path: Vec<String>,
    /// Every offer must give it.
    pub mandatory: bool,
    /// `always` (selectively disclosable, the default) or `never`.
    pub sd: String,
    /// Display per language.
    pub display: Vec<RawClaimDisplay>,
}

impl Default for RawClaim {
    fn default() -> Self {
        RawClaim {
            path: Vec::new(),
            mandatory: false,
            sd: "always".into(),
            display: Vec::new(),
        }
    }
}

/// A claim display entry as written.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawClaimDisplay {
    /// Label.
    pub name: String,
    /// BCP 47 tag.
    pub locale: Option<String>,
}

/// Where signing keys live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyBackend {
    /// Generated by the issuer, stored in its database sealed under the KEK.
    Software,
    /// Generated inside a PKCS#11 token (sensitive, not extractable), one per period.
    Pkcs11(keys::pkcs11::Pkcs11Config),
}

impl Serialize for KeyBackend {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            KeyBackend::Software => s.serialize_str("software"),
            KeyBackend::Pkcs11(c) => s.serialize_str(&format!(
                "pkcs11 (module {}, token {})",
                c.module.display(),
                c.token_label
            )),
        }
    }
}

/// Typed `[issuer.keys]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeysConfig {
    /// Where keys live.
    pub backend: KeyBackend,
    /// Signing algorithm.
    #[serde(serialize_with = "show_alg")]
    pub algorithm: Algorithm,
    /// Rotation period.
    #[serde(serialize_with = "show::duration")]
    pub rotation_period: Duration,
    /// Publication after retirement.
    #[serde(serialize_with = "show::duration")]
    pub retention: Duration,
    /// KEK source (software backend).
    #[serde(serialize_with = "show_kek", skip_serializing_if = "Option::is_none")]
    pub kek: Option<keys::KekSource>,
}

/// Typed `[issuer.attestation]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AttestationConfig {
    /// Attester JWK/JWKS file.
    pub jwks_file: Option<PathBuf>,
    /// X.509 anchors file.
    pub x509_anchors: Option<PathBuf>,
    /// Accepted attester identifiers.
    pub attesters: Vec<String>,
    /// Accepted client_ids.
    pub client_ids: Vec<String>,
    /// Accepted algorithms.
    #[serde(serialize_with = "show_algs")]
    pub algorithms: Vec<Algorithm>,
    /// PoP maximum age.
    #[serde(serialize_with = "show::duration")]
    pub pop_max_age: Duration,
    /// Challenges demanded.
    pub require_challenge: bool,
    /// Challenge lifetime.
    #[serde(serialize_with = "show::duration")]
    pub challenge_ttl: Duration,
    /// Accepted evidence types.
    pub evidence: Vec<EvidenceType>,
    /// Accepted attester key protections.
    pub key_protection: Vec<KeyProtection>,
    /// Refuse attestations without `environment`; `None`: true.
    pub require_environment: Option<bool>,
    /// Required claims.
    pub required_claims: BTreeMap<String, Vec<Value>>,
    /// Attestation and PoP demanded at the resources too.
    pub bind_access_token: bool,
    /// Third-party wallet providers, in configuration order.
    pub wallet_providers: Vec<WalletProviderConfig>,
}

/// Typed `[[issuer.attestation.wallet_providers]]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WalletProviderConfig {
    /// Name in logs and error descriptions.
    pub name: String,
    /// JWK/JWKS file.
    pub jwks_file: Option<PathBuf>,
    /// X.509 anchors file.
    pub x509_anchors: Option<PathBuf>,
    /// Expected `iss`.
    pub issuer: Option<String>,
    /// Accepted client_ids.
    pub client_ids: Vec<String>,
    /// Required claims.
    pub required_claims: BTreeMap<String, Vec<Value>>,
}

/// Typed `[issuer.status_list]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusListConfig {
    /// Entries per list.
    pub size: usize,
    /// Bits per entry.
    #[serde(serialize_with = "show_bits")]
    pub bits: status_list::Bits,
    /// `ttl`.
    #[serde(serialize_with = "show::duration")]
    pub ttl: Duration,
    /// Token lifetime.
    #[serde(serialize_with = "show::duration")]
    pub validity: Duration,
}

/// Typed `[issuer.encryption]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EncryptionConfig {
    /// Encryption offered.
    pub enabled: bool,
    /// Encrypted responses required.
    pub response_required: bool,
    /// Encrypted requests required.
    pub request_required: bool,
    /// `enc` values.
    #[serde(serialize_with = "show_encs")]
    pub enc: Vec<Enc>,
    /// `zip` `DEF`.
    pub zip: bool,
}

/// Whether a claim is selectively disclosable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Disclosure {
    /// Always an SD-JWT Disclosure.
    Always,
    /// Always in plaintext.
    Never,
}

/// A claim of a credential configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClaimConfig {
    /// Object member names from the top.
    pub path: Vec<String>,
    /// Required in every offer.
    pub mandatory: bool,
    /// Disclosability.
    pub sd: Disclosure,
    /// Display.
    pub display: Vec<RawClaimDisplay>,
}

/// A credential configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CredentialConfig {
    /// `vct`.
    pub vct: String,
    /// Scope.
    pub scope: String,
    /// Lifetime.
    #[serde(serialize_with = "show::duration")]
    pub validity: Duration,
    /// Proof algorithms.
    #[serde(serialize_with = "show_algs")]
    pub proof_algorithms: Vec<Algorithm>,
    /// Display.
    pub display: Vec<RawDisplay>,
    /// Claims.
    pub claims: Vec<ClaimConfig>,
}

/// Typed `[issuer]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IssuerConfig {
    /// Identifier override.
    pub identifier: Option<String>,
    /// Database URL.
    #[serde(serialize_with = "show_secret")]
    pub database_url: Option<Secret>,
    /// Admin bearer token.
    #[serde(serialize_with = "show_secret")]
    pub admin_token: Option<Secret>,
    /// Display name.
    pub display_name: Option<String>,
    /// Offer lifetime.
    #[serde(serialize_with = "show::duration")]
    pub offer_ttl: Duration,
    /// Access token lifetime.
    #[serde(serialize_with = "show::duration")]
    pub access_token_ttl: Duration,
    /// Nonce lifetime.
    #[serde(serialize_with = "show::duration")]
    pub nonce_ttl: Duration,
    /// Wrong `tx_code` attempts before the code dies.
    pub tx_code_max_attempts: u32,
    /// Proof maximum age.
    #[serde(serialize_with = "show::duration")]
    pub proof_max_age: Duration,
    /// Clock skew.
    #[serde(serialize_with = "show::duration")]
    pub clock_skew: Duration,
    /// Batch size.
    pub batch_size: u32,
    /// Demo configuration switch.
    pub demo: Option<bool>,
    /// Cache section (kept raw: `store` checks it when connecting).
    #[serde(serialize_with = "show_cache")]
    pub cache: RawCache,
    /// Keys.
    pub keys: KeysConfig,
    /// Attestation trust and policy.
    pub attestation: AttestationConfig,
    /// DPoP.
    pub dpop: crate::dpop::DpopConfig,
    /// Status lists.
    pub status_list: StatusListConfig,
    /// Encryption.
    pub encryption: EncryptionConfig,
    /// Credential configurations by id.
    pub credentials: BTreeMap<String, CredentialConfig>,
}

fn show_secret<S: serde::Serializer>(v: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("<redacted>"),
        None => s.serialize_none(),
    }
}

impl RawCache {
    /// The checked form, as `store` takes it.
    pub fn checked(&self) -> Result<store::CacheConfig, ConfigError> {
        let kind = match self.backend.as_deref() {
            None => None,
            Some("memory") => Some(store::CacheKind::Memory),
            Some("redis") => Some(store::CacheKind::Redis),
            Some("database") => Some(store::CacheKind::Database),
            Some(other) => {
                return Err(out_of_range(
                    "cache.backend",
                    format!("{other:?}"),
                    "memory, redis or database",
                ));
            }
        };
        let raw = store::RawCacheConfig {
            backend: kind,
            redis_url: self.redis_url.clone().map(secrecy::SecretString::from),
            redis_prefix: self.redis_prefix.clone(),
            max_entries: self.max_entries,
            max_bytes: self.max_bytes,
            max_rate_keys: None,
        };
        store::CacheConfig::try_from(raw).map_err(|e| ConfigError::Incompatible {
            first: "cache.backend".into(),
            second: "cache.redis_url".into(),
            reason: match e {
                store::CacheConfigError::RedisUrlMissing => "backend `redis` needs `redis_url`",
                store::CacheConfigError::ZeroCap(_) => "memory caps must be positive",
                _ => "Redis options need backend `redis`, memory caps backend `memory`",
            },
        })
    }
}

/// `[issuer.cache]` as `config check` prints it: the checked form with its defaults, the
/// Redis URL (it may carry a password) redacted; as written when it does not check (the
/// role then refuses to start with the reason).
fn show_cache<S: serde::Serializer>(c: &RawCache, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(None)?;
    match c.checked() {
        Ok(store::CacheConfig::Memory(limits)) => {
            m.serialize_entry("backend", "memory")?;
            m.serialize_entry("max_entries", &limits.max_entries)?;
            m.serialize_entry("max_bytes", &limits.max_bytes)?;
        }
        Ok(store::CacheConfig::Redis { prefix, .. }) => {
            m.serialize_entry("backend", "redis")?;
            m.serialize_entry("redis_url", "<redacted>")?;
            m.serialize_entry("redis_prefix", &prefix)?;
        }
        Ok(store::CacheConfig::Database) => m.serialize_entry("backend", "database")?,
        Err(_) => {
            if let Some(backend) = &c.backend {
                m.serialize_entry("backend", backend)?;
            }
            if c.redis_url.is_some() {
                m.serialize_entry("redis_url", "<redacted>")?;
            }
        }
    }
    m.end()
}

/// Where the KEK comes from (never its value).
fn show_kek<S: serde::Serializer>(k: &Option<keys::KekSource>, s: S) -> Result<S::Ok, S::Error> {
    match k {
        None => s.serialize_none(),
        Some(keys::KekSource::Key(source)) => s.serialize_str(&format!("key from {source}")),
        Some(keys::KekSource::Passphrase {
            passphrase,
            salt_file,
            ..
        }) => s.serialize_str(&format!(
            "passphrase from {passphrase} (Argon2id, salt file `{}`)",
            salt_file.display()
        )),
    }
}

fn show_alg<S: serde::Serializer>(a: &Algorithm, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(a.name())
}

pub(crate) fn show_algs<S: serde::Serializer>(a: &[Algorithm], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(a.iter().map(|a| a.name()))
}

fn show_encs<S: serde::Serializer>(e: &[Enc], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(e.iter().map(|e| e.name()))
}

fn show_bits<S: serde::Serializer>(b: &status_list::Bits, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u8(b.get())
}

fn out_of_range(key: &str, value: impl std::fmt::Display, expected: &'static str) -> ConfigError {
    ConfigError::OutOfRange {
        key: key.to_owned(),
        value: value.to_string(),
        expected,
    }
}

pub(crate) fn algorithms(key: &str, names: &[String]) -> Result<Vec<Algorithm>, ConfigError> {
    if names.is_empty() {
        return Err(out_of_range(
            key,
            "[]",
            "a non-empty list of ES256, ES384, Ed25519",
        ));
    }
    names
        .iter()
        .map(|n| {
            Algorithm::from_name(n)
                .ok_or_else(|| out_of_range(key, format!("{n:?}"), "ES256, ES384 or Ed25519"))
        })
        .collect()
}

fn evidence(names: &[String]) -> Result<Vec<EvidenceType>, ConfigError> {
    names
        .iter()
        .map(|n| match n.as_str() {
            "kubernetes" => Ok(EvidenceType::Kubernetes),
            "tpm" => Ok(EvidenceType::Tpm),
            "dev" => Ok(EvidenceType::Dev),
            other => Err(out_of_range(
                "attestation.evidence",
                format!("{other:?}"),
                "kubernetes, tpm or dev",
            )),
        })
        .collect()
}

fn protections(names: &[String]) -> Result<Vec<KeyProtection>, ConfigError> {
    names
        .iter()
        .map(|n| match n.as_str() {
            "pkcs11" => Ok(KeyProtection::Pkcs11),
            "tpm" => Ok(KeyProtection::Tpm),
            "software" => Ok(KeyProtection::Software),
            other => Err(out_of_range(
                "attestation.key_protection",
                format!("{other:?}"),
                "pkcs11, tpm or software",
            )),
        })
        .collect()
}

fn secret(value: Option<String>, key: &str) -> Result<Option<Secret>, ConfigError> {
    match value {
        Some(v) if v.trim().is_empty() => Err(out_of_range(key, "\"\"", "a non-empty secret")),
        Some(v) => Ok(Some(Secret::new(v))),
        None => Ok(None),
    }
}

impl TryFrom<RawKeys> for KeysConfig {
    type Error = ConfigError;

    fn try_from(raw: RawKeys) -> Result<Self, ConfigError> {
        let algorithm = Algorithm::from_name(&raw.algorithm).ok_or_else(|| {
            out_of_range(
                "keys.algorithm",
                format!("{:?}", raw.algorithm),
                "ES256, ES384 or Ed25519",
            )
        })?;
        let rotation_period = positive_duration("keys.rotation_period", &raw.rotation_period)?;
        if rotation_period < Duration::from_secs(60) {
            return Err(out_of_range(
                "keys.rotation_period",
                &raw.rotation_period,
                "at least one minute",
            ));
        }
        let retention = duration("keys.retention", &raw.retention)?;
        let backend = match (raw.backend.as_str(), raw.pkcs11) {
            ("software", None) => KeyBackend::Software,
            ("software", Some(_)) => {
                return Err(ConfigError::Incompatible {
                    first: "keys.backend".into(),
                    second: "keys.pkcs11".into(),
                    reason: "a PKCS#11 token is configured but the backend is `software`",
                });
            }
            ("pkcs11", Some(p)) => {
                if algorithm != Algorithm::Es256 {
                    return Err(ConfigError::Incompatible {
                        first: "keys.algorithm".into(),
                        second: "keys.backend".into(),
                        reason: "PKCS#11 keys are P-256: use ES256",
                    });
                }
                KeyBackend::Pkcs11(p)
            }
            ("pkcs11", None) => {
                return Err(ConfigError::Missing {
                    key: "keys.pkcs11".into(),
                    reason: "backend `pkcs11` needs the token's module, label and PIN",
                });
            }
            (other, _) => {
                return Err(out_of_range(
                    "keys.backend",
                    format!("{other:?}"),
                    "software or pkcs11",
                ));
            }
        };
        Ok(KeysConfig {
            backend,
            algorithm,
            rotation_period,
            retention,
            kek: raw.kek,
        })
    }
}

impl TryFrom<RawAttestation> for AttestationConfig {
    type Error = ConfigError;

    fn try_from(raw: RawAttestation) -> Result<Self, ConfigError> {
        pointers("attestation.required_claims", &raw.required_claims)?;
        let mut wallet_providers: Vec<WalletProviderConfig> = Vec::new();
        for p in raw.wallet_providers {
            let p = WalletProviderConfig::try_from(p)?;
            if wallet_providers.iter().any(|q| q.name == p.name) {
                return Err(out_of_range(
                    "attestation.wallet_providers.name",
                    format!("{:?}", p.name),
                    "a name no other wallet provider has",
                ));
            }
            wallet_providers.push(p);
        }
        Ok(AttestationConfig {
            jwks_file: raw.jwks_file.map(PathBuf::from),
            x509_anchors: raw.x509_anchors.map(PathBuf::from),
            attesters: raw.attesters,
            client_ids: raw.client_ids,
            algorithms: algorithms("attestation.algorithms", &raw.algorithms)?,
            pop_max_age: positive_duration("attestation.pop_max_age", &raw.pop_max_age)?,
            require_challenge: raw.require_challenge,
            challenge_ttl: positive_duration("attestation.challenge_ttl", &raw.challenge_ttl)?,
            evidence: evidence(&raw.evidence)?,
            key_protection: protections(&raw.key_protection)?,
            require_environment: raw.require_environment,
            required_claims: raw.required_claims,
            bind_access_token: raw.bind_access_token,
            wallet_providers,
        })
    }
}

fn pointers(key: &str, claims: &BTreeMap<String, Vec<Value>>) -> Result<(), ConfigError> {
    for pointer in claims.keys() {
        if !pointer.starts_with('/') {
            return Err(out_of_range(
                key,
                format!("{pointer:?}"),
                "JSON pointers such as \"/environment/region\"",
            ));
        }
    }
    Ok(())
}

impl TryFrom<RawWalletProvider> for WalletProviderConfig {
    type Error = ConfigError;

    fn try_from(raw: RawWalletProvider) -> Result<Self, ConfigError> {
        if raw.name.trim().is_empty() {
            return Err(ConfigError::Missing {
                key: "attestation.wallet_providers.name".into(),
                reason: "each wallet provider is named in logs and error descriptions",
            });
        }
        if raw.jwks_file.is_none() && raw.x509_anchors.is_none() {
            return Err(ConfigError::Missing {
                key: "attestation.wallet_providers.jwks_file".into(),
                reason: "a wallet provider is trusted by its keys (`jwks_file`) or its certificate authorities (`x509_anchors`)",
            });
        }
        pointers(
            "attestation.wallet_providers.required_claims",
            &raw.required_claims,
        )?;
        Ok(WalletProviderConfig {
            name: raw.name,
            jwks_file: raw.jwks_file.map(PathBuf::from),
            x509_anchors: raw.x509_anchors.map(PathBuf::from),
            issuer: raw.issuer,
            client_ids: raw.client_ids,
            required_claims: raw.required_claims,
        })
    }
}

impl TryFrom<RawStatusList> for StatusListConfig {
    type Error = ConfigError;

    fn try_from(raw: RawStatusList) -> Result<Self, ConfigError> {
        let bits = status_list::Bits::try_from(raw.bits)
            .ok()
            .filter(|b| b.get() >= 2)
            .ok_or_else(|| out_of_range("status_list.bits", raw.bits, "2, 4 or 8"))?;
        if !(1024..=16_777_216).contains(&raw.size) || !raw.size.is_multiple_of(8) {
            return Err(out_of_range(
                "status_list.size",
                raw.size,
                "a multiple of 8 between 1024 and 16777216",
            ));
        }
        let ttl = positive_duration("status_list.ttl", &raw.ttl)?;
        let validity = positive_duration("status_list.validity", &raw.validity)?;
        if validity <= ttl {
            return Err(ConfigError::Incompatible {
                first: "status_list.validity".into(),
                second: "status_list.ttl".into(),
                reason: "a token must stay valid longer than relying parties cache it",
            });
        }
        Ok(StatusListConfig {
            size: usize::try_from(raw.size)
                .map_err(|_| out_of_range("status_list.size", raw.size, "addressable"))?,
            bits,
            ttl,
            validity,
        })
    }
}

impl TryFrom<RawEncryption> for EncryptionConfig {
    type Error = ConfigError;

    fn try_from(raw: RawEncryption) -> Result<Self, ConfigError> {
        if !raw.enabled && (raw.response_required || raw.request_required) {
            return Err(ConfigError::Incompatible {
                first: "encryption.enabled".into(),
                second: "encryption.response_required".into(),
                reason: "encryption cannot be required while it is disabled",
            });
        }
        if raw.enc.is_empty() {
            return Err(out_of_range(
                "encryption.enc",
                "[]",
                "A128GCM and/or A256GCM",
            ));
        }
        let enc = raw
            .enc
            .iter()
            .map(|e| {
                Enc::from_name(e).ok_or_else(|| {
                    out_of_range("encryption.enc", format!("{e:?}"), "A128GCM or A256GCM")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(EncryptionConfig {
            enabled: raw.enabled,
            response_required: raw.response_required,
            request_required: raw.request_required,
            enc,
            zip: raw.zip,
        })
    }
}

/// Claim names the issuer writes itself; a configuration or an offer may not set them.
pub const RESERVED_CLAIMS: [&str; 13] = [
    "iss",
    "sub",
    "iat",
    "nbf",
    "exp",
    "cnf",
    "vct",
    "vct#integrity",
    "status",
    "_sd",
    "_sd_alg",
    "...",
    "aka_vcts",
];

/// Checks one credential configuration, with keys relative to `credentials.<id>`.
pub(crate) fn credential(id: &str, raw: RawCredential) -> Result<CredentialConfig, ConfigError> {
    let key = |k: &str| format!("credentials.{id}.{k}");
    let valid_id = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'));
    if !valid_id {
        return Err(out_of_range(
            "credentials",
            format!("{id:?}"),
            "ids of letters, digits and _ - . :",
        ));
    }
    if raw.vct.is_empty() {
        return Err(ConfigError::Missing {
            key: key("vct"),
            reason: "every SD-JWT VC configuration names its type",
        });
    }
    let mut claims = Vec::with_capacity(raw.claims.len());
    for c in raw.claims {
        let first = c.path.first().map(String::as_str).unwrap_or_default();
        if c.path.is_empty() || c.path.iter().any(String::is_empty) {
            return Err(out_of_range(
                &key("claims.path"),
                "[]",
                "a non-empty list of member names",
            ));
        }
        if RESERVED_CLAIMS.contains(&first) {
            return Err(out_of_range(
                &key("claims.path"),
                format!("{first:?}"),
                "a claim the issuer does not write itself",
            ));
        }
        let sd = match c.sd.as_str() {
            "always" => Disclosure::Always,
            "never" => Disclosure::Never,
            other => {
                return Err(out_of_range(
                    &key("claims.sd"),
                    format!("{other:?}"),
                    "always or never",
                ));
            }
        };
        if claims.iter().any(|o: &ClaimConfig| o.path == c.path) {
            return Err(out_of_range(
                &key("claims.path"),
                format!("{:?}", c.path),
                "each path once",
            ));
        }
        claims.push(ClaimConfig {
            path: c.path,
            mandatory: c.mandatory,
            sd,
            display: c.display,
        });
    }
    Ok(CredentialConfig {
        vct: raw.vct,
        scope: raw.scope.unwrap_or_else(|| id.to_owned()),
        validity: positive_duration(&key("validity"), &raw.validity)?,
        proof_algorithms: algorithms(&key("proof_algorithms"), &raw.proof_algorithms)?,
        display: raw.display,
        claims,
    })
}

impl TryFrom<RawIssuerConfig> for IssuerConfig {
    type Error = ConfigError;

    fn try_from(raw: RawIssuerConfig) -> Result<Self, ConfigError> {
        if let Some(id) = &raw.identifier {
            // `http://` is checked against `allow_http_loopback` when the role starts.
            service::config::public_url("identifier", id, true)?;
        }
        if raw.tx_code_max_attempts == 0 || raw.tx_code_max_attempts > 10 {
            return Err(out_of_range(
                "tx_code_max_attempts",
                raw.tx_code_max_attempts,
                "between 1 and 10",
            ));
        }
        if raw.batch_size == 0 || raw.batch_size > 100 {
            return Err(out_of_range(
                "batch_size",
                raw.batch_size,
                "between 1 and 100",
            ));
        }
        let access_token_ttl = positive_duration("access_token_ttl", &raw.access_token_ttl)?;
        if access_token_ttl > Duration::from_secs(3600) {
            return Err(out_of_range(
                "access_token_ttl",
                &raw.access_token_ttl,
                "at most 1h",
            ));
        }
        let mut credentials = BTreeMap::new();
        for (id, c) in raw.credentials {
            let typed = credential(&id, c)?;
            credentials.insert(id, typed);
        }
        let cache_backend_ok = matches!(
            raw.cache.backend.as_deref(),
            None | Some("memory" | "redis" | "database")
        );
        if !cache_backend_ok {
            return Err(out_of_range(
                "cache.backend",
                format!("{:?}", raw.cache.backend.unwrap_or_default()),
                "memory, redis or database",
            ));
        }
        Ok(IssuerConfig {
            identifier: raw.identifier.map(|i| i.trim_end_matches('/').to_owned()),
            database_url: secret(raw.database_url, "database_url")?,
            admin_token: secret(raw.admin_token, "admin_token")?,
            display_name: raw.display_name,
            offer_ttl: positive_duration("offer_ttl", &raw.offer_ttl)?,
            access_token_ttl,
            nonce_ttl: positive_duration("nonce_ttl", &raw.nonce_ttl)?,
            tx_code_max_attempts: raw.tx_code_max_attempts,
            proof_max_age: positive_duration("proof_max_age", &raw.proof_max_age)?,
            clock_skew: duration("clock_skew", &raw.clock_skew)?,
            batch_size: raw.batch_size,
            demo: raw.demo,
            cache: raw.cache,
            keys: KeysConfig::try_from(raw.keys)?,
            attestation: AttestationConfig::try_from(raw.attestation)?,
            dpop: crate::dpop::DpopConfig::try_from(raw.dpop)?,
            status_list: StatusListConfig::try_from(raw.status_list)?,
            encryption: EncryptionConfig::try_from(raw.encryption)?,
            credentials,
        })
    }
}

impl IssuerConfig {
    /// The cache configuration for `store`.
    pub fn cache_config(&self) -> Result<store::CacheConfig, ConfigError> {
        self.cache.checked()
    }

    /// The longest credential lifetime of any configuration.
    pub fn longest_validity(&self) -> Duration {
        self.credentials
            .values()
            .map(|c| c.validity)
            .max()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<IssuerConfig, ConfigError> {
        let raw: RawIssuerConfig = toml::from_str(text).unwrap();
        IssuerConfig::try_from(raw)
    }

    #[test]
    fn defaults_are_valid() {
        let c = parse("").unwrap();
        let shown = toml::to_string(&c).unwrap();
        // Single-use values default to the database, so they survive a restart.
        assert!(
            shown.contains("[cache]\nbackend = \"database\"\n"),
            "{shown}"
        );
        assert!(matches!(
            c.cache_config().unwrap(),
            store::CacheConfig::Database
        ));
        assert_eq!(c.keys.rotation_period, Duration::from_secs(86_400));
        assert_eq!(c.keys.retention, Duration::from_secs(172_800));
        assert_eq!(c.tx_code_max_attempts, 3);
        assert_eq!(
            c.attestation.evidence,
            [EvidenceType::Kubernetes, EvidenceType::Tpm]
        );
        assert_eq!(c.status_list.bits, status_list::Bits::Two);
        assert!(c.encryption.enabled && !c.encryption.response_required);
    }

    /// Issue 10 item 2: a third-party wallet provider is its own trust entry; what is
    /// missing from one is named by its key.
    #[test]
    fn issue10_wallet_provider_entries_parse_and_errors_name_the_key() {
        let text = "[[attestation.wallet_providers]]\nname = \"acme\"\njwks_file = \"acme.jwks\"\nissuer = \"https://wp.example\"\nclient_ids = [\"c1\"]\nrequired_claims = { \"/wallet_name\" = [\"Acme\"] }";
        let raw: RawIssuerConfig = toml::from_str(text).unwrap();
        let c = IssuerConfig::try_from(raw).unwrap();
        let p = &c.attestation.wallet_providers[0];
        assert_eq!(p.name, "acme");
        assert_eq!(
            p.jwks_file.as_deref(),
            Some(std::path::Path::new("acme.jwks"))
        );
        assert_eq!(p.client_ids, ["c1"]);
        // The Symbolon attester's defaults are untouched.
        assert_eq!(c.attestation.require_environment, None);
        for (text, key) in [
            (
                "[[attestation.wallet_providers]]\nname = \"x\"",
                "attestation.wallet_providers.jwks_file",
            ),
            (
                "[[attestation.wallet_providers]]\njwks_file = \"k.json\"",
                "attestation.wallet_providers.name",
            ),
            (
                "[[attestation.wallet_providers]]\nname = \"x\"\njwks_file = \"k.json\"\n[[attestation.wallet_providers]]\nname = \"x\"\njwks_file = \"l.json\"",
                "attestation.wallet_providers.name",
            ),
            (
                "[[attestation.wallet_providers]]\nname = \"x\"\njwks_file = \"k.json\"\nrequired_claims = { wallet_name = [\"A\"] }",
                "attestation.wallet_providers.required_claims",
            ),
        ] {
            let raw: RawIssuerConfig = toml::from_str(text).unwrap();
            let e = IssuerConfig::try_from(raw).unwrap_err();
            assert!(e.to_string().contains(key), "{key} not in {e}");
        }
        assert!(
            toml::from_str::<RawIssuerConfig>(
                "[[attestation.wallet_providers]]\nname = \"x\"\nenvironment = true"
            )
            .is_err()
        );
    }

    #[test]
    fn rejects_unknown_keys() {
        assert!(toml::from_str::<RawIssuerConfig>("offer_tll = \"1m\"").is_err());
        assert!(toml::from_str::<RawIssuerConfig>("[keys]\nrotation = \"1h\"").is_err());
    }

    #[test]
    fn rejects_bad_values_naming_the_key() {
        for (text, key) in [
            ("tx_code_max_attempts = 0", "tx_code_max_attempts"),
            ("batch_size = 1000", "batch_size"),
            ("[keys]\nalgorithm = \"RS256\"", "keys.algorithm"),
            ("[keys]\nrotation_period = \"10s\"", "keys.rotation_period"),
            ("[keys]\nbackend = \"pkcs11\"", "keys.pkcs11"),
            (
                "[attestation]\nevidence = [\"sgx\"]",
                "attestation.evidence",
            ),
            ("[attestation]\nalgorithms = []", "attestation.algorithms"),
            ("[status_list]\nbits = 1", "status_list.bits"),
            ("[status_list]\nttl = \"2d\"", "status_list.validity"),
            ("[encryption]\nenc = [\"A192GCM\"]", "encryption.enc"),
            (
                "[encryption]\nenabled = false\nresponse_required = true",
                "encryption.enabled",
            ),
            ("[credentials.pass]\nvct = \"\"", "credentials.pass.vct"),
            (
                "[credentials.pass]\nvct = \"v\"\n[[credentials.pass.claims]]\npath = [\"iss\"]",
                "credentials.pass.claims.path",
            ),
            ("identifier = \"ftp://x\"", "identifier"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.key(), key, "{text}: {e}");
        }
    }

    #[test]
    fn pkcs11_key_label_is_the_prefix_of_the_period_keys() {
        let pkcs11 = |extra: &str| {
            let c = parse(&format!(
                "[keys]\nbackend = \"pkcs11\"\n[keys.pkcs11]\nmodule = \"/usr/lib/softhsm/libsofthsm2.so\"\npin = {{ env = \"PIN\" }}\n{extra}"
            ))
            .unwrap();
            match c.keys.backend {
                KeyBackend::Pkcs11(p) => p,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(pkcs11("").key_label, "issuer");
        assert_eq!(pkcs11("key_label = \"vc-signing\"").key_label, "vc-signing");
        let bad: Result<RawIssuerConfig, _> = toml::from_str(
            "[keys.pkcs11]\nmodule = \"/m.so\"\npin = { env = \"PIN\" }\nkey_label = \"\"",
        );
        assert!(bad.unwrap_err().to_string().contains("key_label"));
    }

    #[test]
    fn secrets_are_redacted_when_shown() {
        let c = parse(
            "admin_token = \"hunter2-admin\"\ndatabase_url = \"postgres://u:pw@db/x\"\n\
             [cache]\nredis_url = \"redis://:cachepw@db:6379\"\nredis_prefix = \"iss:\"\n\
             [keys]\nkek = { key = { env = \"ISSUER_KEK\" } }",
        )
        .unwrap();
        let shown = toml::to_string(&c).unwrap();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("pw@db"), "{shown}");
        assert!(!shown.contains("cachepw"), "{shown}");
        assert!(
            shown.contains(
                "[cache]\nbackend = \"redis\"\nredis_url = \"<redacted>\"\nredis_prefix = \"iss:\""
            ),
            "{shown}"
        );
        assert!(
            shown.contains("kek = \"key from environment variable `ISSUER_KEK`\""),
            "{shown}"
        );
        assert!(format!("{c:?}").contains("redacted"));
    }

    #[test]
    fn credential_configurations_are_typed() {
        let c = parse(
            r#"
[credentials.pass]
vct = "urn:example:pass"
validity = "30d"
[[credentials.pass.claims]]
path = ["name"]
mandatory = true
[[credentials.pass.claims]]
path = ["affiliation"]
sd = "never"
"#,
        )
        .unwrap();
        let pass = &c.credentials["pass"];
        assert_eq!(pass.scope, "pass");
        assert_eq!(pass.claims[1].sd, Disclosure::Never);
        assert_eq!(pass.proof_algorithms, [Algorithm::Es256]);
        assert_eq!(c.longest_validity(), Duration::from_secs(30 * 86_400));
    }

    #[test]
    fn cache_section_maps_to_the_store() {
        let c = parse("[cache]\nredis_url = \"redis://127.0.0.1:6379\"").unwrap();
        assert!(matches!(
            c.cache_config().unwrap(),
            store::CacheConfig::Redis { .. }
        ));
        let c = parse("[cache]\nbackend = \"redis\"").unwrap();
        assert!(c.cache_config().is_err());
    }
}
