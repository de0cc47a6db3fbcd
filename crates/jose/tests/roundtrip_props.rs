//! Property tests: JWE encrypt/decrypt and JWS sign/verify round trips for arbitrary
//! payloads, on every `enc`, curve and signature algorithm.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use jose::jwe::{self, DecryptPolicy, Enc, EncryptOptions, EncryptionKey};
use jose::{
    Algorithm, CompactJws, Curve, HeaderBuilder, JwsPolicy, Signer, SoftwareSigner, VerifyingKey,
};
use proptest::prelude::*;

fn enc() -> impl Strategy<Value = Enc> {
    prop::sample::select(Enc::ALL.to_vec())
}

fn curve() -> impl Strategy<Value = Curve> {
    prop::sample::select(vec![Curve::P256, Curve::P384])
}

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop::sample::select(Algorithm::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn jwe_round_trip(
        plaintext in prop::collection::vec(any::<u8>(), 0..2048),
        enc in enc(),
        curve in curve(),
        zip in any::<bool>(),
        apu in prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
        apv in prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
    ) {
        let key = EncryptionKey::generate(curve).unwrap();
        let options = EncryptOptions {
            apu: apu.as_deref(),
            apv: apv.as_deref(),
            zip,
            ..EncryptOptions::default()
        };
        let compact = jwe::encrypt(&plaintext, key.public_jwk(), enc, &options).unwrap();
        let encs = [enc];
        let policy = DecryptPolicy::new(&encs).with_zip();
        let d = jwe::decrypt(&compact, &key, &policy).unwrap();
        prop_assert_eq!(d.plaintext(), &plaintext[..]);
        prop_assert_eq!(d.header().enc(), enc);
        prop_assert_eq!(d.header().apu(), apu.as_deref().unwrap_or_default());
        prop_assert_eq!(d.header().apv(), apv.as_deref().unwrap_or_default());
        // Another key of the same curve never opens it.
        let other = EncryptionKey::generate(curve).unwrap();
        prop_assert!(matches!(
            jwe::decrypt(&compact, &other, &policy),
            Err(jwe::JweError::Decryption)
        ));
    }

    #[test]
    fn jws_round_trip(
        payload in prop::collection::vec(any::<u8>(), 0..2048),
        alg in algorithm(),
        typ in "[a-z0-9+.-]{1,20}",
    ) {
        let signer = SoftwareSigner::generate(alg).unwrap();
        let compact = HeaderBuilder::new().typ(&typ).sign(&payload, &signer).unwrap();
        let key = VerifyingKey::from_jwk(signer.public_jwk()).unwrap();
        let typs = [typ.as_str()];
        let algs = [alg];
        let policy = JwsPolicy::new(&algs).with_typ(&typs);
        let v = CompactJws::parse(&compact).unwrap().verify(&key, &policy).unwrap();
        prop_assert_eq!(v.payload(), &payload[..]);
        prop_assert_eq!(v.header().alg(), alg);
        prop_assert_eq!(v.as_str(), compact.as_str());
    }
}
