//! Local matching, as `match_response` reports it: per credential query, the held
//! credentials that answer it (by id) and every claim path each could disclose — paths,
//! never values: the engine does not learn what the credentials say.

use oid4vp::dcql::{ClaimPath, ClaimStep};
use serde_json::Value;
use wallet::HeldCredential;
use wallet::credential::is_technical;
use wallet::presentation::Consent;
use wallet_protocol::common::{CredentialMatch, PathElement};

/// Deepest claim path listed.
const MAX_DEPTH: usize = 8;

/// A claim path in the protocol's form.
pub fn to_protocol_path(path: &ClaimPath) -> Vec<PathElement> {
    path.steps()
        .iter()
        .map(|s| match s {
            ClaimStep::Key(k) => PathElement::Name(k.clone()),
            ClaimStep::Index(i) => PathElement::Index(u64::try_from(*i).unwrap_or(u64::MAX)),
        })
        .collect()
}

/// A protocol claim path as a concrete path (`None` for a wildcard).
pub fn to_oid4vp_path(path: &[PathElement]) -> Option<ClaimPath> {
    path.iter()
        .map(|e| match e {
            PathElement::Name(n) => Some(ClaimStep::Key(n.clone())),
            PathElement::Index(i) => usize::try_from(*i).ok().map(ClaimStep::Index),
            PathElement::All(()) => None,
        })
        .collect::<Option<Vec<_>>>()
        .map(ClaimPath::new)
}

fn walk(value: &Value, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
    if prefix.len() >= MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                prefix.push(PathElement::Name(k.clone()));
                out.push(prefix.clone());
                walk(v, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                prefix.push(PathElement::Index(u64::try_from(i).unwrap_or(u64::MAX)));
                out.push(prefix.clone());
                walk(v, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

/// Every claim path of a credential's subject claims (selectively disclosable or not).
pub fn claim_paths(held: &HeldCredential) -> Vec<Vec<PathElement>> {
    let mut out = Vec::new();
    for (name, value) in held.claims.iter().filter(|(k, _)| !is_technical(k)) {
        let mut prefix = vec![PathElement::Name(name.clone())];
        out.push(prefix.clone());
        walk(value, &mut prefix, &mut out);
    }
    out
}

/// The `match_response` for a consent model: the candidates of every query, or why
/// nothing answers.
pub(crate) fn matches(
    consent: &Consent,
    held: &[HeldCredential],
    ids: &[String],
) -> (Option<Vec<CredentialMatch>>, Option<String>) {
    if !consent.satisfiable() {
        let reason = if consent.unmet.is_empty() {
            "no held credential answers the request".to_owned()
        } else {
            consent.unmet.join("; ")
        };
        return (None, Some(reason));
    }
    let mut out = Vec::new();
    for query in &consent.queries {
        for candidate in &query.candidates {
            let (Some(credential), Some(id)) = (
                held.get(candidate.credential),
                ids.get(candidate.credential),
            ) else {
                continue;
            };
            out.push(CredentialMatch {
                credential_query_id: query.query_id.clone(),
                credential_id: id.clone(),
                vct: Some(credential.vct.clone()),
                available_claims: claim_paths(credential),
            });
        }
    }
    if out.is_empty() {
        (None, Some("no held credential answers the request".into()))
    } else {
        (Some(out), None)
    }
}
