//! The referenced token's side (draft §6.2, §8.3): the `status` claim
//! `{"status_list": {"idx": N, "uri": "…"}}` and the final lookup of a token's status in a
//! verified Status List Token.
//!
//! The referenced token itself (its signature, `exp`, …) must be validated *before* any of
//! this runs (draft §8.3): an expired token stays expired whatever its status says.

use crate::error::{CheckError, ListError, ReferenceError};
use crate::status::Status;
use crate::token::{StatusListToken, VerifiedStatusListToken, VerifyOptions};
use jose::VerifyingKey;
use jose::jwt::Clock;
use serde_json::{Map, Value};

/// The `status_list` member of a referenced token's `status` claim: which entry (`idx`) of
/// which list (`uri`) holds the token's status.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StatusClaim {
    /// The index into the list.
    pub idx: usize,
    /// The URI of the Status List Token; compared exactly with its `sub`.
    pub uri: String,
}

impl StatusClaim {
    /// A reference to entry `idx` of the list at `uri`.
    pub fn new(idx: usize, uri: impl Into<String>) -> Self {
        StatusClaim {
            idx,
            uri: uri.into(),
        }
    }

    /// Reads `status.status_list` from a referenced token's claims set.
    pub fn from_claims(claims: &Map<String, Value>) -> Result<Self, ReferenceError> {
        let status = claims
            .get("status")
            .ok_or(ReferenceError::Missing("status"))?;
        Self::from_status_value(status)
    }

    /// Reads `status_list` from the value of a `status` claim. Other status mechanisms
    /// next to `status_list` are ignored.
    pub fn from_status_value(status: &Value) -> Result<Self, ReferenceError> {
        let status = status
            .as_object()
            .ok_or(ReferenceError::WrongType("status"))?;
        let list = status
            .get("status_list")
            .ok_or(ReferenceError::Missing("status.status_list"))?
            .as_object()
            .ok_or(ReferenceError::WrongType("status.status_list"))?;
        let idx = list
            .get("idx")
            .ok_or(ReferenceError::Missing("status.status_list.idx"))?
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(ReferenceError::InvalidIdx)?;
        let uri = match list.get("uri") {
            None => return Err(ReferenceError::Missing("status.status_list.uri")),
            Some(Value::String(s)) if s.is_empty() => return Err(ReferenceError::EmptyUri),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(ReferenceError::WrongType("status.status_list.uri")),
        };
        Ok(StatusClaim { idx, uri })
    }

    /// The value of the `status` claim: `{"status_list": {"idx": …, "uri": …}}`.
    pub fn to_status_value(&self) -> Value {
        let mut list = Map::with_capacity(2);
        list.insert("idx".into(), Value::from(self.idx));
        list.insert("uri".into(), Value::String(self.uri.clone()));
        let mut status = Map::with_capacity(1);
        status.insert("status_list".into(), Value::Object(list));
        Value::Object(status)
    }

    /// Verifies the Status List Token fetched from [`StatusClaim::uri`] (its `sub` must
    /// equal that URI) and returns the status of [`StatusClaim::idx`].
    pub fn resolve(
        &self,
        status_list_token: &str,
        key: &VerifyingKey,
        options: &VerifyOptions<'_>,
        clock: &dyn Clock,
    ) -> Result<Status, CheckError> {
        let token =
            StatusListToken::parse(status_list_token)?.verify(key, &self.uri, options, clock)?;
        check_status(self, &token)
    }
}

/// The whole check of draft §8.3 steps 1–7 for an already validated referenced token:
/// reads its `status.status_list` claim from `referenced_claims`, verifies the Status List
/// Token fetched from that claim's `uri`, and returns the status of its `idx`.
pub fn resolve_status(
    referenced_claims: &Map<String, Value>,
    status_list_token: &str,
    key: &VerifyingKey,
    options: &VerifyOptions<'_>,
    clock: &dyn Clock,
) -> Result<Status, CheckError> {
    StatusClaim::from_claims(referenced_claims)?.resolve(status_list_token, key, options, clock)
}

