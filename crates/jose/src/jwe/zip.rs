//! `zip` `DEF` (RFC 7516 §4.1.3): raw DEFLATE (RFC 1951), no zlib or gzip wrapper.
//! Inflation is bounded so that a small ciphertext cannot expand into a large allocation.

use super::JweError;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Compresses `data` as one raw DEFLATE stream.
pub(crate) fn deflate(data: &[u8]) -> Result<Vec<u8>, JweError> {
    let mut c = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    loop {
        let consumed = usize::try_from(c.total_in()).map_err(|_| JweError::Compression)?;
        let input = data.get(consumed..).ok_or(JweError::Compression)?;
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(64));
        }
        match c
            .compress_vec(input, &mut out, FlushCompress::Finish)
            .map_err(|_| JweError::Compression)?
        {
            Status::StreamEnd => return Ok(out),
            Status::Ok | Status::BufError => {}
        }
    }
}

/// Inflates one complete raw DEFLATE stream of at most `max` bytes; trailing bytes after
/// the end of the stream, and a stream that stops early, are refused.
pub(crate) fn inflate(data: &[u8], max: usize) -> Result<Vec<u8>, JweError> {
    let limit = max.saturating_add(1);
    let mut d = Decompress::new(false);
    let mut out: Vec<u8> = Vec::with_capacity(data.len().saturating_mul(4).max(64).min(limit));
    loop {
        if out.len() >= out.capacity() {
            if out.len() >= limit {
                return Err(JweError::InflatedTooLarge { max });
            }
            let grow = out.capacity().max(64).min(limit - out.len());
            out.reserve_exact(grow);
        }
        let before = (d.total_in(), d.total_out());
        let consumed = usize::try_from(d.total_in()).map_err(|_| JweError::InvalidDeflate)?;
        let input = data.get(consumed..).ok_or(JweError::InvalidDeflate)?;
        let status = d
            .decompress_vec(input, &mut out, FlushDecompress::None)
            .map_err(|_| JweError::InvalidDeflate)?;
        if out.len() > max {
            return Err(JweError::InflatedTooLarge { max });
        }
        match status {
            Status::StreamEnd => break,
            Status::Ok | Status::BufError => {
                let stalled = (d.total_in(), d.total_out()) == before;
                let input_done = d.total_in() == data.len() as u64;
                // Out of input with room left for output means the stream was cut short.
                if stalled && (input_done || out.len() < out.capacity()) {
                    return Err(JweError::InvalidDeflate);
                }
            }
        }
    }
    if d.total_in() != data.len() as u64 {
        return Err(JweError::InvalidDeflate);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let text =
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".repeat(50);
        let z = deflate(&text).unwrap();
        assert!(z.len() < text.len());
        assert_eq!(inflate(&z, text.len()).unwrap(), text);
        assert_eq!(inflate(&deflate(b"").unwrap(), 0).unwrap(), b"");
    }

    #[test]
    fn rejects_bomb_beyond_limit() {
        let z = deflate(&vec![0u8; 1 << 20]).unwrap();
        assert!(matches!(
            inflate(&z, 1000),
            Err(JweError::InflatedTooLarge { max: 1000 })
        ));
        assert_eq!(inflate(&z, 1 << 20).unwrap().len(), 1 << 20);
    }

    #[test]
    fn rejects_truncated_and_trailing_data() {
        let z = deflate(&b"hello hello hello hello".repeat(20)).unwrap();
        let cut = &z[..z.len() - 2];
        assert!(matches!(
            inflate(cut, 1 << 16),
            Err(JweError::InvalidDeflate)
        ));
        let mut long = z.clone();
        long.push(0);
        assert!(matches!(
            inflate(&long, 1 << 16),
            Err(JweError::InvalidDeflate)
        ));
        assert!(matches!(
            inflate(b"\xff\xff\xff", 1 << 16),
            Err(JweError::InvalidDeflate)
        ));
    }
}
