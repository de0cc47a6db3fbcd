//! Finding the Issuer's verification key (RFC 9901 §7.1 step 2.c; SD-JWT VC §2.5, §3):
//! configured keys (selected by `kid`, or the only one), an `x5c` chain validated against
//! trust anchors, or JWT VC Issuer Metadata fetched from `iss`.
//!
//! The crate does no I/O: retrieval goes through an injected [`Fetcher`], and `x5c` chains
//! through a [`ChainValidator`] (implemented for [`jose::TrustAnchors`] on top of
//! [`jose::x5c::validate_chain`]). Configured keys and `x5c` need no retrieval, so
//! [`KeyResolver::resolve`] is synchronous (the hot path); [`KeyResolver::resolve_with`]
//! adds the metadata mechanism.
//!
//! Order: `x5c` when the header carries one and a validator is configured; then configured
//! keys; then, if enabled, JWT VC Issuer Metadata. A failed `x5c` validation is final (no
//! fall-back to another mechanism).

use crate::error::{FetchError, ResolveError};
use jose::x5c::{LeafInfo, TrustAnchors, X5cError};
use jose::{Header, PublicJwk, VerifyingKey, json};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

/// Retrieves a document over HTTPS. Implementations (in the services) apply the SSRF
/// guard, timeouts and a body-size cap, and return the body only for a `200` response
/// with a JSON content type; anything else is a [`FetchError`].
pub trait Fetcher: Send + Sync {
    /// GETs `url`.
    fn get(&self, url: &str) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send;
}

/// Validates an `x5c` chain (DER, leaf first) at a given time.
pub trait ChainValidator: Send + Sync {
    /// Validates `chain` at Unix time `now`, returning what the leaf certifies.
    fn validate(&self, chain: &[Vec<u8>], now: i64) -> Result<LeafInfo, X5cError>;
}

impl ChainValidator for TrustAnchors {
    fn validate(&self, chain: &[Vec<u8>], now: i64) -> Result<LeafInfo, X5cError> {
        jose::x5c::validate_chain(chain, self, now)
    }
}

/// Which mechanism produced the key.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// A configured key; `kid` as configured.
    Configured {
        /// The key's `kid`.
        kid: Option<String>,
    },
    /// The leaf of a validated `x5c` chain; the Issuer is the leaf's subject.
    X5c(Box<LeafInfo>),
    /// JWT VC Issuer Metadata of `issuer`.
    IssuerMetadata {
        /// The metadata `issuer` (identical to `iss`).
        issuer: String,
        /// The selected key's `kid`.
        kid: Option<String>,
    },
}

/// A key and where it came from.
#[derive(Clone, Debug)]
pub struct ResolvedKey {
    /// The verification key.
    pub key: VerifyingKey,
    /// The mechanism.
    pub source: KeySource,
}

/// A key borrowed from the configuration or owned (from `x5c` or metadata), so that the
/// hot path does not copy configured keys.
pub(crate) struct Resolved<'a> {
    pub(crate) key: Cow<'a, VerifyingKey>,
    pub(crate) source: KeySource,
}

impl Resolved<'_> {
    fn into_owned(self) -> ResolvedKey {
        ResolvedKey {
            key: self.key.into_owned(),
            source: self.source,
        }
    }
}

impl From<ResolvedKey> for Resolved<'_> {
    fn from(r: ResolvedKey) -> Self {
        Resolved {
            key: Cow::Owned(r.key),
            source: r.source,
        }
    }
}

/// The permitted key mechanisms.
#[derive(Clone, Default)]
pub struct KeyResolver {
    keys: Vec<VerifyingKey>,
    x5c: Option<Arc<dyn ChainValidator>>,
    x5c_loose_issuer: bool,
    metadata: bool,
    metadata_http_loopback: bool,
}

