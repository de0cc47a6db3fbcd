//! Who is calling, as axum extractors: a handler that acts for an authenticated wallet
//! takes one as an argument, so it cannot be written (or compile) without the check, and
//! the check runs before the handler reads the body. Each one is made only here.
//!
//! - [`TokenProof`] (`/token`): the `DPoP` proof of a token request, checked (RFC 9449
//!   §4.3: signature, `typ`, `alg`, `jwk`, `htm`, `htu`, `iat`) but not yet committed;
//!   `None` when there is none and DPoP is not required (see [`crate::dpop`]).
//! - [`AttestedClient`] (`/token`): the client attestation and its PoP
//!   (`OAuth-Client-Attestation`, `OAuth-Client-Attestation-PoP`), verified — signatures,
//!   claims, the trust entry's policy — into a
//!   [`client_attestation::VerifiedClientAttestation`], with its replay checks (PoP
//!   `jti`, challenge) not yet run (see [`crate::auth`]).
//! - [`BoundGrant`] (`/credential`, `/notification`): the live grant behind the presented
//!   access token, after every check its binding calls for — the scheme (`Bearer` or
//!   `DPoP`), the DPoP proof with `ath` and the token's `cnf.jkt` (its nonce and `jti`
//!   consumed), and under `[issuer.attestation] bind_access_token` the client attestation
//!   and a fresh PoP by the instance key the token recorded. It names its endpoint
//!   ([`CredentialEndpoint`], [`NotificationEndpoint`]): the DPoP proof was checked for
//!   that URL, and a grant checked for one endpoint cannot be used at the other.
//!
//! At `/token` the replay checks of the proof and the attestation run in the handler, after
//! the form parsed: a request refused for its body consumes no nonce, challenge or `jti`.
//! Refusals carry the codes, descriptions and [`crate::Reason`]s of the checks themselves
//! (`invalid_dpop_proof`, `invalid_client`, `invalid_client_attestation`,
//! `use_fresh_attestation`, `use_attestation_challenge`; at the resources `invalid_token`,
//! `invalid_dpop_proof` and `use_dpop_nonce` as `401` with `WWW-Authenticate`).

use crate::auth::{PendingClient, sha256_b64};
use crate::db::{self, TokenRow};
use crate::dpop::{PendingProof, Scheme, presented_token};
use crate::error::{HandlerError, Reason, Rejection};
use crate::state::State;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use oid4vci::ErrorCode;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

/// The `DPoP` proof of a token request: checked, not yet committed.
#[derive(Debug)]
pub(crate) struct TokenProof(Option<PendingProof>);

impl TokenProof {
    /// The proof, when the request carried one (and DPoP is not `off`).
    pub(crate) fn get(&self) -> Option<&PendingProof> {
        self.0.as_ref()
    }
}

impl FromRequestParts<Arc<State>> for TokenProof {
    type Rejection = HandlerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<State>,
    ) -> Result<Self, HandlerError> {
        let url = format!("{}/token", state.settings.identifier);
        let proof = state
            .dpop
            .token_proof(&parts.headers, &url, state.clock.as_ref())?;
        Ok(TokenProof(proof))
    }
}

/// A wallet instance whose client attestation and PoP verified, before the replay checks
/// ([`AttestedClient::commit`]).
#[derive(Debug)]
pub(crate) struct AttestedClient(PendingClient);

impl AttestedClient {
    /// A `client_id` sent with the request (the token form's) must name the attested client,
    /// refused as the PoP check refuses it.
    pub(crate) fn check_client_id(
        &self,
        state: &State,
        client_id: Option<&str>,
    ) -> Result<(), HandlerError> {
        state.auth.check_client_id(&self.0, client_id)
    }

    /// The replay checks: the challenge (when challenges are required) consumed, the PoP
    /// `jti` recorded.
    pub(crate) async fn commit(&self, state: &State) -> Result<(), HandlerError> {
        state.auth.commit(&self.0, true).await
    }
}

impl Deref for AttestedClient {
    type Target = PendingClient;

    fn deref(&self) -> &PendingClient {
        &self.0
    }
}

impl FromRequestParts<Arc<State>> for AttestedClient {
    type Rejection = HandlerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<State>,
    ) -> Result<Self, HandlerError> {
        state
            .auth
            .verify(&parts.headers, None, state.clock.as_ref())
            .await
            .map(AttestedClient)
    }
}

/// A protected resource: where an access token is presented.
pub(crate) trait Resource: Send + Sync + 'static {
    /// Its path under the issuer identifier (the DPoP proof's `htu`).
    const PATH: &'static str;
}

/// `POST /credential`.
#[derive(Debug)]
pub(crate) struct CredentialEndpoint;

impl Resource for CredentialEndpoint {
    const PATH: &'static str = "/credential";
}

/// `POST /notification`.
#[derive(Debug)]
pub(crate) struct NotificationEndpoint;

impl Resource for NotificationEndpoint {
    const PATH: &'static str = "/notification";
}

/// The grant behind an access token presented at resource `R`, with every check its
/// binding calls for passed.
#[derive(Debug)]
pub(crate) struct BoundGrant<R> {
    row: Arc<TokenRow>,
    at: PhantomData<R>,
}

impl<R> Deref for BoundGrant<R> {
    type Target = TokenRow;

    fn deref(&self) -> &TokenRow {
        &self.row
    }
}

impl<R: Resource> FromRequestParts<Arc<State>> for BoundGrant<R> {
    type Rejection = HandlerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<State>,
    ) -> Result<Self, HandlerError> {
        let row = authorize(state, parts, R::PATH).await?;
        Ok(BoundGrant {
            row,
            at: PhantomData,
        })
    }
}

/// The live token row of the presented access token, after the DPoP checks its binding
/// calls for and, under `bind_access_token`, the client attestation and PoP.
async fn authorize(
    state: &State,
    parts: &Parts,
    path: &str,
) -> Result<Arc<TokenRow>, HandlerError> {
    let headers = &parts.headers;
    let (scheme, presented) = presented_token(headers)
        .map_err(|r| r.at_resource(state.dpop.challenge(Scheme::Bearer)))?;
    let unauthorized = |reason: Reason, text: &'static str| -> HandlerError {
        Rejection::new(ErrorCode::InvalidToken, reason)
            .describe(text)
            .at_resource(state.dpop.challenge(scheme))
            .into()
    };
    let hash = sha256_b64(presented.as_bytes());
    let now = state.now();
    let row = match state.tokens.get(&hash) {
        Some(r) => r,
        None => {
            let row = db::token(state.db.pool(), &hash)
                .await?
                .ok_or_else(|| unauthorized(Reason::UnknownAccessToken, "unknown access token"))?;
            let row = Arc::new(row);
            state.tokens.insert(hash, Arc::clone(&row), now);
            row
        }
    };
    if row.token_expires_at <= now {
        return Err(unauthorized(
            Reason::ExpiredAccessToken,
            "the access token has expired",
        ));
    }
    state
        .dpop
        .resource(
            headers,
            scheme,
            presented,
            row.dpop_jkt.as_deref(),
            &format!("{}{path}", state.settings.identifier),
            state.clock.as_ref(),
        )
        .await?;
    if state.config.attestation.bind_access_token {
        state
            .auth
            .prove_binding(headers, &row.jkt, &row.client_id, state.clock.as_ref())
            .await?;
    }
    Ok(row)
}