/// The status of the referenced token: entry `claim.idx` of `token`, which must be the
/// list `claim.uri` names. An index outside the list is
/// [`CheckError::IndexOutOfBounds`]: the referenced token MUST then be rejected.
pub fn check_status(
    claim: &StatusClaim,
    token: &VerifiedStatusListToken,
) -> Result<Status, CheckError> {
    // `verify` already compared `sub` with the URI it was given; this guards against a
    // token verified for one reference being used for another.
    if token.subject() != claim.uri {
        return Err(CheckError::SubjectMismatch {
            expected: claim.uri.clone(),
            found: token.subject().to_owned(),
        });
    }
    token.status(claim.idx).map_err(|e| match e {
        ListError::IndexOutOfBounds { idx, len } => CheckError::IndexOutOfBounds { idx, len },
        other => CheckError::Token(crate::error::TokenError::StatusList(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn draft20_s6_2_status_claim_example() {
        let c = claims(json!({
            "status": {"status_list": {"idx": 0, "uri": "https://example.com/statuslists/1"}}
        }));
        let s = StatusClaim::from_claims(&c).unwrap();
        assert_eq!(s, StatusClaim::new(0, "https://example.com/statuslists/1"));
        assert_eq!(&s.to_status_value(), c.get("status").unwrap());
    }

    #[test]
    fn ignores_other_status_mechanisms() {
        let c = claims(json!({
            "status": {"other": 1, "status_list": {"idx": 5, "uri": "https://x/1"}}
        }));
        assert_eq!(StatusClaim::from_claims(&c).unwrap().idx, 5);
    }

    #[test]
    fn rejects_missing_status_members() {
        let cases = [
            (json!({}), "status"),
            (json!({"status": {}}), "status.status_list"),
            (
                json!({"status": {"status_list": {"uri": "https://x"}}}),
                "status.status_list.idx",
            ),
            (
                json!({"status": {"status_list": {"idx": 1}}}),
                "status.status_list.uri",
            ),
        ];
        for (v, name) in cases {
            assert_eq!(
                StatusClaim::from_claims(&claims(v)),
                Err(ReferenceError::Missing(name))
            );
        }
    }

    #[test]
    fn rejects_wrong_status_types() {
        let cases = [
            (json!({"status": "x"}), "status"),
            (json!({"status": {"status_list": []}}), "status.status_list"),
            (
                json!({"status": {"status_list": {"idx": 1, "uri": 7}}}),
                "status.status_list.uri",
            ),
        ];
        for (v, name) in cases {
            assert_eq!(
                StatusClaim::from_claims(&claims(v)),
                Err(ReferenceError::WrongType(name))
            );
        }
    }

    #[test]
    fn rejects_invalid_idx() {
        for idx in [
            json!(-1),
            json!(1.5),
            json!(1.0),
            json!("1"),
            json!(null),
            json!(18_446_744_073_709_551_616.0_f64),
        ] {
            let c = claims(json!({"status": {"status_list": {"idx": idx, "uri": "https://x"}}}));
            assert_eq!(
                StatusClaim::from_claims(&c),
                Err(ReferenceError::InvalidIdx),
                "{idx}"
            );
        }
        // 2^64 written as an integer literal is parsed as a float too.
        let c = jose::json::parse_object(
            br#"{"status":{"status_list":{"idx":18446744073709551616,"uri":"https://x"}}}"#,
        )
        .unwrap();
        assert_eq!(
            StatusClaim::from_claims(&c),
            Err(ReferenceError::InvalidIdx)
        );
    }

    #[test]
    fn rejects_empty_uri() {
        let c = claims(json!({"status": {"status_list": {"idx": 1, "uri": ""}}}));
        assert_eq!(StatusClaim::from_claims(&c), Err(ReferenceError::EmptyUri));
    }
}
