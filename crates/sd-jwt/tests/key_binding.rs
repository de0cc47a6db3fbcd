//! Key binding (RFC 9901 §4.3, §7.3): the policy is the Verifier's, never inferred from the
//! presentation; every KB-JWT rule has a `rejects_*` test asserting its specific error.
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
    ClaimPath, Frame, IssueOptions, KbError, KbExpectation, KbInput, KeyBinding, Limits, SdJwt,
    SeededSalts, VerifyError, VerifyOptions,
};
use serde_json::{Value, json};

const NOW: i64 = 1_800_000_000;
const AUD: &str = "https://verifier.example.org";
const NONCE: &str = "n-0S6_WzA2Mj";

struct Setup {
    issuer_key: VerifyingKey,
    holder: SoftwareSigner,
    issued: String,
}

fn setup_with(cnf: Option<Value>) -> Setup {
    let issuer = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let holder = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let mut claims =
        obj(json!({"iss": "https://issuer.example", "given_name": "Erika", "age": 61}));
    claims.insert(
        "cnf".into(),
        cnf.unwrap_or_else(|| json!({"jwk": holder.public_jwk().to_value()})),
    );
    let frame = Frame::new()
        .with(ClaimPath::claim("given_name"))
        .with(ClaimPath::claim("age"));
    let issued = sd_jwt::issue(
        claims,
        &frame,
        &issuer,
        &SeededSalts::new(1),
        &IssueOptions::default(),
    )
    .unwrap()
    .into_string();
    Setup {
        issuer_key: VerifyingKey::from_jwk(issuer.public_jwk()).unwrap(),
        holder,
        issued,
    }
}

fn setup() -> Setup {
    setup_with(None)
}

fn present(s: &Setup, input: &KbInput) -> String {
    let sd = SdJwt::parse_issued(&s.issued, &Limits::DEFAULT).unwrap();
    let mut p = sd.presenter().unwrap();
    p.select(&ClaimPath::claim("given_name")).unwrap();
    p.with_key_binding(input, &s.holder).unwrap()
}

fn sd_part(s: &Setup) -> String {
    let sd = SdJwt::parse_issued(&s.issued, &Limits::DEFAULT).unwrap();
    let mut p = sd.presenter().unwrap();
    p.select(&ClaimPath::claim("given_name")).unwrap();
    p.sd_jwt()
}

fn verify(s: &Setup, text: &str, kb: KeyBinding<'_>) -> Result<sd_jwt::Verified, VerifyError> {
    let clock = FixedClock(NOW);
    let options = VerifyOptions::new(ES256, kb, &clock);
    sd_jwt::verify(text, &s.issuer_key, &options)
}

fn required() -> KeyBinding<'static> {
    KeyBinding::Required(KbExpectation::new(AUD, NONCE, ES256))
}

fn kb_err(r: Result<sd_jwt::Verified, VerifyError>) -> KbError {
    match r {
        Err(VerifyError::KeyBinding(e)) => e,
        other => panic!("expected a key binding error, got {other:?}"),
    }
}

#[test]
fn accepts_valid_key_binding_and_exposes_its_claims() {
    let s = setup();
    let input =
        KbInput::new(AUD, NONCE, NOW - 5).with_claim("transaction_data_hashes", json!(["abc"]));
    let v = verify(&s, &present(&s, &input), required()).unwrap();
    let kb = v.key_binding().unwrap();
    assert_eq!((kb.audience(), kb.nonce(), kb.iat()), (AUD, NONCE, NOW - 5));
    assert_eq!(kb.claims()["transaction_data_hashes"], json!(["abc"]));
    assert_eq!(kb.header().typ(), Some("kb+jwt"));
    assert!(v.holder_key().unwrap().same_key(s.holder.public_jwk()));
    assert_eq!(v.claims()["given_name"], "Erika");
    assert!(!v.claims().contains_key("age"));
}

#[test]
fn two_step_signing_matches_signer_path() {
    let s = setup();
    let sd = SdJwt::parse_issued(&s.issued, &Limits::DEFAULT).unwrap();
    let mut p = sd.presenter().unwrap();
    p.select(&ClaimPath::claim("age")).unwrap();
    let unsigned = p.unsigned(Algorithm::Es256, &KbInput::new(AUD, NONCE, NOW));
    assert!(unsigned.sd_jwt_part().ends_with('~'));
    let sig = s.holder.sign(unsigned.signing_input().as_bytes()).unwrap();
    let text = unsigned.attach_signature(&sig);
    let v = verify(&s, &text, required()).unwrap();
    assert_eq!(v.claims()["age"], 61);
}

