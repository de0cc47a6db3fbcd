//! `x5c` chain validation against real chains built with rcgen (root → intermediate →
//! leaf), and JWS verification with the leaf key. Each `rejects_*` test breaks one rule.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use jose::x5c::{self, MAX_CHAIN_LEN};
use jose::{
    Algorithm, CompactJws, Curve, Error, HeaderBuilder, JwsPolicy, PrivateJwk, PublicJwk,
    SoftwareSigner, TrustAnchors, X5cError, b64,
};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SignatureAlgorithm, date_time_ymd,
};
use zeroize::Zeroizing;

/// 2026-06-01T00:00:00Z: inside every default validity period below.
const NOW: i64 = 1_780_272_000;

struct Node {
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
}

fn base_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.not_before = date_time_ymd(2025, 1, 1);
    p.not_after = date_time_ymd(2030, 1, 1);
    p
}

fn ca_params(cn: &str, path_len: Option<u8>) -> CertificateParams {
    let mut p = base_params(cn);
    p.is_ca = IsCa::Ca(path_len.map_or(
        BasicConstraints::Unconstrained,
        BasicConstraints::Constrained,
    ));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p
}

fn leaf_params(dns: &str) -> CertificateParams {
    let mut p = base_params("verifier");
    p.subject_alt_names = vec![
        SanType::DnsName(dns.try_into().unwrap()),
        SanType::URI("https://verifier.example.org/cb".try_into().unwrap()),
    ];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p
}

fn self_signed(params: CertificateParams, alg: &'static SignatureAlgorithm) -> Node {
    let key = KeyPair::generate_for(alg).unwrap();
    let der = params.self_signed(&key).unwrap().der().to_vec();
    Node { params, key, der }
}

fn issued(params: CertificateParams, alg: &'static SignatureAlgorithm, by: &Node) -> Node {
    let key = KeyPair::generate_for(alg).unwrap();
    let issuer = Issuer::from_params(&by.params, &by.key);
    let der = params.signed_by(&key, &issuer).unwrap().der().to_vec();
    Node { params, key, der }
}

/// root (P-256) → intermediate (P-256) → leaf (P-256), default parameters.
fn pki() -> (Node, Node, Node) {
    let root = self_signed(ca_params("Test Root", None), &rcgen::PKCS_ECDSA_P256_SHA256);
    let inter = issued(
        ca_params("Test Intermediate", Some(0)),
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &root,
    );
    let leaf = issued(
        leaf_params("verifier.example.org"),
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &inter,
    );
    (root, inter, leaf)
}

fn anchors(nodes: &[&Node]) -> TrustAnchors {
    TrustAnchors::from_der(nodes.iter().map(|n| n.der.clone())).unwrap()
}

fn chain(nodes: &[&Node]) -> Vec<Vec<u8>> {
    nodes.iter().map(|n| n.der.clone()).collect()
}

/// A JOSE signer holding the same key as an rcgen key pair.
fn signer_for(key: &KeyPair) -> SoftwareSigner {
    let pkcs8 = key.serialize_der();
    let jwk = if let Ok(kp) = EcdsaKeyPair::from_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &pkcs8,
    ) {
        let d = kp.private_key().as_be_bytes().unwrap();
        let public = PublicJwk::from_ec_point(Curve::P256, kp.public_key().as_ref()).unwrap();
        PrivateJwk::new(public, Zeroizing::new(d.as_ref().to_vec())).unwrap()
    } else {
        let kp = Ed25519KeyPair::from_pkcs8(&pkcs8).unwrap();
        let seed = kp.seed().unwrap().as_be_bytes().unwrap();
        let public = PublicJwk::from_ed25519(kp.public_key().as_ref().try_into().unwrap());
        PrivateJwk::new(public, Zeroizing::new(seed.as_ref().to_vec())).unwrap()
    };
    SoftwareSigner::from_private_jwk(&jwk).unwrap()
}

// --- A minimal DER reader/writer to re-sign certificates with parameters rcgen does not
// produce (RSA-PSS) or to alter one field.

fn der_len(len: usize) -> Vec<u8> {
    if len < 0x80 {
        vec![len as u8]
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        let mut out = vec![0x80 | bytes.len() as u8];
        out.extend(bytes);
        out
    }
}

fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(value.len()));
    out.extend_from_slice(value);
    out
}

/// Splits the contents of a constructed element into its child elements (full TLVs).
fn children(der: &[u8]) -> Vec<Vec<u8>> {
    let (_, content) = split_tlv(der);
    let mut out = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let (len, _) = split_tlv(rest);
        out.push(rest[..len].to_vec());
        rest = &rest[len..];
    }
    out
}

/// (total length of the first TLV, its contents).
fn split_tlv(der: &[u8]) -> (usize, &[u8]) {
    let first = der[1] as usize;
    let (len, header) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        (
            der[2..2 + n]
                .iter()
                .fold(0usize, |a, b| (a << 8) | *b as usize),
            2 + n,
        )
    };
    (header + len, &der[header..header + len])
}

fn sequence(items: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &items.concat())
}

/// Rebuilds `cert` with `alg_id` in both algorithm fields, signed by `sign(tbs)`.
fn resign(cert: &[u8], alg_id: &[u8], sign: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let outer = children(cert);
    let mut tbs_fields = children(&outer[0]);
    tbs_fields[2] = alg_id.to_vec(); // version [0], serialNumber, signature
    let tbs = sequence(&tbs_fields);
    let sig = sign(&tbs);
    let mut bits = vec![0u8];
    bits.extend(sig);
    sequence(&[tbs, alg_id.to_vec(), tlv(0x03, &bits)])
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a `salt`-byte salt (RFC 4055 §3.1).
fn pss_sha256_alg_id(salt: u8) -> Vec<u8> {
    let sha256 = hex("300d06096086480165030402010500");
    let mgf1 = sequence(&[hex("06092a864886f70d010108"), sha256.clone()]);
    let params = sequence(&[
        tlv(0xa0, &sha256),
        tlv(0xa1, &mgf1),
        tlv(0xa2, &[0x02, 0x01, salt]),
    ]);
    sequence(&[hex("06092a864886f70d01010a"), params])
}

fn rsa_pss_sign(key: &KeyPair, msg: &[u8]) -> Vec<u8> {
    let kp = aws_lc_rs::rsa::KeyPair::from_pkcs8(&key.serialize_der()).unwrap();
    let mut sig = vec![0u8; kp.public_modulus_len()];
    kp.sign(
        &aws_lc_rs::signature::RSA_PSS_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        msg,
        &mut sig,
    )
    .unwrap();
    sig
}

// --- Valid chains.

#[test]
fn validates_root_intermediate_leaf_with_anchor_outside_chain() {
    let (root, inter, leaf) = pki();
    let info = x5c::validate_chain(&chain(&[&leaf, &inter]), &anchors(&[&root]), NOW).unwrap();
    assert_eq!(info.dns_sans(), ["verifier.example.org"]);
    assert_eq!(info.uri_sans(), ["https://verifier.example.org/cb"]);
    assert_eq!(info.subject(), "CN=verifier");
    assert_eq!(info.der(), &leaf.der[..]);
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &leaf.der);
    assert_eq!(info.x509_hash(), b64::encode(hash));
    let expected = signer_for(&leaf.key);
    assert!(
        info.public_jwk()
            .same_key(jose::Signer::public_jwk(&expected))
    );
}

#[test]
fn validates_with_anchor_included_in_chain() {
    let (root, inter, leaf) = pki();
    x5c::validate_chain(&chain(&[&leaf, &inter, &root]), &anchors(&[&root]), NOW).unwrap();
}

#[test]
fn validates_with_intermediate_as_anchor() {
    let (_, inter, leaf) = pki();
    x5c::validate_chain(&chain(&[&leaf]), &anchors(&[&inter]), NOW).unwrap();
    x5c::validate_chain(&chain(&[&leaf, &inter]), &anchors(&[&inter]), NOW).unwrap();
}

#[test]
fn validates_pinned_self_signed_leaf() {
    let leaf = self_signed(leaf_params("wallet.example"), &rcgen::PKCS_ED25519);
    let info = x5c::validate_chain(&chain(&[&leaf]), &anchors(&[&leaf]), NOW).unwrap();
    assert_eq!(info.public_jwk().key_type(), "OKP Ed25519");
}

