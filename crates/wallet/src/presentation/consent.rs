//! The consent model: which held credentials can answer each credential query, why the
//! others cannot, and — per candidate — every claim it could disclose, the ones the
//! verifier asked for marked recommended. The holder answers with a [`Choice`].
//!
//! The recommended choice is exactly the requested claim paths. A selectively disclosable
//! container of a requested claim (`address` for `address.country`) is revealed only as
//! far as reaching the claim needs: its other selectively disclosable members stay
//! hidden. Expanding the container itself would disclose every member, which is what the
//! holder must never get by default.

use oid4vp::dcql::{ClaimPath, DcqlQuery, HolderCredential, QueryMatch, match_query};
use serde_json::Value;

use super::PresentationRequest;
use crate::Wallet;
use crate::credential::HeldCredential;

/// One claim a candidate could disclose.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsentClaim {
    /// Its concrete path.
    pub path: ClaimPath,
    /// The path as dotted text (`address.locality`, `nationalities.0`).
    pub name: String,
    /// Its value in the credential.
    pub value: Value,
    /// The verifier asked for it, or for a claim containing it (in its preferred way of
    /// answering): the recommended choice discloses it.
    pub recommended: bool,
    /// It contains a recommended claim without being asked for itself: the recommended
    /// choice reveals it only as the way to that claim (its plain members with it, its
    /// other selectively disclosable members not).
    pub container: bool,
}

/// A credential that can answer a query.
#[derive(Clone, Debug, PartialEq)]
pub struct CandidateConsent {
    /// Index into the held credentials.
    pub credential: usize,
    /// Every selectively disclosable claim, in the credential's order.
    pub claims: Vec<ConsentClaim>,
    /// Claims that are always disclosed with it (not selectively disclosable).
    pub always_disclosed: Vec<String>,
}

/// One credential query of the request.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryConsent {
    /// The query id.
    pub query_id: String,
    /// Whether the preferred answer uses it.
    pub preferred: bool,
    /// Credentials that answer it.
    pub candidates: Vec<CandidateConsent>,
    /// Credentials that do not, with every reason.
    pub rejected: Vec<(usize, Vec<String>)>,
}

/// What the holder is asked.
#[derive(Clone, Debug)]
pub struct Consent {
    /// Per credential query.
    pub queries: Vec<QueryConsent>,
    /// Why the request cannot be answered (empty when it can).
    pub unmet: Vec<String>,
    matched: QueryMatch,
}

/// One credential the holder chose, with exactly the claims to disclose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChosenCredential {
    /// The credential query it answers.
    pub query_id: String,
    /// Index into the held credentials.
    pub credential: usize,
    /// The claims to disclose (their selectively disclosable ancestors and descendants
    /// come along, as revealing them requires).
    pub disclose: Vec<ClaimPath>,
}

/// The holder's decision.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Choice {
    /// The credentials to present.
    pub picks: Vec<ChosenCredential>,
}

