//! One `rejects_*` test per rule of RFC 9901 §4 and §7.1 and per limit: each crafts a
//! correctly signed SD-JWT that breaks exactly that rule and asserts the specific error.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use jose::{Algorithm, ClaimError, FixedClock, Signer, SoftwareSigner, VerifyingKey};
use sd_jwt::{
    DisclosureError, JsonPart, KeyBinding, Limits, ParseError, SdJwt, VerifyError, VerifyOptions,
};
use serde_json::{Value, json};

const NOW: i64 = 1_800_000_000;

fn issuer() -> (SoftwareSigner, VerifyingKey) {
    let s = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let k = VerifyingKey::from_jwk(s.public_jwk()).unwrap();
    (s, k)
}

fn check(text: &str, key: &VerifyingKey) -> Result<sd_jwt::Verified, VerifyError> {
    check_with(text, key, Limits::DEFAULT)
}

fn check_with(
    text: &str,
    key: &VerifyingKey,
    limits: Limits,
) -> Result<sd_jwt::Verified, VerifyError> {
    let clock = FixedClock(NOW);
    let options = VerifyOptions::new(ES256, KeyBinding::Forbidden, &clock).with_limits(limits);
    sd_jwt::verify(text, key, &options)
}

/// Signs `payload` with a fresh key, appends `disclosures`, and verifies.
fn run(payload: Value, disclosures: &[&str]) -> Result<sd_jwt::Verified, VerifyError> {
    let (s, k) = issuer();
    check(&craft(&s, None, &payload, disclosures), &k)
}

