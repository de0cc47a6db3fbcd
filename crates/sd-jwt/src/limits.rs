//! Limits against abuse. Every limit is checked before the work it protects: the total size
//! before splitting, the number of Disclosures before decoding them, the nesting of each JSON
//! text before parsing it (a byte scan, no allocation), and the nesting of Disclosures and of
//! the rebuilt claims while they are processed.

/// Bounds applied to an SD-JWT before and during processing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted compact serialization, in bytes (default 64 KiB).
    pub max_size: usize,
    /// Most Disclosures accepted in one SD-JWT (default 256).
    pub max_disclosures: usize,
    /// Deepest chain of Disclosures inside Disclosures (default 16).
    pub max_sd_depth: usize,
    /// Deepest JSON nesting of any text and of the rebuilt claims (default 32).
    pub max_json_depth: usize,
}

impl Limits {
    /// The defaults: 64 KiB, 256 Disclosures, Disclosure nesting 16, JSON nesting 32.
    pub const DEFAULT: Limits = Limits {
        max_size: 64 * 1024,
        max_disclosures: 256,
        max_sd_depth: 16,
        max_json_depth: 32,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// How many bytes of `bytes` equal `a` or `b` (`a == b` counts each match once). Counting
/// in `u8` over chunks of 255 lets the compiler vectorize the loop.
pub(crate) fn count_bytes(bytes: &[u8], a: u8, b: u8) -> usize {
    bytes
        .chunks(255)
        .map(|c| {
            usize::from(
                c.iter()
                    .fold(0u8, |n, &x| n.wrapping_add(u8::from(x == a || x == b))),
            )
        })
        .sum()
}

/// Whether a JSON text nests arrays/objects deeper than `max` (scalars are depth 0,
/// `{}` depth 1). Brackets inside strings are skipped. The scan does not validate the JSON;
/// the parser does that afterwards, on input known not to recurse too deep.
pub(crate) fn json_too_deep(bytes: &[u8], max: usize) -> bool {
    // Nesting never exceeds the number of opening brackets; counting them is a branch-free
    // loop the compiler vectorizes, so the exact scan only runs on bracket-heavy input.
    if count_bytes(bytes, b'[', b'{') <= max {
        return false;
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_bytes_across_chunks() {
        let text = "~a~".repeat(300);
        assert_eq!(count_bytes(text.as_bytes(), b'~', b'~'), 600);
        assert_eq!(count_bytes(b"[{x}]{", b'[', b'{'), 3);
        assert_eq!(count_bytes(b"", b'[', b'{'), 0);
    }

    #[test]
    fn depth_scan_counts_containers_outside_strings() {
        assert!(!json_too_deep(br#"{"a":[1,{"b":2}]}"#, 3));
        assert!(json_too_deep(br#"{"a":[1,{"b":2}]}"#, 2));
        assert!(!json_too_deep(br#"{"a":"[[[[[[\"]]]]"}"#, 1));
        assert!(!json_too_deep(b"1", 0));
        assert!(json_too_deep(b"[]", 0));
        // Many brackets, shallow: the exact scan decides.
        assert!(!json_too_deep(b"[[],[],[],[],[],[]]", 2));
        assert!(json_too_deep(b"[[[[]]],[],[],[],[]]", 3));
    }
}
