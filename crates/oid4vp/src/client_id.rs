//! Client identifiers and their prefixes (OpenID4VP 1.0 §5.9): `<prefix>:<id>`, or no
//! colon for a pre-registered client, and the rules each prefix imposes on the request.
//!
//! The full client identifier, prefix included, is what goes into every place the spec
//! uses it — notably the KB-JWT `aud` of each presentation (§14.8) — so [`ClientId`]
//! keeps the string as given and exposes the parts only for checking.
//!
//! Implemented prefixes: `redirect_uri` (unsigned requests only), `x509_san_dns`,
//! `x509_hash` and pre-registered clients. `decentralized_identifier`,
//! `verifier_attestation` and `openid_federation` are recognised (so they are never
//! mistaken for pre-registered identifiers) but their trust rules are not implemented;
//! `origin` is reserved for the DC API and refused.

use std::fmt;

use jose::x5c::LeafInfo;

/// A client identifier prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientIdPrefix {
    /// No prefix: the wallet knows the client in advance (§5.9.2).
    PreRegistered,
    /// `redirect_uri`: the identifier is the redirect (or response) URI; requests are
    /// never signed.
    RedirectUri,
    /// `x509_san_dns`: a DNS name in a `dNSName` SAN of the signing certificate.
    X509SanDns,
    /// `x509_hash`: base64url SHA-256 of the signing certificate (DER).
    X509Hash,
    /// `decentralized_identifier`: a DID (recognised, not implemented).
    DecentralizedIdentifier,
    /// `verifier_attestation` (recognised, not implemented).
    VerifierAttestation,
    /// `openid_federation` (recognised, not implemented).
    OpenIdFederation,
    /// `origin`: reserved for the Digital Credentials API; refused in requests.
    Origin,
}

impl ClientIdPrefix {
    /// Every prefix, pre-registered first.
    pub const ALL: [ClientIdPrefix; 8] = [
        ClientIdPrefix::PreRegistered,
        ClientIdPrefix::RedirectUri,
        ClientIdPrefix::X509SanDns,
        ClientIdPrefix::X509Hash,
        ClientIdPrefix::DecentralizedIdentifier,
        ClientIdPrefix::VerifierAttestation,
        ClientIdPrefix::OpenIdFederation,
        ClientIdPrefix::Origin,
    ];

    /// The name used in `client_id` and in `client_id_prefixes_supported` (§10.1).
    pub fn name(self) -> &'static str {
        match self {
            ClientIdPrefix::PreRegistered => "pre-registered",
            ClientIdPrefix::RedirectUri => "redirect_uri",
            ClientIdPrefix::X509SanDns => "x509_san_dns",
            ClientIdPrefix::X509Hash => "x509_hash",
            ClientIdPrefix::DecentralizedIdentifier => "decentralized_identifier",
            ClientIdPrefix::VerifierAttestation => "verifier_attestation",
            ClientIdPrefix::OpenIdFederation => "openid_federation",
            ClientIdPrefix::Origin => "origin",
        }
    }

    /// Parses a prefix name (as in `client_id_prefixes_supported`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether requests with this prefix must be signed (`Some(true)`), must not be
    /// (`Some(false)`), or either is allowed (`None`, pre-registered clients).
    pub fn signed_request(self) -> Option<bool> {
        match self {
            ClientIdPrefix::PreRegistered => None,
            ClientIdPrefix::RedirectUri | ClientIdPrefix::Origin => Some(false),
            _ => Some(true),
        }
    }
}

