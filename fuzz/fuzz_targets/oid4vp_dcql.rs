//! DCQL: arbitrary JSON as a query, evaluated wallet-side against a fixed credential and
//! verifier-side against its disclosed claims; must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oid4vp::dcql::{
    ClaimPath, CredentialType, DcqlQuery, HolderCredential, PresentedCredential, check_response,
    match_query,
};
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = DcqlQuery::from_json(data) else {
        return;
    };
    let _ = DcqlQuery::from_value(&query.to_value());
    let claims = json!({"role": "student", "course": "x", "nested": {"a": [1, {"b": true}]},
                        "list": ["p", "q"]});
    let held = HolderCredential::sd_jwt_vc(
        "urn:t",
        claims.clone(),
        vec![ClaimPath::keys(["role"]), ClaimPath::keys(["nested"])],
    );
    let m = match_query(&query, &[held]);
    let _ = m.explain();
    if let Some(sel) = m.preferred_selection(true) {
        let _ = m.plan(&sel);
    }
    let presented: Vec<(String, Vec<PresentedCredential>)> = query
        .credentials()
        .iter()
        .map(|c| {
            (
                c.id.clone(),
                vec![PresentedCredential {
                    kind: CredentialType::sd_jwt_vc("urn:t"),
                    claims: claims.clone(),
                    holder_bound: true,
                }],
            )
        })
        .collect();
    let _ = check_response(&query, &presented);
});
