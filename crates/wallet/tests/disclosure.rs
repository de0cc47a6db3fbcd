//! The one promise the wallet makes to its holder: the recommended presentation
//! discloses nothing beyond the claim paths the verifier asked for. A selectively
//! disclosable container of a requested claim (`address` for `address.country`) is
//! revealed only as the way to that claim; its other selectively disclosable members
//! stay hidden.
//!
//! Checked on the presentation as built (the SD-JWT+KB that would be posted), by the
//! disclosures it carries, for one worked example and for arbitrary credentials
//! (nested objects and arrays, any selectively disclosable subset) and DCQL queries
//! (concrete and `null` paths, with and without `claim_sets`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;

use jose::{Algorithm, Signer, SoftwareSigner};
use oid4vp::dcql::{ClaimPath, ClaimStep, ClaimsPathPointer, DcqlQuery};
use oid4vp::{AuthorizationRequest, ClientId, ClientIdPrefix, Presentation, ResponseMode};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use wallet::HeldCredential;
use wallet::presentation::consent::Consent;
use wallet::presentation::{PresentationRequest, VerifierIdentity, build_presentations};

const VCT: &str = "urn:example:pid";

fn sd_path(path: &ClaimPath) -> sd_jwt::ClaimPath {
    oid4vp::sd_jwt_vc::to_sd_jwt_path(path).unwrap()
}

/// Issues an SD-JWT VC with `claims`, the paths in `sd` selectively disclosable.
fn held(claims: &Map<String, Value>, sd: &[ClaimPath], holder: &SoftwareSigner) -> HeldCredential {
    let issuer = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let mut all = claims.clone();
    all.insert("vct".into(), VCT.into());
    all.insert("iss".into(), "https://issuer.example".into());
    all.insert("cnf".into(), json!({"jwk": holder.public_jwk().to_value()}));
    let frame = sd_jwt::Frame::from_paths(sd.iter().map(sd_path));
    let issued =
        sd_jwt::vc::issue(all, &frame, &issuer, &sd_jwt::SeededSalts::new(7), None).unwrap();
    HeldCredential::parse(issued.as_str()).unwrap()
}

fn request(query: DcqlQuery) -> PresentationRequest {
    let client_id = "x509_san_dns:verifier.example";
    PresentationRequest {
        request: AuthorizationRequest {
            client_id: ClientId::parse(client_id).unwrap(),
            response_mode: ResponseMode::DirectPost,
            response_uri: "https://verifier.example/response".into(),
            nonce: "n-0123456789abcdef".into(),
            state: None,
            dcql_query: query,
            client_metadata: None,
            wallet_nonce: None,
            transaction_data: None,
        },
        verifier: VerifierIdentity {
            client_id: client_id.into(),
            prefix: ClientIdPrefix::X509SanDns,
            certificate_subject: None,
            dns_names: Vec::new(),
            signed: true,
        },
    }
}

/// Each selectively disclosable path of `held` with its disclosure (as text): selecting
/// a path selects it and its disclosable ancestors, so its own disclosure is what its
/// selection adds to its parent's.
fn disclosures_by_path(held: &HeldCredential) -> BTreeMap<String, ClaimPath> {
    let sd = sd_jwt::SdJwt::parse(&held.compact, &sd_jwt::Limits::DEFAULT).unwrap();
    let mut presenter = sd.presenter().unwrap();
    let selected = |presenter: &mut sd_jwt::Presenter<'_>, p: &ClaimPath| -> Vec<String> {
        presenter.clear();
        presenter.select(&sd_path(p)).unwrap();
        presenter
            .selected()
            .map(|d| d.as_str().to_owned())
            .collect()
    };
    let mut out = BTreeMap::new();
    for path in held.disclosable() {
        let with = selected(&mut presenter, path);
        let ancestors: Vec<String> = held
            .disclosable()
            .iter()
            .filter(|a| a.is_prefix_of(path) && *a != path)
            .flat_map(|a| selected(&mut presenter, a))
            .collect();
        let own: Vec<String> = with
            .into_iter()
            .filter(|d| !ancestors.contains(d))
            .collect();
        assert_eq!(own.len(), 1, "{path:?}: {own:?}");
        out.insert(own.into_iter().next().unwrap(), path.clone());
    }
    out
}

