//! `x5c` certificate chains (RFC 7515 §4.1.6) validated against configured trust anchors
//! (RFC 5280 §6, the parts a JOSE signer's chain needs), and JWS verification with the
//! leaf certificate's key, as OpenID4VP `x509_san_dns`/`x509_hash` client identifiers and
//! SD-JWT VC issuer certificates use them.
//!
//! The chain is leaf first, as `x5c` carries it. Each certificate must be within its
//! validity period at the given time and be signed by the next one (ECDSA P-256/P-384 with
//! SHA-256/384, Ed25519, RSA PKCS#1 v1.5 or PSS with SHA-256/384/512); every issuer must
//! be a CA (`basicConstraints` cA, `keyCertSign` when `keyUsage` is present, `pathLen`
//! honoured); the leaf must allow `digitalSignature` when `keyUsage` is present; the walk
//! must reach a trust anchor, included in the chain or not (its validity and CA
//! constraints are checked too); unknown critical extensions are refused. Name
//! constraints and certificate policies are not implemented, so a chain that marks them
//! critical is refused. Revocation is not checked here.

mod chain;
mod sig;

use crate::error::Error;
use crate::jwk::{JwkError, PublicJwk};
use crate::jws::{CompactJws, JwsPolicy, VerifiedJws};
use crate::sign::VerifyingKey;

/// Longest chain accepted, trust anchor included when it is part of the chain.
pub const MAX_CHAIN_LEN: usize = 10;

