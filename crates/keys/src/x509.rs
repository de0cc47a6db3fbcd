//! X.509 for a key wherever it lives (PKCS#11 token or software), signed by that key
//! itself: a self-signed certificate a peer can take as its trust anchor (the attester's
//! A-Key for issuers, a verifier's request-signing key for wallets), or a PKCS#10
//! certificate signing request for the operator's CA.
//!
//! rcgen builds the structures; the signature comes from [`jose::Signer`], which is how a
//! key that never leaves its token signs a certificate or request. (Feature `x509`.)

use jose::{Algorithm, Signer};

/// Why a certificate or request could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// The subject is unusable (empty common name, a name that is not a DNS name).
    #[error("certificate subject: {0}")]
    Subject(String),
    /// The key's public key cannot be put into a certificate.
    #[error("the key has no usable public point")]
    PublicKey,
    /// Building or signing the certificate or request failed (a PKCS#11 signing error
    /// included).
    #[error("cannot build the certificate: {0}")]
    Build(#[from] rcgen::Error),
}

/// Who the certificate names.
#[derive(Clone, Debug)]
pub struct Subject {
    /// The subject's common name.
    pub common_name: String,
    /// Optional organization.
    pub organization: Option<String>,
    /// `dNSName` subject alternative names (may be empty).
    pub dns: Vec<String>,
}

/// A [`jose::Signer`] as rcgen sees the certificate's key.
struct CertKey<'a> {
    signer: &'a dyn Signer,
    public: Vec<u8>,
    algorithm: &'static rcgen::SignatureAlgorithm,
}

impl<'a> CertKey<'a> {
    fn new(signer: &'a dyn Signer) -> Result<Self, CertificateError> {
        let jwk = signer.public_jwk();
        let (public, algorithm) = match signer.algorithm() {
            Algorithm::Es256 => (jwk.sec1_point(), &rcgen::PKCS_ECDSA_P256_SHA256),
            Algorithm::Es384 => (jwk.sec1_point(), &rcgen::PKCS_ECDSA_P384_SHA384),
            Algorithm::Ed25519 => (Some(jwk.raw_public_key()), &rcgen::PKCS_ED25519),
        };
        Ok(CertKey {
            signer,
            public: public.ok_or(CertificateError::PublicKey)?,
            algorithm,
        })
    }
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
            Algorithm::Es256 | Algorithm::Es384 => {
                ecdsa_der(&sig).ok_or(rcgen::Error::RemoteKeyError)
            }
            Algorithm::Ed25519 => Ok(sig),
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
        out.push(u8::try_from(v.len() + usize::from(pad)).unwrap_or(0));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(v);
        out
    };
    let body: Vec<u8> = [int(r), int(s)].concat();
    let mut out = vec![0x30];
    if body.len() >= 0x80 {
        out.push(0x81);
    }
    out.push(u8::try_from(body.len()).ok()?);
    out.extend_from_slice(&body);
    Some(out)
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

fn params(subject: &Subject) -> Result<rcgen::CertificateParams, CertificateError> {
    if subject.common_name.trim().is_empty() {
        return Err(CertificateError::Subject("the common name is empty".into()));
    }
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = subject
        .dns
        .iter()
        .map(|d| {
            if !jose::x5c::is_dns_name(d) {
                return Err(CertificateError::Subject(format!(
                    "`{d}` is not a DNS name"
                )));
            }
            rcgen::string::Ia5String::try_from(d.as_str())
                .map(rcgen::SanType::DnsName)
                .map_err(|_| CertificateError::Subject(format!("`{d}` is not a DNS name")))
        })
        .collect::<Result<_, _>>()?;
    let mut name = rcgen::DistinguishedName::new();
    name.push(rcgen::DnType::CommonName, subject.common_name.clone());
    if let Some(o) = &subject.organization {
        name.push(rcgen::DnType::OrganizationName, o.clone());
    }
    params.distinguished_name = name;
    // The keys certified here sign JWTs and nothing else.
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    Ok(params)
}

