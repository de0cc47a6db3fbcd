//! The attester's public endpoint: an attestation request body (`client_id`, `ci_jwk`,
//! `challenge_response`, `evidence`) from anyone, parsed by
//! `client_attestation::request` as the attester does, and the challenge response in it — a JWS
//! the caller signs with the key it wants attested. Two inputs: the body as sent, and
//! bodies built around a client instance key of the target's own, with a validly signed
//! challenge response whose header and claims are fuzzed. Must never panic, and:
//! - a parsed request has a `client_id` of 1 to 255 visible ASCII characters, a usable
//!   public `ci_jwk` and a non-empty challenge response of at most 8 KiB;
//! - an accepted challenge response was signed by `ci_jwk` (never by another key), and
//!   names a non-empty challenge, this attester (`aud`), the request's `client_id`
//!   (`sub`) and a fresh `iat`;
//! - no error message carries a control character.
#![no_main]

use client_attestation::proof::{CHALLENGE_RESPONSE_TYP, ProofRules, verify_challenge_response};
use client_attestation::request::{AttestationRequest, MAX_CHALLENGE_RESPONSE, MAX_CLIENT_ID};
use jose::{Algorithm, HeaderBuilder, Signer, SoftwareSigner, VerifyingKey};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};
use std::sync::OnceLock;
use symbolon_fuzz::{assert_printable, date, extra_members, json_value, member, put, text};

const NOW: i64 = 1_700_000_000;
const AUDIENCE: &str = "https://attester.example";
const CLIENT: &str = "wallet-1";
const MAX_AGE: u64 = 120;
const SKEW: u64 = 30;

/// The client instance key and another one.
fn keys() -> Option<&'static (SoftwareSigner, SoftwareSigner)> {
    static KEYS: OnceLock<Option<(SoftwareSigner, SoftwareSigner)>> = OnceLock::new();
    KEYS.get_or_init(|| {
        Some((
            SoftwareSigner::generate(Algorithm::Es256).ok()?,
            SoftwareSigner::generate(Algorithm::Es256).ok()?,
        ))
    })
    .as_ref()
}

/// Parses `body` and, when it parses, verifies its challenge response; `signed_by_ci` says
/// whether a body built here carries a response signed with its `ci_jwk`.
fn check(body: &[u8], signed_by_ci: Option<bool>) {
    let request = match AttestationRequest::parse(body) {
        Ok(r) => r,
        Err(e) => return assert_printable(&e),
    };
    let id = &request.client_id;
    assert!(!id.is_empty() && id.len() <= MAX_CLIENT_ID);
    assert!(id.bytes().all(|b| b.is_ascii_graphic()));
    let response = &request.challenge_response;
    assert!(!response.is_empty() && response.len() <= MAX_CHALLENGE_RESPONSE);
    let Ok(ci_key) = VerifyingKey::from_jwk(&request.ci_jwk) else {
        panic!("a parsed request's `ci_jwk` is not a verifying key");
    };
    let rules = ProofRules {
        audience: AUDIENCE,
        client_id: id,
        now: NOW,
        max_age: MAX_AGE,
        skew: SKEW,
    };
    let verified = match verify_challenge_response(response, &request.ci_jwk, &ci_key, &rules) {
        Ok(v) => v,
        Err(e) => return assert_printable(&e),
    };
    assert_ne!(
        signed_by_ci,
        Some(false),
        "accepted a response signed by another key"
    );
    assert!(!verified.challenge().is_empty());
    let claims = jose::CompactJws::parse(response)
        .ok()
        .and_then(|j| j.claims_unverified().ok())
        .unwrap_or_default();
    assert_eq!(claims.get("challenge"), Some(&json!(verified.challenge())));
    match claims.get("aud") {
        Some(Value::String(a)) => assert_eq!(a, AUDIENCE),
        Some(Value::Array(a)) => assert_eq!(a.as_slice(), [json!(AUDIENCE)]),
        other => panic!("accepted `aud` {other:?}"),
    }
    assert_eq!(claims.get("sub"), Some(&json!(id)));
    let iat = jose::jwt::numeric_date(&claims, "iat").ok().flatten();
    let skew = SKEW as i64;
    assert!(iat.is_some_and(|t| t <= NOW + skew && NOW - t <= MAX_AGE as i64 + skew));
}

fn build(u: &mut Unstructured<'_>) -> Result<Option<(String, bool)>> {
    let Some((ci, other)) = keys() else {
        return Ok(None);
    };
    let by_ci = !u.ratio(1, 5)?;
    let signer = if by_ci { ci } else { other };
    let typ = match u.choose_index(4)? {
        0 => text(u)?,
        1 => "JWT".to_owned(),
        _ => CHALLENGE_RESPONSE_TYP.to_owned(),
    };
    let mut header = HeaderBuilder::new().typ(&typ);
    if u.ratio(1, 6)? {
        header = header.jwk(&other.public_jwk().bare());
    }
    if u.ratio(1, 8)? {
        header = header.param(&text(u)?, json_value(u)?);
    }
    let mut claims = Map::new();
    put(&mut claims, "challenge", member(u, json!("c-1"))?);
    let aud = if u.arbitrary()? {
        json!(AUDIENCE)
    } else {
        json!([AUDIENCE])
    };
    put(&mut claims, "aud", member(u, aud)?);
    put(&mut claims, "sub", member(u, json!(CLIENT))?);
    put(&mut claims, "iat", date(u, NOW)?);
    if u.ratio(1, 4)? {
        put(&mut claims, "exp", date(u, NOW)?);
    }
    extra_members(u, &mut claims)?;
    let response = header
        .sign(Value::Object(claims).to_string().as_bytes(), signer)
        .unwrap_or_default();

    let mut body = Map::new();
    put(&mut body, "client_id", member(u, json!(CLIENT))?);
    let mut jwk = ci.public_jwk().bare().to_value();
    if u.ratio(1, 8)?
        && let Value::Object(m) = &mut jwk
    {
        m.insert(text(u)?, json_value(u)?);
    }
    put(&mut body, "ci_jwk", member(u, jwk)?);
    put(&mut body, "challenge_response", member(u, json!(response))?);
    let evidence = match u.choose_index(3)? {
        0 => json!({"type": "kubernetes", "token": text(u)?}),
        1 => json!({"type": "tpm"}),
        _ => json!({"type": "dev"}),
    };
    let mut evidence = member(u, evidence)?;
    if let Some(Value::Object(m)) = &mut evidence {
        extra_members(u, m)?;
    }
    put(&mut body, "evidence", evidence);
    extra_members(u, &mut body)?;
    Ok(Some((Value::Object(body).to_string(), by_ci)))
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        check(rest, None);
    } else if let Ok(Some((body, by_ci))) = build(&mut Unstructured::new(rest)) {
        check(body.as_bytes(), Some(by_ci));
    }
});
