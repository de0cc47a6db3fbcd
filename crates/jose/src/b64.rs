//! Strict base64url (RFC 7515 §2): no padding, no whitespace, no non-canonical trailing
//! bits. Every JOSE part goes through these two functions.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Encodes bytes as unpadded base64url.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Encodes bytes as unpadded base64url, appending to `out` (avoids an allocation on hot paths).
pub fn encode_into(bytes: impl AsRef<[u8]>, out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(bytes, out);
}

/// Decodes unpadded base64url; `None` on any deviation from the canonical form.
pub fn decode(text: impl AsRef<[u8]>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Decodes standard base64 *with* padding, as used by the `x5c` header (RFC 7515 §4.1.6).
pub fn decode_std(text: impl AsRef<[u8]>) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// Encodes bytes as standard padded base64 (for `x5c`).
pub fn encode_std(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_padding_and_standard_alphabet() {
        assert!(decode("YQ==").is_none());
        assert!(decode("a+b/").is_none());
        assert!(decode("YQ").is_some());
    }

    #[test]
    fn rejects_non_canonical_trailing_bits() {
        // "YR" decodes to 'a' with non-zero trailing bits.
        assert!(decode("YR").is_none());
    }
}
