//! Kubernetes evidence: the caller's projected service-account token, checked with the
//! TokenReview API (`POST /apis/authentication.k8s.io/v1/tokenreviews`, see
//! `specs.md` §6).
//!
//! The attester authenticates to the API server with its own service-account token (from
//! the standard in-cluster path, re-read every minute because the kubelet rotates it) and
//! trusts only the configured cluster CA. It asks for its own audience in
//! `spec.audiences` and requires the API server to echo it in `status.audiences`: a token
//! minted for another audience (the API server's, another service's) is refused even if
//! the server calls it authenticated. Only `system:serviceaccount:<ns>:<sa>` users whose
//! `<ns>:<sa>` is configured are admitted; the pod name and UID the review reports for
//! bound tokens go into the identity (and so into the audit log).
//!
//! An API server that cannot be reached, refuses the attester's own credentials or answers
//! something that is not a TokenReview is "could not check" ([`ReviewError`], 503), never
//! a refusal of the caller.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use client_attestation::EvidenceType;
use keys::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use service::http::{AddressPolicy, FetchError, GuardedClient, HttpSettings};

use super::Identity;
use crate::config::ServiceAccountRef;
use crate::error::AttestError;

/// The TokenReview resource path under the API server's base URL.
pub const TOKENREVIEW_PATH: &str = "/apis/authentication.k8s.io/v1/tokenreviews";
/// `extra` key of the pod a token is bound to.
pub const EXTRA_POD_NAME: &str = "authentication.kubernetes.io/pod-name";
/// `extra` key of that pod's UID.
pub const EXTRA_POD_UID: &str = "authentication.kubernetes.io/pod-uid";
/// How long the attester's own token is used before the file is read again.
const OWN_TOKEN_REFRESH: Duration = Duration::from_secs(60);
/// Largest TokenReview response read.
const MAX_REVIEW_BODY: usize = 64 * 1024;
/// Longest pod name or UID kept (Kubernetes names are at most 253 bytes).
const MAX_NAME: usize = 253;

