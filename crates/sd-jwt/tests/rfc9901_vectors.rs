//! RFC 9901 examples (§4.2, §5, §6, Appendix A): Disclosure digests recomputed from the
//! Disclosures as given, the Issuer-signed JWT payloads, the processed payloads rebuilt and
//! compared with the expected JSON, and the presentations verified with the Appendix A.5
//! Issuer key and the `cnf` Holder key. Vectors come from the text of
//! draft-ietf-oauth-selective-disclosure-jwt-22, the draft published as RFC 9901.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use jose::FixedClock;
use sd_jwt::{
    ClaimPath, Disclosure, KbExpectation, KbInput, KeyBinding, Limits, SdJwt, VerifyOptions,
};
use serde_json::{Map, Value, json};

const EXAMPLE_TYP: &[&str] = &["example+sd-jwt"];
const AUD: &str = "https://verifier.example.org";
const NONCE: &str = "1234567890";

fn check_digests(name: &str) {
    let list = vector_json(name);
    let list = list.as_array().unwrap();
    assert!(!list.is_empty());
    for item in list {
        let d = Disclosure::parse(item["disclosure"].as_str().unwrap(), 32).unwrap();
        assert_eq!(d.digest(), item["digest"].as_str().unwrap(), "{name}");
    }
}

/// All digests embedded in a payload (`_sd` entries and `...` array elements).
fn embedded_digests(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                match (k.as_str(), v) {
                    ("_sd", Value::Array(a)) => {
                        out.extend(a.iter().map(|d| d.as_str().unwrap().to_owned()));
                    }
                    ("...", Value::String(s)) => out.push(s.clone()),
                    _ => embedded_digests(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| embedded_digests(v, out)),
        _ => {}
    }
}

fn verify_presentation(
    text: &str,
    typ: &'static [&'static str],
    kb: KeyBinding<'_>,
    now: i64,
) -> sd_jwt::Verified {
    let clock = FixedClock(now);
    let options = VerifyOptions::new(ES256, kb, &clock).with_typ(typ);
    sd_jwt::verify(text, &spec_issuer_key(), &options).unwrap()
}

fn kb_required(max_age: u64) -> KeyBinding<'static> {
    KeyBinding::Required(KbExpectation::new(AUD, NONCE, ES256).with_max_age(max_age))
}

#[test]
fn rfc9901_4_2_disclosure_examples() {
    let d = Disclosure::parse(
        "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0",
        32,
    )
    .unwrap();
    assert_eq!(d.digest(), "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0");
    let d = Disclosure::parse("WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIkZSIl0", 32).unwrap();
    assert_eq!(d.digest(), "w0I8EKcdCtUPkGCNUrfwVp2xEgNjtoIDlOxc9-PlOhs");
}

#[test]
fn rfc9901_5_1_disclosure_digests() {
    check_digests("rfc9901_5_disclosures.json");
}

#[test]
fn rfc9901_5_1_issued_sd_jwt_payload_and_holder_view() {
    let issued = vector("rfc9901_5_issued.txt");
    let sd = SdJwt::parse_issued(&issued, &Limits::DEFAULT).unwrap();
    assert_eq!(
        sd.unverified_claims(),
        &vector_object("rfc9901_5_payload.json")
    );
    let listed = vector_json("rfc9901_5_disclosures.json");
    let listed: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["disclosure"].as_str().unwrap())
        .collect();
    let got: Vec<&str> = sd.disclosures().iter().map(Disclosure::as_str).collect();
    assert_eq!(got, listed);
    let v = verify_presentation(&issued, EXAMPLE_TYP, KeyBinding::Forbidden, 1_700_000_000);
    let c = v.claims();
    assert_eq!(c["nationalities"], json!(["US", "DE"]));
    assert_eq!(c["address"]["locality"], "Anytown");
    assert_eq!(c["updated_at"], 1_570_000_000);
    assert!(!c.contains_key("_sd") && !c.contains_key("_sd_alg"));
    assert_eq!(v.disclosed().len(), 10);
}

