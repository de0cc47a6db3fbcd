//! The Status List Token in JWT form (draft §5.1): building and signing one through any
//! [`jose::Signer`], and verifying one received from a Status Provider (draft §8.3 step 3
//! and 4).
//!
//! Verification goes [`StatusListToken::parse`] → [`StatusListToken::verify`] →
//! [`VerifiedStatusListToken`]; only the verified type hands out the list as trusted. The
//! caller chooses the key (resolving it from `kid`, `x5c` or issuer metadata is its job,
//! draft §11.3) and the algorithm allow-list; there are no defaults.
//!
//! The CWT form (draft §5.2) is not implemented.

use crate::encoded::EncodedStatusList;
use crate::error::{ListError, TokenError};
use crate::list::{DEFAULT_MAX_DECOMPRESSED, DecodeLimits, StatusList};
use crate::status::Status;
use jose::jwt::{Clock, TimeRules, check_time, numeric_date};
use jose::{
    Algorithm, ClaimError, CompactJws, Header, HeaderBuilder, JwsPolicy, Signer, VerifiedJws,
    VerifyingKey,
};
use serde_json::{Map, Value};

/// The JWT `typ` of a Status List Token, compared exactly.
pub const TYP: &str = "statuslist+jwt";

/// The media type of a Status List Token in JWT form (HTTP `Accept` / `Content-Type`).
pub const MEDIA_TYPE: &str = "application/statuslist+jwt";

/// Builds and signs a Status List Token.
///
/// ```
/// # use status_list::{Bits, StatusList, StatusListTokenBuilder};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let signer = jose::SoftwareSigner::generate(jose::Algorithm::Es256)?.with_kid("k1");
/// let mut list = StatusList::new(Bits::One, 1024)?;
/// list.set(7, 1)?;
/// let jwt = StatusListTokenBuilder::new("https://example.com/statuslists/1", list.encode()?, 1_700_000_000)
///     .expires_at(1_700_086_400)
///     .ttl(43_200)
///     .sign(&signer)?;
/// # assert_eq!(jwt.split('.').count(), 3);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct StatusListTokenBuilder {
    sub: String,
    iat: i64,
    exp: Option<i64>,
    ttl: Option<u64>,
    iss: Option<String>,
    status_list: EncodedStatusList,
    kid: Option<String>,
    x5c: Option<Vec<Vec<u8>>>,
}

impl StatusListTokenBuilder {
    /// A token for the list at `sub` (the URI referenced tokens carry), issued at `iat`.
    pub fn new(sub: impl Into<String>, status_list: EncodedStatusList, iat: i64) -> Self {
        StatusListTokenBuilder {
            sub: sub.into(),
            iat,
            exp: None,
            ttl: None,
            iss: None,
            status_list,
            kid: None,
            x5c: None,
        }
    }

    /// Sets `exp` (RECOMMENDED); it must be after `iat`.
    #[must_use]
    pub fn expires_at(mut self, exp: i64) -> Self {
        self.exp = Some(exp);
        self
    }

    /// Sets `ttl` in seconds (RECOMMENDED); it must be positive.
    #[must_use]
    pub fn ttl(mut self, seconds: u64) -> Self {
        self.ttl = Some(seconds);
        self
    }

    /// Sets `iss`.
    #[must_use]
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.iss = Some(iss.into());
        self
    }

    /// Sets the header `kid`; without it the signer's key identifier is used, if any.
    #[must_use]
    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Sets the header `x5c` (DER certificates, leaf first).
    #[must_use]
    pub fn x5c(mut self, chain: Vec<Vec<u8>>) -> Self {
        self.x5c = Some(chain);
        self
    }

    /// The claims set that [`StatusListTokenBuilder::sign`] signs.
    pub fn claims(&self) -> Result<Map<String, Value>, TokenError> {
        if self.ttl == Some(0) {
            return Err(TokenError::InvalidTtl);
        }
        if let Some(exp) = self.exp
            && exp <= self.iat
        {
            return Err(TokenError::ExpiryNotAfterIssue { iat: self.iat, exp });
        }
        let mut m = Map::with_capacity(6);
        m.insert("sub".into(), Value::String(self.sub.clone()));
        if let Some(iss) = &self.iss {
            m.insert("iss".into(), Value::String(iss.clone()));
        }
        m.insert("iat".into(), Value::from(self.iat));
        if let Some(exp) = self.exp {
            m.insert("exp".into(), Value::from(exp));
        }
        if let Some(ttl) = self.ttl {
            m.insert("ttl".into(), Value::from(ttl));
        }
        m.insert("status_list".into(), self.status_list.to_value());
        Ok(m)
    }

    /// The JOSE header (without `alg`, which always comes from the signer).
    fn header(&self, signer: &dyn Signer) -> HeaderBuilder {
        let mut h = HeaderBuilder::new().typ(TYP);
        if let Some(kid) = self.kid.as_deref().or_else(|| signer.key_id()) {
            h = h.kid(kid);
        }
        if let Some(chain) = &self.x5c {
            h = h.x5c(chain);
        }
        h
    }

    /// Signs the token and returns its compact serialization.
    pub fn sign(&self, signer: &dyn Signer) -> Result<String, TokenError> {
        let payload = Value::Object(self.claims()?).to_string();
        Ok(self.header(signer).sign(payload.as_bytes(), signer)?)
    }
}

