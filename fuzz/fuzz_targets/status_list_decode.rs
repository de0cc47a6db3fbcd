//! Status list decoding (JSON form, raw ZLIB, `lst` text) and Status List Token parsing and
//! verification with arbitrary input: must never panic, and whatever decodes must survive
//! a re-encode unchanged.
#![no_main]

use jose::{Algorithm, CompactJws, FixedClock, PublicJwk, VerifyingKey};
use libfuzzer_sys::fuzz_target;
use status_list::{
    Bits, DecodeLimits, EncodedStatusList, StatusClaim, StatusList, StatusListToken, VerifyOptions,
    check_status,
};

// The draft's example key (kid 12): a fixed key keeps the target deterministic.
const JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"I3HWm_0Ds1dPMI-IWmf4mBmH-YaeAVbPVu7vB27CxXo","y":"6N_d5Elj9bs1htgV3okJKIdbHEpkgTmAluYKJemzn1M"}"#;
const URI: &str = "https://example.com/statuslists/1";

// Small enough that a bomb costs little time per input.
const LIMITS: DecodeLimits = DecodeLimits::new(1 << 20);

fn exercise(list: &StatusList) {
    let len = list.len();
    let _ = list.get(0);
    let _ = list.status(len.wrapping_sub(1));
    assert!(list.get(len).is_err(), "index {len} must be out of bounds");
    assert_eq!(list.iter().len(), len);
    if list.as_bytes().len() <= 4096 {
        let encoded = list.encode().expect("encoding a decoded list");
        let back = encoded.decode(&LIMITS).expect("decoding an encoded list");
        assert_eq!(&back, list);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let bits = Bits::ALL
        .get(usize::from(mode >> 2) % 4)
        .copied()
        .unwrap_or(Bits::One);
    match mode % 4 {
        0 => {
            if let Ok(encoded) = EncodedStatusList::from_json(rest) {
                let _ = encoded.to_json();
                if let Ok(list) = encoded.decode(&LIMITS) {
                    exercise(&list);
                }
            }
        }
        1 => {
            if let Ok(list) = StatusList::decompress(bits, rest, &LIMITS) {
                exercise(&list);
            }
        }
        2 => {
            if let Ok(text) = std::str::from_utf8(rest)
                && let Ok(list) = StatusList::from_lst(bits, text, &LIMITS)
            {
                exercise(&list);
            }
        }
        _ => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok(jws) = CompactJws::parse(text)
                && let Ok(claims) = jws.claims_unverified()
            {
                let _ = StatusClaim::from_claims(&claims);
            }
            let Ok(token) = StatusListToken::parse(text) else {
                return;
            };
            if let Ok(claims) = token.claims_unverified()
                && let Ok(list) = claims.status_list.decode(&LIMITS)
            {
                exercise(&list);
            }
            let Ok(jwk) = PublicJwk::from_json(JWK.as_bytes()) else {
                return;
            };
            let Ok(key) = VerifyingKey::from_jwk(&jwk) else {
                return;
            };
            let options = VerifyOptions::new(&Algorithm::ALL).with_limits(LIMITS);
            if let Ok(verified) = token.verify(&key, URI, &options, &FixedClock(1_700_000_000)) {
                let _ = verified.cache_until();
                let _ = check_status(&StatusClaim::new(0, URI), &verified);
            }
        }
    }
});