#[test]
fn rfc9901_5_2_presentation_verifies_with_key_binding() {
    let text = vector("rfc9901_5_presentation.txt");
    let kb = vector_json("rfc9901_5_kb_payload.json");
    let iat = kb["iat"].as_i64().unwrap();
    let v = verify_presentation(&text, EXAMPLE_TYP, kb_required(300), iat + 10);
    assert_eq!(v.claims(), &vector_object("rfc9901_5_processed.json"));
    let got = v.key_binding().unwrap();
    assert_eq!(got.claims(), kb.as_object().unwrap());
    assert_eq!(got.sd_hash(), kb["sd_hash"].as_str().unwrap());
    let disclosed: Vec<String> = v.disclosed().iter().map(ToString::to_string).collect();
    assert_eq!(disclosed.len(), 4);
    for p in ["given_name", "family_name", "address", "nationalities[0]"] {
        assert!(disclosed.iter().any(|d| d == p), "{p} in {disclosed:?}");
    }
}

#[test]
fn rfc9901_5_2_holder_recreates_an_equivalent_presentation() {
    let issued = vector("rfc9901_5_issued.txt");
    let sd = SdJwt::parse_issued(&issued, &Limits::DEFAULT).unwrap();
    let mut p = sd.presenter().unwrap();
    for path in ["given_name", "family_name", "address", "nationalities[0]"] {
        p.select(&ClaimPath::parse(path).unwrap()).unwrap();
    }
    let iat = 1_748_536_865;
    let text = p
        .with_key_binding(&KbInput::new(AUD, NONCE, iat), &spec_holder_signer())
        .unwrap();
    let v = verify_presentation(&text, EXAMPLE_TYP, kb_required(300), iat);
    assert_eq!(v.claims(), &vector_object("rfc9901_5_processed.json"));
}

fn digest_of(d: &str) -> String {
    sd_jwt::sha256_b64(d.as_bytes())
}

fn sign_payload_with_disclosures(payload: &Value, section: &str, wanted: &[&str]) -> String {
    let listed = vector_json(section);
    let mut disclosures: Vec<String> = Vec::new();
    for item in listed.as_array().unwrap() {
        let digest = item["digest"].as_str().unwrap();
        if wanted.contains(&digest) && !disclosures.iter().any(|d: &String| digest_of(d) == digest)
        {
            disclosures.push(item["disclosure"].as_str().unwrap().to_owned());
        }
    }
    let refs: Vec<&str> = disclosures.iter().map(String::as_str).collect();
    craft(
        &spec_issuer_signer(),
        Some("example+sd-jwt"),
        payload,
        &refs,
    )
}

fn section6_expected() -> Map<String, Value> {
    obj(json!({
        "iss": "https://issuer.example.com", "iat": 1683000000, "exp": 1883000000,
        "sub": "6c5c0a49-b589-431d-bae7-219122a9ec2c",
        "address": {"street_address": "Schulstr. 12", "locality": "Schulpforta",
                    "region": "Sachsen-Anhalt", "country": "DE"}
    }))
}

#[test]
fn rfc9901_6_disclosure_digests() {
    check_digests("rfc9901_6_disclosures.json");
}

#[test]
fn rfc9901_6_1_flat_sd_jwt_processes_to_the_input_claims() {
    let payload = vector_json("rfc9901_6_1_payload.json");
    let text = sign_payload_with_disclosures(
        &payload,
        "rfc9901_6_disclosures.json",
        &["fOBUSQvo46yQO-wRwXBcGqvnbKIueISEL961_Sjd4do"],
    );
    let v = verify_presentation(&text, EXAMPLE_TYP, KeyBinding::Forbidden, 1_700_000_000);
    assert_eq!(v.claims(), &section6_expected());
}

#[test]
fn rfc9901_6_2_structured_sd_jwt_processes_to_the_input_claims() {
    let payload = vector_json("rfc9901_6_2_payload.json");
    let mut wanted = Vec::new();
    embedded_digests(&payload, &mut wanted);
    let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let text = sign_payload_with_disclosures(&payload, "rfc9901_6_disclosures.json", &wanted);
    let v = verify_presentation(&text, EXAMPLE_TYP, KeyBinding::Forbidden, 1_700_000_000);
    assert_eq!(v.claims(), &section6_expected());
    assert_eq!(v.disclosed().len(), 4);
}

