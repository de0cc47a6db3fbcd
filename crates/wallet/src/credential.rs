//! A credential the holder keeps: the SD-JWT VC exactly as issued, read back into what a
//! card shows (issuer, type, every claim, validity, status reference) and what matching
//! needs (the disclosable paths), plus the display labels the issuer published.

use jose::PublicJwk;
use oid4vp::dcql::{ClaimPath, HolderCredential};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use status_list::StatusClaim;

/// A stored credential could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HeldError {
    /// Not an SD-JWT.
    #[error("not an SD-JWT: {0}")]
    Parse(#[from] sd_jwt::ParseError),
    /// Its disclosures do not resolve.
    #[error("its disclosures do not resolve: {0}")]
    Disclosures(#[from] sd_jwt::PresentError),
    /// Not an SD-JWT VC.
    #[error("not an SD-JWT VC: {0}")]
    NotVc(#[from] oid4vp::sd_jwt_vc::SdJwtVcError),
}

/// A display label for a claim (from the issuer's metadata).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimLabel {
    /// The claim's path of names.
    pub path: Vec<String>,
    /// Its label.
    pub label: String,
}

/// How the issuer wants the credential shown.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Display {
    /// Credential name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Background colour (CSS).
    pub background_color: Option<String>,
    /// Text colour (CSS).
    pub text_color: Option<String>,
    /// Issuer name.
    pub issuer_name: Option<String>,
    /// Claim labels.
    pub claims: Vec<ClaimLabel>,
}

/// A held SD-JWT VC, read.
#[derive(Clone, Debug)]
pub struct HeldCredential {
    /// The SD-JWT as issued (`<JWT>~<D>~…~`).
    pub compact: String,
    /// `iss`.
    pub issuer: Option<String>,
    /// `vct`.
    pub vct: String,
    /// Every claim with all disclosures applied (`_sd`, `_sd_alg` removed).
    pub claims: Map<String, Value>,
    /// `iat`.
    pub issued_at: Option<i64>,
    /// `exp`.
    pub expires_at: Option<i64>,
    /// The status list reference, when the credential has one.
    pub status: Option<StatusClaim>,
    /// `cnf.jwk`.
    pub holder_key: Option<PublicJwk>,
    /// What DCQL matching sees.
    pub matching: HolderCredential,
}

impl HeldCredential {
    /// Reads a stored SD-JWT VC (no signature check: it was verified on receipt).
    pub fn parse(compact: &str) -> Result<Self, HeldError> {
        let sd = sd_jwt::SdJwt::parse(compact, &sd_jwt::Limits::DEFAULT)?;
        let presenter = sd.presenter()?;
        let matching = oid4vp::sd_jwt_vc::holder_credential(&presenter)?;
        let claims = presenter.all_claims().clone();
        let vct = claims
            .get("vct")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let holder_key = claims
            .get("cnf")
            .and_then(|c| c.get("jwk"))
            .and_then(|j| PublicJwk::from_value(j).ok());
        Ok(HeldCredential {
            compact: compact.to_owned(),
            issuer: claims.get("iss").and_then(Value::as_str).map(str::to_owned),
            vct,
            issued_at: claims.get("iat").and_then(Value::as_i64),
            expires_at: claims.get("exp").and_then(Value::as_i64),
            status: StatusClaim::from_claims(&claims).ok(),
            holder_key,
            claims,
            matching,
        })
    }

    /// The claims a holder may choose to disclose (selectively disclosable paths).
    pub fn disclosable(&self) -> &[ClaimPath] {
        &self.matching.selectively_disclosable
    }

    /// The subject claims (everything but the technical members), for a card.
    pub fn subject_claims(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.claims.iter().filter(|(k, _)| !is_technical(k))
    }

    /// Whether `exp` has passed at `now`.
    pub fn expired_at(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|exp| exp <= now)
    }
}

/// Members of an SD-JWT VC that describe the credential rather than its subject.
pub fn is_technical(name: &str) -> bool {
    matches!(
        name,
        "iss" | "vct" | "vct#integrity" | "iat" | "nbf" | "exp" | "cnf" | "status" | "sub"
    )
}
