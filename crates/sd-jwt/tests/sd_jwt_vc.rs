//! SD-JWT VC rules (draft -18 §2.2, §2.4, §2.5): issuance and verification through
//! [`sd_jwt::vc`], one `rejects_*` test per rule, and Issuer key resolution from configured
//! keys and from `x5c` chains (built with rcgen) validated by `jose::x5c`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _};
use common::*;
use jose::{
    Algorithm, ClaimError, Curve, FixedClock, PrivateJwk, PublicJwk, Signer, SoftwareSigner,
    TrustAnchors, VerifyingKey, X5cError,
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
    date_time_ymd,
};
use sd_jwt::vc::{self, VcVerifier};
use sd_jwt::{
    ClaimPath, Frame, KbExpectation, KbInput, KeyBinding, KeyResolver, KeySource, Limits,
    ResolveError, SdJwt, SeededSalts, VcError, VerifyError,
};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use zeroize::Zeroizing;

const NOW: i64 = 1_780_272_000; // 2026-06-01
const AUD: &str = "x509_san_dns:verifier.example.org";
const NONCE: &str = "n-0S6_WzA2Mj";

fn signer() -> SoftwareSigner {
    SoftwareSigner::generate(Algorithm::Es256).unwrap()
}

fn key_of(s: &SoftwareSigner) -> VerifyingKey {
    VerifyingKey::from_jwk(s.public_jwk()).unwrap()
}

fn claims(holder: &SoftwareSigner) -> Map<String, Value> {
    obj(json!({
        "iss": "https://issuer.example.com",
        "iat": NOW - 10, "exp": NOW + 86_400,
        "vct": "https://credentials.example.com/identity_credential",
        "cnf": {"jwk": holder.public_jwk().to_value()},
        "status": {"status_list": {"idx": 412, "uri": "https://issuer.example.com/statuslists/1"}},
        "given_name": "Erika", "family_name": "Mustermann",
        "address": {"locality": "Koeln", "postal_code": "51147"}
    }))
}

fn frame() -> Frame {
    Frame::from_paths(
        ["given_name", "family_name", "address", "address.locality"]
            .into_iter()
            .map(|p| ClaimPath::parse(p).unwrap()),
    )
}

fn verifier_for(issuer: &SoftwareSigner) -> VcVerifier {
    VcVerifier::new(KeyResolver::new().with_key(key_of(issuer)), ES256)
}

fn required() -> KeyBinding<'static> {
    KeyBinding::Required(KbExpectation::new(AUD, NONCE, ES256))
}

fn present(issued: &str, holder: &SoftwareSigner, paths: &[&str]) -> String {
    let sd = SdJwt::parse_issued(issued, &Limits::DEFAULT).unwrap();
    let mut p = sd.presenter().unwrap();
    for path in paths {
        p.select(&ClaimPath::parse(path).unwrap()).unwrap();
    }
    p.with_key_binding(&KbInput::new(AUD, NONCE, NOW), holder)
        .unwrap()
}

/// A correctly signed SD-JWT VC with any payload, `typ` `dc+sd-jwt` unless given.
fn crafted(issuer: &SoftwareSigner, typ: &str, payload: Value, disclosures: &[&str]) -> String {
    craft(issuer, Some(typ), &payload, disclosures)
}

fn base_payload() -> Value {
    json!({"iss": "https://issuer.example.com", "vct": "urn:example:vct", "iat": NOW - 10})
}

fn verify_forbidden(issuer: &SoftwareSigner, text: &str) -> Result<vc::VerifiedVc, VcError> {
    verifier_for(issuer).verify(text, KeyBinding::Forbidden, &FixedClock(NOW))
}

