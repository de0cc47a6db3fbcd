//! SD-JWT VC (draft-ietf-oauth-sd-jwt-vc-18) on top of RFC 9901: `typ` `dc+sd-jwt`
//! (§2.2.1; the legacy `vc+sd-jwt` only when the caller allows it), the claims of §2.2.2
//! (`vct` required; `iss`, `vct#integrity`, `aka_vcts`, `cnf`, `status` typed when present;
//! `iat`/`nbf`/`exp` checked against the clock), the claims that MUST NOT be selectively
//! disclosable (§2.2.2.3: `iss`, `nbf`, `exp`, `cnf`, `vct`, `vct#integrity`, `aka_vcts`,
//! `status`) refused both at issuance and when they arrive through a Disclosure, and the
//! Issuer key found by a permitted mechanism (§2.5, see [`resolve`](crate::resolve)).
//!
//! Type Metadata (§4) is not processed here.

use crate::compact::SdJwt;
use crate::error::VcError;
use crate::issue::{Frame, IssueOptions, Issued, issue as issue_sd_jwt};
use crate::limits::Limits;
use crate::path::ClaimPath;
use crate::resolve::{Fetcher, KeyResolver, KeySource, Resolved};
use crate::salt::SaltSource;
use crate::verify::{KeyBinding, Verified, VerifyOptions};
use jose::jwt::Clock;
use jose::{Algorithm, Header, PublicJwk, Signer};
use serde_json::{Map, Value};
use status_list::StatusClaim;

/// `typ` of an SD-JWT VC (§2.2.1).
pub const TYP: &str = "dc+sd-jwt";
/// The `typ` used until November 2024, accepted only when the verifier allows it.
pub const LEGACY_TYP: &str = "vc+sd-jwt";
/// Media type (§2.1).
pub const MEDIA_TYPE: &str = "application/dc+sd-jwt";
/// Claims that MUST NOT be selectively disclosable (§2.2.2.3).
pub const NON_DISCLOSABLE: [&str; 8] = [
    "iss",
    "nbf",
    "exp",
    "cnf",
    "vct",
    "vct#integrity",
    "aka_vcts",
    "status",
];

fn non_disclosable(path: &ClaimPath) -> Option<&str> {
    path.first_name().filter(|n| NON_DISCLOSABLE.contains(n))
}

/// The typed SD-JWT VC claims, checked on a claims set (issuance input or processed
/// payload).
struct VcClaims {
    status: Option<StatusClaim>,
}

fn optional_string<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, VcError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(VcError::ClaimWrongType(name)),
    }
}

fn str_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// `cnf_checked`: `cnf.jwk` already verified a KB-JWT, so it is known to be a valid key.
fn check_claims(
    claims: &Map<String, Value>,
    require_cnf: bool,
    cnf_checked: bool,
) -> Result<VcClaims, VcError> {
    let vct = optional_string(claims, "vct")?.ok_or(VcError::ClaimMissing("vct"))?;
    optional_string(claims, "iss")?;
    optional_string(claims, "vct#integrity")?;
    if let Some(aka) = claims.get("aka_vcts") {
        let ok = aka.as_array().is_some_and(|a| {
            !a.is_empty() && a.iter().all(|v| v.as_str().is_some_and(|s| s != vct))
        });
        if !ok {
            return Err(VcError::ClaimWrongType("aka_vcts"));
        }
    }
    match claims.get("cnf") {
        None if require_cnf => return Err(VcError::ClaimMissing("cnf")),
        None => {}
        Some(Value::Object(cnf)) => {
            if let Some(jwk) = cnf.get("jwk") {
                if !cnf_checked {
                    PublicJwk::from_value(jwk).map_err(|_| VcError::ClaimWrongType("cnf"))?;
                }
            } else if require_cnf {
                return Err(VcError::ClaimWrongType("cnf"));
            }
        }
        Some(_) => return Err(VcError::ClaimWrongType("cnf")),
    }
    let status = match claims.get("status") {
        None => None,
        Some(Value::Object(o)) if !o.contains_key("status_list") => None,
        Some(v) => Some(StatusClaim::from_status_value(v).map_err(VcError::Status)?),
    };
    for name in ["iat", "nbf", "exp"] {
        if claims.get(name).is_some_and(|v| !v.is_number()) {
            return Err(VcError::ClaimWrongType(name));
        }
    }
    Ok(VcClaims { status })
}