/// What a Relying Party accepts when verifying a Status List Token.
#[derive(Clone, Copy, Debug)]
pub struct VerifyOptions<'a> {
    /// Accepted signature algorithms (an empty list accepts nothing).
    pub algorithms: &'a [Algorithm],
    /// Allowed clock difference in seconds for `exp` and `iat`.
    pub skew: u64,
    /// Refuse tokens without `exp` (the draft only RECOMMENDS it).
    pub require_exp: bool,
    /// If set, refuse tokens whose `iat` is older than this many seconds (a freshness
    /// policy, draft §8.3 4.b).
    pub max_age: Option<u64>,
    /// Limits for decompressing `lst`.
    pub limits: DecodeLimits,
}

impl<'a> VerifyOptions<'a> {
    /// Accepts `algorithms`, no clock skew, `exp` optional, no freshness policy, default
    /// decode limits.
    pub const fn new(algorithms: &'a [Algorithm]) -> Self {
        VerifyOptions {
            algorithms,
            skew: 0,
            require_exp: false,
            max_age: None,
            limits: DecodeLimits::new(DEFAULT_MAX_DECOMPRESSED),
        }
    }

    /// Sets the clock skew in seconds.
    #[must_use]
    pub const fn with_skew(mut self, skew: u64) -> Self {
        self.skew = skew;
        self
    }

    /// Requires `exp`.
    #[must_use]
    pub const fn requiring_exp(mut self) -> Self {
        self.require_exp = true;
        self
    }

    /// Refuses tokens issued more than `max_age` seconds ago.
    #[must_use]
    pub const fn with_max_age(mut self, max_age: u64) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Sets the decode limits.
    #[must_use]
    pub const fn with_limits(mut self, limits: DecodeLimits) -> Self {
        self.limits = limits;
        self
    }
}

/// The claims of a Status List Token, with the draft's required members checked for
/// presence and type (but not time, which needs a clock).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusListClaims {
    /// `sub`: the URI of the status list.
    pub sub: String,
    /// `iat`.
    pub iat: i64,
    /// `exp`, if present.
    pub exp: Option<i64>,
    /// `ttl` in seconds, if present (always positive).
    pub ttl: Option<u64>,
    /// `iss`, if present.
    pub iss: Option<String>,
    /// `status_list`, with `lst` not yet decoded.
    pub status_list: EncodedStatusList,
}

impl StatusListClaims {
    /// Reads the claims from a JWT claims set.
    pub fn from_claims(claims: &Map<String, Value>) -> Result<Self, TokenError> {
        let sub = match claims.get("sub") {
            None => return Err(ClaimError::Missing("sub").into()),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(ClaimError::WrongType("sub").into()),
        };
        let iat = numeric_date(claims, "iat")?.ok_or(ClaimError::Missing("iat"))?;
        let exp = numeric_date(claims, "exp")?;
        let ttl = match claims.get("ttl") {
            None => None,
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 => Some(n),
                _ => return Err(TokenError::InvalidTtl),
            },
        };
        let iss = match claims.get("iss") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(ClaimError::WrongType("iss").into()),
        };
        let status_list = match claims.get("status_list") {
            None => return Err(ClaimError::Missing("status_list").into()),
            Some(v) => EncodedStatusList::from_value(v).map_err(TokenError::StatusList)?,
        };
        Ok(StatusListClaims {
            sub,
            iat,
            exp,
            ttl,
            iss,
            status_list,
        })
    }
}

/// A Status List Token as received, not yet verified.
#[derive(Clone, Debug)]
pub struct StatusListToken {
    jws: CompactJws,
}

