//! The OID4VCI request bodies an issuer parses from any wallet: the token request form
//! (§6.1; pre-authorized code grant, and the authorization code grant it refuses), the
//! credential request (§8.2) and the notification request (§11.1). Must never panic, and
//! what parses must satisfy the rules the parsers document and survive a round trip:
//! - a token request comes only from the pre-authorized code grant, with a non-empty code
//!   and no parameter twice, and `to_form` parses back to the same request;
//! - a credential request names exactly one target, holds a non-empty proof list (one
//!   proof for `attestation`), and `to_value` parses back to the same request;
//! - an encrypted credential request (§10) parses to what its plaintext does;
//! - a notification names a non-empty id, and its description uses only the characters
//!   §11.1 allows;
//! - no error message carries a control character (sender text in them is escaped).
//!
//! The first byte chooses between the rest as raw bodies and a form or JSON object built
//! from it (members mostly right, one wrong), which reaches the later checks.
#![no_main]

use jose::jwe::{self, DecryptPolicy, EncryptOptions};
use jose::{Curve, Enc, EncryptionKey};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use oid4vci::{
    CredentialRequest, ErrorCode, NotificationRequest, PRE_AUTHORIZED_CODE_GRANT, Proofs,
    TokenRequest, TokenRequestError,
};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;
use symbolon_fuzz::{assert_printable, extra_members, json_value, member, put, text};

/// The issuer's key agreement key for encrypted credential requests.
fn issuer_key() -> Option<&'static EncryptionKey> {
    static KEY: OnceLock<Option<EncryptionKey>> = OnceLock::new();
    KEY.get_or_init(|| EncryptionKey::generate(Curve::P256).ok())
        .as_ref()
}

const ENCS: [Enc; 2] = [Enc::A128Gcm, Enc::A256Gcm];

/// An encrypted request (§10) decides as its plaintext does: the same request, or a
/// refusal.
fn encrypted(body: &[u8]) {
    let Some(key) = issuer_key() else {
        return;
    };
    let policy = DecryptPolicy::new(&ENCS);
    let Ok(jwe) = jwe::encrypt(
        body,
        &key.public_jwk_for_encryption(),
        Enc::A128Gcm,
        &EncryptOptions::default(),
    ) else {
        return;
    };
    let plain = CredentialRequest::from_json(body);
    match (CredentialRequest::from_jwe(&jwe, key, &policy), plain) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(e), Err(_)) => assert_printable(&e),
        (a, b) => panic!("encrypted {a:?}, plain {b:?}"),
    }
}

/// A body sent as `application/jwt`.
fn jwe_body(body: &[u8]) {
    if let (Some(key), Ok(text)) = (issuer_key(), std::str::from_utf8(body))
        && let Err(e) = CredentialRequest::from_jwe(text, key, &DecryptPolicy::new(&ENCS))
    {
        assert_printable(&e);
    }
}

/// Checks everything the token endpoint relies on from a parse of `body`.
fn token(body: &[u8]) {
    match TokenRequest::from_form(body) {
        Ok(r) => {
            assert!(!r.pre_authorized_code.is_empty());
            for v in [
                &r.tx_code,
                &r.client_id,
                &r.authorization_details,
                &r.resource,
            ] {
                assert!(v.as_ref().is_none_or(|v| !v.is_empty()));
            }
            let names: Vec<_> = url::form_urlencoded::parse(body).map(|(k, _)| k).collect();
            for (i, n) in names.iter().enumerate() {
                assert!(!names.iter().take(i).any(|m| m == n), "`{n}` repeated");
            }
            let grant = url::form_urlencoded::parse(body).find(|(k, _)| k == "grant_type");
            assert_eq!(
                grant.map(|(_, v)| v).as_deref(),
                Some(PRE_AUTHORIZED_CODE_GRANT)
            );
            assert_eq!(TokenRequest::from_form(r.to_form().as_bytes()), Ok(r));
        }
        Err(e) => {
            assert_printable(&e);
            let expected = match e {
                TokenRequestError::UnsupportedGrantType(_) => ErrorCode::UnsupportedGrantType,
                _ => ErrorCode::InvalidRequest,
            };
            assert_eq!(e.code(), expected);
        }
    }
}

fn credential(body: &[u8]) {
    let r = match CredentialRequest::from_json(body) {
        Ok(r) => r,
        Err(e) => return assert_printable(&e),
    };
    match &r.proofs {
        Some(Proofs::Jwt(p)) => assert!(!p.is_empty()),
        Some(Proofs::Attestation(_)) | None => {}
    }
    if let Some(e) = &r.credential_response_encryption {
        assert_eq!(e.jwk.alg(), Some("ECDH-ES"));
        assert!(e.jwk.curve().is_some());
    }
    let again = CredentialRequest::from_json(r.to_value().to_string().as_bytes());
    assert_eq!(again.ok(), Some(r));
}

