//! The evaluation both sides share: does one credential answer one credential query, and
//! with which claims; is a set of answered credential queries enough for the credential
//! sets (OpenID4VP 1.0 §6.4).
//!
//! The wallet runs it over everything the holder has, with the full claims of each
//! credential; the verifier runs it over what was presented, with only the disclosed
//! claims. The rules are the same; what differs is the input and what each side does with
//! the outcome.

use std::fmt;

use serde_json::Value;

use super::path::{ClaimPath, PathError};
use super::query::{CredentialQuery, DcqlQuery, Meta};

/// What a credential is, as far as DCQL `format` and `meta` are concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialType {
    /// An SD-JWT VC: its `vct`, plus the types it extends (from type metadata, §6.1
    /// "MAY return Credentials that inherit from any of the specified types"), if the
    /// holder resolved them.
    SdJwtVc {
        /// The `vct` claim.
        vct: String,
        /// Types `vct` extends, nearest first.
        extends: Vec<String>,
    },
    /// An ISO mdoc with its document type.
    MsoMdoc {
        /// `docType`.
        doctype: String,
    },
    /// Another format, matched on the format identifier alone.
    Other {
        /// The format identifier.
        format: String,
    },
}

impl CredentialType {
    /// An SD-JWT VC of type `vct` that extends nothing the holder knows of.
    pub fn sd_jwt_vc(vct: impl Into<String>) -> Self {
        CredentialType::SdJwtVc {
            vct: vct.into(),
            extends: Vec::new(),
        }
    }

    /// The format identifier.
    pub fn format(&self) -> &str {
        match self {
            CredentialType::SdJwtVc { .. } => super::query::FORMAT_SD_JWT_VC,
            CredentialType::MsoMdoc { .. } => super::query::FORMAT_MSO_MDOC,
            CredentialType::Other { format } => format,
        }
    }
}

/// A trusted authority a credential can be traced to, in the terms of a Trusted
/// Authorities Query (§6.1.1): e.g. `("aki", "<base64url key id>")` for each certificate
/// of the issuer's chain, or `("openid_federation", "<trust anchor>")`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedAuthority {
    /// `aki`, `etsi_tl`, `openid_federation` or another type.
    pub kind: String,
    /// The value in that type's encoding.
    pub value: String,
}

/// Why a credential does not answer a credential query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// The credential has another format.
    Format {
        /// The query's format.
        requested: String,
        /// The credential's format.
        found: String,
    },
    /// The SD-JWT VC `vct` (or mdoc doctype) is not one the query accepts.
    Type {
        /// The credential's type.
        found: String,
    },
    /// The query requires cryptographic holder binding and the credential has none.
    HolderBindingUnavailable,
    /// The credential matches none of the query's trusted authorities.
    UntrustedAuthority,
    /// A requested claim is not in the credential (or its path does not fit it).
    ClaimMissing {
        /// Index of the claims query.
        claim: usize,
        /// Its `id`, if any.
        id: Option<String>,
        /// The claims path pointer, as JSON.
        path: String,
        /// Why processing the path found nothing.
        reason: PathError,
    },
    /// A requested claim is present but none of its values is in `values`.
    ClaimValueNotAccepted {
        /// Index of the claims query.
        claim: usize,
        /// Its `id`, if any.
        id: Option<String>,
        /// The claims path pointer, as JSON.
        path: String,
    },
    /// `claim_sets` is present and no set is satisfied in full (the claim-level mismatches
    /// say what is missing).
    NoClaimSetSatisfied,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Format { requested, found } => {
                write!(f, "format {found} is not the requested {requested}")
            }
            Mismatch::Type { found } => write!(f, "type {found:?} was not requested"),
            Mismatch::HolderBindingUnavailable => {
                f.write_str("holder binding is required but the credential has no holder key")
            }
            Mismatch::UntrustedAuthority => {
                f.write_str("the issuer matches none of the requested trusted authorities")
            }
            Mismatch::ClaimMissing { path, reason, .. } => {
                write!(f, "claim {path} is not available ({reason})")
            }
            Mismatch::ClaimValueNotAccepted { path, .. } => {
                write!(f, "claim {path} does not have one of the requested values")
            }
            Mismatch::NoClaimSetSatisfied => f.write_str("no claim set can be satisfied"),
        }
    }
}

/// The outcome of one claims query against one credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ClaimOutcome {
    /// The concrete claims selected (values filtered by `values`).
    Found(Vec<ClaimPath>),
    /// Why not.
    Missing(Mismatch),
}

/// How one credential answers one credential query: per claim set alternative (most
/// preferred first) whether it is satisfied, and the selected concrete claims.
#[derive(Clone, Debug)]
pub(crate) struct Evaluation {
    pub(crate) claims: Vec<ClaimOutcome>,
    /// Indices into the query's alternatives that are satisfied, in preference order.
    pub(crate) satisfied: Vec<usize>,
    /// Alternatives as claim indices (see [`CredentialQuery::claim_alternatives`]).
    pub(crate) alternatives: Vec<Vec<usize>>,
}

pub(crate) struct Subject<'a> {
    pub(crate) kind: &'a CredentialType,
    pub(crate) holder_binding: bool,
    /// `None`: do not evaluate `trusted_authorities` (the verifier decides trust itself).
    pub(crate) authorities: Option<&'a [TrustedAuthority]>,
}

