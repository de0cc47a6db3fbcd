//! The attribute policy a private key must meet before it is used, and the decoding of its
//! public half.
//!
//! A key is refused unless it is a token object, private, sensitive, never was extractable
//! or non-sensitive (`CKA_ALWAYS_SENSITIVE`, `CKA_NEVER_EXTRACTABLE`: a key that once could
//! leave the token may have left it), can sign, and cannot decrypt, unwrap or derive (each
//! of those would let the token act as an oracle with the same key). Every attribute is
//! first probed with `C_GetAttributeValue` without a buffer (cryptoki's
//! `get_attribute_info`), because reading values in bulk silently leaves out attributes
//! the token will not report; an attribute that cannot be read means the key cannot be
//! checked, which is an error of its own.

use super::error::{Pkcs11Error, call};
use cryptoki::object::{Attribute, AttributeInfo, AttributeType, KeyType, ObjectHandle};
use cryptoki::session::Session;
use jose::{Curve, PublicJwk};

/// DER of the P-256 OID (1.2.840.10045.3.1.7), the value of `CKA_EC_PARAMS`.
pub(crate) const P256_PARAMS: [u8; 10] =
    [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// Required boolean attributes of a private signing key and the value each must have.
pub(crate) const PRIVATE_KEY_POLICY: [(AttributeType, &str, bool); 10] = [
    (AttributeType::Token, "CKA_TOKEN", true),
    (AttributeType::Private, "CKA_PRIVATE", true),
    (AttributeType::Sensitive, "CKA_SENSITIVE", true),
    (AttributeType::Extractable, "CKA_EXTRACTABLE", false),
    (AttributeType::AlwaysSensitive, "CKA_ALWAYS_SENSITIVE", true),
    (
        AttributeType::NeverExtractable,
        "CKA_NEVER_EXTRACTABLE",
        true,
    ),
    (AttributeType::Sign, "CKA_SIGN", true),
    (AttributeType::Decrypt, "CKA_DECRYPT", false),
    (AttributeType::Unwrap, "CKA_UNWRAP", false),
    (AttributeType::Derive, "CKA_DERIVE", false),
];

fn bool_value(attr: &Attribute) -> Option<bool> {
    match attr {
        Attribute::Token(b)
        | Attribute::Private(b)
        | Attribute::Sensitive(b)
        | Attribute::Extractable(b)
        | Attribute::AlwaysSensitive(b)
        | Attribute::NeverExtractable(b)
        | Attribute::Sign(b)
        | Attribute::Decrypt(b)
        | Attribute::Unwrap(b)
        | Attribute::Derive(b) => Some(*b),
        _ => None,
    }
}

/// Makes sure every attribute in `wanted` can be read, naming the first that cannot.
fn probe(
    session: &Session,
    key: ObjectHandle,
    label: &str,
    wanted: &[(AttributeType, &'static str)],
) -> Result<(), Pkcs11Error> {
    let types: Vec<AttributeType> = wanted.iter().map(|(t, _)| *t).collect();
    let infos = session
        .get_attribute_info(key, &types)
        .map_err(call("C_GetAttributeValue"))?;
    for ((_, name), info) in wanted.iter().zip(infos) {
        let reason = match info {
            AttributeInfo::Available(_) => continue,
            AttributeInfo::Sensitive => "sensitive",
            AttributeInfo::TypeInvalid => "not defined for this object",
            AttributeInfo::Unavailable => "unavailable",
        };
        return Err(Pkcs11Error::AttributeUnreadable {
            label: label.to_owned(),
            attribute: name,
            reason,
        });
    }
    Ok(())
}

/// Checks the private key against [`PRIVATE_KEY_POLICY`], its type (EC) and curve (P-256).
pub(crate) fn check_private_key(
    session: &Session,
    key: ObjectHandle,
    label: &str,
) -> Result<(), Pkcs11Error> {
    let mut wanted: Vec<(AttributeType, &'static str)> = PRIVATE_KEY_POLICY
        .iter()
        .map(|(t, n, _)| (*t, *n))
        .collect();
    wanted.push((AttributeType::KeyType, "CKA_KEY_TYPE"));
    wanted.push((AttributeType::EcParams, "CKA_EC_PARAMS"));
    probe(session, key, label, &wanted)?;
    let types: Vec<AttributeType> = wanted.iter().map(|(t, _)| *t).collect();
    let values = session
        .get_attributes(key, &types)
        .map_err(call("C_GetAttributeValue"))?;
    let find = |t: AttributeType| values.iter().find(|a| a.attribute_type() == t);
    let unreadable = |attribute: &'static str| Pkcs11Error::AttributeUnreadable {
        label: label.to_owned(),
        attribute,
        reason: "unavailable",
    };
    match find(AttributeType::KeyType) {
        Some(Attribute::KeyType(k)) if *k == KeyType::EC => {}
        Some(_) => {
            return Err(Pkcs11Error::UnsupportedKeyType {
                label: label.to_owned(),
            });
        }
        None => return Err(unreadable("CKA_KEY_TYPE")),
    }
    match find(AttributeType::EcParams) {
        Some(Attribute::EcParams(p)) if p.as_slice() == P256_PARAMS => {}
        Some(_) => {
            return Err(Pkcs11Error::UnsupportedCurve {
                label: label.to_owned(),
            });
        }
        None => return Err(unreadable("CKA_EC_PARAMS")),
    }
    for (t, name, expected) in PRIVATE_KEY_POLICY {
        let found = find(t)
            .and_then(bool_value)
            .ok_or_else(|| unreadable(name))?;
        if found != expected {
            return Err(Pkcs11Error::KeyPolicy {
                label: label.to_owned(),
                attribute: name,
                found,
            });
        }
    }
    Ok(())
}

/// Reads the public key object's point as a P-256 JWK (without `kid`).
pub(crate) fn read_public_key(
    session: &Session,
    key: ObjectHandle,
    label: &str,
) -> Result<PublicJwk, Pkcs11Error> {
    let wanted = [
        (AttributeType::KeyType, "CKA_KEY_TYPE"),
        (AttributeType::EcParams, "CKA_EC_PARAMS"),
        (AttributeType::EcPoint, "CKA_EC_POINT"),
    ];
    probe(session, key, label, &wanted)?;
    let values = session
        .get_attributes(key, &wanted.map(|(t, _)| t))
        .map_err(call("C_GetAttributeValue"))?;
    let mut key_type = None;
    let mut params = None;
    let mut point = None;
    for v in &values {
        match v {
            Attribute::KeyType(k) => key_type = Some(*k),
            Attribute::EcParams(p) => params = Some(p.as_slice()),
            Attribute::EcPoint(p) => point = Some(p.as_slice()),
            _ => {}
        }
    }
    if key_type != Some(KeyType::EC) {
        return Err(Pkcs11Error::UnsupportedKeyType {
            label: label.to_owned(),
        });
    }
    if params != Some(P256_PARAMS.as_slice()) {
        return Err(Pkcs11Error::UnsupportedCurve {
            label: label.to_owned(),
        });
    }
    let bad = || Pkcs11Error::BadEcPoint {
        label: label.to_owned(),
    };
    let sec1 = point.and_then(unwrap_ec_point).ok_or_else(bad)?;
    PublicJwk::from_ec_point(Curve::P256, sec1).map_err(|_| bad())
}

/// `CKA_EC_POINT` is a DER OCTET STRING around the uncompressed SEC1 point
/// (`04 41 04‖X‖Y` for P-256). Some tokens return the bare point; both are accepted, told
/// apart by length. Anything else is refused.
pub(crate) fn unwrap_ec_point(value: &[u8]) -> Option<&[u8]> {
    const POINT_LEN: usize = 65;
    match value {
        [0x04, 0x41, rest @ ..] if rest.len() == POINT_LEN && rest.first() == Some(&0x04) => {
            Some(rest)
        }
        [0x04, ..] if value.len() == POINT_LEN => Some(value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_point_accepts_der_octet_string_and_bare_point() {
        let mut point = vec![0x04];
        point.extend_from_slice(&[7u8; 64]);
        let mut der = vec![0x04, 0x41];
        der.extend_from_slice(&point);
        assert_eq!(unwrap_ec_point(&der), Some(point.as_slice()));
        assert_eq!(unwrap_ec_point(&point), Some(point.as_slice()));
    }

    #[test]
    fn rejects_malformed_ec_points() {
        let mut point = vec![0x04];
        point.extend_from_slice(&[7u8; 64]);
        // Compressed point inside the wrapper.
        let mut compressed = vec![0x04, 0x21, 0x02];
        compressed.extend_from_slice(&[7u8; 32]);
        assert_eq!(unwrap_ec_point(&compressed), None);
        // Wrapper with a trailing byte.
        let mut long = vec![0x04, 0x41];
        long.extend_from_slice(&point);
        long.push(0);
        assert_eq!(unwrap_ec_point(&long), None);
        // Long-form length.
        let mut long_form = vec![0x04, 0x81, 0x41];
        long_form.extend_from_slice(&point);
        assert_eq!(unwrap_ec_point(&long_form), None);
        assert_eq!(unwrap_ec_point(&[]), None);
        assert_eq!(unwrap_ec_point(&point[..64]), None);
    }
}