#[test]
fn validates_p384_and_ed25519_chains() {
    let root = self_signed(
        ca_params("P-384 Root", None),
        &rcgen::PKCS_ECDSA_P384_SHA384,
    );
    let inter = issued(ca_params("Ed CA", None), &rcgen::PKCS_ED25519, &root);
    let leaf = issued(
        leaf_params("a.example"),
        &rcgen::PKCS_ECDSA_P384_SHA384,
        &inter,
    );
    let info = x5c::validate_chain(&chain(&[&leaf, &inter]), &anchors(&[&root]), NOW).unwrap();
    assert_eq!(info.public_jwk().curve(), Some(Curve::P384));
}

#[test]
fn validates_rsa_pkcs1_root() {
    for alg in [
        &rcgen::PKCS_RSA_SHA256,
        &rcgen::PKCS_RSA_SHA384,
        &rcgen::PKCS_RSA_SHA512,
    ] {
        let root = self_signed(ca_params("RSA Root", None), alg);
        let inter = issued(
            ca_params("Issuing CA", Some(0)),
            &rcgen::PKCS_ECDSA_P256_SHA256,
            &root,
        );
        let leaf = issued(
            leaf_params("a.example"),
            &rcgen::PKCS_ECDSA_P256_SHA256,
            &inter,
        );
        x5c::validate_chain(&chain(&[&leaf, &inter]), &anchors(&[&root]), NOW).unwrap();
    }
}

#[test]
fn validates_rsa_pss_signature() {
    let root = self_signed(ca_params("RSA Root", None), &rcgen::PKCS_RSA_SHA256);
    let inter = issued(
        ca_params("Issuing CA", Some(0)),
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &root,
    );
    let pss = resign(&inter.der, &pss_sha256_alg_id(32), |tbs| {
        rsa_pss_sign(&root.key, tbs)
    });
    let leaf = issued(
        leaf_params("a.example"),
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &inter,
    );
    x5c::validate_chain(&[leaf.der.clone(), pss], &anchors(&[&root]), NOW).unwrap();
}

#[test]
fn anchors_load_from_pem_bundle() {
    let (root, inter, leaf) = pki();
    let pem = format!(
        "Test bundle\n{}\nsome comment\n{}",
        pem_of(&root.der),
        pem_of(&inter.der)
    );
    let a = TrustAnchors::from_pem(&pem).unwrap();
    assert_eq!(a.len(), 2);
    x5c::validate_chain(&chain(&[&leaf, &inter]), &a, NOW).unwrap();
}

fn pem_of(der: &[u8]) -> String {
    let b = b64::encode_std(der);
    let lines: Vec<&str> = b
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

#[test]
fn accepts_unknown_non_critical_extension() {
    let root = self_signed(ca_params("Root", None), &rcgen::PKCS_ECDSA_P256_SHA256);
    let mut p = leaf_params("a.example");
    p.custom_extensions = vec![CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 55555, 1],
        vec![0x05, 0x00],
    )];
    let leaf = issued(p, &rcgen::PKCS_ECDSA_P256_SHA256, &root);
    x5c::validate_chain(&chain(&[&leaf]), &anchors(&[&root]), NOW).unwrap();
}

// --- Rejections.

#[test]
fn rejects_expired_leaf() {
    let (root, inter, _) = pki();
    let mut p = leaf_params("a.example");
    p.not_before = date_time_ymd(2024, 1, 1);
    p.not_after = date_time_ymd(2025, 1, 1);
    let leaf = issued(p, &rcgen::PKCS_ECDSA_P256_SHA256, &inter);
    let e = x5c::validate_chain(&chain(&[&leaf, &inter]), &anchors(&[&root]), NOW).unwrap_err();
    assert!(
        matches!(
            e,
            X5cError::Expired {
                index: 0,
                not_after: 1_735_689_600,
                now: NOW
            }
        ),
        "{e:?}"
    );
}

#[test]
fn rejects_expired_anchor_outside_chain() {
    let mut rp = ca_params("Old Root", None);
    rp.not_before = date_time_ymd(2020, 1, 1);
    rp.not_after = date_time_ymd(2026, 1, 1);
    let root = self_signed(rp, &rcgen::PKCS_ECDSA_P256_SHA256);
    let inter = issued(ca_params("CA", None), &rcgen::PKCS_ECDSA_P256_SHA256, &root);
    let leaf = issued(
        leaf_params("a.example"),
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &inter,
    );
    let e = x5c::validate_chain(&chain(&[&leaf, &inter]), &anchors(&[&root]), NOW).unwrap_err();
    assert!(matches!(e, X5cError::Expired { index: 2, .. }), "{e:?}");
}

