//! Compact JWE with ECDH-ES: round trips, header handling, and one `rejects_*` test per
//! rule, each asserting the specific error.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use jose::jwe::{self, CompactJwe, DecryptPolicy, Enc, EncryptOptions, EncryptionKey, JweError};
use jose::{Curve, JwkError, Part, PublicJwk, Signer, SoftwareSigner, b64};
use serde_json::{Map, Value, json};

const BOTH: &[Enc] = &[Enc::A128Gcm, Enc::A256Gcm];

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

/// Seals `plaintext` under `cek` with `header_text` (exact JSON text) as the protected
/// header, as a sender would, so that header rules can be tested with a correct tag.
fn seal_raw(header_text: &str, cek: &[u8], enc: Enc, plaintext: &[u8]) -> String {
    let h = b64::encode(header_text);
    let alg = match enc {
        Enc::A128Gcm => &AES_128_GCM,
        Enc::A256Gcm => &AES_256_GCM,
    };
    let key = LessSafeKey::new(UnboundKey::new(alg, cek).unwrap());
    let iv = [9u8; 12];
    let mut buf = plaintext.to_vec();
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(iv),
            Aad::from(h.as_bytes()),
            &mut buf,
        )
        .unwrap();
    format!(
        "{h}..{}.{}.{}",
        b64::encode(iv),
        b64::encode(&buf),
        b64::encode(tag.as_ref())
    )
}

/// A JWE to `recipient` whose header is `header` plus a fresh `epk` (unless given).
fn craft(header: Value, recipient: &EncryptionKey, enc: Enc, plaintext: &[u8]) -> String {
    let eph = EncryptionKey::generate(recipient.curve()).unwrap();
    let mut h = object(header);
    h.entry("epk")
        .or_insert_with(|| eph.public_jwk().to_value());
    let cek = eph
        .derive_cek(recipient.public_jwk(), enc, b"", b"")
        .unwrap();
    seal_raw(&Value::Object(h).to_string(), &cek, enc, plaintext)
}

fn parts(compact: &str) -> Vec<String> {
    compact.split('.').map(str::to_owned).collect()
}

fn decrypt_err(compact: &str, key: &EncryptionKey, policy: &DecryptPolicy<'_>) -> JweError {
    jwe::decrypt(compact, key, policy).unwrap_err()
}

#[test]
fn round_trips_on_both_curves_and_encs_with_all_options() {
    for curve in [Curve::P256, Curve::P384] {
        for enc in Enc::ALL {
            let key = EncryptionKey::generate(curve).unwrap().with_kid("rk");
            let options = EncryptOptions {
                kid: None,
                typ: Some("oauth-authz-resp+jwt"),
                cty: Some("json"),
                apu: Some(b"wallet nonce"),
                apv: Some(b"verifier nonce"),
                zip: false,
            };
            let compact =
                jwe::encrypt(b"{\"vp_token\":{}}", key.public_jwk(), enc, &options).unwrap();
            assert_eq!(parts(&compact)[1], "", "encrypted key must be empty");
            let d = jwe::decrypt(&compact, &key, &DecryptPolicy::new(&[enc])).unwrap();
            assert_eq!(d.plaintext(), b"{\"vp_token\":{}}");
            let h = d.header();
            assert_eq!(h.enc(), enc);
            assert_eq!(h.kid(), Some("rk"), "kid copied from the recipient JWK");
            assert_eq!(h.typ(), Some("oauth-authz-resp+jwt"));
            assert_eq!(h.cty(), Some("json"));
            assert_eq!(h.apu(), b"wallet nonce");
            assert_eq!(h.apv(), b"verifier nonce");
            assert_eq!(h.epk().curve(), Some(curve));
            assert!(h.get("epk").unwrap().get("d").is_none());
        }
    }
}

#[test]
fn explicit_kid_overrides_the_recipients() {
    let key = EncryptionKey::generate(Curve::P256).unwrap().with_kid("rk");
    let options = EncryptOptions {
        kid: Some("other"),
        ..EncryptOptions::default()
    };
    let c = jwe::encrypt(b"x", key.public_jwk(), Enc::A128Gcm, &options).unwrap();
    let parsed = CompactJwe::parse(&c).unwrap();
    assert_eq!(parsed.header().kid(), Some("other"));
}

