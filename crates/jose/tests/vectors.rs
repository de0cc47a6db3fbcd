//! Published test vectors: RFC 7515 A.3, RFC 7518 Appendix C, RFC 7638 §3.1 and
//! RFC 8037 Appendix A, each checked character for character.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use jose::jwe::{self, DecryptPolicy, Enc, EncryptOptions, EncryptionKey};
use jose::jwk::thumbprint_of;
use jose::{
    Algorithm, CompactJws, Error, JwsPolicy, PrivateJwk, PublicJwk, Signer, SoftwareSigner,
    VerifyingKey, b64, jws,
};

// RFC 7515 Appendix A.3.1: the ES256 key and the complete JWS.
const RFC7515_A3_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#;
const RFC7515_A3_JWS: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

// RFC 7518 Appendix C: Alice's ephemeral key, Bob's key, Z and the derived key.
const RFC7518_C_ALICE: &str = r#"{"kty":"EC","crv":"P-256","x":"gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0","y":"SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps","d":"0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo"}"#;
const RFC7518_C_BOB: &str = r#"{"kty":"EC","crv":"P-256","x":"weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ","y":"e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck","d":"VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw"}"#;
const RFC7518_C_Z: [u8; 32] = [
    158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156, 251, 49, 110, 163,
    218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196,
];
const RFC7518_C_KEY: [u8; 16] = [
    86, 170, 141, 234, 248, 35, 109, 32, 92, 34, 40, 205, 113, 167, 16, 26,
];
const RFC7518_C_KEY_B64: &str = "VqqN6vgjbSBcIijNcacQGg";

// RFC 7638 §3.1: the RSA key and its thumbprint.
const RFC7638_JWK: &str = r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#;
const RFC7638_THUMBPRINT: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

// RFC 8037 Appendix A.
const RFC8037_A1: &str = r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
const RFC8037_A2: &str =
    r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
const RFC8037_A3_INPUT: &str =
    r#"{"crv":"Ed25519","kty":"OKP","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
const RFC8037_A3_SHA256_HEX: &str =
    "90facafea9b1556698540f70c0117a22ea37bd5cf3ed3c47093c1707282b4b89";
const RFC8037_A3_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
const RFC8037_A4_PAYLOAD: &str = "Example of Ed25519 signing";
const RFC8037_A4_JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn rfc7515_a3_es256_jws_verifies_with_its_key() {
    let private = PrivateJwk::from_json(RFC7515_A3_JWK.as_bytes()).unwrap();
    let key = VerifyingKey::from_jwk(private.public()).unwrap();
    let jws = CompactJws::parse(RFC7515_A3_JWS).unwrap();
    assert_eq!(
        jws.signing_input().len(),
        RFC7515_A3_JWS.rfind('.').unwrap()
    );
    let v = jws
        .verify(&key, &JwsPolicy::new(&[Algorithm::Es256]))
        .unwrap();
    assert_eq!(v.header().alg(), Algorithm::Es256);
    assert_eq!(
        v.payload(),
        b"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}"
    );
    assert_eq!(v.claims().unwrap()["exp"], 1_300_819_380);
}

#[test]
fn rfc7515_a3_rejects_altered_signature() {
    let private = PrivateJwk::from_json(RFC7515_A3_JWK.as_bytes()).unwrap();
    let key = VerifyingKey::from_jwk(private.public()).unwrap();
    // Last character 'Q' → 'A' keeps the base64url canonical but changes s.
    let altered = format!("{}A", &RFC7515_A3_JWS[..RFC7515_A3_JWS.len() - 1]);
    let e = CompactJws::parse(&altered)
        .unwrap()
        .verify(&key, &JwsPolicy::new(&[Algorithm::Es256]))
        .unwrap_err();
    assert!(matches!(e, Error::InvalidSignature), "{e:?}");
}

#[test]
fn rfc7518_appendix_c_concat_kdf() {
    let k = jwe::concat_kdf(&RFC7518_C_Z, "A128GCM", b"Alice", b"Bob", 16).unwrap();
    assert_eq!(&k[..], &RFC7518_C_KEY);
    assert_eq!(b64::encode(&*k), RFC7518_C_KEY_B64);
}

#[test]
fn rfc7518_appendix_c_key_agreement_from_static_keys() {
    let alice = EncryptionKey::from_private_jwk(
        &PrivateJwk::from_json(RFC7518_C_ALICE.as_bytes()).unwrap(),
    )
    .unwrap();
    let bob =
        EncryptionKey::from_private_jwk(&PrivateJwk::from_json(RFC7518_C_BOB.as_bytes()).unwrap())
            .unwrap();
    // Both sides compute the RFC's Z and the RFC's derived key.
    assert_eq!(
        &bob.shared_secret(alice.public_jwk()).unwrap()[..],
        &RFC7518_C_Z
    );
    assert_eq!(
        &alice.shared_secret(bob.public_jwk()).unwrap()[..],
        &RFC7518_C_Z
    );
    let cek = bob
        .derive_cek(alice.public_jwk(), Enc::A128Gcm, b"Alice", b"Bob")
        .unwrap();
    assert_eq!(b64::encode(&*cek), RFC7518_C_KEY_B64);
    let cek = alice
        .derive_cek(bob.public_jwk(), Enc::A128Gcm, b"Alice", b"Bob")
        .unwrap();
    assert_eq!(b64::encode(&*cek), RFC7518_C_KEY_B64);
}

