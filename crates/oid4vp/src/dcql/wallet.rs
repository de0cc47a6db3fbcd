//! The wallet side of DCQL (OpenID4VP 1.0 §6.4): which of the holder's credentials can
//! answer a query, why the others cannot, and what to disclose for each way of answering.
//!
//! # Using it
//!
//! 1. Describe each credential the holder has as a [`HolderCredential`]: its type, every
//!    claim it can disclose as one JSON object (for an SD-JWT VC: the processed payload
//!    with all disclosures applied), the concrete paths that are selectively disclosable
//!    (each disclosure's position, e.g. `["address"]` and `["address", "locality"]`), and
//!    whether it has a holder key (`cnf`).
//! 2. [`match_query`] evaluates the query against them and returns a [`QueryMatch`]:
//!    per credential query the [`Candidate`]s (credentials that answer it, each with its
//!    [`DisclosureOption`]s, most preferred claim set first) and the [`Rejection`]s
//!    (credentials that do not, with every [`Mismatch`]); per credential
//!    set which options can be met.
//! 3. If [`QueryMatch::is_satisfiable`] is false, [`QueryMatch::explain`] says which
//!    required set cannot be met and why; the wallet answers `access_denied` (§8.5).
//! 4. Otherwise [`QueryMatch::preferred_selection`] picks the verifier's preferred
//!    answer (first satisfiable option of each required set, first candidate, first
//!    claim set). A wallet UI may let the holder choose other candidates, options or
//!    optional sets and build its own [`Selection`].
//! 5. [`QueryMatch::plan`] checks a selection against every rule (known candidates,
//!    `multiple`, every required set met, nothing outside the requested sets) and
//!    returns the [`PresentationPlan`]: per credential query id, which credential to
//!    present and which selectively disclosable paths to reveal. Nothing else may be
//!    disclosed (§6.4: "MUST NOT send selectively disclosable claims that have not been
//!    selected").
//!
//! Revealing a claim reveals the selectively disclosable claims that contain it (its
//! ancestors, which must be disclosed for it to be reachable) and those it contains (a
//! request for `["address"]` asks for the whole address).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use super::matching::{
    CredentialType, Evaluation, Mismatch, SetOutcome, Subject, TrustedAuthority, check_credential,
    evaluate_claims, evaluate_sets,
};
use super::path::ClaimPath;
use super::query::{CredentialQuery, DcqlQuery};

/// A credential as the wallet sees it for matching.
#[derive(Clone, Debug, PartialEq)]
pub struct HolderCredential {
    /// Format and type.
    pub kind: CredentialType,
    /// Every claim the holder can present, as one JSON object (disclosures applied).
    pub claims: Value,
    /// The concrete paths of the selectively disclosable claims.
    pub selectively_disclosable: Vec<ClaimPath>,
    /// Whether the credential is bound to a holder key (SD-JWT VC: has `cnf`).
    pub holder_binding: bool,
    /// The authorities the credential can be traced to, for `trusted_authorities`.
    pub authorities: Vec<TrustedAuthority>,
}

impl HolderCredential {
    /// An SD-JWT VC with holder binding and no known authorities.
    pub fn sd_jwt_vc(
        vct: impl Into<String>,
        claims: Value,
        selectively_disclosable: Vec<ClaimPath>,
    ) -> Self {
        HolderCredential {
            kind: CredentialType::sd_jwt_vc(vct),
            claims,
            selectively_disclosable,
            holder_binding: true,
            authorities: Vec::new(),
        }
    }

    /// The selectively disclosable paths to reveal so that each of `claims` is disclosed
    /// in full: their selectively disclosable ancestors, themselves, and their
    /// selectively disclosable descendants. Sorted, without duplicates.
    pub fn disclosures_for(&self, claims: &[ClaimPath]) -> Vec<ClaimPath> {
        let mut out = BTreeSet::new();
        for sd in &self.selectively_disclosable {
            if claims
                .iter()
                .any(|c| sd.is_prefix_of(c) || c.is_prefix_of(sd))
            {
                out.insert(sd.clone());
            }
        }
        out.into_iter().collect()
    }
}

/// One claim the verifier asked for, as found in a candidate credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedClaim {
    /// Index of the claims query in the credential query's `claims`.
    pub claim: usize,
    /// Its `id`, if any.
    pub id: Option<String>,
    /// The concrete claims it selects in this credential.
    pub paths: Vec<ClaimPath>,
}

