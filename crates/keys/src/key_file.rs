//! An encrypted key file holding one named software key: a sealed key record
//! ([`crate::seal_key`]) written to disk, mode 0600.
//!
//! The record is bound to the file's *name* (its last path component): a key file renamed
//! or copied under another key's name no longer opens, so one key cannot be swapped in for
//! another even by someone who can write the directory. Moving the directory is fine.
//!
//! [`load_or_generate`] creates the key on first start and loads it afterwards. It never
//! replaces an existing file: a file that does not open (wrong KEK, tampered, other
//! algorithm) is an error for an operator to look at, not a reason to make a new key.

use crate::Kek;
use crate::files;
use crate::seal::{SealError, open_key, seal_key};
use jose::{Algorithm, Signer, SoftwareSigner};
use std::path::{Path, PathBuf};

/// Largest key file read (a sealed P-384 JWK is well under 1 KiB).
const MAX_KEY_FILE: u64 = 16 * 1024;

/// Why a key file could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading or writing the file failed.
    #[error("key file `{path}`: {error}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The file exists but its record does not open.
    #[error("key file `{path}`: {error}")]
    Sealed {
        /// The key file.
        path: PathBuf,
        /// Why the record did not open.
        error: SealError,
    },
    /// The file holds a key for another algorithm than the one asked for.
    #[error("key file `{path}` holds a {found} key, not {wanted}", found = found.name(), wanted = wanted.name())]
    AlgorithmMismatch {
        /// The key file.
        path: PathBuf,
        /// The stored key's algorithm.
        found: Algorithm,
        /// The algorithm asked for.
        wanted: Algorithm,
    },
    /// The path has no UTF-8 file name to bind the record to.
    #[error("key file `{path}` needs a UTF-8 file name")]
    BadFileName {
        /// The key file.
        path: PathBuf,
    },
    /// Key generation failed.
    #[error("generating a key for `{path}` failed")]
    Generate {
        /// The key file.
        path: PathBuf,
    },
}

fn key_name(path: &Path) -> Result<&str, KeyFileError> {
    path.file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| KeyFileError::BadFileName {
            path: path.to_owned(),
        })
}

/// Loads the key in `path`, which must exist.
pub fn load(path: &Path, kek: &Kek) -> Result<SoftwareSigner, KeyFileError> {
    let name = key_name(path)?;
    let record = files::read_bounded(path, MAX_KEY_FILE).map_err(|error| KeyFileError::Io {
        path: path.to_owned(),
        error,
    })?;
    open_key(kek, name, &record).map_err(|error| KeyFileError::Sealed {
        path: path.to_owned(),
        error,
    })
}