/// Why a chain, a trust anchor set or an `x5c` JWS was refused.
///
/// `index` is a position in the chain, leaf = 0; a trust anchor that is not part of the
/// chain is reported at `index` = chain length.
#[derive(Debug, thiserror::Error)]
pub enum X5cError {
    /// The chain has no certificate.
    #[error("x5c chain is empty")]
    EmptyChain,
    /// The chain is longer than [`MAX_CHAIN_LEN`].
    #[error("x5c chain has {len} certificates, at most {max} are accepted")]
    ChainTooLong {
        /// Certificates in the chain.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A certificate is not one DER X.509 certificate (or has trailing bytes).
    #[error("certificate {index} is not a DER X.509 certificate")]
    Malformed {
        /// Position.
        index: usize,
    },
    /// PEM text holds no certificate, a block other than `CERTIFICATE`, or bad base64.
    #[error("PEM trust anchors are invalid: {0}")]
    Pem(crate::pem::PemError),
    /// No trust anchor was given.
    #[error("no trust anchors configured")]
    NoAnchors,
    /// `signatureAlgorithm` differs from the signed `signature` field (RFC 5280 §4.1.1.2).
    #[error("certificate {index}: signatureAlgorithm differs from tbsCertificate.signature")]
    SignatureAlgorithmMismatch {
        /// Position.
        index: usize,
    },
    /// The certificate is signed with an algorithm this validator does not implement.
    #[error("certificate {index}: unsupported signature algorithm {oid}")]
    UnsupportedSignatureAlgorithm {
        /// Position.
        index: usize,
        /// The algorithm OID.
        oid: String,
    },
    /// The signature algorithm's parameters are not the encoding its RFC requires (or a
    /// PSS parameter set other than MGF1 with the same hash and a digest-length salt).
    #[error("certificate {index}: malformed signature algorithm parameters")]
    MalformedSignatureAlgorithm {
        /// Position.
        index: usize,
    },
    /// The issuer's key cannot produce this certificate's signature algorithm.
    #[error("certificate {index}: issuer key does not fit the signature algorithm")]
    IssuerKeyMismatch {
        /// Position of the signed certificate.
        index: usize,
    },
    /// The signature does not verify with the issuer's key.
    #[error("certificate {index}: signature does not verify with the issuer's key")]
    InvalidSignature {
        /// Position of the signed certificate.
        index: usize,
    },
    /// The certificate's issuer name is not the next certificate's subject.
    #[error("certificate {index}: issuer is not the subject of the next certificate")]
    IssuerMismatch {
        /// Position.
        index: usize,
    },
    /// The validity period ended before the check time.
    #[error("certificate {index} expired at {not_after} (now {now})")]
    Expired {
        /// Position.
        index: usize,
        /// `notAfter`, Unix time.
        not_after: i64,
        /// The check time.
        now: i64,
    },
    /// The validity period starts after the check time.
    #[error("certificate {index} is not valid before {not_before} (now {now})")]
    NotYetValid {
        /// Position.
        index: usize,
        /// `notBefore`, Unix time.
        not_before: i64,
        /// The check time.
        now: i64,
    },
    /// An issuer is not a CA (`basicConstraints` absent or cA false).
    #[error("certificate {index} issues certificates but is not a CA")]
    NotCa {
        /// Position.
        index: usize,
    },
    /// An issuer's `keyUsage` lacks `keyCertSign`.
    #[error("certificate {index} issues certificates but keyUsage lacks keyCertSign")]
    MissingKeyCertSign {
        /// Position.
        index: usize,
    },
    /// More CA certificates follow an issuer than its `pathLenConstraint` allows.
    #[error("certificate {index}: pathLenConstraint {path_len} exceeded")]
    PathLenExceeded {
        /// Position.
        index: usize,
        /// The constraint.
        path_len: u32,
    },
    /// The leaf's `keyUsage` lacks `digitalSignature`.
    #[error("leaf certificate keyUsage lacks digitalSignature")]
    LeafMissingDigitalSignature,
    /// A critical extension this validator does not process (RFC 5280 §4.2).
    #[error("certificate {index}: unknown critical extension {oid}")]
    UnknownCriticalExtension {
        /// Position.
        index: usize,
        /// The extension OID.
        oid: String,
    },
    /// An extension this validator processes does not parse.
    #[error("certificate {index}: extension {oid} is malformed")]
    MalformedExtension {
        /// Position.
        index: usize,
        /// The extension OID.
        oid: String,
    },
    /// An extension appears twice (RFC 5280 §4.2).
    #[error("certificate {index}: extension {oid} appears more than once")]
    DuplicateExtension {
        /// Position.
        index: usize,
        /// The extension OID.
        oid: String,
    },
    /// The chain does not lead to any configured trust anchor.
    #[error("x5c chain does not lead to a trusted anchor")]
    UntrustedChain,
    /// The leaf key is not EC P-256/P-384 or Ed25519.
    #[error("leaf certificate key is not usable for JOSE: {0}")]
    UnsupportedLeafKey(String),
    /// The leaf key is of a supported type but invalid (or its JWK is refused).
    #[error("leaf certificate key is invalid: {0}")]
    InvalidLeafKey(JwkError),
    /// The JWS header has no `x5c`.
    #[error("JWS header has no x5c")]
    MissingX5c,
    /// The JWS header also carries a `jwk` that is not the leaf certificate's key.
    #[error("JWS header jwk is not the x5c leaf key")]
    HeaderKeyMismatch,
    /// The JWS itself was refused (policy or signature).
    #[error("JWS with x5c refused: {0}")]
    Jws(#[source] Error),
}

/// Certificates trusted as the end of a chain (root or intermediate CAs, or a pinned
/// leaf). Each is kept as DER; a chain certificate equal to one of them, or issued by one
/// (name and signature), ends the walk.
#[derive(Clone, Debug)]
pub struct TrustAnchors {
    anchors: Vec<Anchor>,
}

#[derive(Clone, Debug)]
struct Anchor {
    der: Vec<u8>,
    subject: Vec<u8>,
}

impl TrustAnchors {
    /// Builds a set from DER certificates (each must parse, with no trailing bytes).
    pub fn from_der<I>(certs: I) -> Result<Self, X5cError>
    where
        I: IntoIterator,
        I::Item: Into<Vec<u8>>,
    {
        let mut anchors = Vec::new();
        for (index, der) in certs.into_iter().enumerate() {
            let der: Vec<u8> = der.into();
            let subject = chain::parse(&der, index)?.x509.subject().as_raw().to_vec();
            anchors.push(Anchor { der, subject });
        }
        if anchors.is_empty() {
            return Err(X5cError::NoAnchors);
        }
        Ok(TrustAnchors { anchors })
    }

    /// Builds a set from PEM text holding one or more `CERTIFICATE` blocks (RFC 7468).
    /// Text outside blocks is ignored; any other block type is refused.
    pub fn from_pem(pem: &str) -> Result<Self, X5cError> {
        Self::from_der(crate::pem::only_certificates(pem).map_err(X5cError::Pem)?)
    }

    /// Number of anchors.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// Always false: an empty set cannot be built.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    fn contains(&self, der: &[u8]) -> bool {
        self.anchors.iter().any(|a| a.der == der)
    }

    fn issuers_of<'a>(&'a self, issuer_name: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.anchors
            .iter()
            .filter(move |a| a.subject == issuer_name)
            .map(|a| a.der.as_slice())
    }
}