/// One way a candidate credential can answer a credential query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisclosureOption {
    /// The index in `claim_sets` this option satisfies (`None` without `claim_sets`).
    pub claim_set: Option<usize>,
    /// The requested claims.
    pub requested: Vec<RequestedClaim>,
    /// The selectively disclosable paths to reveal (see [`HolderCredential::disclosures_for`]).
    pub disclose: Vec<ClaimPath>,
}

/// A credential that answers a credential query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Index into the credentials given to [`match_query`].
    pub credential: usize,
    /// The ways it can answer, the verifier's preference first.
    pub options: Vec<DisclosureOption>,
}

/// A credential that does not answer a credential query, and every reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// Index into the credentials given to [`match_query`].
    pub credential: usize,
    /// Why not.
    pub reasons: Vec<Mismatch>,
}

/// The outcome for one credential query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialQueryMatch {
    /// The credential query's `id`.
    pub query_id: String,
    /// Its `multiple`.
    pub multiple: bool,
    /// Credentials that answer it.
    pub candidates: Vec<Candidate>,
    /// Credentials that do not, with reasons.
    pub rejected: Vec<Rejection>,
}

/// The result of evaluating a DCQL query against the holder's credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryMatch {
    queries: Vec<CredentialQueryMatch>,
    sets: Vec<SetOutcome>,
    /// Per set, its options (credential query ids), as in the query.
    set_options: Vec<Vec<Vec<String>>>,
    /// Per credential query id, `require_cryptographic_holder_binding`.
    binding: BTreeMap<String, bool>,
}

/// Evaluates `query` against `credentials`.
pub fn match_query(query: &DcqlQuery, credentials: &[HolderCredential]) -> QueryMatch {
    let queries: Vec<CredentialQueryMatch> = query
        .credentials()
        .iter()
        .map(|q| {
            let mut candidates = Vec::new();
            let mut rejected = Vec::new();
            for (index, c) in credentials.iter().enumerate() {
                let subject = Subject {
                    kind: &c.kind,
                    holder_binding: c.holder_binding,
                    authorities: Some(&c.authorities),
                };
                let mut reasons = check_credential(q, &subject);
                if !reasons.is_empty() {
                    rejected.push(Rejection {
                        credential: index,
                        reasons,
                    });
                    continue;
                }
                let eval = evaluate_claims(q, &c.claims);
                if eval.satisfied.is_empty() {
                    reasons = eval.mismatches(q);
                    rejected.push(Rejection {
                        credential: index,
                        reasons,
                    });
                    continue;
                }
                candidates.push(Candidate {
                    credential: index,
                    options: options_of(&eval, q, c),
                });
            }
            CredentialQueryMatch {
                query_id: q.id.clone(),
                multiple: q.multiple,
                candidates,
                rejected,
            }
        })
        .collect();
    let answerable = |id: &str| {
        queries
            .iter()
            .any(|m| m.query_id == id && !m.candidates.is_empty())
    };
    let sets = evaluate_sets(query, &answerable);
    let set_options = match query.credential_sets() {
        Some(sets) => sets.iter().map(|s| s.options.clone()).collect(),
        None => vec![vec![
            query.credentials().iter().map(|c| c.id.clone()).collect(),
        ]],
    };
    let binding = query
        .credentials()
        .iter()
        .map(|c| (c.id.clone(), c.require_cryptographic_holder_binding))
        .collect();
    QueryMatch {
        queries,
        sets,
        set_options,
        binding,
    }
}

fn options_of(
    eval: &Evaluation,
    q: &CredentialQuery,
    c: &HolderCredential,
) -> Vec<DisclosureOption> {
    let has_sets = q.claim_sets.is_some();
    eval.satisfied
        .iter()
        .map(|&alt| {
            let requested: Vec<RequestedClaim> = eval
                .paths_of(alt)
                .into_iter()
                .map(|(claim, paths)| RequestedClaim {
                    claim,
                    id: q
                        .claims
                        .as_ref()
                        .and_then(|cs| cs.get(claim))
                        .and_then(|cq| cq.id.clone()),
                    paths,
                })
                .collect();
            let all: Vec<ClaimPath> = requested.iter().flat_map(|r| r.paths.clone()).collect();
            DisclosureOption {
                claim_set: has_sets.then_some(alt),
                requested,
                disclose: c.disclosures_for(&all),
            }
        })
        .collect()
}

