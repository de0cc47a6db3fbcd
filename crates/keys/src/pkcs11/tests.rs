//! Tests against a real SoftHSM2 token. They need the variables printed by
//! `scripts/softhsm-setup.sh` and fail (never skip) without them. Token objects persist
//! between tests and runs, so every test uses labels of its own.
//!
//! SoftHSM's file store is not safe for several processes writing one token at once (a
//! reader in another process can fail the token's integrity check and see no token at all),
//! and nextest runs every test in a process of its own. So each test first takes an
//! exclusive lock on a file next to `SOFTHSM2_CONF`; tests of other crates that use the same
//! token take the same lock.

use super::*;
use crate::{KeyProtection, KeySigner, SecretSource, SecretString};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::object::{
    Attribute, AttributeInfo, AttributeType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::Session;
use jose::{Algorithm, CompactJws, HeaderBuilder, JwsPolicy, Signer, VerifyingKey};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

struct TestToken {
    module: PathBuf,
    label: String,
    pin: String,
}

fn var(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: the PKCS#11 tests need a SoftHSM2 token; run \
             `eval \"$(scripts/softhsm-setup.sh /tmp/x)\"` first"
        ),
    }
}

fn test_token() -> TestToken {
    // SoftHSM reads SOFTHSM2_CONF itself; check it here so a missing one is reported as
    // such rather than as an unknown token.
    var("SOFTHSM2_CONF");
    TestToken {
        module: PathBuf::from(var("TEST_PKCS11_MODULE")),
        label: var("TEST_PKCS11_TOKEN"),
        pin: var("TEST_PKCS11_PIN"),
    }
}

/// Holds the cross-process lock on the test token until dropped.
struct Serial {
    _file: std::fs::File,
}

