//! Proof JWTs (`openid4vci-proof+jwt`, OID4VCI Appendix F) from a hostile wallet, checked
//! with a fixed policy: the text as sent, and proofs validly signed by a key of the
//! target's own with fuzzed header members and claims. Must never panic, and an accepted
//! proof must meet every rule of F.4 `verify_proof` documents: the right `typ`, an allowed
//! `alg`, the key given by `jwk` alone (and that key is the one returned), `aud` this
//! issuer, `iat` inside the window, `iss` absent or the client, a non-empty `nonce` when
//! the issuer requires one. No error message carries a control character.
#![no_main]

use jose::{Algorithm, FixedClock, HeaderBuilder, Signer, SoftwareSigner};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use oid4vci::{PROOF_TYP, ProofPolicy, verify_proof};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;
use symbolon_fuzz::{assert_printable, date, extra_members, json_value, member, put, text};

const NOW: i64 = 1_700_000_000;
const AUDIENCE: &str = "https://issuer.example";
const CLIENT: &str = "wallet-1";
const MAX_AGE: u64 = 300;
const SKEW: u64 = 60;

/// The wallet's key and a second one, generated once.
fn keys() -> Option<&'static (SoftwareSigner, SoftwareSigner)> {
    static KEYS: OnceLock<Option<(SoftwareSigner, SoftwareSigner)>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let wallet = SoftwareSigner::generate(Algorithm::Es256).ok()?;
        let other = SoftwareSigner::generate(Algorithm::Ed25519).ok()?;
        Some((wallet, other))
    })
    .as_ref()
}

fn check(jwt: &str, policy: &ProofPolicy<'_>) {
    let proof = match verify_proof(jwt, policy, &FixedClock(NOW)) {
        Ok(p) => p,
        Err(e) => return assert_printable(&e),
    };
    let Ok(jws) = jose::CompactJws::parse(jwt) else {
        panic!("an accepted proof does not parse");
    };
    let header = jws.header();
    assert_eq!(header.typ(), Some(PROOF_TYP));
    assert!(policy.algorithms.contains(&header.alg()));
    assert!(header.kid().is_none() && header.x5c().is_none());
    let Some(jwk) = header.jwk() else {
        panic!("an accepted proof names no `jwk`");
    };
    assert!(jwk.same_key(&proof.key));
    let Ok(claims) = jws.claims_unverified() else {
        panic!("an accepted proof has no claims object");
    };
    match claims.get("aud") {
        Some(Value::String(a)) => assert_eq!(a, AUDIENCE),
        Some(Value::Array(a)) => assert_eq!(a.as_slice(), [json!(AUDIENCE)]),
        other => panic!("accepted `aud` {other:?}"),
    }
    let skew = SKEW as i64;
    assert!(proof.iat <= NOW + skew);
    assert!(NOW - proof.iat <= MAX_AGE as i64 + skew);
    match (claims.get("iss"), policy.client_id) {
        (None, _) => {}
        (Some(Value::String(iss)), Some(client)) => assert_eq!(iss, client),
        (iss, client) => panic!("accepted `iss` {iss:?} for client {client:?}"),
    }
    if policy.require_nonce {
        assert!(proof.nonce.as_deref().is_some_and(|n| !n.is_empty()));
    }
}

fn policy(u: &mut Unstructured<'_>) -> Result<ProofPolicy<'static>> {
    static ES256: [Algorithm; 1] = [Algorithm::Es256];
    Ok(ProofPolicy {
        audience: AUDIENCE,
        algorithms: if u.arbitrary()? {
            &Algorithm::ALL
        } else {
            &ES256
        },
        max_age: MAX_AGE,
        skew: SKEW,
        client_id: if u.arbitrary()? { Some(CLIENT) } else { None },
        require_nonce: u.arbitrary()?,
    })
}

fn structured(u: &mut Unstructured<'_>) -> Result<()> {
    let Some((wallet, other)) = keys() else {
        return Ok(());
    };
    let signer = if u.ratio(1, 4)? { other } else { wallet };
    let typ = match u.choose_index(4)? {
        0 => text(u)?,
        1 => "JWT".to_owned(),
        _ => PROOF_TYP.to_owned(),
    };
    let mut header = HeaderBuilder::new().typ(&typ);
    match u.choose_index(4)? {
        0 => {}
        1 => header = header.jwk(&other.public_jwk().bare()),
        _ => header = header.jwk(&signer.public_jwk().bare()),
    }
    if u.ratio(1, 6)? {
        header = header.kid(&text(u)?);
    }
    if u.ratio(1, 8)? {
        header = header.param("x5c", json_value(u)?);
    }
    if u.ratio(1, 8)? {
        header = header.param(&text(u)?, json_value(u)?);
    }
    let mut claims = Map::new();
    let aud = if u.arbitrary()? {
        json!(AUDIENCE)
    } else {
        json!([AUDIENCE])
    };
    put(&mut claims, "aud", member(u, aud)?);
    put(&mut claims, "iat", date(u, NOW)?);
    if u.ratio(1, 3)? {
        put(&mut claims, "exp", date(u, NOW)?);
    }
    if u.ratio(1, 4)? {
        put(&mut claims, "nbf", date(u, NOW)?);
    }
    if u.arbitrary()? {
        put(&mut claims, "iss", member(u, json!(CLIENT))?);
    }
    put(&mut claims, "nonce", member(u, json!("n-1"))?);
    extra_members(u, &mut claims)?;
    let payload = if u.ratio(1, 16)? {
        json_value(u)?.to_string()
    } else {
        Value::Object(claims).to_string()
    };
    let policy = policy(u)?;
    if let Ok(jwt) = header.sign(payload.as_bytes(), signer) {
        check(&jwt, &policy);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        // The mode byte's other bits choose the policy.
        let bits = [mode >> 1, mode >> 2, mode >> 3];
        let mut u = Unstructured::new(&bits);
        if let (Ok(text), Ok(policy)) = (std::str::from_utf8(rest), policy(&mut u)) {
            check(text, &policy);
        }
    } else {
        let _ = structured(&mut Unstructured::new(rest));
    }
});
