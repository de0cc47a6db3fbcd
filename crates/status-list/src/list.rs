//! The status list byte array (draft §4.1): entries of 1, 2, 4 or 8 bits packed from the
//! least significant bit of each byte up, bytes in natural order, compressed with DEFLATE
//! in the ZLIB format.
//!
//! Entry `i` lives in byte `i / (8 / bits)` at bit offset `(i % (8 / bits)) * bits`. With
//! one bit per entry, the statuses `1,0,0,1,1,1,0,1` fill byte 0 as `0b1011_1001` (`0xB9`).
//!
//! Decompression is the part that faces untrusted input, so it is bounded: the output is
//! capped ([`DecodeLimits`], 16 MiB by default, because a few kilobytes of ZLIB can inflate
//! to gigabytes), a stream that stops before its checksum is refused, and so are bytes
//! after the end of the stream.

use crate::error::ListError;
use crate::status::{Bits, Status};
use flate2::{Compression, Decompress, FlushDecompress};
use std::io::Write as _;

/// The default cap on a decompressed byte array: 16 MiB, i.e. 2^27 one-bit entries or
/// 2^24 eight-bit entries, far above any list the draft's size guidance leads to.
pub const DEFAULT_MAX_DECOMPRESSED: usize = 16 * 1024 * 1024;

/// Limits applied when decoding a status list received from elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// The largest decompressed byte array accepted, in bytes.
    pub max_decompressed: usize,
}

impl DecodeLimits {
    /// Limits with a cap of `max_decompressed` bytes.
    pub const fn new(max_decompressed: usize) -> Self {
        DecodeLimits { max_decompressed }
    }
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits::new(DEFAULT_MAX_DECOMPRESSED)
    }
}

/// A status list: `len` entries of `bits` bits each.
///
/// A list built with [`StatusList::new`] has exactly the length asked for; a list decoded
/// from `lst` has as many entries as its bytes hold (`bytes × 8 / bits`), because the wire
/// form carries no length. Unused bits in the last byte are kept zero.
#[derive(Clone, PartialEq, Eq)]
pub struct StatusList {
    bits: Bits,
    len: usize,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for StatusList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The byte array can be megabytes: show its shape, not its content.
        f.debug_struct("StatusList")
            .field("bits", &self.bits)
            .field("len", &self.len)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Bytes needed for `len` entries of `bits` bits.
fn byte_len(bits: Bits, len: usize) -> usize {
    len.div_ceil(bits.per_byte())
}

/// Allocates a zeroed vector without aborting the process when the size is absurd.
fn zeroed(n: usize) -> Result<Vec<u8>, ListError> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| ListError::TooLarge { limit: n })?;
    v.resize(n, 0);
    Ok(v)
}

impl StatusList {
    /// A list of `len` entries, all `0x00` (VALID).
    pub fn new(bits: Bits, len: usize) -> Result<Self, ListError> {
        Ok(StatusList {
            bits,
            len,
            bytes: zeroed(byte_len(bits, len))?,
        })
    }

    /// A list of `len` entries, all set to `value`. The draft recommends initialising a
    /// list with the most common status of its tokens (§13.3).
    pub fn filled(bits: Bits, len: usize, value: u8) -> Result<Self, ListError> {
        let mut list = Self::new(bits, len)?;
        if value > bits.max_value() {
            return Err(ListError::ValueTooLarge {
                value,
                bits: bits.get(),
            });
        }
        let mut pattern = 0u8;
        for slot in 0..bits.per_byte() {
            pattern |= value << (slot * usize::from(bits.get()));
        }
        list.bytes.fill(pattern);
        // Keep the padding after the last entry zero, as a fresh list has it.
        let used = len % bits.per_byte();
        if used != 0
            && let Some(last) = list.bytes.last_mut()
        {
            *last &= (1u8 << (used * usize::from(bits.get()))).wrapping_sub(1);
        }
        Ok(list)
    }

    /// Wraps an uncompressed byte array; the list has `bytes.len() × 8 / bits` entries.
    pub fn from_bytes(bits: Bits, bytes: Vec<u8>) -> Result<Self, ListError> {
        let len = bytes
            .len()
            .checked_mul(bits.per_byte())
            .ok_or(ListError::TooLarge { limit: bytes.len() })?;
        Ok(StatusList { bits, len, bytes })
    }

