//! Compact JWE parse + decrypt with arbitrary input and a fixed recipient key: must never
//! panic. A second mode encrypts the input (with and without `zip`) and checks that it
//! decrypts to the same bytes, exercising DEFLATE and the size limits.
#![no_main]

use jose::PrivateJwk;
use jose::jwe::{self, CompactJwe, DecryptPolicy, Enc, EncryptOptions, EncryptionKey};
use libfuzzer_sys::fuzz_target;

// RFC 7518 Appendix C, Bob's key: a fixed key keeps the target deterministic.
const JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ","y":"e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck","d":"VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw"}"#;

// Small enough that a bomb costs little time per input.
const MAX: usize = 64 << 10;

fuzz_target!(|data: &[u8]| {
    let Ok(private) = PrivateJwk::from_json(JWK.as_bytes()) else {
        return;
    };
    let Ok(key) = EncryptionKey::from_private_jwk(&private) else {
        return;
    };
    let policy = DecryptPolicy::new(&Enc::ALL)
        .with_zip()
        .with_max_plaintext(MAX)
        .with_critical(&["ext"]);
    match data.split_first() {
        Some((0, rest)) => {
            let options = EncryptOptions {
                zip: rest.first().is_some_and(|b| b & 1 == 1),
                apu: rest.get(..rest.len().min(8)),
                ..EncryptOptions::default()
            };
            let enc = if rest.len() % 2 == 0 {
                Enc::A128Gcm
            } else {
                Enc::A256Gcm
            };
            let compact = jwe::encrypt(rest, key.public_jwk(), enc, &options)
                .expect("encrypting to a valid key");
            let limit = DecryptPolicy::new(&Enc::ALL)
                .with_zip()
                .with_max_plaintext(rest.len());
            let d = jwe::decrypt(&compact, &key, &limit).expect("decrypting what was encrypted");
            assert_eq!(d.plaintext(), rest);
        }
        _ => {
            let Ok(text) = std::str::from_utf8(data) else {
                return;
            };
            let Ok(jwe) = CompactJwe::parse(text) else {
                return;
            };
            let h = jwe.header();
            let _ = (
                h.enc(),
                h.epk().thumbprint(),
                h.apu(),
                h.apv(),
                h.kid(),
                h.crit(),
            );
            if let Ok(d) = jwe.decrypt(&key, &policy) {
                assert!(d.plaintext().len() <= MAX);
            }
        }
    }
});
