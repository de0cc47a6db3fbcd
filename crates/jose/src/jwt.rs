//! JWT registered time claims (RFC 7519 §4.1.4–4.1.6) checked against an injected clock.

use crate::error::ClaimError;
use serde_json::{Map, Value};

/// A source of the current time, in seconds since the Unix epoch. Injected everywhere so
/// expiry logic is testable.
pub trait Clock: Send + Sync {
    /// Now, in seconds since the epoch.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }
}

/// A fixed clock for tests and deterministic tools.
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> i64 {
        (**self).now()
    }
}

/// How the time claims are checked.
#[derive(Clone, Copy, Debug)]
pub struct TimeRules {
    /// Allowed clock difference in seconds, applied in the lenient direction of each check.
    pub skew: u64,
    /// `exp` must be present.
    pub require_exp: bool,
    /// `iat` must be present.
    pub require_iat: bool,
    /// If set, `iat` must be no older than this many seconds.
    pub max_age: Option<u64>,
}

impl TimeRules {
    /// No claim required; `exp`/`nbf`/`iat` checked when present, with `skew` seconds.
    pub const fn lenient(skew: u64) -> Self {
        TimeRules {
            skew,
            require_exp: false,
            require_iat: false,
            max_age: None,
        }
    }
}

/// Reads a NumericDate claim (integer or fractional seconds; fractions are truncated).
pub fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, ClaimError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if let Some(f) = n.as_f64() {
                if f.is_finite() && f.abs() < 1e15 {
                    #[allow(clippy::cast_possible_truncation)]
                    Ok(Some(f.trunc() as i64))
                } else {
                    Err(ClaimError::WrongType(name))
                }
            } else {
                Err(ClaimError::WrongType(name))
            }
        }
        Some(_) => Err(ClaimError::WrongType(name)),
    }
}

/// Checks `exp`, `nbf` and `iat` against `clock`.
pub fn check_time(
    claims: &Map<String, Value>,
    clock: &dyn Clock,
    rules: &TimeRules,
) -> Result<(), ClaimError> {
    let now = clock.now();
    let skew = i64::try_from(rules.skew).unwrap_or(i64::MAX);
    match numeric_date(claims, "exp")? {
        Some(exp) if now >= exp.saturating_add(skew) => {
            return Err(ClaimError::Expired { exp, now });
        }
        None if rules.require_exp => return Err(ClaimError::Missing("exp")),
        _ => {}
    }
    if let Some(nbf) = numeric_date(claims, "nbf")?
        && now.saturating_add(skew) < nbf
    {
        return Err(ClaimError::NotYetValid { nbf, now });
    }
    match numeric_date(claims, "iat")? {
        Some(iat) => {
            if iat > now.saturating_add(skew) {
                return Err(ClaimError::IssuedInFuture { iat, now });
            }
            if let Some(max_age) = rules.max_age {
                let limit = i64::try_from(max_age)
                    .unwrap_or(i64::MAX)
                    .saturating_add(skew);
                if now.saturating_sub(iat) > limit {
                    return Err(ClaimError::TooOld { iat, max_age, now });
                }
            }
        }
        None if rules.require_iat || rules.max_age.is_some() => {
            return Err(ClaimError::Missing("iat"));
        }
        None => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn rejects_expired_token_outside_skew() {
        let c = obj(json!({"exp": 1000}));
        assert!(check_time(&c, &FixedClock(999), &TimeRules::lenient(0)).is_ok());
        assert_eq!(
            check_time(&c, &FixedClock(1000), &TimeRules::lenient(0)),
            Err(ClaimError::Expired {
                exp: 1000,
                now: 1000
            })
        );
        assert!(check_time(&c, &FixedClock(1059), &TimeRules::lenient(60)).is_ok());
    }

    #[test]
    fn rejects_not_yet_valid_and_future_iat() {
        let c = obj(json!({"nbf": 1000}));
        assert!(matches!(
            check_time(&c, &FixedClock(900), &TimeRules::lenient(10)),
            Err(ClaimError::NotYetValid { .. })
        ));
        let c = obj(json!({"iat": 1000}));
        assert!(matches!(
            check_time(&c, &FixedClock(900), &TimeRules::lenient(10)),
            Err(ClaimError::IssuedInFuture { .. })
        ));
        assert!(check_time(&c, &FixedClock(995), &TimeRules::lenient(10)).is_ok());
    }

    #[test]
    fn rejects_old_iat_and_missing_required_claims() {
        let rules = TimeRules {
            skew: 0,
            require_exp: true,
            require_iat: true,
            max_age: Some(300),
        };
        let c = obj(json!({"iat": 1000, "exp": 5000}));
        assert!(check_time(&c, &FixedClock(1300), &rules).is_ok());
        assert!(matches!(
            check_time(&c, &FixedClock(1301), &rules),
            Err(ClaimError::TooOld { .. })
        ));
        assert_eq!(
            check_time(&obj(json!({"iat": 1000})), &FixedClock(1000), &rules),
            Err(ClaimError::Missing("exp"))
        );
        assert_eq!(
            check_time(&obj(json!({"exp": 5000})), &FixedClock(1000), &rules),
            Err(ClaimError::Missing("iat"))
        );
    }

    #[test]
    fn rejects_non_numeric_dates() {
        let c = obj(json!({"exp": "2030-01-01"}));
        assert_eq!(
            check_time(&c, &FixedClock(0), &TimeRules::lenient(0)),
            Err(ClaimError::WrongType("exp"))
        );
        let c = obj(json!({"exp": 1e300}));
        assert_eq!(
            check_time(&c, &FixedClock(0), &TimeRules::lenient(0)),
            Err(ClaimError::WrongType("exp"))
        );
        let c = obj(json!({"exp": 1500.7}));
        assert!(check_time(&c, &FixedClock(1499), &TimeRules::lenient(0)).is_ok());
    }
}