#[test]
fn encrypts_to_a_published_enc_key() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let published = key.public_jwk_for_encryption();
    let text = serde_json::to_string(&published).unwrap();
    let peer = PublicJwk::from_json(text.as_bytes()).unwrap();
    assert_eq!(peer.key_use(), Some("enc"));
    let c = jwe::encrypt(b"hi", &peer, Enc::A256Gcm, &EncryptOptions::default()).unwrap();
    assert_eq!(
        jwe::decrypt(&c, &key, &DecryptPolicy::new(BOTH))
            .unwrap()
            .plaintext(),
        b"hi"
    );
}

#[test]
fn zip_round_trip_when_allowed() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let text = b"{\"credential\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}".repeat(20);
    let options = EncryptOptions {
        zip: true,
        ..EncryptOptions::default()
    };
    let c = jwe::encrypt(&text, key.public_jwk(), Enc::A128Gcm, &options).unwrap();
    let policy = DecryptPolicy::new(BOTH).with_zip();
    let d = jwe::decrypt(&c, &key, &policy).unwrap();
    assert_eq!(d.plaintext(), &text[..]);
    assert_eq!(d.header().zip(), Some(jwe::Zip::Deflate));
}

#[test]
fn aad_is_the_header_as_received() {
    // Whitespace and member order that a re-serialization would change.
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let eph = EncryptionKey::generate(Curve::P256).unwrap();
    let epk = eph.public_jwk().to_value().to_string();
    let header = format!("{{ \"enc\" : \"A128GCM\", \"epk\": {epk}, \"alg\":\"ECDH-ES\" }}");
    let cek = eph
        .derive_cek(key.public_jwk(), Enc::A128Gcm, b"", b"")
        .unwrap();
    let c = seal_raw(&header, &cek, Enc::A128Gcm, b"as received");
    let d = jwe::decrypt(&c, &key, &DecryptPolicy::new(BOTH)).unwrap();
    assert_eq!(d.plaintext(), b"as received");
}

#[test]
fn critical_extension_accepted_when_understood() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let c = craft(
        json!({"alg":"ECDH-ES","enc":"A128GCM","crit":["ext"],"ext":1}),
        &key,
        Enc::A128Gcm,
        b"ok",
    );
    let policy = DecryptPolicy::new(BOTH).with_critical(&["ext"]);
    assert_eq!(jwe::decrypt(&c, &key, &policy).unwrap().plaintext(), b"ok");
}

#[test]
fn rejects_wrong_recipient_key() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let other = EncryptionKey::generate(Curve::P256).unwrap();
    let c = jwe::encrypt(
        b"x",
        key.public_jwk(),
        Enc::A128Gcm,
        &EncryptOptions::default(),
    )
    .unwrap();
    assert!(matches!(
        decrypt_err(&c, &other, &DecryptPolicy::new(BOTH)),
        JweError::Decryption
    ));
}

#[test]
fn rejects_altered_tag_ciphertext_and_header() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let c = jwe::encrypt(
        b"secret",
        key.public_jwk(),
        Enc::A128Gcm,
        &EncryptOptions::default(),
    )
    .unwrap();
    let p = parts(&c);
    let policy = DecryptPolicy::new(BOTH);

    let mut tag = b64::decode(&p[4]).unwrap();
    tag[0] ^= 1;
    let t = format!("{}..{}.{}.{}", p[0], p[2], p[3], b64::encode(&tag));
    assert!(matches!(
        decrypt_err(&t, &key, &policy),
        JweError::Decryption
    ));

    let mut ct = b64::decode(&p[3]).unwrap();
    ct[0] ^= 1;
    let t = format!("{}..{}.{}.{}", p[0], p[2], b64::encode(&ct), p[4]);
    assert!(matches!(
        decrypt_err(&t, &key, &policy),
        JweError::Decryption
    ));

    // Same header members, one more: the AAD changes, so the tag no longer verifies.
    let mut h = jose::json::parse_object(&b64::decode(&p[0]).unwrap()).unwrap();
    h.insert("kid".into(), "x".into());
    let t = format!(
        "{}..{}.{}.{}",
        b64::encode(Value::Object(h).to_string()),
        p[2],
        p[3],
        p[4]
    );
    assert!(matches!(
        decrypt_err(&t, &key, &policy),
        JweError::Decryption
    ));
}