#[test]
fn rejects_not_yet_valid_intermediate() {
    let (root, _, _) = pki();
    let mut p = ca_params("Future CA", None);
    p.not_before = date_time_ymd(2027, 1, 1);
    let inter = issued(p, &rcgen::PKCS_ECDSA_P256_SHA256, &root);
    let leaf = issued(
        leaf_params("a.example"),
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &inter,
    );
    let e = x5c::validate_chain(&chain(&[&leaf, &inter]), &anchors(&[&root]), NOW).unwrap_err();
    assert!(
        matches!(
            e,
            X5cError::NotYetValid {
                index: 1,
                not_before: 1_798_761_600,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn rejects_wrong_anchor() {
    let (_, inter, leaf) = pki();
    let (other_root, _, _) = pki();
    let other = self_signed(
        ca_params("Another Root", None),
        &rcgen::PKCS_ECDSA_P256_SHA256,
    );
    let e = x5c::validate_chain(&chain(&[&leaf, &inter]), &anchors(&[&other]), NOW).unwrap_err();
    assert!(matches!(e, X5cError::UntrustedChain), "{e:?}");
    // Same subject name ("Test Root") but another key: the signature gives it away.
    let e =
        x5c::validate_chain(&chain(&[&leaf, &inter]), &anchors(&[&other_root]), NOW).unwrap_err();
    assert!(
        matches!(e, X5cError::InvalidSignature { index: 1 }),
        "{e:?}"
    );
}

#[test]
fn rejects_leaf_without_digital_signature() {
    let (root, inter, _) = pki();
    let mut p = leaf_params("a.example");
    p.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
    let leaf = issued(p, &rcgen::PKCS_ECDSA_P256_SHA256, &inter);
    let e = x5c::validate_chain(&chain(&[&leaf, &inter]), &anchors(&[&root]), NOW).unwrap_err();
    assert!(matches!(e, X5cError::LeafMissingDigitalSignature), "{e:?}");
}

#[test]
fn rejects_intermediate_not_ca() {
    let (root, _, _) = pki();
    for is_ca in [IsCa::NoCa, IsCa::ExplicitNoCa] {
        let mut p = ca_params("Not a CA", None);
        p.is_ca = is_ca;
        let inter = issued(p, &rcgen::PKCS_ECDSA_P256_SHA256, &root);
        let leaf = issued(
            leaf_params("a.example"),
            &rcgen::PKCS_ECDSA_P256_SHA256,
            &inter,
        );
        let e = x5c::validate_chain(&chain(&[&leaf, &inter]), &anchors(&[&root]), NOW).unwrap_err();
        assert!(matches!(e, X5cError::NotCa { index: 1 }), "{e:?}");
    }
}

#[test]
fn rejects_intermediate_without_key_cert_sign() {
    let (root, _, _) = pki();
    let mut p = ca_params("CA without keyCertSign", None);
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::CrlSign];
    let inter = issued(p, &rcgen::PKCS_ECDSA_P256_SHA256, &root);
    let leaf = issued(
        leaf_params("a.example"),
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &inter,
    );
    let e = x5c::validate_chain(&chain(&[&leaf, &inter]), &anchors(&[&root]), NOW).unwrap_err();
    assert!(
        matches!(e, X5cError::MissingKeyCertSign { index: 1 }),
        "{e:?}"
    );
}

#[test]
fn rejects_path_len_exceeded() {
    // The root allows no intermediate CA below it.
    let root = self_signed(ca_params("Root", Some(0)), &rcgen::PKCS_ECDSA_P256_SHA256);
    let inter = issued(ca_params("CA", None), &rcgen::PKCS_ECDSA_P256_SHA256, &root);
    let leaf = issued(
        leaf_params("a.example"),
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &inter,
    );
    let e = x5c::validate_chain(&chain(&[&leaf, &inter]), &anchors(&[&root]), NOW).unwrap_err();
    assert!(
        matches!(
            e,
            X5cError::PathLenExceeded {
                index: 2,
                path_len: 0
            }
        ),
        "{e:?}"
    );
    // Included in the chain, the same root fails the same way.
    let e =
        x5c::validate_chain(&chain(&[&leaf, &inter, &root]), &anchors(&[&root]), NOW).unwrap_err();
    assert!(
        matches!(
            e,
            X5cError::PathLenExceeded {
                index: 2,
                path_len: 0
            }
        ),
        "{e:?}"
    );
    // Directly under the root, the leaf is fine.
    let leaf = issued(
        leaf_params("a.example"),
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &root,
    );
    x5c::validate_chain(&chain(&[&leaf]), &anchors(&[&root]), NOW).unwrap();
}

#[test]
fn rejects_broken_signature() {
    let (root, inter, leaf) = pki();
    let mut der = leaf.der.clone();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let e = x5c::validate_chain(&[der, inter.der.clone()], &anchors(&[&root]), NOW).unwrap_err();
    assert!(
        matches!(e, X5cError::InvalidSignature { index: 0 }),
        "{e:?}"
    );
}

#[test]
fn rejects_unknown_critical_extension() {
    let (root, inter, _) = pki();
    let mut p = leaf_params("a.example");
    let mut ext =
        CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55555, 1], vec![0x05, 0x00]);
    ext.set_criticality(true);
    p.custom_extensions = vec![ext];
    let leaf = issued(p, &rcgen::PKCS_ECDSA_P256_SHA256, &inter);
    let e = x5c::validate_chain(&chain(&[&leaf, &inter]), &anchors(&[&root]), NOW).unwrap_err();
    assert!(
        matches!(e, X5cError::UnknownCriticalExtension { index: 0, ref oid } if oid == "1.3.6.1.4.1.55555.1"),
        "{e:?}"
    );
}

#[test]
fn rejects_duplicate_extension() {
    let (root, inter, _) = pki();
    let mut p = leaf_params("a.example");
    // A second keyUsage (digitalSignature) next to the one rcgen writes.
    p.custom_extensions = vec![CustomExtension::from_oid_content(
        &[2, 5, 29, 15],
        vec![0x03, 0x02, 0x07, 0x80],
    )];
    let leaf = issued(p, &rcgen::PKCS_ECDSA_P256_SHA256, &inter);
    let e = x5c::validate_chain(&chain(&[&leaf, &inter]), &anchors(&[&root]), NOW).unwrap_err();
    assert!(
        matches!(e, X5cError::DuplicateExtension { index: 0, ref oid } if oid == "2.5.29.15"),
        "{e:?}"
    );
}

#[test]
fn rejects_malformed_basic_constraints() {
    let (root, inter, _) = pki();
    let mut p = leaf_params("a.example");
    // basicConstraints whose value is an INTEGER instead of a SEQUENCE.
    p.custom_extensions = vec![CustomExtension::from_oid_content(
        &[2, 5, 29, 19],
        vec![0x02, 0x01, 0x05],
    )];
    let leaf = issued(p, &rcgen::PKCS_ECDSA_P256_SHA256, &inter);
    let e = x5c::validate_chain(&chain(&[&leaf, &inter]), &anchors(&[&root]), NOW).unwrap_err();
    assert!(
        matches!(e, X5cError::MalformedExtension { index: 0, ref oid } if oid == "2.5.29.19"),
        "{e:?}"
    );
}

#[test]
fn rejects_issuer_name_mismatch() {
    let (root, inter, leaf) = pki();
    // Out of order: the certificate after the leaf is not its issuer.
    let e =
        x5c::validate_chain(&chain(&[&leaf, &root, &inter]), &anchors(&[&root]), NOW).unwrap_err();
    assert!(matches!(e, X5cError::IssuerMismatch { index: 0 }), "{e:?}");
}

#[test]
fn rejects_signature_algorithm_mismatch() {
    let (root, inter, leaf) = pki();
    // Outer signatureAlgorithm ecdsa-with-SHA384, tbsCertificate.signature SHA-256.
    let outer = children(&leaf.der);
    let der = sequence(&[
        outer[0].clone(),
        hex("300a06082a8648ce3d040303"),
        outer[2].clone(),
    ]);
    let e = x5c::validate_chain(&[der, inter.der.clone()], &anchors(&[&root]), NOW).unwrap_err();
    assert!(
        matches!(e, X5cError::SignatureAlgorithmMismatch { index: 0 }),
        "{e:?}"
    );
}

#[test]
fn rejects_pss_with_non_standard_salt() {
    let root = self_signed(ca_params("RSA Root", None), &rcgen::PKCS_RSA_SHA256);
    let inter = issued(ca_params("CA", None), &rcgen::PKCS_ECDSA_P256_SHA256, &root);
    let pss = resign(&inter.der, &pss_sha256_alg_id(20), |tbs| {
        rsa_pss_sign(&root.key, tbs)
    });
    let e = x5c::validate_chain(&[pss], &anchors(&[&root]), NOW).unwrap_err();
    assert!(
        matches!(e, X5cError::MalformedSignatureAlgorithm { index: 0 }),
        "{e:?}"
    );
}

#[test]
fn rejects_issuer_key_of_wrong_type() {
    // An Ed25519 CA whose certificate claims an ECDSA signature.
    let root = self_signed(ca_params("Ed Root", None), &rcgen::PKCS_ED25519);
    let inter = issued(ca_params("CA", None), &rcgen::PKCS_ECDSA_P256_SHA256, &root);
    let ecdsa = hex("300a06082a8648ce3d040302");
    let forged = resign(&inter.der, &ecdsa, |_| {
        vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]
    });
    let e = x5c::validate_chain(&[forged], &anchors(&[&root]), NOW).unwrap_err();
    assert!(
        matches!(e, X5cError::IssuerKeyMismatch { index: 0 }),
        "{e:?}"
    );
}

