//! `POST /credential` (§8): one SD-JWT VC (`dc+sd-jwt`) per proof key, up to
//! `batch_size`.
//!
//! Checks, in order, each answered with the code the spec names:
//! 1. the access token (`invalid_token`, 401): as `Bearer`, or as `DPoP` with a proof by
//!    the key it is bound to (`invalid_dpop_proof`, `use_dpop_nonce`, 401 with
//!    `WWW-Authenticate: DPoP`; see [`crate::dpop`]); and, only under the stricter
//!    `[issuer.attestation] bind_access_token` policy, the client attestation and a fresh
//!    PoP by the client instance key (see [`crate::auth`]) — all by the
//!    `caller::BoundGrant` extractor, before the body is read;
//! 2. the body: JSON, or a JWE (`application/jwt`) decrypted with the issuer's key
//!    agreement key; `credential_response_encryption` is accepted only inside an encrypted
//!    request (§8.2) and must name an offered `enc` (`invalid_encryption_parameters`);
//!    encryption required by configuration is enforced;
//! 3. the configuration: known (`unknown_credential_configuration`), covered by the token
//!    (`insufficient_scope`); `credential_identifier` is never valid here since the token
//!    response carries no `authorization_details` (`unknown_credential_identifier`);
//! 4. the proofs: present, `jwt`, at most `batch_size`, each valid per Appendix F and for a
//!    distinct key (`invalid_proof`); then each distinct `c_nonce` consumed once
//!    (`invalid_nonce`).
//!
//! Only then is anything created: random free status entries are drawn, the credentials
//! signed, and their rows inserted — one statement for one credential, one transaction
//! for a batch. A row whose status entry another replica took meanwhile makes the issuer
//! draw again; any failure rolls back, so nothing is issued and no index is consumed.

use crate::caller::{BoundGrant, CredentialEndpoint};
use crate::db::NewCredential;
use crate::error::{Failure, HandlerResult, Reason, Rejection};
use crate::metadata::disclosable;
use crate::nonce::NONCE_NAMESPACE;
use crate::state::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use jose::jwe::DecryptPolicy;
use jose::random::token;
use oid4vci::credential::JWT_MEDIA_TYPE;
use oid4vci::{
    CredentialRequest, CredentialResponse, CredentialTarget, ErrorCode, ProofPolicy, Proofs,
    ResponseEncryption, verify_proof,
};
use sd_jwt::{ClaimPath, Frame, PathElement};
use serde_json::{Map, Value, json};

/// How many times a batch is re-drawn when another replica took one of its entries.
const ALLOCATION_ATTEMPTS: usize = 8;

/// The value at `path` (object member names from the top), if present.
pub(crate) fn lookup<'a>(claims: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut value = claims.get(first)?;
    for name in rest {
        value = value.as_object()?.get(name)?;
    }
    Some(value)
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
}

fn encryption(reason: Reason, text: &'static str) -> Rejection {
    Rejection::new(ErrorCode::InvalidEncryptionParameters, reason).describe(text)
}

fn proof(reason: Reason, text: impl Into<std::borrow::Cow<'static, str>>) -> Rejection {
    Rejection::new(ErrorCode::InvalidProof, reason).describe(text)
}

