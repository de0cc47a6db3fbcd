//! `symbolon attester gen-cert` and `symbolon attester csr` (issue 10 item 4), run as the
//! real binary against an A-Key in the SoftHSM2 test token and in a software key file: the
//! certificate certifies the A-Key (the attester accepts it as `attester.certificate`),
//! attestations then carry `x5c` next to `kid`, and an issuer that trusts only the
//! certificate (as `x509_anchors`, no JWKS) accepts them.
//!
//! The SoftHSM2 test needs `SOFTHSM2_CONF` and `TEST_PKCS11_*` (scripts/test.sh).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use attester::AKey;
use client_attestation::{AttestationClaims, Environment, EvidenceType, PopClaims};
use common::symbolon;
use issuer::trust::{Trust, VerifierSettings};
use jose::{Algorithm, FixedClock, Signer, SoftwareSigner};
use keys::KeySigner;
use serde_json::{Map, Value};

fn run(args: &[&str]) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = symbolon().args(args).output().unwrap();
    (
        status.code().expect("exited normally"),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

fn now() -> i64 {
    jose::Clock::now(&jose::SystemClock)
}

/// `gen-cert` then `csr` with `config`; checks both files and that neither is overwritten.
/// Returns the certificate path and `gen-cert`'s JSON.
fn gen_cert_and_csr(dir: &Path, config: &Path) -> (std::path::PathBuf, Value) {
    let cert = dir.join("attester-cert.pem");
    let cfg = config.to_str().unwrap();
    let out = cert.to_str().unwrap();
    let (code, stdout, stderr) = run(&[
        "attester",
        "gen-cert",
        "--config",
        cfg,
        "--dns",
        "attester.example",
        "--days",
        "30",
        "--out",
        out,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let printed: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        std::fs::read_to_string(&cert)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    let (code, _, stderr) = run(&["attester", "gen-cert", "--config", cfg, "--out", out]);
    assert_eq!(code, 1, "an existing certificate is never overwritten");
    assert!(stderr.contains("refusing to overwrite"), "{stderr}");

    let csr = dir.join("attester.csr");
    let (code, stdout, stderr) = run(&[
        "attester",
        "csr",
        "--config",
        cfg,
        "--cn",
        "Wallet attester",
        "--out",
        csr.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let request: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(request["kid"], printed["kid"]);
    assert!(
        std::fs::read_to_string(&csr)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE REQUEST-----")
    );
    (cert, printed)
}

/// The attester with `signer` and the generated certificate signs an attestation; an
/// issuer trusting only that certificate accepts it.
fn issuer_accepts_x5c_attestation(signer: Arc<dyn KeySigner>, cert: &Path) {
    let akey = AKey::new(signer, AKey::read_chain(cert).unwrap())
        .expect("the certificate certifies the A-Key");
    let ci = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let t = now();
    let attestation = akey
        .sign(&AttestationClaims {
            issuer: Some("https://attester.example".into()),
            client_id: "wallet-instance-1".into(),
            iat: t,
            exp: t + 600,
            cnf: ci.public_jwk().clone(),
            jti: Some("a-1".into()),
            environment: Some(Environment {
                evidence: EvidenceType::Kubernetes,
                key_protection: akey.protection(),
                namespace: None,
                service_account: None,
                extra: Map::new(),
            }),
            extra: Map::new(),
        })
        .unwrap();
    let jws = jose::CompactJws::parse(&attestation).unwrap();
    assert_eq!(jws.header().kid(), Some(akey.kid()));
    assert_eq!(jws.header().x5c().map(<[_]>::len), Some(1));

    let trust = Trust::new(
        VerifierSettings {
            audience: "https://issuer.example".into(),
            algorithms: vec![Algorithm::Es256],
            skew: 30,
            pop_max_age: 60,
        },
        &issuer::TrustSources {
            anchors_file: Some(cert.to_owned()),
            ..issuer::TrustSources::default()
        },
    )
    .unwrap();
    let pop = PopClaims {
        aud: "https://issuer.example".into(),
        jti: "pop-1".into(),
        iat: t,
        challenge: None,
        legacy: None,
    }
    .sign(&ci)
    .unwrap();
    let verifier = trust.verifier_for(&attestation, t).unwrap().unwrap();
    let verified = verifier
        .verify(&attestation, &pop, None, &FixedClock(t))
        .unwrap();
    assert_eq!(verified.client_id(), "wallet-instance-1");
    assert_eq!(verified.trusted_by(), 0);
}

#[test]
fn issue10_attester_gen_cert_and_csr_with_a_software_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut kek = [0u8; 32];
    aws_lc_rs::rand::fill(&mut kek).unwrap();
    let kek_file = dir.path().join("kek");
    std::fs::write(&kek_file, jose::b64::encode_std(kek)).unwrap();
    let key_file = dir.path().join("a-key.sealed");
    let config = dir.path().join("attester.toml");
    std::fs::write(
        &config,
        format!(
            "[attester.software_key]\nkey_file = \"{}\"\nkek = {{ key = {{ file = \"{}\" }} }}\n",
            key_file.display(),
            kek_file.display()
        ),
    )
    .unwrap();
    let (cert, printed) = gen_cert_and_csr(dir.path(), &config);
    assert_eq!(printed["key_protection"], "software");

    let kek = keys::Kek::from_base64(
        &keys::SecretString::from(std::fs::read_to_string(&kek_file).unwrap()),
        &keys::SecretSource::File(kek_file.clone()),
    )
    .unwrap();
    let signer = keys::key_file::load(&key_file, &kek).unwrap();
    assert_eq!(printed["kid"], signer.key_id().unwrap());
    issuer_accepts_x5c_attestation(Arc::new(signer), &cert);
}

#[test]
fn issue10_attester_gen_cert_and_csr_sign_inside_softhsm() {
    let _lock = keys::testing::lock_token().unwrap();
    let token = keys::testing::test_token().unwrap();
    let label = format!("issue10-cert-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("attester.toml");
    std::fs::write(
        &config,
        format!(
            "[attester.pkcs11]\nmodule = \"{}\"\ntoken_label = \"{}\"\nkey_label = \"{label}\"\npin = {{ env = \"TEST_PKCS11_PIN\" }}\n",
            token.module.display(),
            token.label,
        ),
    )
    .unwrap();
    let (code, _, stderr) = run(&["attester", "init-key", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");

    let pkcs11 = keys::pkcs11::Pkcs11Config::new(
        token.module.clone(),
        keys::SecretSource::Env("TEST_PKCS11_PIN".into()),
    )
    .with_token_label(&token.label)
    .with_key_label(&label);
    let opened = keys::pkcs11::Pkcs11Token::open(&pkcs11).unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let (cert, printed) = gen_cert_and_csr(dir.path(), &config);
        assert_eq!(printed["key_protection"], "pkcs11");
        let signer = opened.signer(&label).unwrap();
        assert_eq!(printed["kid"], signer.key_id().unwrap());
        issuer_accepts_x5c_attestation(Arc::new(signer), &cert);
    }));
    opened.destroy_key(&label).unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