#[test]
fn rejects_unsupported_signature_algorithm() {
    let (root, inter, _) = pki();
    // ecdsa-with-SHA512 is not accepted.
    let alg = hex("300a06082a8648ce3d040304");
    let forged = resign(&inter.der, &alg, |_| {
        vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]
    });
    let e = x5c::validate_chain(&[forged], &anchors(&[&root]), NOW).unwrap_err();
    assert!(
        matches!(e, X5cError::UnsupportedSignatureAlgorithm { index: 0, ref oid } if oid == "1.2.840.10045.4.3.4"),
        "{e:?}"
    );
}

#[test]
fn rejects_rsa_leaf_key() {
    let (root, inter, _) = pki();
    let leaf = issued(leaf_params("a.example"), &rcgen::PKCS_RSA_SHA256, &inter);
    let e = x5c::validate_chain(&chain(&[&leaf, &inter]), &anchors(&[&root]), NOW).unwrap_err();
    assert!(matches!(e, X5cError::UnsupportedLeafKey(_)), "{e:?}");
}

#[test]
fn rejects_empty_long_and_malformed_chains() {
    let (root, inter, leaf) = pki();
    let a = anchors(&[&root]);
    assert!(matches!(
        x5c::validate_chain(&[], &a, NOW),
        Err(X5cError::EmptyChain)
    ));
    let long = vec![leaf.der.clone(); MAX_CHAIN_LEN + 1];
    assert!(matches!(
        x5c::validate_chain(&long, &a, NOW),
        Err(X5cError::ChainTooLong { len: 11, max: 10 })
    ));
    let e = x5c::validate_chain(&[leaf.der.clone(), b"not a certificate".to_vec()], &a, NOW)
        .unwrap_err();
    assert!(matches!(e, X5cError::Malformed { index: 1 }), "{e:?}");
    let mut trailing = inter.der.clone();
    trailing.push(0);
    let e = x5c::validate_chain(&[leaf.der.clone(), trailing], &a, NOW).unwrap_err();
    assert!(matches!(e, X5cError::Malformed { index: 1 }), "{e:?}");
}

