//! Attestation + PoP verification: the accepted claim sets (-07 and -10) and every refusal.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use client_attestation::*;
use jose::{Algorithm, FixedClock, HeaderBuilder, Signer, SoftwareSigner, VerifyingKey};
use serde_json::{Map, Value, json};

const AUD: &str = "https://issuer.example";
const NOW: i64 = 1_800_000_000;

struct Fixture {
    attester: SoftwareSigner,
    ci: SoftwareSigner,
    verifier: AttestationVerifier,
}

fn fixture() -> Fixture {
    let attester = SoftwareSigner::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("a1");
    let ci = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let verifier = AttestationVerifier {
        audience: AUD.into(),
        attestation_algorithms: vec![Algorithm::Es256],
        pop_algorithms: vec![Algorithm::Es256, Algorithm::Ed25519],
        skew: 30,
        pop_max_age: 300,
        attesters: vec![TrustedAttester {
            issuer: Some("https://attester.example".into()),
            keys: vec![VerifyingKey::from_jwk(attester.public_jwk()).unwrap()],
        }],
    };
    Fixture {
        attester,
        ci,
        verifier,
    }
}

fn environment(evidence: EvidenceType, key_protection: KeyProtection) -> Environment {
    Environment {
        evidence,
        key_protection,
        namespace: Some("cvm-wallets".into()),
        service_account: Some("wallet-sa".into()),
        extra: Map::new(),
    }
}

fn attestation(f: &Fixture) -> AttestationClaims {
    AttestationClaims {
        issuer: Some("https://attester.example".into()),
        client_id: "wallet-client".into(),
        iat: NOW - 10,
        exp: NOW + 3600,
        cnf: f.ci.public_jwk().clone(),
        jti: Some("att-1".into()),
        environment: Some(environment(EvidenceType::Kubernetes, KeyProtection::Pkcs11)),
        extra: Map::new(),
    }
}

fn pop(aud: &str) -> PopClaims {
    PopClaims {
        aud: aud.into(),
        jti: "pop-1".into(),
        iat: NOW - 5,
        challenge: None,
        legacy: None,
    }
}

fn sign_raw(header: Value, claims: Value, signer: &dyn Signer) -> String {
    let mut h = HeaderBuilder::new();
    for (k, v) in header.as_object().unwrap() {
        h = h.param(k, v.clone());
    }
    h.sign(claims.to_string().as_bytes(), signer).unwrap()
}

#[test]
fn accepts_draft_10_claim_set() {
    let f = fixture();
    let mut a = attestation(&f);
    a.issuer = None;
    let mut v = f.verifier.clone();
    v.attesters[0].issuer = None;
    let att = a.sign(&f.attester, None).unwrap();
    let mut p = pop(AUD);
    p.challenge = Some("ch-1".into());
    let pop = p.sign(&f.ci).unwrap();
    let ok = v
        .verify(&att, &pop, Some("wallet-client"), &FixedClock(NOW))
        .unwrap();
    assert_eq!(ok.client_id(), "wallet-client");
    assert_eq!(ok.challenge(), Some("ch-1"));
    assert_eq!(ok.pop_jti(), "pop-1");
    assert!(ok.cnf().same_key(f.ci.public_jwk()));
    assert_eq!(ok.attester(), None);
}

#[test]
fn accepts_draft_07_claim_set_with_pop_iss_and_exp() {
    let f = fixture();
    let att = attestation(&f).sign(&f.attester, None).unwrap();
    let mut p = pop(AUD);
    p.legacy = Some(("wallet-client".into(), NOW + 60));
    let ok = f
        .verifier
        .verify(&att, &p.sign(&f.ci).unwrap(), None, &FixedClock(NOW))
        .unwrap();
    assert_eq!(ok.attester(), Some("https://attester.example"));
}

#[test]
fn rejects_attestation_from_untrusted_key() {
    let f = fixture();
    let rogue = SoftwareSigner::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("a1");
    let att = attestation(&f).sign(&rogue, None).unwrap();
    let e = f
        .verifier
        .verify(&att, &pop(AUD).sign(&f.ci).unwrap(), None, &FixedClock(NOW))
        .unwrap_err();
    // Issue 10 item 3: it names the trusted key `a1`, so this is a bad signature (was the
    // generic `Attestation(InvalidSignature)`).
    assert!(
        matches!(e, AttestationError::BadSignature { ref kid } if kid == "a1"),
        "{e}"
    );
    assert_eq!(e.oauth_error(), "invalid_client_attestation");
}