#[test]
fn rfc9901_6_3_recursive_sd_jwt_processes_to_the_input_claims() {
    let payload = vector_json("rfc9901_6_3_payload.json");
    let text = sign_payload_with_disclosures(
        &payload,
        "rfc9901_6_disclosures.json",
        &[
            "HvrKX6fPV0v9K_yCVFBiLFHsMaxcD_114Em6VT8x1lg",
            "9gjVuXtdFROCgRrtNcGUXmF65rdezi_6Er_j76kmYyM",
            "6vh9bq-zS4GKM_7GpggVbYzzu6oOGXrmNVGPHP75Ud0",
            "KURDPh4ZC19-3tiz-Df39V8eidy1oV3a3H1Da2N0g88",
            "WN9r9dCBJ8HTCsS2jKASxTjEyW5m5x65_Z_2ro2jfXM",
        ],
    );
    let v = verify_presentation(&text, EXAMPLE_TYP, KeyBinding::Forbidden, 1_700_000_000);
    assert_eq!(v.claims(), &section6_expected());
    assert_eq!(v.disclosed()[0].to_string(), "address");
    // Only the recursive parent: the address members stay hidden.
    let only_parent = sign_payload_with_disclosures(
        &payload,
        "rfc9901_6_disclosures.json",
        &["HvrKX6fPV0v9K_yCVFBiLFHsMaxcD_114Em6VT8x1lg"],
    );
    let v = verify_presentation(
        &only_parent,
        EXAMPLE_TYP,
        KeyBinding::Forbidden,
        1_700_000_000,
    );
    assert_eq!(v.claims()["address"], json!({}));
}

#[test]
fn rfc9901_a1_disclosure_digests() {
    check_digests("rfc9901_a1_disclosures.json");
}

#[test]
fn rfc9901_a1_presentation_processes_to_expected_payload_ignoring_decoys() {
    let text = vector("rfc9901_a1_presentation.txt");
    let sd = SdJwt::parse(&text, &Limits::DEFAULT).unwrap();
    assert_eq!(
        sd.unverified_claims(),
        &vector_object("rfc9901_a1_payload.json")
    );
    // The decoys are embedded and match no Disclosure.
    let mut embedded = Vec::new();
    embedded_digests(&vector_json("rfc9901_a1_payload.json"), &mut embedded);
    let listed = vector_json("rfc9901_a1_disclosures.json");
    for decoy in vector_json("rfc9901_a1_decoys.json").as_array().unwrap() {
        assert!(embedded.iter().any(|e| e == decoy.as_str().unwrap()));
        assert!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["digest"] != *decoy)
        );
    }
    let v = verify_presentation(&text, EXAMPLE_TYP, KeyBinding::Forbidden, 1_700_000_000);
    assert_eq!(v.claims(), &vector_object("rfc9901_a1_processed.json"));
}

#[test]
fn rfc9901_a1_all_disclosures_rebuild_the_input_claims() {
    let text = vector("rfc9901_a1_presentation.txt");
    let jwt = text.split('~').next().unwrap();
    let listed = vector_json("rfc9901_a1_disclosures.json");
    let mut full = format!("{jwt}~");
    for d in listed.as_array().unwrap() {
        full.push_str(d["disclosure"].as_str().unwrap());
        full.push('~');
    }
    let v = verify_presentation(&full, EXAMPLE_TYP, KeyBinding::Forbidden, 1_700_000_000);
    let expected = json!({
        "iss": "https://issuer.example.com", "iat": 1683000000, "exp": 1883000000,
        "sub": "6c5c0a49-b589-431d-bae7-219122a9ec2c",
        "given_name": "太郎", "family_name": "山田",
        "email": "\"unusual email address\"@example.jp",
        "phone_number": "+81-80-1234-5678",
        "address": {"street_address": "東京都港区芝公園４丁目２−８", "locality": "東京都",
                    "region": "港区", "country": "JP"},
        "birthdate": "1940-01-01"
    });
    assert_eq!(Value::Object(v.into_claims()), expected);
}

#[test]
fn rfc9901_a2_disclosure_digests() {
    check_digests("rfc9901_a2_disclosures.json");
}