#[test]
fn issues_and_verifies_an_sd_jwt_vc() {
    let (issuer, holder) = (signer().with_kid("key-1"), signer());
    let issued = vc::issue(
        claims(&holder),
        &frame(),
        &issuer,
        &SeededSalts::new(3),
        None,
    )
    .unwrap();
    let sd = SdJwt::parse_issued(issued.as_str(), &Limits::DEFAULT).unwrap();
    assert_eq!(sd.issuer_header().typ(), Some(vc::TYP));
    assert_eq!(sd.issuer_header().kid(), Some("key-1"));
    assert_eq!(sd.disclosures().len(), 4);
    let text = present(issued.as_str(), &holder, &["address.locality"]);
    let v = verifier_for(&issuer)
        .verify(&text, required(), &FixedClock(NOW))
        .unwrap();
    assert_eq!(
        v.vct(),
        "https://credentials.example.com/identity_credential"
    );
    assert_eq!(v.issuer(), Some("https://issuer.example.com"));
    let st = v.status().unwrap();
    assert_eq!(
        (st.idx, st.uri.as_str()),
        (412, "https://issuer.example.com/statuslists/1")
    );
    assert_eq!(
        v.claims()["address"],
        json!({"locality": "Koeln", "postal_code": "51147"})
    );
    assert!(!v.claims().contains_key("given_name"));
    let disclosed: Vec<String> = v
        .sd_jwt()
        .disclosed()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(disclosed, ["address", "address.locality"]);
}

#[test]
fn rejects_wrong_typ() {
    let issuer = signer();
    for typ in ["example+sd-jwt", "JWT"] {
        let e = verify_forbidden(&issuer, &crafted(&issuer, typ, base_payload(), &[])).unwrap_err();
        assert!(
            matches!(e, VcError::WrongTyp(Some(ref t)) if t == typ),
            "{e:?}"
        );
    }
    let text = craft(&issuer, None, &base_payload(), &[]);
    assert!(matches!(
        verify_forbidden(&issuer, &text),
        Err(VcError::WrongTyp(None))
    ));
}

#[test]
fn rejects_legacy_typ_unless_allowed() {
    let issuer = signer();
    let text = crafted(&issuer, vc::LEGACY_TYP, base_payload(), &[]);
    let e = verify_forbidden(&issuer, &text).unwrap_err();
    assert!(matches!(e, VcError::WrongTyp(Some(_))), "{e:?}");
    verifier_for(&issuer)
        .with_legacy_typ()
        .verify(&text, KeyBinding::Forbidden, &FixedClock(NOW))
        .unwrap();
}

#[test]
fn rejects_missing_or_non_string_vct() {
    let issuer = signer();
    let mut p = base_payload();
    p.as_object_mut().unwrap().remove("vct");
    let e = verify_forbidden(&issuer, &crafted(&issuer, vc::TYP, p, &[])).unwrap_err();
    assert!(matches!(e, VcError::ClaimMissing("vct")), "{e:?}");
    let mut p = base_payload();
    p["vct"] = json!(["a"]);
    let e = verify_forbidden(&issuer, &crafted(&issuer, vc::TYP, p, &[])).unwrap_err();
    assert!(matches!(e, VcError::ClaimWrongType("vct")), "{e:?}");
}

#[test]
fn rejects_typed_claims_of_the_wrong_type() {
    let issuer = signer();
    for (claim, value) in [
        ("iss", json!(7)),
        ("vct#integrity", json!({"a": 1})),
        ("aka_vcts", json!([])),
        ("aka_vcts", json!(["urn:example:vct"])),
        ("aka_vcts", json!([1])),
        ("cnf", json!("key")),
        ("cnf", json!({"jwk": {"kty": "oct"}})),
    ] {
        let mut p = base_payload();
        p[claim] = value.clone();
        let e = verify_forbidden(&issuer, &crafted(&issuer, vc::TYP, p, &[])).unwrap_err();
        assert!(
            matches!(e, VcError::ClaimWrongType(c) if c == claim),
            "{claim} {value}: {e:?}"
        );
    }
}

#[test]
fn rejects_non_numeric_time_claims() {
    let issuer = signer();
    for claim in ["nbf", "exp", "iat"] {
        let mut p = base_payload();
        p[claim] = json!("2030-01-01");
        let e = verify_forbidden(&issuer, &crafted(&issuer, vc::TYP, p, &[])).unwrap_err();
        assert!(
            matches!(e, VcError::Verify(VerifyError::Time(ClaimError::WrongType(c))) if c == claim),
            "{e:?}"
        );
    }
}

#[test]
fn rejects_expired_credential() {
    let issuer = signer();
    let mut p = base_payload();
    p["exp"] = json!(NOW - 3600);
    let e = verify_forbidden(&issuer, &crafted(&issuer, vc::TYP, p, &[])).unwrap_err();
    assert!(
        matches!(
            e,
            VcError::Verify(VerifyError::Time(ClaimError::Expired { .. }))
        ),
        "{e:?}"
    );
}