#[test]
fn rejects_unknown_kid_and_wrong_issuer() {
    let f = fixture();
    let other = SoftwareSigner::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("zz");
    let att = attestation(&f).sign(&other, None).unwrap();
    let e = f
        .verifier
        .verify(&att, &pop(AUD).sign(&f.ci).unwrap(), None, &FixedClock(NOW))
        .unwrap_err();
    // Issue 10 item 3: an unknown `kid` is said to be one (was `UntrustedAttester`).
    assert!(
        matches!(e, AttestationError::UnknownKid { ref kid } if kid == "zz"),
        "{e}"
    );
    let mut a = attestation(&f);
    a.issuer = Some("https://evil.example".into());
    let att = a.sign(&f.attester, None).unwrap();
    let e = f
        .verifier
        .verify(&att, &pop(AUD).sign(&f.ci).unwrap(), None, &FixedClock(NOW))
        .unwrap_err();
    assert!(
        matches!(e, AttestationError::UntrustedAttester { .. }),
        "{e}"
    );
}

#[test]
fn rejects_wrong_attestation_typ() {
    let f = fixture();
    let claims = Value::Object(attestation(&f).to_object());
    let att = sign_raw(json!({"typ": "JWT", "kid": "a1"}), claims, &f.attester);
    let e = f
        .verifier
        .verify(&att, &pop(AUD).sign(&f.ci).unwrap(), None, &FixedClock(NOW))
        .unwrap_err();
    assert!(
        matches!(
            e,
            AttestationError::Attestation(jose::Error::UnexpectedTyp { .. })
        ),
        "{e}"
    );
}

#[test]
fn rejects_expired_attestation_with_use_fresh_attestation() {
    let f = fixture();
    let mut a = attestation(&f);
    a.exp = NOW - 100;
    let att = a.sign(&f.attester, None).unwrap();
    let e = f
        .verifier
        .verify(&att, &pop(AUD).sign(&f.ci).unwrap(), None, &FixedClock(NOW))
        .unwrap_err();
    assert!(
        matches!(
            e,
            AttestationError::AttestationTime(jose::ClaimError::Expired { .. })
        ),
        "{e}"
    );
    assert_eq!(e.oauth_error(), "use_fresh_attestation");
}

#[test]
fn rejects_attestation_without_sub_exp_or_cnf() {
    let f = fixture();
    for missing in ["sub", "exp", "cnf"] {
        let mut claims = attestation(&f).to_object();
        claims.remove(missing);
        let att = sign_raw(
            json!({"typ": ATTESTATION_TYP, "kid": "a1"}),
            Value::Object(claims),
            &f.attester,
        );
        let e = f
            .verifier
            .verify(&att, &pop(AUD).sign(&f.ci).unwrap(), None, &FixedClock(NOW))
            .unwrap_err();
        assert!(
            matches!(e, AttestationError::AttestationClaim(n) if n == missing),
            "{missing}: {e}"
        );
    }
}

#[test]
fn rejects_private_key_in_cnf() {
    let f = fixture();
    let mut claims = attestation(&f).to_object();
    let private = f.ci.to_private_jwk().unwrap();
    let with_d: Value = serde_json::from_str(&private.to_json()).unwrap();
    claims.insert("cnf".into(), json!({ "jwk": with_d }));
    let att = sign_raw(
        json!({"typ": ATTESTATION_TYP, "kid": "a1"}),
        Value::Object(claims),
        &f.attester,
    );
    let e = f
        .verifier
        .verify(&att, &pop(AUD).sign(&f.ci).unwrap(), None, &FixedClock(NOW))
        .unwrap_err();
    assert!(
        matches!(e, AttestationError::Cnf(jose::JwkError::PrivateMaterial)),
        "{e}"
    );
}

#[test]
fn rejects_pop_signed_by_another_key() {
    let f = fixture();
    let att = attestation(&f).sign(&f.attester, None).unwrap();
    let thief = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let e = f
        .verifier
        .verify(
            &att,
            &pop(AUD).sign(&thief).unwrap(),
            None,
            &FixedClock(NOW),
        )
        .unwrap_err();
    assert!(
        matches!(e, AttestationError::Pop(jose::Error::InvalidSignature)),
        "{e}"
    );
    assert_eq!(e.oauth_error(), "invalid_client");
}

