//! Passphrase stretching for [`crate::Kek`]: Argon2id (RFC 9106, version 0x13) with a random
//! salt and the cost parameters stored together in a one-line *salt file*:
//!
//! ```text
//! $argon2id$v=19$m=65536,t=3,p=1$<salt, standard base64 without padding>
//! ```
//!
//! (the PHC string format without the hash part). The file is created on first use with
//! [`KdfParams::default`] — 64 MiB, 3 passes, 1 lane, RFC 9106 §4's second recommended
//! option — and a 16-byte salt, mode 0600, never overwritten. Because the parameters are
//! read back from the file, they can be raised for new deployments without breaking old
//! ones. The salt is not secret; losing it loses every key sealed under the derived KEK.

use crate::files;
use argon2::{Algorithm, Argon2, Params, Version};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Salt length written into new salt files.
pub const SALT_LEN: usize = 16;

/// Smallest memory cost accepted from a salt file, in KiB (OWASP's minimum for Argon2id).
/// Below this the KDF adds too little work to matter; a salt file asking for less is
/// refused rather than trusted.
pub const MIN_M_KIB: u32 = 19 * 1024;

/// Largest memory cost accepted from a salt file, in KiB (1 GiB), so a tampered file cannot
/// make startup allocate without bound.
pub const MAX_M_KIB: u32 = 1024 * 1024;

const MAX_T: u32 = 64;
const MAX_P: u32 = 16;
const MAX_SALT_LEN: usize = 64;
const MAX_SALT_FILE: u64 = 512;

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes over memory.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams {
            m_kib: 64 * 1024,
            t: 3,
            p: 1,
        }
    }
}

impl KdfParams {
    fn check(self) -> Result<Params, KdfError> {
        if !(MIN_M_KIB..=MAX_M_KIB).contains(&self.m_kib)
            || !(1..=MAX_T).contains(&self.t)
            || !(1..=MAX_P).contains(&self.p)
        {
            return Err(KdfError::ParamsOutOfRange(self));
        }
        Params::new(self.m_kib, self.t, self.p, Some(crate::kek::KEK_LEN))
            .map_err(|_| KdfError::ParamsOutOfRange(self))
    }
}

/// Why the passphrase could not be stretched.
#[derive(Debug, thiserror::Error)]
pub enum KdfError {
    /// The salt file could not be read or written.
    #[error("salt file `{path}`: {error}")]
    Io {
        /// The salt file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The salt file is not in the expected format.
    #[error("salt file `{path}` is not an `$argon2id$v=19$m=…,t=…,p=…$<salt>` line")]
    Malformed {
        /// The salt file.
        path: PathBuf,
    },
    /// The cost parameters are outside the accepted range.
    #[error(
        "Argon2id parameters m={}KiB t={} p={} are outside the accepted range \
         (m {MIN_M_KIB}..={MAX_M_KIB} KiB, t 1..={MAX_T}, p 1..={MAX_P})",
        .0.m_kib, .0.t, .0.p
    )]
    ParamsOutOfRange(KdfParams),
    /// The random generator failed.
    #[error("the random generator failed")]
    Random,
    /// Argon2 refused the input.
    #[error("Argon2id failed")]
    Argon2,
}

/// The salt and parameters of a passphrase-derived KEK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KekSalt {
    params: KdfParams,
    salt: Vec<u8>,
}

impl KekSalt {
    /// A new random salt with `params`.
    pub fn generate(params: KdfParams, rng: &dyn jose::Random) -> Result<Self, KdfError> {
        params.check()?;
        let mut salt = vec![0u8; SALT_LEN];
        rng.fill(&mut salt).map_err(|_| KdfError::Random)?;
        Ok(KekSalt { params, salt })
    }

    /// The parameters.
    pub fn params(&self) -> KdfParams {
        self.params
    }

    /// The salt-file line (without line break).
    pub fn encode(&self) -> String {
        use base64::Engine as _;
        format!(
            "$argon2id$v=19$m={},t={},p={}${}",
            self.params.m_kib,
            self.params.t,
            self.params.p,
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(&self.salt)
        )
    }

    /// Parses a salt-file line. `None` if it is not exactly the expected format.
    pub fn decode(line: &str) -> Option<Result<Self, KdfError>> {
        use base64::Engine as _;
        let rest = line.strip_prefix("$argon2id$v=19$m=")?;
        let (m, rest) = rest.split_once(",t=")?;
        let (t, rest) = rest.split_once(",p=")?;
        let (p, salt) = rest.split_once('$')?;
        let num = |s: &str| -> Option<u32> {
            // Canonical decimal only: no sign, no leading zeros, no spaces.
            if s.is_empty() || (s.len() > 1 && s.starts_with('0')) {
                return None;
            }
            if !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        };
        let params = KdfParams {
            m_kib: num(m)?,
            t: num(t)?,
            p: num(p)?,
        };
        let salt = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(salt)
            .ok()?;
        if !(8..=MAX_SALT_LEN).contains(&salt.len()) {
            return None;
        }
        Some(params.check().map(|_| KekSalt { params, salt }))
    }