/// What a validated chain says about its leaf.
#[derive(Clone, Debug)]
pub struct LeafInfo {
    public_key: PublicJwk,
    dns_sans: Vec<String>,
    uri_sans: Vec<String>,
    subject: String,
    x509_hash: String,
    der: Vec<u8>,
}

impl LeafInfo {
    /// The leaf's public key (EC P-256/P-384 or Ed25519).
    pub fn public_jwk(&self) -> &PublicJwk {
        &self.public_key
    }
    /// `dNSName` subject alternative names, in certificate order.
    pub fn dns_sans(&self) -> &[String] {
        &self.dns_sans
    }
    /// `uniformResourceIdentifier` subject alternative names, in certificate order.
    pub fn uri_sans(&self) -> &[String] {
        &self.uri_sans
    }
    /// The subject distinguished name in RFC 4514 form (e.g. `CN=verifier, O=Example`).
    pub fn subject(&self) -> &str {
        &self.subject
    }
    /// base64url SHA-256 of the leaf DER: the OpenID4VP `x509_hash` client identifier.
    pub fn x509_hash(&self) -> &str {
        &self.x509_hash
    }
    /// The leaf certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
}

/// A DNS name as a `dNSName` SAN holds it: dot-separated labels of letters, digits and
/// inner hyphens, 1–63 bytes each, 253 bytes at most (RFC 1123, RFC 5280 §4.2.1.6).
pub fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Validates `chain` (DER, leaf first, as from [`Header::x5c`](crate::Header::x5c)) against
/// `anchors` at Unix time `now`, returning what the leaf certifies.
pub fn validate_chain(
    chain: &[Vec<u8>],
    anchors: &TrustAnchors,
    now: i64,
) -> Result<LeafInfo, X5cError> {
    chain::validate(chain, anchors, now)
}

/// Verifies a JWS whose header carries `x5c`: the header policy first, then the chain at
/// `now`, then the signature with the leaf certificate's key. A `jwk` header, if also
/// present, must be that same key.
pub fn verify_jws(
    jws: CompactJws,
    anchors: &TrustAnchors,
    now: i64,
    policy: &JwsPolicy<'_>,
) -> Result<(VerifiedJws, LeafInfo), X5cError> {
    jws.header().check(policy).map_err(X5cError::Jws)?;
    let chain = jws.header().x5c().ok_or(X5cError::MissingX5c)?;
    let leaf = validate_chain(chain, anchors, now)?;
    if let Some(jwk) = jws.header().jwk()
        && !jwk.same_key(leaf.public_jwk())
    {
        return Err(X5cError::HeaderKeyMismatch);
    }
    let key = VerifyingKey::from_jwk(leaf.public_jwk()).map_err(X5cError::InvalidLeafKey)?;
    let verified = jws.verify(&key, policy).map_err(X5cError::Jws)?;
    Ok((verified, leaf))
}