fn serial() -> Serial {
    let conf = PathBuf::from(var("SOFTHSM2_CONF"));
    let path = conf.with_file_name("tests.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    file.lock().unwrap();
    Serial { _file: file }
}

fn open() -> Pkcs11Token {
    let t = test_token();
    Pkcs11Token::open_with_pin(&t.module, &t.label, SecretString::from(t.pin), 4).unwrap()
}

/// A label no other test (or earlier run) uses.
fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn private_handle(token: &Pkcs11Token, label: &str) -> ObjectHandle {
    token
        .with_session(|s| super::token::find_pair(s, label).map(|(private, _)| private))
        .unwrap()
}

/// Creates a P-256 key pair with the safe template, then the attribute changes in
/// `private_overrides` (replacing attributes of the same type), bypassing the store's own
/// generation so that deliberately unsafe keys can be made.
fn raw_key_pair(token: &Pkcs11Token, label: &str, private_overrides: &[Attribute]) {
    let mut private = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Decrypt(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    for o in private_overrides {
        private.retain(|a| a.attribute_type() != o.attribute_type());
        private.push(o.clone());
    }
    let public = [
        Attribute::Token(true),
        Attribute::Verify(true),
        Attribute::EcParams(super::policy::P256_PARAMS.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    token
        .with_session(|s| {
            s.generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
                .map_err(super::error::call("C_GenerateKeyPair"))
        })
        .unwrap();
}

fn rv_of<T: std::fmt::Debug>(r: Result<T, cryptoki::error::Error>) -> RvError {
    match r {
        Err(cryptoki::error::Error::Pkcs11(rv, _)) => rv,
        other => panic!("expected a PKCS#11 error, got {other:?}"),
    }
}

fn raw<T>(token: &Pkcs11Token, f: impl Fn(&Session) -> T) -> T {
    token.with_session(|s| Ok(f(s))).unwrap()
}

#[test]
fn init_key_creates_once_and_refuses_to_overwrite() {
    let _serial = serial();
    let token = open();
    let label = unique("init");
    let jwk = token.init_key(&label).unwrap();
    assert_eq!(jwk.kid(), Some(jwk.thumbprint().as_str()));
    let err = token.init_key(&label).unwrap_err();
    assert!(
        matches!(&err, Pkcs11Error::KeyExists { label: l } if *l == label),
        "{err:?}"
    );
    // The original key is still the one in the token.
    let signer = token.signer(&label).unwrap();
    assert!(signer.public_jwk().same_key(&jwk));
    assert!(matches!(
        token.generate_key(&label),
        Err(Pkcs11Error::KeyExists { .. })
    ));
    token.destroy_key(&label).unwrap();
}

#[test]
fn signs_es256_that_verifies_with_the_public_jwk() {
    let _serial = serial();
    let token = open();
    let label = unique("sign");
    let signer = token.generate_key(&label).unwrap();
    assert_eq!(signer.algorithm(), Algorithm::Es256);
    assert_eq!(signer.protection(), KeyProtection::Pkcs11);
    assert_eq!(
        signer.key_id(),
        Some(signer.public_jwk().thumbprint().as_str())
    );
    let vk = VerifyingKey::from_jwk(signer.public_jwk()).unwrap();
    let sig = signer.sign(b"message").unwrap();
    assert_eq!(sig.len(), 64);
    vk.verify(Algorithm::Es256, b"message", &sig).unwrap();
    assert!(vk.verify(Algorithm::Es256, b"messagE", &sig).is_err());

    let kid = signer.key_id().unwrap().to_owned();
    let jws = HeaderBuilder::new()
        .typ("JWT")
        .kid(&kid)
        .sign(br#"{"iss":"https://issuer.example"}"#, &signer)
        .unwrap();
    let verified = CompactJws::parse(&jws)
        .unwrap()
        .verify(&vk, &JwsPolicy::new(&[Algorithm::Es256]))
        .unwrap();
    assert_eq!(verified.header().kid(), Some(kid.as_str()));
    assert_eq!(verified.claims().unwrap()["iss"], "https://issuer.example");
    token.destroy_key(&label).unwrap();
}

#[test]
fn private_key_value_cannot_be_read() {
    let _serial = serial();
    let token = open();
    let label = unique("value");
    token.init_key(&label).unwrap();
    let key = private_handle(&token, &label);
    let info = raw(&token, |s| {
        s.get_attribute_info(key, &[AttributeType::Value]).unwrap()
    });
    // C_GetAttributeValue on CKA_VALUE answers CKR_ATTRIBUTE_SENSITIVE.
    assert!(
        matches!(info.as_slice(), [AttributeInfo::Sensitive]),
        "{info:?}"
    );
    // The bulk read silently leaves it out (why the policy probes attributes one by one).
    let values = raw(&token, |s| {
        s.get_attributes(key, &[AttributeType::Value, AttributeType::Sign])
            .unwrap()
    });
    assert_eq!(values, vec![Attribute::Sign(true)]);
    // The token itself vouches that the key was never exportable.
    let flags = raw(&token, |s| {
        s.get_attributes(
            key,
            &[
                AttributeType::AlwaysSensitive,
                AttributeType::NeverExtractable,
            ],
        )
        .unwrap()
    });
    assert_eq!(
        flags,
        vec![
            Attribute::AlwaysSensitive(true),
            Attribute::NeverExtractable(true)
        ]
    );
    token.destroy_key(&label).unwrap();
}

#[test]
fn rejects_wrapping_the_private_key_out_of_the_token() {
    let _serial = serial();
    let token = open();
    let label = unique("wrap");
    token.init_key(&label).unwrap();
    let key = private_handle(&token, &label);
    let rv = raw(&token, |s| {
        // A session AES key allowed to wrap: the token must still refuse to export ours.
        let wrapping = s
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Token(false),
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::AES),
                    Attribute::ValueLen(32.into()),
                    Attribute::Wrap(true),
                    Attribute::Encrypt(true),
                ],
            )
            .unwrap();
        let rv = rv_of(s.wrap_key(&Mechanism::AesKeyWrapPad, wrapping, key));
        s.destroy_object(wrapping).unwrap();
        rv
    });
    assert_eq!(rv, RvError::KeyUnextractable);
    token.destroy_key(&label).unwrap();
}

#[test]
fn rejects_making_the_key_extractable_or_readable_again() {
    let _serial = serial();
    let token = open();
    let label = unique("flip");
    token.init_key(&label).unwrap();
    let key = private_handle(&token, &label);
    let extractable = raw(&token, |s| {
        rv_of(s.update_attributes(key, &[Attribute::Extractable(true)]))
    });
    assert_eq!(extractable, RvError::AttributeReadOnly);
    let sensitive = raw(&token, |s| {
        rv_of(s.update_attributes(key, &[Attribute::Sensitive(false)]))
    });
    assert_eq!(sensitive, RvError::AttributeReadOnly);
    // Unchanged: the key still passes the policy.
    token.signer(&label).unwrap();
    token.destroy_key(&label).unwrap();
}

#[test]
fn rejects_decrypt_and_derive_with_the_signing_key() {
    let _serial = serial();
    let token = open();
    let label = unique("decrypt");
    let signer = token.generate_key(&label).unwrap();
    let key = private_handle(&token, &label);
    let decrypt = raw(&token, |s| {
        rv_of(s.decrypt(&Mechanism::RsaPkcs, key, &[0u8; 64]))
    });
    assert_eq!(decrypt, RvError::KeyFunctionNotPermitted);
    let peer = signer.public_jwk().sec1_point().unwrap();
    let derive = raw(&token, |s| {
        rv_of(s.derive_key(
            &Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &peer)),
            key,
            &[
                Attribute::Token(false),
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::GENERIC_SECRET),
                Attribute::ValueLen(32.into()),
            ],
        ))
    });
    assert_eq!(derive, RvError::KeyFunctionNotPermitted);
    token.destroy_key(&label).unwrap();
}