#[test]
fn rejects_non_disclosable_claim_arriving_through_a_disclosure() {
    let issuer = signer();
    for name in vc::NON_DISCLOSABLE {
        let value = match name {
            "iss" | "vct" | "vct#integrity" => json!("urn:x"),
            "nbf" | "exp" => json!(NOW + 10),
            "aka_vcts" => json!(["urn:y"]),
            "status" => json!({"status_list": {"idx": 1, "uri": "https://s.example/1"}}),
            _ => json!({"jwk": signer().public_jwk().to_value()}),
        };
        let d = disc(&json!(["salt", name, value]).to_string());
        let mut p = base_payload();
        p.as_object_mut().unwrap().remove(name);
        p["_sd"] = json!([digest(&d)]);
        if name == "vct" {
            // Keep a plaintext type claim out of the way: `vct` itself is disclosed.
            p.as_object_mut().unwrap().remove("vct");
        }
        let e = verify_forbidden(&issuer, &crafted(&issuer, vc::TYP, p, &[&d])).unwrap_err();
        assert!(
            matches!(e, VcError::NonDisclosableClaim(ref n) if n == name),
            "{name}: {e:?}"
        );
    }
}

#[test]
fn rejects_member_of_cnf_arriving_through_a_disclosure() {
    let issuer = signer();
    let d = disc(&json!(["salt", "jwk", signer().public_jwk().to_value()]).to_string());
    let mut p = base_payload();
    p["cnf"] = json!({"_sd": [digest(&d)]});
    let e = verify_forbidden(&issuer, &crafted(&issuer, vc::TYP, p, &[&d])).unwrap_err();
    assert!(
        matches!(e, VcError::NonDisclosableClaim(ref n) if n == "cnf"),
        "{e:?}"
    );
}

