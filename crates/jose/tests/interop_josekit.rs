//! Interoperability with josekit (OpenSSL): ECDH-ES JWE with A128GCM/A256GCM and ES256 JWS
//! in both directions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use jose::jwe::{self, DecryptPolicy, Enc, EncryptOptions, EncryptionKey};
use jose::{
    Algorithm, CompactJws, Curve, HeaderBuilder, JwsPolicy, Signer, SoftwareSigner, VerifyingKey,
};
use josekit::jwe::JweHeader;
use josekit::jwk::Jwk;
use josekit::jws::JwsHeader;

const PAYLOAD: &[u8] = br#"{"vp_token":{"pid":["eyJhbGciOiJFUzI1NiJ9.e30.sig~"]},"state":"s1"}"#;

fn josekit_jwk(json: &str) -> Jwk {
    Jwk::from_bytes(json.as_bytes()).unwrap()
}

#[test]
fn josekit_encrypts_and_we_decrypt() {
    for curve in [Curve::P256, Curve::P384] {
        for enc in Enc::ALL {
            let key = EncryptionKey::generate(curve).unwrap().with_kid("k1");
            let public = serde_json::to_string(&key.public_jwk_for_encryption()).unwrap();
            let mut encrypter = josekit::jwe::ECDH_ES
                .encrypter_from_jwk(&josekit_jwk(&public))
                .unwrap();
            encrypter.set_agreement_partyuinfo(b"mdoc nonce".to_vec());
            encrypter.set_agreement_partyvinfo(b"verifier nonce".to_vec());
            let mut header = JweHeader::new();
            header.set_content_encryption(enc.name());
            header.set_key_id("k1");
            let compact = josekit::jwe::serialize_compact(PAYLOAD, &header, &encrypter).unwrap();

            let d = jwe::decrypt(&compact, &key, &DecryptPolicy::new(&[enc])).unwrap();
            assert_eq!(d.plaintext(), PAYLOAD, "{curve:?} {enc}");
            assert_eq!(d.header().kid(), Some("k1"));
            assert_eq!(d.header().apu(), b"mdoc nonce");
            assert_eq!(d.header().apv(), b"verifier nonce");
        }
    }
}

#[test]
fn we_encrypt_and_josekit_decrypts() {
    for curve in [Curve::P256, Curve::P384] {
        for enc in Enc::ALL {
            let key = EncryptionKey::generate(curve).unwrap();
            let options = EncryptOptions {
                kid: Some("k2"),
                apu: Some(b"wallet"),
                apv: Some(b"nonce-123"),
                ..EncryptOptions::default()
            };
            let compact = jwe::encrypt(PAYLOAD, key.public_jwk(), enc, &options).unwrap();

            let private = key.to_private_jwk().unwrap().to_json();
            let decrypter = josekit::jwe::ECDH_ES
                .decrypter_from_jwk(&josekit_jwk(&private))
                .unwrap();
            let (plaintext, header) = josekit::jwe::deserialize_compact(&compact, &decrypter)
                .unwrap_or_else(|e| panic!("{curve:?} {enc}: {e}"));
            assert_eq!(plaintext, PAYLOAD);
            assert_eq!(header.content_encryption(), Some(enc.name()));
            assert_eq!(header.key_id(), Some("k2"));
        }
    }
}

#[test]
fn we_compress_and_josekit_inflates() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let text = PAYLOAD.repeat(30);
    let options = EncryptOptions {
        zip: true,
        ..EncryptOptions::default()
    };
    let compact = jwe::encrypt(&text, key.public_jwk(), Enc::A128Gcm, &options).unwrap();
    let private = key.to_private_jwk().unwrap().to_json();
    let decrypter = josekit::jwe::ECDH_ES
        .decrypter_from_jwk(&josekit_jwk(&private))
        .unwrap();
    let (plaintext, _) = josekit::jwe::deserialize_compact(&compact, &decrypter).unwrap();
    assert_eq!(plaintext, text);
}

#[test]
fn josekit_compresses_and_we_inflate() {
    let key = EncryptionKey::generate(Curve::P256).unwrap();
    let public = serde_json::to_string(key.public_jwk()).unwrap();
    let encrypter = josekit::jwe::ECDH_ES
        .encrypter_from_jwk(&josekit_jwk(&public))
        .unwrap();
    let mut header = JweHeader::new();
    header.set_content_encryption("A256GCM");
    header.set_compression("DEF");
    let text = PAYLOAD.repeat(30);
    let compact = josekit::jwe::serialize_compact(&text, &header, &encrypter).unwrap();
    let policy = DecryptPolicy::new(&[Enc::A256Gcm]).with_zip();
    let d = jwe::decrypt(&compact, &key, &policy).unwrap();
    assert_eq!(d.plaintext(), &text[..]);
    assert_eq!(d.header().zip(), Some(jwe::Zip::Deflate));
}

#[test]
fn josekit_signs_es256_and_we_verify() {
    let ours = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let private = ours.to_private_jwk().unwrap().to_json();
    let signer = josekit::jws::ES256
        .signer_from_jwk(&josekit_jwk(&private))
        .unwrap();
    let mut header = JwsHeader::new();
    header.set_token_type("kb+jwt");
    let compact = josekit::jws::serialize_compact(PAYLOAD, &header, &signer).unwrap();

    let key = VerifyingKey::from_jwk(ours.public_jwk()).unwrap();
    let policy = JwsPolicy::new(&[Algorithm::Es256]).with_typ(&["kb+jwt"]);
    let v = CompactJws::parse(&compact)
        .unwrap()
        .verify(&key, &policy)
        .unwrap();
    assert_eq!(v.payload(), PAYLOAD);
}

#[test]
fn we_sign_es256_and_josekit_verifies() {
    let ours = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let compact = HeaderBuilder::new()
        .typ("dc+sd-jwt")
        .sign(PAYLOAD, &ours)
        .unwrap();
    let public = serde_json::to_string(ours.public_jwk()).unwrap();
    let verifier = josekit::jws::ES256
        .verifier_from_jwk(&josekit_jwk(&public))
        .unwrap();
    let (payload, header) = josekit::jws::deserialize_compact(&compact, &verifier).unwrap();
    assert_eq!(payload, PAYLOAD);
    assert_eq!(header.token_type(), Some("dc+sd-jwt"));
}
