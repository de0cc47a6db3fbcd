//! DCQL: the OpenID4VP 1.0 example queries, validity rules, wallet-side matching and
//! disclosure planning, verifier-side checking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use oid4vp::dcql::*;
use serde_json::{Value, json};

const PID: &str = "https://credentials.example.com/identity_credential";

fn q(v: Value) -> DcqlQuery {
    DcqlQuery::from_value(&v).unwrap()
}

fn err(v: Value) -> DcqlError {
    DcqlQuery::from_value(&v).unwrap_err()
}

// --- The §6 / Appendix D example queries -------------------------------------------

fn simple() -> Value {
    json!({"credentials": [{
        "id": "my_credential", "format": "dc+sd-jwt",
        "meta": {"vct_values": [PID]},
        "claims": [{"path": ["last_name"]}, {"path": ["first_name"]},
                   {"path": ["address", "street_address"]}]
    }]})
}

fn claims_alternatives() -> Value {
    json!({"credentials": [{
        "id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": [PID]},
        "claims": [
            {"id": "a", "path": ["last_name"]}, {"id": "b", "path": ["postal_code"]},
            {"id": "c", "path": ["locality"]}, {"id": "d", "path": ["region"]},
            {"id": "e", "path": ["date_of_birth"]}
        ],
        "claim_sets": [["a", "c", "d", "e"], ["a", "b", "e"]]
    }]})
}

fn credentials_alternatives() -> Value {
    let sd = |id: &str, vct: &str, claims: Value| json!({"id": id, "format": "dc+sd-jwt", "meta": {"vct_values": [vct]}, "claims": claims});
    let names = json!([{"path": ["given_name"]}, {"path": ["family_name"]},
                       {"path": ["address", "street_address"]}]);
    json!({
        "credentials": [
            sd("pid", PID, names.clone()),
            sd("other_pid", "https://othercredentials.example/pid", names),
            sd("pid_reduced_cred_1", "https://credentials.example.com/reduced_identity_credential",
               json!([{"path": ["family_name"]}, {"path": ["given_name"]}])),
            sd("pid_reduced_cred_2", "https://cred.example/residence_credential",
               json!([{"path": ["postal_code"]}, {"path": ["locality"]}, {"path": ["region"]}])),
            sd("nice_to_have", "https://company.example/company_rewards",
               json!([{"path": ["rewards_number"]}]))
        ],
        "credential_sets": [
            {"options": [["pid"], ["other_pid"], ["pid_reduced_cred_1", "pid_reduced_cred_2"]]},
            {"required": false, "options": [["nice_to_have"]]}
        ]
    })
}

#[test]
fn oid4vp_d_simple_query_parses_and_round_trips() {
    let query = q(simple());
    let c = &query.credentials()[0];
    assert_eq!(c.id, "my_credential");
    assert!(!c.multiple && c.require_cryptographic_holder_binding);
    assert_eq!(
        c.meta,
        Meta::SdJwtVc {
            vct_values: vec![PID.into()]
        }
    );
    assert_eq!(query.to_value(), simple());
}

#[test]
fn oid4vp_d_claims_alternatives_query_parses() {
    let query = q(claims_alternatives());
    assert_eq!(
        query.credentials()[0].claim_alternatives(),
        vec![vec![0, 2, 3, 4], vec![0, 1, 4]]
    );
    assert_eq!(query.to_value(), claims_alternatives());
}

#[test]
fn oid4vp_d_credentials_alternatives_query_parses() {
    let query = q(credentials_alternatives());
    let sets = query.credential_sets().unwrap();
    assert_eq!(sets.len(), 2);
    assert!(sets[0].required && !sets[1].required);
    assert_eq!(query.to_value(), credentials_alternatives());
}