/// Issues an SD-JWT VC: checks the claims (`vct` required, typed optional claims, `cnf`
/// holding a valid `jwk` when present) and that the frame makes none of the
/// [`NON_DISCLOSABLE`] claims (or anything inside them) disclosable, then issues with
/// `typ` `dc+sd-jwt`.
pub fn issue(
    claims: Map<String, Value>,
    frame: &Frame,
    signer: &dyn Signer,
    salts: &dyn SaltSource,
    x5c: Option<&[Vec<u8>]>,
) -> Result<Issued, VcError> {
    if let Some(name) = frame.paths().iter().find_map(non_disclosable) {
        return Err(VcError::NonDisclosableClaim(name.to_owned()));
    }
    check_claims(&claims, false, false)?;
    let options = IssueOptions {
        typ: Some(TYP),
        x5c,
    };
    Ok(issue_sd_jwt(claims, frame, signer, salts, &options)?)
}

/// A verified SD-JWT VC.
#[derive(Clone, Debug)]
pub struct VerifiedVc {
    /// Its claims were checked to hold a string `vct` and, when present, a string `iss`.
    inner: Verified,
    status: Option<StatusClaim>,
    key_source: KeySource,
}

impl VerifiedVc {
    /// The processed payload.
    pub fn claims(&self) -> &Map<String, Value> {
        self.inner.claims()
    }
    /// `vct`.
    pub fn vct(&self) -> &str {
        str_claim(self.inner.claims(), "vct").unwrap_or_default()
    }
    /// `iss`, when present (with `x5c` the Issuer may instead be the leaf's subject, see
    /// [`key_source`](Self::key_source)).
    pub fn issuer(&self) -> Option<&str> {
        str_claim(self.inner.claims(), "iss")
    }
    /// `status.status_list`, when the credential uses a Token Status List.
    pub fn status(&self) -> Option<&StatusClaim> {
        self.status.as_ref()
    }
    /// How the Issuer key was found.
    pub fn key_source(&self) -> &KeySource {
        &self.key_source
    }
    /// The Issuer-signed JWT header.
    pub fn header(&self) -> &Header {
        self.inner.header()
    }
    /// The RFC 9901 result: disclosed paths, key binding claims, holder key.
    pub fn sd_jwt(&self) -> &Verified {
        &self.inner
    }
    /// The RFC 9901 result, by value.
    pub fn into_sd_jwt(self) -> Verified {
        self.inner
    }
}

/// Verifies SD-JWT VCs with a fixed configuration (keys, algorithms, limits), built once.
#[derive(Clone, Debug)]
pub struct VcVerifier {
    resolver: KeyResolver,
    algorithms: Vec<Algorithm>,
    allow_legacy_typ: bool,
    skew: u64,
    require_exp: bool,
    limits: Limits,
}

const TYPS: &[&str] = &[TYP];
const TYPS_WITH_LEGACY: &[&str] = &[TYP, LEGACY_TYP];