#[test]
fn rfc9901_a2_complex_presentation_processes_to_expected_payload() {
    let text = vector("rfc9901_a2_presentation.txt");
    let sd = SdJwt::parse(&text, &Limits::DEFAULT).unwrap();
    assert_eq!(
        sd.unverified_claims(),
        &vector_object("rfc9901_a2_payload.json")
    );
    let v = verify_presentation(&text, EXAMPLE_TYP, KeyBinding::Forbidden, 1_700_000_000);
    assert_eq!(v.claims(), &vector_object("rfc9901_a2_processed.json"));
    let disclosed: Vec<String> = v.disclosed().iter().map(ToString::to_string).collect();
    assert!(disclosed.contains(&"verified_claims.verification.evidence[0].method".to_owned()));
}

#[test]
fn rfc9901_a3_disclosure_digests() {
    check_digests("rfc9901_a3_disclosures.json");
}

#[test]
fn rfc9901_a3_sd_jwt_vc_issued_and_presented() {
    let issued = vector("rfc9901_a3_issued.txt");
    let sd = SdJwt::parse_issued(&issued, &Limits::DEFAULT).unwrap();
    assert_eq!(
        sd.unverified_claims(),
        &vector_object("rfc9901_a3_payload.json")
    );
    let v = verify_presentation(
        &issued,
        &["dc+sd-jwt"],
        KeyBinding::Forbidden,
        1_700_000_000,
    );
    assert_eq!(v.claims()["age_equal_or_over"]["65"], false);
    assert_eq!(v.claims()["place_of_birth"]["locality"], "Berlin");
    let text = vector("rfc9901_a3_presentation.txt");
    let kb = vector_json("rfc9901_a3_kb_payload.json");
    let v = verify_presentation(
        &text,
        &["dc+sd-jwt"],
        kb_required(60),
        kb["iat"].as_i64().unwrap(),
    );
    assert_eq!(v.claims(), &vector_object("rfc9901_a3_processed.json"));
    assert_eq!(v.key_binding().unwrap().claims(), kb.as_object().unwrap());
}

#[test]
fn rfc9901_a4_disclosure_digests() {
    check_digests("rfc9901_a4_disclosures.json");
}

#[test]
fn rfc9901_a4_w3c_vc_issued_and_presented() {
    let issued = vector("rfc9901_a4_issued.txt");
    let sd = SdJwt::parse_issued(&issued, &Limits::DEFAULT).unwrap();
    assert_eq!(
        sd.unverified_claims(),
        &vector_object("rfc9901_a4_payload.json")
    );
    verify_presentation(&issued, EXAMPLE_TYP, KeyBinding::Forbidden, 1_700_000_000);
    let text = vector("rfc9901_a4_presentation.txt");
    // The A.4 KB-JWT has `iat` 1748537243.
    let v = verify_presentation(&text, EXAMPLE_TYP, kb_required(60), 1_748_537_243);
    assert_eq!(v.claims(), &vector_object("rfc9901_a4_processed.json"));
    assert_eq!(v.key_binding().unwrap().iat(), 1_748_537_243);
}

#[test]
fn rfc9901_a3_holder_presents_over_18_and_nationalities_again() {
    let sd = SdJwt::parse_issued(&vector("rfc9901_a3_issued.txt"), &Limits::DEFAULT).unwrap();
    let mut p = sd.presenter().unwrap();
    p.select(&ClaimPath::parse("age_equal_or_over.18").unwrap())
        .unwrap()
        .select(&ClaimPath::parse("nationalities").unwrap())
        .unwrap();
    assert_eq!(p.selected().count(), 3);
    let unsigned = p.unsigned(
        jose::Algorithm::Es256,
        &KbInput::new(AUD, NONCE, 1_800_000_000),
    );
    let sig =
        jose::Signer::sign(&spec_holder_signer(), unsigned.signing_input().as_bytes()).unwrap();
    let text = unsigned.attach_signature(&sig);
    let v = verify_presentation(&text, &["dc+sd-jwt"], kb_required(60), 1_800_000_000);
    assert_eq!(v.claims(), &vector_object("rfc9901_a3_processed.json"));
}
