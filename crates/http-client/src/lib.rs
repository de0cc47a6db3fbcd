//! The one outbound HTTP client every role uses (metadata, status lists, request objects,
//! TokenReview, attestation): an SSRF guard around reqwest, so no user-supplied URL can
//! reach the process's own network. The roles reach it as `service::http`; the wallet core
//! uses this crate directly, so a wallet links no server code.
//!
//! Rules, all enforced here rather than left to callers:
//! - `https://` only; `http://` only when [`AddressPolicy`] allows loopback (tests, the local
//!   demo), and then only to loopback addresses;
//! - every address the name resolves to must be public (loopback, RFC 1918, link-local and
//!   cloud metadata, CGNAT, ULA, multicast, reserved, and IPv4-mapped / NAT64 / 6to4 forms
//!   of those are dropped); IP-literal hosts are checked up front, because reqwest does not
//!   pass them to the resolver;
//! - no proxy, no automatic redirects (a 3xx is returned to the caller, who may re-check the
//!   new URL with another request);
//! - connect and total timeouts, and a cap on the response body read while streaming.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Which destination addresses are allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressPolicy {
    /// Public unicast addresses only (production).
    PublicOnly,
    /// Public addresses and loopback (tests and the one-machine demo). Enables `http://` to
    /// loopback.
    AllowLoopback,
    /// Public addresses, loopback and private networks (RFC 1918, CGNAT, IPv6 unique local),
    /// for destinations an operator configures inside a cluster, never taken from input: the
    /// Kubernetes API server (TokenReview), the attester called by wallet engines. Link-local
    /// and cloud metadata addresses (including `fd00:ec2::254`), multicast, unspecified and
    /// reserved ranges stay refused. Enables `http://` (cluster-internal services are often
    /// plain http behind a NetworkPolicy).
    AllowPrivate,
}

/// Settings of a [`GuardedClient`].
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// Destination policy.
    pub policy: AddressPolicy,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout (headers and body).
    pub timeout: Duration,
    /// Largest response body read.
    pub max_body: usize,
    /// Extra trust anchors (DER) besides the system roots, e.g. a cluster CA.
    pub extra_roots: Vec<Vec<u8>>,
    /// Trust only `extra_roots` (for a private CA such as the Kubernetes API server's).
    pub only_extra_roots: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            policy: AddressPolicy::PublicOnly,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            max_body: 1024 * 1024,
            extra_roots: Vec::new(),
            only_extra_roots: false,
        }
    }
}

/// Why an outbound request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL does not parse or has no host.
    #[error("invalid URL {0:?}")]
    InvalidUrl(String),
    /// The scheme is not allowed (https only outside loopback development).
    #[error("scheme `{0}` is not allowed (https only)")]
    Scheme(String),
    /// The destination address is not allowed by the SSRF guard.
    #[error("destination {0} is not allowed (private, loopback, link-local or reserved address)")]
    ForbiddenAddress(String),
    /// The name resolved to no allowed address.
    #[error("`{0}` resolves to no allowed address")]
    NoAllowedAddress(String),
    /// The response body exceeds the limit.
    #[error("response body larger than {0} bytes")]
    TooLarge(usize),
    /// Connecting, TLS, timeout or protocol failure.
    #[error("request to {url} failed: {source}")]
    Transport {
        /// The URL.
        url: String,
        /// reqwest's error.
        source: reqwest::Error,
    },
    /// The client could not be built (bad extra root certificate).
    #[error("cannot build the HTTP client: {0}")]
    Build(reqwest::Error),
}

/// A response read in full (up to the cap).
#[derive(Clone, Debug)]
pub struct Fetched {
    /// HTTP status.
    pub status: reqwest::StatusCode,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Fetched {
    /// The `Content-Type` without parameters, lowercased.
    pub fn content_type(&self) -> Option<String> {
        self.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
    }
}

fn v4_forbidden(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xC0) == 64) // 100.64.0.0/10 CGNAT
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24 IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xFE) == 18) // 198.18.0.0/15 benchmarking
        || o[0] >= 240 // 240.0.0.0/4 reserved
}

