//! Property tests: for random claim trees, random frames (any subset of claims, at any
//! depth, in objects and arrays, with decoys) and random selections, issue → present (with
//! key binding) → verify yields exactly the selected claims: every always-visible claim,
//! every selected disclosable claim, and never an unselected one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::ES256;
use jose::{Algorithm, FixedClock, Signer, SoftwareSigner, VerifyingKey};
use proptest::prelude::*;
use sd_jwt::{
    ClaimPath, Decoys, Frame, IssueOptions, KbExpectation, KbInput, KeyBinding, Limits,
    PathElement, SdJwt, SeededSalts, VerifyOptions,
};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

type Loc = Vec<PathElement>;

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i32>().prop_map(Value::from),
        "[a-z ]{0,6}".prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
    ]
}

fn tree() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-e]{1,2}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn claims() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::btree_map("[a-f]{1,2}", tree(), 1..6)
        .prop_map(|m| m.into_iter().collect())
}

fn locations(v: &Value, at: &mut Loc, out: &mut Vec<Loc>) {
    match v {
        Value::Object(o) => {
            for (k, c) in o {
                at.push(PathElement::Name(k.clone()));
                out.push(at.clone());
                locations(c, at, out);
                at.pop();
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                at.push(PathElement::Index(i));
                out.push(at.clone());
                locations(c, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

/// The original claims without the disclosable claims that were not chosen.
fn expected(v: &Value, at: &mut Loc, sd: &BTreeSet<Loc>, chosen: &BTreeSet<Loc>) -> Value {
    match v {
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, c) in o {
                at.push(PathElement::Name(k.clone()));
                if !sd.contains(at) || chosen.contains(at) {
                    out.insert(k.clone(), expected(c, at, sd, chosen));
                }
                at.pop();
            }
            Value::Object(out)
        }
        Value::Array(a) => {
            let mut out = Vec::new();
            for (i, c) in a.iter().enumerate() {
                at.push(PathElement::Index(i));
                if !sd.contains(at) || chosen.contains(at) {
                    out.push(expected(c, at, sd, chosen));
                }
                at.pop();
            }
            Value::Array(out)
        }
        other => other.clone(),
    }
}

fn case() -> impl Strategy<Value = (Map<String, Value>, Vec<bool>, Vec<bool>, usize, usize, u64)> {
    claims().prop_flat_map(|c| {
        let mut locs = Vec::new();
        locations(&Value::Object(c.clone()), &mut Vec::new(), &mut locs);
        let n = locs.len();
        (
            Just(c),
            proptest::collection::vec(any::<bool>(), n),
            proptest::collection::vec(any::<bool>(), n),
            0usize..3,
            0usize..3,
            any::<u64>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn issue_present_verify_discloses_exactly_the_selection(
        (claims, in_frame, in_selection, per_object, per_array, seed) in case()
    ) {
        let mut locs = Vec::new();
        locations(&Value::Object(claims.clone()), &mut Vec::new(), &mut locs);
        let sd: BTreeSet<Loc> = locs.iter().zip(&in_frame).filter(|(_, f)| **f).map(|(l, _)| l.clone()).collect();
        let frame = Frame::from_paths(sd.iter().map(|l| ClaimPath::new(l.clone()).unwrap()))
            .with_decoys(Decoys { per_object, per_array });

        let issuer = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let holder = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let mut input = claims.clone();
        input.insert("cnf".into(), serde_json::json!({"jwk": holder.public_jwk().to_value()}));
        let issued = sd_jwt::issue(input, &frame, &issuer, &SeededSalts::new(seed), &IssueOptions::default()).unwrap();
        prop_assert_eq!(issued.disclosures().len(), sd.len());

        let stored = SdJwt::parse_issued(issued.as_str(), &Limits::DEFAULT).unwrap();
        let mut presenter = stored.presenter().unwrap();
        let mut chosen = BTreeSet::new();
        for (l, pick) in locs.iter().zip(&in_selection) {
            if *pick {
                presenter.select(&ClaimPath::new(l.clone()).unwrap()).unwrap();
                // The selection brings every disclosable ancestor along.
                for n in 1..=l.len() {
                    let prefix = l[..n].to_vec();
                    if sd.contains(&prefix) {
                        chosen.insert(prefix);
                    }
                }
            }
        }
        let text = presenter.with_key_binding(&KbInput::new("aud", "nonce", 1_000), &holder).unwrap();

        let clock = FixedClock(1_000);
        let kb = KeyBinding::Required(KbExpectation::new("aud", "nonce", ES256));
        let key = VerifyingKey::from_jwk(issuer.public_jwk()).unwrap();
        let verified = sd_jwt::verify(&text, &key, &VerifyOptions::new(ES256, kb, &clock)).unwrap();

        let want = expected(&Value::Object(claims), &mut Vec::new(), &sd, &chosen);
        let mut got = Value::Object(verified.claims().clone());
        got.as_object_mut().unwrap().remove("cnf");
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(verified.disclosed().len(), chosen.len());
    }

    #[test]
    fn holder_view_restores_the_input((claims, in_frame, _s, per_object, per_array, seed) in case()) {
        let mut locs = Vec::new();
        locations(&Value::Object(claims.clone()), &mut Vec::new(), &mut locs);
        let frame = Frame::from_paths(
            locs.iter().zip(&in_frame).filter(|(_, f)| **f).map(|(l, _)| ClaimPath::new(l.clone()).unwrap()),
        )
        .with_decoys(Decoys { per_object, per_array });
        let issuer = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let issued = sd_jwt::issue(claims.clone(), &frame, &issuer, &SeededSalts::new(seed), &IssueOptions::default()).unwrap();
        let clock = FixedClock(1_000);
        let key = VerifyingKey::from_jwk(issuer.public_jwk()).unwrap();
        let v = sd_jwt::verify(issued.as_str(), &key, &VerifyOptions::new(ES256, KeyBinding::Forbidden, &clock)).unwrap();
        prop_assert_eq!(v.claims(), &claims);
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(text in "[A-Za-z0-9_~.\\-]{0,200}") {
        let _ = SdJwt::parse(&text, &Limits::DEFAULT);
    }
}
