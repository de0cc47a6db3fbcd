//! Issuance frames (objects, arrays, recursion, decoys) and presentation selection rules,
//! with `rejects_*` tests for frame paths, reserved input names and selections.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use jose::{Algorithm, FixedClock, Signer, SoftwareSigner, VerifyingKey};
use sd_jwt::{
    ClaimPath, Decoys, Frame, IssueError, IssueOptions, Issued, KeyBinding, Limits, PresentError,
    SdJwt, SeededSalts, VerifyError, VerifyOptions,
};
use serde_json::{Map, Value, json};

fn p(s: &str) -> ClaimPath {
    ClaimPath::parse(s).unwrap()
}

fn input() -> Map<String, Value> {
    obj(json!({
        "iss": "https://issuer.example",
        "given_name": "Erika",
        "address": {"street_address": "Heidestrasse 17", "locality": "Koeln", "country": "DE"},
        "nationalities": ["DE", "FR", "US"],
        "degrees": [{"type": "BSc", "year": 2001}, {"type": "MSc", "year": 2003}]
    }))
}

struct Env {
    issuer: SoftwareSigner,
}

impl Env {
    fn new() -> Self {
        Env {
            issuer: SoftwareSigner::generate(Algorithm::Es256)
                .unwrap()
                .with_kid("k1"),
        }
    }
    fn issue(&self, frame: &Frame) -> Result<Issued, IssueError> {
        sd_jwt::issue(
            input(),
            frame,
            &self.issuer,
            &SeededSalts::new(11),
            &IssueOptions::default(),
        )
    }
    fn verify(&self, text: &str) -> sd_jwt::Verified {
        let clock = FixedClock(1_800_000_000);
        let key = VerifyingKey::from_jwk(self.issuer.public_jwk()).unwrap();
        sd_jwt::verify(
            text,
            &key,
            &VerifyOptions::new(ES256, KeyBinding::Forbidden, &clock),
        )
        .unwrap()
    }
    fn present(&self, issued: &Issued, select: &[&str], subtree: &[&str]) -> Map<String, Value> {
        let sd = SdJwt::parse_issued(issued.as_str(), &Limits::DEFAULT).unwrap();
        let mut pr = sd.presenter().unwrap();
        for s in select {
            pr.select(&p(s)).unwrap();
        }
        for s in subtree {
            pr.select_subtree(&p(s)).unwrap();
        }
        self.verify(&pr.sd_jwt()).into_claims()
    }
}

