//! Issuer trust: which keys may sign the credentials a policy accepts, and the retrieval
//! of keys that are not configured inline.
//!
//! Each `[verifier.issuers.<name>]` entry becomes a [`TrustedIssuer`]: configured keys
//! (inline JWKS or a JWKS file), `x5c` chains to configured anchors, JWT VC Issuer
//! Metadata of its `iss`, and/or a JWKS URL. A policy lists the entries it trusts; a
//! credential is accepted when one of them yields the key that verifies it, and — when the
//! entry names an `iss` — the credential's `iss` is that one.
//!
//! Retrievals go through the SSRF-guarded client and are cached ([`CachingFetcher`]), so
//! a busy verifier does not fetch metadata per presentation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jose::{Algorithm, PublicJwk, TrustAnchors, VerifyingKey};
use sd_jwt::vc::VcVerifier;
use sd_jwt::{FetchError, Fetcher, KeyResolver};
use serde_json::Value;
use service::http::GuardedClient;

use jose::Clock;

/// The algorithms accepted for issuer-signed JWTs, status list tokens and KB-JWTs.
pub const ALGORITHMS: &[Algorithm] = &[Algorithm::Es256, Algorithm::Es384, Algorithm::Ed25519];

/// A trust entry could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The JWKS is not a JWK Set of usable public keys.
    #[error("issuer {name}: the JWKS is invalid: {source}")]
    Jwks {
        /// The entry.
        name: String,
        /// Why.
        source: JwksError,
    },
    /// A file could not be read.
    #[error("issuer {name}: cannot read {path}: {source}")]
    Read {
        /// The entry.
        name: String,
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The anchors are not PEM certificates.
    #[error("issuer {name}: the trust anchors are invalid: {source}")]
    Anchors {
        /// The entry.
        name: String,
        /// The parse error.
        source: jose::X5cError,
    },
    /// `metadata = true` with a loopback `http://` `iss` while plain http to loopback is not
    /// allowed: every retrieval would be refused, so no presentation could ever verify.
    #[error(
        "issuer {name}: `metadata = true` with the http issuer {iss:?}: JWT VC Issuer Metadata is fetched over https, or over http from a loopback host only with `verifier.status_list.allow_loopback` (default: `server.allow_http_loopback`, true under --mode=all)"
    )]
    MetadataOverHttp {
        /// The entry.
        name: String,
        /// Its `iss`.
        iss: String,
    },
}

/// Checks, for every issuer entry fetching JWT VC Issuer Metadata, that its `iss` can be
/// retrieved under `loopback` (plain http to loopback allowed): an https `iss` always, a
/// loopback `http://` one only when allowed. The configuration parser already refused any
/// other `iss`; this is the part that depends on the mode being served.
pub fn check_metadata_issuers<'a>(
    issuers: impl IntoIterator<Item = (&'a String, &'a crate::config::IssuerConfig)>,
    loopback: bool,
) -> Result<(), TrustError> {
    for (name, c) in issuers {
        if let (true, Some(iss)) = (c.metadata, &c.iss)
            && !loopback
            && sd_jwt::resolve::metadata_url(iss).is_err()
        {
            return Err(TrustError::MetadataOverHttp {
                name: name.clone(),
                iss: iss.clone(),
            });
        }
    }
    Ok(())
}

/// Why a JWK Set is unusable.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The file is not JSON (or has duplicate members).
    #[error(transparent)]
    Json(#[from] jose::json::JsonError),
    /// No `keys` array.
    #[error("not a JWK Set with `keys`")]
    NotASet,
    /// A key is not a usable public key.
    #[error(transparent)]
    Jwk(#[from] jose::JwkError),
}

/// Parses a JWK Set into verification keys (every key must be a usable public key).
pub fn keys_from_jwks(set: &Value) -> Result<Vec<VerifyingKey>, JwksError> {
    let keys = set
        .get("keys")
        .and_then(Value::as_array)
        .ok_or(JwksError::NotASet)?;
    keys.iter()
        .map(|k| Ok(PublicJwk::from_value(k).and_then(|jwk| VerifyingKey::from_jwk(&jwk))?))
        .collect()
}

/// A resolver with the verifier built on it, from a `jwks_uri` retrieval at a time.
type Fetched = (i64, Arc<(KeyResolver, VcVerifier)>);

/// Cached documents by URL: when fetched, and the body.
type Documents = HashMap<String, (i64, Arc<Vec<u8>>)>;

/// One trusted issuer, ready to verify.
pub struct TrustedIssuer {
    /// The entry name.
    pub name: String,
    /// The `iss` its credentials must carry, when configured.
    pub iss: Option<String>,
    /// Configured keys, anchors and the metadata switch.
    base: KeyResolver,
    /// A JWKS URL whose keys are added to `base`.
    jwks_uri: Option<String>,
    /// The verifier for `base` alone (entries without `jwks_uri`).
    verifier: Option<VcVerifier>,
    /// The last `jwks_uri` retrieval: when, and the verifier built from it.
    dynamic: Mutex<Option<Fetched>>,
    skew: u64,
}

impl std::fmt::Debug for TrustedIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedIssuer")
            .field("name", &self.name)
            .field("iss", &self.iss)
            .field("jwks_uri", &self.jwks_uri)
            .finish_non_exhaustive()
    }
}

/// How long a `jwks_uri` retrieval is used before it is fetched again.
const JWKS_URI_TTL: i64 = 300;