#[test]
fn oid4vp_d_mdoc_queries_parse() {
    let v = json!({"credentials": [{
        "id": "my_credential", "format": "mso_mdoc",
        "meta": {"doctype_value": "org.iso.7367.1.mVRC"},
        "claims": [{"path": ["org.iso.7367.1", "vehicle_holder"]},
                   {"path": ["org.iso.18013.5.1", "first_name"], "intent_to_retain": true}]
    }]});
    let query = q(v.clone());
    assert_eq!(query.to_value(), v);
}

#[test]
fn oid4vp_d_value_matching_query_parses() {
    let v = json!({"credentials": [{
        "id": "my_credential", "format": "dc+sd-jwt", "meta": {"vct_values": [PID]},
        "claims": [{"path": ["last_name"], "values": ["Doe"]}, {"path": ["first_name"]},
                   {"path": ["address", "street_address"]},
                   {"path": ["postal_code"], "values": ["90210", "90211"]}]
    }]});
    assert_eq!(q(v.clone()).to_value(), v);
}

// --- Validity rules -------------------------------------------------------------------

#[test]
fn rejects_queries_breaking_section_6_rules() {
    let base = |patch: Value| {
        let mut c = json!({"id": "x", "format": "dc+sd-jwt", "meta": {"vct_values": ["t"]}});
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        json!({"credentials": [c]})
    };
    assert!(matches!(err(json!({})), DcqlError::Missing { .. }));
    assert!(matches!(
        err(json!({"credentials": []})),
        DcqlError::Empty { .. }
    ));
    assert!(matches!(
        err(base(json!({"id": "a b"}))),
        DcqlError::InvalidId { .. }
    ));
    assert!(matches!(
        err(base(json!({"id": ""}))),
        DcqlError::InvalidId { .. }
    ));
    assert!(matches!(
        err(base(json!({"meta": {}}))),
        DcqlError::MissingVctValues { .. }
    ));
    assert!(matches!(
        err(json!({"credentials": [{"id": "x", "format": "mso_mdoc", "meta": {}}]})),
        DcqlError::MissingDoctype { .. }
    ));
    assert!(matches!(
        err(json!({"credentials": [{"id": "x", "format": "dc+sd-jwt"}]})),
        DcqlError::Missing { .. }
    ));
    assert!(matches!(
        err(base(json!({"multiple": "yes"}))),
        DcqlError::WrongType { .. }
    ));
    assert!(matches!(
        err(base(json!({"claims": []}))),
        DcqlError::Empty { .. }
    ));
    assert!(matches!(
        err(base(json!({"claims": [{"path": []}]}))),
        DcqlError::InvalidPath { .. }
    ));
    assert!(matches!(
        err(base(json!({"claims": [{"path": ["a"], "values": [1.5]}]}))),
        DcqlError::InvalidValue { .. }
    ));
    assert!(matches!(
        err(base(json!({"claims": [{"path": ["a"]}, {"path": ["a"]}]}))),
        DcqlError::DuplicateClaimPath { .. }
    ));
    assert!(matches!(
        err(base(
            json!({"claims": [{"id": "i", "path": ["a"]}, {"id": "i", "path": ["b"]}]})
        )),
        DcqlError::DuplicateClaimId { .. }
    ));
    assert!(matches!(
        err(base(json!({"claim_sets": [["a"]]}))),
        DcqlError::ClaimSetsWithoutClaims { .. }
    ));
    assert!(matches!(
        err(base(
            json!({"claims": [{"path": ["a"]}], "claim_sets": [["a"]]})
        )),
        DcqlError::ClaimIdRequired { .. }
    ));
    assert!(matches!(
        err(base(
            json!({"claims": [{"id": "a", "path": ["a"]}], "claim_sets": [["z"]]})
        )),
        DcqlError::UnknownClaimId { .. }
    ));
    assert!(matches!(
        err(base(
            json!({"claims": [{"id": "a", "path": ["a"]}], "claim_sets": [[]]})
        )),
        DcqlError::Empty { .. }
    ));
    assert!(matches!(
        err(base(
            json!({"trusted_authorities": [{"type": "aki", "values": []}]})
        )),
        DcqlError::Empty { .. }
    ));
    let mut two = base(json!({}));
    two["credentials"] = json!([two["credentials"][0].clone(), two["credentials"][0].clone()]);
    assert_eq!(err(two), DcqlError::DuplicateCredentialId("x".into()));
    let mut sets = base(json!({}));
    sets["credential_sets"] = json!([{"options": [["nope"]]}]);
    assert!(matches!(err(sets), DcqlError::UnknownCredentialId { .. }));
    assert!(matches!(
        err(json!({"credentials": [{"id": "x", "format": "mso_mdoc",
            "meta": {"doctype_value": "d"}, "claims": [{"path": ["a", "b", "c"]}]}]})),
        DcqlError::InvalidMdocPath { .. }
    ));
}

