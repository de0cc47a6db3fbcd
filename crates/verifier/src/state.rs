//! The verifier's shared state, built once at start from the typed configuration and the
//! injected dependencies (clock, randomness, outbound HTTP client, transaction store,
//! keys), so tests control every one of them.

use std::collections::BTreeMap;
use std::sync::Arc;

use jose::jwe::Enc;
use jose::x5c::TrustAnchors;
use jose::{Signer, VerifyingKey};
use oid4vp::{ClientId, ClientIdPrefix, RequestUriMethod, ResponseMode};
use service::http::GuardedClient;

use crate::config::{IssuerConfig, PolicyConfig, VerifierConfig};
use crate::demo::CLASSROOM_POLICY;
use crate::pending::{Pending, PendingCache};
use crate::policy::Policy;
use crate::seal::Sealer;
use crate::status::StatusChecker;
use crate::transaction::{StoreError, TransactionStore};
use crate::trust::{
    CachingFetcher, JwksError, TrustError, TrustedIssuer, check_metadata_issuers, keys_from_jwks,
};
use jose::Clock;
use jose::random::Random;
use service::config::Secret;

/// Everything the state needs from outside.
pub struct Dependencies {
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub random: Arc<dyn Random>,
    /// The SSRF-guarded client for status lists, issuer metadata and JWKS URLs.
    pub http: GuardedClient,
    /// Where transactions live.
    pub store: Arc<dyn TransactionStore>,
    /// Signs request objects.
    pub request_signer: Arc<dyn Signer>,
    /// The request signer's certificate chain, DER, leaf first (empty: only the
    /// `redirect_uri` prefix is available).
    pub certificate_chain: Vec<Vec<u8>>,
    /// Signs session tokens.
    pub session_signer: Arc<dyn Signer>,
    /// Seals the per-transaction response decryption keys at rest.
    pub sealer: Sealer,
    /// Where response codes wait for their one exchange (`store` single-use values).
    pub single_use: Arc<dyn store::SingleUse>,
}

