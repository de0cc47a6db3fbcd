//! The path walk: from the leaf, each certificate must be in its validity period, name its
//! issuer as the next certificate's subject and carry that issuer's signature, until a
//! certificate that is a trust anchor, or one issued by a trust anchor, is reached.

use super::sig::{self, OID_EC_PUBLIC_KEY, OID_ED25519, OID_P256, OID_P384};
use super::{LeafInfo, MAX_CHAIN_LEN, TrustAnchors, X5cError};
use crate::b64;
use crate::jwk::{Curve, JwkError, PublicJwk};
use aws_lc_rs::digest;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{BasicConstraints, GeneralName, KeyUsage, ParsedExtension};
use x509_parser::prelude::FromDer;

/// basicConstraints, keyUsage, subjectAltName, extKeyUsage.
const ACTED_ON: &[&str] = &["2.5.29.19", "2.5.29.15", "2.5.29.17", "2.5.29.37"];

/// A certificate with the extensions this validator acts on, all other critical
/// extensions having been refused.
pub(crate) struct Cert<'a> {
    pub(crate) x509: X509Certificate<'a>,
    basic: Option<BasicConstraints>,
    key_usage: Option<KeyUsage>,
    dns: Vec<String>,
    uris: Vec<String>,
}

/// Parses one DER certificate (nothing may follow it) and checks its extensions.
pub(crate) fn parse(der: &[u8], index: usize) -> Result<Cert<'_>, X5cError> {
    let (rest, x509) = X509Certificate::from_der(der).map_err(|_| X5cError::Malformed { index })?;
    if !rest.is_empty() {
        return Err(X5cError::Malformed { index });
    }
    // RFC 5280 §4.1.1.2: the outer algorithm MUST equal the signed `signature` field.
    if x509.signature_algorithm != x509.tbs_certificate.signature {
        return Err(X5cError::SignatureAlgorithmMismatch { index });
    }
    let mut basic = None;
    let mut key_usage = None;
    let mut dns = Vec::new();
    let mut uris = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for ext in x509.extensions() {
        let oid = ext.oid.to_id_string();
        if seen.contains(&oid) {
            return Err(X5cError::DuplicateExtension { index, oid });
        }
        match ext.parsed_extension() {
            ParsedExtension::BasicConstraints(bc) => basic = Some(bc.clone()),
            ParsedExtension::KeyUsage(ku) => key_usage = Some(*ku),
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(d) => dns.push((*d).to_owned()),
                        GeneralName::URI(u) => uris.push((*u).to_owned()),
                        GeneralName::Invalid(..) => {
                            return Err(X5cError::MalformedExtension { index, oid });
                        }
                        _ => {}
                    }
                }
            }
            // Recognised; no purpose restriction is applied to JOSE signing keys.
            ParsedExtension::ExtendedKeyUsage(_) => {}
            // An unparsable extension matters when it is critical or one acted on here;
            // otherwise it is ignored like any other unknown non-critical extension.
            ParsedExtension::ParseError { .. } if ext.critical || ACTED_ON.contains(&&*oid) => {
                return Err(X5cError::MalformedExtension { index, oid });
            }
            _ if ext.critical => {
                return Err(X5cError::UnknownCriticalExtension { index, oid });
            }
            _ => {}
        }
        seen.push(oid);
    }
    Ok(Cert {
        x509,
        basic,
        key_usage,
        dns,
        uris,
    })
}

fn check_validity(cert: &Cert<'_>, index: usize, now: i64) -> Result<(), X5cError> {
    let v = cert.x509.validity();
    let not_before = v.not_before.timestamp();
    let not_after = v.not_after.timestamp();
    if now < not_before {
        return Err(X5cError::NotYetValid {
            index,
            not_before,
            now,
        });
    }
    if now > not_after {
        return Err(X5cError::Expired {
            index,
            not_after,
            now,
        });
    }
    Ok(())
}

/// Checks that `issuer` (at `index`) may issue certificates to a path with
/// `intermediates_below` CA certificates between it and the leaf.
fn check_issuer(
    issuer: &Cert<'_>,
    index: usize,
    intermediates_below: usize,
) -> Result<(), X5cError> {
    let Some(bc) = issuer.basic.as_ref().filter(|bc| bc.ca) else {
        return Err(X5cError::NotCa { index });
    };
    if let Some(ku) = issuer.key_usage
        && !ku.key_cert_sign()
    {
        return Err(X5cError::MissingKeyCertSign { index });
    }
    if let Some(path_len) = bc.path_len_constraint
        && u64::try_from(intermediates_below).unwrap_or(u64::MAX) > u64::from(path_len)
    {
        return Err(X5cError::PathLenExceeded { index, path_len });
    }
    Ok(())
}

