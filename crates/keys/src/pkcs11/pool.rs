//! A pool of logged-in sessions on one token. A PKCS#11 session must not be used by two
//! threads at once, but different sessions of one token may run in parallel; so each
//! signing call borrows a session of its own instead of all calls sharing one behind a
//! mutex. Sessions are opened lazily up to a bound, reused, and dropped (closed) when a
//! call shows them broken.

use super::error::{Pkcs11Error, call};
use super::module::lock;
use cryptoki::context::Pkcs11;
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use secrecy::SecretString;
use std::sync::{Condvar, Mutex};

struct State {
    idle: Vec<Session>,
    open: usize,
}

pub(crate) struct SessionPool {
    ctx: Pkcs11,
    slot: Slot,
    token: String,
    pin: SecretString,
    max: usize,
    state: Mutex<State>,
    returned: Condvar,
}

/// Counts a borrowed session as open until it is returned; if the borrower unwinds, the
/// session is closed by its own drop and this gives the slot back.
struct Borrowed<'a> {
    pool: &'a SessionPool,
    armed: bool,
}

impl Drop for Borrowed<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut st = lock(&self.pool.state);
            st.open = st.open.saturating_sub(1);
            drop(st);
            self.pool.returned.notify_one();
        }
    }
}

/// Return values after which a session is not worth keeping.
pub(crate) fn breaks_session(rv: RvError) -> bool {
    matches!(
        rv,
        RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::DeviceRemoved
            | RvError::DeviceError
            | RvError::TokenNotPresent
            | RvError::TokenNotRecognized
            | RvError::GeneralError
            | RvError::OperationActive
    )
}

impl SessionPool {
    /// Opens the first session and logs in, so a wrong PIN is reported at open time.
    pub(crate) fn new(
        ctx: Pkcs11,
        slot: Slot,
        token: String,
        pin: SecretString,
        max: usize,
    ) -> Result<Self, Pkcs11Error> {
        let pool = SessionPool {
            ctx,
            slot,
            token,
            pin,
            max: max.max(1),
            state: Mutex::new(State {
                idle: Vec::new(),
                open: 1,
            }),
            returned: Condvar::new(),
        };
        let first = pool.open_session()?;
        lock(&pool.state).idle.push(first);
        Ok(pool)
    }

    pub(crate) fn pin(&self) -> &SecretString {
        &self.pin
    }

    /// Opens a read-write session and makes sure the user is logged in. Login state is per
    /// token and application, so only the first session (or the first after all were
    /// closed) really logs in; the others get `CKR_USER_ALREADY_LOGGED_IN`.
    fn open_session(&self) -> Result<Session, Pkcs11Error> {
        let session = self
            .ctx
            .open_rw_session(self.slot)
            .map_err(call("C_OpenSession"))?;
        self.login(&session)?;
        Ok(session)
    }

    /// Logs the user in on `session` (a no-op if already logged in).
    pub(crate) fn login(&self, session: &Session) -> Result<(), Pkcs11Error> {
        match session.login(UserType::User, Some(&self.pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => Err(Pkcs11Error::WrongPin {
                token: self.token.clone(),
            }),
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(Pkcs11Error::PinLocked {
                token: self.token.clone(),
            }),
            Err(e) => Err(call("C_Login")(e)),
        }
    }

    /// Runs `f` on a session of its own: an idle one, else a new one if under the bound,
    /// else the next one returned. If the token reports the user logged out (it was reset,
    /// or every session had been closed), logs in again and retries once. A session that an
    /// error shows broken is closed instead of returned.
    pub(crate) fn with_session<T>(
        &self,
        mut f: impl FnMut(&Session) -> Result<T, Pkcs11Error>,
    ) -> Result<T, Pkcs11Error> {
        let session = self.take()?;
        let mut borrowed = Borrowed {
            pool: self,
            armed: true,
        };
        let mut result = f(&session);
        if result
            .as_ref()
            .err()
            .and_then(Pkcs11Error::rv)
            .is_some_and(|rv| rv == RvError::UserNotLoggedIn)
        {
            self.login(&session)?;
            result = f(&session);
        }
        let broken = result
            .as_ref()
            .err()
            .and_then(Pkcs11Error::rv)
            .is_some_and(breaks_session);
        if broken {
            drop(session);
        } else {
            borrowed.armed = false;
            lock(&self.state).idle.push(session);
            self.returned.notify_one();
        }
        result
    }

    fn take(&self) -> Result<Session, Pkcs11Error> {
        let mut st = lock(&self.state);
        loop {
            if let Some(s) = st.idle.pop() {
                return Ok(s);
            }
            if st.open < self.max {
                st.open += 1;
                drop(st);
                return self.open_session().inspect_err(|_| {
                    let mut st = lock(&self.state);
                    st.open = st.open.saturating_sub(1);
                    drop(st);
                    self.returned.notify_one();
                });
            }
            st = self
                .returned
                .wait(st)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Sessions currently open (idle or borrowed).
    pub(crate) fn open_sessions(&self) -> usize {
        lock(&self.state).open
    }
}