/// The state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A trusted issuer entry.
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// The certificate chain does not validate.
    #[error("the request signing certificate: {0}")]
    Certificate(#[source] jose::X5cError),
    /// The leaf certificate's key is not the request signing key.
    #[error("the request signing certificate: the leaf certificate's key is not the signing key")]
    CertificateKeyMismatch,
    /// An `x509_*` prefix is the default but there is no certificate.
    #[error("client_id_prefix {0} needs a certificate (verifier.certificate)")]
    NoCertificate(&'static str),
    /// `x509_san_dns` is the default but no DNS SAN of the certificate is the DNS name.
    #[error("the certificate has no dNSName SAN {0:?} (set verifier.dns_name or use x509_hash)")]
    DnsNameNotInCertificate(String),
    /// The base URL is not a URL.
    #[error("the verifier base URL {0:?} is invalid")]
    BaseUrl(String),
    /// The default policy does not exist.
    #[error("no policy named {0:?}")]
    UnknownPolicy(String),
    /// `verifier.rp_token` names a file or variable that cannot be read.
    #[error("cannot read `verifier.rp_token`: {0}")]
    RpToken(#[source] keys::SecretError),
}

/// Settings every handler reads.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Prefix used when a transaction does not ask for one.
    pub default_prefix: ClientIdPrefix,
    /// Default response mode.
    pub response_mode: ResponseMode,
    /// Default request URI method.
    pub request_uri_method: RequestUriMethod,
    /// `enc` values offered.
    pub enc_values: Vec<Enc>,
    /// Seconds a transaction waits.
    pub transaction_ttl: i64,
    /// Seconds a result is kept.
    pub result_ttl: i64,
    /// Seconds a session token lives.
    pub session_token_ttl: i64,
    /// Seconds of clock skew.
    pub skew: u64,
    /// The demo RP page is served.
    pub demo: bool,
    /// The default policy.
    pub default_policy: Option<String>,
}

/// The verifier's state.
pub struct State {
    base_url: String,
    settings: Settings,
    policies: BTreeMap<String, Arc<Policy>>,
    store: Arc<dyn TransactionStore>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    request_signer: Arc<dyn Signer>,
    chain: Vec<Vec<u8>>,
    san_dns: Option<ClientId>,
    x509_hash: Option<ClientId>,
    session_signer: Arc<dyn Signer>,
    sealer: Sealer,
    fetcher: CachingFetcher,
    status: StatusChecker,
    rp_token: Option<Secret>,
    pending: PendingCache,
    single_use: Arc<dyn store::SingleUse>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("base_url", &self.base_url)
            .field("settings", &self.settings)
            .field("policies", &self.policies.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// The start-up checks of [`State::new`] that need only the configuration: whether a
/// request signing certificate will be there, and whether plain http may reach loopback.
/// `symbolon config check --mode=verifier` runs them without opening anything, so it
/// refuses what `serve` would refuse. (Files — JWKS, anchors, keys, the certificate — are
/// read and checked by [`State::new`] only.)
pub fn check_config(
    config: &VerifierConfig,
    has_certificate: bool,
    loopback: bool,
) -> Result<(), BuildError> {
    check_metadata_issuers(&config.issuers, loopback)?;
    for (name, c) in &config.issuers {
        if let Some(set) = &c.jwks {
            keys_from_jwks(set).map_err(|source| TrustError::Jwks {
                name: name.clone(),
                source,
            })?;
        }
    }
    if let Some(p @ (ClientIdPrefix::X509SanDns | ClientIdPrefix::X509Hash)) =
        config.client_id_prefix
        && !has_certificate
    {
        return Err(BuildError::NoCertificate(p.name()));
    }
    if let Some(d) = &config.default_policy
        && !config.policies.contains_key(d)
    {
        return Err(BuildError::UnknownPolicy(d.clone()));
    }
    Ok(())
}

impl State {
    /// Builds the state for the role served at `base_url` (no trailing slash). `demo`
    /// is the resolved demo switch (the binary turns it on under `--mode=all`).
    pub async fn new(
        config: VerifierConfig,
        base_url: &str,
        demo: bool,
        deps: Dependencies,
    ) -> Result<Self, BuildError> {
        let now = deps.clock.now();
        let skew = config.clock_skew.as_secs();
        let fetcher = CachingFetcher::new(
            deps.http.clone(),
            Arc::clone(&deps.clock),
            std::time::Duration::from_secs(300),
        );
        // Plain http reaches loopback only when the outbound client allows it; an issuer
        // whose metadata lives there is refused now rather than at every presentation.
        let loopback = deps.http.settings().policy != service::http::AddressPolicy::PublicOnly;
        check_config(&config, !deps.certificate_chain.is_empty(), loopback)?;
        let mut issuers = BTreeMap::new();
        for (name, c) in &config.issuers {
            let mut issuer = build_issuer(name, c, skew).await?;
            if loopback {
                issuer = issuer.with_loopback_http_metadata();
            }
            issuers.insert(name.clone(), Arc::new(issuer));
        }
        let mut policies = BTreeMap::new();
        for (name, p) in &config.policies {
            policies.insert(
                name.clone(),
                Arc::new(build_policy(name, p, config.kb_max_age, &issuers)),
            );
        }

        let url = url::Url::parse(base_url).map_err(|_| BuildError::BaseUrl(base_url.into()))?;
        let host = url
            .host_str()
            .ok_or_else(|| BuildError::BaseUrl(base_url.into()))?
            .to_owned();
        let (san_dns, x509_hash) = match deps.certificate_chain.first() {
            None => (None, None),
            Some(leaf_der) => {
                let anchors = TrustAnchors::from_der(deps.certificate_chain.last().cloned())
                    .map_err(BuildError::Certificate)?;
                let leaf = jose::x5c::validate_chain(&deps.certificate_chain, &anchors, now)
                    .map_err(BuildError::Certificate)?;
                if !leaf.public_jwk().same_key(deps.request_signer.public_jwk()) {
                    return Err(BuildError::CertificateKeyMismatch);
                }
                let dns = config.dns_name.clone().unwrap_or(host.clone());
                if !dns.eq_ignore_ascii_case(&host) {
                    tracing::warn!(
                        dns_name = %dns,
                        host = %host,
                        "verifier.dns_name differs from the public host: wallets refuse x509_san_dns requests whose response_uri host is not the client identifier"
                    );
                }
                let san = leaf
                    .dns_sans()
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(&dns))
                    .then(|| ClientId::x509_san_dns(&dns).ok())
                    .flatten();
                if config.client_id_prefix == Some(ClientIdPrefix::X509SanDns) && san.is_none() {
                    return Err(BuildError::DnsNameNotInCertificate(dns));
                }
                (san, Some(ClientId::x509_hash_of(leaf_der)))
            }
        };
        let default_prefix = match config.client_id_prefix {
            Some(p @ (ClientIdPrefix::X509SanDns | ClientIdPrefix::X509Hash))
                if x509_hash.is_none() =>
            {
                return Err(BuildError::NoCertificate(p.name()));
            }
            Some(p) => p,
            None if san_dns.is_some() => ClientIdPrefix::X509SanDns,
            None if x509_hash.is_some() => ClientIdPrefix::X509Hash,
            None => ClientIdPrefix::RedirectUri,
        };
        if let Some(d) = &config.default_policy
            && !policies.contains_key(d)
        {
            return Err(BuildError::UnknownPolicy(d.clone()));
        }

        let status = StatusChecker::new(
            deps.http.clone(),
            config.status_list.clone(),
            Arc::clone(&deps.clock),
        );
        let rp_token = config
            .rp_token
            .as_ref()
            .map(|t| t.load().map(Secret::from))
            .transpose()
            .map_err(BuildError::RpToken)?;
        Ok(State {
            base_url: base_url.trim_end_matches('/').to_owned(),
            settings: Settings {
                default_prefix,
                response_mode: config.response_mode,
                request_uri_method: config.request_uri_method,
                enc_values: config.enc_values.clone(),
                transaction_ttl: secs(config.transaction_ttl),
                result_ttl: secs(config.result_ttl),
                session_token_ttl: secs(config.session_token_ttl),
                skew,
                demo: demo && policies.contains_key(CLASSROOM_POLICY),
                default_policy: config.default_policy.clone(),
            },
            policies,
            store: deps.store,
            clock: deps.clock,
            random: deps.random,
            request_signer: deps.request_signer,
            chain: deps.certificate_chain,
            san_dns,
            x509_hash,
            session_signer: deps.session_signer,
            sealer: deps.sealer,
            fetcher,
            status,
            rp_token,
            pending: PendingCache::default(),
            single_use: deps.single_use,
        })
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
    /// A policy by name.
    pub fn policy(&self, name: &str) -> Option<&Arc<Policy>> {
        self.policies.get(name)
    }
    /// Every policy.
    pub fn policies(&self) -> impl Iterator<Item = &Arc<Policy>> {
        self.policies.values()
    }
    /// The store.
    pub fn store(&self) -> &dyn TransactionStore {
        &*self.store
    }
    /// The clock.
    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }
    /// Randomness.
    pub fn random(&self) -> &dyn Random {
        &*self.random
    }
    /// The request object signer.
    pub fn request_signer(&self) -> &dyn Signer {
        &*self.request_signer
    }
    /// The certificate chain.
    pub fn chain(&self) -> &[Vec<u8>] {
        &self.chain
    }
    /// The session token signer.
    pub fn session_signer(&self) -> &dyn Signer {
        &*self.session_signer
    }
    /// The sealer.
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }
    /// The caching fetcher.
    pub fn fetcher(&self) -> &CachingFetcher {
        &self.fetcher
    }
    /// The status checker.
    pub fn status(&self) -> &StatusChecker {
        &self.status
    }
    /// The single-use store (response codes).
    pub fn single_use(&self) -> &dyn store::SingleUse {
        &*self.single_use
    }

    /// The cache of pending transactions.
    pub fn pending(&self) -> &PendingCache {
        &self.pending
    }

    /// The transaction with this request id, with its query parsed: from the cache, or
    /// from the store (and then cached while pending).
    pub async fn transaction(&self, request_id: &str) -> Result<Option<Arc<Pending>>, StoreError> {
        if let Some(p) = self.pending.get(request_id) {
            return Ok(Some(p));
        }
        let Some(tx) = self.store.by_request_id(request_id).await? else {
            return Ok(None);
        };
        if let Some(p) = self.pending.put(&tx, self.clock.now()) {
            return Ok(Some(p));
        }
        let query = oid4vp::DcqlQuery::from_json(tx.dcql_query.as_bytes())
            .map_err(StoreError::StoredQuery)?;
        Ok(Some(Arc::new(Pending { tx, query })))
    }

    /// The RP bearer token.
    pub fn rp_token(&self) -> Option<&Secret> {
        self.rp_token.as_ref()
    }
    /// The response URI.
    pub fn response_uri(&self) -> String {
        format!("{}/response", self.base_url)
    }
    /// The request URI of a transaction.
    pub fn request_uri(&self, request_id: &str) -> String {
        format!("{}/request/{request_id}", self.base_url)
    }
    /// The client identifier for `prefix`, if this verifier can use it.
    pub fn client_id(&self, prefix: ClientIdPrefix) -> Option<ClientId> {
        match prefix {
            ClientIdPrefix::X509SanDns => self.san_dns.clone(),
            ClientIdPrefix::X509Hash => self.x509_hash.clone(),
            ClientIdPrefix::RedirectUri => ClientId::redirect_uri(&self.response_uri()).ok(),
            _ => None,
        }
    }
}

async fn build_issuer(
    name: &str,
    c: &IssuerConfig,
    skew: u64,
) -> Result<TrustedIssuer, TrustError> {
    let jwks_error = |source: JwksError| TrustError::Jwks {
        name: name.to_owned(),
        source,
    };
    let mut keys: Vec<VerifyingKey> = Vec::new();
    if let Some(set) = &c.jwks {
        keys.extend(keys_from_jwks(set).map_err(jwks_error)?);
    }
    if let Some(path) = &c.jwks_file {
        let text = read(name, path).await?;
        let set = jose::json::parse_value(text.as_bytes()).map_err(|e| jwks_error(e.into()))?;
        keys.extend(keys_from_jwks(&set).map_err(jwks_error)?);
    }
    let anchors =
        match &c.x509_anchors {
            None => None,
            Some(path) => Some(TrustAnchors::from_pem(&read(name, path).await?).map_err(
                |source| TrustError::Anchors {
                    name: name.to_owned(),
                    source,
                },
            )?),
        };
    Ok(TrustedIssuer::new(
        name.to_owned(),
        c.iss.clone(),
        keys,
        anchors,
        c.metadata,
        c.jwks_uri.clone(),
        skew,
    ))
}

async fn read(name: &str, path: &std::path::Path) -> Result<String, TrustError> {
    tokio::fs::read_to_string(path)
        .await
        .map_err(|source| TrustError::Read {
            name: name.to_owned(),
            path: path.display().to_string(),
            source,
        })
}

fn build_policy(
    name: &str,
    p: &PolicyConfig,
    default_kb_max_age: std::time::Duration,
    issuers: &BTreeMap<String, Arc<TrustedIssuer>>,
) -> Policy {
    Policy {
        name: name.to_owned(),
        description: p.description.clone(),
        query: p.dcql_query.clone(),
        essential: p.essential_claims.clone(),
        trust: p
            .trusted_issuers
            .iter()
            .filter_map(|i| issuers.get(i).cloned())
            .collect(),
        kb_max_age: p.kb_max_age_or(default_kb_max_age).as_secs(),
        success_redirect: p.success_redirect.clone(),
        require_status: p.require_status,
        flow: p.flow,
    }
}