/// A claim path as dotted text.
pub fn dotted(path: &ClaimPath) -> String {
    path.steps()
        .iter()
        .map(|s| match s {
            oid4vp::dcql::ClaimStep::Key(k) => k.clone(),
            oid4vp::dcql::ClaimStep::Index(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Parses dotted text (`address.locality`) into a claim path; numeric parts are indices.
pub fn parse_dotted(text: &str) -> ClaimPath {
    ClaimPath::new(
        text.split('.')
            .filter(|p| !p.is_empty())
            .map(|p| match p.parse::<usize>() {
                Ok(i) => oid4vp::dcql::ClaimStep::Index(i),
                Err(_) => oid4vp::dcql::ClaimStep::Key(p.to_owned()),
            })
            .collect(),
    )
}

impl Consent {
    /// Whether the request can be answered at all.
    pub fn satisfiable(&self) -> bool {
        self.matched.is_satisfiable()
    }

    /// The verifier's preferred answer with exactly the requested claim paths (never a
    /// container of one in full); `None` when the request cannot be answered.
    pub fn recommended_choice(&self) -> Option<Choice> {
        let selection = self.matched.preferred_selection(false)?;
        // Checked against every rule before it is offered to the holder.
        self.matched.plan(&selection).ok()?;
        let picks = selection
            .picks
            .iter()
            .map(|p| {
                let option = self
                    .matched
                    .credential_query(&p.query_id)?
                    .candidates
                    .iter()
                    .find(|c| c.credential == p.credential)?
                    .options
                    .get(p.option)?;
                Some(ChosenCredential {
                    query_id: p.query_id.clone(),
                    credential: p.credential,
                    disclose: requested_paths(option),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Choice { picks })
    }

    pub(crate) fn matched(&self) -> &QueryMatch {
        &self.matched
    }
}

/// The concrete paths an option's claims queries selected, in order, without duplicates.
fn requested_paths(option: &oid4vp::dcql::DisclosureOption) -> Vec<ClaimPath> {
    let mut out: Vec<ClaimPath> = Vec::new();
    for path in option.requested.iter().flat_map(|r| &r.paths) {
        if !out.contains(path) {
            out.push(path.clone());
        }
    }
    out
}

/// Reads held credentials for matching.
pub(crate) fn describe(held: &[HeldCredential]) -> Vec<HolderCredential> {
    held.iter().map(|h| h.matching.clone()).collect()
}

impl Consent {
    /// Matches `query` against `held` and builds the consent model. Pure: nothing is
    /// fetched or sent.
    pub fn new(query: &DcqlQuery, held: &[HeldCredential]) -> Consent {
        let described = describe(held);
        let matched = match_query(query, &described);
        let preferred: Vec<String> = matched
            .preferred_selection(false)
            .map(|s| s.picks.into_iter().map(|p| p.query_id).collect())
            .unwrap_or_default();
        let queries = matched
            .credential_queries()
            .iter()
            .map(|q| QueryConsent {
                query_id: q.query_id.clone(),
                preferred: preferred.contains(&q.query_id),
                candidates: q
                    .candidates
                    .iter()
                    .filter_map(|c| {
                        let h = held.get(c.credential)?;
                        let requested = c.options.first().map(requested_paths);
                        Some(candidate(c.credential, h, &requested.unwrap_or_default()))
                    })
                    .collect(),
                rejected: q
                    .rejected
                    .iter()
                    .map(|r| {
                        (
                            r.credential,
                            r.reasons.iter().map(ToString::to_string).collect(),
                        )
                    })
                    .collect(),
            })
            .collect();
        let unmet = if matched.is_satisfiable() {
            Vec::new()
        } else {
            matched.explain().iter().map(ToString::to_string).collect()
        };
        Consent {
            queries,
            unmet,
            matched,
        }
    }
}

impl Wallet {
    /// Matches the request's DCQL query against `held` and builds the consent model.
    /// Nothing is sent.
    pub fn consent(&self, request: &PresentationRequest, held: &[HeldCredential]) -> Consent {
        Consent::new(&request.request.dcql_query, held)
    }
}

fn candidate(index: usize, held: &HeldCredential, requested: &[ClaimPath]) -> CandidateConsent {
    let root = Value::Object(held.claims.clone());
    let claims = held
        .disclosable()
        .iter()
        .map(|p| {
            // Asked for, or inside something asked for: disclosed in full.
            let recommended = requested.iter().any(|r| r.is_prefix_of(p));
            ConsentClaim {
                path: p.clone(),
                name: dotted(p),
                value: p.lookup(&root).cloned().unwrap_or(Value::Null),
                recommended,
                container: !recommended && requested.iter().any(|r| p.is_prefix_of(r)),
            }
        })
        .collect();
    let disclosable_tops: Vec<&str> = held
        .disclosable()
        .iter()
        .filter_map(|p| match p.steps().first() {
            Some(oid4vp::dcql::ClaimStep::Key(k)) if p.steps().len() == 1 => Some(k.as_str()),
            _ => None,
        })
        .collect();
    let always_disclosed = held
        .claims
        .keys()
        .filter(|k| k.as_str() != "cnf" && !disclosable_tops.contains(&k.as_str()))
        .cloned()
        .collect();
    CandidateConsent {
        credential: index,
        claims,
        always_disclosed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oid4vp::dcql::ClaimStep;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn dotted_paths_round_trip(keys in proptest::collection::vec("[a-z_][a-z0-9_]{0,8}", 1..4), index in proptest::option::of(0usize..20)) {
            let mut steps: Vec<ClaimStep> = keys.into_iter().map(ClaimStep::Key).collect();
            if let Some(i) = index {
                steps.push(ClaimStep::Index(i));
            }
            let path = ClaimPath::new(steps);
            prop_assert_eq!(parse_dotted(&dotted(&path)), path);
        }
    }
}
