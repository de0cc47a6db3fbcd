//! Certificate signature checks on aws-lc-rs: which `(signatureAlgorithm, issuer key)`
//! pairs are accepted, with the parameter encodings RFC 5758, RFC 8410 and RFC 4055 require.

use super::X5cError;
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::asn1_rs::{Any, Tag};
use x509_parser::certificate::X509Certificate;
use x509_parser::signature_algorithm::RsaSsaPssParams;
use x509_parser::x509::SubjectPublicKeyInfo;

pub(crate) const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
pub(crate) const OID_P256: &str = "1.2.840.10045.3.1.7";
pub(crate) const OID_P384: &str = "1.3.132.0.34";
pub(crate) const OID_ED25519: &str = "1.3.101.112";
const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_RSASSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_MGF1: &str = "1.2.840.113549.1.1.8";
const OID_SHA256: &str = "2.16.840.1.101.3.4.2.1";
const OID_SHA384: &str = "2.16.840.1.101.3.4.2.2";
const OID_SHA512: &str = "2.16.840.1.101.3.4.2.3";
const OID_SHA256_RSA: &str = "1.2.840.113549.1.1.11";
const OID_SHA384_RSA: &str = "1.2.840.113549.1.1.12";
const OID_SHA512_RSA: &str = "1.2.840.113549.1.1.13";
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";

/// What an issuer's SubjectPublicKeyInfo holds, as far as signature checks care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyKind {
    P256,
    P384,
    Ed25519,
    Rsa,
    Other,
}

fn is_null_or_absent(p: Option<&Any<'_>>) -> bool {
    p.is_none_or(|p| p.tag() == Tag::Null && p.data.is_empty())
}

fn key_kind(spki: &SubjectPublicKeyInfo<'_>) -> KeyKind {
    let params = spki.algorithm.parameters.as_ref();
    match spki.algorithm.algorithm.to_id_string().as_str() {
        OID_EC_PUBLIC_KEY => match params.and_then(|p| p.as_oid().ok()) {
            Some(c) if c.to_id_string() == OID_P256 => KeyKind::P256,
            Some(c) if c.to_id_string() == OID_P384 => KeyKind::P384,
            _ => KeyKind::Other,
        },
        OID_ED25519 if params.is_none() => KeyKind::Ed25519,
        OID_RSA_ENCRYPTION if is_null_or_absent(params) => KeyKind::Rsa,
        _ => KeyKind::Other,
    }
}

/// The one hash a PSS parameter set may name, with MGF1 over the same hash and a salt as
/// long as the digest (the only PSS form aws-lc verifies, and the one RFC 8017 recommends).
fn pss_algorithm(params: Option<&Any<'_>>) -> Option<&'static signature::RsaParameters> {
    let params = RsaSsaPssParams::try_from(params?).ok()?;
    let hash = params.hash_algorithm()?;
    if !is_null_or_absent(hash.parameters.as_ref()) {
        return None;
    }
    let hash = hash.algorithm.to_id_string();
    let (alg, salt): (&'static signature::RsaParameters, u32) = match hash.as_str() {
        OID_SHA256 => (&signature::RSA_PSS_2048_8192_SHA256, 32),
        OID_SHA384 => (&signature::RSA_PSS_2048_8192_SHA384, 48),
        OID_SHA512 => (&signature::RSA_PSS_2048_8192_SHA512, 64),
        _ => return None,
    };
    // An absent maskGenAlgorithm means MGF1 with SHA-1, which the checks below refuse.
    let mgf = params.mask_gen_algorithm().ok()?;
    if mgf.mgf.to_id_string() != OID_MGF1 || mgf.hash.to_id_string() != hash {
        return None;
    }
    (params.salt_length() == salt && params.trailer_field() == 1).then_some(alg)
}

/// Checks that `cert` is signed by the key in `issuer`. `index` is reported in errors.
pub(crate) fn verify_signed_by(
    cert: &X509Certificate<'_>,
    issuer: &SubjectPublicKeyInfo<'_>,
    index: usize,
) -> Result<(), X5cError> {
    let alg = &cert.signature_algorithm;
    let oid = alg.algorithm.to_id_string();
    let params = alg.parameters.as_ref();
    let kind = key_kind(issuer);
    let malformed = X5cError::MalformedSignatureAlgorithm { index };
    let verifier: &'static dyn VerificationAlgorithm = match oid.as_str() {
        OID_ECDSA_SHA256 | OID_ECDSA_SHA384 => {
            // RFC 5758 §3.2: the parameters field MUST be absent.
            if params.is_some() {
                return Err(malformed);
            }
            match (oid.as_str(), kind) {
                (OID_ECDSA_SHA256, KeyKind::P256) => &signature::ECDSA_P256_SHA256_ASN1,
                (OID_ECDSA_SHA256, KeyKind::P384) => &signature::ECDSA_P384_SHA256_ASN1,
                (OID_ECDSA_SHA384, KeyKind::P256) => &signature::ECDSA_P256_SHA384_ASN1,
                (OID_ECDSA_SHA384, KeyKind::P384) => &signature::ECDSA_P384_SHA384_ASN1,
                _ => return Err(X5cError::IssuerKeyMismatch { index }),
            }
        }
        OID_ED25519 => {
            // RFC 8410 §6: parameters MUST be absent.
            if params.is_some() {
                return Err(malformed);
            }
            if kind != KeyKind::Ed25519 {
                return Err(X5cError::IssuerKeyMismatch { index });
            }
            &signature::ED25519
        }
        OID_SHA256_RSA | OID_SHA384_RSA | OID_SHA512_RSA => {
            // RFC 4055 §5: NULL; absent parameters are tolerated as most verifiers do.
            if !is_null_or_absent(params) {
                return Err(malformed);
            }
            if kind != KeyKind::Rsa {
                return Err(X5cError::IssuerKeyMismatch { index });
            }
            match oid.as_str() {
                OID_SHA256_RSA => &signature::RSA_PKCS1_2048_8192_SHA256,
                OID_SHA384_RSA => &signature::RSA_PKCS1_2048_8192_SHA384,
                _ => &signature::RSA_PKCS1_2048_8192_SHA512,
            }
        }
        OID_RSASSA_PSS => {
            let pss = pss_algorithm(params).ok_or(malformed)?;
            if kind != KeyKind::Rsa {
                return Err(X5cError::IssuerKeyMismatch { index });
            }
            pss
        }
        _ => return Err(X5cError::UnsupportedSignatureAlgorithm { index, oid }),
    };
    let sig = &cert.signature_value;
    if sig.unused_bits != 0 {
        return Err(X5cError::InvalidSignature { index });
    }
    UnparsedPublicKey::new(verifier, &issuer.subject_public_key.data)
        .verify(cert.tbs_certificate.as_ref(), &sig.data)
        .map_err(|_| X5cError::InvalidSignature { index })
}
