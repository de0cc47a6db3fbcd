//! The A-Key: the attester's signing key, its optional X.509 chain, and the public
//! documents issuers use to trust it (JWKS, PEM chain).
//!
//! The key is any [`keys::KeySigner`]: a [`keys::pkcs11::Pkcs11Signer`] in production
//! (opened through the keys crate, which refuses keys that are extractable, not sensitive,
//! or allowed to decrypt, unwrap or derive), or a software key from an encrypted key file
//! for the embedded `--mode=all` setup. Its protection goes into every attestation
//! (`environment.key_protection`), so issuers can refuse software-protected attesters.
//!
//! Nothing here can produce private key material: the signer only signs, and the public
//! documents are built from the public JWK (and the configured certificates).

use std::path::Path;
use std::sync::Arc;

use client_attestation::{AttestationClaims, KeyProtection};
use jose::{PublicJwk, SignError};
use keys::KeySigner;
use serde_json::{Value, json};

use jose::pem::{self, PemError};

/// Why the A-Key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AKeyError {
    /// The signer has no key id (`kid`), which attestations and the JWKS need.
    #[error("the A-Key has no key id")]
    NoKeyId,
    /// The certificate file cannot be read.
    #[error("cannot read the A-Key certificate {path}: {source}")]
    CertificateRead {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate file holds no usable PEM certificates.
    #[error("A-Key certificate: {0}")]
    CertificatePem(#[from] PemError),
    /// The leaf certificate cannot be parsed.
    #[error("the A-Key's leaf certificate is not a valid X.509 certificate")]
    CertificateParse,
    /// The leaf certificate is for another key.
    #[error("the A-Key's leaf certificate certifies another key than the A-Key")]
    CertificateKeyMismatch,
    /// The PKCS#11 key could not be opened (or was refused by the attribute policy).
    #[error(transparent)]
    Pkcs11(#[from] keys::pkcs11::Pkcs11Error),
    /// The software key file could not be loaded or created.
    #[error(transparent)]
    KeyFile(#[from] keys::KeyFileError),
    /// The key-encryption key could not be loaded.
    #[error(transparent)]
    Kek(#[from] keys::KekError),
}

/// The A-Key and what is published about it.
pub struct AKey {
    signer: Arc<dyn KeySigner>,
    chain: Vec<Vec<u8>>,
    kid: String,
    jwks: Value,
}

impl std::fmt::Debug for AKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AKey")
            .field("kid", &self.kid)
            .field("protection", &self.signer.protection())
            .field("certificates", &self.chain.len())
            .finish()
    }
}

/// Maps the key store's protection onto the attestation claim. A protection this build
/// does not know is reported as the weakest, `software`.
pub fn claim_protection(p: keys::KeyProtection) -> KeyProtection {
    match p {
        keys::KeyProtection::Pkcs11 => KeyProtection::Pkcs11,
        keys::KeyProtection::Tpm => KeyProtection::Tpm,
        _ => KeyProtection::Software,
    }
}

fn leaf_matches(leaf: &[u8], jwk: &PublicJwk) -> Result<(), AKeyError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(leaf).map_err(|_| AKeyError::CertificateParse)?;
    let spki = cert.public_key().subject_public_key.data.as_ref();
    if spki == jwk.raw_public_key().as_slice() {
        Ok(())
    } else {
        Err(AKeyError::CertificateKeyMismatch)
    }
}

impl AKey {
    /// The A-Key `signer` with the certificate `chain` (DER, leaf first; may be empty).
    /// The leaf must certify the signer's key.
    pub fn new(signer: Arc<dyn KeySigner>, chain: Vec<Vec<u8>>) -> Result<AKey, AKeyError> {
        let kid = signer.key_id().ok_or(AKeyError::NoKeyId)?.to_owned();
        let public = signer.public_jwk().clone();
        if let Some(leaf) = chain.first() {
            leaf_matches(leaf, &public)?;
        }
        let mut jwk = public
            .bare()
            .with_kid(kid.clone())
            .with_alg(signer.algorithm().name())
            .with_use("sig")
            .to_object();
        if !chain.is_empty() {
            let x5c: Vec<Value> = chain
                .iter()
                .map(|c| Value::String(jose::b64::encode_std(c)))
                .collect();
            jwk.insert("x5c".into(), Value::Array(x5c));
        }
        Ok(AKey {
            signer,
            chain,
            kid,
            jwks: json!({ "keys": [Value::Object(jwk)] }),
        })
    }

    /// Reads a PEM chain file (leaf first) for [`AKey::new`].
    pub fn read_chain(path: &Path) -> Result<Vec<Vec<u8>>, AKeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| AKeyError::CertificateRead {
            path: path.to_owned(),
            source,
        })?;
        Ok(pem::certificates(&text)?)
    }

    /// The key id (`kid`, the RFC 7638 thumbprint for keys from the keys crate).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key.
    pub fn public_jwk(&self) -> &PublicJwk {
        self.signer.public_jwk()
    }

    /// How the key is protected, as attestations state it.
    pub fn protection(&self) -> KeyProtection {
        claim_protection(self.signer.protection())
    }

    /// The JWK Set (`GET /.well-known/jwks.json`), with `x5c` when a chain is configured.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// The certificate chain as PEM, when configured.
    pub fn chain_pem(&self) -> Option<String> {
        if self.chain.is_empty() {
            return None;
        }
        Some(
            self.chain
                .iter()
                .map(|der| jose::pem::encode("CERTIFICATE", der))
                .collect(),
        )
    }

    /// Signs `claims` (blocking: a PKCS#11 call; run it off the async executor).
    pub fn sign(&self, claims: &AttestationClaims) -> Result<String, SignError> {
        let x5c = (!self.chain.is_empty()).then_some(self.chain.as_slice());
        claims.sign(&*self.signer, x5c)
    }

    /// Signs a fixed probe (readiness: the token is logged in and the key usable).
    pub fn probe(&self) -> Result<(), SignError> {
        self.signer
            .sign(b"symbolon-attester readiness probe")
            .map(drop)
    }
}

