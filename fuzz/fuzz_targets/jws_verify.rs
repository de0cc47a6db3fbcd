//! JWS parse + verify with arbitrary input: must never panic.
#![no_main]

use jose::{Algorithm, CompactJws, JwsPolicy, PublicJwk, VerifyingKey};
use libfuzzer_sys::fuzz_target;

// RFC 7515 A.3 public key: a fixed key keeps the target deterministic.
const JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(jws) = CompactJws::parse(text) else {
        return;
    };
    let _ = jws.header().jwk().map(PublicJwk::thumbprint);
    let Ok(jwk) = PublicJwk::from_json(JWK.as_bytes()) else {
        return;
    };
    let Ok(key) = VerifyingKey::from_jwk(&jwk) else {
        return;
    };
    let policy = JwsPolicy::new(&Algorithm::ALL).with_typ(&["JWT"]);
    if let Ok(v) = jws.verify(&key, &policy) {
        let _ = v.claims();
    }
});