/// Opens a deliberately unsafe key and returns the policy error.
fn refused(private_overrides: &[Attribute]) -> Pkcs11Error {
    let token = open();
    let label = unique("unsafe");
    raw_key_pair(&token, &label, private_overrides);
    let err = token.signer(&label).unwrap_err();
    token.destroy_key(&label).unwrap();
    err
}

fn assert_policy(err: &Pkcs11Error, attribute: &str, found: bool) {
    assert!(
        matches!(err, Pkcs11Error::KeyPolicy { attribute: a, found: f, .. } if *a == attribute && *f == found),
        "expected {attribute}={found} refused, got {err:?}"
    );
}

#[test]
fn rejects_extractable_key() {
    let _serial = serial();
    let err = refused(&[Attribute::Extractable(true)]);
    assert_policy(&err, "CKA_EXTRACTABLE", true);
    assert!(err.to_string().contains("CKA_EXTRACTABLE is true"));
}

#[test]
fn rejects_key_that_is_not_sensitive() {
    let _serial = serial();
    assert_policy(
        &refused(&[Attribute::Sensitive(false)]),
        "CKA_SENSITIVE",
        false,
    );
}

#[test]
fn rejects_key_that_was_extractable_once() {
    let _serial = serial();
    let token = open();
    let label = unique("once");
    raw_key_pair(&token, &label, &[Attribute::Extractable(true)]);
    let key = private_handle(&token, &label);
    // true → false is allowed; the token then records that the key was extractable.
    raw(&token, |s| {
        s.update_attributes(key, &[Attribute::Extractable(false)])
            .unwrap()
    });
    let err = token.signer(&label).unwrap_err();
    token.destroy_key(&label).unwrap();
    assert_policy(&err, "CKA_NEVER_EXTRACTABLE", false);
}

#[test]
fn rejects_key_that_can_decrypt() {
    let _serial = serial();
    assert_policy(&refused(&[Attribute::Decrypt(true)]), "CKA_DECRYPT", true);
}

#[test]
fn rejects_key_that_can_unwrap() {
    let _serial = serial();
    assert_policy(&refused(&[Attribute::Unwrap(true)]), "CKA_UNWRAP", true);
}

#[test]
fn rejects_key_that_can_derive() {
    let _serial = serial();
    assert_policy(&refused(&[Attribute::Derive(true)]), "CKA_DERIVE", true);
}

#[test]
fn rejects_session_key() {
    let _serial = serial();
    assert_policy(&refused(&[Attribute::Token(false)]), "CKA_TOKEN", false);
}

#[test]
fn rejects_key_pair_without_public_half() {
    let _serial = serial();
    let token = open();
    let label = unique("half");
    token.init_key(&label).unwrap();
    token
        .with_session(|s| {
            let (_, public) = super::token::find_pair(s, &label)?;
            s.destroy_object(public)
                .map_err(super::error::call("C_DestroyObject"))
        })
        .unwrap();
    let err = token.signer(&label).unwrap_err();
    assert!(
        matches!(
            err,
            Pkcs11Error::KeyPairIncomplete {
                missing: "public key",
                ..
            }
        ),
        "{err:?}"
    );
    // init_key still refuses: half a key pair is not an absent one.
    assert!(matches!(
        token.init_key(&label),
        Err(Pkcs11Error::KeyExists { .. })
    ));
    token.destroy_key(&label).unwrap();
}

#[test]
fn rejects_unknown_key_label() {
    let _serial = serial();
    let token = open();
    let label = unique("absent");
    assert!(matches!(
        token.signer(&label),
        Err(Pkcs11Error::KeyNotFound { label: l }) if l == label
    ));
    assert!(matches!(
        token.destroy_key(&label),
        Err(Pkcs11Error::KeyNotFound { .. })
    ));
}

#[test]
fn rejects_wrong_pin() {
    let _serial = serial();
    let t = test_token();
    let err = Pkcs11Token::open_with_pin(
        &t.module,
        &t.label,
        SecretString::from(format!("{}-wrong", t.pin)),
        2,
    )
    .unwrap_err();
    assert!(
        matches!(&err, Pkcs11Error::WrongPin { token } if *token == t.label),
        "{err:?}"
    );
    // The right PIN still works afterwards.
    open();
}

