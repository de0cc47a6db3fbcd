//! Attestation-Based Client Authentication at an authorization server: an
//! `OAuth-Client-Attestation` + `OAuth-Client-Attestation-PoP` pair checked against fixed
//! trusted attesters. Two inputs: the two header values as sent (split at the first line
//! feed), and pairs validly signed by the target's own keys — a trusted attester's, an
//! untrusted one's, the client instance key — with fuzzed headers and claims. Must never
//! panic, and an accepted pair must be what the crate promises:
//! - the attestation was signed by a trusted key, and `trusted_by` names that key's
//!   attester; a pair signed (attestation or PoP) by an untrusted key is refused;
//! - `client_id` is the attestation's non-empty `sub`, `cnf` its `cnf.jwk`, the
//!   attestation is unexpired and the PoP fresh, for this audience, with a non-empty `jti`,
//!   its `iss` (when present) and the request's `client_id` equal to `sub`;
//! - verifying in two steps (`verify_attestation`, then `verify_pop`) decides the same as
//!   `verify`;
//! - no error message carries a line break or control character from the input (they
//!   are logged).
#![no_main]

use client_attestation::{
    ATTESTATION_TYP, AttestationVerifier, POP_TYP, TrustedAttester, VerifiedClientAttestation,
};
use jose::{Algorithm, FixedClock, HeaderBuilder, PublicJwk, Signer, SoftwareSigner, VerifyingKey};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};
use std::sync::OnceLock;
use symbolon_fuzz::{assert_printable, date, extra_members, json_value, member, put, text};

const NOW: i64 = 1_700_000_000;
const AUDIENCE: &str = "https://issuer.example";
const ATTESTER: &str = "https://attester.example";
const CLIENT: &str = "wallet-1";
const SKEW: u64 = 60;
const POP_MAX_AGE: u64 = 300;

struct Keys {
    /// Trusted attester 0 (`iss` = [`ATTESTER`]), key id `a1`.
    attester: SoftwareSigner,
    /// Trusted attester 1 (a wallet provider without `iss`), no key id.
    provider: SoftwareSigner,
    /// Trusted by nobody.
    untrusted: SoftwareSigner,
    /// The client instance key.
    client: SoftwareSigner,
    /// Trusts both attesters.
    verifier: AttestationVerifier,
    /// Trusts attester 0 only, so an attestation whose `iss` is not its own has no
    /// candidate key at all.
    strict: AttestationVerifier,
}

fn keys() -> Option<&'static Keys> {
    static KEYS: OnceLock<Option<Keys>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let attester = SoftwareSigner::generate(Algorithm::Es256)
            .ok()?
            .with_kid("a1");
        let provider = SoftwareSigner::generate(Algorithm::Ed25519).ok()?;
        let untrusted = SoftwareSigner::generate(Algorithm::Es256).ok()?;
        let client = SoftwareSigner::generate(Algorithm::Es256).ok()?;
        let verifying = |s: &SoftwareSigner| VerifyingKey::from_jwk(&s.public_jwk().clone()).ok();
        let verifier = AttestationVerifier {
            audience: AUDIENCE.into(),
            attestation_algorithms: Algorithm::ALL.to_vec(),
            pop_algorithms: Algorithm::ALL.to_vec(),
            skew: SKEW,
            pop_max_age: POP_MAX_AGE,
            attesters: vec![
                TrustedAttester {
                    issuer: Some(ATTESTER.into()),
                    keys: vec![verifying(&attester)?],
                },
                TrustedAttester {
                    issuer: None,
                    keys: vec![verifying(&provider)?],
                },
            ],
        };
        let mut strict = verifier.clone();
        strict.attesters.truncate(1);
        Some(Keys {
            attester,
            provider,
            untrusted,
            client,
            verifier,
            strict,
        })
    })
    .as_ref()
}

/// Checks a decision against what the input says and, for a pair built here, against
/// what the generator knows (`built`).
fn check(
    verifier: &AttestationVerifier,
    attestation: &str,
    pop: &str,
    client_id: Option<&str>,
    built: Option<Built>,
) {
    let clock = FixedClock(NOW);
    let result = verifier.verify(attestation, pop, client_id, &clock);
    let stepwise = verifier
        .verify_attestation(attestation, &clock)
        .and_then(|a| verifier.verify_pop(&a, pop, client_id, &clock));
    assert_eq!(result.is_ok(), stepwise.is_ok());
    let v = match result {
        Ok(v) => v,
        Err(e) => {
            assert_printable(&e);
            let _ = e.oauth_error();
            return;
        }
    };
    accepted(&v, attestation, pop, client_id);
    assert!(v.trusted_by() < verifier.attesters.len());
    if let Some(built) = built {
        assert_eq!(built.attestation_signer, Some(v.trusted_by()));
        assert!(built.pop_by_client);
    }
}