#[test]
fn rejects_issuance_frame_with_non_disclosable_claims() {
    let (issuer, holder) = (signer(), signer());
    for path in [
        "iss",
        "exp",
        "cnf",
        "cnf.jwk",
        "vct",
        "status",
        "status.status_list",
    ] {
        let f = Frame::new().with(ClaimPath::parse(path).unwrap());
        let e = vc::issue(claims(&holder), &f, &issuer, &SeededSalts::new(1), None).unwrap_err();
        assert!(
            matches!(e, VcError::NonDisclosableClaim(_)),
            "{path}: {e:?}"
        );
    }
    let f = Frame::new().with(ClaimPath::parse(r#"["vct#integrity"]"#).unwrap());
    let e = vc::issue(claims(&holder), &f, &issuer, &SeededSalts::new(1), None).unwrap_err();
    assert!(
        matches!(e, VcError::NonDisclosableClaim(ref n) if n == "vct#integrity"),
        "{e:?}"
    );
}

#[test]
fn rejects_issuance_without_vct() {
    let (issuer, holder) = (signer(), signer());
    let mut c = claims(&holder);
    c.remove("vct");
    let e = vc::issue(c, &frame(), &issuer, &SeededSalts::new(1), None).unwrap_err();
    assert!(matches!(e, VcError::ClaimMissing("vct")), "{e:?}");
}

#[test]
fn rejects_missing_cnf_when_key_binding_is_required() {
    let (issuer, holder) = (signer(), signer());
    let text = crafted(&issuer, vc::TYP, base_payload(), &[]);
    let text = append_kb(
        &text,
        &holder,
        Some("kb+jwt"),
        &kb_payload(&text, AUD, NONCE, NOW),
    );
    let e = verifier_for(&issuer)
        .verify(&text, required(), &FixedClock(NOW))
        .unwrap_err();
    assert!(matches!(e, VcError::ClaimMissing("cnf")), "{e:?}");
}

#[test]
fn rejects_malformed_status() {
    let issuer = signer();
    for status in [
        json!("revoked"),
        json!({"status_list": {"idx": -1, "uri": "https://s.example/1"}}),
        json!({"status_list": {"idx": 1.5, "uri": "https://s.example/1"}}),
        json!({"status_list": {"idx": 1}}),
        json!({"status_list": {"idx": 1, "uri": 5}}),
    ] {
        let mut p = base_payload();
        p["status"] = status.clone();
        let e = verify_forbidden(&issuer, &crafted(&issuer, vc::TYP, p, &[])).unwrap_err();
        assert!(matches!(e, VcError::Status(_)), "{status}: {e:?}");
    }
    // Another status mechanism is not this crate's to judge.
    let mut p = base_payload();
    p["status"] = json!({"other_mechanism": {"id": 1}});
    assert!(
        verify_forbidden(&issuer, &crafted(&issuer, vc::TYP, p, &[]))
            .unwrap()
            .status()
            .is_none()
    );
}

#[test]
fn rejects_unknown_kid_and_ambiguous_configured_keys() {
    let (a, b) = (signer().with_kid("a"), signer().with_kid("b"));
    let resolver = KeyResolver::new().with_key(key_of(&a)).with_key(key_of(&b));
    let verifier = VcVerifier::new(resolver, ES256);
    let text = crafted(&signer().with_kid("c"), vc::TYP, base_payload(), &[]);
    let e = verifier
        .verify(&text, KeyBinding::Forbidden, &FixedClock(NOW))
        .unwrap_err();
    assert!(
        matches!(e, VcError::Resolve(ResolveError::UnknownKid(ref k)) if k == "c"),
        "{e:?}"
    );
    let text = crafted(&signer(), vc::TYP, base_payload(), &[]);
    let e = verifier
        .verify(&text, KeyBinding::Forbidden, &FixedClock(NOW))
        .unwrap_err();
    assert!(
        matches!(e, VcError::Resolve(ResolveError::AmbiguousKey)),
        "{e:?}"
    );
    let text = crafted(&b, vc::TYP, base_payload(), &[]);
    let v = verifier
        .verify(&text, KeyBinding::Forbidden, &FixedClock(NOW))
        .unwrap();
    assert!(matches!(v.key_source(), KeySource::Configured { kid: Some(k) } if k == "b"));
}

#[test]
fn rejects_when_no_key_mechanism_applies() {
    let issuer = signer();
    let verifier = VcVerifier::new(KeyResolver::new().with_issuer_metadata(), ES256);
    let text = crafted(&issuer, vc::TYP, base_payload(), &[]);
    let e = verifier
        .verify(&text, KeyBinding::Forbidden, &FixedClock(NOW))
        .unwrap_err();
    assert!(
        matches!(e, VcError::Resolve(ResolveError::NoKeySource)),
        "{e:?}"
    );
}

// ---- x5c (§2.5 "Inline X.509 Certificates")

struct Pki {
    root_der: Vec<u8>,
    leaf_der: Vec<u8>,
    leaf: SoftwareSigner,
}

fn pki(san_uri: &str, san_dns: &str) -> Pki {
    pki_with_root("Issuer Root", san_uri, san_dns)
}

fn pki_with_root(root_cn: &str, san_uri: &str, san_dns: &str) -> Pki {
    let mut root = CertificateParams::default();
    root.distinguished_name.push(DnType::CommonName, root_cn);
    root.not_before = date_time_ymd(2025, 1, 1);
    root.not_after = date_time_ymd(2030, 1, 1);
    root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    root.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let root_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let root_der = root.self_signed(&root_key).unwrap().der().to_vec();
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name
        .push(DnType::CommonName, "PID Issuer");
    leaf.not_before = date_time_ymd(2025, 1, 1);
    leaf.not_after = date_time_ymd(2030, 1, 1);
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.subject_alt_names = vec![
        SanType::URI(san_uri.try_into().unwrap()),
        SanType::DnsName(san_dns.try_into().unwrap()),
    ];
    let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let issuer = Issuer::from_params(&root, &root_key);
    let leaf_der = leaf.signed_by(&leaf_key, &issuer).unwrap().der().to_vec();
    let kp = EcdsaKeyPair::from_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &leaf_key.serialize_der(),
    )
    .unwrap();
    let d = kp.private_key().as_be_bytes().unwrap();
    let public = PublicJwk::from_ec_point(Curve::P256, kp.public_key().as_ref()).unwrap();
    let jwk = PrivateJwk::new(public, Zeroizing::new(d.as_ref().to_vec())).unwrap();
    Pki {
        root_der,
        leaf_der,
        leaf: SoftwareSigner::from_private_jwk(&jwk).unwrap(),
    }
}

fn x5c_verifier(anchor: &[u8]) -> VcVerifier {
    let anchors = TrustAnchors::from_der([anchor.to_vec()]).unwrap();
    VcVerifier::new(KeyResolver::new().with_x5c(Arc::new(anchors)), ES256)
}

fn x5c_issue(pki: &Pki, iss: Option<&str>) -> String {
    let holder = signer();
    let mut c = claims(&holder);
    match iss {
        Some(i) => {
            c.insert("iss".into(), json!(i));
        }
        None => {
            c.remove("iss");
        }
    }
    vc::issue(
        c,
        &frame(),
        &pki.leaf,
        &SeededSalts::new(9),
        Some(std::slice::from_ref(&pki.leaf_der)),
    )
    .unwrap()
    .into_string()
}

#[test]
fn verifies_issuer_key_from_x5c_chain() {
    let p = pki("https://issuer.example.com", "pid.example.com");
    let v = x5c_verifier(&p.root_der)
        .verify(
            &x5c_issue(&p, Some("https://issuer.example.com")),
            KeyBinding::Forbidden,
            &FixedClock(NOW),
        )
        .unwrap();
    match v.key_source() {
        KeySource::X5c(leaf) => assert_eq!(leaf.subject(), "CN=PID Issuer"),
        other => panic!("{other:?}"),
    }
    // iss bound through the DNS SAN (host of an https iss), and absent iss.
    x5c_verifier(&p.root_der)
        .verify(
            &x5c_issue(&p, Some("https://pid.example.com/tenant")),
            KeyBinding::Forbidden,
            &FixedClock(NOW),
        )
        .unwrap();
    x5c_verifier(&p.root_der)
        .verify(
            &x5c_issue(&p, None),
            KeyBinding::Forbidden,
            &FixedClock(NOW),
        )
        .unwrap();
}

#[test]
fn rejects_x5c_chain_to_an_untrusted_root() {
    let p = pki("https://issuer.example.com", "pid.example.com");
    let other = pki_with_root(
        "Other Root",
        "https://issuer.example.com",
        "pid.example.com",
    );
    let e = x5c_verifier(&other.root_der)
        .verify(
            &x5c_issue(&p, Some("https://issuer.example.com")),
            KeyBinding::Forbidden,
            &FixedClock(NOW),
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            VcError::Resolve(ResolveError::X5c(X5cError::UntrustedChain))
        ),
        "{e:?}"
    );
}

