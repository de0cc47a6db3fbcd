//! The demo relying party's policy: the "immersive classroom" asks for `role` and
//! `course` of the IMMERSE classroom pass the issuer serves under `--mode=all`. The
//! binary adds it to the `[verifier]` section when the demo is on; the demo page that
//! uses it is served by `routes/demo.rs`. Kept out of [`crate::config`] so the
//! production configuration holds no demo code.

use oid4vp::dcql::{ClaimsPathPointer, DcqlQuery};
use serde_json::Value;
use service::config::ConfigError;

use crate::config::{IssuerConfig, PolicyConfig, VerifierConfig};
use crate::transaction::Flow;

/// The vct of the demo "IMMERSE classroom pass" the issuer serves under `--mode=all`.
pub const CLASSROOM_PASS_VCT: &str = "urn:symbolon:immerse:classroom-pass:1";
/// The name of the demo policy.
pub const CLASSROOM_POLICY: &str = "immersive-classroom";

/// The DCQL query of the demo policy: the classroom pass with `role` and `course`.
pub fn classroom_query() -> Value {
    serde_json::json!({
        "credentials": [{
            "id": "classroom_pass",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": [CLASSROOM_PASS_VCT]},
            "claims": [
                {"path": ["role"]},
                {"path": ["course"]}
            ]
        }]
    })
}

/// Adds the demo policy ([`CLASSROOM_POLICY`]) trusting `issuer` (inserted as a trusted
/// issuer entry under `issuer_name`), unless a policy of that name is configured.
pub fn add_classroom_policy(
    config: &mut VerifierConfig,
    issuer_name: &str,
    issuer: IssuerConfig,
    success_redirect: Option<String>,
) -> Result<(), ConfigError> {
    if config.policies.contains_key(CLASSROOM_POLICY) {
        return Ok(());
    }
    config
        .issuers
        .entry(issuer_name.to_owned())
        .or_insert(issuer);
    let query = DcqlQuery::from_value(&classroom_query()).map_err(|_| ConfigError::Missing {
        key: format!("policies.{CLASSROOM_POLICY}.dcql_query"),
        reason: "the demo policy's query must parse",
    })?;
    let mut policy = PolicyConfig {
        description: Some(
            "IMMERSE immersive classroom: role and course from the classroom pass".into(),
        ),
        dcql_query: query,
        essential_claims: ["role", "course"]
            .into_iter()
            .filter_map(|c| ClaimsPathPointer::keys([c]))
            .collect(),
        trusted_issuers: vec![issuer_name.to_owned()],
        kb_max_age: None,
        success_redirect,
        require_status: false,
        flow: Flow::CrossDevice,
    };
    policy.validate(CLASSROOM_POLICY, config.kb_max_age, &config.issuers)?;
    config.policies.insert(CLASSROOM_POLICY.to_owned(), policy);
    Ok(())
}