/// The holder's (or the default) choice: which credential answers which query, with
/// which option.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// The picks, one per presentation to send.
    pub picks: Vec<Pick>,
}

/// One presentation to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pick {
    /// The credential query id.
    pub query_id: String,
    /// Index of the credential (as given to [`match_query`]).
    pub credential: usize,
    /// Index into that candidate's [`Candidate::options`].
    pub option: usize,
}

/// What to present: per credential query, the credential and the disclosures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresentationPlan {
    /// In the order of the query's credential queries.
    pub presentations: Vec<PlannedPresentation>,
}

/// One presentation to build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedPresentation {
    /// The credential query id (the key in `vp_token`).
    pub query_id: String,
    /// Index of the credential.
    pub credential: usize,
    /// The selectively disclosable paths to reveal; nothing else.
    pub disclose: Vec<ClaimPath>,
    /// Whether a key binding proof is required (`require_cryptographic_holder_binding`).
    pub key_binding: bool,
}

/// Why a [`Selection`] cannot be sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    /// No credential query has this id.
    #[error("no credential query has the id {0:?}")]
    UnknownQuery(String),
    /// The credential does not answer the query.
    #[error("credential {credential} does not answer credential query {query_id:?}")]
    NotACandidate {
        /// The query id.
        query_id: String,
        /// The credential.
        credential: usize,
    },
    /// The candidate has no such option.
    #[error("credential {credential} has no option {option} for {query_id:?}")]
    UnknownOption {
        /// The query id.
        query_id: String,
        /// The credential.
        credential: usize,
        /// The option.
        option: usize,
    },
    /// The same credential is picked twice for one query.
    #[error("credential {credential} is picked twice for {query_id:?}")]
    DuplicatePick {
        /// The query id.
        query_id: String,
        /// The credential.
        credential: usize,
    },
    /// Several credentials for a query without `multiple`.
    #[error("credential query {0:?} allows one credential")]
    MultipleNotAllowed(String),
    /// A required credential set is not met (§6.4.2: then nothing may be returned).
    #[error("required credential set {0} is not met")]
    RequiredSetUnmet(usize),
    /// A pick belongs to no fully answered option of any credential set.
    #[error("credential query {0:?} is not part of a fully answered credential set option")]
    NotRequested(String),
}

impl QueryMatch {
    /// Per credential query, in the query's order.
    pub fn credential_queries(&self) -> &[CredentialQueryMatch] {
        &self.queries
    }

    /// Per credential set (one implicit required set of every query when the query has
    /// no `credential_sets`).
    pub fn credential_sets(&self) -> &[SetOutcome] {
        &self.sets
    }

    /// The outcome for one credential query.
    pub fn credential_query(&self, id: &str) -> Option<&CredentialQueryMatch> {
        self.queries.iter().find(|q| q.query_id == id)
    }

    /// Whether every required credential set can be met.
    pub fn is_satisfiable(&self) -> bool {
        self.sets
            .iter()
            .filter(|s| s.required)
            .all(SetOutcome::is_satisfied)
    }

    /// Why the query cannot be answered: every required set that cannot be met, with the
    /// reasons per option and per missing credential query. Empty when satisfiable.
    pub fn explain(&self) -> Vec<UnmetSet> {
        self.sets
            .iter()
            .filter(|s| s.required && !s.is_satisfied())
            .map(|s| UnmetSet {
                set: s.index,
                options: s
                    .missing
                    .iter()
                    .map(|ids| {
                        ids.iter()
                            .map(|id| UnansweredQuery {
                                query_id: id.clone(),
                                rejected: self
                                    .credential_query(id)
                                    .map(|q| q.rejected.clone())
                                    .unwrap_or_default(),
                            })
                            .collect()
                    })
                    .collect(),
            })
            .collect()
    }

    /// The verifier's preferred answer: for each required set (and each optional set when
    /// `include_optional`) its first satisfiable option; for each query in it the first
    /// candidate and its first option. `None` when not satisfiable.
    pub fn preferred_selection(&self, include_optional: bool) -> Option<Selection> {
        if !self.is_satisfiable() {
            return None;
        }
        let mut chosen: Vec<String> = Vec::new();
        for set in &self.sets {
            if !set.required && !include_optional {
                continue;
            }
            let Some(option) = set.first_satisfied() else {
                continue;
            };
            for id in self.option_ids(set.index, option) {
                if !chosen.contains(&id) {
                    chosen.push(id);
                }
            }
        }
        let picks = self
            .queries
            .iter()
            .filter(|q| chosen.contains(&q.query_id))
            .filter_map(|q| {
                q.candidates.first().map(|c| Pick {
                    query_id: q.query_id.clone(),
                    credential: c.credential,
                    option: 0,
                })
            })
            .collect();
        Some(Selection { picks })
    }