impl fmt::Display for ClientIdPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A client identifier or a request broke a prefix rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientIdError {
    /// The client identifier is empty.
    #[error("client_id is empty")]
    Empty,
    /// The text before the first `:` is not a known prefix (§5.9.1: the wallet may
    /// refuse such a request).
    #[error("client_id prefix {0:?} is not supported")]
    UnsupportedPrefix(String),
    /// `origin:` is reserved for the DC API (§5.9.3).
    #[error("client_id prefix `origin` is reserved for the Digital Credentials API")]
    ReservedPrefix,
    /// The part after the prefix is empty.
    #[error("client_id has an empty identifier after `{0}:`")]
    EmptyIdentifier(ClientIdPrefix),
    /// A `redirect_uri:` identifier is not an absolute http(s) URL without fragment.
    #[error("redirect_uri client_id is not an absolute http(s) URL")]
    InvalidRedirectUri,
    /// An `x509_san_dns:` identifier is not a DNS name.
    #[error("x509_san_dns client_id is not a DNS name")]
    InvalidDnsName,
    /// An `x509_hash:` identifier is not base64url of 32 bytes.
    #[error("x509_hash client_id is not a base64url SHA-256 hash")]
    InvalidHash,
    /// A prefix whose requests are never signed came with a signed request.
    #[error("requests with client_id prefix `{0}` must not be signed")]
    MustNotBeSigned(ClientIdPrefix),
    /// A prefix whose requests must be signed came with an unsigned request.
    #[error("requests with client_id prefix `{0}` must be signed")]
    MustBeSigned(ClientIdPrefix),
    /// `redirect_uri:`: the response (or redirect) URI differs from the identifier.
    #[error("the response_uri/redirect_uri does not equal the redirect_uri client_id")]
    RedirectUriMismatch,
    /// `x509_san_dns:`: no `dNSName` SAN of the leaf certificate equals the identifier.
    #[error("no dNSName SAN of the request signing certificate equals the client_id")]
    SanMismatch,
    /// `x509_san_dns:`: the host of the response (or redirect) URI is not the identifier
    /// and the client is not otherwise trusted.
    #[error("the response_uri/redirect_uri host does not equal the x509_san_dns client_id")]
    HostMismatch,
    /// `x509_hash:`: the leaf certificate's hash differs from the identifier.
    #[error("the request signing certificate's hash does not equal the x509_hash client_id")]
    HashMismatch,
    /// The request has neither `response_uri` nor `redirect_uri`.
    #[error("the request has neither response_uri nor redirect_uri")]
    NoResponseUri,
    /// The prefix is recognised but its trust rules are not implemented here.
    #[error("client_id prefix `{0}` is not implemented")]
    NotImplemented(ClientIdPrefix),
}

/// A client identifier: the full string as given, and its parsed prefix.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientId {
    full: String,
    prefix: ClientIdPrefix,
}

impl ClientId {
    /// Parses a client identifier and checks the syntax its prefix requires.
    pub fn parse(value: &str) -> Result<Self, ClientIdError> {
        if value.is_empty() {
            return Err(ClientIdError::Empty);
        }
        let Some((name, id)) = value.split_once(':') else {
            return Ok(ClientId {
                full: value.to_owned(),
                prefix: ClientIdPrefix::PreRegistered,
            });
        };
        let prefix = match ClientIdPrefix::from_name(name) {
            Some(ClientIdPrefix::PreRegistered) | None => {
                return Err(ClientIdError::UnsupportedPrefix(name.to_owned()));
            }
            Some(ClientIdPrefix::Origin) => return Err(ClientIdError::ReservedPrefix),
            Some(p) => p,
        };
        if id.is_empty() {
            return Err(ClientIdError::EmptyIdentifier(prefix));
        }
        match prefix {
            ClientIdPrefix::RedirectUri => check_redirect_uri(id)?,
            ClientIdPrefix::X509SanDns if !jose::x5c::is_dns_name(id) => {
                return Err(ClientIdError::InvalidDnsName);
            }
            ClientIdPrefix::X509Hash if !is_sha256_b64url(id) => {
                return Err(ClientIdError::InvalidHash);
            }
            _ => {}
        }
        Ok(ClientId {
            full: value.to_owned(),
            prefix,
        })
    }

    /// `redirect_uri:<uri>`.
    pub fn redirect_uri(uri: &str) -> Result<Self, ClientIdError> {
        Self::parse(&format!("redirect_uri:{uri}"))
    }

    /// `x509_san_dns:<dns name>`.
    pub fn x509_san_dns(dns_name: &str) -> Result<Self, ClientIdError> {
        Self::parse(&format!("x509_san_dns:{dns_name}"))
    }

    /// `x509_hash:<base64url sha-256 of the DER certificate>`.
    pub fn x509_hash_of(certificate_der: &[u8]) -> Self {
        ClientId {
            full: format!("x509_hash:{}", x509_hash(certificate_der)),
            prefix: ClientIdPrefix::X509Hash,
        }
    }

