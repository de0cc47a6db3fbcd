//! DPoP (RFC 9449) at the issuer: sender-constrained access tokens the standard way, and
//! how a protected resource (`/credential`, `/notification`) decides who may use a token.
//!
//! **Modes** (`[issuer.dpop] mode`):
//! - `off`: DPoP is neither advertised nor looked at; every access token is a bearer token.
//! - `offered` (default): the AS metadata lists `dpop_signing_alg_values_supported`; a token
//!   request with a valid `DPoP` proof gets a DPoP-bound token (`token_type: DPoP`, bound
//!   to the proof key's RFC 7638 thumbprint, `cnf.jkt`); one without gets a bearer token
//!   (`token_type: Bearer`), usable as OpenID4VCI 1.0 and RFC 6750 say.
//! - `required`: a token request without a `DPoP` proof is refused (`invalid_dpop_proof`).
//!
//! **Proof checks**: [`oid4vci::verify_dpop`] (signature, `typ`, `alg` allow-list, `jwk`,
//! `htm`, `htu` = the endpoint's public URL, `iat` window, `ath`), then the replay checks
//! through the single-use store: the server nonce, when `require_nonce` is set, is consumed
//! once (each response hands out the next one in `DPoP-Nonce`; a proof without a valid one
//! is answered `use_dpop_nonce` with a fresh nonce), and the proof `jti` is recorded once
//! for the proof's lifetime. The replay checks run after every signature and claim check,
//! so a proof refused for its content leaves no trace.
//!
//! **At a resource**: a DPoP-bound token must come as `Authorization: DPoP <token>` with a
//! proof by its key (`invalid_token` if it comes as `Bearer`, `invalid_dpop_proof` if the
//! proof is missing, invalid or by another key), answered 401 with `WWW-Authenticate: DPoP
//! error=…, algs=…`. A bearer token comes as `Authorization: Bearer <token>` (presenting it
//! with the `DPoP` scheme is `invalid_token`: it is not bound). In mode `required` a bearer
//! token (issued before the mode changed) is refused.
//!
//! The stricter policy of binding the token to the client attestation as well
//! (`[issuer.attestation] bind_access_token`) is checked after this, in
//! `caller::BoundGrant` (which runs both).

use crate::error::{HandlerError, Reason, Rejection};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use jose::random::Random;
use jose::{Algorithm, Clock};
use oid4vci::{
    DPOP_HEADER, DPOP_NONCE_HEADER, DpopPolicy, DpopRequest, ErrorCode, VerifiedDpop, verify_dpop,
};
use serde::{Deserialize, Serialize};
use service::config::{ConfigError, with};
use std::sync::Arc;
use std::time::Duration;
use store::{InsertOutcome, SingleUse};

/// Namespace of DPoP proof `jti`s in the single-use store.
pub(crate) const JTI_NAMESPACE: &str = "issuer.dpop_jti";
/// Namespace of server-issued DPoP nonces.
pub(crate) const NONCE_NAMESPACE: &str = "issuer.dpop_nonce";

/// Whether DPoP is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DpopMode {
    /// Not advertised, proofs ignored: bearer tokens only.
    Off,
    /// Advertised; a token request with a proof gets a DPoP-bound token, one without a
    /// bearer token.
    Offered,
    /// Every token request must carry a proof; only DPoP-bound tokens are issued.
    Required,
}

/// `[issuer.dpop]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct DpopConfig {
    /// `off`, `offered` (default) or `required`.
    pub mode: DpopMode,
    /// Accepted proof algorithms.
    #[serde(with = "with::non_empty")]
    pub algorithms: Vec<Algorithm>,
    /// Demand a server nonce (`DPoP-Nonce`) in every proof.
    pub require_nonce: bool,
    /// How old a proof's `iat` may be.
    #[serde(with = "with::positive_duration")]
    pub proof_max_age: Duration,
    /// Lifetime of a server nonce.
    #[serde(with = "with::positive_duration")]
    pub nonce_ttl: Duration,
}

