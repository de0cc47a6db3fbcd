//! The verifier side of DCQL (OpenID4VP 1.0 §8.6 step 2.2 and 3): given what each
//! verified presentation discloses, does the response answer the query?
//!
//! The caller verifies every presentation first (signatures, key binding, status) and
//! hands over, per credential query id, the disclosed claims of each presentation as a
//! [`PresentedCredential`]. [`check_response`] then checks, strictly:
//! - every key is a credential query id, every array is non-empty and holds one
//!   presentation unless the query has `multiple`;
//! - every presentation has the query's format and type, holder binding when the query
//!   requires it, and discloses every requested claim (or one full claim set), with a
//!   value from `values` where the query restricts values — the verifier enforces this
//!   itself (§14.9: it "MUST NOT rely on the Wallet to enforce these constraints");
//! - the credential sets are met (without `credential_sets`: every credential query is
//!   answered).
//!
//! A presentation that does not fit its query makes the whole response fail rather than
//! being silently dropped, so a holder sees exactly why access was refused.

use serde_json::Value;

use super::matching::{
    CredentialType, Mismatch, SetOutcome, Subject, check_credential, evaluate_claims, evaluate_sets,
};
use super::query::DcqlQuery;

/// What one verified presentation discloses.
#[derive(Clone, Debug, PartialEq)]
pub struct PresentedCredential {
    /// Format and type (for SD-JWT VC: the `vct` claim).
    pub kind: CredentialType,
    /// The disclosed claims as one JSON object.
    pub claims: Value,
    /// Whether the presentation carried a verified holder binding proof (KB-JWT).
    pub holder_bound: bool,
}

/// The response answers the query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Satisfaction {
    /// Per answered credential query, the claim set each presentation satisfies (its
    /// index in `claim_sets`, `None` without claim sets).
    pub answered: Vec<(String, Vec<Option<usize>>)>,
    /// Per credential set, how it fared.
    pub sets: Vec<SetOutcome>,
}

/// Why a response does not answer the query.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unsatisfied {
    /// A `vp_token` key is not a credential query id.
    #[error("vp_token has an entry for {0:?}, which is not a credential query id")]
    UnknownCredentialQuery(String),
    /// A `vp_token` entry has no presentation.
    #[error("vp_token entry {0:?} is empty")]
    NoPresentation(String),
    /// Several presentations for a query without `multiple`.
    #[error("vp_token entry {query_id:?} has {count} presentations but multiple is false")]
    MultipleNotAllowed {
        /// The credential query id.
        query_id: String,
        /// How many were sent.
        count: usize,
    },
    /// A presentation does not fit its credential query.
    #[error(
        "presentation {index} for {query_id:?} does not match: {}",
        join(reasons)
    )]
    CredentialMismatch {
        /// The credential query id.
        query_id: String,
        /// Position in the `vp_token` array.
        index: usize,
        /// Every reason.
        reasons: Vec<Mismatch>,
    },
    /// A credential query is not answered (query without `credential_sets`).
    #[error("credential query {0:?} is not answered")]
    CredentialQueryUnanswered(String),
    /// A required credential set is not met.
    #[error("required credential set {0} is not met")]
    RequiredSetUnmet(usize),
}

fn join(reasons: &[Mismatch]) -> String {
    reasons
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Checks the disclosed contents of a response against `query` (see the module docs).
pub fn check_response(
    query: &DcqlQuery,
    presented: &[(String, Vec<PresentedCredential>)],
) -> Result<Satisfaction, Unsatisfied> {
    let mut answered = Vec::with_capacity(presented.len());
    for (query_id, items) in presented {
        let q = query
            .credential(query_id)
            .ok_or_else(|| Unsatisfied::UnknownCredentialQuery(query_id.clone()))?;
        if items.is_empty() {
            return Err(Unsatisfied::NoPresentation(query_id.clone()));
        }
        if items.len() > 1 && !q.multiple {
            return Err(Unsatisfied::MultipleNotAllowed {
                query_id: query_id.clone(),
                count: items.len(),
            });
        }
        let mut claim_sets = Vec::with_capacity(items.len());
        for (index, p) in items.iter().enumerate() {
            let subject = Subject {
                kind: &p.kind,
                holder_binding: p.holder_bound,
                authorities: None,
            };
            let reasons = check_credential(q, &subject);
            if !reasons.is_empty() {
                return Err(Unsatisfied::CredentialMismatch {
                    query_id: query_id.clone(),
                    index,
                    reasons,
                });
            }
            let eval = evaluate_claims(q, &p.claims);
            let Some(&first) = eval.satisfied.first() else {
                return Err(Unsatisfied::CredentialMismatch {
                    query_id: query_id.clone(),
                    index,
                    reasons: eval.mismatches(q),
                });
            };
            claim_sets.push(q.claim_sets.is_some().then_some(first));
        }
        answered.push((query_id.clone(), claim_sets));
    }
    let is_answered = |id: &str| answered.iter().any(|(a, _)| a == id);
    let sets = evaluate_sets(query, &is_answered);
    match query.credential_sets() {
        None => {
            if let Some(q) = query.credentials().iter().find(|q| !is_answered(&q.id)) {
                return Err(Unsatisfied::CredentialQueryUnanswered(q.id.clone()));
            }
        }
        Some(_) => {
            if let Some(s) = sets.iter().find(|s| s.required && !s.is_satisfied()) {
                return Err(Unsatisfied::RequiredSetUnmet(s.index));
            }
        }
    }
    Ok(Satisfaction { answered, sets })
}