impl std::fmt::Debug for KeyResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyResolver")
            .field("keys", &self.keys)
            .field("x5c", &self.x5c.is_some())
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl KeyResolver {
    /// No mechanism yet.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a configured key (parsed once, reused for every verification).
    #[must_use]
    pub fn with_key(mut self, key: VerifyingKey) -> Self {
        self.keys.push(key);
        self
    }
    /// Accepts `x5c` chains that `validator` validates.
    #[must_use]
    pub fn with_x5c(mut self, validator: Arc<dyn ChainValidator>) -> Self {
        self.x5c = Some(validator);
        self
    }
    /// By default an `iss` next to `x5c` must be a URI SAN of the leaf, or an https URL
    /// whose host is a DNS SAN; this lifts that binding (the ecosystem binds otherwise).
    #[must_use]
    pub fn without_x5c_issuer_binding(mut self) -> Self {
        self.x5c_loose_issuer = true;
        self
    }
    /// Permits JWT VC Issuer Metadata (only used by [`resolve_with`](Self::resolve_with)).
    #[must_use]
    pub fn with_issuer_metadata(mut self) -> Self {
        self.metadata = true;
        self
    }
    /// Also fetches the metadata of an `http://` issuer on a loopback host (and a loopback
    /// `http://` `jwks_uri` in it), for an issuer and verifier on one machine (tests, the
    /// one-command demo). SD-JWT VC §3 wants https; the caller's fetcher must itself be
    /// limited to loopback for plain http, so nothing leaves the machine unencrypted.
    #[must_use]
    pub fn with_loopback_http_metadata(mut self) -> Self {
        self.metadata_http_loopback = true;
        self
    }

    fn via_x5c(
        &self,
        header: &Header,
        claims: &Map<String, Value>,
        now: i64,
    ) -> Option<Result<ResolvedKey, ResolveError>> {
        let (validator, chain) = (self.x5c.as_ref()?, header.x5c()?);
        Some((|| {
            let leaf = validator.validate(chain, now).map_err(ResolveError::X5c)?;
            if !self.x5c_loose_issuer
                && let Some(iss) = claims.get("iss")
            {
                let iss = iss.as_str().ok_or(ResolveError::IssuerMissing)?;
                if !issuer_in_leaf(iss, &leaf) {
                    return Err(ResolveError::IssuerNotInCertificate);
                }
            }
            if let Some(jwk) = header.jwk()
                && !jwk.same_key(leaf.public_jwk())
            {
                return Err(ResolveError::X5c(X5cError::HeaderKeyMismatch));
            }
            let key =
                VerifyingKey::from_jwk(leaf.public_jwk()).map_err(ResolveError::KeyNotUsable)?;
            Ok(ResolvedKey {
                key,
                source: KeySource::X5c(Box::new(leaf)),
            })
        })())
    }

    fn configured(&self, kid: Option<&str>) -> Result<Resolved<'_>, ResolveError> {
        let found = match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| k.jwk().kid() == Some(kid))
                .or_else(|| match self.keys.as_slice() {
                    [only] if only.jwk().kid().is_none() => Some(only),
                    _ => None,
                })
                .ok_or_else(|| ResolveError::UnknownKid(kid.to_owned()))?,
            None => match self.keys.as_slice() {
                [only] => only,
                [] => return Err(ResolveError::NoKeySource),
                _ => return Err(ResolveError::AmbiguousKey),
            },
        };
        Ok(Resolved {
            key: Cow::Borrowed(found),
            source: KeySource::Configured {
                kid: found.jwk().kid().map(str::to_owned),
            },
        })
    }

    /// Resolves with `x5c` and configured keys (no retrieval). `claims` are the unverified
    /// Issuer-signed JWT claims; `now` is the time for certificate validity.
    pub fn resolve(
        &self,
        header: &Header,
        claims: &Map<String, Value>,
        now: i64,
    ) -> Result<ResolvedKey, ResolveError> {
        self.resolve_ref(header, claims, now)
            .map(Resolved::into_owned)
    }

    pub(crate) fn resolve_ref(
        &self,
        header: &Header,
        claims: &Map<String, Value>,
        now: i64,
    ) -> Result<Resolved<'_>, ResolveError> {
        if let Some(r) = self.via_x5c(header, claims, now) {
            return r.map(Resolved::from);
        }
        if self.keys.is_empty() {
            return Err(ResolveError::NoKeySource);
        }
        self.configured(header.kid())
    }

    /// Resolves with every permitted mechanism, fetching JWT VC Issuer Metadata through
    /// `fetcher` when neither `x5c` nor a configured key applies.
    pub async fn resolve_with<F: Fetcher>(
        &self,
        fetcher: &F,
        header: &Header,
        claims: &Map<String, Value>,
        now: i64,
    ) -> Result<ResolvedKey, ResolveError> {
        self.resolve_with_ref(fetcher, header, claims, now)
            .await
            .map(Resolved::into_owned)
    }

    pub(crate) async fn resolve_with_ref<F: Fetcher>(
        &self,
        fetcher: &F,
        header: &Header,
        claims: &Map<String, Value>,
        now: i64,
    ) -> Result<Resolved<'_>, ResolveError> {
        if let Some(r) = self.via_x5c(header, claims, now) {
            return r.map(Resolved::from);
        }
        let configured = if self.keys.is_empty() {
            Err(ResolveError::NoKeySource)
        } else {
            self.configured(header.kid())
        };
        match configured {
            Ok(k) => Ok(k),
            Err(e) if !self.metadata => Err(e),
            Err(_) => {
                let iss = claims
                    .get("iss")
                    .and_then(Value::as_str)
                    .ok_or(ResolveError::IssuerMissing)?;
                issuer_metadata_key_in(
                    fetcher,
                    iss,
                    header.kid(),
                    Scheme::allowed(self.metadata_http_loopback),
                )
                .await
                .map(Resolved::from)
            }
        }
    }
}