impl Default for DpopConfig {
    fn default() -> Self {
        DpopConfig {
            mode: DpopMode::Offered,
            algorithms: vec![Algorithm::Es256],
            require_nonce: false,
            proof_max_age: Duration::from_secs(5 * 60),
            nonce_ttl: Duration::from_secs(5 * 60),
        }
    }
}

impl DpopConfig {
    /// What the types alone do not check; keys relative to the `[issuer]` section.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.mode == DpopMode::Off && self.require_nonce {
            // Silently ignoring it would leave an operator believing nonces are demanded.
            return Err(ConfigError::Incompatible {
                first: "dpop.mode".into(),
                second: "dpop.require_nonce".into(),
                reason: "DPoP nonces need DPoP: mode `off` uses no proofs",
            });
        }
        Ok(())
    }
}

/// How the `Authorization` header presents the access token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// `Bearer` (RFC 6750 §2.1).
    Bearer,
    /// `DPoP` (RFC 9449 §7.1).
    Dpop,
}

/// The access token of a resource request and its scheme. Exactly one `Authorization`
/// header, scheme compared case-insensitively, a non-empty token.
pub(crate) fn presented_token(headers: &HeaderMap) -> Result<(Scheme, &str), Rejection> {
    let mut values = headers.get_all(axum::http::header::AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (Some(v), None) => v.to_str().ok(),
        _ => None,
    };
    let parsed = value.and_then(|v| {
        let (scheme, rest) = v.split_once(' ')?;
        let token = rest.trim();
        if token.is_empty() {
            return None;
        }
        if scheme.eq_ignore_ascii_case("bearer") {
            Some((Scheme::Bearer, token))
        } else if scheme.eq_ignore_ascii_case("dpop") {
            Some((Scheme::Dpop, token))
        } else {
            None
        }
    });
    parsed.ok_or_else(|| {
        Rejection::new(ErrorCode::InvalidToken, Reason::AccessTokenMissing)
            .describe("an access token is required: `Authorization: Bearer <token>` or `Authorization: DPoP <token>` with a DPoP proof")
    })
}

/// DPoP for one issuer.
#[derive(Debug)]
pub(crate) struct Dpop {
    pub(crate) config: DpopConfig,
    skew: u64,
    single_use: Arc<dyn SingleUse>,
    random: Arc<dyn Random>,
    /// `DPoP algs="…"`: the challenge of a resource refusal.
    challenge: String,
}

/// A proof that passed every check but the replay checks.
#[derive(Debug)]
pub(crate) struct PendingProof(VerifiedDpop);

impl PendingProof {
    /// The thumbprint of the proof key.
    pub(crate) fn jkt(&self) -> &str {
        &self.0.jkt
    }
}

fn invalid(reason: Reason, text: impl Into<std::borrow::Cow<'static, str>>) -> Rejection {
    Rejection::new(ErrorCode::InvalidDpopProof, reason).describe(text)
}

impl Dpop {
    pub(crate) fn new(
        config: DpopConfig,
        skew: u64,
        single_use: Arc<dyn SingleUse>,
        random: Arc<dyn Random>,
    ) -> Self {
        let algs: Vec<&str> = config.algorithms.iter().map(|a| a.name()).collect();
        Dpop {
            challenge: format!("DPoP algs=\"{}\"", algs.join(" ")),
            config,
            skew,
            single_use,
            random,
        }
    }

    /// Whether DPoP is advertised and looked at.
    pub(crate) fn enabled(&self) -> bool {
        self.config.mode != DpopMode::Off
    }

    /// The `WWW-Authenticate` scheme and parameters of a refusal at a resource.
    pub(crate) fn challenge(&self, scheme: Scheme) -> String {
        match scheme {
            Scheme::Dpop => self.challenge.clone(),
            Scheme::Bearer if self.config.mode == DpopMode::Required => self.challenge.clone(),
            Scheme::Bearer => "Bearer".to_owned(),
        }
    }

