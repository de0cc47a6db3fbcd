//! Sealed key records and salt-file lines from arbitrary bytes: opening must never panic,
//! only a record sealed under the fixed KEK for the fixed id may open, and whatever opens
//! must seal and open again to the same plaintext.
#![no_main]

use keys::kdf::KekSalt;
use keys::{Kek, SealError, seal};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let kek = Kek::from_bytes(&[0x42; 32]).expect("a fixed 32-byte KEK");
    let aad = seal::key_record_aad("fuzz.key");
    match seal::open(&kek, &aad, data) {
        Ok(plain) => {
            // A random input forging a GCM tag would be a finding in itself.
            let again = seal::seal(&kek, &aad, &plain).expect("sealing");
            assert_eq!(*seal::open(&kek, &aad, &again).expect("reopening"), *plain);
        }
        Err(
            SealError::Truncated { .. }
            | SealError::UnsupportedVersion(_)
            | SealError::WrongKek
            | SealError::NotAuthentic,
        ) => {}
        Err(other) => panic!("unexpected error from open: {other:?}"),
    }
    // Records that reach the cipher: prefix a valid header so the fuzzer need not guess it.
    let mut record = vec![seal::VERSION];
    record.extend_from_slice(kek.id());
    record.extend_from_slice(data);
    let _ = keys::open_key(&kek, "fuzz.key", &record);
    if let Ok(line) = std::str::from_utf8(data)
        && let Some(Ok(salt)) = KekSalt::decode(line)
    {
        assert_eq!(
            KekSalt::decode(&salt.encode()).map(Result::ok),
            Some(Some(salt))
        );
    }
});