fn given_name() -> String {
    disc(r#"["salt-1","given_name","Erika"]"#)
}

#[test]
fn accepts_a_well_formed_sd_jwt() {
    let d = given_name();
    let v = run(
        json!({"_sd": [digest(&d)], "_sd_alg": "sha-256", "iss": "x"}),
        &[&d],
    )
    .unwrap();
    assert_eq!(v.claims()["given_name"], "Erika");
    assert!(!v.claims().contains_key("_sd_alg"));
}

// ---- parsing and limits

#[test]
fn rejects_input_larger_than_the_size_limit() {
    let (s, k) = issuer();
    let text = craft(&s, None, &json!({"a": "x".repeat(100)}), &[]);
    let limits = Limits {
        max_size: text.len() - 1,
        ..Limits::DEFAULT
    };
    let e = check_with(&text, &k, limits).unwrap_err();
    assert!(
        matches!(e, VerifyError::Parse(ParseError::TooLarge { .. })),
        "{e:?}"
    );
}

#[test]
fn rejects_more_disclosures_than_the_limit() {
    let ds: Vec<String> = (0..4)
        .map(|i| disc(&format!(r#"["s{i}","c{i}",{i}]"#)))
        .collect();
    let refs: Vec<&str> = ds.iter().map(String::as_str).collect();
    let digests: Vec<String> = ds.iter().map(|d| digest(d)).collect();
    let (s, k) = issuer();
    let text = craft(&s, None, &json!({"_sd": digests}), &refs);
    let limits = Limits {
        max_disclosures: 3,
        ..Limits::DEFAULT
    };
    let e = check_with(&text, &k, limits).unwrap_err();
    assert!(
        matches!(
            e,
            VerifyError::Parse(ParseError::TooManyDisclosures { count: 4, max: 3 })
        ),
        "{e:?}"
    );
    check_with(
        &text,
        &k,
        Limits {
            max_disclosures: 4,
            ..Limits::DEFAULT
        },
    )
    .unwrap();
}

#[test]
fn rejects_payload_nested_deeper_than_the_limit() {
    let mut v = json!(1);
    for _ in 0..40 {
        v = json!([v]);
    }
    let e = run(json!({"deep": v}), &[]).unwrap_err();
    assert!(
        matches!(
            e,
            VerifyError::Parse(ParseError::JsonTooDeep {
                part: JsonPart::Payload,
                max: 32
            })
        ),
        "{e:?}"
    );
}

#[test]
fn rejects_disclosure_nested_deeper_than_the_limit() {
    let mut v = json!(1);
    for _ in 0..40 {
        v = json!({"a": v});
    }
    let d = disc(&format!(r#"["s","deep",{v}]"#));
    let e = run(json!({"_sd": [digest(&d)]}), &[&d]).unwrap_err();
    assert!(
        matches!(
            e,
            VerifyError::Parse(ParseError::Disclosure {
                index: 0,
                source: DisclosureError::TooDeep(32)
            })
        ),
        "{e:?}"
    );
}

#[test]
fn rejects_rebuilt_claims_nested_deeper_than_the_limit() {
    // Each text alone is within 20 levels; together they nest 40 deep.
    let mut inner = json!(1);
    for _ in 0..19 {
        inner = json!({"a": inner});
    }
    let d = disc(&format!(r#"["s","deep",{inner}]"#));
    let mut outer = json!({"_sd": [digest(&d)]});
    for _ in 0..19 {
        outer = json!({"b": outer});
    }
    let (s, k) = issuer();
    let text = craft(&s, None, &outer, &[&d]);
    let limits = Limits {
        max_json_depth: 25,
        ..Limits::DEFAULT
    };
    let e = check_with(&text, &k, limits).unwrap_err();
    assert!(matches!(e, VerifyError::JsonTooDeep(25)), "{e:?}");
}

#[test]
fn rejects_disclosures_nested_inside_disclosures_beyond_the_limit() {
    // d0 is referenced from the payload, d1 from inside d0, ... d4 innermost.
    let mut ds = vec![disc(r#"["s4","l4",1]"#)];
    for i in (0..4).rev() {
        let inner = digest(ds.last().unwrap());
        ds.push(disc(&format!(r#"["s{i}","l{i}",{{"_sd":["{inner}"]}}]"#)));
    }
    let refs: Vec<&str> = ds.iter().map(String::as_str).collect();
    let (s, k) = issuer();
    let text = craft(
        &s,
        None,
        &json!({"_sd": [digest(ds.last().unwrap())]}),
        &refs,
    );
    let e = check_with(
        &text,
        &k,
        Limits {
            max_sd_depth: 4,
            ..Limits::DEFAULT
        },
    )
    .unwrap_err();
    assert!(
        matches!(e, VerifyError::DisclosureNestingTooDeep(4)),
        "{e:?}"
    );
    let v = check_with(
        &text,
        &k,
        Limits {
            max_sd_depth: 5,
            ..Limits::DEFAULT
        },
    )
    .unwrap();
    assert_eq!(v.claims()["l0"]["l1"]["l2"]["l3"]["l4"], 1);
}

#[test]
fn rejects_input_without_tilde() {
    let (s, k) = issuer();
    let text = craft(&s, None, &json!({}), &[]);
    let e = check(text.trim_end_matches('~'), &k).unwrap_err();
    assert!(
        matches!(e, VerifyError::Parse(ParseError::NotSdJwt)),
        "{e:?}"
    );
}

#[test]
fn rejects_malformed_issuer_jwt() {
    let (_, k) = issuer();
    let e = check("abc.def~", &k).unwrap_err();
    assert!(
        matches!(e, VerifyError::Parse(ParseError::IssuerJwt(_))),
        "{e:?}"
    );
}

#[test]
fn rejects_payload_that_is_not_a_json_object() {
    let (s, k) = issuer();
    let jwt = jose::HeaderBuilder::new().sign(b"[1,2]", &s).unwrap();
    let e = check(&format!("{jwt}~"), &k).unwrap_err();
    assert!(
        matches!(e, VerifyError::Parse(ParseError::PayloadNotJson(_))),
        "{e:?}"
    );
    let jwt = jose::HeaderBuilder::new()
        .sign(br#"{"a":1,"a":2}"#, &s)
        .unwrap();
    let e = check(&format!("{jwt}~"), &k).unwrap_err();
    assert!(
        matches!(e, VerifyError::Parse(ParseError::PayloadNotJson(_))),
        "{e:?}"
    );
}

#[test]
fn rejects_empty_disclosure() {
    let d = given_name();
    let (s, k) = issuer();
    let text = craft(&s, None, &json!({"_sd": [digest(&d)]}), &[&d]);
    let e = check(&format!("{text}~"), &k).unwrap_err();
    assert!(
        matches!(
            e,
            VerifyError::Parse(ParseError::EmptyDisclosure { index: 1 })
        ),
        "{e:?}"
    );
}

#[test]
fn rejects_disclosure_that_is_not_base64url() {
    let e = run(json!({}), &["WyJz+IiwiYSIsMV0"]).unwrap_err();
    assert!(
        matches!(
            e,
            VerifyError::Parse(ParseError::Disclosure {
                source: DisclosureError::NotBase64,
                ..
            })
        ),
        "{e:?}"
    );
}

#[test]
fn rejects_disclosure_that_is_not_a_json_array() {
    let d = disc(r#"{"salt":"s"}"#);
    let e = run(json!({"_sd": [digest(&d)]}), &[&d]).unwrap_err();
    assert!(
        matches!(
            e,
            VerifyError::Parse(ParseError::Disclosure {
                source: DisclosureError::NotArray,
                ..
            })
        ),
        "{e:?}"
    );
}

#[test]
fn rejects_disclosure_with_wrong_element_count() {
    for (json_text, n) in [(r#"["s"]"#, 1), (r#"["s","n",1,2]"#, 4), ("[]", 0)] {
        let d = disc(json_text);
        let e = run(json!({"_sd": [digest(&d)]}), &[&d]).unwrap_err();
        assert!(
            matches!(e, VerifyError::Parse(ParseError::Disclosure { source: DisclosureError::WrongLength(m), .. }) if m == n),
            "{json_text}: {e:?}"
        );
    }
}

#[test]
fn rejects_disclosure_whose_salt_is_not_a_string() {
    let d = disc(r#"[1234,"given_name","Erika"]"#);
    let e = run(json!({"_sd": [digest(&d)]}), &[&d]).unwrap_err();
    assert!(
        matches!(
            e,
            VerifyError::Parse(ParseError::Disclosure {
                source: DisclosureError::SaltNotString,
                ..
            })
        ),
        "{e:?}"
    );
}

#[test]
fn rejects_disclosure_whose_name_is_not_a_string() {
    let d = disc(r#"["s",["given_name"],"Erika"]"#);
    let e = run(json!({"_sd": [digest(&d)]}), &[&d]).unwrap_err();
    assert!(
        matches!(
            e,
            VerifyError::Parse(ParseError::Disclosure {
                source: DisclosureError::NameNotString,
                ..
            })
        ),
        "{e:?}"
    );
}

#[test]
fn rejects_the_same_disclosure_sent_twice() {
    let d = given_name();
    let e = run(json!({"_sd": [digest(&d)]}), &[&d, &d]).unwrap_err();
    assert!(
        matches!(
            e,
            VerifyError::Parse(ParseError::DuplicateDisclosure { index: 1 })
        ),
        "{e:?}"
    );
}

#[test]
fn rejects_key_binding_jwt_that_is_not_a_jws() {
    let (s, k) = issuer();
    let text = craft(&s, None, &json!({}), &[]);
    let e = check(&format!("{text}not-a-jwt"), &k).unwrap_err();
    assert!(
        matches!(e, VerifyError::Parse(ParseError::KbJwt(_))),
        "{e:?}"
    );
}

#[test]
fn rejects_sd_jwt_with_key_binding_received_from_an_issuer() {
    let (s, _) = issuer();
    let text = craft(&s, None, &json!({}), &[]);
    let kb = append_kb(&text, &s, Some("kb+jwt"), &json!({}));
    SdJwt::parse_issued(&text, &Limits::DEFAULT).unwrap();
    let e = SdJwt::parse_issued(&kb, &Limits::DEFAULT).unwrap_err();
    assert!(matches!(e, ParseError::KeyBindingFromIssuer), "{e:?}");
}

// ---- Issuer signature (§7.1 step 2)

#[test]
fn rejects_signature_by_another_key() {
    let (s, _) = issuer();
    let (_, other) = issuer();
    let e = check(&craft(&s, None, &json!({}), &[]), &other).unwrap_err();
    assert!(
        matches!(
            e,
            VerifyError::IssuerSignature(jose::Error::InvalidSignature)
        ),
        "{e:?}"
    );
}

#[test]
fn rejects_tampered_payload() {
    let (s, k) = issuer();
    let text = craft(&s, None, &json!({"a": 1}), &[]);
    let mut parts: Vec<&str> = text.split('.').collect();
    let forged = jose::b64::encode(r#"{"a":2}"#);
    parts[1] = &forged;
    let e = check(&parts.join("."), &k).unwrap_err();
    assert!(
        matches!(
            e,
            VerifyError::IssuerSignature(jose::Error::InvalidSignature)
        ),
        "{e:?}"
    );
}

#[test]
fn rejects_algorithm_outside_the_allow_list() {
    let s = SoftwareSigner::generate(Algorithm::Es384).unwrap();
    let k = VerifyingKey::from_jwk(s.public_jwk()).unwrap();
    let e = check(&craft(&s, None, &json!({}), &[]), &k).unwrap_err();
    assert!(
        matches!(
            e,
            VerifyError::IssuerSignature(jose::Error::AlgorithmNotAllowed(Algorithm::Es384))
        ),
        "{e:?}"
    );
}

#[test]
fn rejects_alg_none() {
    let (_, k) = issuer();
    let h = jose::b64::encode(r#"{"alg":"none"}"#);
    let e = check(&format!("{h}.e30.~"), &k).unwrap_err();
    assert!(
        matches!(
            e,
            VerifyError::Parse(ParseError::IssuerJwt(jose::Error::AlgNone))
        ),
        "{e:?}"
    );
}

#[test]
fn rejects_unexpected_typ() {
    let (s, k) = issuer();
    let text = craft(&s, Some("JWT"), &json!({}), &[]);
    let clock = FixedClock(NOW);
    let options =
        VerifyOptions::new(ES256, KeyBinding::Forbidden, &clock).with_typ(&["example+sd-jwt"]);
    let e = sd_jwt::verify(&text, &k, &options).unwrap_err();
    assert!(
        matches!(
            e,
            VerifyError::IssuerSignature(jose::Error::UnexpectedTyp { .. })
        ),
        "{e:?}"
    );
}

// ---- `_sd_alg` (§4.1.1, §7.1 step 2.d)

#[test]
fn rejects_sd_alg_other_than_sha_256() {
    for alg in ["sha-512", "SHA-256", "sha-256-32"] {
        let e = run(json!({"_sd_alg": alg}), &[]).unwrap_err();
        assert!(
            matches!(e, VerifyError::UnsupportedSdAlg(ref a) if a == alg),
            "{e:?}"
        );
    }
}

#[test]
fn rejects_sd_alg_that_is_not_a_string() {
    let e = run(json!({"_sd_alg": ["sha-256"]}), &[]).unwrap_err();
    assert!(matches!(e, VerifyError::SdAlgNotString), "{e:?}");
}

#[test]
fn rejects_sd_alg_below_the_top_level() {
    let e = run(
        json!({"_sd_alg": "sha-256", "a": {"_sd_alg": "sha-256"}}),
        &[],
    )
    .unwrap_err();
    assert!(matches!(e, VerifyError::SdAlgNotAtTopLevel), "{e:?}");
    // Also when it arrives inside a disclosed object.
    let d = disc(r#"["s","a",{"_sd_alg":"sha-256"}]"#);
    let e = run(json!({"_sd": [digest(&d)]}), &[&d]).unwrap_err();
    assert!(matches!(e, VerifyError::SdAlgNotAtTopLevel), "{e:?}");
}

// ---- digests (§4.2.4, §7.1 steps 3–5)

#[test]
fn rejects_sd_that_is_not_an_array_of_strings() {
    for sd in [
        json!("abc"),
        json!([1]),
        json!({"a": "b"}),
        json!(["ok", null]),
    ] {
        let e = run(json!({"_sd": sd}), &[]).unwrap_err();
        assert!(matches!(e, VerifyError::SdNotArrayOfStrings), "{sd}: {e:?}");
    }
}

#[test]
fn rejects_array_digest_object_with_other_keys() {
    let d = disc(r#"["s","FR"]"#);
    let e = run(json!({"n": [{"...": digest(&d), "x": 1}]}), &[&d]).unwrap_err();
    assert!(matches!(e, VerifyError::MalformedArrayDigest), "{e:?}");
}

#[test]
fn rejects_array_digest_that_is_not_a_string() {
    let e = run(json!({"n": [{"...": 5}]}), &[]).unwrap_err();
    assert!(matches!(e, VerifyError::MalformedArrayDigest), "{e:?}");
}

#[test]
fn rejects_digest_referenced_twice() {
    let d = given_name();
    let e = run(
        json!({"_sd": [digest(&d)], "a": {"_sd": [digest(&d)]}}),
        &[&d],
    )
    .unwrap_err();
    assert!(
        matches!(e, VerifyError::DigestUsedTwice(ref x) if *x == digest(&d)),
        "{e:?}"
    );
    // In the same `_sd` array.
    let e = run(json!({"_sd": [digest(&d), digest(&d)]}), &[&d]).unwrap_err();
    assert!(matches!(e, VerifyError::DigestUsedTwice(_)), "{e:?}");
    // In an object and an array.
    let a = disc(r#"["s","FR"]"#);
    let e = run(
        json!({"n": [{"...": digest(&a)}, {"...": digest(&a)}]}),
        &[&a],
    )
    .unwrap_err();
    assert!(matches!(e, VerifyError::DigestUsedTwice(_)), "{e:?}");
}

#[test]
fn rejects_repeated_decoy_digest() {
    let decoy = sd_jwt::sha256_b64(b"decoy");
    let e = run(
        json!({"_sd": [decoy.clone()], "a": {"_sd": [decoy.clone()]}}),
        &[],
    )
    .unwrap_err();
    assert!(
        matches!(e, VerifyError::DigestUsedTwice(ref x) if *x == decoy),
        "{e:?}"
    );
    let e = run(json!({"n": [{"...": decoy.clone()}], "_sd": [decoy]}), &[]).unwrap_err();
    assert!(matches!(e, VerifyError::DigestUsedTwice(_)), "{e:?}");
}

#[test]
fn rejects_disclosure_not_referenced() {
    let d = given_name();
    let e = run(json!({}), &[&d]).unwrap_err();
    assert!(
        matches!(e, VerifyError::DisclosureNotReferenced(ref x) if *x == digest(&d)),
        "{e:?}"
    );
}

#[test]
fn rejects_disclosure_referenced_only_by_an_undisclosed_parent() {
    // §4.2.6: the child connects only through the parent, which is not sent.
    let child = disc(r#"["s1","locality","Koeln"]"#);
    let parent = disc(&format!(
        r#"["s2","address",{{"_sd":["{}"]}}]"#,
        digest(&child)
    ));
    let e = run(json!({"_sd": [digest(&parent)]}), &[&child]).unwrap_err();
    assert!(
        matches!(e, VerifyError::DisclosureNotReferenced(_)),
        "{e:?}"
    );
}

#[test]
fn rejects_array_element_disclosure_referenced_from_sd() {
    let d = disc(r#"["s","FR"]"#);
    let e = run(json!({"_sd": [digest(&d)]}), &[&d]).unwrap_err();
    assert!(
        matches!(e, VerifyError::WrongDisclosureShape { expected: 3, .. }),
        "{e:?}"
    );
}

#[test]
fn rejects_property_disclosure_referenced_from_an_array() {
    let d = given_name();
    let e = run(json!({"n": [{"...": digest(&d)}]}), &[&d]).unwrap_err();
    assert!(
        matches!(e, VerifyError::WrongDisclosureShape { expected: 2, .. }),
        "{e:?}"
    );
}

#[test]
fn rejects_reserved_claim_names_in_disclosures() {
    for name in ["_sd", "...", "_sd_alg"] {
        let d = disc(&format!(r#"["s","{name}","x"]"#));
        let e = run(json!({"_sd": [digest(&d)]}), &[&d]).unwrap_err();
        assert!(
            matches!(e, VerifyError::ReservedClaimName(ref n) if n == name),
            "{name}: {e:?}"
        );
    }
}

#[test]
fn rejects_ellipsis_member_outside_an_array_element() {
    let e = run(json!({"a": {"...": "x"}}), &[]).unwrap_err();
    assert!(
        matches!(e, VerifyError::ReservedClaimName(ref n) if n == "..."),
        "{e:?}"
    );
}

#[test]
fn rejects_disclosed_claim_that_already_exists() {
    let d = given_name();
    let e = run(json!({"_sd": [digest(&d)], "given_name": "Max"}), &[&d]).unwrap_err();
    assert!(
        matches!(e, VerifyError::ClaimAlreadyExists(ref n) if n == "given_name"),
        "{e:?}"
    );
    // Two Disclosures with the same name at one level.
    let d2 = disc(r#"["salt-2","given_name","Max"]"#);
    let e = run(json!({"_sd": [digest(&d), digest(&d2)]}), &[&d, &d2]).unwrap_err();
    assert!(matches!(e, VerifyError::ClaimAlreadyExists(_)), "{e:?}");
}

#[test]
fn removes_unmatched_array_digests_and_keeps_order() {
    let fr = disc(r#"["s","FR"]"#);
    let undisclosed = sd_jwt::sha256_b64(b"anything");
    let v = run(
        json!({"n": ["DE", {"...": digest(&fr)}, {"...": undisclosed}, "US"], "_sd": []}),
        &[&fr],
    )
    .unwrap();
    assert_eq!(v.claims()["n"], json!(["DE", "FR", "US"]));
    assert_eq!(v.disclosed()[0].to_string(), "n[1]");
    assert!(!v.claims().contains_key("_sd"));
}

#[test]
fn recursive_disclosures_resolve_and_report_paths() {
    let de = disc(r#"["s1","DE"]"#);
    let fr = disc(r#"["s2","FR"]"#);
    let arr = disc(&format!(
        r#"["s3","nationalities",[{{"...":"{}"}},{{"...":"{}"}}]]"#,
        digest(&de),
        digest(&fr)
    ));
    let v = run(json!({"_sd": [digest(&arr)]}), &[&fr, &arr]).unwrap();
    assert_eq!(v.claims()["nationalities"], json!(["FR"]));
    let paths: Vec<String> = v.disclosed().iter().map(ToString::to_string).collect();
    assert_eq!(paths, ["nationalities", "nationalities[0]"]);
}

// ---- validity (§7.1 step 6)

#[test]
fn rejects_expired_sd_jwt() {
    let e = run(json!({"exp": NOW - 100}), &[]).unwrap_err();
    assert!(
        matches!(e, VerifyError::Time(ClaimError::Expired { .. })),
        "{e:?}"
    );
}

#[test]
fn rejects_expiry_that_arrives_through_a_disclosure() {
    let d = disc(&format!(r#"["s","exp",{}]"#, NOW - 100));
    let e = run(json!({"_sd": [digest(&d)]}), &[&d]).unwrap_err();
    assert!(
        matches!(e, VerifyError::Time(ClaimError::Expired { .. })),
        "{e:?}"
    );
}

#[test]
fn rejects_sd_jwt_not_yet_valid() {
    let e = run(json!({"nbf": NOW + 1000}), &[]).unwrap_err();
    assert!(
        matches!(e, VerifyError::Time(ClaimError::NotYetValid { .. })),
        "{e:?}"
    );
}

#[test]
fn rejects_missing_exp_when_required() {
    let (s, k) = issuer();
    let text = craft(&s, None, &json!({}), &[]);
    let clock = FixedClock(NOW);
    let options = VerifyOptions::new(ES256, KeyBinding::Forbidden, &clock).requiring_exp();
    let e = sd_jwt::verify(&text, &k, &options).unwrap_err();
    assert!(
        matches!(e, VerifyError::Time(ClaimError::Missing("exp"))),
        "{e:?}"
    );
}

#[test]
fn rejects_audience_mismatch() {
    let (s, k) = issuer();
    let text = craft(&s, None, &json!({"aud": ["a", "b"]}), &[]);
    let clock = FixedClock(NOW);
    let e = sd_jwt::verify(
        &text,
        &k,
        &VerifyOptions::new(ES256, KeyBinding::Forbidden, &clock).with_audience("c"),
    )
    .unwrap_err();
    assert!(matches!(e, VerifyError::AudienceMismatch), "{e:?}");
    let e = sd_jwt::verify(
        &text,
        &k,
        &VerifyOptions::new(ES256, KeyBinding::Forbidden, &clock),
    )
    .unwrap_err();
    assert!(matches!(e, VerifyError::AudienceNotExpected), "{e:?}");
    sd_jwt::verify(
        &text,
        &k,
        &VerifyOptions::new(ES256, KeyBinding::Forbidden, &clock).with_audience("b"),
    )
    .unwrap();
}
