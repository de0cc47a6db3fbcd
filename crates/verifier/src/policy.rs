//! Presentation policies at run time: the DCQL query, the essential claims, the trusted
//! issuers (built once from configuration), the KB-JWT age limit and the success
//! redirect.

use std::sync::Arc;

use oid4vp::dcql::{ClaimsPathPointer, DcqlQuery};

use crate::trust::TrustedIssuer;

/// One presentation policy.
#[derive(Debug)]
pub struct Policy {
    /// Its name (the `policy` of `POST /transactions`).
    pub name: String,
    /// Shown to people.
    pub description: Option<String>,
    /// The query sent by default.
    pub query: DcqlQuery,
    /// Claims that must be disclosed; they alone go into the session token.
    pub essential: Vec<ClaimsPathPointer>,
    /// The issuers whose credentials are accepted.
    pub trust: Vec<Arc<TrustedIssuer>>,
    /// Oldest accepted KB-JWT, seconds.
    pub kb_max_age: u64,
    /// Where the holder's browser goes on success (`#response_code=…` appended).
    pub success_redirect: Option<String>,
    /// Credentials without a status reference are refused.
    pub require_status: bool,
    /// The flow of transactions that name none.
    pub flow: crate::transaction::Flow,
}

impl Policy {
    /// Whether `query` requests every essential claim (an RP-supplied query must, or the
    /// policy could never be met).
    pub fn query_covers_essentials(&self, query: &DcqlQuery) -> bool {
        self.essential.iter().all(|e| {
            query
                .credentials()
                .iter()
                .any(|c| c.claims.iter().flatten().any(|q| &q.path == e))
        })
    }
}
