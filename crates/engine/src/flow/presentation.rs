//! The presentation flow (OpenID4VP 1.0 with DCQL), the engine's part:
//! `parsing_request` → `evaluating_verifier_trust` → `request_parsed` →
//! `match_credentials` (`match_request`, answered from the client's own store) →
//! `awaiting_consent` → `sign_request sign_presentation` → `submitting_response` →
//! `flow_complete`.
//!
//! The engine sees the query, the client's matches (credential ids and claim paths, not
//! values), and the presentation the holder consented to, only while the flow runs.

use oid4vp::{ClientIdPrefix, ErrorCode as VpErrorCode, Presentation, VpToken};
use serde_json::Value;
use wallet::PresentationError;
use wallet::presentation::PresentationRequest;
use wallet_protocol::client::{FlowAction, PresentationStart};
use wallet_protocol::common::{ClaimPath, CredentialMatch, CredentialSelection};
use wallet_protocol::engine::{
    FlowComplete, ProgressPayload, RequestedClaims, SignAction, SignParams, TrustResult,
    VerifierSummary,
};
use wallet_protocol::{ErrorCode, PresentationStep};

use super::issuance::empty;
use super::{Answer, Failure, FlowCtx, Matched};

fn request_failure(e: &PresentationError) -> (ErrorCode, bool) {
    match e {
        PresentationError::Peer(_) | PresentationError::RequestObjectType(_) => {
            (ErrorCode::MetadataFetchError, false)
        }
        PresentationError::Request(
            oid4vp::RequestError::Object(_) | oid4vp::RequestError::ClientId(_),
        )
        | PresentationError::NoVerifierAnchors(_)
        | PresentationError::UnregisteredVerifier(_)
        | PresentationError::ExceedsRegistration { .. } => (ErrorCode::UntrustedVerifier, true),
        _ => (ErrorCode::PresentationError, false),
    }
}

/// A refused response: `SIGN_ERROR` when the verifier refused what the client built and
/// signed as malformed (the vp_token, the key binding, the disclosures), otherwise
/// `PRESENTATION_ERROR` (a revoked or expired credential, an unsatisfied query …).
fn submit_failure(e: PresentationError) -> Failure {
    let malformed = matches!(
        &e,
        PresentationError::Refused(p) if matches!(
            p.error_code(),
            Some(
                "malformed_vp_token"
                    | "key_binding_missing"
                    | "invalid_key_binding"
                    | "sd_hash_mismatch"
                    | "invalid_disclosure"
                    | "wrong_nonce"
                    | "wrong_audience"
                    | "stale_key_binding"
            )
        )
    );
    let code = if malformed {
        ErrorCode::SignError
    } else {
        ErrorCode::PresentationError
    };
    Failure::new(code, e)
}

fn claim_path(value: Value) -> Option<ClaimPath> {
    serde_json::from_value(value).ok()
}

/// Per credential query, the claim paths the verifier asks for.
fn requested(request: &PresentationRequest) -> Vec<RequestedClaims> {
    request
        .request
        .dcql_query
        .credentials()
        .iter()
        .map(|q| RequestedClaims {
            credential_query_id: q.id.clone(),
            claims: q
                .claims
                .iter()
                .flatten()
                .filter_map(|c| claim_path(c.path.to_value()))
                .collect(),
        })
        .collect()
}

async fn decline(
    ctx: &mut FlowCtx,
    request: &PresentationRequest,
    code: VpErrorCode,
    why: &str,
) -> Result<(), Failure> {
    let redirect_uri = match ctx.engine.core().refuse(request, code, why).await {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(flow = %ctx.flow_id.as_str(), error = %e, "the verifier could not be told");
            None
        }
    };
    let complete = FlowComplete {
        declined: true,
        redirect_uri,
        ..empty(&ctx.flow_id)
    };
    ctx.complete(complete).await
}

async fn declined_by_holder(
    ctx: &mut FlowCtx,
    request: &PresentationRequest,
) -> Result<(), Failure> {
    decline(
        ctx,
        request,
        VpErrorCode::AccessDenied,
        "the holder declined",
    )
    .await
}

/// Checks a consent against the client's matches: every selection names a matched
/// credential (for its query) and only claims that credential has.
fn checked_selection(
    selected: Vec<CredentialSelection>,
    matches: &[CredentialMatch],
) -> Option<Vec<CredentialSelection>> {
    let mut out = Vec::with_capacity(selected.len());
    for s in selected {
        let m = matches.iter().find(|m| {
            m.credential_id == s.credential_id
                && s.credential_query_id
                    .as_ref()
                    .is_none_or(|q| *q == m.credential_query_id)
        })?;
        if !s
            .disclosed_claims
            .iter()
            .all(|c| m.available_claims.contains(c))
        {
            return None;
        }
        out.push(CredentialSelection {
            credential_query_id: Some(m.credential_query_id.clone()),
            ..s
        });
    }
    Some(out)
}