fn issuer_in_leaf(iss: &str, leaf: &LeafInfo) -> bool {
    if leaf.uri_sans().iter().any(|u| u == iss) {
        return true;
    }
    url::Url::parse(iss).ok().is_some_and(|u| {
        u.scheme() == "https"
            && u.host_str()
                .is_some_and(|h| leaf.dns_sans().iter().any(|d| d.eq_ignore_ascii_case(h)))
    })
}

/// Which URL schemes an issuer identifier (and the `jwks_uri` of its metadata) may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    /// `https://` only (SD-JWT VC §3).
    Https,
    /// `https://`, or `http://` to a loopback host.
    HttpsOrLoopbackHttp,
}

impl Scheme {
    fn allowed(http_loopback: bool) -> Self {
        if http_loopback {
            Scheme::HttpsOrLoopbackHttp
        } else {
            Scheme::Https
        }
    }

    /// `url`'s scheme is acceptable: https, or http to a loopback host when allowed.
    fn accepts(self, url: &url::Url) -> bool {
        match url.scheme() {
            "https" => true,
            "http" => self == Scheme::HttpsOrLoopbackHttp && is_loopback_host(url),
            _ => false,
        }
    }
}

/// Whether `url` names a loopback host: `localhost`, 127.0.0.0/8 or `::1`.
pub fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Checks that `iss` is an https URL (or a loopback http URL when `scheme` allows it)
/// with a host and no query, fragment or userinfo (SD-JWT VC §3) and returns the scheme
/// with `://` and the text after it.
fn issuer_identifier(iss: &str, scheme: Scheme) -> Result<(&'static str, &str), ResolveError> {
    let (prefix, rest) = match (iss.strip_prefix("https://"), iss.strip_prefix("http://")) {
        (Some(rest), _) => ("https://", rest),
        (None, Some(rest)) if scheme == Scheme::HttpsOrLoopbackHttp => ("http://", rest),
        _ => return Err(ResolveError::InvalidIssuerUrl("scheme must be https")),
    };
    if iss.contains(['?', '#']) {
        return Err(ResolveError::InvalidIssuerUrl("query or fragment"));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(ResolveError::InvalidIssuerUrl("no host"));
    }
    if authority.contains('@') {
        return Err(ResolveError::InvalidIssuerUrl("userinfo"));
    }
    let url = url::Url::parse(iss).map_err(|_| ResolveError::InvalidIssuerUrl("not a URL"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ResolveError::InvalidIssuerUrl("no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ResolveError::InvalidIssuerUrl("userinfo"));
    }
    if !scheme.accepts(&url) {
        return Err(ResolveError::InvalidIssuerUrl(
            "scheme must be https (http only to a loopback host)",
        ));
    }
    Ok((prefix, rest))
}

/// The JWT VC Issuer Metadata URL for `iss` (SD-JWT VC §3): a trailing `/` is removed and
/// `/.well-known/jwt-vc-issuer` goes between the host (and port) and the path, which are
/// otherwise kept exactly as written.
pub fn metadata_url(iss: &str) -> Result<String, ResolveError> {
    metadata_url_in(iss, Scheme::Https)
}

/// [`metadata_url`], also for an `http://` issuer on a loopback host (see
/// [`KeyResolver::with_loopback_http_metadata`]).
pub fn loopback_metadata_url(iss: &str) -> Result<String, ResolveError> {
    metadata_url_in(iss, Scheme::HttpsOrLoopbackHttp)
}

fn metadata_url_in(iss: &str, scheme: Scheme) -> Result<String, ResolveError> {
    let (prefix, rest) = issuer_identifier(iss, scheme)?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (
            rest.get(..i).unwrap_or_default(),
            rest.get(i..).unwrap_or_default(),
        ),
        None => (rest, ""),
    };
    let path = path.strip_suffix('/').unwrap_or(path);
    Ok(format!(
        "{prefix}{authority}/.well-known/jwt-vc-issuer{path}"
    ))
}

async fn fetch_json<F: Fetcher>(
    fetcher: &F,
    url: &str,
    what: &'static str,
) -> Result<Map<String, Value>, ResolveError> {
    let body = fetcher
        .get(url)
        .await
        .map_err(|source| ResolveError::Fetch {
            url: url.to_owned(),
            source,
        })?;
    json::parse_object(&body).map_err(|_| ResolveError::MalformedDocument(what))
}

/// Fetches the JWT VC Issuer Metadata of `iss`, checks it (§3.3: `issuer` identical to
/// `iss`; exactly one of `jwks` and `jwks_uri`), and returns the JWK Set's keys.
pub async fn issuer_metadata_keys<F: Fetcher>(
    fetcher: &F,
    iss: &str,
) -> Result<Vec<Map<String, Value>>, ResolveError> {
    issuer_metadata_keys_in(fetcher, iss, Scheme::Https).await
}

async fn issuer_metadata_keys_in<F: Fetcher>(
    fetcher: &F,
    iss: &str,
    scheme: Scheme,
) -> Result<Vec<Map<String, Value>>, ResolveError> {
    let url = metadata_url_in(iss, scheme)?;
    let meta = fetch_json(fetcher, &url, "JWT VC Issuer Metadata").await?;
    match meta.get("issuer") {
        Some(Value::String(s)) if s == iss => {}
        Some(Value::String(s)) => {
            return Err(ResolveError::IssuerMismatch {
                expected: iss.to_owned(),
                found: s.clone(),
            });
        }
        _ => return Err(ResolveError::MalformedDocument("JWT VC Issuer Metadata")),
    }
    let jwks = match (meta.get("jwks"), meta.get("jwks_uri")) {
        (Some(_), Some(_)) => return Err(ResolveError::JwksAndJwksUri),
        (None, None) => return Err(ResolveError::NoJwks),
        (Some(Value::Object(set)), None) => set.clone(),
        (Some(_), None) => return Err(ResolveError::MalformedDocument("JWK Set")),
        (None, Some(Value::String(uri))) => {
            let ok = url::Url::parse(uri).is_ok_and(|u| scheme.accepts(&u) && u.host().is_some());
            if !ok {
                return Err(ResolveError::InvalidJwksUri);
            }
            fetch_json(fetcher, uri, "JWK Set").await?
        }
        (None, Some(_)) => return Err(ResolveError::InvalidJwksUri),
    };
    let Some(Value::Array(keys)) = jwks.get("keys") else {
        return Err(ResolveError::MalformedDocument("JWK Set"));
    };
    keys.iter()
        .map(|k| {
            k.as_object()
                .cloned()
                .ok_or(ResolveError::MalformedDocument("JWK Set"))
        })
        .collect()
}

/// Selects the Issuer key from JWT VC Issuer Metadata: the key with the header's `kid`, or
/// the only usable signature key when there is no `kid`.
pub async fn issuer_metadata_key<F: Fetcher>(
    fetcher: &F,
    iss: &str,
    kid: Option<&str>,
) -> Result<ResolvedKey, ResolveError> {
    issuer_metadata_key_in(fetcher, iss, kid, Scheme::Https).await
}

async fn issuer_metadata_key_in<F: Fetcher>(
    fetcher: &F,
    iss: &str,
    kid: Option<&str>,
    scheme: Scheme,
) -> Result<ResolvedKey, ResolveError> {
    let keys = issuer_metadata_keys_in(fetcher, iss, scheme).await?;
    let key = match kid {
        Some(kid) => {
            let o = keys
                .iter()
                .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid))
                .ok_or_else(|| ResolveError::UnknownKid(kid.to_owned()))?;
            let jwk = PublicJwk::from_object(o).map_err(ResolveError::KeyNotUsable)?;
            VerifyingKey::from_jwk(&jwk).map_err(ResolveError::KeyNotUsable)?
        }
        None => {
            let mut usable = keys.iter().filter_map(|o| {
                PublicJwk::from_object(o)
                    .ok()
                    .and_then(|j| VerifyingKey::from_jwk(&j).ok())
            });
            match (usable.next(), usable.next()) {
                (Some(k), None) => k,
                (None, _) => return Err(ResolveError::NoKeySource),
                (Some(_), Some(_)) => return Err(ResolveError::AmbiguousKey),
            }
        }
    };
    Ok(ResolvedKey {
        source: KeySource::IssuerMetadata {
            issuer: iss.to_owned(),
            kid: key.jwk().kid().map(str::to_owned),
        },
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sd_jwt_vc_3_1_metadata_url_inserts_well_known_between_host_and_path() {
        assert_eq!(
            metadata_url("https://example.com").unwrap(),
            "https://example.com/.well-known/jwt-vc-issuer"
        );
        assert_eq!(
            metadata_url("https://example.com/tenant/1234").unwrap(),
            "https://example.com/.well-known/jwt-vc-issuer/tenant/1234"
        );
        assert_eq!(
            metadata_url("https://example.com/tenant/1234/").unwrap(),
            "https://example.com/.well-known/jwt-vc-issuer/tenant/1234"
        );
        assert_eq!(
            metadata_url("https://example.com:8443/").unwrap(),
            "https://example.com:8443/.well-known/jwt-vc-issuer"
        );
    }

    #[test]
    fn issue10_loopback_http_issuer_metadata_url_only_when_allowed() {
        assert_eq!(
            loopback_metadata_url("http://127.0.0.1:8080/issuer").unwrap(),
            "http://127.0.0.1:8080/.well-known/jwt-vc-issuer/issuer"
        );
        assert_eq!(
            loopback_metadata_url("http://localhost:9/").unwrap(),
            "http://localhost:9/.well-known/jwt-vc-issuer"
        );
        assert_eq!(
            loopback_metadata_url("http://[::1]:8080").unwrap(),
            "http://[::1]:8080/.well-known/jwt-vc-issuer"
        );
        assert_eq!(
            loopback_metadata_url("https://example.com/t").unwrap(),
            "https://example.com/.well-known/jwt-vc-issuer/t"
        );
        for iss in [
            "http://example.com",
            "http://10.0.0.1:8080",
            "http://127.0.0.1:8080/?a=1",
            "http://user@127.0.0.1/",
            "ftp://127.0.0.1/",
        ] {
            assert!(
                matches!(
                    loopback_metadata_url(iss),
                    Err(ResolveError::InvalidIssuerUrl(_))
                ),
                "{iss}"
            );
        }
        // Without the opt-in, http stays refused even on loopback.
        assert!(metadata_url("http://127.0.0.1:8080").is_err());
    }

    #[test]
    fn rejects_non_https_or_query_issuers() {
        for iss in [
            "http://example.com",
            "https://example.com/?a=1",
            "https://example.com/#f",
            "https://user@example.com/",
            "example.com",
            "https:///path",
        ] {
            assert!(
                matches!(metadata_url(iss), Err(ResolveError::InvalidIssuerUrl(_))),
                "{iss}"
            );
        }
    }
}