#[test]
fn rejects_missing_kb_jwt_when_required() {
    let s = setup();
    let e = kb_err(verify(&s, &sd_part(&s), required()));
    assert!(matches!(e, KbError::KbJwtMissing), "{e:?}");
}

#[test]
fn rejects_kb_jwt_when_forbidden() {
    let s = setup();
    let e = kb_err(verify(
        &s,
        &present(&s, &KbInput::new(AUD, NONCE, NOW)),
        KeyBinding::Forbidden,
    ));
    assert!(matches!(e, KbError::KbJwtNotExpected), "{e:?}");
}

#[test]
fn optional_policy_verifies_a_present_kb_jwt() {
    let s = setup();
    let optional = KeyBinding::Optional(KbExpectation::new(AUD, NONCE, ES256));
    verify(&s, &sd_part(&s), optional).unwrap();
    verify(&s, &present(&s, &KbInput::new(AUD, NONCE, NOW)), optional).unwrap();
    let e = kb_err(verify(
        &s,
        &present(&s, &KbInput::new(AUD, "other", NOW)),
        optional,
    ));
    assert!(matches!(e, KbError::NonceMismatch), "{e:?}");
}

#[test]
fn rejects_kb_jwt_with_wrong_typ() {
    let s = setup();
    let part = sd_part(&s);
    for typ in [None, Some("JWT"), Some("KB+JWT")] {
        let text = append_kb(&part, &s.holder, typ, &kb_payload(&part, AUD, NONCE, NOW));
        let e = kb_err(verify(&s, &text, required()));
        assert!(matches!(e, KbError::WrongTyp(_)), "{typ:?}: {e:?}");
    }
}

#[test]
fn rejects_kb_jwt_algorithm_outside_the_allow_list() {
    let s = setup();
    let text = present(&s, &KbInput::new(AUD, NONCE, NOW));
    let kb = KeyBinding::Required(KbExpectation::new(AUD, NONCE, &[Algorithm::Ed25519]));
    let e = kb_err(verify(&s, &text, kb));
    assert!(
        matches!(e, KbError::AlgorithmNotAllowed(Algorithm::Es256)),
        "{e:?}"
    );
}

#[test]
fn rejects_kb_jwt_signed_by_another_key() {
    let s = setup();
    let part = sd_part(&s);
    let other = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let text = append_kb(
        &part,
        &other,
        Some("kb+jwt"),
        &kb_payload(&part, AUD, NONCE, NOW),
    );
    let e = kb_err(verify(&s, &text, required()));
    assert!(
        matches!(e, KbError::Signature(jose::Error::InvalidSignature)),
        "{e:?}"
    );
}

#[test]
fn rejects_sd_hash_over_another_selection() {
    let s = setup();
    let text = present(&s, &KbInput::new(AUD, NONCE, NOW));
    // Drop the disclosed claim: the issuer JWT and KB-JWT stay valid, sd_hash does not.
    let parts: Vec<&str> = text.split('~').collect();
    let stripped = format!("{}~{}", parts[0], parts[2]);
    let e = kb_err(verify(&s, &stripped, required()));
    assert!(matches!(e, KbError::SdHashMismatch), "{e:?}");
    // A KB-JWT whose sd_hash covers a different encoding of the same SD-JWT.
    let part = sd_part(&s);
    let payload = kb_payload(&part.replace('~', "~ "), AUD, NONCE, NOW);
    let e = kb_err(verify(
        &s,
        &append_kb(&part, &s.holder, Some("kb+jwt"), &payload),
        required(),
    ));
    assert!(matches!(e, KbError::SdHashMismatch), "{e:?}");
}

#[test]
fn rejects_nonce_mismatch() {
    let s = setup();
    let e = kb_err(verify(
        &s,
        &present(&s, &KbInput::new(AUD, "replayed", NOW)),
        required(),
    ));
    assert!(matches!(e, KbError::NonceMismatch), "{e:?}");
}

#[test]
fn rejects_audience_mismatch() {
    let s = setup();
    let e = kb_err(verify(
        &s,
        &present(&s, &KbInput::new("https://other.example", NONCE, NOW)),
        required(),
    ));
    assert!(matches!(e, KbError::AudienceMismatch), "{e:?}");
}

