//! The one way this project writes a file that holds a secret (KEKs, admin tokens, key
//! records, a wallet's sealed items) or that must never be replaced (certificates):
//! bounded reads, atomic create-if-absent writes and atomic replacements. A write goes to
//! a temporary file in the same directory (mode 0600 unless asked otherwise), is fsync'd,
//! then renamed into place (without clobbering, for [`create_new`]) and the directory is
//! fsync'd, so a crash never leaves a half-written file and readers see the old or the new
//! contents, never a mix.

use std::io::{Read, Write};
use std::path::Path;

/// Owner read/write only: the mode of every secret file.
pub const SECRET_MODE: u32 = 0o600;

/// Reads at most `limit` bytes; a larger file is an `InvalidData` error.
pub fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
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
/// (and changes nothing) if the path exists, also as a dangling symlink.
pub fn create_new(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    create_new_with_mode(path, contents, SECRET_MODE)
}

/// [`create_new`] with another mode (a certificate others may read: 0644).
pub fn create_new_with_mode(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    let (dir, tmp) = written_temporary(path, contents, mode)?;
    tmp.persist_noclobber(path).map_err(|e| e.error)?;
    // The rename is durable only once the directory entry is.
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Replaces (or creates) `path` with `contents` and mode 0600, atomically: a reader or a
/// crash sees the old contents or the new, never a truncated file.
pub fn replace(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let (dir, tmp) = written_temporary(path, contents, SECRET_MODE)?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// A temporary file beside `path` holding `contents`, synced to disk; removed on drop
/// unless persisted.
fn written_temporary<'a>(
    path: &'a Path,
    contents: &[u8],
    mode: u32,
) -> std::io::Result<(&'a Path, tempfile::NamedTempFile)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))
        .tempfile_in(dir)?;
    tmp.write_all(contents)?;
    tmp.as_file().sync_all()?;
    Ok((dir, tmp))
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
    fn issue11_create_new_refuses_a_dangling_symlink_and_writes_nothing_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = create_new(&link, b"secret").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert!(!target.exists());
    }

    #[test]
    fn issue11_create_new_with_mode_sets_the_mode_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cert.pem");
        create_new_with_mode(&path, b"pem", 0o644).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    #[test]
    fn issue11_replace_swaps_the_contents_atomically_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wallet");
        replace(&path, b"one").unwrap();
        replace(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
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
