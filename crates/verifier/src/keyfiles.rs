//! Key and certificate files for the request signing key: reading a private JWK and a PEM
//! chain, and generating a self-signed certificate for `x509_san_dns` / `x509_hash`
//! development use (`symbolon verifier gen-cert`, and `--mode=all` without configured
//! keys).

use std::path::Path;

use jose::{PrivateJwk, Signer, SoftwareSigner};
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
    #[error("{0} is not a private JWK (EC P-256/P-384 or Ed25519)")]
    NotPrivateJwk(String),
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
    Generate(String),
}

/// Reads a private JWK file into a signer (`kid` kept when present, else the RFC 7638
/// thumbprint).
pub fn read_signer(path: &Path) -> Result<SoftwareSigner, KeyFileError> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|source| KeyFileError::Read {
        path: path.display().to_string(),
        source,
    })?);
    let jwk = PrivateJwk::from_json(&bytes)
        .map_err(|_| KeyFileError::NotPrivateJwk(path.display().to_string()))?;
    let kid = jwk
        .public()
        .kid()
        .map(str::to_owned)
        .unwrap_or_else(|| jwk.public().thumbprint());
    SoftwareSigner::from_private_jwk(&jwk)
        .map(|s| s.with_kid(kid))
        .map_err(|_| KeyFileError::NotPrivateJwk(path.display().to_string()))
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

impl std::fmt::Debug for DevCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevCertificate").finish_non_exhaustive()
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        i32::try_from(y).unwrap_or(1970),
        u8::try_from(m).unwrap_or(1),
        u8::try_from(d).unwrap_or(1),
    )
}

/// A [`jose::Signer`] (software, PKCS#11 …) seen by rcgen as the certificate's key.
struct CertKey<'a> {
    signer: &'a dyn Signer,
    public: Vec<u8>,
    algorithm: &'static rcgen::SignatureAlgorithm,
}

impl rcgen::PublicKeyData for CertKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.algorithm
    }
}

impl rcgen::SigningKey for CertKey<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let sig = self
            .signer
            .sign(msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)?;
        match self.signer.algorithm() {
            // X.509 carries ECDSA signatures DER-encoded, JWS as r ‖ s.
            jose::Algorithm::Es256 | jose::Algorithm::Es384 => {
                ecdsa_der(&sig).ok_or(rcgen::Error::RemoteKeyError)
            }
            jose::Algorithm::Ed25519 => Ok(sig),
        }
    }
}

/// `r ‖ s` (equal halves) as a DER `Ecdsa-Sig-Value` (RFC 5480 §2.2 / RFC 3279).
fn ecdsa_der(rs: &[u8]) -> Option<Vec<u8>> {
    if rs.is_empty() || !rs.len().is_multiple_of(2) || rs.len() > 132 {
        return None;
    }
    let (r, s) = rs.split_at_checked(rs.len() / 2)?;
    let int = |v: &[u8]| {
        let v = match v.iter().position(|b| *b != 0) {
            Some(i) => v.get(i..).unwrap_or_default(),
            None => &[0u8][..],
        };
        let mut out = vec![0x02];
        let pad = v.first().is_some_and(|b| b & 0x80 != 0);
        let len = v.len() + usize::from(pad);
        out.push(u8::try_from(len).unwrap_or(0));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(v);
        out
    };
    let body: Vec<u8> = [int(r), int(s)].concat();
    let mut out = vec![0x30];
    if body.len() < 0x80 {
        out.push(u8::try_from(body.len()).ok()?);
    } else {
        out.push(0x81);
        out.push(u8::try_from(body.len()).ok()?);
    }
    out.extend_from_slice(&body);
    Some(out)
}