/// The TokenReview call could not be made or answered (could not check).
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// The attester's own service-account token could not be read.
    #[error("cannot read the attester's service-account token {path}: {source}")]
    OwnToken {
        /// The token file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The attester's own token file is empty.
    #[error("the attester's service-account token {0} is empty")]
    OwnTokenEmpty(PathBuf),
    /// The HTTP call failed (connection, TLS, timeout, body too large).
    #[error(transparent)]
    Http(#[from] FetchError),
    /// The API server answered with an unexpected status (401/403: the attester's own
    /// credentials or RBAC are wrong).
    #[error("the API server answered HTTP {0}")]
    Status(u16),
    /// The answer is not a TokenReview.
    #[error("the API server's answer is not a TokenReview ({0})")]
    Malformed(&'static str),
}

/// Settings of the TokenReview client.
#[derive(Debug, Clone)]
pub struct ReviewSettings {
    /// The API server's base URL (`https://…`).
    pub api_url: String,
    /// The attester's own token file.
    pub token_file: PathBuf,
    /// The cluster CA certificates (DER): the only trust anchors.
    pub ca: Vec<Vec<u8>>,
    /// The audience the wallets' tokens must carry.
    pub audience: String,
    /// Admitted identities.
    pub allowed: Vec<ServiceAccountRef>,
    /// Timeout of one call.
    pub timeout: Duration,
    /// Destination policy: the API server is a cluster-internal address.
    pub policy: AddressPolicy,
}

/// Checks service-account tokens with the TokenReview API.
pub struct TokenReviewer {
    client: GuardedClient,
    url: String,
    token_file: PathBuf,
    own_token: Mutex<Option<(SecretString, Instant)>>,
    audience: String,
    allowed: Vec<ServiceAccountRef>,
}

impl std::fmt::Debug for TokenReviewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenReviewer")
            .field("url", &self.url)
            .field("audience", &self.audience)
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

impl TokenReviewer {
    /// A client for `settings`; fails if the CA certificates are unusable.
    pub fn new(settings: ReviewSettings) -> Result<Self, ReviewError> {
        let client = GuardedClient::new(HttpSettings {
            policy: settings.policy,
            connect_timeout: settings.timeout,
            timeout: settings.timeout,
            max_body: MAX_REVIEW_BODY,
            extra_roots: settings.ca,
            only_extra_roots: true,
        })?;
        let url = format!(
            "{}{TOKENREVIEW_PATH}",
            settings.api_url.trim_end_matches('/')
        );
        client.check_url(&url)?;
        Ok(TokenReviewer {
            client,
            url,
            token_file: settings.token_file,
            own_token: Mutex::new(None),
            audience: settings.audience,
            allowed: settings.allowed,
        })
    }

    /// The audience wallets' tokens must carry.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    fn own_token(&self) -> Result<SecretString, ReviewError> {
        let mut cached = self
            .own_token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((token, read_at)) = cached.as_ref()
            && read_at.elapsed() < OWN_TOKEN_REFRESH
        {
            return Ok(token.clone());
        }
        let text =
            std::fs::read_to_string(&self.token_file).map_err(|source| ReviewError::OwnToken {
                path: self.token_file.clone(),
                source,
            })?;
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(ReviewError::OwnTokenEmpty(self.token_file.clone()));
        }
        let token = SecretString::from(trimmed.to_owned());
        *cached = Some((token.clone(), Instant::now()));
        Ok(token)
    }

    /// Whether the attester's own token can be read (for readiness).
    pub fn own_token_readable(&self) -> bool {
        self.own_token().is_ok()
    }

    /// Reviews `token`: the caller's identity, or why it is refused.
    pub async fn review(&self, token: &SecretString) -> Result<Identity, AttestError> {
        let own = self.own_token()?;
        let body = json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token.expose_secret(), "audiences": [self.audience]},
        });
        let request = self
            .client
            .request(reqwest::Method::POST, &self.url)
            .map_err(ReviewError::from)?
            .bearer_auth(own.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&body);
        let answer = self.client.send(request).await.map_err(ReviewError::from)?;
        if !matches!(answer.status.as_u16(), 200 | 201) {
            return Err(ReviewError::Status(answer.status.as_u16()).into());
        }
        let review = jose::json::parse_value(&answer.body)
            .map_err(|_| ReviewError::Malformed("not JSON"))?;
        interpret(&review, &self.audience, &self.allowed)
    }
}

fn first_extra(user: &Value, key: &str) -> Option<String> {
    let v = user.get("extra")?.get(key)?;
    let s = match v {
        Value::Array(a) => a.first()?.as_str()?,
        Value::String(s) => s.as_str(),
        _ => return None,
    };
    (!s.is_empty() && s.len() <= MAX_NAME).then(|| s.to_owned())
}