#[test]
fn unknown_members_are_ignored() {
    let mut v = simple();
    v["future"] = json!(1);
    v["credentials"][0]["extension"] = json!({"x": 1});
    assert_eq!(q(v).to_value(), simple());
}

#[test]
fn new_checks_like_parsing() {
    let mut c = CredentialQuery::sd_jwt_vc("bad id", vec!["t".into()]);
    assert!(DcqlQuery::new(vec![c.clone()], None).is_err());
    c.id = "ok".into();
    assert!(DcqlQuery::new(vec![c], None).is_ok());
}

// --- Wallet side ----------------------------------------------------------------------

fn pid_credential() -> HolderCredential {
    HolderCredential::sd_jwt_vc(
        PID,
        json!({
            "iss": "https://issuer.example", "vct": PID,
            "last_name": "Doe", "first_name": "John", "date_of_birth": "1940-01-01",
            "postal_code": "90210", "locality": "Beverly Hills",
            "address": {"street_address": "1 Main St", "locality": "Anytown"},
            "nationalities": ["US", "DE"]
        }),
        vec![
            ClaimPath::keys(["last_name"]),
            ClaimPath::keys(["first_name"]),
            ClaimPath::keys(["date_of_birth"]),
            ClaimPath::keys(["postal_code"]),
            ClaimPath::keys(["locality"]),
            ClaimPath::keys(["address"]),
            ClaimPath::keys(["address", "street_address"]),
            ClaimPath::keys(["address", "locality"]),
            ClaimPath::from_value(&json!(["nationalities", 0])).unwrap(),
            ClaimPath::from_value(&json!(["nationalities", 1])).unwrap(),
        ],
    )
}

#[test]
fn wallet_discloses_the_claim_and_its_disclosable_ancestors_only() {
    let m = match_query(&q(simple()), &[pid_credential()]);
    assert!(m.is_satisfiable());
    let cand = &m.credential_queries()[0].candidates[0];
    assert_eq!(
        cand.options[0].disclose,
        vec![
            ClaimPath::keys(["address"]),
            ClaimPath::keys(["address", "street_address"]),
            ClaimPath::keys(["first_name"]),
            ClaimPath::keys(["last_name"]),
        ]
    );
    let plan = m.plan(&m.preferred_selection(false).unwrap()).unwrap();
    assert_eq!(plan.presentations.len(), 1);
    assert_eq!(plan.presentations[0].query_id, "my_credential");
    assert!(plan.presentations[0].key_binding);
}

#[test]
fn wallet_requesting_an_object_discloses_its_members() {
    let query = q(json!({"credentials": [{"id": "p", "format": "dc+sd-jwt",
        "meta": {"vct_values": [PID]}, "claims": [{"path": ["address"]}]}]}));
    let m = match_query(&query, &[pid_credential()]);
    assert_eq!(
        m.credential_queries()[0].candidates[0].options[0].disclose,
        vec![
            ClaimPath::keys(["address"]),
            ClaimPath::keys(["address", "locality"]),
            ClaimPath::keys(["address", "street_address"]),
        ]
    );
}