/// A self-signed certificate for the key of `signer` (a software key or one inside a
/// PKCS#11 token), with the `dNSName` SANs `dns`, valid from a day before `now` for
/// `days` days, key usage `digitalSignature`. Returns the DER and PEM forms.
pub fn self_signed_certificate(
    signer: &dyn Signer,
    dns: &[String],
    now: i64,
    days: u32,
) -> Result<(Vec<u8>, String), KeyFileError> {
    let fail = |e: &dyn std::fmt::Display| KeyFileError::Generate(e.to_string());
    let jwk = signer.public_jwk();
    let (public, algorithm) = match signer.algorithm() {
        jose::Algorithm::Es256 => (jwk.sec1_point(), &rcgen::PKCS_ECDSA_P256_SHA256),
        jose::Algorithm::Es384 => (jwk.sec1_point(), &rcgen::PKCS_ECDSA_P384_SHA384),
        jose::Algorithm::Ed25519 => (Some(jwk.raw_public_key()), &rcgen::PKCS_ED25519),
    };
    let key = CertKey {
        signer,
        public: public.ok_or_else(|| fail(&"the key has no public point"))?,
        algorithm,
    };
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = dns
        .iter()
        .map(|d| {
            rcgen::string::Ia5String::try_from(d.as_str())
                .map(rcgen::SanType::DnsName)
                .map_err(|e| fail(&e))
        })
        .collect::<Result<_, _>>()?;
    let mut name = rcgen::DistinguishedName::new();
    name.push(
        rcgen::DnType::CommonName,
        dns.first()
            .cloned()
            .unwrap_or_else(|| "symbolon verifier".into()),
    );
    name.push(rcgen::DnType::OrganizationName, "Symbolon development");
    params.distinguished_name = name;
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    let today = now.div_euclid(86_400);
    let (y, m, d) = civil_from_days(today - 1);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = civil_from_days(today + i64::from(days));
    params.not_after = rcgen::date_time_ymd(y, m, d);
    let cert = params.self_signed(&key).map_err(|e| fail(&e))?;
    Ok((cert.der().to_vec(), cert.pem()))
}

/// Generates an ES256 software key and a self-signed certificate for it (see
/// [`self_signed_certificate`]).
pub fn generate_self_signed(
    dns: &[String],
    now: i64,
    days: u32,
) -> Result<DevCertificate, KeyFileError> {
    let fail = |e: &dyn std::fmt::Display| KeyFileError::Generate(e.to_string());
    let generated = SoftwareSigner::generate(jose::Algorithm::Es256).map_err(|e| fail(&e))?;
    let kid = generated.public_jwk().thumbprint();
    let signer = generated.with_kid(kid.clone());
    let exported = signer.to_private_jwk().map_err(|e| fail(&e))?;
    let private_jwk = PrivateJwk::new(
        exported.public().clone().with_kid(kid),
        Zeroizing::new(exported.d().to_vec()),
    )
    .map_err(|e| fail(&e))?;
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
    use jose::TrustAnchors;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_833), (2027, 1, 15));
    }

    #[test]
    fn generated_certificate_validates_and_matches_the_key() {
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

    #[test]
    fn ecdsa_signatures_become_der() {
        // r with the high bit set gets a zero byte; leading zeros of s are dropped.
        let mut rs = vec![0x80u8; 32];
        rs.extend(std::iter::repeat_n(0u8, 31));
        rs.push(0x05);
        let der = ecdsa_der(&rs).unwrap();
        assert_eq!(&der[..5], &[0x30, 0x26, 0x02, 0x21, 0x00]);
        assert_eq!(&der[der.len() - 3..], &[0x02, 0x01, 0x05]);
        assert!(ecdsa_der(&[1, 2, 3]).is_none());
    }

    #[test]
    fn certificates_for_es384_and_ed25519_keys_validate() {
        let now = 1_800_000_000;
        for alg in [jose::Algorithm::Es384, jose::Algorithm::Ed25519] {
            let signer = SoftwareSigner::generate(alg).unwrap();
            let (der, _) = self_signed_certificate(&signer, &["v.example".into()], now, 5).unwrap();
            let anchors = TrustAnchors::from_der([der.clone()]).unwrap();
            let leaf = jose::x5c::validate_chain(&[der], &anchors, now).unwrap();
            assert!(leaf.public_jwk().same_key(signer.public_jwk()), "{alg:?}");
        }
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