#[test]
fn rejects_wrong_iv_and_tag_lengths() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let c = jwe::encrypt(
        b"x",
        key.public_jwk(),
        Enc::A128Gcm,
        &EncryptOptions::default(),
    )
    .unwrap();
    let p = parts(&c);
    let t = format!("{}..{}.{}.{}", p[0], b64::encode([0u8; 16]), p[3], p[4]);
    assert!(matches!(CompactJwe::parse(&t), Err(JweError::IvLength(16))));
    let t = format!("{}..{}.{}.{}", p[0], p[2], p[3], b64::encode([0u8; 15]));
    assert!(matches!(
        CompactJwe::parse(&t),
        Err(JweError::TagLength(15))
    ));
}

#[test]
fn rejects_non_empty_encrypted_key() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let c = jwe::encrypt(
        b"x",
        key.public_jwk(),
        Enc::A128Gcm,
        &EncryptOptions::default(),
    )
    .unwrap();
    let p = parts(&c);
    let t = format!(
        "{}.{}.{}.{}.{}",
        p[0],
        b64::encode([1u8; 16]),
        p[2],
        p[3],
        p[4]
    );
    assert!(matches!(
        CompactJwe::parse(&t),
        Err(JweError::EncryptedKeyNotEmpty)
    ));
}

#[test]
fn rejects_structural_errors() {
    assert!(matches!(
        CompactJwe::parse("a.b.c.d"),
        Err(JweError::NotCompact)
    ));
    assert!(matches!(
        CompactJwe::parse("a.b.c.d.e.f"),
        Err(JweError::NotCompact)
    ));
    assert!(matches!(
        CompactJwe::parse("!.b.c.d.e"),
        Err(JweError::Base64(Part::Header))
    ));
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let c = jwe::encrypt(
        b"x",
        key.public_jwk(),
        Enc::A128Gcm,
        &EncryptOptions::default(),
    )
    .unwrap();
    let p = parts(&c);
    for (i, part) in [
        (1, Part::EncryptedKey),
        (2, Part::Iv),
        (3, Part::Ciphertext),
        (4, Part::Tag),
    ] {
        let mut q = p.clone();
        q[i] = "a=".into();
        let e = CompactJwe::parse(&q.join(".")).unwrap_err();
        assert!(matches!(e, JweError::Base64(got) if got == part), "{e:?}");
    }
    let dup = b64::encode(r#"{"alg":"ECDH-ES","alg":"ECDH-ES"}"#);
    assert!(matches!(
        CompactJwe::parse(&format!("{dup}..{}.{}.{}", p[2], p[3], p[4])),
        Err(JweError::HeaderJson(jose::json::JsonError::Duplicate(_)))
    ));
}

#[test]
fn rejects_unknown_or_missing_alg() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    for alg in ["RSA-OAEP-256", "ECDH-ES+A128KW", "dir", "ecdh-es", "none"] {
        let c = craft(
            json!({"alg": alg, "enc":"A128GCM"}),
            &key,
            Enc::A128Gcm,
            b"x",
        );
        assert!(
            matches!(CompactJwe::parse(&c), Err(JweError::UnsupportedAlg(ref a)) if a == alg),
            "{alg}"
        );
    }
    let c = craft(json!({"enc":"A128GCM"}), &key, Enc::A128Gcm, b"x");
    assert!(matches!(
        CompactJwe::parse(&c),
        Err(JweError::MissingHeader("alg"))
    ));
    let c = craft(json!({"alg": 1, "enc":"A128GCM"}), &key, Enc::A128Gcm, b"x");
    assert!(matches!(
        CompactJwe::parse(&c),
        Err(JweError::MalformedHeader("alg"))
    ));
}

#[test]
fn rejects_unknown_or_missing_enc() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    for enc in ["A128CBC-HS256", "A192GCM", "a128gcm"] {
        let c = craft(
            json!({"alg":"ECDH-ES","enc": enc}),
            &key,
            Enc::A128Gcm,
            b"x",
        );
        assert!(
            matches!(CompactJwe::parse(&c), Err(JweError::UnsupportedEnc(ref e)) if e == enc),
            "{enc}"
        );
    }
    let c = craft(json!({"alg":"ECDH-ES"}), &key, Enc::A128Gcm, b"x");
    assert!(matches!(
        CompactJwe::parse(&c),
        Err(JweError::MissingHeader("enc"))
    ));
}

#[test]
fn rejects_enc_not_in_policy() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let c = jwe::encrypt(
        b"x",
        key.public_jwk(),
        Enc::A256Gcm,
        &EncryptOptions::default(),
    )
    .unwrap();
    assert!(matches!(
        decrypt_err(&c, &key, &DecryptPolicy::new(&[Enc::A128Gcm])),
        JweError::EncNotAllowed(Enc::A256Gcm)
    ));
}