fn v6_embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    match s {
        // ::a.b.c.d (deprecated IPv4-compatible)
        [0, 0, 0, 0, 0, 0, _, _] => Some(tail),
        // 64:ff9b::/96 NAT64 and 64:ff9b:1::/48 local-use NAT64
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 1, ..] => Some(tail),
        // 2002::/16 6to4: the IPv4 address follows the prefix
        [0x2002, a, b, ..] => Some(Ipv4Addr::new(
            (a >> 8) as u8,
            a as u8,
            (b >> 8) as u8,
            b as u8,
        )),
        _ => None,
    }
}

fn v6_forbidden(ip: Ipv6Addr) -> bool {
    let s0 = ip.segments()[0];
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s0 & 0xfe00) == 0xfc00 // fc00::/7 unique local (incl. fd00:ec2::254 metadata)
        || (s0 & 0xffc0) == 0xfe80 // fe80::/10 link-local
        || (s0 & 0xffc0) == 0xfec0 // fec0::/10 site-local (deprecated)
        || s0 == 0x2001 && ip.segments()[1] == 0 // 2001::/32 Teredo
        || s0 == 0x2001 && ip.segments()[1] == 0xdb8 // documentation
        || v6_embedded_v4(ip).is_some_and(v4_forbidden)
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// RFC 1918, CGNAT (RFC 6598) and IPv6 unique local addresses, also in IPv4-mapped form;
/// never the IPv6 cloud metadata address, which sits inside the unique local range.
fn is_private_network(ip: IpAddr) -> bool {
    let v4_private = |v4: Ipv4Addr| {
        let o = v4.octets();
        v4.is_private() || (o[0] == 100 && (o[1] & 0xC0) == 64)
    };
    match ip {
        IpAddr::V4(v4) => v4_private(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_private(v4);
            }
            let metadata = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);
            (v6.segments()[0] & 0xfe00) == 0xfc00 && v6 != metadata
        }
    }
}

/// Whether `ip` may be contacted under `policy`.
pub fn address_allowed(ip: IpAddr, policy: AddressPolicy) -> bool {
    if matches!(
        policy,
        AddressPolicy::AllowLoopback | AddressPolicy::AllowPrivate
    ) && is_loopback(ip)
    {
        return true;
    }
    if policy == AddressPolicy::AllowPrivate && is_private_network(ip) {
        return true;
    }
    match ip {
        IpAddr::V4(v4) => !v4_forbidden(v4),
        IpAddr::V6(v6) => !v6_forbidden(v6),
    }
}

#[derive(Debug)]
struct GuardedResolver {
    policy: AddressPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| address_allowed(a.ip(), policy))
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(FetchError::NoAllowedAddress(host))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            let it: Addrs = Box::new(addrs.into_iter());
            Ok(it)
        })
    }
}

/// The guarded client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct GuardedClient {
    inner: reqwest::Client,
    settings: Arc<HttpSettings>,
}

impl GuardedClient {
    /// Builds a client with `settings`.
    pub fn new(settings: HttpSettings) -> Result<Self, FetchError> {
        let mut roots = Vec::new();
        for der in &settings.extra_roots {
            roots.push(reqwest::Certificate::from_der(der).map_err(FetchError::Build)?);
        }
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .dns_resolver(Arc::new(GuardedResolver {
                policy: settings.policy,
            }))
            .user_agent(concat!("symbolon/", env!("CARGO_PKG_VERSION")));
        if settings.only_extra_roots {
            builder = builder.tls_certs_only(roots);
        } else if !roots.is_empty() {
            builder = builder.tls_certs_merge(roots);
        }
        let inner = builder.build().map_err(FetchError::Build)?;
        Ok(GuardedClient {
            inner,
            settings: Arc::new(settings),
        })
    }

