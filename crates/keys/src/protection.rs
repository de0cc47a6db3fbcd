//! How a signing key is protected, as its signer reports it: the attester writes it into
//! attestations, and an issuer can refuse keys that are only protected in software.

use jose::SoftwareSigner;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a signing key's private half lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum KeyProtection {
    /// In process memory (loaded from an encrypted key file, or generated at start).
    Software,
    /// Inside a PKCS#11 token, sensitive and not extractable.
    Pkcs11,
    /// Inside a TPM.
    Tpm,
}

impl KeyProtection {
    /// The lowercase name used in attestations and configuration (`software`, `pkcs11`,
    /// `tpm`).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyProtection::Software => "software",
            KeyProtection::Pkcs11 => "pkcs11",
            KeyProtection::Tpm => "tpm",
        }
    }

    /// Whether the private key is held by hardware that does not release it.
    pub fn is_hardware(self) -> bool {
        match self {
            KeyProtection::Software => false,
            KeyProtection::Pkcs11 | KeyProtection::Tpm => true,
        }
    }
}

impl fmt::Display for KeyProtection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A [`jose::Signer`] that says how its key is protected. Services hold their keys as
/// `Arc<dyn KeySigner>` and pass them wherever a `&dyn jose::Signer` is wanted.
pub trait KeySigner: jose::Signer {
    /// How the private key is protected.
    fn protection(&self) -> KeyProtection;
}

impl KeySigner for SoftwareSigner {
    fn protection(&self) -> KeyProtection {
        KeyProtection::Software
    }
}

impl<S: KeySigner + ?Sized> KeySigner for std::sync::Arc<S> {
    fn protection(&self) -> KeyProtection {
        (**self).protection()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde() {
        for p in [
            KeyProtection::Software,
            KeyProtection::Pkcs11,
            KeyProtection::Tpm,
        ] {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
            assert_eq!(serde_json::from_str::<KeyProtection>(&json).unwrap(), p);
        }
        assert!(!KeyProtection::Software.is_hardware());
        assert!(KeyProtection::Pkcs11.is_hardware());
    }

    #[test]
    fn software_signer_reports_software() {
        let s = SoftwareSigner::generate(jose::Algorithm::Es256).unwrap();
        let shared: std::sync::Arc<dyn KeySigner> = std::sync::Arc::new(s);
        assert_eq!(shared.protection(), KeyProtection::Software);
        // Upcasting: a KeySigner is usable where a jose::Signer is wanted.
        let as_signer: &dyn jose::Signer = &*shared;
        assert_eq!(as_signer.algorithm(), jose::Algorithm::Es256);
    }
}
