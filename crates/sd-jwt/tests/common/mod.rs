//! Shared test helpers: the spec vectors, the keys of the RFC 9901 / SD-JWT VC examples, and
//! a way to craft (validly signed) SD-JWTs that break one rule at a time.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use jose::{
    Algorithm, HeaderBuilder, PrivateJwk, PublicJwk, Signer, SoftwareSigner, VerifyingKey, b64,
};
use serde_json::{Map, Value, json};

pub const ES256: &[Algorithm] = &[Algorithm::Es256];

pub fn vector(name: &str) -> String {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim()
        .to_owned()
}

pub fn vector_json(name: &str) -> Value {
    serde_json::from_str(&vector(name)).unwrap()
}

pub fn vector_object(name: &str) -> Map<String, Value> {
    vector_json(name).as_object().unwrap().clone()
}

/// The Issuer key of RFC 9901 Appendix A.5 (also SD-JWT VC Figure 14, first key).
pub fn spec_issuer_key() -> VerifyingKey {
    let jwk = PublicJwk::from_value(&vector_json("rfc9901_issuer_key.json")).unwrap();
    VerifyingKey::from_jwk(&jwk).unwrap()
}

/// The private half of the A.5 key, from the spec repositories' example settings
/// (`examples/settings.yml`), to sign structures the specs show unsigned.
pub fn spec_issuer_signer() -> SoftwareSigner {
    let jwk = json!({"kty":"EC","crv":"P-256",
        "d":"Ur2bNKuBPOrAaxsRnbSH6hIhmNTxSGXshDSUD1a1y7g",
        "x":"b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ",
        "y":"Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8"});
    let pj = PrivateJwk::from_json(jwk.to_string().as_bytes()).unwrap();
    SoftwareSigner::from_private_jwk(&pj).unwrap()
}

/// The Holder key whose public half is the examples' `cnf.jwk`.
pub fn spec_holder_signer() -> SoftwareSigner {
    let jwk = json!({"kty":"EC","crv":"P-256",
        "d":"5K5SCos8zf9zRemGGUl6yfok-_NiiryNZsvANWMhF-I",
        "x":"TCAER19Zvu3OHF4j4W4vfSVoHIP1ILilDls7vCeGemc",
        "y":"ZxjiWWbZMQGHVWKVQ4hbSIirsVfuecCE6t4jT9F2HZQ"});
    let pj = PrivateJwk::from_json(jwk.to_string().as_bytes()).unwrap();
    SoftwareSigner::from_private_jwk(&pj).unwrap()
}

/// `base64url(json)`: a Disclosure with exactly the given JSON text.
pub fn disc(json_text: &str) -> String {
    b64::encode(json_text)
}

pub fn digest(disclosure: &str) -> String {
    sd_jwt::sha256_b64(disclosure.as_bytes())
}

/// Signs `payload` with `signer` (header `typ` as given) and appends `disclosures` and
/// the trailing `~`.
pub fn craft(
    signer: &dyn Signer,
    typ: Option<&str>,
    payload: &Value,
    disclosures: &[&str],
) -> String {
    let mut h = HeaderBuilder::new();
    if let Some(t) = typ {
        h = h.typ(t);
    }
    if let Some(kid) = signer.key_id() {
        h = h.kid(kid);
    }
    let mut s = h.sign(payload.to_string().as_bytes(), signer).unwrap();
    s.push('~');
    for d in disclosures {
        s.push_str(d);
        s.push('~');
    }
    s
}

/// Appends a KB-JWT with `payload` and header `typ` to `sd_jwt` (which ends with `~`).
pub fn append_kb(sd_jwt: &str, signer: &dyn Signer, typ: Option<&str>, payload: &Value) -> String {
    let mut h = HeaderBuilder::new();
    if let Some(t) = typ {
        h = h.typ(t);
    }
    format!(
        "{sd_jwt}{}",
        h.sign(payload.to_string().as_bytes(), signer).unwrap()
    )
}

pub fn kb_payload(sd_jwt: &str, aud: &str, nonce: &str, iat: i64) -> Value {
    json!({"iat": iat, "aud": aud, "nonce": nonce, "sd_hash": sd_jwt::sha256_b64(sd_jwt.as_bytes())})
}

pub fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}
