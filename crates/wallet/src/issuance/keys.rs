//! The issuer's signing keys and the check of every credential received: the signature
//! (through the issuer's JWT VC Issuer Metadata, or an `x5c` chain to the configured
//! anchors), the SD-JWT VC rules, `iss` and `vct` as offered, `cnf` = a holder key the
//! proofs were signed with, not expired.

use std::sync::Arc;

use jose::{PublicJwk, VerifyingKey};
use sd_jwt::{KeyBinding, KeyResolver, Limits, SdJwt};
use serde_json::Value;

use crate::Wallet;
use crate::credential::HeldCredential;
use crate::error::{CredentialCheck, PeerError};
use crate::net::{Outgoing, json_object};

const JSON: &str = "application/json";

fn malformed(detail: &str) -> PeerError {
    PeerError::Malformed {
        what: "JWT VC Issuer Metadata",
        detail: detail.to_owned(),
    }
}

impl Wallet {
    /// The public keys the issuer `iss` publishes in its JWT VC Issuer Metadata (SD-JWT VC
    /// §3, with path insertion); keys of unusable types are skipped.
    pub async fn issuer_keys(&self, iss: &str) -> Result<Vec<PublicJwk>, PeerError> {
        let url = oid4vci::well_known_url(iss, oid4vci::metadata::JWT_VC_ISSUER_WELL_KNOWN)
            .map_err(|_| malformed("the issuer identifier is not a URL"))?;
        let doc = self
            .net
            .send_ok(Outgoing::get("JWT VC Issuer Metadata", &url, JSON))
            .await?;
        let doc = json_object("JWT VC Issuer Metadata", &doc)?;
        if doc.get("issuer").and_then(Value::as_str) != Some(iss) {
            return Err(malformed("`issuer` is not the credential issuer"));
        }
        let set = match (doc.get("jwks"), doc.get("jwks_uri")) {
            (Some(Value::Object(set)), None) => set.clone(),
            (None, Some(Value::String(uri))) => {
                let fetched = self
                    .net
                    .send_ok(Outgoing::get("issuer JWK Set", uri, JSON))
                    .await?;
                json_object("issuer JWK Set", &fetched)?
            }
            _ => {
                return Err(malformed(
                    "exactly one of `jwks` and `jwks_uri` is required",
                ));
            }
        };
        let keys = set
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("the JWK Set has no `keys`"))?;
        Ok(keys
            .iter()
            .filter_map(|k| PublicJwk::from_value(k).ok())
            .collect())
    }

    /// Verifies a credential received from `issuer` for configuration `vct`, bound to
    /// one of `holders`. `keys` caches the issuer's keys across a batch.
    pub(crate) async fn verify_received(
        &self,
        text: &str,
        issuer: &str,
        vct: &str,
        holders: &[PublicJwk],
        keys: &mut Option<Vec<PublicJwk>>,
    ) -> Result<HeldCredential, CredentialCheck> {
        let sd = SdJwt::parse_issued(text, &Limits::DEFAULT)
            .map_err(|e| CredentialCheck::Invalid(sd_jwt::VcError::from(e)))?;
        let by_chain = self.settings.issuer_anchors.is_some() && sd.issuer_header().x5c().is_some();
        if !by_chain && keys.is_none() {
            let fetched = self
                .issuer_keys(issuer)
                .await
                .map_err(|e| CredentialCheck::KeysUnavailable(Box::new(e)))?;
            *keys = Some(fetched);
        }
        verify_issued(
            text,
            &Expected {
                issuer,
                vct,
                holders,
                issuer_keys: keys.as_deref().unwrap_or_default(),
            },
            &self.settings,
            self.now(),
            self.clock.as_ref(),
        )
    }
}

/// What a received credential must be.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// The credential issuer identifier (`iss`).
    pub issuer: &'a str,
    /// The offered configuration's `vct`.
    pub vct: &'a str,
    /// The holder keys the proofs were signed with (`cnf.jwk` is one of them).
    pub holders: &'a [PublicJwk],
    /// The issuer's published keys (JWT VC Issuer Metadata); unused for a credential
    /// signed with an `x5c` chain when `settings.issuer_anchors` are set.
    pub issuer_keys: &'a [PublicJwk],
}

/// Verifies a received credential against `expected` with no network: signature (the
/// issuer's keys, or an `x5c` chain to the configured anchors), the SD-JWT VC rules,
/// `iss`, `vct`, `cnf` = a holder key, not expired at `now`. This is the check a client
/// of the wallet engine runs on the credentials it decrypts.
pub fn verify_issued(
    text: &str,
    expected: &Expected<'_>,
    settings: &crate::Settings,
    now: i64,
    clock: &dyn jose::Clock,
) -> Result<HeldCredential, CredentialCheck> {
    let sd = SdJwt::parse_issued(text, &Limits::DEFAULT)
        .map_err(|e| CredentialCheck::Invalid(sd_jwt::VcError::from(e)))?;
    let resolver = match (&settings.issuer_anchors, sd.issuer_header().x5c()) {
        (Some(anchors), Some(_)) => KeyResolver::new().with_x5c(Arc::new(anchors.clone())),
        _ => {
            let mut resolver = KeyResolver::new();
            let mut any = false;
            for jwk in expected.issuer_keys {
                if let Ok(k) = VerifyingKey::from_jwk(jwk) {
                    resolver = resolver.with_key(k);
                    any = true;
                }
            }
            if !any {
                return Err(CredentialCheck::IssuerKeys("no usable signing key"));
            }
            resolver
        }
    };
    let verified = sd_jwt::vc::VcVerifier::new(resolver, &settings.algorithms)
        .with_skew(settings.skew)
        .verify(text, KeyBinding::Forbidden, clock)
        .map_err(CredentialCheck::Invalid)?;
    if verified.issuer() != Some(expected.issuer) {
        return Err(CredentialCheck::WrongIssuer {
            expected: expected.issuer.to_owned(),
            found: verified.issuer().map(str::to_owned),
        });
    }
    if verified.vct() != expected.vct {
        return Err(CredentialCheck::WrongVct {
            expected: expected.vct.to_owned(),
            found: verified.vct().to_owned(),
        });
    }
    let cnf = verified
        .claims()
        .get("cnf")
        .and_then(|c| c.get("jwk"))
        .and_then(|j| PublicJwk::from_value(j).ok())
        .ok_or(CredentialCheck::NotHolderBound)?;
    if !expected.holders.iter().any(|h| h.same_key(&cnf)) {
        return Err(CredentialCheck::BoundToAnotherKey);
    }
    let held = HeldCredential::parse(text).map_err(|_| CredentialCheck::NotSdJwtVc)?;
    if held.expired_at(now) {
        return Err(CredentialCheck::Expired);
    }
    Ok(held)
}
