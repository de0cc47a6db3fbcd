//! SD-JWT parse, holder processing, presentation and verification with arbitrary input:
//! must never panic. The Issuer key is fixed (RFC 9901 Appendix A.5).
//!
//! Two modes, chosen by the first byte:
//! - text: the input is an SD-JWT / SD-JWT+KB (the corpus is seeded with the RFC
//!   examples); it is parsed, processed by the holder path (`presenter`, which applies the
//!   Disclosure rules without a signature check), presented and verified;
//! - structured (`0x00` first): the rest is `payload 0x1E disclosure 0x1E …` as raw JSON
//!   texts; the harness base64url-encodes the Disclosures and signs the payload with the
//!   fixed key, so every verification rule after the signature is reachable.
#![no_main]

use jose::{
    Algorithm, FixedClock, HeaderBuilder, PrivateJwk, PublicJwk, SoftwareSigner, VerifyingKey, b64,
};
use libfuzzer_sys::fuzz_target;
use sd_jwt::{ClaimPath, KbExpectation, KbInput, KeyBinding, Limits, SdJwt, VerifyOptions};
use std::sync::OnceLock;

const JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ","y":"Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8"}"#;
const PRIVATE: &str = r#"{"kty":"EC","crv":"P-256","d":"Ur2bNKuBPOrAaxsRnbSH6hIhmNTxSGXshDSUD1a1y7g","x":"b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ","y":"Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8"}"#;
const ES256: &[Algorithm] = &[Algorithm::Es256];

fn keys() -> Option<&'static (VerifyingKey, SoftwareSigner)> {
    static KEYS: OnceLock<Option<(VerifyingKey, SoftwareSigner)>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let public = PublicJwk::from_json(JWK.as_bytes()).ok()?;
        let key = VerifyingKey::from_jwk(&public).ok()?;
        let private = PrivateJwk::from_json(PRIVATE.as_bytes()).ok()?;
        let signer = SoftwareSigner::from_private_jwk(&private).ok()?;
        Some((key, signer))
    })
    .as_ref()
}

fn exercise(text: &str, key: &VerifyingKey) {
    let limits = Limits::DEFAULT;
    if let Ok(sd) = SdJwt::parse(text, &limits) {
        if let Ok(mut p) = sd.presenter() {
            let paths: Vec<ClaimPath> = p.disclosable().cloned().collect();
            for (i, path) in paths.iter().enumerate() {
                if i % 2 == 0 {
                    let _ = p.select(path);
                } else {
                    let _ = p.select_subtree(path);
                }
            }
            let _ = p.sd_jwt();
            let _ = p.unsigned(Algorithm::Es256, &KbInput::new("a", "n", 0));
        }
        let _ = sd.clone().into_presenter();
    }
    let clock = FixedClock(1_748_536_900);
    let kb = KeyBinding::Optional(KbExpectation::new(
        "https://verifier.example.org",
        "1234567890",
        ES256,
    ));
    let options = VerifyOptions::new(ES256, kb, &clock);
    if let Ok(v) = sd_jwt::verify(text, key, &options) {
        let _ = v.disclosed().iter().map(ToString::to_string).count();
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((key, signer)) = keys() else { return };
    match data.split_first() {
        Some((0, rest)) => {
            let mut parts = rest.split(|&b| b == 0x1e);
            let Some(payload) = parts.next() else { return };
            let Ok(mut text) = HeaderBuilder::new().sign(payload, signer) else {
                return;
            };
            text.push('~');
            for d in parts {
                text.push_str(&b64::encode(d));
                text.push('~');
            }
            exercise(&text, key);
        }
        _ => {
            let Ok(text) = std::str::from_utf8(data) else {
                return;
            };
            let _ = ClaimPath::parse(text);
            exercise(text, key);
        }
    }
});