#[test]
fn rejects_audience_that_is_not_a_single_string() {
    let s = setup();
    let part = sd_part(&s);
    let mut payload = kb_payload(&part, AUD, NONCE, NOW);
    payload["aud"] = json!([AUD]);
    let e = kb_err(verify(
        &s,
        &append_kb(&part, &s.holder, Some("kb+jwt"), &payload),
        required(),
    ));
    assert!(matches!(e, KbError::ClaimWrongType("aud")), "{e:?}");
}

#[test]
fn rejects_missing_required_kb_claims() {
    let s = setup();
    let part = sd_part(&s);
    for claim in ["iat", "aud", "nonce", "sd_hash"] {
        let mut payload = kb_payload(&part, AUD, NONCE, NOW);
        payload.as_object_mut().unwrap().remove(claim);
        let e = kb_err(verify(
            &s,
            &append_kb(&part, &s.holder, Some("kb+jwt"), &payload),
            required(),
        ));
        assert!(
            matches!(e, KbError::ClaimMissing(c) if c == claim),
            "{claim}: {e:?}"
        );
    }
    let mut payload = kb_payload(&part, AUD, NONCE, NOW);
    payload["nonce"] = json!(12);
    let e = kb_err(verify(
        &s,
        &append_kb(&part, &s.holder, Some("kb+jwt"), &payload),
        required(),
    ));
    assert!(matches!(e, KbError::ClaimWrongType("nonce")), "{e:?}");
}

#[test]
fn rejects_kb_jwt_older_than_max_age() {
    let s = setup();
    let text = present(&s, &KbInput::new(AUD, NONCE, NOW - 1000));
    let e = kb_err(verify(&s, &text, required()));
    assert!(
        matches!(e, KbError::Time(ClaimError::TooOld { .. })),
        "{e:?}"
    );
    let lenient = KeyBinding::Required(KbExpectation::new(AUD, NONCE, ES256).with_max_age(1000));
    verify(&s, &text, lenient).unwrap();
}

#[test]
fn rejects_kb_jwt_issued_in_the_future() {
    let s = setup();
    let e = kb_err(verify(
        &s,
        &present(&s, &KbInput::new(AUD, NONCE, NOW + 3600)),
        required(),
    ));
    assert!(
        matches!(e, KbError::Time(ClaimError::IssuedInFuture { .. })),
        "{e:?}"
    );
}

#[test]
fn rejects_expired_kb_jwt() {
    let s = setup();
    let input = KbInput::new(AUD, NONCE, NOW).with_claim("exp", json!(NOW - 100));
    let e = kb_err(verify(&s, &present(&s, &input), required()));
    assert!(
        matches!(e, KbError::Time(ClaimError::Expired { .. })),
        "{e:?}"
    );
}

#[test]
fn rejects_key_binding_without_cnf() {
    let issuer = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let holder = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let part = craft(&issuer, None, &json!({"iss": "x"}), &[]);
    let text = append_kb(
        &part,
        &holder,
        Some("kb+jwt"),
        &kb_payload(&part, AUD, NONCE, NOW),
    );
    let clock = FixedClock(NOW);
    let key = VerifyingKey::from_jwk(issuer.public_jwk()).unwrap();
    let e =
        sd_jwt::verify(&text, &key, &VerifyOptions::new(ES256, required(), &clock)).unwrap_err();
    assert!(
        matches!(e, VerifyError::KeyBinding(KbError::CnfMissing)),
        "{e:?}"
    );
}

#[test]
fn rejects_cnf_without_jwk() {
    let s = setup_with(Some(
        json!({"jkt": "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"}),
    ));
    let e = kb_err(verify(
        &s,
        &present(&s, &KbInput::new(AUD, NONCE, NOW)),
        required(),
    ));
    assert!(matches!(e, KbError::CnfNotJwk), "{e:?}");
}

#[test]
fn rejects_invalid_cnf_jwk() {
    let s = setup_with(Some(
        json!({"jwk": {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}}),
    ));
    let e = kb_err(verify(
        &s,
        &present(&s, &KbInput::new(AUD, NONCE, NOW)),
        required(),
    ));
    assert!(matches!(e, KbError::HolderKeyInvalid(_)), "{e:?}");
}

#[test]
fn rejects_kb_jwt_payload_that_is_not_an_object() {
    let s = setup();
    let part = sd_part(&s);
    let kb = jose::HeaderBuilder::new()
        .typ("kb+jwt")
        .sign(b"[]", &s.holder)
        .unwrap();
    let e = kb_err(verify(&s, &format!("{part}{kb}"), required()));
    assert!(matches!(e, KbError::PayloadNotJson(_)), "{e:?}");
}