/// The flow to `flow_complete`.
pub(crate) async fn run(ctx: &mut FlowCtx, start: PresentationStart) -> Result<(), Failure> {
    ctx.progress(PresentationStep::ParsingRequest, ProgressPayload::default())
        .await?;
    let resolved = ctx.engine.core().resolve_request(&start.request).await;
    let request = match resolved {
        Ok(r) => r,
        Err(e) => {
            let (code, trust) = request_failure(&e);
            if trust {
                ctx.progress(
                    PresentationStep::EvaluatingVerifierTrust,
                    ProgressPayload::default(),
                )
                .await?;
            }
            return Err(Failure::new(code, e));
        }
    };
    ctx.progress(
        PresentationStep::EvaluatingVerifierTrust,
        ProgressPayload::default(),
    )
    .await?;
    let identity = &request.verifier;
    let framework = match identity.prefix {
        ClientIdPrefix::X509SanDns | ClientIdPrefix::X509Hash => "x509",
        _ => "unsigned",
    };
    let verifier = VerifierSummary {
        client_id: identity.client_id.clone(),
        name: identity.certificate_subject.clone(),
    };
    ctx.progress(
        PresentationStep::RequestParsed,
        ProgressPayload {
            verifier: Some(verifier.clone()),
            trust: Some(TrustResult {
                trusted: true,
                framework: Some(framework.into()),
            }),
            ..ProgressPayload::default()
        },
    )
    .await?;

    ctx.progress(
        PresentationStep::MatchCredentials,
        ProgressPayload::default(),
    )
    .await?;
    let query = match request.request.dcql_query.to_value() {
        Value::Object(m) => m,
        _ => {
            return Err(Failure::new(
                ErrorCode::InternalError,
                "query is not an object",
            ));
        }
    };
    let matches = match ctx.matching(query).await? {
        Matched::Declined(reason) => {
            tracing::debug!(flow = %ctx.flow_id.as_str(), reason = ?reason, "declined at matching");
            return declined_by_holder(ctx, &request).await;
        }
        Matched::Answer {
            matches: Some(m), ..
        } if !m.is_empty() => m,
        // The client's reason stays in the log: telling the verifier what the holder
        // lacks would tell it something about what the holder has.
        Matched::Answer {
            no_match_reason, ..
        } => {
            tracing::debug!(flow = %ctx.flow_id.as_str(), reason = ?no_match_reason, "no match");
            return decline(
                ctx,
                &request,
                VpErrorCode::AccessDenied,
                "no credential answers the request",
            )
            .await;
        }
    };
    let queries = request.request.dcql_query.credentials();
    if !matches
        .iter()
        .all(|m| queries.iter().any(|q| q.id == m.credential_query_id))
    {
        return Err(Failure::new(
            ErrorCode::MatchError,
            "a match names a query the request does not have",
        ));
    }

    ctx.progress(
        PresentationStep::AwaitingConsent,
        ProgressPayload {
            verifier: Some(verifier),
            requested_claims: Some(requested(&request)),
            ..ProgressPayload::default()
        },
    )
    .await?;
    let consent = ctx
        .wait(None, |answer| match answer {
            Answer::Action(FlowAction::Consent(c)) => {
                let id = c.message_id.clone();
                checked_selection(c.selected_credentials, &matches)
                    .map(Some)
                    .ok_or((ErrorCode::InvalidMessage, id))
            }
            Answer::Action(FlowAction::Decline(_)) => Ok(None),
            other => Err((ErrorCode::InvalidMessage, super::message_id_of(&other))),
        })
        .await?;
    let Some(selection) = consent else {
        return declined_by_holder(ctx, &request).await;
    };

    let signed = ctx
        .sign(
            SignAction::SignPresentation,
            SignParams {
                audience: request.request.client_id.as_str().to_owned(),
                nonce: Some(request.request.nonce.clone()),
                issuer: None,
                count: None,
                proof_types_supported: None,
                credentials_to_include: Some(selection.clone()),
                transaction_data: request.request.transaction_data.clone(),
            },
        )
        .await?;
    let vp = super::signed(
        signed.vp_token,
        signed.error,
        "the sign_response holds no vp_token",
    )?;
    let chosen_queries: Vec<&str> = selection
        .iter()
        .filter_map(|s| s.credential_query_id.as_deref())
        .collect();
    if vp.is_empty()
        || !vp
            .iter()
            .all(|(q, list)| !list.is_empty() && chosen_queries.contains(&q.as_str()))
    {
        return Err(Failure::new(
            ErrorCode::SignError,
            "the vp_token answers queries the holder did not consent to, or none",
        ));
    }
    let mut vp_token = VpToken::new();
    for (query, list) in vp {
        for p in list {
            vp_token.push(&query, Presentation::Text(p));
        }
    }

    ctx.progress(
        PresentationStep::SubmittingResponse,
        ProgressPayload::default(),
    )
    .await?;
    let redirect_uri = ctx
        .engine
        .core()
        .submit(&request, vp_token)
        .await
        .map_err(submit_failure)?;
    ctx.complete(FlowComplete {
        redirect_uri,
        presented: Some(selection),
        ..empty(&ctx.flow_id)
    })
    .await
}
