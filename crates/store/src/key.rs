//! Cache keys as stored: a SHA-256 over the namespace and the caller's key, never the key
//! itself. The keys are secrets (pre-authorized codes, response codes, nonces) or personal
//! data (identities in rate limits); hashing means a read of the database or of Redis gives
//! nothing that can be presented back to a role, and bounds every stored key to 32 bytes
//! whatever the input length. Callers' keys are high-entropy random values, so a plain hash
//! suffices (no brute force of a 128-bit code); low-entropy secrets do not belong here.
//!
//! Also the shared argument checks (namespace syntax, TTL range, value size), so every
//! backend refuses exactly the same inputs.

use std::time::Duration;

use aws_lc_rs::digest;

use crate::Error;

/// The largest value [`crate::SingleUse::put`] accepts, on every backend.
pub const MAX_VALUE_LEN: usize = 64 * 1024;

/// The longest TTL or rate-limit window: a bit over a year.
pub const MAX_TTL: Duration = Duration::from_secs(366 * 24 * 3600);

/// What a hashed key is used for; part of the hash so the two kinds never collide.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Purpose {
    SingleUse,
    RateLimit,
}

impl Purpose {
    fn tag(self) -> &'static [u8] {
        match self {
            Purpose::SingleUse => b"symbolon-store/single-use/v1",
            Purpose::RateLimit => b"symbolon-store/rate-limit/v1",
        }
    }
}

/// A key as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct KeyHash(pub(crate) [u8; 32]);

impl KeyHash {
    /// Hashes `key` within `namespace` (already checked: at most 64 bytes, so the length
    /// prefix is one byte and the encoding is unambiguous).
    pub(crate) fn new(purpose: Purpose, namespace: &str, key: &[u8]) -> KeyHash {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(purpose.tag());
        ctx.update(&[u8::try_from(namespace.len()).unwrap_or(u8::MAX)]);
        ctx.update(namespace.as_bytes());
        ctx.update(key);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        KeyHash(out)
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Base64url, for Redis key names.
    pub(crate) fn encoded(&self) -> String {
        jose::b64::encode(self.0)
    }
}

/// Namespaces are programmer constants (`"c_nonce"`, `"pop_jti"`), checked so they can sit
/// in Redis key names and log lines as they are.
pub(crate) fn check_namespace(namespace: &str) -> Result<(), Error> {
    let valid = (1..=64).contains(&namespace.len())
        && namespace.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        });
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidNamespace(namespace.to_owned()))
    }
}

/// Whole seconds, rounded up (an entry must live at least as long as asked), at least 1.
pub(crate) fn duration_secs(d: Duration) -> Result<i64, Error> {
    let err = Error::DurationOutOfRange {
        max: MAX_TTL.as_secs(),
    };
    if d.is_zero() || d > MAX_TTL {
        return Err(err);
    }
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i64::try_from(secs).map_err(|_| err)
}

pub(crate) fn check_value(value: &[u8]) -> Result<(), Error> {
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::ValueTooLarge {
            len: value.len(),
            max: MAX_VALUE_LEN,
        });
    }
    Ok(())
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            // A nibble is always a hex digit; the fallback cannot occur.
            out.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_separates_namespace_key_and_purpose() {
        let a = KeyHash::new(Purpose::SingleUse, "ab", b"c");
        assert_ne!(a, KeyHash::new(Purpose::SingleUse, "a", b"bc"));
        assert_ne!(a, KeyHash::new(Purpose::RateLimit, "ab", b"c"));
        assert_eq!(a, KeyHash::new(Purpose::SingleUse, "ab", b"c"));
        // The stored form never contains the key.
        let secret = b"pre-authorized-code-0123456789";
        let stored = KeyHash::new(Purpose::SingleUse, "code", secret);
        assert!(
            !stored
                .as_bytes()
                .windows(8)
                .any(|w| secret.windows(8).any(|s| s == w))
        );
    }

    #[test]
    fn rounds_durations_up_to_whole_seconds() {
        assert_eq!(duration_secs(Duration::from_millis(1)).unwrap(), 1);
        assert_eq!(duration_secs(Duration::from_millis(1500)).unwrap(), 2);
        assert_eq!(duration_secs(Duration::from_secs(300)).unwrap(), 300);
        assert_eq!(duration_secs(MAX_TTL).unwrap(), 366 * 24 * 3600);
    }

    #[test]
    fn rejects_zero_and_overlong_durations() {
        for d in [Duration::ZERO, MAX_TTL + Duration::from_secs(1)] {
            assert!(matches!(
                duration_secs(d),
                Err(Error::DurationOutOfRange { .. })
            ));
        }
    }

    #[test]
    fn rejects_invalid_namespaces() {
        for bad in ["", "C_NONCE", "a:b", "a b", "ä", &"n".repeat(65)] {
            assert!(
                matches!(check_namespace(bad), Err(Error::InvalidNamespace(_))),
                "{bad:?}"
            );
        }
        for good in [
            "c_nonce",
            "pop-jti",
            "oid4vp.response_code",
            &"n".repeat(64),
        ] {
            assert!(check_namespace(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn rejects_oversized_values() {
        assert!(check_value(&vec![0; MAX_VALUE_LEN]).is_ok());
        assert!(matches!(
            check_value(&vec![0; MAX_VALUE_LEN + 1]),
            Err(Error::ValueTooLarge { len, max: MAX_VALUE_LEN }) if len == MAX_VALUE_LEN + 1
        ));
    }

    #[test]
    fn hex_is_lowercase_and_complete() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }
}