    /// Bits per entry.
    pub fn bits(&self) -> Bits {
        self.bits
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` if the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The uncompressed byte array.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn locate(&self, idx: usize) -> Result<(usize, usize), ListError> {
        if idx >= self.len {
            return Err(ListError::IndexOutOfBounds { idx, len: self.len });
        }
        let per = self.bits.per_byte();
        Ok((idx / per, (idx % per) * usize::from(self.bits.get())))
    }

    /// The raw value of entry `idx`.
    pub fn get(&self, idx: usize) -> Result<u8, ListError> {
        let (byte, shift) = self.locate(idx)?;
        let b = self
            .bytes
            .get(byte)
            .copied()
            .ok_or(ListError::IndexOutOfBounds { idx, len: self.len })?;
        Ok((b >> shift) & self.bits.max_value())
    }

    /// The status of entry `idx`.
    pub fn status(&self, idx: usize) -> Result<Status, ListError> {
        self.get(idx).map(Status::from)
    }

    /// Sets entry `idx` to `value`, which must fit into `bits`.
    pub fn set(&mut self, idx: usize, value: u8) -> Result<(), ListError> {
        if value > self.bits.max_value() {
            return Err(ListError::ValueTooLarge {
                value,
                bits: self.bits.get(),
            });
        }
        let (byte, shift) = self.locate(idx)?;
        let mask = self.bits.max_value() << shift;
        let len = self.len;
        let b = self
            .bytes
            .get_mut(byte)
            .ok_or(ListError::IndexOutOfBounds { idx, len })?;
        *b = (*b & !mask) | (value << shift);
        Ok(())
    }

    /// Sets entry `idx` to `status`, which must fit into `bits`.
    pub fn set_status(&mut self, idx: usize, status: Status) -> Result<(), ListError> {
        self.set(idx, status.value())
    }

    /// All entries in index order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = u8> + '_ {
        let bits = self.bits.get();
        let per = self.bits.per_byte();
        let max = self.bits.max_value();
        (0..self.len).map(move |i| {
            let b = self.bytes.get(i / per).copied().unwrap_or(0);
            // `i % per < per` and `per * bits == 8`, so the shift is below 8.
            let shift = u32::try_from(i % per).unwrap_or(0) * u32::from(bits);
            b.checked_shr(shift).unwrap_or(0) & max
        })
    }

    /// The byte array compressed as ZLIB at the highest level (draft §4.1 step 4).
    pub fn compress(&self) -> Result<Vec<u8>, ListError> {
        let mut enc = flate2::write::ZlibEncoder::new(
            Vec::with_capacity(self.bytes.len() / 8 + 16),
            Compression::best(),
        );
        enc.write_all(&self.bytes).map_err(ListError::Compress)?;
        enc.finish().map_err(ListError::Compress)
    }

    /// Decodes a ZLIB-compressed byte array, refusing streams that inflate beyond
    /// `limits`, that are truncated, or that are followed by further bytes.
    pub fn decompress(
        bits: Bits,
        compressed: &[u8],
        limits: &DecodeLimits,
    ) -> Result<Self, ListError> {
        Self::from_bytes(bits, inflate(compressed, limits.max_decompressed)?)
    }

    /// The `lst` value: base64url (no padding) of the compressed byte array.
    pub fn to_lst(&self) -> Result<String, ListError> {
        Ok(jose::b64::encode(self.compress()?))
    }

    /// Decodes an `lst` value (strict base64url, then [`StatusList::decompress`]).
    pub fn from_lst(bits: Bits, lst: &str, limits: &DecodeLimits) -> Result<Self, ListError> {
        let compressed = jose::b64::decode(lst).ok_or(ListError::Base64)?;
        Self::decompress(bits, &compressed, limits)
    }
}

/// Inflates one complete ZLIB stream of at most `limit` output bytes, and nothing after it.
///
/// The low-level interface is used rather than a `Read` adapter because the adapters end
/// silently at the end of their input, which would let a truncated stream through.
fn inflate(input: &[u8], limit: usize) -> Result<Vec<u8>, ListError> {
    const STEP: usize = 64 * 1024;
    let too_large = ListError::TooLarge { limit };
    let mut d = Decompress::new(true);
    let mut out: Vec<u8> = Vec::new();
    loop {
        if out.len() > limit {
            return Err(too_large);
        }
        if out.len() == out.capacity() {
            // Grow in bounded steps, never past `limit + 1`: one byte over is enough to
            // know the limit is exceeded.
            let room = limit.saturating_add(1).saturating_sub(out.len());
            let grow = room.min(out.capacity().max(STEP));
            out.try_reserve_exact(grow)
                .map_err(|_| ListError::TooLarge { limit })?;
        }
        let consumed = usize::try_from(d.total_in()).unwrap_or(usize::MAX);
        let rest = input.get(consumed..).unwrap_or_default();
        let (in_before, out_before) = (d.total_in(), d.total_out());
        let status = d
            .decompress_vec(rest, &mut out, FlushDecompress::None)
            .map_err(ListError::Decompress)?;
        if status == flate2::Status::StreamEnd {
            break;
        }
        if d.total_in() == in_before && d.total_out() == out_before {
            // No progress although there is room for output: the input ran out.
            return Err(ListError::Truncated);
        }
    }
    if out.len() > limit {
        return Err(too_large);
    }
    let consumed = usize::try_from(d.total_in()).unwrap_or(usize::MAX);
    match input.len().checked_sub(consumed) {
        Some(0) => Ok(out),
        Some(extra) => Err(ListError::TrailingData(extra)),
        None => Err(ListError::Truncated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zlib(bytes: &[u8]) -> Vec<u8> {
        StatusList::from_bytes(Bits::Eight, bytes.to_vec())
            .unwrap()
            .compress()
            .unwrap()
    }

    #[test]
    fn draft20_s4_1_one_bit_byte_array() {
        let statuses = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1];
        let mut list = StatusList::new(Bits::One, 16).unwrap();
        for (i, s) in statuses.iter().enumerate() {
            list.set(i, *s).unwrap();
        }
        assert_eq!(list.as_bytes(), [0xB9, 0xA3]);
        assert_eq!(list.iter().collect::<Vec<_>>(), statuses);
    }

    #[test]
    fn draft20_s4_1_two_bit_byte_array() {
        let statuses = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3];
        let mut list = StatusList::new(Bits::Two, 12).unwrap();
        for (i, s) in statuses.iter().enumerate() {
            list.set(i, *s).unwrap();
        }
        assert_eq!(list.as_bytes(), [0xC9, 0x44, 0xF9]);
        assert_eq!(list.status(1).unwrap(), Status::Suspended);
        assert_eq!(list.status(3).unwrap(), Status::Other(3));
    }

    #[test]
    fn filled_sets_every_entry_and_keeps_padding_zero() {
        let list = StatusList::filled(Bits::Two, 6, 2).unwrap();
        assert!(list.iter().all(|v| v == 2));
        assert_eq!(list.as_bytes(), [0xAA, 0x0A]);
        let list = StatusList::filled(Bits::One, 16, 1).unwrap();
        assert_eq!(list.as_bytes(), [0xFF, 0xFF]);
        let list = StatusList::filled(Bits::Eight, 3, 0x7F).unwrap();
        assert_eq!(list.as_bytes(), [0x7F; 3]);
    }

    #[test]
    fn set_leaves_neighbours_alone() {
        let mut list = StatusList::filled(Bits::Four, 4, 0x0F).unwrap();
        list.set(1, 0x05).unwrap();
        assert_eq!(list.iter().collect::<Vec<_>>(), [0x0F, 0x05, 0x0F, 0x0F]);
        assert_eq!(list.as_bytes(), [0x5F, 0xFF]);
    }

    #[test]
    fn decoded_length_is_whole_bytes() {
        let mut list = StatusList::new(Bits::One, 10).unwrap();
        list.set(9, 1).unwrap();
        let lst = list.to_lst().unwrap();
        let back = StatusList::from_lst(Bits::One, &lst, &DecodeLimits::default()).unwrap();
        assert_eq!(back.len(), 16);
        assert_eq!(back.get(9).unwrap(), 1);
        assert_eq!(back.get(15).unwrap(), 0);
    }

    #[test]
    fn empty_stream_is_an_empty_list() {
        let list = StatusList::decompress(Bits::One, &zlib(&[]), &DecodeLimits::default()).unwrap();
        assert!(list.is_empty());
    }

    #[test]
    fn rejects_index_out_of_bounds() {
        let mut list = StatusList::new(Bits::One, 10).unwrap();
        // Index 10 still lies inside the second byte, but not inside the list.
        assert!(matches!(
            list.get(10),
            Err(ListError::IndexOutOfBounds { idx: 10, len: 10 })
        ));
        assert!(matches!(
            list.set(usize::MAX, 1),
            Err(ListError::IndexOutOfBounds {
                idx: usize::MAX,
                len: 10
            })
        ));
    }

    #[test]
    fn rejects_value_too_large() {
        for bits in [Bits::One, Bits::Two, Bits::Four] {
            let mut list = StatusList::new(bits, 8).unwrap();
            let v = bits.max_value() + 1;
            assert!(matches!(
                list.set(0, v),
                Err(ListError::ValueTooLarge { value, bits: b }) if value == v && b == bits.get()
            ));
            assert!(matches!(
                list.set_status(0, Status::Other(v)),
                Err(ListError::ValueTooLarge { .. })
            ));
            assert!(matches!(
                StatusList::filled(bits, 8, v),
                Err(ListError::ValueTooLarge { .. })
            ));
        }
        let mut list = StatusList::new(Bits::One, 8).unwrap();
        assert!(matches!(
            list.set_status(0, Status::Suspended),
            Err(ListError::ValueTooLarge { value: 2, bits: 1 })
        ));
    }

    #[test]
    fn rejects_absurd_list_size() {
        assert!(matches!(
            StatusList::new(Bits::Eight, usize::MAX),
            Err(ListError::TooLarge { .. })
        ));
    }

    #[test]
    fn rejects_decompression_bomb() {
        // 1 MiB of zeros compresses to about a kilobyte.
        let bomb = zlib(&vec![0u8; 1 << 20]);
        assert!(bomb.len() < 2048);
        let limits = DecodeLimits::new((1 << 20) - 1);
        assert!(matches!(
            StatusList::decompress(Bits::One, &bomb, &limits),
            Err(ListError::TooLarge { limit }) if limit == (1 << 20) - 1
        ));
        let exact = DecodeLimits::new(1 << 20);
        assert_eq!(
            StatusList::decompress(Bits::One, &bomb, &exact)
                .unwrap()
                .len(),
            8 << 20
        );
    }

    #[test]
    fn rejects_default_limit_overflow() {
        let bomb = zlib(&vec![0u8; DEFAULT_MAX_DECOMPRESSED + 1]);
        assert!(matches!(
            StatusList::decompress(Bits::One, &bomb, &DecodeLimits::default()),
            Err(ListError::TooLarge {
                limit: DEFAULT_MAX_DECOMPRESSED
            })
        ));
    }

    #[test]
    fn rejects_trailing_garbage() {
        let mut z = zlib(&[0xB9, 0xA3]);
        z.extend_from_slice(b"xx");
        assert!(matches!(
            StatusList::decompress(Bits::One, &z, &DecodeLimits::default()),
            Err(ListError::TrailingData(2))
        ));
        // A second, complete stream is trailing data too.
        let mut two = zlib(&[1]);
        two.extend_from_slice(&zlib(&[2]));
        assert!(matches!(
            StatusList::decompress(Bits::One, &two, &DecodeLimits::default()),
            Err(ListError::TrailingData(_))
        ));
    }

    #[test]
    fn rejects_truncated_stream() {
        let z = zlib(&[0xB9, 0xA3, 0x00, 0x17]);
        for cut in 0..z.len() {
            let r = StatusList::decompress(Bits::One, &z[..cut], &DecodeLimits::default());
            assert!(
                matches!(r, Err(ListError::Truncated | ListError::Decompress(_))),
                "cut at {cut}: {r:?}"
            );
        }
        // Missing only the Adler-32 checksum.
        assert!(matches!(
            StatusList::decompress(Bits::One, &z[..z.len() - 4], &DecodeLimits::default()),
            Err(ListError::Truncated)
        ));
    }

    #[test]
    fn rejects_bad_checksum_and_raw_deflate() {
        let mut z = zlib(&[0xB9, 0xA3]);
        if let Some(last) = z.last_mut() {
            *last ^= 1;
        }
        assert!(matches!(
            StatusList::decompress(Bits::One, &z, &DecodeLimits::default()),
            Err(ListError::Decompress(_))
        ));
        // Raw DEFLATE without the ZLIB header is not what the draft specifies.
        let z = zlib(&[0xB9, 0xA3]);
        assert!(matches!(
            StatusList::decompress(Bits::One, &z[2..], &DecodeLimits::default()),
            Err(ListError::Decompress(_))
        ));
        // Gzip neither.
        assert!(matches!(
            StatusList::decompress(Bits::One, &[0x1f, 0x8b, 8, 0], &DecodeLimits::default()),
            Err(ListError::Decompress(_))
        ));
    }

    #[test]
    fn rejects_non_canonical_base64() {
        let limits = DecodeLimits::default();
        for lst in [
            "eNrbuRgAAhcBXQ==",
            "eNrbuRgAAhcBXQ=",
            "eNrbuRgA AhcBXQ",
            "eNrb+RgAAhcBXQ",
        ] {
            assert!(
                matches!(
                    StatusList::from_lst(Bits::One, lst, &limits),
                    Err(ListError::Base64)
                ),
                "{lst}"
            );
        }
    }
}