/// Signature, name chaining and CA checks of `cert` (at `index`) against `issuer` (at
/// `issuer_index`).
fn check_link(
    cert: &Cert<'_>,
    index: usize,
    issuer: &Cert<'_>,
    issuer_index: usize,
) -> Result<(), X5cError> {
    // Names are compared as encoded: RFC 5280 §7.1 also allows caseless matches of
    // differently encoded names, which CAs that issue consistent chains never need.
    if cert.x509.issuer().as_raw() != issuer.x509.subject().as_raw() {
        return Err(X5cError::IssuerMismatch { index });
    }
    sig::verify_signed_by(&cert.x509, issuer.x509.public_key(), index)?;
    // Every CA certificate between the leaf (index 0) and this issuer.
    check_issuer(issuer, issuer_index, issuer_index.saturating_sub(1))
}

fn leaf_key(cert: &Cert<'_>) -> Result<PublicJwk, X5cError> {
    let spki = cert.x509.public_key();
    let alg = spki.algorithm.algorithm.to_id_string();
    let key = &spki.subject_public_key.data;
    match alg.as_str() {
        OID_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|c| c.to_id_string());
            let curve = match curve.as_deref() {
                Some(OID_P256) => Curve::P256,
                Some(OID_P384) => Curve::P384,
                other => {
                    return Err(X5cError::UnsupportedLeafKey(format!(
                        "EC curve {}",
                        other.unwrap_or("(none)")
                    )));
                }
            };
            PublicJwk::from_ec_point(curve, key).map_err(X5cError::InvalidLeafKey)
        }
        OID_ED25519 => {
            let x: [u8; 32] = key
                .as_ref()
                .try_into()
                .map_err(|_| X5cError::InvalidLeafKey(JwkError::BadMember("x")))?;
            Ok(PublicJwk::from_ed25519(x))
        }
        other => Err(X5cError::UnsupportedLeafKey(format!(
            "key algorithm {other}"
        ))),
    }
}

pub(crate) fn validate(
    chain: &[Vec<u8>],
    anchors: &TrustAnchors,
    now: i64,
) -> Result<LeafInfo, X5cError> {
    if chain.is_empty() {
        return Err(X5cError::EmptyChain);
    }
    if chain.len() > MAX_CHAIN_LEN {
        return Err(X5cError::ChainTooLong {
            len: chain.len(),
            max: MAX_CHAIN_LEN,
        });
    }
    let certs = chain
        .iter()
        .enumerate()
        .map(|(i, der)| parse(der, i))
        .collect::<Result<Vec<_>, _>>()?;

    let mut trusted = false;
    for (i, (cert, der)) in certs.iter().zip(chain).enumerate() {
        check_validity(cert, i, now)?;
        if anchors.contains(der) {
            trusted = true;
            break;
        }
        if let Some(issuer) = certs.get(i + 1) {
            check_link(cert, i, issuer, i + 1)?;
            continue;
        }
        // The last certificate is not an anchor: an anchor must have issued it.
        let anchor_index = chain.len();
        let mut candidate_error = None;
        for anchor_der in anchors.issuers_of(cert.x509.issuer().as_raw()) {
            let anchor = parse(anchor_der, anchor_index)?;
            match check_link(cert, i, &anchor, anchor_index) {
                Ok(()) => {
                    check_validity(&anchor, anchor_index, now)?;
                    trusted = true;
                    break;
                }
                Err(e) => candidate_error = Some(e),
            }
        }
        if !trusted {
            return Err(candidate_error.unwrap_or(X5cError::UntrustedChain));
        }
    }
    if !trusted {
        return Err(X5cError::UntrustedChain);
    }

    let leaf = certs.first().ok_or(X5cError::EmptyChain)?;
    if let Some(ku) = leaf.key_usage
        && !ku.digital_signature()
    {
        return Err(X5cError::LeafMissingDigitalSignature);
    }
    let der = chain.first().ok_or(X5cError::EmptyChain)?;
    Ok(LeafInfo {
        public_key: leaf_key(leaf)?,
        dns_sans: leaf.dns.clone(),
        uri_sans: leaf.uris.clone(),
        subject: leaf.x509.subject().to_string(),
        x509_hash: b64::encode(digest::digest(&digest::SHA256, der)),
        der: der.clone(),
    })
}