impl VcVerifier {
    /// A verifier using the mechanisms of `resolver` and accepting `algorithms` for the
    /// Issuer-signed JWT; 60 s skew, `exp` optional, default limits, `dc+sd-jwt` only.
    pub fn new(resolver: KeyResolver, algorithms: &[Algorithm]) -> Self {
        VcVerifier {
            resolver,
            algorithms: algorithms.to_vec(),
            allow_legacy_typ: false,
            skew: 60,
            require_exp: false,
            limits: Limits::DEFAULT,
        }
    }
    /// Also accepts `typ` `vc+sd-jwt` (§2.2.1 transition).
    #[must_use]
    pub fn with_legacy_typ(mut self) -> Self {
        self.allow_legacy_typ = true;
        self
    }
    /// Sets the clock skew in seconds.
    #[must_use]
    pub fn with_skew(mut self, skew: u64) -> Self {
        self.skew = skew;
        self
    }
    /// Requires `exp`.
    #[must_use]
    pub fn requiring_exp(mut self) -> Self {
        self.require_exp = true;
        self
    }
    /// Sets the limits.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    fn typs(&self) -> &'static [&'static str] {
        if self.allow_legacy_typ {
            TYPS_WITH_LEGACY
        } else {
            TYPS
        }
    }

    fn parse(&self, text: &str, key_binding: &KeyBinding<'_>) -> Result<SdJwt, VcError> {
        let sd = SdJwt::parse(text, &self.limits)?;
        let typ = sd.issuer_header().typ();
        if !typ.is_some_and(|t| self.typs().contains(&t)) {
            return Err(VcError::WrongTyp(typ.map(str::to_owned)));
        }
        // `cnf` must be plaintext in the Issuer-signed JWT; its absence is a VC error, not
        // only a key binding one.
        if matches!(key_binding, KeyBinding::Required(_))
            && !sd.unverified_claims().contains_key("cnf")
        {
            return Err(VcError::ClaimMissing("cnf"));
        }
        Ok(sd)
    }

    fn finish(
        &self,
        sd: SdJwt,
        resolved: Resolved<'_>,
        key_binding: KeyBinding<'_>,
        clock: &dyn Clock,
    ) -> Result<VerifiedVc, VcError> {
        let require_cnf = matches!(key_binding, KeyBinding::Required(_));
        let mut options = VerifyOptions::new(&self.algorithms, key_binding, clock)
            .with_typ(self.typs())
            .with_skew(self.skew)
            .with_limits(self.limits);
        options.require_exp = self.require_exp;
        let verified = sd.verify(&resolved.key, &options)?;
        if let Some(name) = verified.disclosed().iter().find_map(non_disclosable) {
            return Err(VcError::NonDisclosableClaim(name.to_owned()));
        }
        let cnf_checked = verified.holder_key().is_some();
        let c = check_claims(verified.claims(), require_cnf, cnf_checked)?;
        Ok(VerifiedVc {
            inner: verified,
            status: c.status,
            key_source: resolved.source,
        })
    }

    /// Verifies with configured keys or `x5c` (synchronous; no retrieval).
    pub fn verify(
        &self,
        text: &str,
        key_binding: KeyBinding<'_>,
        clock: &dyn Clock,
    ) -> Result<VerifiedVc, VcError> {
        let sd = self.parse(text, &key_binding)?;
        let resolved =
            self.resolver
                .resolve_ref(sd.issuer_header(), sd.unverified_claims(), clock.now())?;
        self.finish(sd, resolved, key_binding, clock)
    }

    /// Verifies with every permitted mechanism, including JWT VC Issuer Metadata fetched
    /// through `fetcher`. A failed retrieval is reported as [`VcError::Resolve`] with
    /// [`ResolveError::Fetch`](crate::ResolveError::Fetch) ("could not check"; see
    /// [`VcError::is_unavailable`]).
    pub async fn verify_with<F: Fetcher>(
        &self,
        fetcher: &F,
        text: &str,
        key_binding: KeyBinding<'_>,
        clock: &dyn Clock,
    ) -> Result<VerifiedVc, VcError> {
        let sd = self.parse(text, &key_binding)?;
        let resolved = self
            .resolver
            .resolve_with_ref(
                fetcher,
                sd.issuer_header(),
                sd.unverified_claims(),
                clock.now(),
            )
            .await?;
        self.finish(sd, resolved, key_binding, clock)
    }
}