#[test]
fn wallet_without_claims_discloses_nothing_selectively_disclosable() {
    let query = q(json!({"credentials": [{"id": "p", "format": "dc+sd-jwt",
        "meta": {"vct_values": [PID]}}]}));
    let m = match_query(&query, &[pid_credential()]);
    assert!(
        m.credential_queries()[0].candidates[0].options[0]
            .disclose
            .is_empty()
    );
}

#[test]
fn wallet_value_matching_selects_only_matching_array_elements() {
    let query = q(json!({"credentials": [{"id": "p", "format": "dc+sd-jwt",
        "meta": {"vct_values": [PID]},
        "claims": [{"path": ["nationalities", null], "values": ["DE"]}]}]}));
    let m = match_query(&query, &[pid_credential()]);
    assert_eq!(
        m.credential_queries()[0].candidates[0].options[0].disclose,
        vec![ClaimPath::from_value(&json!(["nationalities", 1])).unwrap()]
    );
}

#[test]
fn wallet_prefers_the_first_satisfiable_claim_set() {
    // The holder has postal_code and locality but no region: set 0 (a,c,d,e) fails,
    // set 1 (a,b,e) holds.
    let m = match_query(&q(claims_alternatives()), &[pid_credential()]);
    let options = &m.credential_queries()[0].candidates[0].options;
    assert_eq!(options.len(), 1);
    assert_eq!(options[0].claim_set, Some(1));
    let ids: Vec<_> = options[0]
        .requested
        .iter()
        .map(|r| r.id.clone().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b", "e"]);
    assert!(!options[0].disclose.contains(&ClaimPath::keys(["locality"])));
}

#[test]
fn wallet_explains_why_nothing_matches() {
    let mut no_cnf = pid_credential();
    no_cnf.holder_binding = false;
    let other = HolderCredential::sd_jwt_vc("urn:other", json!({"x": 1}), vec![]);
    let mut query = simple();
    query["credentials"][0]["claims"] = json!([{"path": ["last_name"], "values": ["Smith"]}]);
    let m = match_query(&q(query), &[no_cnf, other, pid_credential()]);
    assert!(!m.is_satisfiable());
    assert!(m.preferred_selection(true).is_none());
    let unmet = m.explain();
    assert_eq!(unmet.len(), 1);
    let rejected = &unmet[0].options[0][0].rejected;
    assert_eq!(rejected.len(), 3);
    assert!(
        rejected[0]
            .reasons
            .contains(&Mismatch::HolderBindingUnavailable)
    );
    assert_eq!(
        rejected[1].reasons,
        vec![Mismatch::Type {
            found: "urn:other".into()
        }]
    );
    assert!(matches!(
        rejected[2].reasons[0],
        Mismatch::ClaimValueNotAccepted { claim: 0, .. }
    ));
    assert!(
        unmet[0]
            .to_string()
            .contains("does not have one of the requested values")
    );
}

#[test]
fn wallet_reports_missing_claims_with_the_path_error() {
    let query = q(json!({"credentials": [{"id": "p", "format": "dc+sd-jwt",
        "meta": {"vct_values": [PID]}, "claims": [{"path": ["last_name", "x"]}, {"path": ["zzz"]}]}]}));
    let m = match_query(&query, &[pid_credential()]);
    let reasons = &m.credential_queries()[0].rejected[0].reasons;
    assert!(matches!(
        &reasons[0],
        Mismatch::ClaimMissing {
            reason: PathError::NotAnObject { .. },
            ..
        }
    ));
    assert!(matches!(
        &reasons[1],
        Mismatch::ClaimMissing {
            reason: PathError::NothingSelected,
            ..
        }
    ));
}

#[test]
fn wallet_credential_sets_choose_first_satisfiable_option_and_skip_optional() {
    let reduced1 = HolderCredential::sd_jwt_vc(
        "https://credentials.example.com/reduced_identity_credential",
        json!({"family_name": "Doe", "given_name": "John"}),
        vec![
            ClaimPath::keys(["family_name"]),
            ClaimPath::keys(["given_name"]),
        ],
    );
    let reduced2 = HolderCredential::sd_jwt_vc(
        "https://cred.example/residence_credential",
        json!({"postal_code": "1", "locality": "L", "region": "R"}),
        vec![],
    );
    let rewards = HolderCredential::sd_jwt_vc(
        "https://company.example/company_rewards",
        json!({"rewards_number": 7}),
        vec![ClaimPath::keys(["rewards_number"])],
    );
    let creds = [reduced1, reduced2, rewards];
    let m = match_query(&q(credentials_alternatives()), &creds);
    assert!(m.is_satisfiable());
    assert_eq!(m.credential_sets()[0].first_satisfied(), Some(2));
    let sel = m.preferred_selection(false).unwrap();
    let ids: Vec<_> = sel.picks.iter().map(|p| p.query_id.as_str()).collect();
    assert_eq!(ids, ["pid_reduced_cred_1", "pid_reduced_cred_2"]);
    let with_optional = m.preferred_selection(true).unwrap();
    assert_eq!(with_optional.picks.len(), 3);
    let plan = m.plan(&with_optional).unwrap();
    assert_eq!(plan.presentations[2].credential, 2);
}

#[test]
fn rejects_selections_breaking_the_rules() {
    let reduced1 = HolderCredential::sd_jwt_vc(
        "https://credentials.example.com/reduced_identity_credential",
        json!({"family_name": "Doe", "given_name": "John"}),
        vec![],
    );
    let pid = HolderCredential::sd_jwt_vc(
        PID,
        json!({"given_name": "J", "family_name": "D", "address": {"street_address": "s"}}),
        vec![],
    );
    let query = q(credentials_alternatives());
    let m = match_query(&query, &[reduced1, pid.clone(), pid]);
    let pick = |id: &str, credential: usize| Pick {
        query_id: id.into(),
        credential,
        option: 0,
    };
    // Only half of option 2 of the required set.
    assert_eq!(
        m.plan(&Selection {
            picks: vec![pick("pid_reduced_cred_1", 0)]
        }),
        Err(SelectionError::RequiredSetUnmet(0))
    );
    assert_eq!(
        m.plan(&Selection {
            picks: vec![pick("pid", 0)]
        }),
        Err(SelectionError::NotACandidate {
            query_id: "pid".into(),
            credential: 0
        })
    );
    assert_eq!(
        m.plan(&Selection {
            picks: vec![pick("pid", 1), pick("pid", 2)]
        }),
        Err(SelectionError::MultipleNotAllowed("pid".into()))
    );
    assert_eq!(
        m.plan(&Selection {
            picks: vec![pick("pid", 1), pick("pid_reduced_cred_1", 0)]
        }),
        Err(SelectionError::NotRequested("pid_reduced_cred_1".into()))
    );
    assert_eq!(
        m.plan(&Selection {
            picks: vec![pick("nope", 1)]
        }),
        Err(SelectionError::UnknownQuery("nope".into()))
    );
    assert_eq!(
        m.plan(&Selection {
            picks: vec![Pick {
                option: 5,
                ..pick("pid", 1)
            }]
        }),
        Err(SelectionError::UnknownOption {
            query_id: "pid".into(),
            credential: 1,
            option: 5
        })
    );
    assert!(
        m.plan(&Selection {
            picks: vec![pick("pid", 2)]
        })
        .is_ok()
    );
}

#[test]
fn wallet_trusted_authorities_and_type_inheritance() {
    let query = q(json!({"credentials": [{"id": "p", "format": "dc+sd-jwt",
        "meta": {"vct_values": ["urn:base"]},
        "trusted_authorities": [{"type": "aki", "values": ["s9tIpPmhxdiuNkHMEWNpYim8S8Y"]}]}]}));
    let mut c = HolderCredential::sd_jwt_vc("urn:derived", json!({}), vec![]);
    c.kind = CredentialType::SdJwtVc {
        vct: "urn:derived".into(),
        extends: vec!["urn:base".into()],
    };
    let m = match_query(&query, std::slice::from_ref(&c));
    assert_eq!(
        m.credential_queries()[0].rejected[0].reasons,
        vec![Mismatch::UntrustedAuthority]
    );
    c.authorities.push(TrustedAuthority {
        kind: "aki".into(),
        value: "s9tIpPmhxdiuNkHMEWNpYim8S8Y".into(),
    });
    assert!(match_query(&query, &[c]).is_satisfiable());
}

// --- Verifier side --------------------------------------------------------------------

fn presented(vct: &str, claims: Value) -> PresentedCredential {
    PresentedCredential {
        kind: CredentialType::sd_jwt_vc(vct),
        claims,
        holder_bound: true,
    }
}

#[test]
fn verifier_accepts_a_response_that_answers_the_query() {
    let query = q(simple());
    let ok = check_response(
        &query,
        &[(
            "my_credential".into(),
            vec![presented(
                PID,
                json!({"last_name": "Doe", "first_name": "J", "address": {"street_address": "x"}}),
            )],
        )],
    )
    .unwrap();
    assert_eq!(ok.answered, vec![("my_credential".to_owned(), vec![None])]);
}

#[test]
fn verifier_records_the_claim_set_used() {
    let query = q(claims_alternatives());
    let ok = check_response(
        &query,
        &[(
            "pid".into(),
            vec![presented(
                PID,
                json!({"last_name": "D", "postal_code": "1", "date_of_birth": "x"}),
            )],
        )],
    )
    .unwrap();
    assert_eq!(ok.answered[0].1, vec![Some(1)]);
}

#[test]
fn rejects_a_response_withholding_a_requested_claim() {
    let query = q(simple());
    let e = check_response(
        &query,
        &[(
            "my_credential".into(),
            vec![presented(PID, json!({"last_name": "Doe"}))],
        )],
    )
    .unwrap_err();
    let Unsatisfied::CredentialMismatch { reasons, .. } = e else {
        panic!("{e:?}")
    };
    assert_eq!(reasons.len(), 2);
}

#[test]
fn rejects_responses_breaking_the_shape_rules() {
    let query = q(simple());
    let good = || {
        presented(
            PID,
            json!({"last_name": "D", "first_name": "J",
        "address": {"street_address": "x"}}),
        )
    };
    assert_eq!(
        check_response(&query, &[("other".into(), vec![good()])]),
        Err(Unsatisfied::UnknownCredentialQuery("other".into()))
    );
    assert_eq!(
        check_response(&query, &[("my_credential".into(), vec![])]),
        Err(Unsatisfied::NoPresentation("my_credential".into()))
    );
    assert_eq!(
        check_response(&query, &[("my_credential".into(), vec![good(), good()])]),
        Err(Unsatisfied::MultipleNotAllowed {
            query_id: "my_credential".into(),
            count: 2
        })
    );
    assert_eq!(
        check_response(&query, &[]),
        Err(Unsatisfied::CredentialQueryUnanswered(
            "my_credential".into()
        ))
    );
    let mut unbound = good();
    unbound.holder_bound = false;
    assert!(matches!(
        check_response(&query, &[("my_credential".into(), vec![unbound])]),
        Err(Unsatisfied::CredentialMismatch { ref reasons, .. })
            if reasons == &vec![Mismatch::HolderBindingUnavailable]
    ));
    assert!(matches!(
        check_response(
            &query,
            &[("my_credential".into(), vec![presented("urn:x", json!({}))])]
        ),
        Err(Unsatisfied::CredentialMismatch { .. })
    ));
}

#[test]
fn rejects_a_response_missing_a_required_credential_set() {
    let query = q(credentials_alternatives());
    let rewards = presented(
        "https://company.example/company_rewards",
        json!({"rewards_number": 1}),
    );
    assert_eq!(
        check_response(&query, &[("nice_to_have".into(), vec![rewards])]),
        Err(Unsatisfied::RequiredSetUnmet(0))
    );
}

#[test]
fn verifier_enforces_values_itself() {
    let query = q(json!({"credentials": [{"id": "p", "format": "dc+sd-jwt",
        "meta": {"vct_values": [PID]}, "claims": [{"path": ["role"], "values": ["teacher", "student"]}]}]}));
    assert!(
        check_response(
            &query,
            &[("p".into(), vec![presented(PID, json!({"role": "student"}))])]
        )
        .is_ok()
    );
    assert!(matches!(
        check_response(
            &query,
            &[("p".into(), vec![presented(PID, json!({"role": "janitor"}))])]
        ),
        Err(Unsatisfied::CredentialMismatch { .. })
    ));
    // Type-exact: the integer 1 is not the string "1".
    let query = q(json!({"credentials": [{"id": "p", "format": "dc+sd-jwt",
        "meta": {"vct_values": [PID]}, "claims": [{"path": ["n"], "values": ["1"]}]}]}));
    assert!(
        check_response(
            &query,
            &[("p".into(), vec![presented(PID, json!({"n": 1}))])]
        )
        .is_err()
    );
}

// --- Both sides agree -------------------------------------------------------------------

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// What the wallet plans to disclose for a query, the verifier accepts: disclosing
        /// exactly the planned paths of a credential yields claims that answer the query.
        #[test]
        fn wallet_plan_satisfies_the_verifier(
            present in proptest::collection::vec(any::<bool>(), 5),
            set_order in any::<bool>(),
        ) {
            let names = ["last_name", "postal_code", "locality", "region", "date_of_birth"];
            let mut claims = serde_json::Map::new();
            let mut sd = Vec::new();
            for (name, here) in names.iter().zip(&present) {
                if *here {
                    claims.insert((*name).into(), json!(format!("v-{name}")));
                    sd.push(ClaimPath::keys([*name]));
                }
            }
            let mut query = claims_alternatives();
            if set_order {
                query["credentials"][0]["claim_sets"] = json!([["a", "b", "e"], ["a", "c", "d", "e"]]);
            }
            let query = q(query);
            let cred = HolderCredential::sd_jwt_vc(PID, Value::Object(claims.clone()), sd);
            let m = match_query(&query, std::slice::from_ref(&cred));
            let Some(sel) = m.preferred_selection(false) else {
                return Ok(());
            };
            let plan = m.plan(&sel).unwrap();
            let mut disclosed = serde_json::Map::new();
            for p in &plan.presentations[0].disclose {
                let key = match &p.steps()[0] { ClaimStep::Key(k) => k.clone(), ClaimStep::Index(_) => unreachable!() };
                disclosed.insert(key.clone(), claims[&key].clone());
            }
            let verdict = check_response(&query, &[("pid".into(), vec![presented(PID, Value::Object(disclosed))])]);
            prop_assert!(verdict.is_ok(), "{verdict:?}");
        }

        /// DCQL queries survive a JSON round trip unchanged.
        #[test]
        fn query_json_round_trip(n in 1usize..4, multiple in any::<bool>(), binding in any::<bool>()) {
            let creds: Vec<Value> = (0..n).map(|i| json!({
                "id": format!("c{i}"), "format": "dc+sd-jwt", "meta": {"vct_values": [format!("urn:t{i}")]},
                "multiple": multiple, "require_cryptographic_holder_binding": binding,
                "claims": [{"id": "x", "path": ["a", null, 3]}], "claim_sets": [["x"]]
            })).collect();
            let query = q(json!({"credentials": creds}));
            prop_assert_eq!(DcqlQuery::from_value(&query.to_value()).unwrap(), query);
        }
    }
}