fn accepted(v: &VerifiedClientAttestation, attestation: &str, pop: &str, client_id: Option<&str>) {
    let claims = |jwt: &str| {
        jose::CompactJws::parse(jwt)
            .ok()
            .and_then(|j| j.claims_unverified().ok())
            .unwrap_or_default()
    };
    let a = claims(attestation);
    let p = claims(pop);
    assert!(!v.client_id().is_empty());
    assert_eq!(a.get("sub"), Some(&json!(v.client_id())));
    let cnf = a.get("cnf").and_then(|c| c.get("jwk"));
    let cnf = cnf.and_then(|c| PublicJwk::from_value(c).ok());
    assert!(cnf.is_some_and(|c| c.same_key(v.cnf())));
    let skew = SKEW as i64;
    assert!(NOW < v.exp().saturating_add(skew));
    assert!(v.pop_iat() <= NOW + skew && NOW - v.pop_iat() <= POP_MAX_AGE as i64 + skew);
    assert!(!v.pop_jti().is_empty());
    assert_eq!(p.get("jti"), Some(&json!(v.pop_jti())));
    match p.get("aud") {
        Some(Value::String(aud)) => assert_eq!(aud, AUDIENCE),
        Some(Value::Array(aud)) => assert_eq!(aud.as_slice(), [json!(AUDIENCE)]),
        other => panic!("accepted PoP `aud` {other:?}"),
    }
    if let Some(iss) = p.get("iss") {
        assert_eq!(iss, &json!(v.client_id()));
    }
    assert!(client_id.is_none_or(|c| c == v.client_id()));
}

/// What the generator knows about a pair it built.
#[derive(Clone, Copy)]
struct Built {
    /// Index of the trusted attester whose key signed the attestation; `None` for the
    /// untrusted key.
    attestation_signer: Option<usize>,
    /// The PoP was signed by the client instance key.
    pop_by_client: bool,
}

fn build(u: &mut Unstructured<'_>, keys: &Keys) -> Result<(String, String, Option<String>, Built)> {
    let (signer, index) = match u.choose_index(5)? {
        0 => (&keys.untrusted, None),
        1 => (&keys.provider, Some(1)),
        _ => (&keys.attester, Some(0)),
    };
    let typ = match u.choose_index(5)? {
        0 => text(u)?,
        1 => POP_TYP.to_owned(),
        _ => ATTESTATION_TYP.to_owned(),
    };
    let mut header = HeaderBuilder::new().typ(&typ);
    match u.choose_index(5)? {
        0 => header = header.kid(&text(u)?),
        1 => header = header.kid("a1"),
        2 => header = header.jwk(&signer.public_jwk().bare()),
        _ => {
            if let Some(kid) = signer.public_jwk().kid() {
                header = header.kid(kid);
            }
        }
    }
    let mut claims = Map::new();
    put(&mut claims, "iss", member(u, json!(ATTESTER))?);
    put(&mut claims, "sub", member(u, json!(CLIENT))?);
    put(&mut claims, "iat", date(u, NOW)?);
    put(&mut claims, "exp", date(u, NOW + 3600)?);
    if u.ratio(1, 4)? {
        put(&mut claims, "nbf", date(u, NOW)?);
    }
    let cnf = json!({ "jwk": keys.client.public_jwk().bare().to_value() });
    put(&mut claims, "cnf", member(u, cnf)?);
    extra_members(u, &mut claims)?;
    let attestation = header
        .sign(Value::Object(claims).to_string().as_bytes(), signer)
        .unwrap_or_default();

    let pop_by_client = !u.ratio(1, 5)?;
    let pop_signer = if pop_by_client {
        &keys.client
    } else {
        &keys.untrusted
    };
    let pop_typ = match u.choose_index(5)? {
        0 => text(u)?,
        1 => ATTESTATION_TYP.to_owned(),
        _ => POP_TYP.to_owned(),
    };
    let mut p = Map::new();
    let aud = if u.arbitrary()? {
        json!(AUDIENCE)
    } else {
        json!([AUDIENCE])
    };
    put(&mut p, "aud", member(u, aud)?);
    put(&mut p, "jti", member(u, json!("j-1"))?);
    put(&mut p, "iat", date(u, NOW)?);
    if u.arbitrary()? {
        put(&mut p, "iss", member(u, json!(CLIENT))?);
        put(&mut p, "exp", date(u, NOW + 60)?);
    }
    if u.arbitrary()? {
        put(&mut p, "challenge", member(u, json!("c-1"))?);
    }
    extra_members(u, &mut p)?;
    let pop_payload = if u.ratio(1, 16)? {
        json_value(u)?.to_string()
    } else {
        Value::Object(p).to_string()
    };
    let pop = HeaderBuilder::new()
        .typ(&pop_typ)
        .sign(pop_payload.as_bytes(), pop_signer)
        .unwrap_or_default();
    let client_id = match u.choose_index(4)? {
        0 => Some(CLIENT.to_owned()),
        1 => Some(text(u)?),
        _ => None,
    };
    let built = Built {
        attestation_signer: index,
        pop_by_client,
    };
    Ok((attestation, pop, client_id, built))
}

fuzz_target!(|data: &[u8]| {
    let Some(keys) = keys() else {
        return;
    };
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let verifier = if mode & 4 == 4 {
        &keys.strict
    } else {
        &keys.verifier
    };
    if mode % 2 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        let (attestation, pop) = text.split_once('\n').unwrap_or((text, ""));
        let client_id = (mode & 2 == 2).then_some(CLIENT);
        check(verifier, attestation, pop, client_id, None);
    } else if let Ok((attestation, pop, client_id, built)) =
        build(&mut Unstructured::new(rest), keys)
    {
        check(
            verifier,
            &attestation,
            &pop,
            client_id.as_deref(),
            Some(built),
        );
    }
});