#[test]
fn rejects_pop_for_another_audience() {
    let f = fixture();
    let att = attestation(&f).sign(&f.attester, None).unwrap();
    let e = f
        .verifier
        .verify(
            &att,
            &pop("https://other.example").sign(&f.ci).unwrap(),
            None,
            &FixedClock(NOW),
        )
        .unwrap_err();
    assert!(matches!(e, AttestationError::AudienceMismatch), "{e}");
}

#[test]
fn rejects_stale_and_future_pop() {
    let f = fixture();
    let att = attestation(&f).sign(&f.attester, None).unwrap();
    let mut p = pop(AUD);
    p.iat = NOW - 1000;
    let e = f
        .verifier
        .verify(&att, &p.sign(&f.ci).unwrap(), None, &FixedClock(NOW))
        .unwrap_err();
    assert!(
        matches!(
            e,
            AttestationError::PopTime(jose::ClaimError::TooOld { .. })
        ),
        "{e}"
    );
    p.iat = NOW + 1000;
    let e = f
        .verifier
        .verify(&att, &p.sign(&f.ci).unwrap(), None, &FixedClock(NOW))
        .unwrap_err();
    assert!(
        matches!(
            e,
            AttestationError::PopTime(jose::ClaimError::IssuedInFuture { .. })
        ),
        "{e}"
    );
}

#[test]
fn rejects_pop_without_jti_or_iat_and_wrong_typ() {
    let f = fixture();
    let att = attestation(&f).sign(&f.attester, None).unwrap();
    for missing in ["jti", "iat", "aud"] {
        let mut c = pop(AUD).to_object();
        c.remove(missing);
        let p = sign_raw(json!({"typ": POP_TYP}), Value::Object(c), &f.ci);
        let e = f
            .verifier
            .verify(&att, &p, None, &FixedClock(NOW))
            .unwrap_err();
        assert!(
            matches!(e, AttestationError::PopClaim(n) if n == missing),
            "{missing}: {e}"
        );
    }
    let p = sign_raw(
        json!({"typ": "JWT"}),
        Value::Object(pop(AUD).to_object()),
        &f.ci,
    );
    let e = f
        .verifier
        .verify(&att, &p, None, &FixedClock(NOW))
        .unwrap_err();
    assert!(
        matches!(e, AttestationError::Pop(jose::Error::UnexpectedTyp { .. })),
        "{e}"
    );
}

#[test]
fn rejects_draft_07_pop_with_mismatched_iss_or_expired() {
    let f = fixture();
    let att = attestation(&f).sign(&f.attester, None).unwrap();
    let mut p = pop(AUD);
    p.legacy = Some(("someone-else".into(), NOW + 60));
    let e = f
        .verifier
        .verify(&att, &p.sign(&f.ci).unwrap(), None, &FixedClock(NOW))
        .unwrap_err();
    assert!(matches!(e, AttestationError::PopIssuerMismatch), "{e}");
    p.legacy = Some(("wallet-client".into(), NOW - 60));
    let e = f
        .verifier
        .verify(&att, &p.sign(&f.ci).unwrap(), None, &FixedClock(NOW))
        .unwrap_err();
    assert!(
        matches!(
            e,
            AttestationError::PopTime(jose::ClaimError::Expired { .. })
        ),
        "{e}"
    );
}

#[test]
fn rejects_client_id_different_from_sub() {
    let f = fixture();
    let att = attestation(&f).sign(&f.attester, None).unwrap();
    let e = f
        .verifier
        .verify(
            &att,
            &pop(AUD).sign(&f.ci).unwrap(),
            Some("other"),
            &FixedClock(NOW),
        )
        .unwrap_err();
    assert!(matches!(e, AttestationError::ClientIdMismatch), "{e}");
}

#[test]
fn rejects_attestation_alg_outside_allow_list() {
    let f = fixture();
    let ed = SoftwareSigner::generate(Algorithm::Ed25519)
        .unwrap()
        .with_kid("a1");
    let mut v = f.verifier.clone();
    v.attesters[0]
        .keys
        .push(VerifyingKey::from_jwk(ed.public_jwk()).unwrap());
    let att = attestation(&f).sign(&ed, None).unwrap();
    let e = v
        .verify(&att, &pop(AUD).sign(&f.ci).unwrap(), None, &FixedClock(NOW))
        .unwrap_err();
    assert!(
        matches!(
            e,
            AttestationError::Attestation(jose::Error::AlgorithmNotAllowed(Algorithm::Ed25519))
        ),
        "{e}"
    );
}