#[test]
fn issues_sorted_sd_arrays_with_decoys_and_sd_alg() {
    let env = Env::new();
    let frame = Frame::from_paths([
        p("given_name"),
        p("address"),
        p("address.locality"),
        p("nationalities[1]"),
    ])
    .with_decoys(Decoys {
        per_object: 3,
        per_array: 2,
    });
    let issued = env.issue(&frame).unwrap();
    let sd = SdJwt::parse_issued(issued.as_str(), &Limits::DEFAULT).unwrap();
    let c = sd.unverified_claims();
    assert_eq!(c["_sd_alg"], "sha-256");
    let top: Vec<&str> = c["_sd"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(top.len(), 2 + 3);
    assert!(top.windows(2).all(|w| w[0] < w[1]), "sorted");
    assert_eq!(c["nationalities"].as_array().unwrap().len(), 3 + 2);
    assert_eq!(sd.disclosures().len(), 4);
    assert_eq!(sd.issuer_header().kid(), Some("k1"));
    for d in sd.disclosures() {
        assert_eq!(
            jose::b64::decode(d.salt()).unwrap().len(),
            16,
            "128-bit salt"
        );
    }
    // The address Disclosure carries the digest of locality plus decoys.
    let addr = sd
        .disclosures()
        .iter()
        .find(|d| d.name() == Some("address"))
        .unwrap();
    assert_eq!(addr.value()["_sd"].as_array().unwrap().len(), 1 + 3);
    assert_eq!(addr.value()["country"], "DE");
    // The holder sees everything, decoys removed.
    let all = env.present(&issued, &[], &["given_name", "address", "nationalities"]);
    assert_eq!(Value::Object(all), Value::Object(input()));
}

#[test]
fn issues_without_disclosable_claims_as_a_plain_sd_jwt() {
    let env = Env::new();
    let issued = env.issue(&Frame::new()).unwrap();
    assert!(issued.as_str().ends_with('~'));
    assert_eq!(issued.as_str().matches('~').count(), 1);
    let sd = SdJwt::parse_issued(issued.as_str(), &Limits::DEFAULT).unwrap();
    assert!(!sd.unverified_claims().contains_key("_sd"));
    assert!(!sd.unverified_claims().contains_key("_sd_alg"));
    assert_eq!(env.verify(issued.as_str()).claims(), &input());
}

#[test]
fn issues_with_typ_and_x5c_header() {
    let env = Env::new();
    let chain = vec![vec![0x30, 0x03, 0x02, 0x01, 0x01]];
    let options = IssueOptions {
        typ: Some("example+sd-jwt"),
        x5c: Some(&chain),
    };
    let issued = sd_jwt::issue(
        input(),
        &Frame::new(),
        &env.issuer,
        &SeededSalts::new(1),
        &options,
    )
    .unwrap();
    let sd = SdJwt::parse_issued(issued.as_str(), &Limits::DEFAULT).unwrap();
    assert_eq!(sd.issuer_header().typ(), Some("example+sd-jwt"));
    assert_eq!(sd.issuer_header().x5c().unwrap(), chain.as_slice());
}

#[test]
fn seeded_salts_make_issuance_reproducible() {
    let env = Env::new();
    let frame = Frame::from_paths([p("given_name"), p("nationalities[*]")]).with_decoys(Decoys {
        per_object: 1,
        per_array: 1,
    });
    let a = env.issue(&frame).unwrap();
    let b = env.issue(&frame).unwrap();
    let da: Vec<&str> = a.disclosures().iter().map(|d| d.as_str()).collect();
    let db: Vec<&str> = b.disclosures().iter().map(|d| d.as_str()).collect();
    assert_eq!(da, db);
    let pa = a.as_str().split('.').nth(1).unwrap();
    let pb = b.as_str().split('.').nth(1).unwrap();
    assert_eq!(pa, pb, "same payload");
}

#[test]
fn every_array_element_and_members_inside_elements() {
    let env = Env::new();
    let frame = Frame::from_paths([p("nationalities[*]"), p("degrees[*].type"), p("degrees[1]")]);
    let issued = env.issue(&frame).unwrap();
    assert_eq!(issued.disclosures().len(), 3 + 2 + 1);
    let c = env.present(
        &issued,
        &["nationalities[0]", "nationalities[2]", "degrees[0].type"],
        &[],
    );
    assert_eq!(c["nationalities"], json!(["DE", "US"]));
    // degrees[1] is itself disclosable and was not selected: it disappears.
    assert_eq!(c["degrees"], json!([{"type": "BSc", "year": 2001}]));
    let c = env.present(&issued, &["degrees[*].type"], &[]);
    assert_eq!(
        c["degrees"],
        json!([{"type": "BSc", "year": 2001}, {"type": "MSc", "year": 2003}])
    );
    assert_eq!(c["nationalities"], json!([]));
}

#[test]
fn selecting_a_nested_claim_brings_its_parents() {
    let env = Env::new();
    let frame = Frame::from_paths([p("address"), p("address.locality"), p("address.country")]);
    let issued = env.issue(&frame).unwrap();
    let c = env.present(&issued, &["address.locality"], &[]);
    assert_eq!(
        c["address"],
        json!({"street_address": "Heidestrasse 17", "locality": "Koeln"})
    );
}

#[test]
fn selecting_an_object_does_not_reveal_its_disclosable_members() {
    let env = Env::new();
    let frame = Frame::from_paths([p("address"), p("address.locality"), p("address.country")]);
    let issued = env.issue(&frame).unwrap();
    let c = env.present(&issued, &["address"], &[]);
    assert_eq!(c["address"], json!({"street_address": "Heidestrasse 17"}));
    let c = env.present(&issued, &[], &["address"]);
    assert_eq!(c["address"], input()["address"]);
}

#[test]
fn selecting_plaintext_claims_discloses_nothing_more() {
    let env = Env::new();
    let issued = env.issue(&Frame::from_paths([p("given_name")])).unwrap();
    let sd = SdJwt::parse_issued(issued.as_str(), &Limits::DEFAULT).unwrap();
    let mut pr = sd.presenter().unwrap();
    pr.select(&p("iss"))
        .unwrap()
        .select(&p("address.locality"))
        .unwrap();
    assert_eq!(pr.selected().count(), 0);
    assert_eq!(pr.all_claims(), &input());
    pr.select_all();
    assert_eq!(pr.selected().count(), 1);
    pr.clear();
    assert_eq!(pr.sd_jwt(), format!("{}~", sd.issuer_jwt()));
}

#[test]
fn into_presenter_gives_the_same_presentation() {
    let env = Env::new();
    let issued = env
        .issue(&Frame::from_paths([
            p("given_name"),
            p("address"),
            p("address.locality"),
        ]))
        .unwrap();
    let sd = SdJwt::parse_issued(issued.as_str(), &Limits::DEFAULT).unwrap();
    let mut a = sd.presenter().unwrap();
    a.select(&p("address.locality")).unwrap();
    let mut b = sd.clone().into_presenter().unwrap();
    b.select(&p("address.locality")).unwrap();
    assert_eq!(a.sd_jwt(), b.sd_jwt());
    let paths: Vec<String> = b.disclosable().map(ToString::to_string).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(sorted, ["address", "address.locality", "given_name"]);
    let pos = |x: &str| paths.iter().position(|q| q == x).unwrap();
    assert!(pos("address") < pos("address.locality"), "parents first");
}

#[test]
fn rejects_selection_of_a_claim_that_does_not_exist() {
    let env = Env::new();
    let issued = env.issue(&Frame::from_paths([p("given_name")])).unwrap();
    let sd = SdJwt::parse_issued(issued.as_str(), &Limits::DEFAULT).unwrap();
    let mut pr = sd.presenter().unwrap();
    for missing in [
        "family_name",
        "address.zip",
        "nationalities[3]",
        "given_name.x",
        "address[0]",
        "nationalities.x",
    ] {
        let e = pr.select(&p(missing)).unwrap_err();
        assert!(
            matches!(e, PresentError::ClaimNotFound(ref q) if *q == p(missing)),
            "{missing}: {e:?}"
        );
    }
    let e = pr.select_subtree(&p("nope")).unwrap_err();
    assert!(matches!(e, PresentError::ClaimNotFound(_)), "{e:?}");
}

#[test]
fn rejects_presenting_a_stored_sd_jwt_that_breaks_the_rules() {
    let issuer = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let d = disc(r#"["s","given_name","x"]"#);
    let text = craft(
        &issuer,
        None,
        &json!({"_sd": [digest(&d)], "given_name": "y"}),
        &[&d],
    );
    let sd = SdJwt::parse_issued(&text, &Limits::DEFAULT).unwrap();
    let e = sd.presenter().unwrap_err();
    assert!(
        matches!(e, PresentError::Invalid(VerifyError::ClaimAlreadyExists(_))),
        "{e:?}"
    );
}

#[test]
fn rejects_frame_paths_that_name_no_claim() {
    let env = Env::new();
    for path in [
        "family_name",
        "address.zip",
        "nationalities[3]",
        "given_name.first",
        "address[0]",
        "nationalities.first",
        "degrees[*].grade",
        "given_name[*]",
    ] {
        let e = env.issue(&Frame::new().with(p(path))).unwrap_err();
        assert!(matches!(e, IssueError::PathNotFound(_)), "{path}: {e:?}");
    }
    let e = env.issue(&Frame::new().with(p("address.zip"))).unwrap_err();
    assert!(
        matches!(e, IssueError::PathNotFound(ref q) if *q == p("address.zip")),
        "{e:?}"
    );
    let e = env.issue(&Frame::new().with(p("[0]"))).unwrap_err();
    assert!(matches!(e, IssueError::PathNotFound(_)), "{e:?}");
}

#[test]
fn rejects_reserved_names_in_issuance_input() {
    let env = Env::new();
    for bad in [
        json!({"_sd": []}),
        json!({"a": {"...": "x"}}),
        json!({"a": [{"_sd_alg": "sha-256"}]}),
    ] {
        let mut c = input();
        c.extend(bad.as_object().unwrap().clone());
        let e = sd_jwt::issue(
            c,
            &Frame::new(),
            &env.issuer,
            &SeededSalts::new(1),
            &IssueOptions::default(),
        )
        .unwrap_err();
        assert!(
            matches!(e, IssueError::ReservedClaimName(_)),
            "{bad}: {e:?}"
        );
    }
}

#[test]
fn reports_salt_source_failure_as_could_not_issue() {
    struct Broken;
    impl sd_jwt::SaltSource for Broken {
        fn fill(&self, _: &mut [u8]) -> Result<(), sd_jwt::SaltError> {
            Err(sd_jwt::SaltError)
        }
    }
    let env = Env::new();
    let e = sd_jwt::issue(
        input(),
        &Frame::new().with(p("given_name")),
        &env.issuer,
        &Broken,
        &IssueOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, IssueError::Salt(_)), "{e:?}");
}

#[test]
fn system_salts_issue_verifiable_credentials() {
    let env = Env::new();
    let issued = sd_jwt::issue(
        input(),
        &Frame::new().with(p("given_name")),
        &env.issuer,
        &sd_jwt::SystemSalts::new(),
        &IssueOptions::default(),
    )
    .unwrap();
    assert_eq!(
        env.present(&issued, &["given_name"], &[])["given_name"],
        "Erika"
    );
}