impl StatusListToken {
    /// Parses a compact JWS (surrounding ASCII whitespace, as in an HTTP body, is ignored).
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        Ok(StatusListToken {
            jws: CompactJws::parse(text.trim_ascii())?,
        })
    }

    /// The header (for choosing the verification key by `kid` or `x5c`).
    pub fn header(&self) -> &Header {
        self.jws.header()
    }

    /// The token exactly as received.
    pub fn as_str(&self) -> &str {
        self.jws.as_str()
    }

    /// The claims **without** signature or time checks, for inspection tools.
    pub fn claims_unverified(&self) -> Result<StatusListClaims, TokenError> {
        StatusListClaims::from_claims(&self.jws.claims_unverified()?)
    }

    /// Verifies the token for the list at `expected_uri` (the `uri` of the referenced
    /// token's `status_list` claim): `typ` exactly `statuslist+jwt`, the algorithm in the
    /// allow-list, the signature with `key`, `sub == expected_uri` (compared as strings),
    /// `iat` present and not in the future, `exp` not passed, `ttl` positive when present,
    /// and `status_list` well-formed and decodable within the limits.
    pub fn verify(
        self,
        key: &VerifyingKey,
        expected_uri: &str,
        options: &VerifyOptions<'_>,
        clock: &dyn Clock,
    ) -> Result<VerifiedStatusListToken, TokenError> {
        // Checked before the signature so a token of another type is named as such.
        if self.jws.header().typ() != Some(TYP) {
            return Err(TokenError::WrongTyp {
                found: self.jws.header().typ().map(str::to_owned),
            });
        }
        let jws = self.jws.verify(key, &JwsPolicy::new(options.algorithms))?;
        let map = jws.claims()?;
        let claims = StatusListClaims::from_claims(&map)?;
        if claims.sub != expected_uri {
            return Err(TokenError::SubjectMismatch {
                expected: expected_uri.to_owned(),
                found: claims.sub,
            });
        }
        let rules = TimeRules {
            skew: options.skew,
            require_exp: options.require_exp,
            require_iat: true,
            max_age: options.max_age,
        };
        check_time(&map, clock, &rules)?;
        let list = claims
            .status_list
            .decode(&options.limits)
            .map_err(TokenError::StatusList)?;
        Ok(VerifiedStatusListToken {
            jws,
            claims,
            list,
            verified_at: clock.now(),
        })
    }
}

/// A Status List Token whose signature, type, subject, times and list were checked.
#[derive(Clone, Debug)]
pub struct VerifiedStatusListToken {
    jws: VerifiedJws,
    claims: StatusListClaims,
    list: StatusList,
    verified_at: i64,
}

impl VerifiedStatusListToken {
    /// The header.
    pub fn header(&self) -> &Header {
        self.jws.header()
    }

    /// The compact serialization as received (e.g. for a cache).
    pub fn as_str(&self) -> &str {
        self.jws.as_str()
    }

    /// The checked claims.
    pub fn claims(&self) -> &StatusListClaims {
        &self.claims
    }

    /// The complete verified claims set, including claims this crate does not interpret.
    pub fn claims_map(&self) -> Result<Map<String, Value>, TokenError> {
        Ok(self.jws.claims()?)
    }

    /// `sub`: the URI of the list.
    pub fn subject(&self) -> &str {
        &self.claims.sub
    }

    /// `iat`.
    pub fn issued_at(&self) -> i64 {
        self.claims.iat
    }

    /// `exp`, if present.
    pub fn expires_at(&self) -> Option<i64> {
        self.claims.exp
    }

    /// `ttl` in seconds, if present: how long the token may be cached before a fresh copy
    /// should be fetched.
    pub fn ttl(&self) -> Option<u64> {
        self.claims.ttl
    }

    /// `aggregation_uri` from the `status_list` claim, if present.
    pub fn aggregation_uri(&self) -> Option<&str> {
        self.claims.status_list.aggregation_uri.as_deref()
    }

    /// The decoded list.
    pub fn list(&self) -> &StatusList {
        &self.list
    }

    /// The status at `idx`; an index outside the list is an error (draft §8.3 step 6).
    pub fn status(&self, idx: usize) -> Result<Status, ListError> {
        self.list.status(idx)
    }

    /// The clock's time when the token was verified.
    pub fn verified_at(&self) -> i64 {
        self.verified_at
    }

    /// Until when a cache may serve this token: the earlier of `verified_at + ttl` and
    /// `exp`; `None` if the token has neither (draft §8.3 4.d, §13.7). `exp` and `ttl`
    /// take precedence over HTTP cache headers (draft §8.2).
    pub fn cache_until(&self) -> Option<i64> {
        let by_ttl = self.claims.ttl.map(|ttl| {
            self.verified_at
                .saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX))
        });
        match (by_ttl, self.claims.exp) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether `time` lies within `[iat, exp)`: a client that asked for historical status
    /// (`?time=`, draft §8.4) MUST reject a token for which this is false.
    pub fn covers(&self, time: i64) -> bool {
        self.claims.iat <= time && self.claims.exp.is_none_or(|exp| time < exp)
    }
}
