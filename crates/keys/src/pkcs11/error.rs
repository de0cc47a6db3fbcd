//! Errors of the PKCS#11 key store. A failing call is named with its return value
//! ([`Pkcs11Error::Pkcs11`]); conditions the store checks itself have their own variants,
//! and "could not check" ([`Pkcs11Error::AttributeUnreadable`]) is kept apart from "checked
//! and refused" ([`Pkcs11Error::KeyPolicy`]).

use cryptoki::error::{Error as CkError, RvError};
use std::path::PathBuf;

/// Why a PKCS#11 operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs11Error {
    /// The user PIN could not be read from its configured source.
    #[error("the PKCS#11 user PIN could not be read: {0}")]
    Pin(#[from] crate::secret::SecretError),
    /// The module path does not exist or cannot be resolved.
    #[error("PKCS#11 module `{path}` not found: {error}")]
    ModuleNotFound {
        /// The configured module path.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The module could not be loaded as a PKCS#11 library.
    #[error("PKCS#11 module `{path}` could not be loaded: {source}")]
    ModuleLoad {
        /// The configured module path.
        path: PathBuf,
        /// The loader's error.
        source: CkError,
    },
    /// A PKCS#11 call returned an error.
    #[error("{func} failed: {}", ckr_name(*.rv))]
    Pkcs11 {
        /// The PKCS#11 function (`C_Sign`, `C_Login`, …).
        func: &'static str,
        /// Its return value.
        rv: RvError,
    },
    /// The binding failed around a call (a conversion, a missing function pointer).
    #[error("{func} could not be called: {source}")]
    Binding {
        /// The PKCS#11 function.
        func: &'static str,
        /// The binding's error.
        source: CkError,
    },
    /// No token has the configured label.
    #[error("no PKCS#11 token labelled `{label}` ({})", found_list(.found))]
    TokenNotFound {
        /// The configured label.
        label: String,
        /// The labels of the tokens that are present.
        found: Vec<String>,
    },
    /// More than one token has the configured label.
    #[error("{count} PKCS#11 tokens are labelled `{label}`; labels must be unique")]
    AmbiguousToken {
        /// The configured label.
        label: String,
        /// How many tokens carry it.
        count: usize,
    },
    /// `C_Login` refused the user PIN (`CKR_PIN_INCORRECT`), or the PIN differs from the
    /// one this process is already logged in with.
    #[error("wrong user PIN for PKCS#11 token `{token}`")]
    WrongPin {
        /// The token label.
        token: String,
    },
    /// The user PIN is locked (`CKR_PIN_LOCKED`).
    #[error("the user PIN of PKCS#11 token `{token}` is locked")]
    PinLocked {
        /// The token label.
        token: String,
    },
    /// No private key has the label.
    #[error("no private key labelled `{label}` in the PKCS#11 token")]
    KeyNotFound {
        /// The key label.
        label: String,
    },
    /// More than one object of a class has the label.
    #[error("{count} {class} objects are labelled `{label}`; key labels must be unique")]
    DuplicateKey {
        /// The key label.
        label: String,
        /// `private key` or `public key`.
        class: &'static str,
        /// How many carry it.
        count: usize,
    },
    /// A key with the label already exists; it is never overwritten.
    #[error("a key labelled `{label}` already exists in the PKCS#11 token; it is not replaced")]
    KeyExists {
        /// The key label.
        label: String,
    },
    /// Only one half of the key pair is present.
    #[error("the key pair labelled `{label}` has no {missing}")]
    KeyPairIncomplete {
        /// The key label.
        label: String,
        /// `public key` or `private key`.
        missing: &'static str,
    },
    /// An attribute the policy needs could not be read, so the key could not be checked.
    #[error(
        "key `{label}`: attribute {attribute} could not be read ({reason}), so the key cannot be checked"
    )]
    AttributeUnreadable {
        /// The key label.
        label: String,
        /// The attribute (`CKA_…`).
        attribute: &'static str,
        /// `sensitive`, `not defined for this object` or `unavailable`.
        reason: &'static str,
    },
    /// The key's attributes break the policy: it could leave the token or do more than sign.
    #[error("key `{label}` refused: {attribute} is {found}, it must be {}", !.found)]
    KeyPolicy {
        /// The key label.
        label: String,
        /// The attribute (`CKA_…`).
        attribute: &'static str,
        /// The value found.
        found: bool,
    },
    /// The key is not an EC key.
    #[error("key `{label}` is not an EC key")]
    UnsupportedKeyType {
        /// The key label.
        label: String,
    },
    /// The key is not on P-256.
    #[error("key `{label}` is not on curve P-256")]
    UnsupportedCurve {
        /// The key label.
        label: String,
    },
    /// The public point is not a valid P-256 point in the expected encoding.
    #[error("key `{label}` has a malformed CKA_EC_POINT")]
    BadEcPoint {
        /// The key label.
        label: String,
    },
    /// The private key's signature does not verify with the public key of the same label.
    #[error("the private and public keys labelled `{label}` do not belong together")]
    KeyPairMismatch {
        /// The key label.
        label: String,
    },
    /// The token returned a signature of unexpected length.
    #[error("C_Sign returned {len} bytes; an ES256 signature is 64")]
    SignatureLength {
        /// The length returned.
        len: usize,
    },
    /// A key label is empty or too long.
    #[error("key label `{label}` is empty or longer than {max} bytes")]
    BadKeyLabel {
        /// The label.
        label: String,
        /// The maximum length.
        max: usize,
    },
}