#[test]
fn rejects_epk_on_another_curve() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let eph = EncryptionKey::generate(Curve::P384).unwrap();
    let c = craft(
        json!({"alg":"ECDH-ES","enc":"A128GCM","epk": eph.public_jwk().to_value()}),
        &key,
        Enc::A128Gcm,
        b"x",
    );
    assert!(matches!(
        decrypt_err(&c, &key, &DecryptPolicy::new(BOTH)),
        JweError::EpkCurveMismatch {
            expected: "P-256",
            found: "EC P-384"
        }
    ));
}

#[test]
fn rejects_invalid_epk() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let off_curve =
        json!({"kty":"EC","crv":"P-256","x": b64::encode([1u8; 32]),"y": b64::encode([2u8; 32])});
    let c = craft(
        json!({"alg":"ECDH-ES","enc":"A128GCM","epk": off_curve}),
        &key,
        Enc::A128Gcm,
        b"x",
    );
    assert!(matches!(
        CompactJwe::parse(&c),
        Err(JweError::InvalidEpk(JwkError::InvalidPoint))
    ));

    let eph = EncryptionKey::generate(Curve::P256).unwrap();
    let mut with_d = object(eph.public_jwk().to_value());
    with_d.insert(
        "d".into(),
        b64::encode(eph.to_private_jwk().unwrap().d()).into(),
    );
    let c = craft(
        json!({"alg":"ECDH-ES","enc":"A128GCM","epk": with_d}),
        &key,
        Enc::A128Gcm,
        b"x",
    );
    assert!(matches!(
        CompactJwe::parse(&c),
        Err(JweError::InvalidEpk(JwkError::PrivateMaterial))
    ));

    let ed = SoftwareSigner::generate(jose::Algorithm::Ed25519).unwrap();
    let c = craft(
        json!({"alg":"ECDH-ES","enc":"A128GCM","epk": ed.public_jwk().to_value()}),
        &key,
        Enc::A128Gcm,
        b"x",
    );
    assert!(matches!(
        CompactJwe::parse(&c),
        Err(JweError::InvalidEpk(JwkError::UnsupportedCurve(_)))
    ));

    let c = craft(
        json!({"alg":"ECDH-ES","enc":"A128GCM","epk": "not a key"}),
        &key,
        Enc::A128Gcm,
        b"x",
    );
    assert!(matches!(
        CompactJwe::parse(&c),
        Err(JweError::InvalidEpk(JwkError::NotObject))
    ));
}

#[test]
fn rejects_missing_epk() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let eph = EncryptionKey::generate(Curve::P256).unwrap();
    let cek = eph
        .derive_cek(key.public_jwk(), Enc::A128Gcm, b"", b"")
        .unwrap();
    let c = seal_raw(
        r#"{"alg":"ECDH-ES","enc":"A128GCM"}"#,
        &cek,
        Enc::A128Gcm,
        b"x",
    );
    assert!(matches!(
        CompactJwe::parse(&c),
        Err(JweError::MissingHeader("epk"))
    ));
}

#[test]
fn rejects_malformed_header_members() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    for (extra, name) in [
        (json!({"apu": "a+b/"}), "apu"),
        (json!({"apv": 5}), "apv"),
        (json!({"kid": 5}), "kid"),
        (json!({"typ": []}), "typ"),
        (json!({"cty": {}}), "cty"),
        (json!({"zip": true}), "zip"),
    ] {
        let mut h = object(json!({"alg":"ECDH-ES","enc":"A128GCM"}));
        h.extend(object(extra));
        let c = craft(Value::Object(h), &key, Enc::A128Gcm, b"x");
        let e = CompactJwe::parse(&c).unwrap_err();
        assert!(
            matches!(e, JweError::MalformedHeader(n) if n == name),
            "{e:?}"
        );
    }
}

#[test]
fn rejects_unknown_crit() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let c = craft(
        json!({"alg":"ECDH-ES","enc":"A128GCM","crit":["ext"],"ext":1}),
        &key,
        Enc::A128Gcm,
        b"x",
    );
    assert!(matches!(
        decrypt_err(&c, &key, &DecryptPolicy::new(BOTH)),
        JweError::UnknownCrit(ref n) if n == "ext"
    ));
}