    /// The full identifier, prefix included: what `aud` of a presentation must equal.
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// The prefix.
    pub fn prefix(&self) -> ClientIdPrefix {
        self.prefix
    }

    /// The identifier without its prefix (the whole value for a pre-registered client).
    pub fn identifier(&self) -> &str {
        match self.prefix {
            ClientIdPrefix::PreRegistered => &self.full,
            _ => self
                .full
                .split_once(':')
                .map(|(_, id)| id)
                .unwrap_or_default(),
        }
    }

    /// Checks the rules of an unsigned request (§5.9.3): allowed for `redirect_uri:` and
    /// pre-registered clients only; for `redirect_uri:`, the response URI (direct_post)
    /// or redirect URI, when present, must equal the identifier.
    pub fn check_unsigned(
        &self,
        response_uri: Option<&str>,
        redirect_uri: Option<&str>,
    ) -> Result<(), ClientIdError> {
        match self.prefix.signed_request() {
            Some(true) => Err(ClientIdError::MustBeSigned(self.prefix)),
            _ if self.prefix != ClientIdPrefix::RedirectUri => Ok(()),
            _ => {
                let target = response_uri.or(redirect_uri);
                match target {
                    None => Err(ClientIdError::NoResponseUri),
                    Some(uri) if uri != self.identifier() => {
                        Err(ClientIdError::RedirectUriMismatch)
                    }
                    Some(_) => Ok(()),
                }
            }
        }
    }

    /// Checks the rules of a request signed with the leaf certificate `leaf` of an `x5c`
    /// chain the caller has already validated against its trust anchors (§5.9.3):
    /// - `x509_san_dns`: a `dNSName` SAN equals the identifier (case-insensitive), and,
    ///   unless `client_trusted`, the host of the response or redirect URI equals it;
    /// - `x509_hash`: the leaf's hash equals the identifier.
    pub fn check_x509(
        &self,
        leaf: &LeafInfo,
        response_uri: Option<&str>,
        redirect_uri: Option<&str>,
        client_trusted: bool,
    ) -> Result<(), ClientIdError> {
        match self.prefix {
            ClientIdPrefix::X509SanDns => {
                let id = self.identifier();
                if !leaf.dns_sans().iter().any(|s| s.eq_ignore_ascii_case(id)) {
                    return Err(ClientIdError::SanMismatch);
                }
                if client_trusted {
                    return Ok(());
                }
                let uri = response_uri
                    .or(redirect_uri)
                    .ok_or(ClientIdError::NoResponseUri)?;
                let host = url::Url::parse(uri)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned));
                match host {
                    Some(h) if h.eq_ignore_ascii_case(id) => Ok(()),
                    _ => Err(ClientIdError::HostMismatch),
                }
            }
            ClientIdPrefix::X509Hash => {
                if leaf.x509_hash() == self.identifier() {
                    Ok(())
                } else {
                    Err(ClientIdError::HashMismatch)
                }
            }
            ClientIdPrefix::RedirectUri | ClientIdPrefix::Origin => {
                Err(ClientIdError::MustNotBeSigned(self.prefix))
            }
            other => Err(ClientIdError::NotImplemented(other)),
        }
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

/// base64url SHA-256 of a DER certificate: the `x509_hash` identifier (§5.9.3).
pub fn x509_hash(certificate_der: &[u8]) -> String {
    jose::b64::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        certificate_der,
    ))
}

fn check_redirect_uri(id: &str) -> Result<(), ClientIdError> {
    let url = url::Url::parse(id).map_err(|_| ClientIdError::InvalidRedirectUri)?;
    if !matches!(url.scheme(), "https" | "http") || url.fragment().is_some() || !url.has_host() {
        return Err(ClientIdError::InvalidRedirectUri);
    }
    Ok(())
}