    fn option_ids(&self, set: usize, option: usize) -> Vec<String> {
        self.set_options
            .get(set)
            .and_then(|o| o.get(option))
            .cloned()
            .unwrap_or_default()
    }

    /// Checks `selection` and returns what to present.
    pub fn plan(&self, selection: &Selection) -> Result<PresentationPlan, SelectionError> {
        let mut by_query: BTreeMap<&str, Vec<&Pick>> = BTreeMap::new();
        for pick in &selection.picks {
            let q = self
                .credential_query(&pick.query_id)
                .ok_or_else(|| SelectionError::UnknownQuery(pick.query_id.clone()))?;
            let cand = q
                .candidates
                .iter()
                .find(|c| c.credential == pick.credential)
                .ok_or_else(|| SelectionError::NotACandidate {
                    query_id: pick.query_id.clone(),
                    credential: pick.credential,
                })?;
            if cand.options.get(pick.option).is_none() {
                return Err(SelectionError::UnknownOption {
                    query_id: pick.query_id.clone(),
                    credential: pick.credential,
                    option: pick.option,
                });
            }
            let entry = by_query.entry(q.query_id.as_str()).or_default();
            if entry.iter().any(|p| p.credential == pick.credential) {
                return Err(SelectionError::DuplicatePick {
                    query_id: pick.query_id.clone(),
                    credential: pick.credential,
                });
            }
            entry.push(pick);
            if entry.len() > 1 && !q.multiple {
                return Err(SelectionError::MultipleNotAllowed(pick.query_id.clone()));
            }
        }
        // Which set options the picks cover in full.
        let covered = |ids: &[String]| ids.iter().all(|id| by_query.contains_key(id.as_str()));
        for (set_index, set) in self.sets.iter().enumerate() {
            let options = self
                .set_options
                .get(set_index)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            if set.required && !options.iter().any(|o| covered(o)) {
                return Err(SelectionError::RequiredSetUnmet(set.index));
            }
        }
        for id in by_query.keys() {
            let in_covered_option = self
                .set_options
                .iter()
                .flatten()
                .any(|o| covered(o) && o.iter().any(|x| x == id));
            if !in_covered_option {
                return Err(SelectionError::NotRequested((*id).to_owned()));
            }
        }
        let mut presentations = Vec::new();
        for q in &self.queries {
            for pick in by_query.get(q.query_id.as_str()).into_iter().flatten() {
                let option = q
                    .candidates
                    .iter()
                    .find(|c| c.credential == pick.credential)
                    .and_then(|c| c.options.get(pick.option));
                if let Some(option) = option {
                    presentations.push(PlannedPresentation {
                        query_id: q.query_id.clone(),
                        credential: pick.credential,
                        disclose: option.disclose.clone(),
                        key_binding: self
                            .binding
                            .get(q.query_id.as_str())
                            .copied()
                            .unwrap_or(true),
                    });
                }
            }
        }
        Ok(PresentationPlan { presentations })
    }
}

/// A required credential set that cannot be met.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnmetSet {
    /// Index of the set (0 for the implicit set of a query without `credential_sets`).
    pub set: usize,
    /// Per option: the credential queries no credential answers, with the reasons.
    pub options: Vec<Vec<UnansweredQuery>>,
}

/// A credential query no credential answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnansweredQuery {
    /// The credential query id.
    pub query_id: String,
    /// Each credential the holder has, with why it does not answer (empty: the holder
    /// has no credential at all).
    pub rejected: Vec<Rejection>,
}

impl fmt::Display for UnmetSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "credential set {} cannot be met:", self.set)?;
        for (i, option) in self.options.iter().enumerate() {
            write!(f, " option {i}:")?;
            for q in option {
                if q.rejected.is_empty() {
                    write!(f, " {} (no credentials)", q.query_id)?;
                }
                for r in &q.rejected {
                    let reasons: Vec<String> = r.reasons.iter().map(ToString::to_string).collect();
                    write!(
                        f,
                        " {} (credential {}: {})",
                        q.query_id,
                        r.credential,
                        reasons.join("; ")
                    )?;
                }
            }
        }
        Ok(())
    }
}
