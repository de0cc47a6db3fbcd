//! One module per implemented role: each turns the typed configuration into the role's
//! [`service::RoleService`] (its crate's router plus readiness). Registered in
//! [`crate::mode::IMPLEMENTED`].

pub(crate) mod attester;
pub(crate) mod engine;
pub(crate) mod issuer;
pub(crate) mod verifier;

use std::path::Path;

use anyhow::Context;

/// Reads a secret file a role generated on an earlier start, or creates it (parent
/// directories too; through [`keys::files::create_new`]: atomic, fsync'd, mode 0600,
/// never overwriting) with `make()`: the embedded
/// defaults of `--mode=all` (KEKs, admin tokens) persist this way.
pub(crate) fn secret_file(
    path: &Path,
    make: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => return Ok(text.trim().to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let value = make()?;
    match keys::files::create_new(path, value.as_bytes()) {
        Ok(()) => Ok(value),
        // Another process (a second replica started at the same moment) created it first:
        // its value wins, so both use the same secret.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Ok(text.trim().to_owned())
        }
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

/// `n` random bytes from the system generator, base64url.
pub(crate) fn random_b64(n: usize) -> anyhow::Result<String> {
    Ok(jose::random::token(&jose::SystemRandom, n)?)
}