/// The credential-level checks (format, type, holder binding, authorities).
pub(crate) fn check_credential(q: &CredentialQuery, s: &Subject<'_>) -> Vec<Mismatch> {
    let mut out = Vec::new();
    if q.format() != s.kind.format() {
        out.push(Mismatch::Format {
            requested: q.format().to_owned(),
            found: s.kind.format().to_owned(),
        });
        return out;
    }
    match (&q.meta, s.kind) {
        (Meta::SdJwtVc { vct_values }, CredentialType::SdJwtVc { vct, extends }) => {
            let accepted = vct_values
                .iter()
                .any(|v| v == vct || extends.iter().any(|e| e == v));
            if !accepted {
                out.push(Mismatch::Type { found: vct.clone() });
            }
        }
        (Meta::MsoMdoc { doctype_value }, CredentialType::MsoMdoc { doctype })
            if doctype_value != doctype =>
        {
            out.push(Mismatch::Type {
                found: doctype.clone(),
            });
        }
        _ => {}
    }
    if q.require_cryptographic_holder_binding && !s.holder_binding {
        out.push(Mismatch::HolderBindingUnavailable);
    }
    if let (Some(tas), Some(have)) = (&q.trusted_authorities, s.authorities) {
        let ok = tas.iter().any(|t| {
            have.iter()
                .any(|h| h.kind == t.kind && t.values.contains(&h.value))
        });
        if !ok {
            out.push(Mismatch::UntrustedAuthority);
        }
    }
    out
}

/// Evaluates every claims query and every alternative.
pub(crate) fn evaluate_claims(q: &CredentialQuery, claims_root: &Value) -> Evaluation {
    let claims: Vec<ClaimOutcome> = q
        .claims
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, cq)| {
            let path = cq.path.to_string();
            match cq.path.select(claims_root) {
                Err(reason) => ClaimOutcome::Missing(Mismatch::ClaimMissing {
                    claim: i,
                    id: cq.id.clone(),
                    path,
                    reason,
                }),
                Ok(selected) => {
                    let accepted: Vec<ClaimPath> = selected
                        .into_iter()
                        .filter(|s| cq.accepts(s.value))
                        .map(|s| s.path)
                        .collect();
                    if accepted.is_empty() {
                        ClaimOutcome::Missing(Mismatch::ClaimValueNotAccepted {
                            claim: i,
                            id: cq.id.clone(),
                            path,
                        })
                    } else {
                        ClaimOutcome::Found(accepted)
                    }
                }
            }
        })
        .collect();
    let alternatives = q.claim_alternatives();
    let satisfied = alternatives
        .iter()
        .enumerate()
        .filter(|(_, alt)| {
            alt.iter()
                .all(|i| matches!(claims.get(*i), Some(ClaimOutcome::Found(_))))
        })
        .map(|(i, _)| i)
        .collect();
    Evaluation {
        claims,
        satisfied,
        alternatives,
    }
}

impl Evaluation {
    /// The mismatches to report when no alternative is satisfied.
    pub(crate) fn mismatches(&self, q: &CredentialQuery) -> Vec<Mismatch> {
        let mut out: Vec<Mismatch> = self
            .claims
            .iter()
            .filter_map(|c| match c {
                ClaimOutcome::Missing(m) => Some(m.clone()),
                ClaimOutcome::Found(_) => None,
            })
            .collect();
        if q.claim_sets.is_some() {
            out.push(Mismatch::NoClaimSetSatisfied);
        }
        out
    }

    /// The concrete claims of alternative `alt`.
    pub(crate) fn paths_of(&self, alt: usize) -> Vec<(usize, Vec<ClaimPath>)> {
        self.alternatives
            .get(alt)
            .into_iter()
            .flatten()
            .filter_map(|i| match self.claims.get(*i) {
                Some(ClaimOutcome::Found(p)) => Some((*i, p.clone())),
                _ => None,
            })
            .collect()
    }
}

/// How one Credential Set Query fares given which credential query ids can be answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetOutcome {
    /// Index of the set in `credential_sets`.
    pub index: usize,
    /// Whether the set is required.
    pub required: bool,
    /// Per option (in the query's order): the ids that cannot be answered (empty: the
    /// option is satisfiable).
    pub missing: Vec<Vec<String>>,
}

impl SetOutcome {
    /// The first satisfiable option, if any.
    pub fn first_satisfied(&self) -> Option<usize> {
        self.missing.iter().position(Vec::is_empty)
    }

    /// Whether any option is satisfiable.
    pub fn is_satisfied(&self) -> bool {
        self.first_satisfied().is_some()
    }
}

/// Evaluates the credential sets (§6.4.2) given a predicate "this credential query id
/// can be answered". Without `credential_sets`, every credential query forms one
/// required set with one option.
pub(crate) fn evaluate_sets(query: &DcqlQuery, answered: &dyn Fn(&str) -> bool) -> Vec<SetOutcome> {
    let outcome = |index: usize, required: bool, options: &[Vec<String>]| SetOutcome {
        index,
        required,
        missing: options
            .iter()
            .map(|o| o.iter().filter(|id| !answered(id)).cloned().collect())
            .collect(),
    };
    match query.credential_sets() {
        Some(sets) => sets
            .iter()
            .enumerate()
            .map(|(i, s)| outcome(i, s.required, &s.options))
            .collect(),
        None => {
            let all: Vec<String> = query.credentials().iter().map(|c| c.id.clone()).collect();
            vec![outcome(0, true, std::slice::from_ref(&all))]
        }
    }
}