#[test]
fn rejects_malformed_crit() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    for crit in [
        json!([]),
        json!(["zip"]),
        json!(["absent"]),
        json!("ext"),
        json!([1]),
    ] {
        let c = craft(
            json!({"alg":"ECDH-ES","enc":"A128GCM","crit": crit,"ext":1}),
            &key,
            Enc::A128Gcm,
            b"x",
        );
        assert!(
            matches!(CompactJwe::parse(&c), Err(JweError::InvalidCrit(_))),
            "{crit}"
        );
    }
}

#[test]
fn rejects_zip_unless_allowed() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let options = EncryptOptions {
        zip: true,
        ..EncryptOptions::default()
    };
    let c = jwe::encrypt(b"x", key.public_jwk(), Enc::A128Gcm, &options).unwrap();
    assert!(matches!(
        decrypt_err(&c, &key, &DecryptPolicy::new(BOTH)),
        JweError::ZipNotAllowed
    ));
}

#[test]
fn rejects_unsupported_zip() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let c = craft(
        json!({"alg":"ECDH-ES","enc":"A128GCM","zip":"GZIP"}),
        &key,
        Enc::A128Gcm,
        b"x",
    );
    assert!(matches!(
        CompactJwe::parse(&c),
        Err(JweError::UnsupportedZip(ref z)) if z == "GZIP"
    ));
}

#[test]
fn rejects_invalid_deflate_plaintext() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let c = craft(
        json!({"alg":"ECDH-ES","enc":"A128GCM","zip":"DEF"}),
        &key,
        Enc::A128Gcm,
        b"\xff\xfe not deflate",
    );
    assert!(matches!(
        decrypt_err(&c, &key, &DecryptPolicy::new(BOTH).with_zip()),
        JweError::InvalidDeflate
    ));
}

#[test]
fn rejects_decompression_bomb() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let options = EncryptOptions {
        zip: true,
        ..EncryptOptions::default()
    };
    // 4 MiB of zeros deflates to a few KiB.
    let c = jwe::encrypt(
        &vec![0u8; 4 << 20],
        key.public_jwk(),
        Enc::A128Gcm,
        &options,
    )
    .unwrap();
    assert!(c.len() < 64 << 10);
    let policy = DecryptPolicy::new(BOTH).with_zip();
    assert!(matches!(
        decrypt_err(&c, &key, &policy),
        JweError::InflatedTooLarge {
            max: jwe::DEFAULT_MAX_PLAINTEXT
        }
    ));
}

#[test]
fn rejects_plaintext_over_the_limit() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let c = jwe::encrypt(
        &[7u8; 2000],
        key.public_jwk(),
        Enc::A128Gcm,
        &EncryptOptions::default(),
    )
    .unwrap();
    let policy = DecryptPolicy::new(BOTH).with_max_plaintext(1999);
    assert!(matches!(
        decrypt_err(&c, &key, &policy),
        JweError::PlaintextTooLarge { max: 1999 }
    ));
    let policy = DecryptPolicy::new(BOTH).with_max_plaintext(2000);
    assert_eq!(
        jwe::decrypt(&c, &key, &policy).unwrap().plaintext().len(),
        2000
    );
}

#[test]
fn rejects_encrypting_to_unsuitable_keys() {
    let opts = EncryptOptions::default();
    let ed = SoftwareSigner::generate(jose::Algorithm::Ed25519).unwrap();
    assert!(matches!(
        jwe::encrypt(b"x", ed.public_jwk(), Enc::A128Gcm, &opts),
        Err(JweError::UnsupportedKeyType("OKP Ed25519"))
    ));
    let k = EncryptionKey::generate(Curve::P256).unwrap();
    let sig = k.public_jwk().clone().with_use("sig");
    assert!(matches!(
        jwe::encrypt(b"x", &sig, Enc::A128Gcm, &opts),
        Err(JweError::KeyNotForEncryption(ref u)) if u == "sig"
    ));
    let wrap = k.public_jwk().clone().with_alg("ECDH-ES+A128KW");
    assert!(matches!(
        jwe::encrypt(b"x", &wrap, Enc::A128Gcm, &opts),
        Err(JweError::KeyAlgMismatch(ref a)) if a == "ECDH-ES+A128KW"
    ));
}

#[test]
fn rejects_ed25519_private_key_for_decryption() {
    let ed = SoftwareSigner::generate(jose::Algorithm::Ed25519).unwrap();
    let pj = ed.to_private_jwk().unwrap();
    assert!(matches!(
        EncryptionKey::from_private_jwk(&pj),
        Err(JweError::UnsupportedKeyType("OKP Ed25519"))
    ));
}