#[test]
fn rfc7518_appendix_c_jwe_with_the_example_header_decrypts() {
    let alice = EncryptionKey::from_private_jwk(
        &PrivateJwk::from_json(RFC7518_C_ALICE.as_bytes()).unwrap(),
    )
    .unwrap();
    let bob =
        EncryptionKey::from_private_jwk(&PrivateJwk::from_json(RFC7518_C_BOB.as_bytes()).unwrap())
            .unwrap();
    let options = EncryptOptions {
        apu: Some(b"Alice"),
        apv: Some(b"Bob"),
        ..EncryptOptions::default()
    };
    let compact = jwe::encrypt_with(
        b"hello Bob",
        bob.public_jwk(),
        Enc::A128Gcm,
        &options,
        &alice,
        [7; 12],
    )
    .unwrap();
    let d = jwe::decrypt(&compact, &bob, &DecryptPolicy::new(&[Enc::A128Gcm])).unwrap();
    assert_eq!(d.plaintext(), b"hello Bob");
    let h = d.header();
    assert_eq!(h.get("apu").unwrap(), "QWxpY2U");
    assert_eq!(h.get("apv").unwrap(), "Qm9i");
    assert_eq!(h.get("alg").unwrap(), "ECDH-ES");
    assert_eq!(h.get("enc").unwrap(), "A128GCM");
    // `epk` is Alice's public key exactly as the RFC's example header has it.
    assert_eq!(
        h.get("epk").unwrap(),
        &serde_json::json!({
            "kty": "EC",
            "crv": "P-256",
            "x": "gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0",
            "y": "SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps"
        })
    );
}

#[test]
fn rfc7638_3_1_rsa_thumbprint() {
    let o = jose::json::parse_object(RFC7638_JWK.as_bytes()).unwrap();
    assert_eq!(thumbprint_of(&o).unwrap(), RFC7638_THUMBPRINT);
}

#[test]
fn rfc7638_thumbprint_of_agrees_with_public_jwk_for_ec_and_okp() {
    for jwk in [
        RFC8037_A2,
        r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k","use":"sig"}"#,
    ] {
        let o = jose::json::parse_object(jwk.as_bytes()).unwrap();
        let typed = PublicJwk::from_object(&o).unwrap();
        assert_eq!(thumbprint_of(&o).unwrap(), typed.thumbprint());
    }
    // oct keys: `k` and `kty` only.
    let oct = jose::json::parse_object(br#"{"kty":"oct","k":"AQAB","alg":"HS256"}"#).unwrap();
    let bare = jose::json::parse_object(br#"{"k":"AQAB","kty":"oct"}"#).unwrap();
    assert_eq!(thumbprint_of(&oct).unwrap(), thumbprint_of(&bare).unwrap());
}

#[test]
fn rejects_thumbprint_of_incomplete_or_unknown_keys() {
    let no_e = jose::json::parse_object(br#"{"kty":"RSA","n":"AQAB"}"#).unwrap();
    assert_eq!(
        thumbprint_of(&no_e).unwrap_err(),
        jose::JwkError::Missing("e")
    );
    let unknown = jose::json::parse_object(br#"{"kty":"XYZ"}"#).unwrap();
    assert!(matches!(
        thumbprint_of(&unknown),
        Err(jose::JwkError::UnsupportedKty(ref k)) if k == "XYZ"
    ));
}

#[test]
fn rfc8037_a1_private_key_parses() {
    let k = PrivateJwk::from_json(RFC8037_A1.as_bytes()).unwrap();
    assert_eq!(
        b64::encode(k.d()),
        "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
    );
    SoftwareSigner::from_private_jwk(&k).unwrap();
}

#[test]
fn rfc8037_a2_public_key_is_the_private_keys_public_half() {
    let private = PrivateJwk::from_json(RFC8037_A1.as_bytes()).unwrap();
    let public = PublicJwk::from_json(RFC8037_A2.as_bytes()).unwrap();
    assert_eq!(private.public(), &public);
    assert_eq!(public.key_type(), "OKP Ed25519");
}

#[test]
fn rfc8037_a3_thumbprint() {
    let public = PublicJwk::from_json(RFC8037_A2.as_bytes()).unwrap();
    assert_eq!(public.thumbprint_input(), RFC8037_A3_INPUT);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, RFC8037_A3_INPUT.as_bytes());
    assert_eq!(hex(digest.as_ref()), RFC8037_A3_SHA256_HEX);
    assert_eq!(public.thumbprint(), RFC8037_A3_THUMBPRINT);
}

#[test]
fn rfc8037_a4_ed25519_signature_is_the_rfcs() {
    let signer =
        SoftwareSigner::from_private_jwk(&PrivateJwk::from_json(RFC8037_A1.as_bytes()).unwrap())
            .unwrap();
    // The RFC's header is {"alg":"EdDSA"}; Ed25519 is deterministic, so the JWS is identical.
    let input = format!(
        "{}.{}",
        b64::encode(r#"{"alg":"EdDSA"}"#),
        b64::encode(RFC8037_A4_PAYLOAD)
    );
    assert_eq!(
        input,
        "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
    );
    let sig = signer.sign(input.as_bytes()).unwrap();
    assert_eq!(jws::attach_signature(input, &sig), RFC8037_A4_JWS);
}

#[test]
fn rfc8037_a5_verification() {
    let public = PublicJwk::from_json(RFC8037_A2.as_bytes()).unwrap();
    let key = VerifyingKey::from_jwk(&public).unwrap();
    let v = CompactJws::parse(RFC8037_A4_JWS)
        .unwrap()
        .verify(&key, &JwsPolicy::new(&[Algorithm::Ed25519]))
        .unwrap();
    assert_eq!(v.payload(), RFC8037_A4_PAYLOAD.as_bytes());
    let altered = RFC8037_A4_JWS.replace(".RXhh", ".RYhh");
    assert!(matches!(
        CompactJws::parse(&altered)
            .unwrap()
            .verify(&key, &JwsPolicy::new(&[Algorithm::Ed25519])),
        Err(Error::InvalidSignature)
    ));
}