#[test]
fn policy_refuses_dev_evidence_and_software_keys_in_production() {
    let f = fixture();
    let p = EnvironmentPolicy::production();
    let mut a = attestation(&f);
    assert_eq!(
        p.evaluate(&a.to_object()).unwrap().evidence,
        EvidenceType::Kubernetes
    );
    a.environment = Some(environment(EvidenceType::Dev, KeyProtection::Pkcs11));
    assert_eq!(
        p.evaluate(&a.to_object()),
        Err(PolicyViolation::Evidence("dev"))
    );
    a.environment = Some(environment(
        EvidenceType::Kubernetes,
        KeyProtection::Software,
    ));
    assert_eq!(
        p.evaluate(&a.to_object()),
        Err(PolicyViolation::KeyProtection("software"))
    );
    a.environment = None;
    assert_eq!(
        p.evaluate(&a.to_object()),
        Err(PolicyViolation::NoEnvironment)
    );
}

#[test]
fn policy_checks_attester_and_required_claims() {
    let f = fixture();
    let mut p = EnvironmentPolicy::production();
    p.required = vec![("/environment/namespace".into(), vec![json!("cvm-wallets")])];
    let a = attestation(&f);
    assert!(p.evaluate(&a.to_object()).is_ok());
    p.required = vec![("/environment/namespace".into(), vec![json!("other")])];
    assert!(matches!(
        p.evaluate(&a.to_object()),
        Err(PolicyViolation::Claim { .. })
    ));
    p.required.clear();
    p.attesters = vec!["https://only.example".into()];
    assert!(matches!(
        p.evaluate(&a.to_object()),
        Err(PolicyViolation::Attester(_))
    ));
}

#[test]
fn challenge_errors_map_to_use_attestation_challenge() {
    assert_eq!(
        AttestationError::ChallengeRequired.oauth_error(),
        "use_attestation_challenge"
    );
    assert_eq!(
        AttestationError::ChallengeInvalid.oauth_error(),
        "use_attestation_challenge"
    );
    assert_eq!(AttestationError::Replay.oauth_error(), "invalid_client");
}

#[test]
fn a_verified_attestation_checks_later_pops_until_it_expires() {
    let f = fixture();
    let att = attestation(&f).sign(&f.attester, None).unwrap();
    let verified = f
        .verifier
        .verify_attestation(&att, &FixedClock(NOW))
        .unwrap();
    let mut p = pop(AUD);
    for (i, at) in [NOW, NOW + 600].into_iter().enumerate() {
        p.jti = format!("pop-{i}");
        p.iat = at;
        let ok = f
            .verifier
            .verify_pop(&verified, &p.sign(&f.ci).unwrap(), None, &FixedClock(at))
            .unwrap();
        assert_eq!(ok.pop_jti(), format!("pop-{i}"));
    }
    p.iat = NOW + 3600 + 31;
    let e = f
        .verifier
        .verify_pop(
            &verified,
            &p.sign(&f.ci).unwrap(),
            None,
            &FixedClock(NOW + 3600 + 31),
        )
        .unwrap_err();
    assert!(matches!(e, AttestationError::AttestationTime(_)), "{e}");
    assert_eq!(e.oauth_error(), "use_fresh_attestation");
}