fn notification(body: &[u8]) {
    let n = match NotificationRequest::from_json(body) {
        Ok(n) => n,
        Err(e) => return assert_printable(&e),
    };
    assert!(!n.notification_id.is_empty());
    if let Some(d) = &n.event_description {
        assert!(oid4vci::error::is_description_text(d));
    }
    let again = NotificationRequest::from_json(n.to_value().to_string().as_bytes());
    assert_eq!(again, Ok(n));
}

/// A token request form: grant type, code and transaction code mostly right, parameters
/// sometimes repeated, unknown ones mixed in.
fn token_form(u: &mut Unstructured<'_>) -> Result<String> {
    let grant = match u.choose_index(4)? {
        0 => "authorization_code".to_owned(),
        1 => text(u)?,
        _ => PRE_AUTHORIZED_CODE_GRANT.to_owned(),
    };
    let mut pairs = vec![("grant_type".to_owned(), grant)];
    for name in [
        "pre-authorized_code",
        "code",
        "redirect_uri",
        "code_verifier",
        "tx_code",
        "client_id",
        "authorization_details",
        "resource",
    ] {
        if u.arbitrary()? {
            pairs.push((name.to_owned(), text(u)?));
        }
    }
    for _ in 0..u.int_in_range(0..=2)? {
        let i = u.choose_index(pairs.len())?;
        let repeated = match pairs.get(i) {
            Some((name, _)) if u.arbitrary()? => (name.clone(), text(u)?),
            _ => (text(u)?, text(u)?),
        };
        pairs.push(repeated);
    }
    if u.arbitrary()? {
        pairs.reverse();
    }
    let mut f = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &pairs {
        f.append_pair(k, v);
    }
    Ok(f.finish())
}

fn proofs(u: &mut Unstructured<'_>) -> Result<Value> {
    let kind = match u.choose_index(4)? {
        0 => text(u)?,
        1 => "attestation".to_owned(),
        _ => "jwt".to_owned(),
    };
    let n = u.int_in_range(0..=3)?;
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        items.push(member(u, Value::String("a.b.c".into()))?.unwrap_or(Value::Null));
    }
    let mut m = Map::new();
    m.insert(kind, Value::Array(items));
    if u.ratio(1, 8)? {
        m.insert("jwt".into(), json!(["d.e.f"]));
    }
    Ok(Value::Object(m))
}

/// `credential_response_encryption` around a valid ECDH-ES P-256 key.
fn encryption(u: &mut Unstructured<'_>) -> Result<Value> {
    let mut jwk = Map::new();
    put(&mut jwk, "kty", member(u, json!("EC"))?);
    put(&mut jwk, "crv", member(u, json!("P-256"))?);
    put(
        &mut jwk,
        "x",
        member(u, json!("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"))?,
    );
    put(
        &mut jwk,
        "y",
        member(u, json!("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"))?,
    );
    put(&mut jwk, "alg", member(u, json!("ECDH-ES"))?);
    put(&mut jwk, "use", member(u, json!("enc"))?);
    put(&mut jwk, "kid", member(u, json!("k1"))?);
    let mut m = Map::new();
    put(&mut m, "jwk", member(u, Value::Object(jwk))?);
    put(&mut m, "enc", member(u, json!("A128GCM"))?);
    if u.arbitrary()? {
        put(&mut m, "zip", member(u, json!("DEF"))?);
    }
    Ok(Value::Object(m))
}

fn credential_object(u: &mut Unstructured<'_>) -> Result<Value> {
    let mut m = Map::new();
    put(
        &mut m,
        "credential_configuration_id",
        member(u, json!("ClassroomPass"))?,
    );
    if u.ratio(1, 3)? {
        put(&mut m, "credential_identifier", member(u, json!("id-1"))?);
    }
    let good = proofs(u)?;
    put(&mut m, "proofs", member(u, good)?);
    if u.arbitrary()? {
        let good = encryption(u)?;
        put(&mut m, "credential_response_encryption", member(u, good)?);
    }
    extra_members(u, &mut m)?;
    Ok(Value::Object(m))
}

fn notification_object(u: &mut Unstructured<'_>) -> Result<Value> {
    let mut m = Map::new();
    put(&mut m, "notification_id", member(u, json!("n-1"))?);
    let event = *u.choose(&[
        "credential_accepted",
        "credential_failure",
        "credential_deleted",
    ])?;
    put(&mut m, "event", member(u, json!(event))?);
    if u.arbitrary()? {
        put(&mut m, "event_description", Some(Value::String(text(u)?)));
    }
    extra_members(u, &mut m)?;
    Ok(Value::Object(m))
}

fn structured(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    match u.choose_index(3)? {
        0 => token(token_form(&mut u)?.as_bytes()),
        1 => {
            let body = credential_object(&mut u)?.to_string();
            credential(body.as_bytes());
            if u.ratio(1, 4)? {
                encrypted(body.as_bytes());
            }
        }
        _ => {
            let body = if u.ratio(1, 8)? {
                json_value(&mut u)?
            } else {
                notification_object(&mut u)?
            };
            notification(body.to_string().as_bytes());
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        token(rest);
        credential(rest);
        jwe_body(rest);
        notification(rest);
    } else {
        let _ = structured(rest);
    }
});
