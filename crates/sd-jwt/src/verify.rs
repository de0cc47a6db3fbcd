//! Verification of an SD-JWT or SD-JWT+KB (RFC 9901 §7.1 and §7.3) with a known Issuer key.
//!
//! The order is: limits and parsing ([`SdJwt::parse`]), the Issuer signature with the
//! caller's algorithm allow-list and `typ` (§7.1 step 2), `_sd_alg` and the Disclosures
//! (steps 2.d–5), the time claims and `aud` of the processed payload (step 6), and then the
//! key binding according to the caller's [`KeyBinding`] policy (§7.3). Only a [`Verified`]
//! hands out claims.
//!
//! Key resolution (configured keys, `x5c`, JWT VC Issuer Metadata) happens before, on the
//! unverified header and claims: see [`resolve`](crate::resolve).

use crate::compact::{Parts, SdJwt};
use crate::disclosure::Disclosure;
use crate::error::{KbError, VerifyError};
use crate::kb::{self, KbClaims};
use crate::limits::Limits;
use crate::path::ClaimPath;
use crate::process::{self, Values};
use jose::jwt::{Clock, TimeRules, check_time};
use jose::{Algorithm, Header, JwsPolicy, PublicJwk, VerifiedJws, VerifyingKey};
use serde_json::{Map, Value};

/// What a Verifier expects of the Key Binding JWT (RFC 9901 §7.3 step 5).
#[derive(Clone, Copy, Debug)]
pub struct KbExpectation<'a> {
    /// The `aud` the KB-JWT must carry (exactly, a single string).
    pub audience: &'a str,
    /// The `nonce` the KB-JWT must carry (exactly).
    pub nonce: &'a str,
    /// Accepted KB-JWT algorithms (the allow-list; there is no default).
    pub algorithms: &'a [Algorithm],
    /// Oldest accepted `iat`, in seconds before now (the clock skew is added).
    pub max_age: u64,
}

impl<'a> KbExpectation<'a> {
    /// Expects `audience` and `nonce`, accepts `algorithms`, and KB-JWTs at most 5 minutes
    /// old.
    pub fn new(audience: &'a str, nonce: &'a str, algorithms: &'a [Algorithm]) -> Self {
        KbExpectation {
            audience,
            nonce,
            algorithms,
            max_age: 300,
        }
    }
    /// Sets the oldest accepted `iat` age.
    #[must_use]
    pub fn with_max_age(mut self, seconds: u64) -> Self {
        self.max_age = seconds;
        self
    }
}

/// The Verifier's key binding policy, decided before looking at the presentation (RFC 9901
/// §7.3 step 1, §9.5): never inferred from whether a KB-JWT happens to be present.
#[derive(Clone, Copy, Debug)]
pub enum KeyBinding<'a> {
    /// A valid KB-JWT is required; a presentation without one is refused
    /// ([`KbError::KbJwtMissing`]).
    Required(KbExpectation<'a>),
    /// No KB-JWT may be present ([`KbError::KbJwtNotExpected`]); for Holders checking an
    /// issued SD-JWT and for use cases without holder binding.
    Forbidden,
    /// A KB-JWT is verified when present and not required otherwise. Only for use cases
    /// where an unbound presentation is acceptable anyway: it gives no binding guarantee.
    Optional(KbExpectation<'a>),
}

/// How an SD-JWT is verified. The Issuer algorithm allow-list and the key binding policy
/// have no defaults.
#[derive(Clone, Copy)]
pub struct VerifyOptions<'a> {
    /// Accepted algorithms of the Issuer-signed JWT.
    pub algorithms: &'a [Algorithm],
    /// Accepted `typ` values of the Issuer-signed JWT, compared exactly; empty: not checked.
    pub typ: &'a [&'a str],
    /// `crit` header names the caller processes.
    pub critical: &'a [&'a str],
    /// Key binding policy.
    pub key_binding: KeyBinding<'a>,
    /// The clock for `exp`/`nbf`/`iat` and the KB-JWT window.
    pub clock: &'a dyn Clock,
    /// Allowed clock difference in seconds.
    pub skew: u64,
    /// Whether the processed payload must have `exp`.
    pub require_exp: bool,
    /// The audience this Verifier answers to, if the SD-JWT may carry `aud`.
    pub audience: Option<&'a str>,
    /// Limits used when parsing from text and while processing.
    pub limits: Limits,
}

impl<'a> VerifyOptions<'a> {
    /// Options with `algorithms`, `key_binding` and `clock`; `typ` unchecked, 60 s skew,
    /// `exp` optional, no audience, default limits.
    pub fn new(
        algorithms: &'a [Algorithm],
        key_binding: KeyBinding<'a>,
        clock: &'a dyn Clock,
    ) -> Self {
        VerifyOptions {
            algorithms,
            typ: &[],
            critical: &[],
            key_binding,
            clock,
            skew: 60,
            require_exp: false,
            audience: None,
            limits: Limits::DEFAULT,
        }
    }
    /// Requires the Issuer-signed JWT `typ` to be one of `typ`.
    #[must_use]
    pub fn with_typ(mut self, typ: &'a [&'a str]) -> Self {
        self.typ = typ;
        self
    }
    /// Sets the clock skew.
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
    /// Sets the audience accepted in the SD-JWT's own `aud` claim.
    #[must_use]
    pub fn with_audience(mut self, audience: &'a str) -> Self {
        self.audience = Some(audience);
        self
    }
    /// Sets the limits.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    /// Sets the understood `crit` names.
    #[must_use]
    pub fn with_critical(mut self, critical: &'a [&'a str]) -> Self {
        self.critical = critical;
        self
    }
}