/// Loads the key in `path`, or generates an `alg` key and writes it there (mode 0600,
/// atomically) if the file does not exist. An existing file is never overwritten: if it
/// does not open with `kek`, or holds a key for another algorithm, that is an error.
///
/// The signer's `kid` is the RFC 7638 thumbprint of its public key.
pub fn load_or_generate(
    path: &Path,
    kek: &Kek,
    alg: Algorithm,
) -> Result<SoftwareSigner, KeyFileError> {
    let loaded = |signer: SoftwareSigner| -> Result<SoftwareSigner, KeyFileError> {
        if signer.algorithm() != alg {
            return Err(KeyFileError::AlgorithmMismatch {
                path: path.to_owned(),
                found: signer.algorithm(),
                wanted: alg,
            });
        }
        Ok(signer)
    };
    match load(path, kek) {
        Ok(signer) => return loaded(signer),
        Err(KeyFileError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let name = key_name(path)?;
    let generated = SoftwareSigner::generate(alg).map_err(|_| KeyFileError::Generate {
        path: path.to_owned(),
    })?;
    let record = seal_key(kek, name, &generated).map_err(|error| KeyFileError::Sealed {
        path: path.to_owned(),
        error,
    })?;
    match files::create_new(path, &record) {
        Ok(()) => {
            let kid = generated.public_jwk().thumbprint();
            tracing::info!(path = %path.display(), kid, alg = alg.name(), "generated key file");
            Ok(generated.with_kid(kid))
        }
        // Another process created it between our read and our write: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => loaded(load(path, kek)?),
        Err(error) => Err(KeyFileError::Io {
            path: path.to_owned(),
            error,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyProtection, KeySigner};
    use jose::VerifyingKey;
    use std::os::unix::fs::PermissionsExt;

    fn kek(b: u8) -> Kek {
        Kek::from_bytes(&[b; 32]).unwrap()
    }

    #[test]
    fn load_or_generate_twice_returns_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issuer.key");
        let a = load_or_generate(&path, &kek(1), Algorithm::Es256).unwrap();
        let b = load_or_generate(&path, &kek(1), Algorithm::Es256).unwrap();
        assert!(a.public_jwk().same_key(b.public_jwk()));
        assert_eq!(a.key_id(), b.key_id());
        assert_eq!(a.key_id(), Some(a.public_jwk().thumbprint().as_str()));
        assert_eq!(b.protection(), KeyProtection::Software);
        let vk = VerifyingKey::from_jwk(a.public_jwk()).unwrap();
        vk.verify(Algorithm::Es256, b"m", &b.sign(b"m").unwrap())
            .unwrap();
    }

    #[test]
    fn key_file_has_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issuer.key");
        load_or_generate(&path, &kek(1), Algorithm::Ed25519).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn rejects_wrong_kek_and_keeps_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issuer.key");
        load_or_generate(&path, &kek(1), Algorithm::Es256).unwrap();
        let before = std::fs::read(&path).unwrap();
        let err = load_or_generate(&path, &kek(2), Algorithm::Es256).unwrap_err();
        assert!(matches!(
            err,
            KeyFileError::Sealed {
                error: SealError::WrongKek,
                ..
            }
        ));
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn rejects_tampered_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issuer.key");
        load_or_generate(&path, &kek(1), Algorithm::Es256).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            load_or_generate(&path, &kek(1), Algorithm::Es256),
            Err(KeyFileError::Sealed {
                error: SealError::NotAuthentic,
                ..
            })
        ));
    }

    #[test]
    fn rejects_truncated_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issuer.key");
        load_or_generate(&path, &kek(1), Algorithm::Es256).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..20]).unwrap();
        assert!(matches!(
            load_or_generate(&path, &kek(1), Algorithm::Es256),
            Err(KeyFileError::Sealed {
                error: SealError::Truncated { len: 20 },
                ..
            })
        ));
        std::fs::write(&path, b"").unwrap();
        assert!(matches!(
            load(&path, &kek(1)),
            Err(KeyFileError::Sealed {
                error: SealError::Truncated { len: 0 },
                ..
            })
        ));
    }

    #[test]
    fn rejects_key_file_renamed_to_another_key() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.key");
        let b = dir.path().join("b.key");
        load_or_generate(&a, &kek(1), Algorithm::Es256).unwrap();
        std::fs::copy(&a, &b).unwrap();
        assert!(matches!(
            load_or_generate(&b, &kek(1), Algorithm::Es256),
            Err(KeyFileError::Sealed {
                error: SealError::NotAuthentic,
                ..
            })
        ));
    }

    #[test]
    fn rejects_key_of_another_algorithm() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        load_or_generate(&path, &kek(1), Algorithm::Es256).unwrap();
        assert!(matches!(
            load_or_generate(&path, &kek(1), Algorithm::Es384),
            Err(KeyFileError::AlgorithmMismatch {
                found: Algorithm::Es256,
                wanted: Algorithm::Es384,
                ..
            })
        ));
    }

    #[test]
    fn missing_directory_is_an_io_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("k.key");
        assert!(matches!(
            load_or_generate(&path, &kek(1), Algorithm::Es256),
            Err(KeyFileError::Io { .. })
        ));
    }

    #[test]
    fn passphrase_kek_opens_what_it_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let salt_file = dir.path().join("kek.salt");
        let pass = dir.path().join("pass");
        std::fs::write(&pass, "a long passphrase\n").unwrap();
        let source = crate::KekSource::Passphrase {
            passphrase: crate::SecretSource::File(pass.clone()),
            salt_file: salt_file.clone(),
            params: crate::kdf::KdfParams {
                m_kib: crate::kdf::MIN_M_KIB,
                t: 1,
                p: 1,
            },
        };
        let path = dir.path().join("holder.key");
        let a = load_or_generate(&path, &source.load().unwrap(), Algorithm::Es256).unwrap();
        let b = load_or_generate(&path, &source.load().unwrap(), Algorithm::Es256).unwrap();
        assert!(a.public_jwk().same_key(b.public_jwk()));
        std::fs::write(&pass, "another passphrase\n").unwrap();
        assert!(matches!(
            load(&path, &source.load().unwrap()),
            Err(KeyFileError::Sealed {
                error: SealError::WrongKek,
                ..
            })
        ));
    }
}