/// Turns a TokenReview answer into the caller's identity, or the reason it is refused.
/// Pure, so every rule has a test of its own.
pub fn interpret(
    review: &Value,
    audience: &str,
    allowed: &[ServiceAccountRef],
) -> Result<Identity, AttestError> {
    if review.get("kind").and_then(Value::as_str) != Some("TokenReview") {
        return Err(ReviewError::Malformed("kind is not TokenReview").into());
    }
    let status = review
        .get("status")
        .and_then(Value::as_object)
        .ok_or(ReviewError::Malformed("no status"))?;
    let authenticated = match status.get("authenticated") {
        Some(Value::Bool(b)) => *b,
        // Kubernetes omits false booleans.
        None => false,
        Some(_) => {
            return Err(ReviewError::Malformed("status.authenticated is not a boolean").into());
        }
    };
    if !authenticated {
        if let Some(error) = status
            .get("error")
            .and_then(Value::as_str)
            .filter(|e| !e.is_empty())
        {
            tracing::info!(
                review_error = error,
                "TokenReview did not authenticate the token"
            );
        }
        return Err(AttestError::Unauthenticated);
    }
    // We asked for our audience: it must come back. An empty list means "valid for the API
    // server only", which is not us.
    let confirmed = status
        .get("audiences")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(audience)));
    if !confirmed {
        return Err(AttestError::AudienceNotConfirmed);
    }
    let user = status.get("user").ok_or(ReviewError::Malformed(
        "authenticated review without status.user",
    ))?;
    let username = user
        .get("username")
        .and_then(Value::as_str)
        .ok_or(ReviewError::Malformed("status.user.username missing"))?;
    let account = username
        .strip_prefix("system:serviceaccount:")
        .and_then(ServiceAccountRef::parse)
        .ok_or(AttestError::NotServiceAccount)?;
    if !allowed.contains(&account) {
        return Err(AttestError::IdentityNotAllowed {
            namespace: account.namespace,
            service_account: account.service_account,
        });
    }
    Ok(Identity {
        evidence: EvidenceType::Kubernetes,
        subject: username.to_owned(),
        pod_name: first_extra(user, EXTRA_POD_NAME),
        pod_uid: first_extra(user, EXTRA_POD_UID),
        namespace: Some(account.namespace),
        service_account: Some(account.service_account),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<ServiceAccountRef> {
        vec![ServiceAccountRef::parse("cvm-wallets:wallet-sa").unwrap()]
    }

    fn review(status: Value) -> Value {
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": status})
    }

    fn wallet_status() -> Value {
        json!({
            "authenticated": true,
            "user": {
                "username": "system:serviceaccount:cvm-wallets:wallet-sa",
                "uid": "e56b64e1",
                "groups": ["system:serviceaccounts", "system:serviceaccounts:cvm-wallets", "system:authenticated"],
                "extra": {
                    "authentication.kubernetes.io/pod-name": ["wallet-engine-7d9f-abcde"],
                    "authentication.kubernetes.io/pod-uid": ["2b1c-44"]
                }
            },
            "audiences": ["https://attester.example"]
        })
    }

    #[test]
    fn admits_the_configured_service_account_with_its_pod() {
        let id = interpret(
            &review(wallet_status()),
            "https://attester.example",
            &allowed(),
        )
        .unwrap();
        assert_eq!(id.subject, "system:serviceaccount:cvm-wallets:wallet-sa");
        assert_eq!(id.namespace.as_deref(), Some("cvm-wallets"));
        assert_eq!(id.service_account.as_deref(), Some("wallet-sa"));
        assert_eq!(id.pod_name.as_deref(), Some("wallet-engine-7d9f-abcde"));
        assert_eq!(id.pod_uid.as_deref(), Some("2b1c-44"));
    }

    #[test]
    fn rejects_unauthenticated_tokens() {
        for status in [
            json!({"authenticated": false, "error": "invalid bearer token"}),
            json!({"user": {}}),
        ] {
            assert!(matches!(
                interpret(&review(status), "https://attester.example", &allowed()),
                Err(AttestError::Unauthenticated)
            ));
        }
    }

    #[test]
    fn rejects_tokens_for_another_audience() {
        let mut s = wallet_status();
        s["audiences"] = json!([]);
        assert!(matches!(
            interpret(&review(s.clone()), "https://attester.example", &allowed()),
            Err(AttestError::AudienceNotConfirmed)
        ));
        s["audiences"] = json!(["https://kubernetes.default.svc"]);
        assert!(matches!(
            interpret(&review(s), "https://attester.example", &allowed()),
            Err(AttestError::AudienceNotConfirmed)
        ));
    }

    #[test]
    fn rejects_other_service_accounts_and_users() {
        let mut s = wallet_status();
        s["user"]["username"] = json!("system:serviceaccount:default:default");
        assert!(matches!(
            interpret(&review(s.clone()), "https://attester.example", &allowed()),
            Err(AttestError::IdentityNotAllowed { namespace, .. }) if namespace == "default"
        ));
        s["user"]["username"] = json!("kubernetes-admin");
        assert!(matches!(
            interpret(&review(s), "https://attester.example", &allowed()),
            Err(AttestError::NotServiceAccount)
        ));
    }

    #[test]
    fn rejects_answers_that_are_not_token_reviews_as_could_not_check() {
        for v in [
            json!({"kind": "Status", "status": "Failure"}),
            json!({"kind": "TokenReview"}),
            review(json!({"authenticated": "yes"})),
            review(json!({"authenticated": true, "audiences": ["https://attester.example"]})),
        ] {
            assert!(
                matches!(
                    interpret(&v, "https://attester.example", &allowed()),
                    Err(AttestError::ReviewUnavailable(ReviewError::Malformed(_)))
                ),
                "{v}"
            );
        }
    }
}
