//! Receiving credentials (OpenID4VCI 1.0, pre-authorized code flow).
//!
//! 1. [`Wallet::resolve_offer`]: the offer URI (`openid-credential-offer://` or `https://`,
//!    by value or by `credential_offer_uri`), the issuer's metadata (signed metadata is
//!    preferred and verified with the issuer's published keys; path insertion for both
//!    well-known documents), the authorization server's metadata, the trust hook;
//! 2. [`Wallet::accept`] (in [`flow`]): a client attestation for this instance's CI-Key,
//!    `/token` with `OAuth-Client-Attestation` + PoP (answering
//!    `use_attestation_challenge` and `use_fresh_attestation` once), `tx_code`, `c_nonce`
//!    from `/nonce`, one proof JWT per holder key (batch), the credential request
//!    (encrypted, with an encrypted response, when the issuer supports it), and every
//!    credential verified (module `keys`); a refused credential is reported to the issuer with
//!    `credential_failure`;
//! 3. [`Wallet::notify`]: `credential_accepted` once stored, `credential_deleted`.

pub mod flow;
mod keys;

pub use keys::{Expected, verify_issued};

use oid4vci::{
    AuthorizationServerMetadata, CredentialConfiguration, CredentialIssuerMetadata,
    CredentialOffer, OfferReference, OfferUri, OfferUriOptions, TxCode,
};

use crate::Wallet;
use crate::credential::{ClaimLabel, Display};
use crate::error::{IssuanceError, PeerError};
use crate::net::{Outgoing, json_object};

pub use flow::{
    CredentialReply, Grant, Issued, NotificationHandle, Received, ResponseEncryptionSupport,
    ResponseKey, decrypt_reply,
};

const JSON: &str = "application/json";

/// An offer with everything needed to decide on it and to accept it.
#[derive(Clone, Debug)]
pub struct PendingOffer {
    /// The offer.
    pub offer: CredentialOffer,
    /// The issuer's metadata.
    pub metadata: CredentialIssuerMetadata,
    /// Whether the metadata came signed (and verified).
    pub signed_metadata: bool,
    /// The authorization server's metadata.
    pub authorization_server: AuthorizationServerMetadata,
    /// The keys of the issuer's JWT VC Issuer Metadata, when they were fetched to verify
    /// signed metadata: the credentials are checked against the same keys, not fetched
    /// again.
    pub issuer_keys: Option<Vec<jose::PublicJwk>>,
}

impl PendingOffer {
    /// The credential issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.offer.credential_issuer
    }

    /// The transaction code the holder must enter, if the offer asks for one.
    pub fn tx_code(&self) -> Option<&TxCode> {
        self.offer
            .pre_authorized_code
            .as_ref()
            .and_then(|g| g.tx_code.as_ref())
    }

    /// The offered configurations, as the metadata describes them.
    pub fn configurations(&self) -> Vec<(&str, Option<&CredentialConfiguration>)> {
        self.offer
            .credential_configuration_ids
            .iter()
            .map(|id| {
                (
                    id.as_str(),
                    self.metadata.credential_configurations_supported.get(id),
                )
            })
            .collect()
    }

    /// How the issuer wants configuration `id` shown (English labels preferred).
    pub fn display(&self, id: &str) -> Display {
        display_of(
            self.issuer_name(),
            self.metadata.credential_configurations_supported.get(id),
        )
    }

    /// The issuer's display name (the first one it publishes).
    pub fn issuer_name(&self) -> Option<String> {
        self.metadata
            .display
            .iter()
            .flatten()
            .find_map(|d| d.name.clone())
    }
}

/// How an issuer named `issuer_name` wants a credential of configuration `c` shown
/// (English labels preferred).
pub fn display_of(issuer_name: Option<String>, c: Option<&CredentialConfiguration>) -> Display {
    let Some(c) = c else {
        return Display {
            issuer_name,
            ..Display::default()
        };
    };
    let meta = c.credential_metadata.as_ref();
    let shown = meta.and_then(|m| m.display.as_ref()).and_then(|list| {
        list.iter()
            .find(|d| d.locale.as_deref().is_some_and(|l| l.starts_with("en")))
            .or_else(|| list.first())
    });
    let claims = meta
        .and_then(|m| m.claims.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|claim| {
            let path: Option<Vec<String>> = claim
                .path
                .iter()
                .map(|p| p.as_str().map(str::to_owned))
                .collect();
            let displays = claim.display.as_ref()?;
            let label = displays
                .iter()
                .find(|d| d.locale.as_deref().is_some_and(|l| l.starts_with("en")))
                .or_else(|| displays.first())
                .and_then(|d| d.name.clone())?;
            Some(ClaimLabel { path: path?, label })
        })
        .collect();
    Display {
        name: shown.map(|d| d.name.clone()),
        description: shown.and_then(|d| d.description.clone()),
        background_color: shown.and_then(|d| d.background_color.clone()),
        text_color: shown.and_then(|d| d.text_color.clone()),
        issuer_name,
        claims,
    }
}