fn is_sha256_b64url(s: &str) -> bool {
    jose::b64::decode(s).is_some_and(|b| b.len() == 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_prefix_and_keeps_the_full_identifier() {
        let c = ClientId::parse("x509_san_dns:client.example.org").unwrap();
        assert_eq!(c.prefix(), ClientIdPrefix::X509SanDns);
        assert_eq!(c.identifier(), "client.example.org");
        assert_eq!(c.as_str(), "x509_san_dns:client.example.org");

        let c = ClientId::parse("redirect_uri:https://client.example.org/cb").unwrap();
        assert_eq!(c.prefix(), ClientIdPrefix::RedirectUri);
        assert_eq!(c.identifier(), "https://client.example.org/cb");

        // The §5.9.3 example value.
        let c = ClientId::parse("x509_hash:Uvo3HtuIxuhC92rShpgqcT3YXwrqRxWEviRiA0OZszk").unwrap();
        assert_eq!(c.prefix(), ClientIdPrefix::X509Hash);

        let c = ClientId::parse("example-client").unwrap();
        assert_eq!(c.prefix(), ClientIdPrefix::PreRegistered);
        assert_eq!(c.identifier(), "example-client");

        let c = ClientId::parse("decentralized_identifier:did:example:123").unwrap();
        assert_eq!(c.identifier(), "did:example:123");
    }

    #[test]
    fn rejects_unknown_reserved_and_malformed_identifiers() {
        assert_eq!(
            ClientId::parse("https://verifier.example"),
            Err(ClientIdError::UnsupportedPrefix("https".into()))
        );
        assert_eq!(
            ClientId::parse("pre-registered:x"),
            Err(ClientIdError::UnsupportedPrefix("pre-registered".into()))
        );
        assert_eq!(
            ClientId::parse("origin:https://verifier.example"),
            Err(ClientIdError::ReservedPrefix)
        );
        assert_eq!(ClientId::parse(""), Err(ClientIdError::Empty));
        assert_eq!(
            ClientId::parse("x509_san_dns:"),
            Err(ClientIdError::EmptyIdentifier(ClientIdPrefix::X509SanDns))
        );
        assert_eq!(
            ClientId::parse("x509_san_dns:bad_host!"),
            Err(ClientIdError::InvalidDnsName)
        );
        assert_eq!(
            ClientId::parse("x509_hash:tooshort"),
            Err(ClientIdError::InvalidHash)
        );
        assert_eq!(
            ClientId::parse("redirect_uri:not a url"),
            Err(ClientIdError::InvalidRedirectUri)
        );
        assert_eq!(
            ClientId::parse("redirect_uri:https://a.example/cb#frag"),
            Err(ClientIdError::InvalidRedirectUri)
        );
    }

    #[test]
    fn redirect_uri_requests_are_unsigned_and_post_to_the_identifier() {
        let c = ClientId::redirect_uri("https://client.example.org/post").unwrap();
        assert_eq!(
            c.check_unsigned(Some("https://client.example.org/post"), None),
            Ok(())
        );
        assert_eq!(
            c.check_unsigned(Some("https://evil.example/post"), None),
            Err(ClientIdError::RedirectUriMismatch)
        );
        assert_eq!(
            c.check_unsigned(None, None),
            Err(ClientIdError::NoResponseUri)
        );
        let c = ClientId::x509_san_dns("client.example.org").unwrap();
        assert_eq!(
            c.check_unsigned(Some("https://client.example.org/post"), None),
            Err(ClientIdError::MustBeSigned(ClientIdPrefix::X509SanDns))
        );
        assert_eq!(
            ClientId::parse("pre").unwrap().check_unsigned(None, None),
            Ok(())
        );
    }

    #[test]
    fn x509_hash_is_base64url_sha256_of_the_der() {
        // SHA-256 of the empty string.
        assert_eq!(
            x509_hash(b""),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
        let c = ClientId::x509_hash_of(b"");
        assert_eq!(
            c.as_str(),
            "x509_hash:47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
        assert_eq!(ClientId::parse(c.as_str()).unwrap(), c);
    }

    #[test]
    fn dns_names() {
        assert!(jose::x5c::is_dns_name("localhost"));
        assert!(jose::x5c::is_dns_name("a-b.example.org"));
        assert!(!jose::x5c::is_dns_name("-a.example"));
        assert!(!jose::x5c::is_dns_name("a..b"));
        assert!(!jose::x5c::is_dns_name("a b"));
    }
}