/// The selectively disclosable paths (of the original credential) each presentation in
/// the recommended answer reveals; `None` when the request cannot be answered.
fn recommended_reveals(
    held: &HeldCredential,
    query: &DcqlQuery,
    holder: &SoftwareSigner,
) -> Option<Vec<ClaimPath>> {
    let creds = std::slice::from_ref(held);
    let choice = Consent::new(query, creds).recommended_choice()?;
    let built =
        build_presentations(&request(query.clone()), creds, &choice, holder, 1_000).unwrap();
    let by_text = disclosures_by_path(held);
    let mut revealed = Vec::new();
    for (_, presentations) in built.vp_token.entries() {
        for p in presentations {
            let Presentation::Text(text) = p else {
                panic!("an SD-JWT VC presentation is text")
            };
            let sd = sd_jwt::SdJwt::parse(text, &sd_jwt::Limits::DEFAULT).unwrap();
            assert!(sd.kb_jwt().is_some(), "key binding is required by default");
            for d in sd.disclosures() {
                revealed.push(by_text[d.as_str()].clone());
            }
        }
    }
    Some(revealed)
}

fn dotted(text: &str) -> ClaimPath {
    wallet::presentation::consent::parse_dotted(text)
}

#[test]
fn issue10_present_yes_for_address_country_discloses_only_the_country() {
    let holder = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let claims = json!({
        "given_name": "Erika",
        "address": {"street_address": "Heidestraße 17", "locality": "Köln",
                    "postal_code": "51147", "country": "DE"}
    });
    let sd: Vec<ClaimPath> = [
        "given_name",
        "address",
        "address.street_address",
        "address.locality",
        "address.postal_code",
        "address.country",
    ]
    .into_iter()
    .map(dotted)
    .collect();
    let held = held(claims.as_object().unwrap(), &sd, &holder);
    let query = DcqlQuery::from_value(&json!({"credentials": [{"id": "pid",
        "format": "dc+sd-jwt", "meta": {"vct_values": [VCT]},
        "claims": [{"path": ["address", "country"]}]}]}))
    .unwrap();

    let consent = Consent::new(&query, std::slice::from_ref(&held));
    let choice = consent.recommended_choice().unwrap();
    assert_eq!(choice.picks.len(), 1);
    assert_eq!(choice.picks[0].disclose, vec![dotted("address.country")]);

    // The consent screen stars the country, not the whole address.
    let claims = &consent.queries[0].candidates[0].claims;
    let mark = |name: &str| {
        let c = claims.iter().find(|c| c.name == name).unwrap();
        (c.recommended, c.container)
    };
    assert_eq!(mark("address.country"), (true, false));
    assert_eq!(mark("address"), (false, true));
    for other in [
        "address.street_address",
        "address.locality",
        "address.postal_code",
        "given_name",
    ] {
        assert_eq!(mark(other), (false, false), "{other}");
    }

    // What would be posted: the address disclosure (to reach the country) and the
    // country's; no street, locality or postal code.
    let mut revealed = recommended_reveals(&held, &query, &holder).unwrap();
    revealed.sort();
    assert_eq!(revealed, vec![dotted("address"), dotted("address.country")]);
}

#[test]
fn issue10_a_request_for_the_whole_container_still_gets_all_of_it() {
    let holder = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let claims = json!({"address": {"locality": "Köln", "country": "DE"}, "age": 42});
    let sd: Vec<ClaimPath> = ["address", "address.locality", "address.country", "age"]
        .into_iter()
        .map(dotted)
        .collect();
    let held = held(claims.as_object().unwrap(), &sd, &holder);
    let query = DcqlQuery::from_value(&json!({"credentials": [{"id": "pid",
        "format": "dc+sd-jwt", "meta": {"vct_values": [VCT]},
        "claims": [{"path": ["address"]}]}]}))
    .unwrap();
    let mut revealed = recommended_reveals(&held, &query, &holder).unwrap();
    revealed.sort();
    assert_eq!(
        revealed,
        vec![
            dotted("address"),
            dotted("address.country"),
            dotted("address.locality")
        ]
    );
}

/// A claim value: a string, or (with depth left) an object or an array of them.
fn value(depth: u32) -> BoxedStrategy<Value> {
    let leaf = "[a-z]{1,4}".prop_map(Value::String).boxed();
    if depth == 0 {
        return leaf;
    }
    prop_oneof![
        2 => leaf,
        1 => proptest::collection::btree_map("[w-z]", value(depth - 1), 1..4)
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        1 => proptest::collection::vec(value(depth - 1), 1..4).prop_map(Value::Array),
    ]
    .boxed()
}

