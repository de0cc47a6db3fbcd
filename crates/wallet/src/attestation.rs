//! The wallet side of attestation, for the wallet core: a CI-Key generated when the
//! client is made (kept in memory only, never written anywhere), an attestation for it
//! obtained from the attester and cached until shortly before it expires, and a fresh
//! PoP JWT per token request.
//!
//! ```text
//! let client = AttestationClient::new(settings, http, clock, random)?;
//! let h = client.headers("https://issuer.example", None).await?;   // attestation + PoP
//! // POST /token with OAuth-Client-Attestation: h.attestation,
//! //                  OAuth-Client-Attestation-PoP: h.pop
//! // 400 use_attestation_challenge + OAuth-Client-Attestation-Challenge: c
//! //   → client.headers(aud, challenge_from(&response_headers).as_deref()) and retry
//! ```
//!
//! Outbound calls go through the SSRF-guarded client; the attester is an operator-configured
//! in-cluster address, so its policy is normally `AddressPolicy::AllowPrivate`
//! (`AllowLoopback` for the one-machine setup).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use client_attestation::proof::sign_challenge_response;
use client_attestation::random::{self, Random};
use client_attestation::{ATTESTATION_TYP, CHALLENGE_HEADER, PopClaims};
use http_client::{FetchError, GuardedClient};
use jose::{Algorithm, Clock, CompactJws, PublicJwk, SignError, Signer, SoftwareSigner};
use serde_json::{Value, json};

/// Default lifetime of a PoP JWT's `exp` (for draft -07 servers).
const POP_LIFETIME: i64 = 60;
/// Default margin before `exp` at which a cached attestation is replaced.
const DEFAULT_REFRESH_BEFORE: Duration = Duration::from_secs(300);

/// How the wallet instance authenticates to the attester.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvidenceSource {
    /// Its projected service-account token, read from this file at every request (the
    /// kubelet rotates it).
    Kubernetes {
        /// The token file.
        token_file: PathBuf,
    },
    /// Development evidence (accepted only by attesters configured for it).
    Dev,
}

/// Settings of an [`AttestationClient`].
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Base URL of the attester role (`http://cvm-attester.cvm-security.svc:5000`,
    /// `http://127.0.0.1:8080/attester`).
    pub attester_url: String,
    /// The attester identifier (its `iss`, the `aud` of challenge responses); default:
    /// `attester_url`.
    pub attester_id: Option<String>,
    /// This wallet's `client_id` (the attestation's `sub`).
    pub client_id: String,
    /// The evidence sent.
    pub evidence: EvidenceSource,
    /// Replace a cached attestation this long before it expires (at most half its
    /// lifetime).
    pub refresh_before: Duration,
}

impl ClientSettings {
    /// Settings with the default refresh margin (five minutes).
    pub fn new(
        attester_url: impl Into<String>,
        client_id: impl Into<String>,
        evidence: EvidenceSource,
    ) -> Self {
        ClientSettings {
            attester_url: attester_url.into(),
            attester_id: None,
            client_id: client_id.into(),
            evidence,
            refresh_before: DEFAULT_REFRESH_BEFORE,
        }
    }
}