#[test]
fn rejects_wrong_pin_once_logged_in() {
    let _serial = serial();
    let t = test_token();
    let _token = open();
    let err = Pkcs11Token::open_with_pin(&t.module, &t.label, SecretString::from("00000000"), 2)
        .unwrap_err();
    assert!(matches!(err, Pkcs11Error::WrongPin { .. }), "{err:?}");
}

#[test]
fn rejects_unknown_token_label_naming_the_labels_found() {
    let _serial = serial();
    let t = test_token();
    let err = Pkcs11Token::open_with_pin(&t.module, "NO-SUCH-TOKEN", SecretString::from(t.pin), 2)
        .unwrap_err();
    match &err {
        Pkcs11Error::TokenNotFound { label, found } => {
            assert_eq!(label, "NO-SUCH-TOKEN");
            assert!(found.contains(&t.label), "{found:?}");
        }
        other => panic!("expected TokenNotFound, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("`NO-SUCH-TOKEN`") && text.contains(&format!("`{}`", t.label)));
}

#[test]
fn rejects_missing_module() {
    let _serial = serial();
    let t = test_token();
    let err = Pkcs11Token::open_with_pin(
        std::path::Path::new("/nonexistent/libpkcs11.so"),
        &t.label,
        SecretString::from(t.pin),
        2,
    )
    .unwrap_err();
    assert!(matches!(err, Pkcs11Error::ModuleNotFound { .. }), "{err:?}");
}

#[test]
fn opens_the_configured_key_from_config() {
    let _serial = serial();
    let t = test_token();
    let token = open();
    let label = unique("config");
    let jwk = token.init_key(&label).unwrap();
    let config = Pkcs11Config::new(&t.module, SecretSource::Env("TEST_PKCS11_PIN".into()))
        .with_token_label(&t.label)
        .with_key_label(&label);
    let signer = Pkcs11Signer::open(&config).unwrap();
    assert!(signer.public_jwk().same_key(&jwk));
    assert_eq!(signer.label(), label);
    // Opening twice in a process shares the one logged-in token.
    assert_eq!(signer.token().open_sessions(), token.open_sessions());
    token.destroy_key(&label).unwrap();
}

#[test]
fn debug_output_never_shows_the_pin() {
    let _serial = serial();
    let t = test_token();
    let token = open();
    let label = unique("debug");
    let signer = token.generate_key(&label).unwrap();
    let shown = format!("{token:?} {signer:?}");
    assert!(!shown.contains(&t.pin), "{shown}");
    assert!(shown.contains(&label));
    token.destroy_key(&label).unwrap();
}

#[test]
fn lists_and_destroys_keys_by_prefix() {
    let _serial = serial();
    let token = open();
    let prefix = unique("issuer");
    let labels: Vec<String> = ["2026-11-21", "2026-11-22", "2026-11-23"]
        .iter()
        .map(|p| format!("{prefix}-{p}"))
        .collect();
    let mut jwks = Vec::new();
    for l in labels.iter().rev() {
        jwks.push(token.init_key(l).unwrap());
    }
    jwks.reverse();
    let listed = token.list_keys(&prefix).unwrap();
    assert_eq!(
        listed.iter().map(|k| k.label.as_str()).collect::<Vec<_>>(),
        labels.iter().map(String::as_str).collect::<Vec<_>>()
    );
    for (k, j) in listed.iter().zip(&jwks) {
        assert_eq!(&k.public_jwk, j);
    }
    token.destroy_key(&labels[0]).unwrap();
    let listed = token.list_keys(&prefix).unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].label, labels[1]);
    assert!(matches!(
        token.destroy_key(&labels[0]),
        Err(Pkcs11Error::KeyNotFound { .. })
    ));
    for l in &labels[1..] {
        token.destroy_key(l).unwrap();
    }
    assert!(token.list_keys(&prefix).unwrap().is_empty());
}

#[test]
fn signs_concurrently_from_several_threads() {
    let _serial = serial();
    let token = open();
    let label = unique("threads");
    let signer = Arc::new(token.generate_key(&label).unwrap());
    let vk = VerifyingKey::from_jwk(signer.public_jwk()).unwrap();
    let barrier = Arc::new(std::sync::Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let signer = Arc::clone(&signer);
            let vk = vk.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                for i in 0..50 {
                    let msg = format!("thread {t} message {i}");
                    let sig = signer.sign(msg.as_bytes()).unwrap();
                    vk.verify(Algorithm::Es256, msg.as_bytes(), &sig).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(token.open_sessions() <= 4);
    // While one session is held, another signs: sessions are not behind one lock.
    let nested = token
        .with_session(|_held| {
            signer
                .sign_message(b"while another session is busy")
                .map(|sig| sig.len())
        })
        .unwrap();
    assert_eq!(nested, 64);
    token.destroy_key(&label).unwrap();
}