    /// Reads the salt file, or creates it with a fresh salt and `params` if it does not exist
    /// (atomically; if another process creates it first, that one is used).
    pub fn load_or_create(path: &Path, params: KdfParams) -> Result<Self, KdfError> {
        let io = |error| KdfError::Io {
            path: path.to_owned(),
            error,
        };
        match files::read_bounded(path, MAX_SALT_FILE) {
            Ok(bytes) => Self::parse_file(path, &bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let salt = Self::generate(params, &jose::SystemRandom)?;
                let line = format!("{}\n", salt.encode());
                match files::create_new(path, line.as_bytes()) {
                    Ok(()) => Ok(salt),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        let bytes = files::read_bounded(path, MAX_SALT_FILE).map_err(io)?;
                        Self::parse_file(path, &bytes)
                    }
                    Err(e) => Err(io(e)),
                }
            }
            Err(e) => Err(io(e)),
        }
    }

    fn parse_file(path: &Path, bytes: &[u8]) -> Result<Self, KdfError> {
        let malformed = || KdfError::Malformed {
            path: path.to_owned(),
        };
        let text = std::str::from_utf8(bytes).map_err(|_| malformed())?;
        let line = text.strip_suffix('\n').unwrap_or(text);
        Self::decode(line).ok_or_else(malformed)?
    }

    /// Runs Argon2id over `passphrase`.
    pub(crate) fn derive(
        &self,
        passphrase: &[u8],
    ) -> Result<Zeroizing<[u8; crate::kek::KEK_LEN]>, KdfError> {
        let params = self.params.check()?;
        let mut out = Zeroizing::new([0u8; crate::kek::KEK_LEN]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase, &self.salt, &mut *out)
            .map_err(|_| KdfError::Argon2)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kek;
    use secrecy::SecretString;

    /// The smallest accepted cost keeps the tests fast; production files use the default.
    pub(crate) const TEST_PARAMS: KdfParams = KdfParams {
        m_kib: MIN_M_KIB,
        t: 1,
        p: 1,
    };

    #[test]
    fn salt_file_round_trips_and_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek.salt");
        let a = KekSalt::load_or_create(&path, TEST_PARAMS).unwrap();
        // A second call with other parameters reads the stored ones.
        let b = KekSalt::load_or_create(&path, KdfParams::default()).unwrap();
        assert_eq!(a, b);
        assert_eq!(b.params(), TEST_PARAMS);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("$argon2id$v=19$m=19456,t=1,p=1$"));
        assert_eq!(KekSalt::decode(text.trim_end()).unwrap().unwrap(), a);
    }

    #[test]
    fn same_passphrase_and_salt_give_the_same_kek() {
        let salt = KekSalt::generate(TEST_PARAMS, &jose::SystemRandom).unwrap();
        let p = SecretString::from("correct horse battery staple");
        let a = Kek::from_passphrase(&p, &salt).unwrap();
        let b = Kek::from_passphrase(&p, &salt).unwrap();
        assert_eq!(a.id(), b.id());
        let other = Kek::from_passphrase(&SecretString::from("correct horse"), &salt).unwrap();
        assert_ne!(a.id(), other.id());
        let salt2 = KekSalt::generate(TEST_PARAMS, &jose::SystemRandom).unwrap();
        assert_ne!(a.id(), Kek::from_passphrase(&p, &salt2).unwrap().id());
    }

    #[test]
    fn rejects_malformed_salt_lines() {
        for line in [
            "",
            "$argon2i$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA",
            "$argon2id$v=16$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA",
            "$argon2id$v=19$m=08192,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA",
            "$argon2id$v=19$m=8192,t=+1,p=1$c2FsdHNhbHRzYWx0c2FsdA",
            "$argon2id$v=19$m=8192,t=1,p=1$c2Fs",
            "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA==",
            "$argon2id$v=19$m=8192,t=1,p=1",
        ] {
            assert!(KekSalt::decode(line).is_none(), "{line}");
        }
    }

    #[test]
    fn rejects_weak_or_huge_parameters() {
        let weak = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA";
        assert!(matches!(
            KekSalt::decode(weak),
            Some(Err(KdfError::ParamsOutOfRange(_)))
        ));
        let huge = "$argon2id$v=19$m=4000000,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA";
        assert!(matches!(
            KekSalt::decode(huge),
            Some(Err(KdfError::ParamsOutOfRange(_)))
        ));
    }

    #[test]
    fn rejects_malformed_salt_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek.salt");
        std::fs::write(&path, "garbage\n").unwrap();
        assert!(matches!(
            KekSalt::load_or_create(&path, TEST_PARAMS),
            Err(KdfError::Malformed { .. })
        ));
        // The bad file is left alone, not replaced.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "garbage\n");
    }
}