/// A verified SD-JWT: the only type that hands out the claims.
#[derive(Clone, Debug)]
pub struct Verified {
    jws: VerifiedJws,
    claims: Map<String, Value>,
    disclosed: Vec<ClaimPath>,
    key_binding: Option<KbClaims>,
    holder_key: Option<PublicJwk>,
}

impl Verified {
    /// The Issuer-signed JWT header.
    pub fn header(&self) -> &Header {
        self.jws.header()
    }
    /// The Issuer-signed JWT exactly as received.
    pub fn issuer_jwt(&self) -> &str {
        self.jws.as_str()
    }
    /// The processed payload (§7.1): disclosed claims inserted, undisclosed array elements
    /// removed, `_sd` and `_sd_alg` removed.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
    /// The processed payload, by value.
    pub fn into_claims(self) -> Map<String, Value> {
        self.claims
    }
    /// Paths of the claims that came from Disclosures, parents before children. Array
    /// indices refer to the processed arrays.
    pub fn disclosed(&self) -> &[ClaimPath] {
        &self.disclosed
    }
    /// The verified Key Binding JWT claims, when one was presented.
    pub fn key_binding(&self) -> Option<&KbClaims> {
        self.key_binding.as_ref()
    }
    /// The Holder key (`cnf.jwk`) that verified the KB-JWT.
    pub fn holder_key(&self) -> Option<&PublicJwk> {
        self.holder_key.as_ref()
    }
}

impl SdJwt {
    /// Verifies this SD-JWT (or SD-JWT+KB) with the Issuer key `key`.
    pub fn verify(
        self,
        key: &VerifyingKey,
        options: &VerifyOptions<'_>,
    ) -> Result<Verified, VerifyError> {
        let Parts {
            text,
            sd_len,
            jws,
            claims,
            mut disclosures,
            order,
            kb,
        } = self.into_parts();
        // Key binding presence is checked against the policy first: cheap, and the answer
        // does not depend on anything else.
        match (&options.key_binding, &kb) {
            (KeyBinding::Required(_), None) => return Err(KbError::KbJwtMissing.into()),
            (KeyBinding::Forbidden, Some(_)) => return Err(KbError::KbJwtNotExpected.into()),
            _ => {}
        }
        let policy = JwsPolicy::new(options.algorithms)
            .with_typ(options.typ)
            .with_critical(options.critical);
        let issuer = jws
            .verify(key, &policy)
            .map_err(VerifyError::IssuerSignature)?;

        let values = disclosures.iter_mut().map(Disclosure::take_value).collect();
        let processed = process::process(
            claims,
            &disclosures,
            &order,
            Values::Owned(values),
            &options.limits,
        )?;
        let claims = processed.claims;
        let rules = TimeRules {
            skew: options.skew,
            require_exp: options.require_exp,
            require_iat: false,
            max_age: None,
        };
        check_time(&claims, options.clock, &rules).map_err(VerifyError::Time)?;
        check_audience(&claims, options.audience)?;

        let (key_binding, holder_key) = match (&options.key_binding, kb) {
            (KeyBinding::Required(exp) | KeyBinding::Optional(exp), Some(kb_jws)) => {
                let sd_jwt_part = text.get(..sd_len).unwrap_or_default();
                let (kb, holder) = kb::verify(
                    kb_jws,
                    &claims,
                    sd_jwt_part,
                    exp,
                    options.clock,
                    options.skew,
                    &options.limits,
                )?;
                (Some(kb), Some(holder))
            }
            _ => (None, None),
        };
        let disclosed = processed.disclosed.into_iter().map(|(p, _)| p).collect();
        Ok(Verified {
            jws: issuer,
            claims,
            disclosed,
            key_binding,
            holder_key,
        })
    }
}

/// Parses `text` with `options.limits` and verifies it with `key`.
pub fn verify(
    text: &str,
    key: &VerifyingKey,
    options: &VerifyOptions<'_>,
) -> Result<Verified, VerifyError> {
    SdJwt::parse(text, &options.limits)?.verify(key, options)
}

fn check_audience(claims: &Map<String, Value>, expected: Option<&str>) -> Result<(), VerifyError> {
    let Some(aud) = claims.get("aud") else {
        return Ok(());
    };
    let Some(expected) = expected else {
        return Err(VerifyError::AudienceNotExpected);
    };
    let ok = match aud {
        Value::String(s) => s == expected,
        Value::Array(a) => a.iter().any(|v| v.as_str() == Some(expected)),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(VerifyError::AudienceMismatch)
    }
}