    /// A fresh server nonce, stored for `nonce_ttl`, when nonces are demanded.
    pub(crate) async fn fresh_nonce(&self) -> Result<Option<String>, HandlerError> {
        if !self.enabled() || !self.config.require_nonce {
            return Ok(None);
        }
        let nonce = jose::random::token(self.random.as_ref(), 24)?;
        let _stored = self
            .single_use
            .put(
                NONCE_NAMESPACE,
                nonce.as_bytes(),
                b"1",
                self.config.nonce_ttl,
            )
            .await?;
        Ok(Some(nonce))
    }

    /// Adds a fresh `DPoP-Nonce` to `response` when nonces are demanded (RFC 9449 §8.2:
    /// the client uses the latest one in its next proof).
    pub(crate) async fn attach_nonce(&self, mut response: Response) -> Response {
        if response.headers().contains_key(DPOP_NONCE_HEADER) {
            return response;
        }
        match self.fresh_nonce().await {
            Ok(Some(n)) => {
                if let Ok(v) = HeaderValue::from_str(&n) {
                    response.headers_mut().insert(DPOP_NONCE_HEADER, v);
                }
                response
            }
            Ok(None) => response,
            Err(e) => {
                // The response stands; the client gets a nonce with `use_dpop_nonce` next.
                tracing::warn!(error = ?e, "could not issue a DPoP nonce");
                response
            }
        }
    }

    /// The single `DPoP` header, if any (`invalid_dpop_proof` when repeated or not text).
    fn header(headers: &HeaderMap) -> Result<Option<&str>, Rejection> {
        let mut values = headers.get_all(DPOP_HEADER).iter();
        match (values.next(), values.next()) {
            (None, _) => Ok(None),
            (Some(v), None) => v
                .to_str()
                .map(|s| Some(s.trim()))
                .map_err(|_| invalid(Reason::DpopHeaderMalformed, "the `DPoP` header is not text")),
            (Some(_), Some(_)) => Err(invalid(
                Reason::DpopHeaderMalformed,
                "the `DPoP` header must appear exactly once",
            )),
        }
    }

    fn verify(
        &self,
        proof: &str,
        url: &str,
        access_token: Option<&str>,
        clock: &dyn Clock,
    ) -> Result<PendingProof, Rejection> {
        let policy = DpopPolicy {
            algorithms: &self.config.algorithms,
            max_age: self.config.proof_max_age.as_secs(),
            skew: self.skew,
        };
        let request = DpopRequest {
            method: "POST",
            url,
            access_token,
        };
        verify_dpop(proof, &policy, &request, clock)
            .map(PendingProof)
            .map_err(|e| Rejection::new(e.code(), Reason::DpopProofInvalid).describe(e.to_string()))
    }

    /// The proof of a token request (`url`: the token endpoint), checked but not yet
    /// committed; `None` when there is none and none is required, or DPoP is off.
    pub(crate) fn token_proof(
        &self,
        headers: &HeaderMap,
        url: &str,
        clock: &dyn Clock,
    ) -> Result<Option<PendingProof>, Rejection> {
        if !self.enabled() {
            return Ok(None);
        }
        match Self::header(headers)? {
            None if self.config.mode == DpopMode::Required => Err(invalid(
                Reason::DpopRequired,
                "this issuer requires DPoP: send a `DPoP` proof with the token request",
            )),
            None => Ok(None),
            Some(p) => self.verify(p, url, None, clock).map(Some),
        }
    }

    /// The replay checks of a verified proof: the server nonce consumed (when demanded),
    /// the `jti` recorded. `use_dpop_nonce` carries a fresh nonce.
    pub(crate) async fn commit(&self, proof: &PendingProof) -> Result<(), HandlerError> {
        if self.config.require_nonce {
            let refused = match proof.0.nonce.as_deref() {
                None => Some(Reason::DpopNonceMissing),
                Some(n) => self
                    .single_use
                    .take(NONCE_NAMESPACE, n.as_bytes())
                    .await?
                    .is_none()
                    .then_some(Reason::DpopNonceUnknown),
            };
            if let Some(reason) = refused {
                let mut r = Rejection::new(ErrorCode::UseDpopNonce, reason).describe(
                    "the DPoP proof must carry the nonce sent in the `DPoP-Nonce` header",
                );
                if let Some(n) = self.fresh_nonce().await? {
                    r = r.with_dpop_nonce(n);
                }
                return Err(r.into());
            }
        }
        let ttl = self
            .config
            .proof_max_age
            .saturating_add(Duration::from_secs(self.skew.saturating_mul(2)));
        match self
            .single_use
            .insert_once(JTI_NAMESPACE, proof.0.jti.as_bytes(), ttl)
            .await?
        {
            InsertOutcome::Inserted => Ok(()),
            InsertOutcome::AlreadyPresent => {
                Err(invalid(Reason::DpopReplay, "the DPoP proof `jti` was already used").into())
            }
        }
    }