#[test]
fn rejects_x5c_chain_outside_its_validity() {
    let p = pki("https://issuer.example.com", "pid.example.com");
    let text = x5c_issue(&p, Some("https://issuer.example.com"));
    let late = 1_900_000_000; // 2030-03
    let e = x5c_verifier(&p.root_der)
        .verify(&text, KeyBinding::Forbidden, &FixedClock(late))
        .unwrap_err();
    assert!(
        matches!(
            e,
            VcError::Resolve(ResolveError::X5c(X5cError::Expired { .. }))
        ),
        "{e:?}"
    );
}

#[test]
fn rejects_iss_not_bound_to_the_x5c_leaf() {
    let p = pki("https://issuer.example.com", "pid.example.com");
    let text = x5c_issue(&p, Some("https://evil.example.net"));
    let e = x5c_verifier(&p.root_der)
        .verify(&text, KeyBinding::Forbidden, &FixedClock(NOW))
        .unwrap_err();
    assert!(
        matches!(e, VcError::Resolve(ResolveError::IssuerNotInCertificate)),
        "{e:?}"
    );
    let anchors = TrustAnchors::from_der([p.root_der.clone()]).unwrap();
    let loose = KeyResolver::new()
        .with_x5c(Arc::new(anchors))
        .without_x5c_issuer_binding();
    VcVerifier::new(loose, ES256)
        .verify(&text, KeyBinding::Forbidden, &FixedClock(NOW))
        .unwrap();
}

#[test]
fn rejects_x5c_signature_by_another_key() {
    let p = pki("https://issuer.example.com", "pid.example.com");
    let holder = signer();
    // x5c names the leaf, but another key signs.
    let text = vc::issue(
        claims(&holder),
        &frame(),
        &signer(),
        &SeededSalts::new(2),
        Some(std::slice::from_ref(&p.leaf_der)),
    )
    .unwrap()
    .into_string();
    let e = x5c_verifier(&p.root_der)
        .verify(&text, KeyBinding::Forbidden, &FixedClock(NOW))
        .unwrap_err();
    assert!(
        matches!(
            e,
            VcError::Verify(VerifyError::IssuerSignature(jose::Error::InvalidSignature))
        ),
        "{e:?}"
    );
}