    /// Checks a URL against the guard without sending anything.
    pub fn check_url(&self, url: &str) -> Result<url::Url, FetchError> {
        let parsed = url::Url::parse(url).map_err(|_| FetchError::InvalidUrl(url.to_owned()))?;
        let host = parsed
            .host()
            .ok_or_else(|| FetchError::InvalidUrl(url.to_owned()))?;
        let literal = match host {
            url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            url::Host::Domain(_) => None,
        };
        if let Some(ip) = literal
            && !address_allowed(ip, self.settings.policy)
        {
            return Err(FetchError::ForbiddenAddress(ip.to_string()));
        }
        match parsed.scheme() {
            "https" => {}
            // Operator-configured in-cluster destinations: the address checks above and in
            // the resolver still apply.
            "http" if self.settings.policy == AddressPolicy::AllowPrivate => {}
            "http" if self.settings.policy == AddressPolicy::AllowLoopback => {
                // Plain http only to loopback: a literal loopback IP or `localhost`.
                let loopback = match host {
                    url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
                    _ => literal.is_some_and(is_loopback),
                };
                if !loopback {
                    return Err(FetchError::Scheme("http".into()));
                }
            }
            other => return Err(FetchError::Scheme(other.to_owned())),
        }
        Ok(parsed)
    }

    /// Starts a request after checking the URL; finish it with [`GuardedClient::send`].
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, FetchError> {
        let parsed = self.check_url(url)?;
        Ok(self.inner.request(method, parsed))
    }