impl TrustedIssuer {
    /// Builds an entry. `keys` are the inline and file keys, `anchors` the `x5c` anchors.
    pub fn new(
        name: String,
        iss: Option<String>,
        keys: Vec<VerifyingKey>,
        anchors: Option<TrustAnchors>,
        metadata: bool,
        jwks_uri: Option<String>,
        skew: u64,
    ) -> Self {
        let mut base = KeyResolver::new();
        for k in keys {
            base = base.with_key(k);
        }
        if let Some(a) = anchors {
            base = base.with_x5c(Arc::new(a));
        }
        if metadata {
            base = base.with_issuer_metadata();
        }
        TrustedIssuer::from_resolver(name, iss, base, jwks_uri, skew)
    }

    /// Also fetches JWT VC Issuer Metadata of a loopback `http://` `iss` (see
    /// [`check_metadata_issuers`]); the outbound client must then allow loopback.
    #[must_use]
    pub fn with_loopback_http_metadata(self) -> Self {
        let base = self.base.with_loopback_http_metadata();
        TrustedIssuer::from_resolver(self.name, self.iss, base, self.jwks_uri, self.skew)
    }

    fn from_resolver(
        name: String,
        iss: Option<String>,
        base: KeyResolver,
        jwks_uri: Option<String>,
        skew: u64,
    ) -> Self {
        let verifier = jwks_uri
            .is_none()
            .then(|| VcVerifier::new(base.clone(), ALGORITHMS).with_skew(skew));
        TrustedIssuer {
            name,
            iss,
            base,
            jwks_uri,
            verifier,
            dynamic: Mutex::new(None),
            skew,
        }
    }

    /// The resolver and verifier to use now: the static ones, or those built from the
    /// `jwks_uri` keys (fetched when older than five minutes).
    pub async fn current(
        &self,
        fetcher: &CachingFetcher,
        now: i64,
    ) -> Result<(KeyResolver, VcVerifier), FetchError> {
        let Some(uri) = &self.jwks_uri else {
            let verifier = self
                .verifier
                .clone()
                .unwrap_or_else(|| VcVerifier::new(self.base.clone(), ALGORITHMS));
            return Ok((self.base.clone(), verifier));
        };
        if let Ok(guard) = self.dynamic.lock()
            && let Some((at, built)) = guard.as_ref()
            && now.saturating_sub(*at) < JWKS_URI_TTL
        {
            return Ok((built.0.clone(), built.1.clone()));
        }
        let body = fetcher.get(uri).await?;
        let set = jose::json::parse_value(&body).map_err(|_| FetchError::ContentType)?;
        let keys = keys_from_jwks(&set).map_err(|_| FetchError::ContentType)?;
        let mut resolver = self.base.clone();
        for k in keys {
            resolver = resolver.with_key(k);
        }
        let verifier = VcVerifier::new(resolver.clone(), ALGORITHMS).with_skew(self.skew);
        let built = Arc::new((resolver.clone(), verifier.clone()));
        if let Ok(mut guard) = self.dynamic.lock() {
            *guard = Some((now, built));
        }
        Ok((resolver, verifier))
    }
}

/// A [`Fetcher`] over the guarded client that caches successful JSON retrievals (issuer
/// metadata, JWK Sets) for a fixed time.
#[derive(Clone)]
pub struct CachingFetcher {
    client: GuardedClient,
    clock: Arc<dyn Clock>,
    ttl: i64,
    cache: Arc<Mutex<Documents>>,
}

impl std::fmt::Debug for CachingFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachingFetcher")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// At most this many documents are cached; beyond, the oldest half is dropped.
const MAX_CACHED_DOCUMENTS: usize = 1024;

impl CachingFetcher {
    /// A fetcher through `client`, keeping documents for `ttl`.
    pub fn new(client: GuardedClient, clock: Arc<dyn Clock>, ttl: Duration) -> Self {
        CachingFetcher {
            client,
            clock,
            ttl: i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    async fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let fetched = self
            .client
            .get(url, "application/json")
            .await
            .map_err(|e| match e {
                service::http::FetchError::TooLarge(n) => FetchError::TooLarge(n),
                service::http::FetchError::InvalidUrl(_)
                | service::http::FetchError::Scheme(_)
                | service::http::FetchError::ForbiddenAddress(_)
                | service::http::FetchError::NoAllowedAddress(_) => {
                    FetchError::Refused("the URL is not allowed by the outbound guard")
                }
                other => FetchError::Transport(Box::new(other)),
            })?;
        if fetched.status != reqwest::StatusCode::OK {
            return Err(FetchError::Status(fetched.status.as_u16()));
        }
        let json = fetched
            .content_type()
            .is_some_and(|t| t == "application/json" || t.ends_with("+json"));
        if !json {
            return Err(FetchError::ContentType);
        }
        Ok(fetched.body)
    }
}

impl Fetcher for CachingFetcher {
    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let now = self.clock.now();
        if let Ok(cache) = self.cache.lock()
            && let Some((at, body)) = cache.get(url)
            && now.saturating_sub(*at) < self.ttl
        {
            return Ok(body.as_ref().clone());
        }
        let body = self.fetch(url).await?;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED_DOCUMENTS {
                let mut ages: Vec<(i64, String)> =
                    cache.iter().map(|(k, (at, _))| (*at, k.clone())).collect();
                ages.sort();
                for (_, k) in ages.into_iter().take(MAX_CACHED_DOCUMENTS / 2) {
                    cache.remove(&k);
                }
            }
            cache.insert(url.to_owned(), (now, Arc::new(body.clone())));
        }
        Ok(body)
    }
}
