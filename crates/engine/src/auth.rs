//! Client authentication: the `handshake`'s `app_token`, a session JWT from the auth role
//! checked offline against its keys (a configured JWK Set until the auth role publishes
//! one), or an anonymous session where the operator allows them.
//!
//! A session JWT: JWS header `typ` = [`SESSION_TYP`], `alg` in the allow-list (ES256,
//! ES384, EdDSA), `kid` naming one of the keys; claims `iss` (the configured issuer),
//! `sub` (an opaque user id), `aud` (the engine's audience, or an array holding it), `exp`
//! (required), `iat`, `nbf` when present, and `permissions`: an array of `"receive"` and
//! `"present"`.

use std::sync::Arc;

use jose::{Algorithm, Clock, CompactJws, JwsPolicy, PublicJwk, TimeRules, VerifyingKey};
use serde_json::Value;

/// The JWS `typ` of a session JWT.
pub const SESSION_TYP: &str = "session+jwt";
/// The `app_token` that asks for an anonymous session.
pub const ANONYMOUS: &str = "anonymous";
/// Accepted signature algorithms.
pub const ALGORITHMS: [Algorithm; 3] = [Algorithm::Es256, Algorithm::Es384, Algorithm::Ed25519];
/// Allowed clock difference, seconds.
const SKEW: u64 = 30;
/// Longest `app_token` read.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// What a session may do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Receive credentials (OpenID4VCI flows).
    pub receive: bool,
    /// Present credentials (OpenID4VP flows).
    pub present: bool,
}

impl Permissions {
    /// Both.
    pub const ALL: Permissions = Permissions {
        receive: true,
        present: true,
    };
}

/// An authenticated session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionClaims {
    /// The user (`sub`), or `None` for an anonymous session.
    pub subject: Option<String>,
    /// What the session may do.
    pub permissions: Permissions,
    /// When the token expires (Unix seconds); `None` for an anonymous session.
    pub expires_at: Option<i64>,
}

/// Why an `app_token` was refused (logged; the client only hears `AUTH_FAILED`).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Not a compact JWS, or too long.
    #[error("the app_token is not a JWT")]
    NotAJwt,
    /// The header does not pass the policy (algorithm, `typ`, `crit`).
    #[error("the app_token header is refused: {0}")]
    Header(#[source] jose::Error),
    /// No configured key has the token's `kid`.
    #[error("the app_token names no known key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the app_token signature does not verify")]
    Signature,
    /// A claim is missing or wrong.
    #[error("the app_token claim `{0}` is missing or wrong")]
    Claim(&'static str),
    /// `exp` passed, `nbf` not reached, `iat` in the future.
    #[error("the app_token is not valid now: {0}")]
    Time(#[source] jose::ClaimError),
    /// Anonymous sessions are not allowed here.
    #[error("anonymous sessions are not allowed")]
    AnonymousRefused,
}

/// How the engine authenticates clients.
#[derive(Clone)]
pub struct AppTokens {
    keys: Vec<(PublicJwk, VerifyingKey)>,
    issuer: Option<String>,
    audience: String,
    anonymous: Option<Permissions>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for AppTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppTokens")
            .field("keys", &self.keys.len())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("anonymous", &self.anonymous)
            .finish()
    }
}

impl AppTokens {
    /// Session JWTs signed by one of `keys` (public JWKs with a `kid`), from `issuer`
    /// when set, for `audience`. Keys of an unusable type are an error.
    pub fn new(
        keys: &[PublicJwk],
        issuer: Option<String>,
        audience: impl Into<String>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, jose::JwkError> {
        let keys = keys
            .iter()
            .map(|k| Ok((k.clone(), VerifyingKey::from_jwk(k)?)))
            .collect::<Result<Vec<_>, jose::JwkError>>()?;
        Ok(AppTokens {
            keys,
            issuer,
            audience: audience.into(),
            anonymous: None,
            clock,
        })
    }

    /// Also admits anonymous sessions (`app_token` = [`ANONYMOUS`]) with `permissions`.
    #[must_use]
    pub fn with_anonymous(mut self, permissions: Permissions) -> Self {
        self.anonymous = Some(permissions);
        self
    }

    /// Whether anonymous sessions are admitted.
    pub fn anonymous(&self) -> Option<Permissions> {
        self.anonymous
    }

    /// Checks an `app_token`.
    pub fn check(&self, token: &str) -> Result<SessionClaims, AuthError> {
        if token == ANONYMOUS {
            return match self.anonymous {
                Some(permissions) => Ok(SessionClaims {
                    subject: None,
                    permissions,
                    expires_at: None,
                }),
                None => Err(AuthError::AnonymousRefused),
            };
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::NotAJwt);
        }
        let jws = CompactJws::parse(token).map_err(|_| AuthError::NotAJwt)?;
        let policy = JwsPolicy::new(&ALGORITHMS).with_typ(&[SESSION_TYP]);
        jws.header().check(&policy).map_err(AuthError::Header)?;
        let kid = jws.header().kid().ok_or(AuthError::UnknownKey)?;
        let (_, key) = self
            .keys
            .iter()
            .find(|(jwk, _)| jwk.kid() == Some(kid))
            .ok_or(AuthError::UnknownKey)?;
        let verified = jws.verify(key, &policy).map_err(|_| AuthError::Signature)?;
        let claims = verified.claims().map_err(|_| AuthError::Claim("payload"))?;
        jose::jwt::check_time(
            &claims,
            self.clock.as_ref(),
            &TimeRules {
                skew: SKEW,
                require_exp: true,
                require_iat: false,
                max_age: None,
            },
        )
        .map_err(AuthError::Time)?;
        if let Some(iss) = &self.issuer
            && claims.get("iss").and_then(Value::as_str) != Some(iss.as_str())
        {
            return Err(AuthError::Claim("iss"));
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == self.audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(&self.audience)),
            _ => false,
        };
        if !audience_ok {
            return Err(AuthError::Claim("aud"));
        }
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 256)
            .ok_or(AuthError::Claim("sub"))?;
        let mut permissions = Permissions::default();
        for p in claims
            .get("permissions")
            .and_then(Value::as_array)
            .ok_or(AuthError::Claim("permissions"))?
        {
            match p.as_str() {
                Some("receive") => permissions.receive = true,
                Some("present") => permissions.present = true,
                // Permissions for other roles (storage) are not this engine's concern.
                Some(_) => {}
                None => return Err(AuthError::Claim("permissions")),
            }
        }
        let expires_at = jose::jwt::numeric_date(&claims, "exp")
            .map_err(AuthError::Time)?
            .ok_or(AuthError::Claim("exp"))?;
        Ok(SessionClaims {
            subject: Some(subject.to_owned()),
            permissions,
            expires_at: Some(expires_at),
        })
    }
}
