//! The demo credential configuration served under `--mode=all` (or with `demo = true`):
//! the "IMMERSE classroom pass", an SD-JWT VC a school issues to the people of a course —
//! given and family name, affiliation, role and course (all required), date of birth
//! (optional) — every claim selectively disclosable. The verifier's demo policy asks for
//! `role` and `course` of this `vct`.

use crate::config::{
    ClaimConfig, ClaimDisplay, CredentialConfig, CredentialDisplay, Disclosure, IssuerConfig,
};
use jose::Algorithm;
use std::time::Duration;

/// Configuration id of the demo credential.
pub const CLASSROOM_PASS_ID: &str = "immerse_classroom_pass";
/// Its `vct`.
pub const CLASSROOM_PASS_VCT: &str = "urn:symbolon:immerse:classroom-pass:1";

fn claim(name: &str, mandatory: bool, en: &str, de: &str) -> ClaimConfig {
    ClaimConfig {
        path: vec![name.to_owned()],
        mandatory,
        sd: Disclosure::Always,
        display: vec![
            ClaimDisplay {
                name: en.to_owned(),
                locale: Some("en-US".into()),
            },
            ClaimDisplay {
                name: de.to_owned(),
                locale: Some("de-DE".into()),
            },
        ],
    }
}

/// The classroom pass configuration.
pub fn classroom_pass() -> CredentialConfig {
    CredentialConfig {
        vct: CLASSROOM_PASS_VCT.to_owned(),
        scope: CLASSROOM_PASS_ID.to_owned(),
        validity: Duration::from_secs(180 * 24 * 3600),
        proof_algorithms: vec![Algorithm::Es256],
        display: vec![
            CredentialDisplay {
                name: "IMMERSE classroom pass".into(),
                locale: Some("en-US".into()),
                description: Some("Admits its holder to an immersive classroom course".into()),
                background_color: Some("#12355b".into()),
                text_color: Some("#ffffff".into()),
                ..CredentialDisplay::default()
            },
            CredentialDisplay {
                name: "IMMERSE Kursausweis".into(),
                locale: Some("de-DE".into()),
                description: Some("Zutritt zu einem immersiven Kurs".into()),
                background_color: Some("#12355b".into()),
                text_color: Some("#ffffff".into()),
                ..CredentialDisplay::default()
            },
        ],
        claims: vec![
            claim("given_name", true, "Given name", "Vorname"),
            claim("family_name", true, "Family name", "Nachname"),
            claim("affiliation", true, "Affiliation", "Einrichtung"),
            claim("role", true, "Role", "Rolle"),
            claim("course", true, "Course", "Kurs"),
            claim("birthdate", false, "Date of birth", "Geburtsdatum"),
        ],
    }
}

/// Adds the classroom pass (unless a configuration of that id exists) and names the
/// issuer when it has no display name.
pub fn add_classroom_pass(config: &mut IssuerConfig) {
    config
        .credentials
        .entry(CLASSROOM_PASS_ID.to_owned())
        .or_insert_with(classroom_pass);
    if config.display_name.is_none() {
        config.display_name = Some("Symbolon demo school".into());
    }
}

/// Example claims for an offer of the classroom pass (docs, tests, load generation).
pub fn example_claims() -> serde_json::Map<String, serde_json::Value> {
    let serde_json::Value::Object(m) = serde_json::json!({
        "given_name": "Erika",
        "family_name": "Mustermann",
        "affiliation": "Symbolon demo school",
        "role": "student",
        "course": "Immersive chemistry 101",
        "birthdate": "2004-08-12"
    }) else {
        return serde_json::Map::new();
    };
    m
}