fn found_list(found: &[String]) -> String {
    if found.is_empty() {
        "no tokens found".to_owned()
    } else {
        let quoted: Vec<String> = found.iter().map(|l| format!("`{l}`")).collect();
        format!("tokens found: {}", quoted.join(", "))
    }
}

/// The `CKR_…` name of a return value (cryptoki's variant names are the CKR names in
/// camel case).
pub fn ckr_name(rv: RvError) -> String {
    if let RvError::UnknownErrorCode(code) = rv {
        return format!("CKR {code:#x}");
    }
    let camel = format!("{rv:?}");
    let mut out = String::with_capacity(camel.len() + 8);
    out.push_str("CKR");
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

impl Pkcs11Error {
    /// The PKCS#11 return value, if this error is a failed call.
    pub fn rv(&self) -> Option<RvError> {
        match self {
            Pkcs11Error::Pkcs11 { rv, .. } => Some(*rv),
            _ => None,
        }
    }
}

/// Maps a binding error for `func` into [`Pkcs11Error`].
pub(crate) fn call(func: &'static str) -> impl FnOnce(CkError) -> Pkcs11Error {
    move |e| match e {
        CkError::Pkcs11(rv, _) => Pkcs11Error::Pkcs11 { func, rv },
        source => Pkcs11Error::Binding { func, source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ckr_names_match_the_specification() {
        assert_eq!(
            ckr_name(RvError::AttributeSensitive),
            "CKR_ATTRIBUTE_SENSITIVE"
        );
        assert_eq!(ckr_name(RvError::PinIncorrect), "CKR_PIN_INCORRECT");
        assert_eq!(
            ckr_name(RvError::UserAlreadyLoggedIn),
            "CKR_USER_ALREADY_LOGGED_IN"
        );
        assert_eq!(
            ckr_name(RvError::UnknownErrorCode(0x8000_0001)),
            "CKR 0x80000001"
        );
        let e = Pkcs11Error::Pkcs11 {
            func: "C_WrapKey",
            rv: RvError::KeyUnextractable,
        };
        assert_eq!(e.to_string(), "C_WrapKey failed: CKR_KEY_UNEXTRACTABLE");
    }

    #[test]
    fn token_not_found_lists_the_labels() {
        let e = Pkcs11Error::TokenNotFound {
            label: "IMMERSE".into(),
            found: vec!["A".into(), "B".into()],
        };
        assert_eq!(
            e.to_string(),
            "no PKCS#11 token labelled `IMMERSE` (tokens found: `A`, `B`)"
        );
    }

    #[test]
    fn policy_error_names_the_attribute() {
        let e = Pkcs11Error::KeyPolicy {
            label: "A-Key".into(),
            attribute: "CKA_EXTRACTABLE",
            found: true,
        };
        assert_eq!(
            e.to_string(),
            "key `A-Key` refused: CKA_EXTRACTABLE is true, it must be false"
        );
    }
}
