//! DPoP proofs (RFC 9449) from a hostile client: the `DPoP` header as sent, and — signed by
//! a key of the target's own so the claim checks run too — arbitrary claims; must never
//! panic.
#![no_main]

use jose::{Algorithm, FixedClock, HeaderBuilder, Signer, SoftwareSigner};
use libfuzzer_sys::fuzz_target;
use oid4vci::{DpopPolicy, DpopRequest, verify_dpop};
use std::sync::OnceLock;

fn key() -> Option<&'static SoftwareSigner> {
    static KEY: OnceLock<Option<SoftwareSigner>> = OnceLock::new();
    KEY.get_or_init(|| SoftwareSigner::generate(Algorithm::Es256).ok())
        .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let policy = DpopPolicy {
        algorithms: &Algorithm::ALL,
        max_age: 300,
        skew: 60,
    };
    let request = DpopRequest {
        method: "POST",
        url: "https://issuer.example/credential",
        access_token: Some("token"),
    };
    let clock = FixedClock(1_700_000_000);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = verify_dpop(text, &policy, &request, &clock);
    }
    if let Some(key) = key()
        && let Ok(proof) = HeaderBuilder::new()
            .typ("dpop+jwt")
            .jwk(&key.public_jwk().bare())
            .sign(data, key)
    {
        let _ = verify_dpop(&proof, &policy, &request, &clock);
    }
});