#[test]
fn rejects_bad_anchor_input() {
    assert!(matches!(
        TrustAnchors::from_der(Vec::<Vec<u8>>::new()),
        Err(X5cError::NoAnchors)
    ));
    assert!(matches!(
        TrustAnchors::from_der([b"junk".to_vec()]),
        Err(X5cError::Malformed { index: 0 })
    ));
    assert!(matches!(
        TrustAnchors::from_pem("no blocks"),
        Err(X5cError::Pem(_))
    ));
    let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assert!(matches!(TrustAnchors::from_pem(key), Err(X5cError::Pem(_))));
    let bad = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    assert!(matches!(TrustAnchors::from_pem(bad), Err(X5cError::Pem(_))));
    let open = "-----BEGIN CERTIFICATE-----\nAAAA\n";
    assert!(matches!(
        TrustAnchors::from_pem(open),
        Err(X5cError::Pem(_))
    ));
}

// --- JWS with x5c.

const ES256: &[Algorithm] = &[Algorithm::Es256];

fn x5c_jws(signer: &SoftwareSigner, x5c: &[Vec<u8>]) -> CompactJws {
    let jws = HeaderBuilder::new()
        .typ("oauth-authz-req+jwt")
        .x5c(x5c)
        .sign(
            br#"{"client_id":"x509_san_dns:verifier.example.org"}"#,
            signer,
        )
        .unwrap();
    CompactJws::parse(&jws).unwrap()
}