/// Parses the body, plain or encrypted, and applies the encryption rules.
fn parse_request(
    state: &State,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<CredentialRequest, Rejection> {
    let enc = &state.config.encryption;
    let request = match media_type(headers).as_deref() {
        Some("application/json") => {
            if enc.request_required {
                return Err(encryption(
                    Reason::RequestEncryptionRequired,
                    "this issuer requires encrypted credential requests",
                ));
            }
            let r = CredentialRequest::from_json(body).map_err(|e| {
                Rejection::new(e.code(), Reason::CredentialRequestMalformed).describe(e.to_string())
            })?;
            if r.credential_response_encryption.is_some() {
                return Err(encryption(
                    Reason::ResponseEncryptionInPlainRequest,
                    "`credential_response_encryption` must be sent in an encrypted request (application/jwt)",
                ));
            }
            r
        }
        Some(JWT_MEDIA_TYPE) => {
            let key = state.encryption_key.as_ref().ok_or_else(|| {
                encryption(
                    Reason::RequestEncryptionNotOffered,
                    "this issuer does not accept encrypted requests",
                )
            })?;
            let text = std::str::from_utf8(body)
                .map_err(|_| encryption(Reason::JweNotText, "the JWE is not text"))?;
            let mut policy = DecryptPolicy::new(&enc.enc);
            if enc.zip {
                policy = policy.with_zip();
            }
            CredentialRequest::from_jwe(text, key, &policy).map_err(|e| {
                Rejection::new(e.code(), Reason::CredentialRequestMalformed).describe(e.to_string())
            })?
        }
        _ => {
            return Err(Rejection::new(
                ErrorCode::InvalidCredentialRequest,
                Reason::CredentialRequestMediaType,
            )
            .describe("the credential request must be application/json or application/jwt"));
        }
    };
    match &request.credential_response_encryption {
        None if enc.response_required => Err(encryption(
            Reason::ResponseEncryptionRequired,
            "this issuer requires `credential_response_encryption`",
        )),
        Some(_) if !enc.enabled => Err(encryption(
            Reason::ResponseEncryptionNotOffered,
            "this issuer does not encrypt responses",
        )),
        Some(e) if !enc.enc.contains(&e.enc) => Err(encryption(
            Reason::EncNotOffered,
            "this `enc` is not offered",
        )),
        Some(e) if e.zip && !enc.zip => {
            Err(encryption(Reason::ZipNotOffered, "`zip` is not offered"))
        }
        _ => Ok(request),
    }
}

/// Answers a credential request (`POST /credential`, handled in `routes::wallet`) under a
/// grant whose access token (and binding) its extractor checked.
pub(crate) async fn issue(
    state: &State,
    grant: &BoundGrant<CredentialEndpoint>,
    headers: &HeaderMap,
    body: &[u8],
) -> HandlerResult<Response> {
    let request = parse_request(state, headers, body)?;

    let configuration_id = match &request.target {
        CredentialTarget::Identifier(_) => {
            return Err(Rejection::new(ErrorCode::UnknownCredentialIdentifier, Reason::CredentialIdentifierUnsupported)
                .describe("this issuer hands out no credential identifiers: use `credential_configuration_id`")
                .into());
        }
        CredentialTarget::ConfigurationId(id) => id,
    };
    let Some(config) = state.config.credentials.get(configuration_id) else {
        return Err(Rejection::new(
            ErrorCode::UnknownCredentialConfiguration,
            Reason::UnknownConfiguration,
        )
        .into());
    };
    let granted: Vec<String> =
        serde_json::from_str(&grant.configuration_ids).map_err(|_| Failure::Corrupt("offer"))?;
    if !granted.iter().any(|g| g == configuration_id) {
        return Err(Rejection::new(
            ErrorCode::InsufficientScope,
            Reason::ConfigurationNotGranted,
        )
        .describe("the access token does not cover this credential configuration")
        .into());
    }

    let jwts = match &request.proofs {
        None => return Err(proof(Reason::ProofMissing, "`proofs` is required").into()),
        Some(Proofs::Attestation(_)) => {
            return Err(proof(
                Reason::ProofTypeUnsupported,
                "the `attestation` proof type is not supported",
            )
            .into());
        }
        Some(Proofs::Jwt(list)) => list,
    };
    if jwts.len() > state.settings.batch_size {
        return Err(proof(
            Reason::TooManyProofs,
            format!("at most {} proofs per request", state.settings.batch_size),
        )
        .into());
    }
    let policy = ProofPolicy {
        audience: &state.settings.identifier,
        algorithms: &config.proof_algorithms,
        max_age: state.settings.proof_max_age,
        skew: state.settings.skew,
        client_id: Some(&grant.client_id),
        require_nonce: true,
    };
    let mut holders = Vec::with_capacity(jwts.len());
    for jwt in jwts {
        let p = verify_proof(jwt, &policy, state.clock.as_ref())
            .map_err(|e| proof(Reason::ProofInvalid, e.to_string()))?;
        let jkt = p.key.thumbprint();
        if holders.iter().any(|(k, _, _): &(String, _, _)| *k == jkt) {
            return Err(proof(
                Reason::ProofKeyRepeated,
                "each proof must be for a distinct key",
            )
            .into());
        }
        holders.push((jkt, p.key, p.nonce));
    }
    let mut nonces: Vec<&str> = holders
        .iter()
        .filter_map(|(_, _, n)| n.as_deref())
        .collect();
    nonces.sort_unstable();
    nonces.dedup();
    for n in nonces {
        if state
            .single_use
            .take(NONCE_NAMESPACE, n.as_bytes())
            .await?
            .is_none()
        {
            return Err(
                Rejection::new(ErrorCode::InvalidNonce, Reason::NonceUnknown)
                    .describe("the c_nonce is unknown, expired or already used: fetch a new one")
                    .into(),
            );
        }
    }

    let claims: Map<String, Value> =
        serde_json::from_str(&grant.claims).map_err(|_| Failure::Corrupt("offer claims"))?;
    let frame = Frame::from_paths(
        disclosable(config)
            .filter(|c| lookup(&claims, &c.path).is_some())
            .map(|c| {
                ClaimPath::new(c.path.iter().cloned().map(PathElement::Name).collect())
                    .unwrap_or_else(|_| ClaimPath::claim(c.path.join(".")))
            }),
    );
    let notification_id = token(state.random.as_ref(), 16)?;
    let validity = i64::try_from(config.validity.as_secs()).unwrap_or(i64::MAX);

    let mut issued = None;
    for _ in 0..ALLOCATION_ATTEMPTS {
        let now = state.now();
        let key = state.keys.current(now).await?;
        let entries = state
            .status
            .allocate(holders.len(), state.random.as_ref(), now)
            .await?;
        let mut credentials = Vec::with_capacity(holders.len());
        let mut rows = Vec::with_capacity(holders.len());
        for ((jkt, holder, _), entry) in holders.iter().zip(&entries) {
            let mut payload = Map::with_capacity(claims.len() + 6);
            payload.insert("iss".into(), state.settings.identifier.clone().into());
            payload.insert("iat".into(), now.into());
            payload.insert("exp".into(), now.saturating_add(validity).into());
            payload.insert("vct".into(), config.vct.clone().into());
            payload.insert("cnf".into(), json!({ "jwk": holder.to_value() }));
            payload.insert(
                "status".into(),
                json!({"status_list": {"idx": entry.idx, "uri": state.status.uri(&entry.list)}}),
            );
            for (k, v) in &claims {
                payload.insert(k.clone(), v.clone());
            }
            let sd = sd_jwt::vc::issue(
                payload,
                &frame,
                key.signer.as_ref(),
                state.random.as_ref(),
                None,
            )?;
            credentials.push(Value::String(sd.into_string()));
            rows.push(NewCredential {
                id: token(state.random.as_ref(), 16)?,
                offer_id: grant.id.clone(),
                notification_id: notification_id.clone(),
                configuration_id: configuration_id.clone(),
                holder_jkt: jkt.clone(),
                status_list: entry.list.clone(),
                status_idx: entry.idx,
                kid: key.kid.clone(),
                issued_at: now,
                expires_at: now.saturating_add(validity),
            });
        }
        match state.writers.record(rows).await {
            Ok(true) => {
                issued = Some(credentials);
                break;
            }
            // Another replica took one of the entries: draw again.
            Ok(false) => state.status.forget().await,
            Err(e) => {
                state.status.forget().await;
                return Err(e.into());
            }
        }
    }
    let Some(credentials) = issued else {
        return Err(Failure::StatusIndexExhausted.into());
    };
    metrics::counter!("issuer_credentials_issued_total").increment(credentials.len() as u64);
    tracing::info!(offer_id = %grant.id, count = credentials.len(), configuration = %configuration_id, "credentials issued");

    let response = CredentialResponse::Issued {
        credentials,
        notification_id: Some(notification_id),
    };
    respond(&response, request.credential_response_encryption.as_ref())
}

fn respond(
    response: &CredentialResponse,
    encryption: Option<&ResponseEncryption>,
) -> HandlerResult<Response> {
    let json = response.to_value().to_string();
    // `Cache-Control: no-store` comes from the wallet routes' layer.
    let http = match encryption {
        None => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Some(e) => {
            let jwe = e.encrypt(json.as_bytes())?;
            ([(header::CONTENT_TYPE, JWT_MEDIA_TYPE)], jwe).into_response()
        }
    };
    Ok(http)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_walks_objects_only() {
        let claims: Map<String, Value> = serde_json::from_value(json!({
            "name": "Ada", "address": {"locality": "Koeln"}, "list": [1]
        }))
        .unwrap();
        assert_eq!(lookup(&claims, &["name".into()]), Some(&json!("Ada")));
        assert_eq!(
            lookup(&claims, &["address".into(), "locality".into()]),
            Some(&json!("Koeln"))
        );
        assert_eq!(lookup(&claims, &["list".into(), "0".into()]), None);
        assert_eq!(lookup(&claims, &[]), None);
    }
}
