//! The process-wide registry of loaded PKCS#11 modules. `C_Initialize` may be called once per
//! process per module (a second call returns `CKR_CRYPTOKI_ALREADY_INITIALIZED`, and
//! `C_Finalize` would pull the library out from under every other user), so each module is
//! loaded and initialized on first use and kept for the life of the process.

use super::error::{Pkcs11Error, call};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

static MODULES: Mutex<Vec<(PathBuf, Pkcs11)>> = Mutex::new(Vec::new());

/// Locks a mutex, ignoring poisoning: the guarded data here stays consistent across a
/// panicking holder (each update is a single push or pop).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The initialized context for the module at `path`, with the path resolved through
/// symlinks (so two spellings of one library share one context).
pub(crate) fn module(path: &Path) -> Result<(PathBuf, Pkcs11), Pkcs11Error> {
    let canonical = std::fs::canonicalize(path).map_err(|error| Pkcs11Error::ModuleNotFound {
        path: path.to_owned(),
        error,
    })?;
    // Held across loading so two threads cannot both initialize the same module.
    let mut modules = lock(&MODULES);
    if let Some((_, ctx)) = modules.iter().find(|(p, _)| *p == canonical) {
        return Ok((canonical, ctx.clone()));
    }
    let ctx = Pkcs11::new(&canonical).map_err(|source| Pkcs11Error::ModuleLoad {
        path: path.to_owned(),
        source,
    })?;
    // OS locking: sessions are used from many threads (one at a time each).
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) => {}
        // Something else in this process initialized it through another handle; the
        // library is usable all the same.
        Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(call("C_Initialize")(e)),
    }
    tracing::debug!(module = %canonical.display(), "PKCS#11 module initialized");
    modules.push((canonical.clone(), ctx.clone()));
    Ok((canonical, ctx))
}
