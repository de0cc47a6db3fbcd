//! `POST /token`: the pre-authorized code grant (§6) with Attestation-Based Client
//! Authentication.
//!
//! Order of checks, so that a refused request changes nothing it should not:
//! 1. the DPoP proof, when DPoP is offered and one is sent or DPoP is required
//!    (`invalid_dpop_proof`, see [`crate::dpop`]) — `caller::TokenProof`;
//! 2. the client attestation and PoP, signatures, claims and policy (`invalid_client`,
//!    `invalid_client_attestation`, `use_fresh_attestation`, `use_attestation_challenge`)
//!    — `caller::AttestedClient`; both before the body is read;
//! 3. the form (`invalid_request`, `unsupported_grant_type`; unknown parameters ignored),
//!    and a `client_id` in it must be the attestation's `sub` (`invalid_client`);
//! 4. the replay checks: the DPoP nonce consumed (`use_dpop_nonce`, with a fresh one) and
//!    the DPoP `jti` recorded; the attestation challenge consumed, the PoP `jti` recorded;
//! 5. the code: redeemed in one conditional `UPDATE` that also records the access token
//!    (`invalid_grant` if unknown, expired, used or dead); an offer with a transaction code
//!    is read first, and a wrong code (`invalid_grant`) counts one attempt — at
//!    `tx_code_max_attempts` the code is dead; a missing or unexpected `tx_code` is
//!    `invalid_request`.
//!
//! The access token is 256 random bits, stored as its SHA-256 with the client_id and the
//! thumbprint of the client instance key, and — when the request carried a DPoP proof — the
//! thumbprint of the DPoP key (`token_type: DPoP`; otherwise `Bearer`, usable as a plain
//! bearer token unless `[issuer.attestation] bind_access_token` is set). It lives
//! `access_token_ttl` (5 minutes by default). The response has no `c_nonce` (OpenID4VCI 1.0:
//! wallets use `/nonce`); it carries the next `DPoP-Nonce` when DPoP nonces are demanded.

use crate::auth::sha256_b64;
use crate::batch::RedeemJob;
use crate::caller::{AttestedClient, TokenProof};
use crate::db::{self, Redemption};
use crate::error::{HandlerResult, Reason, Rejection};
use crate::offers::tx_code_hash;
use crate::state::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use jose::random::token;
use oid4vci::{ErrorCode, TokenRequest, TokenResponse};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Whether the request body is declared as a form.
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

fn grant(reason: Reason, description: &'static str) -> Rejection {
    Rejection::new(ErrorCode::InvalidGrant, reason).describe(description)
}

/// Answers a token request (`POST /token`, handled in `routes::wallet`) whose DPoP proof
/// and client attestation were checked by their extractors.
pub(crate) async fn issue_token(
    state: &State,
    proof: &TokenProof,
    client: &AttestedClient,
    headers: &HeaderMap,
    body: &[u8],
) -> HandlerResult<Response> {
    if !is_form(headers) {
        return Err(
            Rejection::new(ErrorCode::InvalidRequest, Reason::TokenRequestNotForm)
                .describe("the token request must be application/x-www-form-urlencoded")
                .into(),
        );
    }
    let request = TokenRequest::from_form(body).map_err(|e| {
        Rejection::new(e.code(), Reason::TokenRequestMalformed).describe(e.to_string())
    })?;
    client.check_client_id(state, request.client_id.as_deref())?;
    if let Some(p) = proof.get() {
        state.dpop.commit(p).await?;
    }
    client.commit(state).await?;

    let now = state.now();
    let access_token = token(state.random.as_ref(), 32)?;
    let token_hash = sha256_b64(access_token.as_bytes());
    let cnf = client.verified.cnf().bare().to_value().to_string();
    let redemption = Redemption {
        token_hash: &token_hash,
        token_expires_at: now.saturating_add(state.settings.access_token_ttl),
        client_id: client.verified.client_id(),
        jkt: &client.jkt,
        cnf_jwk: &cnf,
        attestation_hash: &client.attestation_hash,
        dpop_jkt: proof.get().map(|p| p.jkt()),
    };
    let code_hash = sha256_b64(request.pre_authorized_code.as_bytes());
    let max = state.settings.tx_code_max_attempts;
    let pool = state.db.pool();

    // Fast path: an offer without transaction code is redeemed in one statement.
    let mut redeemed = None;
    if request.tx_code.is_none() {
        redeemed = state
            .writers
            .redeem(RedeemJob::new(&code_hash, now, max, &redemption))
            .await?;
    }
    let row = match redeemed {
        Some(row) => row,
        None => {
            let offer = db::offer_by_code(pool, &code_hash)
                .await?
                .ok_or_else(|| grant(Reason::UnknownCode, "the pre-authorized code is unknown"))?;
            if offer.redeemed_at.is_some() {
                return Err(grant(
                    Reason::CodeAlreadyUsed,
                    "the pre-authorized code was already used",
                )
                .into());
            }
            if offer.expires_at <= now {
                return Err(
                    grant(Reason::ExpiredCode, "the pre-authorized code has expired").into(),
                );
            }
            if offer.tx_attempts >= max {
                return Err(grant(
                    Reason::CodeDead,
                    "too many wrong transaction codes: the pre-authorized code is dead",
                )
                .into());
            }
            match (&offer.tx_code_hash, &offer.tx_code_salt, &request.tx_code) {
                (Some(_), _, None) => {
                    return Err(
                        Rejection::new(ErrorCode::InvalidRequest, Reason::TxCodeMissing)
                            .describe("this offer requires `tx_code`")
                            .into(),
                    );
                }
                (None, _, Some(_)) => {
                    return Err(Rejection::new(
                        ErrorCode::InvalidRequest,
                        Reason::TxCodeUnexpected,
                    )
                    .describe("this offer has no transaction code: do not send `tx_code`")
                    .into());
                }
                (Some(stored), Some(salt), Some(given)) => {
                    let candidate = tx_code_hash(salt, given);
                    if !bool::from(candidate.as_bytes().ct_eq(stored.as_bytes())) {
                        let attempts = db::count_tx_attempt(pool, &offer.id).await?;
                        let left = attempts.map_or(0, |a| (max - a).max(0));
                        tracing::info!(offer_id = %offer.id, attempts_left = left, "wrong transaction code");
                        return Err(grant(Reason::WrongTxCode, if left == 0 {
                            "wrong transaction code; no attempts left: the pre-authorized code is dead"
                        } else {
                            "wrong transaction code"
                        })
                        .into());
                    }
                }
                (Some(_), None, Some(_)) => {
                    return Err(crate::error::Failure::Corrupt("offer").into());
                }
                (None, _, None) => {}
            }
            db::redeem(pool, &code_hash, now, max, &redemption)
                .await?
                .ok_or_else(|| {
                    grant(
                        Reason::CodeLostRace,
                        "the pre-authorized code was just used or expired",
                    )
                })?
        }
    };
    tracing::info!(offer_id = %row.id, client_id = %row.client_id, "access token issued");
    state.tokens.insert(token_hash, Arc::new(row), now);

    let response = TokenResponse {
        access_token,
        token_type: if proof.get().is_some() {
            oid4vci::DPOP_TOKEN_TYPE
        } else {
            "Bearer"
        }
        .into(),
        expires_in: u64::try_from(state.settings.access_token_ttl).ok(),
        authorization_details: None,
    };
    // `Cache-Control: no-store` comes from the wallet routes' layer; RFC 6749 §5.1 asks for
    // `Pragma: no-cache` too, for HTTP/1.0 caches.
    let mut http = axum::Json(response.to_value()).into_response();
    http.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(http)
}
