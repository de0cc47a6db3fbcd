//! Helpers for tests that use the SoftHSM2 token the test script creates (feature
//! `testing`). SoftHSM's file object store is not safe when several processes create or
//! destroy objects in one token at once (a starting process can fail the token's integrity
//! check and see no token), and nextest runs every test in its own process: so every test
//! that touches the token holds [`TokenLock`] for its whole duration.

use std::path::PathBuf;

use secrecy::SecretString;

/// The test token, from `SOFTHSM2_CONF` and `TEST_PKCS11_*` (set by `scripts/test.sh` or
/// `eval "$(scripts/softhsm-setup.sh /tmp/x)"`).
#[derive(Debug)]
pub struct TestToken {
    /// PKCS#11 module path.
    pub module: PathBuf,
    /// Token label.
    pub label: String,
    /// User PIN.
    pub pin: SecretString,
}

/// Why the test token cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TestTokenError {
    /// A variable is missing.
    #[error(
        "{0} is not set: tests that use PKCS#11 need a SoftHSM2 token; run `eval \"$(scripts/softhsm-setup.sh /tmp/x)\"` first (scripts/test.sh does)"
    )]
    Missing(&'static str),
    /// The lock file cannot be opened or locked.
    #[error("cannot lock {path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn var(name: &'static str) -> Result<String, TestTokenError> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(TestTokenError::Missing(name)),
    }
}

/// Reads the test token's settings.
pub fn test_token() -> Result<TestToken, TestTokenError> {
    var("SOFTHSM2_CONF")?;
    Ok(TestToken {
        module: PathBuf::from(var("TEST_PKCS11_MODULE")?),
        label: var("TEST_PKCS11_TOKEN")?,
        pin: SecretString::from(var("TEST_PKCS11_PIN")?),
    })
}

/// An exclusive cross-process lock on the test token, released on drop.
#[derive(Debug)]
pub struct TokenLock {
    _file: std::fs::File,
}

/// Takes the lock (`tests.lock` next to `SOFTHSM2_CONF`), waiting for other test processes.
pub fn lock_token() -> Result<TokenLock, TestTokenError> {
    let path = PathBuf::from(var("SOFTHSM2_CONF")?).with_file_name("tests.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| TestTokenError::Lock {
            path: path.clone(),
            source,
        })?;
    file.lock()
        .map_err(|source| TestTokenError::Lock { path, source })?;
    Ok(TokenLock { _file: file })
}