impl Wallet {
    /// Reads an offer URI, fetches the offer (when by reference) and the metadata, and
    /// applies the trust configuration. Nothing is sent to the token endpoint yet.
    pub async fn resolve_offer(&self, uri: &str) -> Result<PendingOffer, IssuanceError> {
        let offer = self.read_offer(uri).await?;
        if !self.settings.issuers.accepts(&offer.credential_issuer) {
            return Err(IssuanceError::UntrustedIssuer(offer.credential_issuer));
        }
        self.offer_metadata(offer).await
    }

    /// Parses an offer URI (`openid-credential-offer://` or `https://`) and fetches the
    /// offer when it is by reference; checks that it has a pre-authorized code grant.
    pub async fn read_offer(&self, uri: &str) -> Result<CredentialOffer, IssuanceError> {
        let parsed = OfferUri::parse(
            uri.trim(),
            OfferUriOptions {
                allow_http_loopback: self.settings.allow_http_loopback,
            },
        )?;
        let offer = match parsed.offer {
            OfferReference::ByValue(o) => o,
            OfferReference::ByReference(location) => {
                let fetched = self
                    .net
                    .send_ok(Outgoing::get("credential offer location", &location, JSON))
                    .await?;
                CredentialOffer::from_json(&fetched.body)?
            }
        };
        if offer.pre_authorized_code.is_none() {
            return Err(IssuanceError::NoPreAuthorizedCode);
        }
        Ok(offer)
    }

    /// Fetches the issuer's and the authorization server's metadata for `offer` and
    /// checks that every offered configuration is one this wallet can hold. The trust
    /// decision is the caller's ([`Settings::issuers`](crate::Settings)).
    pub async fn offer_metadata(
        &self,
        offer: CredentialOffer,
    ) -> Result<PendingOffer, IssuanceError> {
        let (metadata, issuer_keys) = self.issuer_metadata(&offer.credential_issuer).await?;
        for id in &offer.credential_configuration_ids {
            let c = metadata
                .credential_configurations_supported
                .get(id)
                .ok_or_else(|| IssuanceError::UnknownConfiguration(id.clone()))?;
            if c.format != oid4vci::metadata::FORMAT_SD_JWT_VC {
                return Err(IssuanceError::UnsupportedFormat(c.format.clone()));
            }
        }
        let grant_as = offer
            .pre_authorized_code
            .as_ref()
            .and_then(|g| g.authorization_server.clone());
        let as_id = match (grant_as, &metadata.authorization_servers) {
            (Some(a), _) => a,
            (None, Some(list)) => list
                .first()
                .cloned()
                .unwrap_or_else(|| offer.credential_issuer.clone()),
            (None, None) => offer.credential_issuer.clone(),
        };
        let authorization_server = self.as_metadata(&as_id).await?;
        Ok(PendingOffer {
            offer,
            metadata,
            signed_metadata: issuer_keys.is_some(),
            authorization_server,
            issuer_keys,
        })
    }

    /// Credential Issuer Metadata: signed when the issuer serves it signed (verified with
    /// a key of its JWT VC Issuer Metadata, by `kid`; those keys are returned), else JSON.
    async fn issuer_metadata(
        &self,
        issuer: &str,
    ) -> Result<(CredentialIssuerMetadata, Option<Vec<jose::PublicJwk>>), IssuanceError> {
        let url = oid4vci::well_known_url(issuer, oid4vci::metadata::ISSUER_WELL_KNOWN)?;
        let accept = if self.settings.prefer_signed_metadata {
            "application/jwt, application/json;q=0.5"
        } else {
            JSON
        };
        let fetched = self
            .net
            .send_ok(Outgoing::get("credential issuer metadata", &url, accept))
            .await?;
        if fetched.content_type().as_deref() != Some("application/jwt") {
            return Ok((
                CredentialIssuerMetadata::from_json(&fetched.body, issuer)?,
                None,
            ));
        }
        let text = String::from_utf8_lossy(&fetched.body).into_owned();
        let kid = jose::CompactJws::parse(text.trim())
            .ok()
            .and_then(|j| j.header().kid().map(str::to_owned));
        let keys = self.issuer_keys(issuer).await?;
        let jwk = keys
            .iter()
            .find(|k| kid.is_some() && k.kid() == kid.as_deref())
            .ok_or_else(|| PeerError::Malformed {
                what: "credential issuer metadata",
                detail: "signed metadata names no key the issuer publishes".into(),
            })?;
        let key = jose::VerifyingKey::from_jwk(jwk).map_err(|e| PeerError::Malformed {
            what: "credential issuer metadata",
            detail: format!("unusable signing key: {e}"),
        })?;
        let metadata = CredentialIssuerMetadata::from_signed(
            text.trim(),
            &key,
            &self.settings.algorithms,
            issuer,
            self.clock.as_ref(),
        )?;
        Ok((metadata, Some(keys)))
    }

    async fn as_metadata(&self, id: &str) -> Result<AuthorizationServerMetadata, IssuanceError> {
        let url = oid4vci::well_known_url(id, oid4vci::metadata::AS_WELL_KNOWN)?;
        let fetched = self
            .net
            .send_ok(Outgoing::get("authorization server metadata", &url, JSON))
            .await?;
        // Checked as an object first so a non-JSON answer is named as such.
        json_object("authorization server metadata", &fetched)?;
        Ok(AuthorizationServerMetadata::from_json(&fetched.body, id)?)
    }
}
