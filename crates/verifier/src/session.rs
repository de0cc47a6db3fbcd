//! The session token handed to the RP on success: a short-lived JWT signed with the
//! verifier's session key, carrying only the policy's essential claims — the RP's
//! application session needs those, not the whole presentation. Its public key is served
//! as a JWK Set at `GET /jwks`.

use jose::{HeaderBuilder, PublicJwk, SignError, Signer};
use serde_json::{Map, Value};

/// `typ` of session tokens.
pub const TYP: &str = "verifier-session+jwt";

/// What goes into a session token.
#[derive(Clone, Debug)]
pub struct SessionClaims<'a> {
    /// `iss`: the verifier's base URL.
    pub issuer: &'a str,
    /// `sub`: the transaction id.
    pub transaction_id: &'a str,
    /// `policy`.
    pub policy: &'a str,
    /// `iat`.
    pub issued_at: i64,
    /// Lifetime in seconds.
    pub lifetime: i64,
    /// `jti`.
    pub jti: &'a str,
    /// `claims`: the essential claims.
    pub claims: &'a Map<String, Value>,
}

/// Signs a session token.
pub fn issue(c: &SessionClaims<'_>, signer: &dyn Signer) -> Result<String, SignError> {
    let mut m = Map::new();
    m.insert("iss".into(), c.issuer.into());
    m.insert("sub".into(), c.transaction_id.into());
    m.insert("iat".into(), c.issued_at.into());
    m.insert("exp".into(), c.issued_at.saturating_add(c.lifetime).into());
    m.insert("jti".into(), c.jti.into());
    m.insert("policy".into(), c.policy.into());
    m.insert("claims".into(), Value::Object(c.claims.clone()));
    let mut header = HeaderBuilder::new().typ(TYP);
    if let Some(kid) = signer.key_id() {
        header = header.kid(kid);
    }
    header.sign(Value::Object(m).to_string().as_bytes(), signer)
}

/// The JWK Set publishing the session key (with `kid`, `use` `sig` and `alg`).
pub fn jwks(signer: &dyn Signer) -> Value {
    let jwk: PublicJwk = signer
        .public_jwk()
        .clone()
        .with_use("sig")
        .with_alg(signer.algorithm().name());
    let jwk = match signer.key_id() {
        Some(kid) => jwk.with_kid(kid),
        None => jwk,
    };
    serde_json::json!({ "keys": [jwk.to_value()] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jose::{Algorithm, CompactJws, JwsPolicy, SoftwareSigner, VerifyingKey};

    #[test]
    fn session_token_verifies_with_the_published_key() {
        let signer = SoftwareSigner::generate(Algorithm::Es256)
            .unwrap()
            .with_kid("s1");
        let mut claims = Map::new();
        claims.insert("role".into(), "student".into());
        let token = issue(
            &SessionClaims {
                issuer: "https://verifier.example",
                transaction_id: "tx",
                policy: "classroom",
                issued_at: 100,
                lifetime: 300,
                jti: "j",
                claims: &claims,
            },
            &signer,
        )
        .unwrap();
        let set = jwks(&signer);
        let jwk = PublicJwk::from_value(&set["keys"][0]).unwrap();
        let verified = CompactJws::parse(&token)
            .unwrap()
            .verify(
                &VerifyingKey::from_jwk(&jwk).unwrap(),
                &JwsPolicy::new(&[Algorithm::Es256]).with_typ(&[TYP]),
            )
            .unwrap();
        let c = verified.claims().unwrap();
        assert_eq!(c["exp"], 400);
        assert_eq!(c["claims"]["role"], "student");
        assert_eq!(jwk.kid(), Some("s1"));
    }
}