/// A self-signed certificate for the key of `signer`, valid from a day before `now` for
/// `days` days, key usage `digitalSignature`: peers put it in their trust anchors. Returns
/// DER and PEM.
pub fn self_signed(
    signer: &dyn Signer,
    subject: &Subject,
    now: i64,
    days: u32,
) -> Result<(Vec<u8>, String), CertificateError> {
    let key = CertKey::new(signer)?;
    let mut params = params(subject)?;
    let today = now.div_euclid(86_400);
    let (y, m, d) = civil_from_days(today - 1);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = civil_from_days(today + i64::from(days));
    params.not_after = rcgen::date_time_ymd(y, m, d);
    let cert = params.self_signed(&key)?;
    Ok((cert.der().to_vec(), cert.pem()))
}

/// A PKCS#10 certificate signing request for the key of `signer`, signed by it (proof of
/// possession), as PEM: the operator's CA returns the chain.
pub fn signing_request(signer: &dyn Signer, subject: &Subject) -> Result<String, CertificateError> {
    let key = CertKey::new(signer)?;
    Ok(params(subject)?.serialize_request(&key)?.pem()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jose::SoftwareSigner;

    fn subject() -> Subject {
        Subject {
            common_name: "Symbolon attester".into(),
            organization: Some("Example".into()),
            dns: vec!["attester.example".into()],
        }
    }

    #[test]
    fn self_signed_certificate_anchors_its_own_key() {
        let signer = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let now = 1_800_000_000;
        let (der, pem) = self_signed(&signer, &subject(), now, 30).unwrap();
        let anchors = jose::TrustAnchors::from_pem(&pem).unwrap();
        let leaf = jose::x5c::validate_chain(std::slice::from_ref(&der), &anchors, now).unwrap();
        assert!(leaf.public_jwk().same_key(signer.public_jwk()));
        assert_eq!(leaf.dns_sans(), ["attester.example"]);
        assert!(
            jose::x5c::validate_chain(std::slice::from_ref(&der), &anchors, now + 40 * 86_400)
                .is_err(),
            "expired after `days`"
        );
    }

    #[test]
    fn rejects_an_empty_common_name_and_a_bad_dns_name() {
        let signer = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let mut s = subject();
        s.common_name = " ".into();
        assert!(matches!(
            signing_request(&signer, &s),
            Err(CertificateError::Subject(_))
        ));
        let mut s = subject();
        s.dns = vec!["not a name".into()];
        assert!(matches!(
            self_signed(&signer, &s, 0, 1),
            Err(CertificateError::Subject(_))
        ));
    }

    /// The request names the key and is signed by it (proof of possession).
    #[test]
    fn signing_request_is_signed_by_the_key() {
        use x509_parser::prelude::FromDer;
        let signer = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let pem = signing_request(&signer, &subject()).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = jose::b64::decode_std(body.as_bytes()).unwrap();
        let (rest, csr) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&der).unwrap();
        assert!(rest.is_empty());
        let info = &csr.certification_request_info;
        assert_eq!(
            info.subject_pki.subject_public_key.data.as_ref(),
            signer.public_jwk().raw_public_key().as_slice()
        );
        aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
            signer.public_jwk().raw_public_key(),
        )
        .verify(info.raw, csr.signature_value.data.as_ref())
        .unwrap();
        assert!(info.subject.to_string().contains("Symbolon attester"));
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_833), (2027, 1, 15));
    }

    #[test]
    fn ecdsa_signatures_become_der() {
        let mut rs = vec![0x80u8; 32];
        rs.extend(std::iter::repeat_n(0u8, 31));
        rs.push(0x05);
        let der = ecdsa_der(&rs).unwrap();
        assert_eq!(&der[..5], &[0x30, 0x26, 0x02, 0x21, 0x00]);
        assert_eq!(&der[der.len() - 3..], &[0x02, 0x01, 0x05]);
        assert!(ecdsa_der(&[1, 2, 3]).is_none());
    }
}
