//! What a wallet trusts and how it behaves: which issuers it accepts credentials from,
//! the trust anchors for verifiers' `x5c` chains (and issuers' `x5c` headers), the
//! verifiers' registrations (which claims each may ask for), and the issuance options.

use std::collections::BTreeMap;

use jose::{Algorithm, TrustAnchors};

/// Which issuers the wallet accepts credentials from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum IssuerTrust {
    /// Any issuer whose metadata and credentials verify (the user decides).
    #[default]
    Any,
    /// Only these credential issuer identifiers.
    Only(Vec<String>),
}

impl IssuerTrust {
    /// Whether `issuer` is accepted.
    pub fn accepts(&self, issuer: &str) -> bool {
        match self {
            IssuerTrust::Any => true,
            IssuerTrust::Only(list) => list.iter().any(|i| i == issuer),
        }
    }
}

/// The claims a verifier is registered to ask for, as claim name paths
/// (`["address", "locality"]`). A request for a claim under a registered path is
/// allowed; anything else is refused before the holder is asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registration {
    /// Allowed claim paths.
    pub claims: Vec<Vec<String>>,
}

/// The wallet's configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Issuer trust.
    pub issuers: IssuerTrust,
    /// Trust anchors for the `x5c` chains of signed request objects (`x509_san_dns`,
    /// `x509_hash`). Without any, receiving credentials works as usual and signed
    /// presentation requests are refused ([`crate::PresentationError::NoVerifierAnchors`]).
    pub verifier_anchors: Option<TrustAnchors>,
    /// Trust anchors for credentials whose header carries `x5c`; without them, the
    /// issuer's key comes from its JWT VC Issuer Metadata.
    pub issuer_anchors: Option<TrustAnchors>,
    /// Registered verifiers by full client identifier.
    pub registrations: BTreeMap<String, Registration>,
    /// Refuse verifiers without a registration.
    pub require_registration: bool,
    /// Signature algorithms accepted from issuers and verifiers.
    pub algorithms: Vec<Algorithm>,
    /// Clock tolerance, seconds.
    pub skew: u64,
    /// Ask for an encrypted credential response when the issuer supports it.
    pub encrypt_credential_response: bool,
    /// Prefer signed issuer metadata (`Accept: application/jwt`).
    pub prefer_signed_metadata: bool,
    /// `http://` identifiers and offer locations on loopback (tests, local demo).
    pub allow_http_loopback: bool,
}

impl Settings {
    /// Defaults: any issuer, no anchors, no registrations, ES256/ES384/EdDSA, 60 s skew,
    /// encrypted responses and signed metadata preferred, https only.
    pub fn new(verifier_anchors: TrustAnchors) -> Self {
        Settings {
            verifier_anchors: Some(verifier_anchors),
            ..Settings::without_verifier_anchors()
        }
    }

    /// The same defaults without verifier trust anchors: credentials can be received,
    /// and only unsigned (`redirect_uri`) presentation requests can be answered.
    pub fn without_verifier_anchors() -> Self {
        Settings {
            issuers: IssuerTrust::Any,
            verifier_anchors: None,
            issuer_anchors: None,
            registrations: BTreeMap::new(),
            require_registration: false,
            algorithms: Algorithm::ALL.to_vec(),
            skew: 60,
            encrypt_credential_response: true,
            prefer_signed_metadata: true,
            allow_http_loopback: false,
        }
    }
}