    /// Checks the DPoP side of a resource request: `bound` is the thumbprint the token is
    /// bound to (`None`: a bearer token), `url` the resource's public URL.
    pub(crate) async fn resource(
        &self,
        headers: &HeaderMap,
        scheme: Scheme,
        token: &str,
        bound: Option<&str>,
        url: &str,
        clock: &dyn Clock,
    ) -> Result<(), HandlerError> {
        let at = |r: Rejection| -> HandlerError { r.at_resource(self.challenge(scheme)).into() };
        match (bound, scheme) {
            (None, Scheme::Bearer) if self.config.mode == DpopMode::Required => {
                Err(at(Rejection::new(ErrorCode::InvalidToken, Reason::DpopBoundTokenRequired).describe(
                    "this issuer requires DPoP-bound access tokens: get a new one with a DPoP proof",
                )))
            }
            (None, Scheme::Bearer) => Ok(()),
            (None, Scheme::Dpop) => Err(at(Rejection::new(ErrorCode::InvalidToken, Reason::TokenNotDpopBound)
                .describe("the access token is not DPoP-bound: present it as `Bearer`"))),
            // The client must switch to DPoP: the challenge says so.
            (Some(_), Scheme::Bearer) => Err(Rejection::new(ErrorCode::InvalidToken, Reason::DpopBoundTokenAsBearer)
                .describe(
                    "the access token is DPoP-bound: present it as `Authorization: DPoP` with a DPoP proof",
                )
                .at_resource(self.challenge(Scheme::Dpop))
                .into()),
            (Some(jkt), Scheme::Dpop) => {
                let Some(proof) = Self::header(headers).map_err(at)? else {
                    return Err(at(invalid(
                        Reason::DpopProofMissing,
                        "the access token is DPoP-bound: send a `DPoP` proof",
                    )));
                };
                let proof = self.verify(proof, url, Some(token), clock).map_err(at)?;
                if proof.jkt() != jkt {
                    return Err(at(invalid(
                        Reason::DpopKeyMismatch,
                        "the DPoP proof is signed by another key than the access token is bound to",
                    )));
                }
                self.commit(&proof).await.map_err(|e| match e {
                    HandlerError::Rejected(r) => at(r),
                    other => other,
                })
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// `text` as the `[dpop]` table of an `[issuer]` section, read as `symbolon` does.
    fn parse(text: &str) -> Result<DpopConfig, ConfigError> {
        let table: toml::Table = toml::from_str(&format!("[dpop]\n{text}")).unwrap();
        let issuer: crate::config::IssuerConfig =
            service::config::deserialize(toml::Value::Table(table))?;
        Ok(service::config::Section::validated(issuer)?.dpop)
    }

    #[test]
    fn issue10_dpop_defaults_offer_dpop_without_nonces() {
        let c = parse("").unwrap();
        assert_eq!(c.mode, DpopMode::Offered);
        assert_eq!(c.algorithms, [Algorithm::Es256]);
        assert!(!c.require_nonce);
    }

    #[test]
    fn issue10_rejects_bad_dpop_settings_naming_the_key() {
        for (text, key) in [
            ("mode = \"maybe\"", "dpop.mode"),
            ("algorithms = []", "dpop.algorithms"),
            ("algorithms = [\"HS256\"]", "dpop.algorithms"),
            ("proof_max_age = \"0s\"", "dpop.proof_max_age"),
            ("nonce_ttl = \"soon\"", "dpop.nonce_ttl"),
            ("mode = \"off\"\nrequire_nonce = true", "dpop.require_nonce"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }
}