/// Why an attestation or PoP could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The HTTP call failed or was refused by the guard.
    #[error(transparent)]
    Http(#[from] FetchError),
    /// The attester refused (its `error` code, when it sent one).
    #[error("the attester answered HTTP {status} ({})", error.as_deref().unwrap_or("no error code"))]
    Refused {
        /// HTTP status.
        status: u16,
        /// The `error` member of the answer.
        error: Option<String>,
        /// `Retry-After` of a 429, in seconds.
        retry_after: Option<u64>,
    },
    /// The attester's answer is not what the protocol says.
    #[error("the attester's answer is malformed: {0}")]
    Response(&'static str),
    /// The service-account token could not be read.
    #[error("cannot read the service-account token {path}: {source}")]
    Evidence {
        /// The token file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Signing with the CI-Key failed.
    #[error("CI-Key signing failed: {0}")]
    Sign(#[from] SignError),
    /// The random generator failed.
    #[error(transparent)]
    Random(#[from] random::RandomError),
}

/// An attestation and a fresh PoP, ready for the two request headers.
#[derive(Debug, Clone)]
pub struct AttestationHeaders {
    /// `OAuth-Client-Attestation`.
    pub attestation: Arc<str>,
    /// `OAuth-Client-Attestation-PoP`.
    pub pop: String,
}

impl AttestationHeaders {
    /// Adds both headers to a request.
    pub fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request
            .header(client_attestation::ATTESTATION_HEADER, &*self.attestation)
            .header(client_attestation::POP_HEADER, &self.pop)
    }
}

#[derive(Debug, Clone)]
struct Cached {
    jwt: Arc<str>,
    iat: i64,
    exp: i64,
}

/// A wallet instance's attestation client. Share it (`Arc`) across the instance's flows.
pub struct AttestationClient {
    http: GuardedClient,
    settings: ClientSettings,
    attester_id: String,
    ci_key: SoftwareSigner,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    cached: tokio::sync::Mutex<Option<Cached>>,
}

impl std::fmt::Debug for AttestationClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttestationClient")
            .field("attester", &self.settings.attester_url)
            .field("client_id", &self.settings.client_id)
            .field("ci_key", &self.ci_key.public_jwk().kid())
            .finish_non_exhaustive()
    }
}

fn refused(status: u16, body: &[u8], headers: &reqwest::header::HeaderMap) -> ClientError {
    let error = jose::json::parse_value(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .filter(|e| e.len() <= 64 && e.bytes().all(|b| b.is_ascii_graphic()));
    let retry_after = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    ClientError::Refused {
        status,
        error,
        retry_after,
    }
}

impl AttestationClient {
    /// A client with a new ES256 CI-Key.
    pub fn new(
        settings: ClientSettings,
        http: GuardedClient,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Result<Self, ClientError> {
        let key = SoftwareSigner::generate(Algorithm::Es256)?;
        let kid = key.public_jwk().thumbprint();
        let attester_url = settings.attester_url.trim_end_matches('/').to_owned();
        let attester_id = settings
            .attester_id
            .clone()
            .unwrap_or_else(|| attester_url.clone());
        Ok(AttestationClient {
            http,
            settings: ClientSettings {
                attester_url,
                ..settings
            },
            attester_id,
            ci_key: key.with_kid(kid),
            clock,
            random,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    /// The CI-Key's public JWK (`kid` = its thumbprint).
    pub fn ci_jwk(&self) -> &PublicJwk {
        self.ci_key.public_jwk()
    }

    /// The `client_id`.
    pub fn client_id(&self) -> &str {
        &self.settings.client_id
    }

    fn evidence(&self) -> Result<Value, ClientError> {
        match &self.settings.evidence {
            EvidenceSource::Dev => Ok(json!({"type": "dev"})),
            EvidenceSource::Kubernetes { token_file } => {
                let token = std::fs::read_to_string(token_file).map_err(|source| {
                    ClientError::Evidence {
                        path: token_file.clone(),
                        source,
                    }
                })?;
                Ok(json!({"type": "kubernetes", "token": token.trim()}))
            }
        }
    }

    async fn post_json(&self, path: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.settings.attester_url);
        let mut request = self
            .http
            .request(reqwest::Method::POST, &url)?
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = body {
            request = request.json(b);
        }
        let answer = self.http.send(request).await?;
        if !answer.status.is_success() {
            return Err(refused(
                answer.status.as_u16(),
                &answer.body,
                &answer.headers,
            ));
        }
        jose::json::parse_value(&answer.body).map_err(|_| ClientError::Response("not JSON"))
    }

    /// Asks the attester for a new attestation (bypassing the cache).
    async fn obtain(&self) -> Result<Cached, ClientError> {
        let challenge = self.post_json("/v1/challenge", None).await?;
        let challenge = challenge
            .get("attestation_challenge")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .ok_or(ClientError::Response("no attestation_challenge"))?;
        let response = sign_challenge_response(
            &self.ci_key,
            challenge,
            &self.attester_id,
            &self.settings.client_id,
            self.clock.now(),
        )?;
        let body = json!({
            "client_id": self.settings.client_id,
            "ci_jwk": self.ci_key.public_jwk().bare().to_value(),
            "challenge_response": response,
            "evidence": self.evidence()?,
        });
        let answer = self.post_json("/v1/attestations", Some(&body)).await?;
        let jwt = answer
            .get("client_attestation")
            .and_then(Value::as_str)
            .ok_or(ClientError::Response("no client_attestation"))?;
        self.check(jwt)
    }

    /// Checks that the attestation is one for this instance (the signature is the
    /// issuer's to check against the attester's key).
    fn check(&self, jwt: &str) -> Result<Cached, ClientError> {
        let jws = CompactJws::parse(jwt).map_err(|_| ClientError::Response("not a JWS"))?;
        if jws.header().typ() != Some(ATTESTATION_TYP) {
            return Err(ClientError::Response("wrong typ"));
        }
        let claims = jws
            .claims_unverified()
            .map_err(|_| ClientError::Response("claims are not a JSON object"))?;
        if claims.get("sub").and_then(Value::as_str) != Some(self.settings.client_id.as_str()) {
            return Err(ClientError::Response("sub is not this client_id"));
        }
        let cnf = claims
            .get("cnf")
            .and_then(|c| c.get("jwk"))
            .and_then(|j| PublicJwk::from_value(j).ok())
            .ok_or(ClientError::Response("no cnf.jwk"))?;
        if !cnf.same_key(self.ci_key.public_jwk()) {
            return Err(ClientError::Response(
                "cnf.jwk is not this instance's CI-Key",
            ));
        }
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(ClientError::Response("no exp"))?;
        let iat = claims
            .get("iat")
            .and_then(Value::as_i64)
            .unwrap_or_else(|| self.clock.now());
        Ok(Cached {
            jwt: Arc::from(jwt),
            iat,
            exp,
        })
    }

    fn fresh(&self, c: &Cached) -> bool {
        let lifetime = c.exp.saturating_sub(c.iat).max(0);
        let margin = i64::try_from(self.settings.refresh_before.as_secs())
            .unwrap_or(i64::MAX)
            .min(lifetime / 2);
        self.clock.now() < c.exp.saturating_sub(margin)
    }

    /// The cached attestation, or a new one when there is none or it is about to expire.
    /// Concurrent callers share one refresh.
    pub async fn attestation(&self) -> Result<Arc<str>, ClientError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && self.fresh(c)
        {
            return Ok(Arc::clone(&c.jwt));
        }
        let new = self.obtain().await?;
        let jwt = Arc::clone(&new.jwt);
        *cached = Some(new);
        Ok(jwt)
    }

    /// Drops the cached attestation and obtains a new one (after a server said
    /// `use_fresh_attestation`).
    pub async fn refresh(&self) -> Result<Arc<str>, ClientError> {
        let mut cached = self.cached.lock().await;
        let new = self.obtain().await?;
        let jwt = Arc::clone(&new.jwt);
        *cached = Some(new);
        Ok(jwt)
    }

    /// A fresh PoP JWT for `audience` (the authorization server's issuer identifier), with
    /// the server's `challenge` when it demanded one. It also carries the draft -07 claims
    /// (`iss` = client_id, `exp`), which draft -10 servers ignore.
    pub fn pop(&self, audience: &str, challenge: Option<&str>) -> Result<String, ClientError> {
        let now = self.clock.now();
        let claims = PopClaims {
            aud: audience.to_owned(),
            jti: random::token(&*self.random, 16)?,
            iat: now,
            challenge: challenge.map(str::to_owned),
            legacy: Some((
                self.settings.client_id.clone(),
                now.saturating_add(POP_LIFETIME),
            )),
        };
        Ok(claims.sign(&self.ci_key)?)
    }

    /// The attestation (cached) and a fresh PoP, for one token request.
    pub async fn headers(
        &self,
        audience: &str,
        challenge: Option<&str>,
    ) -> Result<AttestationHeaders, ClientError> {
        Ok(AttestationHeaders {
            attestation: self.attestation().await?,
            pop: self.pop(audience, challenge)?,
        })
    }
}

/// The challenge a server sent in `OAuth-Client-Attestation-Challenge` (with a
/// `use_attestation_challenge` error, or on any response).
pub fn challenge_from(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get(CHALLENGE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
}

/// Fetches a challenge from an authorization server's `challenge_endpoint` (ABCA §6:
/// `POST` → `{"attestation_challenge": …}`).
pub async fn fetch_challenge(http: &GuardedClient, endpoint: &str) -> Result<String, ClientError> {
    let request = http
        .request(reqwest::Method::POST, endpoint)?
        .header(reqwest::header::ACCEPT, "application/json");
    let answer = http.send(request).await?;
    if !answer.status.is_success() {
        return Err(refused(
            answer.status.as_u16(),
            &answer.body,
            &answer.headers,
        ));
    }
    jose::json::parse_value(&answer.body)
        .ok()
        .and_then(|v| {
            v.get("attestation_challenge")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .filter(|c| !c.is_empty())
        .ok_or(ClientError::Response("no attestation_challenge"))
}