/// Every concrete path below `prefix` in `v`, parents before children.
fn paths(v: &Value, prefix: &ClaimPath, out: &mut Vec<ClaimPath>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = prefix.child_key(k);
                out.push(p.clone());
                paths(child, &p, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let p = prefix.child_index(i);
                out.push(p.clone());
                paths(child, &p, out);
            }
        }
        _ => {}
    }
}

/// A claims path pointer for `path`; with `wildcard`, its last index becomes `null`.
fn pointer(path: &ClaimPath, wildcard: bool) -> Value {
    let last_index = path
        .steps()
        .iter()
        .rposition(|s| matches!(s, ClaimStep::Index(_)));
    Value::Array(
        path.steps()
            .iter()
            .enumerate()
            .map(|(i, s)| match s {
                ClaimStep::Index(_) if wildcard && Some(i) == last_index => Value::Null,
                ClaimStep::Index(n) => json!(n),
                ClaimStep::Key(k) => json!(k),
            })
            .collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn issue10_recommended_presentation_discloses_nothing_beyond_the_requested_paths(
        claims in proptest::collection::btree_map("[a-f]", value(2), 1..5),
        sd_bits in proptest::collection::vec(any::<bool>(), 64),
        picks in proptest::collection::vec((0usize..1000, any::<bool>()), 1..4),
        with_sets in any::<bool>(),
    ) {
        let claims: Map<String, Value> = claims.into_iter().collect();
        let root = Value::Object(claims.clone());
        let mut all = Vec::new();
        paths(&root, &ClaimPath::root(), &mut all);
        let sd: Vec<ClaimPath> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| sd_bits[i % sd_bits.len()])
            .map(|(_, p)| p.clone())
            .collect();
        let holder = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let held = held(&claims, &sd, &holder);

        // Distinct pointers: DCQL refuses a claims path given twice.
        let mut pointers: Vec<Value> = Vec::new();
        for (k, wildcard) in &picks {
            let p = pointer(&all[k % all.len()], *wildcard);
            if !pointers.contains(&p) {
                pointers.push(p);
            }
        }
        let mut credential = json!({"id": "q", "format": "dc+sd-jwt",
            "meta": {"vct_values": [VCT]}});
        credential["claims"] = Value::Array(
            pointers
                .iter()
                .enumerate()
                .map(|(i, p)| json!({"id": format!("c{i}"), "path": p}))
                .collect(),
        );
        if with_sets {
            // The first set asks for the first claim only; the second for all.
            let every: Vec<String> = (0..pointers.len()).map(|i| format!("c{i}")).collect();
            credential["claim_sets"] = json!([["c0"], every]);
        }
        let query = DcqlQuery::from_value(&json!({"credentials": [credential]})).unwrap();

        // What the verifier asked for, read independently of the wallet's matching: the
        // concrete claims the preferred answer's pointers select in the credential.
        let preferred = if with_sets { &pointers[..1] } else { &pointers[..] };
        let selections: Vec<_> = preferred
            .iter()
            .map(|p| ClaimsPathPointer::from_value(p).unwrap().select(&root))
            .collect();
        let revealed = recommended_reveals(&held, &query, &holder);
        // A pointer that meets a value of the wrong shape (`["b", null, "w"]` over an
        // array holding a string) aborts processing (§7.1.1): then the claim, and with
        // it the request, cannot be answered, and nothing is recommended.
        if selections.iter().any(Result::is_err) {
            prop_assert!(revealed.is_none() || with_sets);
            return Ok(());
        }
        let asked: Vec<ClaimPath> = selections
            .into_iter()
            .flat_map(|sel| sel.unwrap().into_iter().map(|s| s.path))
            .collect();
        // Every pointer names an existing claim, so the request can be answered.
        prop_assert!(revealed.is_some());
        let revealed = revealed.unwrap();
        for d in &revealed {
            prop_assert!(
                asked.iter().any(|r| d.is_prefix_of(r) || r.is_prefix_of(d)),
                "disclosed {:?}, asked only for {:?}", d, asked
            );
        }
        // And the verifier gets what it asked for: every disclosable claim on the way to
        // a requested claim, and inside it.
        for r in &asked {
            for s in held.disclosable().iter().filter(|s| s.is_prefix_of(r) || r.is_prefix_of(s)) {
                prop_assert!(revealed.contains(s), "{:?} withheld, asked for {:?}", s, r);
            }
        }
    }
}