/// Issue 10 item 3: each of the three reasons a signature check fails is named, in the
/// message the issuer sends as `error_description` and logs.
#[test]
fn issue10_attestation_error_says_untrusted_key_unknown_kid_or_bad_signature() {
    let f = fixture();
    let pop = pop(AUD).sign(&f.ci).unwrap();
    let check = |att: &str| {
        f.verifier
            .verify(att, &pop, None, &FixedClock(NOW))
            .unwrap_err()
    };

    // A well-signed attestation from a key nobody trusts, naming no kid but carrying its
    // key: the signature is fine, the key is not trusted.
    let stranger = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let att = HeaderBuilder::new()
        .typ(ATTESTATION_TYP)
        .jwk(stranger.public_jwk())
        .sign(
            Value::Object(attestation(&f).to_object())
                .to_string()
                .as_bytes(),
            &stranger,
        )
        .unwrap();
    let e = check(&att);
    let thumbprint = stranger.public_jwk().thumbprint();
    assert!(
        matches!(e, AttestationError::UntrustedKey { tried: 1, thumbprint: Some(ref t) } if *t == thumbprint),
        "{e}"
    );
    let text = e.to_string();
    assert!(text.contains("untrusted key"), "{text}");
    assert!(text.contains(&thumbprint), "{text}");
    assert!(!text.contains("signature is invalid"), "{text}");
    assert_eq!(e.oauth_error(), "invalid_client_attestation");

    // Without kid or jwk: still an untrusted key, without the proof.
    let att = attestation(&f).sign(&stranger, None).unwrap();
    let e = check(&att);
    assert!(
        matches!(
            e,
            AttestationError::UntrustedKey {
                tried: 1,
                thumbprint: None
            }
        ),
        "{e}"
    );

    // An unknown kid.
    let named = SoftwareSigner::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("other-attester-key");
    let e = check(&attestation(&f).sign(&named, None).unwrap());
    assert!(
        e.to_string().contains("unknown kid `other-attester-key`"),
        "{e}"
    );

    // The trusted key's kid, but the payload was altered after signing: bad signature.
    let att = attestation(&f).sign(&f.attester, None).unwrap();
    let mut parts: Vec<&str> = att.split('.').collect();
    let mut altered = attestation(&f);
    altered.client_id = "someone-else".into();
    let payload = jose::b64::encode(Value::Object(altered.to_object()).to_string());
    parts[1] = &payload;
    let e = check(&parts.join("."));
    assert!(
        matches!(e, AttestationError::BadSignature { ref kid } if kid == "a1"),
        "{e}"
    );
    assert!(e.to_string().contains("bad signature"), "{e}");
}

/// Issue 10 item 2: the verified attestation says which trusted attester's key verified
/// it, so the caller applies that entry's policy.
#[test]
fn issue10_verified_attestation_names_the_trust_entry_whose_key_verified_it() {
    let f = fixture();
    let provider = SoftwareSigner::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("wp-1");
    let mut v = f.verifier.clone();
    v.attesters.push(TrustedAttester {
        issuer: None,
        keys: vec![VerifyingKey::from_jwk(provider.public_jwk()).unwrap()],
    });
    let pop = pop(AUD).sign(&f.ci).unwrap();
    let ours = attestation(&f).sign(&f.attester, None).unwrap();
    assert_eq!(
        v.verify(&ours, &pop, None, &FixedClock(NOW))
            .unwrap()
            .trusted_by(),
        0
    );
    let mut a = attestation(&f);
    a.issuer = None;
    let theirs = a.sign(&provider, None).unwrap();
    assert_eq!(
        v.verify(&theirs, &pop, None, &FixedClock(NOW))
            .unwrap()
            .trusted_by(),
        1
    );
}

#[test]
fn issue11_sender_text_in_refusals_cannot_forge_a_log_line() {
    // Found by the `client_attestation_verify` fuzz target: the issuer logs these messages
    // (`reason = %e`), and a `typ` or `iss` with a line break went into them verbatim.
    let f = fixture();
    let claims = Value::Object(attestation(&f).to_object());
    let att = sign_raw(json!({"typ": "\n\0\0", "kid": "a1"}), claims, &f.attester);
    let e = f
        .verifier
        .verify(&att, &pop(AUD).sign(&f.ci).unwrap(), None, &FixedClock(NOW))
        .unwrap_err();
    assert!(
        matches!(
            e,
            AttestationError::Attestation(jose::Error::UnexpectedTyp { .. })
        ),
        "{e}"
    );
    assert!(!e.to_string().contains(char::is_control), "{e:?}");

    let mut a = attestation(&f);
    a.issuer = Some("https://evil.example\nINFO forged line".into());
    let att = a.sign(&f.attester, None).unwrap();
    let e = f
        .verifier
        .verify(&att, &pop(AUD).sign(&f.ci).unwrap(), None, &FixedClock(NOW))
        .unwrap_err();
    assert!(
        matches!(e, AttestationError::UntrustedAttester { .. }),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "client attestation is not signed by a trusted attester (iss `https://evil.example\\nINFO forged line`, kid `a1`)"
    );
}
