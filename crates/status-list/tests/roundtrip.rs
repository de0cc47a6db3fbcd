//! Property tests: whatever is set comes back after encode → decode, entries never
//! disturb each other, and the decoder never accepts a stream it did not fully consume.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use status_list::{Bits, DecodeLimits, EncodedStatusList, ListError, StatusList};

fn bits() -> impl Strategy<Value = Bits> {
    prop::sample::select(Bits::ALL.to_vec())
}

/// A list size and a set of `(index, value)` writes that fit it.
fn writes() -> impl Strategy<Value = (Bits, usize, Vec<(usize, u8)>)> {
    (bits(), 1usize..2048).prop_flat_map(|(bits, len)| {
        let write = (0..len, 0..=bits.max_value());
        (Just(bits), Just(len), prop::collection::vec(write, 0..200))
    })
}

proptest! {
    #[test]
    fn set_encode_decode_get((bits, len, writes) in writes()) {
        // A plain vector of values is the model.
        let mut model = vec![0u8; len];
        let mut list = StatusList::new(bits, len).unwrap();
        for (idx, value) in &writes {
            list.set(*idx, *value).unwrap();
            model[*idx] = *value;
        }
        prop_assert_eq!(list.iter().collect::<Vec<_>>(), model.clone());

        let json = list.encode().unwrap().to_json();
        let decoded = EncodedStatusList::from_json(json.as_bytes())
            .unwrap()
            .decode(&DecodeLimits::default())
            .unwrap();
        prop_assert_eq!(decoded.bits(), bits);
        prop_assert_eq!(decoded.len(), len.div_ceil(bits.per_byte()) * bits.per_byte());
        for (idx, want) in model.iter().enumerate() {
            prop_assert_eq!(decoded.get(idx).unwrap(), *want);
        }
        // Padding entries after the list's end decode as 0.
        for idx in len..decoded.len() {
            prop_assert_eq!(decoded.get(idx).unwrap(), 0);
        }
        prop_assert!(
            matches!(decoded.get(decoded.len()), Err(ListError::IndexOutOfBounds { .. })),
            "index past the end must be out of bounds"
        );
    }

    #[test]
    fn values_too_large_for_bits_are_refused(bits in bits(), value in any::<u8>()) {
        let mut list = StatusList::new(bits, 8).unwrap();
        let r = list.set(0, value);
        if value <= bits.max_value() {
            prop_assert!(r.is_ok());
            prop_assert_eq!(list.get(0).unwrap(), value);
        } else {
            prop_assert!(matches!(r, Err(ListError::ValueTooLarge { .. })), "{:?}", r);
            prop_assert_eq!(list.get(0).unwrap(), 0);
        }
    }

    #[test]
    fn filled_matches_setting_each_entry(bits in bits(), len in 0usize..300, raw in any::<u8>()) {
        let value = raw & bits.max_value();
        let filled = StatusList::filled(bits, len, value).unwrap();
        let mut one_by_one = StatusList::new(bits, len).unwrap();
        for i in 0..len {
            one_by_one.set(i, value).unwrap();
        }
        prop_assert_eq!(filled, one_by_one);
    }

    #[test]
    fn compress_decompress_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096), bits in bits()) {
        let list = StatusList::from_bytes(bits, bytes.clone()).unwrap();
        let z = list.compress().unwrap();
        let back = StatusList::decompress(bits, &z, &DecodeLimits::default()).unwrap();
        prop_assert_eq!(back.as_bytes(), &bytes[..]);
        prop_assert_eq!(back.len(), bytes.len() * bits.per_byte());
    }

    #[test]
    fn appended_bytes_are_refused(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        extra in prop::collection::vec(any::<u8>(), 1..16),
    ) {
        let mut z = StatusList::from_bytes(Bits::Eight, bytes).unwrap().compress().unwrap();
        z.extend_from_slice(&extra);
        let r = StatusList::decompress(Bits::Eight, &z, &DecodeLimits::default());
        prop_assert!(matches!(r, Err(ListError::TrailingData(n)) if n == extra.len()), "{:?}", r);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = StatusList::decompress(Bits::One, &data, &DecodeLimits::new(1 << 16));
        let _ = EncodedStatusList::from_json(&data);
    }
}