    /// Sends a request built with [`GuardedClient::request`] and reads the body up to the cap.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<Fetched, FetchError> {
        let transport = |url: &str, source| FetchError::Transport {
            url: url.to_owned(),
            source,
        };
        let request = request.build().map_err(|e| transport("(request)", e))?;
        let url = request.url().to_string();
        let mut response = self
            .inner
            .execute(request)
            .await
            .map_err(|e| transport(&url, e))?;
        let max = self.settings.max_body;
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(FetchError::TooLarge(max));
        }
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| transport(&url, e))? {
            if body.len() + chunk.len() > max {
                return Err(FetchError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            status,
            headers,
            body,
        })
    }

    /// `GET url` with an `Accept` header.
    pub async fn get(&self, url: &str, accept: &str) -> Result<Fetched, FetchError> {
        let req = self
            .request(reqwest::Method::GET, url)?
            .header(reqwest::header::ACCEPT, accept);
        self.send(req).await
    }

    /// `POST url` with a form body.
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        accept: &str,
    ) -> Result<Fetched, FetchError> {
        let req = self
            .request(reqwest::Method::POST, url)?
            .header(reqwest::header::ACCEPT, accept)
            .form(form);
        self.send(req).await
    }

    /// The settings.
    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn rejects_private_loopback_link_local_and_reserved_addresses() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "198.18.0.1",
            "192.0.0.170",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "fc00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "::127.0.0.1",
            "2001::1",
            "2001:db8::1",
        ] {
            assert!(!address_allowed(ip(a), AddressPolicy::PublicOnly), "{a}");
        }
        for a in ["10.0.0.1", "169.254.169.254", "fd00:ec2::254"] {
            assert!(!address_allowed(ip(a), AddressPolicy::AllowLoopback), "{a}");
        }
    }

    #[test]
    fn public_addresses_pass_and_loopback_only_when_allowed() {
        for a in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "64:ff9b::5db8:d822",
        ] {
            assert!(address_allowed(ip(a), AddressPolicy::PublicOnly), "{a}");
        }
        assert!(address_allowed(
            ip("127.0.0.1"),
            AddressPolicy::AllowLoopback
        ));
        assert!(address_allowed(ip("::1"), AddressPolicy::AllowLoopback));
    }

    #[test]
    fn allow_private_admits_cluster_networks_but_not_metadata_or_reserved() {
        for a in [
            "10.96.0.1",
            "172.20.1.2",
            "192.168.49.2",
            "100.64.0.10",
            "fd12:3456::1",
            "::ffff:10.0.0.1",
            "127.0.0.1",
            "::1",
            "93.184.216.34",
        ] {
            assert!(address_allowed(ip(a), AddressPolicy::AllowPrivate), "{a}");
            let expected_elsewhere = a == "93.184.216.34";
            assert_eq!(
                address_allowed(ip(a), AddressPolicy::PublicOnly),
                expected_elsewhere,
                "{a}"
            );
        }
        for a in [
            "169.254.169.254",
            "fd00:ec2::254",
            "fe80::1",
            "0.0.0.0",
            "224.0.0.1",
            "240.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!address_allowed(ip(a), AddressPolicy::AllowPrivate), "{a}");
        }
        let internal = GuardedClient::new(HttpSettings {
            policy: AddressPolicy::AllowPrivate,
            ..HttpSettings::default()
        })
        .unwrap();
        assert!(internal.check_url("http://10.96.0.1:5000/x").is_ok());
        assert!(
            internal
                .check_url("http://attester.cvm-security.svc:5000/x")
                .is_ok()
        );
        assert!(matches!(
            internal.check_url("http://169.254.169.254/latest/meta-data"),
            Err(FetchError::ForbiddenAddress(_))
        ));
        assert!(matches!(
            internal.check_url("ftp://10.0.0.1/"),
            Err(FetchError::Scheme(_))
        ));
    }

    #[test]
    fn rejects_urls_before_sending() {
        let prod = GuardedClient::new(HttpSettings::default()).unwrap();
        assert!(matches!(
            prod.check_url("http://example.com/"),
            Err(FetchError::Scheme(_))
        ));
        assert!(matches!(
            prod.check_url("https://127.0.0.1/"),
            Err(FetchError::ForbiddenAddress(_))
        ));
        assert!(matches!(
            prod.check_url("https://[::ffff:169.254.169.254]/"),
            Err(FetchError::ForbiddenAddress(_))
        ));
        assert!(matches!(
            prod.check_url("file:///etc/passwd"),
            Err(FetchError::InvalidUrl(_) | FetchError::Scheme(_))
        ));
        assert!(matches!(
            prod.check_url("not a url"),
            Err(FetchError::InvalidUrl(_))
        ));
        assert!(prod.check_url("https://issuer.example/x").is_ok());
        let dev = GuardedClient::new(HttpSettings {
            policy: AddressPolicy::AllowLoopback,
            ..HttpSettings::default()
        })
        .unwrap();
        assert!(dev.check_url("http://127.0.0.1:8080/x").is_ok());
        assert!(dev.check_url("http://localhost:8080/x").is_ok());
        assert!(matches!(
            dev.check_url("http://example.com/"),
            Err(FetchError::Scheme(_))
        ));
        assert!(matches!(
            dev.check_url("https://10.0.0.1/"),
            Err(FetchError::ForbiddenAddress(_))
        ));
    }

    #[tokio::test]
    async fn rejects_names_resolving_to_loopback_in_production() {
        let prod = GuardedClient::new(HttpSettings::default()).unwrap();
        let e = prod.get("https://localhost:1/", "*/*").await.unwrap_err();
        assert!(matches!(e, FetchError::Transport { .. }), "{e}");
        assert!(format!("{e:?}").contains("NoAllowedAddress"), "{e:?}");
    }

    #[tokio::test]
    async fn reads_loopback_in_dev_without_following_redirects_and_caps_the_body() {
        use axum::routing::get;
        let app = axum::Router::new()
            .route("/ok", get(|| async { "hello" }))
            .route("/big", get(|| async { "x".repeat(4096) }))
            .route(
                "/redirect",
                get(|| async { axum::response::Redirect::temporary("/ok") }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let dev = GuardedClient::new(HttpSettings {
            policy: AddressPolicy::AllowLoopback,
            max_body: 1024,
            ..HttpSettings::default()
        })
        .unwrap();
        let ok = dev
            .get(&format!("http://127.0.0.1:{}/ok", addr.port()), "*/*")
            .await
            .unwrap();
        assert_eq!(ok.body, b"hello");
        let r = dev
            .get(&format!("http://127.0.0.1:{}/redirect", addr.port()), "*/*")
            .await
            .unwrap();
        assert_eq!(r.status, reqwest::StatusCode::TEMPORARY_REDIRECT);
        let e = dev
            .get(&format!("http://localhost:{}/big", addr.port()), "*/*")
            .await
            .unwrap_err();
        assert!(matches!(e, FetchError::TooLarge(1024)), "{e}");
    }
}
