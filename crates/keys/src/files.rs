//! Small file helpers for key material: bounded reads, and atomic create-if-absent writes
//! (temporary file in the same directory, mode 0600, fsync, then a no-clobber rename and a
//! directory fsync), so a crash never leaves a half-written key file and an existing file is
//! never replaced.

use std::io::{Read, Write};
use std::path::Path;

/// Reads at most `limit` bytes; a larger file is an `InvalidData` error.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut buf = Vec::new();
    file.take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("file is larger than {limit} bytes"),
        ));
    }
    Ok(buf)
}

/// Creates `path` with `contents` and mode 0600, atomically; fails with `AlreadyExists`
/// (and changes nothing) if the path exists.
pub(crate) fn create_new(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-key-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .tempfile_in(dir)?;
    tmp.write_all(contents)?;
    tmp.as_file().sync_all()?;
    tmp.persist_noclobber(path).map_err(|e| e.error)?;
    // The rename is durable only once the directory entry is.
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_with_mode_0600_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        create_new(&path, b"one").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let err = create_new(&path, b"two").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn rejects_oversized_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, [0u8; 11]).unwrap();
        assert_eq!(read_bounded(&path, 11).unwrap().len(), 11);
        assert_eq!(
            read_bounded(&path, 10).unwrap_err().kind(),
            std::io::ErrorKind::InvalidData
        );
    }
}
