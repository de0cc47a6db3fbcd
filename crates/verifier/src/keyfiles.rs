//! Key and certificate files for the request signing key: reading a private JWK and a PEM
//! chain, and generating a self-signed certificate for `x509_san_dns` / `x509_hash`
//! development use (`symbolon verifier gen-cert`, and `--mode=all` without configured
//! keys). Generating certificates needs the `demo` feature (on by default, and in the
//! binary): it links rcgen, which a verifier reading its configured certificate does not
//! need.

use std::path::Path;

#[cfg(feature = "demo")]
use jose::Signer;
use jose::{PrivateJwk, SoftwareSigner};
use zeroize::Zeroizing;

/// A key or certificate file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not a private JWK of a supported key.
    #[error("{path} is not a private JWK (EC P-256/P-384 or Ed25519)")]
    NotPrivateJwk {
        /// The file.
        path: String,
        /// Why it was refused.
        source: jose::JwkError,
    },
    /// No `CERTIFICATE` block, or bad base64.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Certificate generation failed.
    #[error("cannot generate the certificate: {0}")]
    Generate(#[from] GenerateError),
}

/// Which step of generating a development key and certificate failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Generating or exporting the key.
    #[error(transparent)]
    Key(#[from] jose::SignError),
    /// Building its private JWK.
    #[error(transparent)]
    Jwk(#[from] jose::JwkError),
    /// Building or signing the certificate.
    #[error(transparent)]
    Certificate(#[from] keys::x509::CertificateError),
}

/// Reads a private JWK file into a signer (`kid` kept when present, else the RFC 7638
/// thumbprint).
pub fn read_signer(path: &Path) -> Result<SoftwareSigner, KeyFileError> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|source| KeyFileError::Read {
        path: path.display().to_string(),
        source,
    })?);
    let not_private = |source| KeyFileError::NotPrivateJwk {
        path: path.display().to_string(),
        source,
    };
    let jwk = PrivateJwk::from_json(&bytes).map_err(not_private)?;
    let kid = jwk
        .public()
        .kid()
        .map(str::to_owned)
        .unwrap_or_else(|| jwk.public().thumbprint());
    SoftwareSigner::from_private_jwk(&jwk)
        .map(|s| s.with_kid(kid))
        .map_err(not_private)
}

/// The DER certificates of every `CERTIFICATE` block in `pem`, in order ([`jose::pem`]).
pub fn pem_certificates(pem: &str) -> Option<Vec<Vec<u8>>> {
    jose::pem::certificates(pem).ok()
}

/// Reads a PEM certificate chain, leaf first.
pub fn read_chain(path: &Path) -> Result<Vec<Vec<u8>>, KeyFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyFileError::Read {
        path: path.display().to_string(),
        source,
    })?;
    pem_certificates(&text).ok_or(KeyFileError::Pem {
        path: path.display().to_string(),
        reason: "no valid CERTIFICATE block",
    })
}

/// A generated key and self-signed certificate.
#[cfg(feature = "demo")]
pub struct DevCertificate {
    /// The signing key.
    pub signer: SoftwareSigner,
    /// The private key as a JWK (for writing a key file).
    pub private_jwk: PrivateJwk,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// The certificate, PEM.
    pub pem: String,
}

#[cfg(feature = "demo")]
impl std::fmt::Debug for DevCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevCertificate").finish_non_exhaustive()
    }
}

/// A self-signed certificate for the key of `signer` (a software key or one inside a
/// PKCS#11 token), with the `dNSName` SANs `dns`, valid from a day before `now` for
/// `days` days, key usage `digitalSignature` ([`keys::x509::self_signed`]). Returns the
/// DER and PEM forms.
#[cfg(feature = "demo")]
pub fn self_signed_certificate(
    signer: &dyn Signer,
    dns: &[String],
    now: i64,
    days: u32,
) -> Result<(Vec<u8>, String), KeyFileError> {
    let subject = keys::x509::Subject {
        common_name: dns
            .first()
            .cloned()
            .unwrap_or_else(|| "symbolon verifier".into()),
        organization: Some("Symbolon development".into()),
        dns: dns.to_vec(),
    };
    keys::x509::self_signed(signer, &subject, now, days).map_err(|e| GenerateError::from(e).into())
}

/// Generates an ES256 software key and a self-signed certificate for it (see
/// [`self_signed_certificate`]).
#[cfg(feature = "demo")]
pub fn generate_self_signed(
    dns: &[String],
    now: i64,
    days: u32,
) -> Result<DevCertificate, KeyFileError> {
    let generated =
        SoftwareSigner::generate(jose::Algorithm::Es256).map_err(GenerateError::from)?;
    let kid = generated.public_jwk().thumbprint();
    let signer = generated.with_kid(kid.clone());
    let exported = signer.to_private_jwk().map_err(GenerateError::from)?;
    let private_jwk = PrivateJwk::new(
        exported.public().clone().with_kid(kid),
        Zeroizing::new(exported.d().to_vec()),
    )
    .map_err(GenerateError::from)?;
    let (der, pem) = self_signed_certificate(&signer, dns, now, days)?;
    Ok(DevCertificate {
        signer,
        private_jwk,
        der,
        pem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "demo")]
    #[test]
    fn generated_certificate_validates_and_matches_the_key() {
        use jose::TrustAnchors;
        let now = 1_800_000_000;
        let c = generate_self_signed(&["verifier.example".into()], now, 30).unwrap();
        let anchors = TrustAnchors::from_der([c.der.clone()]).unwrap();
        let leaf = jose::x5c::validate_chain(std::slice::from_ref(&c.der), &anchors, now).unwrap();
        assert!(leaf.public_jwk().same_key(c.signer.public_jwk()));
        assert_eq!(leaf.dns_sans(), ["verifier.example"]);
        assert!(
            jose::x5c::validate_chain(std::slice::from_ref(&c.der), &anchors, now + 40 * 86_400)
                .is_err()
        );
        assert_eq!(pem_certificates(&c.pem).unwrap(), vec![c.der]);
    }

    #[cfg(feature = "demo")]
    #[test]
    fn certificates_for_es384_and_ed25519_keys_validate() {
        use jose::TrustAnchors;
        let now = 1_800_000_000;
        for alg in [jose::Algorithm::Es384, jose::Algorithm::Ed25519] {
            let signer = SoftwareSigner::generate(alg).unwrap();
            let (der, _) = self_signed_certificate(&signer, &["v.example".into()], now, 5).unwrap();
            let anchors = TrustAnchors::from_der([der.clone()]).unwrap();
            let leaf = jose::x5c::validate_chain(&[der], &anchors, now).unwrap();
            assert!(leaf.public_jwk().same_key(signer.public_jwk()), "{alg:?}");
        }
    }

    /// A key file that is not a private JWK keeps the JWK error as its source, and the
    /// message still names the file.
    #[test]
    fn issue11_rejects_a_public_jwk_as_key_file_with_the_jwk_error_as_source() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.jwk");
        let public = SoftwareSigner::generate(jose::Algorithm::Es256).unwrap();
        std::fs::write(&path, public.public_jwk().to_value().to_string()).unwrap();
        let e = read_signer(&path).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{} is not a private JWK (EC P-256/P-384 or Ed25519)",
                path.display()
            )
        );
        let source = std::error::Error::source(&e).unwrap();
        assert!(
            source.downcast_ref::<jose::JwkError>().is_some(),
            "{source}"
        );
    }

    #[test]
    fn rejects_pem_without_certificates() {
        assert!(pem_certificates("hello").is_none());
        assert!(
            pem_certificates("-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----")
                .is_none()
        );
    }
}
