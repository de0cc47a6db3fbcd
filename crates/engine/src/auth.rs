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
use std::time::{Duration, Instant};

use http_client::GuardedClient;
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
    /// The auth role's JWK Set could not be fetched or read, and the token names a key
    /// not known from an earlier fetch.
    #[error("the session keys could not be fetched: {0}")]
    KeysUnavailable(String),
}

/// How often the auth role's JWK Set is fetched again, so a rotated-out key stops being
/// accepted.
pub const JWKS_REFRESH: Duration = Duration::from_secs(300);
/// The least time between two fetches, whatever the tokens name (an unknown `kid` does
/// not make every handshake a request to the auth role).
pub const JWKS_MIN_INTERVAL: Duration = Duration::from_secs(10);

type Keys = Vec<(PublicJwk, VerifyingKey)>;

/// The auth role's JWK Set at a URL, fetched when first needed, again every
/// [`JWKS_REFRESH`], and when a token names a key the last fetch did not have (at most
/// every [`JWKS_MIN_INTERVAL`]). A failed fetch keeps the keys of the last good one.
pub struct RemoteJwks {
    url: String,
    http: GuardedClient,
    refresh: Duration,
    min_interval: Duration,
    state: tokio::sync::Mutex<Fetched>,
}

#[derive(Default)]
struct Fetched {
    keys: Arc<Keys>,
    fetched: Option<Instant>,
    attempted: Option<Instant>,
    error: Option<String>,
}

impl std::fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJwks")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The usable keys of a JWK Set document: public keys with a `kid`; others are skipped.
pub fn keys_of(document: &[u8]) -> Result<Keys, String> {
    let set = jose::json::parse_value(document).map_err(|_| "not JSON".to_owned())?;
    let Some(serde_json::Value::Array(list)) = set.get("keys") else {
        return Err("not a JWK Set: no `keys` array".into());
    };
    let keys: Keys = list
        .iter()
        .filter(|k| k.get("d").is_none())
        .filter_map(|k| PublicJwk::from_value(k).ok())
        .filter(|k| k.kid().is_some_and(|kid| !kid.is_empty()))
        .filter_map(|k| VerifyingKey::from_jwk(&k).ok().map(|v| (k, v)))
        .collect();
    if keys.is_empty() {
        return Err("the JWK Set holds no usable key with a `kid`".into());
    }
    Ok(keys)
}

impl RemoteJwks {
    /// The JWK Set at `url`, fetched through `http`.
    pub fn new(url: impl Into<String>, http: GuardedClient) -> Self {
        RemoteJwks {
            url: url.into(),
            http,
            refresh: JWKS_REFRESH,
            min_interval: JWKS_MIN_INTERVAL,
            state: tokio::sync::Mutex::new(Fetched::default()),
        }
    }

    /// Other fetch intervals than [`JWKS_REFRESH`] and [`JWKS_MIN_INTERVAL`] (tests).
    #[must_use]
    pub fn with_intervals(mut self, refresh: Duration, min_interval: Duration) -> Self {
        self.refresh = refresh;
        self.min_interval = min_interval;
        self
    }

    /// The keys to check a token naming `kid` with.
    async fn keys(&self, kid: &str) -> Result<Arc<Keys>, AuthError> {
        let mut state = self.state.lock().await;
        let known = state.keys.iter().any(|(k, _)| k.kid() == Some(kid));
        let stale = state.fetched.is_none_or(|t| t.elapsed() >= self.refresh);
        let may_fetch = state
            .attempted
            .is_none_or(|t| t.elapsed() >= self.min_interval);
        if (stale || !known) && may_fetch {
            state.attempted = Some(Instant::now());
            let fetched = self
                .http
                .get(&self.url, "application/json")
                .await
                .map_err(|e| e.to_string())
                .and_then(|f| {
                    if f.status.is_success() {
                        keys_of(&f.body)
                    } else {
                        Err(format!("HTTP {}", f.status.as_u16()))
                    }
                });
            match fetched {
                Ok(keys) => {
                    state.keys = Arc::new(keys);
                    state.fetched = Some(Instant::now());
                    state.error = None;
                }
                Err(e) => {
                    tracing::warn!(url = %self.url, error = %e, "the session keys could not be fetched");
                    state.error = Some(e);
                }
            }
        }
        if state.keys.is_empty()
            && let Some(e) = &state.error
        {
            return Err(AuthError::KeysUnavailable(e.clone()));
        }
        Ok(Arc::clone(&state.keys))
    }
}

/// Where the session keys come from.
#[derive(Clone, Debug)]
enum KeySource {
    Fixed(Arc<Keys>),
    Remote(Arc<RemoteJwks>),
}

/// How the engine authenticates clients.
#[derive(Clone)]
pub struct AppTokens {
    keys: KeySource,
    issuer: Option<String>,
    audience: String,
    anonymous: Option<Permissions>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for AppTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppTokens")
            .field("keys", &self.keys)
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
            keys: KeySource::Fixed(Arc::new(keys)),
            issuer,
            audience: audience.into(),
            anonymous: None,
            clock,
        })
    }

    /// Session JWTs signed by a key of the auth role's JWK Set at `jwks` (see
    /// [`RemoteJwks`]), from `issuer` when set, for `audience`.
    pub fn remote(
        jwks: RemoteJwks,
        issuer: Option<String>,
        audience: impl Into<String>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        AppTokens {
            keys: KeySource::Remote(Arc::new(jwks)),
            issuer,
            audience: audience.into(),
            anonymous: None,
            clock,
        }
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
    pub async fn check(&self, token: &str) -> Result<SessionClaims, AuthError> {
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
        let keys = match &self.keys {
            KeySource::Fixed(keys) => Arc::clone(keys),
            KeySource::Remote(jwks) => jwks.keys(kid).await?,
        };
        let (_, key) = keys
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
