//! The Concat KDF of NIST SP 800-56A §5.8.1 with SHA-256, as RFC 7518 §4.6.2 parameterises
//! it for ECDH-ES.

use super::JweError;
use aws_lc_rs::digest;
use zeroize::Zeroizing;

fn length_prefix(bytes: &[u8]) -> Result<[u8; 4], JweError> {
    u32::try_from(bytes.len())
        .map(u32::to_be_bytes)
        .map_err(|_| JweError::KdfInputTooLong)
}

/// Derives `key_len` bytes from the shared secret `z`.
///
/// `algorithm_id` is the `enc` value for direct key agreement (the `alg` value with key
/// wrapping); `apu`/`apv` are the decoded `apu`/`apv` header values (empty when absent).
/// OtherInfo is `AlgorithmID ‖ PartyUInfo ‖ PartyVInfo ‖ SuppPubInfo`, each of the first
/// three prefixed with its 32-bit big-endian length, SuppPubInfo the key length in bits,
/// SuppPrivInfo empty.
pub fn concat_kdf(
    z: &[u8],
    algorithm_id: &str,
    apu: &[u8],
    apv: &[u8],
    key_len: usize,
) -> Result<Zeroizing<Vec<u8>>, JweError> {
    let key_bits = key_len
        .checked_mul(8)
        .and_then(|b| u32::try_from(b).ok())
        .ok_or(JweError::KdfInputTooLong)?;
    let mut other_info = Vec::with_capacity(16 + algorithm_id.len() + apu.len() + apv.len());
    for field in [algorithm_id.as_bytes(), apu, apv] {
        other_info.extend_from_slice(&length_prefix(field)?);
        other_info.extend_from_slice(field);
    }
    other_info.extend_from_slice(&key_bits.to_be_bytes());

    let mut out = Zeroizing::new(Vec::with_capacity(key_len + digest::SHA256_OUTPUT_LEN));
    let mut counter: u32 = 1;
    while out.len() < key_len {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&counter.to_be_bytes());
        ctx.update(z);
        ctx.update(&other_info);
        out.extend_from_slice(ctx.finish().as_ref());
        counter = counter.checked_add(1).ok_or(JweError::KdfInputTooLong)?;
    }
    out.truncate(key_len);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longer_keys_take_several_rounds() {
        let a = concat_kdf(b"z", "A256GCM", b"", b"", 48).unwrap();
        let b = concat_kdf(b"z", "A256GCM", b"", b"", 32).unwrap();
        assert_eq!(a.len(), 48);
        // SuppPubInfo (the key length) differs, so the shorter key is not a prefix.
        assert_ne!(a[..32], b[..]);
    }

    #[test]
    fn party_info_is_length_prefixed() {
        // Without length prefixes ("ab","c") and ("a","bc") would collide.
        let a = concat_kdf(b"z", "A128GCM", b"ab", b"c", 16).unwrap();
        let b = concat_kdf(b"z", "A128GCM", b"a", b"bc", 16).unwrap();
        assert_ne!(a, b);
    }
}