#[test]
fn verifies_jws_with_x5c_leaf_key() {
    let (root, inter, leaf) = pki();
    let signer = signer_for(&leaf.key);
    let jws = x5c_jws(&signer, &chain(&[&leaf, &inter]));
    let policy = JwsPolicy::new(ES256).with_typ(&["oauth-authz-req+jwt"]);
    let (verified, info) = x5c::verify_jws(jws, &anchors(&[&root]), NOW, &policy).unwrap();
    assert_eq!(
        verified.claims().unwrap()["client_id"],
        "x509_san_dns:verifier.example.org"
    );
    assert_eq!(info.dns_sans(), ["verifier.example.org"]);
}

#[test]
fn rejects_jws_not_signed_by_leaf_key() {
    let (root, inter, leaf) = pki();
    let other = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let jws = x5c_jws(&other, &chain(&[&leaf, &inter]));
    let e = x5c::verify_jws(jws, &anchors(&[&root]), NOW, &JwsPolicy::new(ES256)).unwrap_err();
    assert!(matches!(e, X5cError::Jws(Error::InvalidSignature)), "{e:?}");
}

#[test]
fn rejects_jws_without_x5c() {
    let (root, _, leaf) = pki();
    let signer = signer_for(&leaf.key);
    let jws = CompactJws::parse(&HeaderBuilder::new().sign(b"{}", &signer).unwrap()).unwrap();
    let e = x5c::verify_jws(jws, &anchors(&[&root]), NOW, &JwsPolicy::new(ES256)).unwrap_err();
    assert!(matches!(e, X5cError::MissingX5c), "{e:?}");
}

#[test]
fn rejects_jws_whose_jwk_header_is_another_key() {
    let (root, inter, leaf) = pki();
    let signer = signer_for(&leaf.key);
    let other = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let jws = HeaderBuilder::new()
        .x5c(&chain(&[&leaf, &inter]))
        .jwk(jose::Signer::public_jwk(&other))
        .sign(b"{}", &signer)
        .unwrap();
    let jws = CompactJws::parse(&jws).unwrap();
    let e = x5c::verify_jws(jws, &anchors(&[&root]), NOW, &JwsPolicy::new(ES256)).unwrap_err();
    assert!(matches!(e, X5cError::HeaderKeyMismatch), "{e:?}");
}

#[test]
fn rejects_jws_policy_before_chain() {
    let (root, inter, leaf) = pki();
    let signer = signer_for(&leaf.key);
    let jws = x5c_jws(&signer, &chain(&[&leaf, &inter]));
    let e = x5c::verify_jws(
        jws,
        &anchors(&[&root]),
        NOW,
        &JwsPolicy::new(&[Algorithm::Es384]),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            X5cError::Jws(Error::AlgorithmNotAllowed(Algorithm::Es256))
        ),
        "{e:?}"
    );
}

#[test]
fn rejects_jws_with_untrusted_chain() {
    let (_, inter, leaf) = pki();
    let other = self_signed(ca_params("Elsewhere", None), &rcgen::PKCS_ECDSA_P256_SHA256);
    let signer = signer_for(&leaf.key);
    let jws = x5c_jws(&signer, &chain(&[&leaf, &inter]));
    let e = x5c::verify_jws(jws, &anchors(&[&other]), NOW, &JwsPolicy::new(ES256)).unwrap_err();
    assert!(matches!(e, X5cError::UntrustedChain), "{e:?}");
}