/// What [`init_pkcs11_key`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitOutcome {
    /// The key pair was created; its public key.
    Created(PublicJwk),
    /// A key with the label already existed and passes the attribute policy; its public
    /// key. Nothing was changed.
    Existing(PublicJwk),
}

impl InitOutcome {
    /// The public key, as published in the JWKS (`kid` = RFC 7638 thumbprint, `alg`,
    /// `use`).
    pub fn published(&self) -> Value {
        let jwk = match self {
            InitOutcome::Created(j) | InitOutcome::Existing(j) => j,
        };
        let kid = jwk.thumbprint();
        let alg = jwk.signing_algorithm().name();
        Value::Object(
            jwk.bare()
                .with_kid(kid)
                .with_alg(alg)
                .with_use("sig")
                .to_object(),
        )
    }
}

/// `symbolon attester init-key`: creates the A-Key pair `label` inside `token` (P-256,
/// token object, private, sensitive, never extractable, sign only) when no object has that
/// label. An existing key is never replaced: it is opened through the same attribute
/// policy the service applies, so a key that could leave the token is reported as an
/// error instead of being reused.
pub fn init_pkcs11_key(
    token: &keys::pkcs11::Pkcs11Token,
    label: &str,
) -> Result<InitOutcome, keys::pkcs11::Pkcs11Error> {
    match token.init_key(label) {
        Ok(jwk) => Ok(InitOutcome::Created(jwk)),
        Err(keys::pkcs11::Pkcs11Error::KeyExists { .. }) => {
            let signer = token.signer(label)?;
            Ok(InitOutcome::Existing(
                jose::Signer::public_jwk(&signer).clone(),
            ))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jose::{Algorithm, Signer, SoftwareSigner};

    fn software() -> Arc<dyn KeySigner> {
        let s = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let kid = s.public_jwk().thumbprint();
        Arc::new(s.with_kid(kid))
    }

    #[test]
    fn jwks_holds_only_the_public_key() {
        let key = AKey::new(software(), Vec::new()).unwrap();
        let jwks = key.jwks().to_string();
        assert!(!jwks.contains("\"d\""), "{jwks}");
        let k = &key.jwks()["keys"][0];
        assert_eq!(k["kid"], key.kid());
        assert_eq!(k["alg"], "ES256");
        assert_eq!(k["use"], "sig");
        assert!(k.get("x5c").is_none());
        assert_eq!(key.protection(), KeyProtection::Software);
        assert!(key.chain_pem().is_none());
    }

    #[test]
    fn rejects_a_signer_without_kid() {
        let s: Arc<dyn KeySigner> = Arc::new(SoftwareSigner::generate(Algorithm::Es256).unwrap());
        assert!(matches!(AKey::new(s, Vec::new()), Err(AKeyError::NoKeyId)));
    }

    /// The A-Key's public point as rcgen sees a subject key.
    struct Subject(Vec<u8>);

    impl rcgen::PublicKeyData for Subject {
        fn der_bytes(&self) -> &[u8] {
            &self.0
        }
        fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
            &rcgen::PKCS_ECDSA_P256_SHA256
        }
    }

    /// A certificate for `jwk`'s key issued by a throwaway CA.
    fn certificate_for(jwk: &PublicJwk) -> Vec<u8> {
        let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
        let params = rcgen::CertificateParams::new(vec!["attester.example".into()]).unwrap();
        params
            .signed_by(&Subject(jwk.sec1_point().unwrap()), &issuer)
            .unwrap()
            .der()
            .to_vec()
    }

    #[test]
    fn certificate_goes_into_x5c_and_pem_when_it_certifies_the_key() {
        let signer = software();
        let der = certificate_for(signer.public_jwk());
        let key = AKey::new(signer, vec![der.clone()]).unwrap();
        assert_eq!(key.jwks()["keys"][0]["x5c"][0], jose::b64::encode_std(&der));
        let pem = key.chain_pem().unwrap();
        assert_eq!(jose::pem::certificates(&pem).unwrap(), vec![der.clone()]);
    }

    #[test]
    fn rejects_a_certificate_for_another_key() {
        let der = certificate_for(software().public_jwk());
        assert!(matches!(
            AKey::new(software(), vec![der]),
            Err(AKeyError::CertificateKeyMismatch)
        ));
        assert!(matches!(
            AKey::new(software(), vec![b"not a certificate".to_vec()]),
            Err(AKeyError::CertificateParse)
        ));
    }
}
