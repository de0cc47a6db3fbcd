//! The issuance flow (OpenID4VCI 1.0, pre-authorized code), the engine's part:
//! `parsing_offer` → `offer_parsed` → `fetching_metadata` → `metadata_fetched` →
//! `evaluating_trust` → `trust_evaluated` → (`awaiting_selection`) → (`awaiting_tx_code`)
//! → `exchanging_token` → `token_obtained` → `sign_request generate_proof` →
//! `requesting_credential` → `flow_complete`, then the notification window.
//!
//! The credential response is encrypted to the key the client sent in `flow_start`
//! (`response_encryption`), so the engine relays ciphertext. Only when the issuer cannot
//! encrypt to that key and the client allowed it (`allow_plaintext_response`) does the
//! engine relay plaintext credentials; otherwise the flow ends at `metadata_fetched`.

use jose::{Curve, Enc, PublicJwk};
use oid4vci::NotificationEvent;
use serde_json::{Map, Value};
use wallet::IssuanceError;
use wallet::issuance::{CredentialReply, Grant, PendingOffer, ResponseKey};
use wallet_protocol::IssuanceStep;
use wallet_protocol::client::{ContentEncryption, FlowAction, IssuanceStart};
use wallet_protocol::engine::{
    CredentialOption, FlowComplete, IssuanceContext, IssuedCredential, IssuerSummary, OfferSummary,
    ProgressPayload, SignAction, SignParams, TrustResult, TxCodeSpec,
};
use wallet_protocol::{ErrorCode, client::Proof};

use super::{Answer, Failure, FlowCtx};

/// A checked issuance `flow_start`.
pub(crate) struct Start {
    offer: String,
    response_key: Option<(PublicJwk, Enc)>,
    allow_plaintext: bool,
}

impl Start {
    /// Checks the client's response key: a public EC P-256 key for ECDH-ES (no private
    /// members).
    pub(crate) fn check(start: IssuanceStart) -> Result<Start, String> {
        let response_key = match start.response_encryption {
            None => None,
            Some(r) => {
                if r.jwk.contains_key("d") {
                    return Err("response_encryption.jwk carries a private key".into());
                }
                // The issuer refuses a key without `alg` ECDH-ES (OpenID4VCI 1.0 §10) or
                // with another `use` only at the credential request, after the offer's
                // code was redeemed: refuse it before anything is spent.
                let member = |name: &str| r.jwk.get(name).map(|v| v.as_str());
                if member("alg") != Some(Some("ECDH-ES")) {
                    return Err("response_encryption.jwk needs `alg` ECDH-ES".into());
                }
                if member("use").is_some_and(|u| u != Some("enc")) {
                    return Err("response_encryption.jwk `use` is not `enc`".into());
                }
                let jwk = PublicJwk::from_value(&Value::Object(r.jwk))
                    .map_err(|e| format!("response_encryption.jwk: {e}"))?;
                if jwk.curve() != Some(Curve::P256) {
                    return Err("response_encryption.jwk is not an EC P-256 key".into());
                }
                let enc = match r.enc {
                    ContentEncryption::A128Gcm => Enc::A128Gcm,
                    ContentEncryption::A256Gcm => Enc::A256Gcm,
                };
                Some((jwk, enc))
            }
        };
        Ok(Start {
            offer: start.offer,
            response_key,
            allow_plaintext: start.allow_plaintext_response,
        })
    }
}

fn offer_failure(e: IssuanceError) -> Failure {
    let code = match &e {
        IssuanceError::Peer(_) => ErrorCode::OfferFetchError,
        _ => ErrorCode::OfferParseError,
    };
    Failure::new(code, e)
}

fn is_invalid_grant(e: &IssuanceError) -> bool {
    matches!(e, IssuanceError::Peer(p) if p.error_code() == Some("invalid_grant"))
}

fn credential_failure(e: IssuanceError) -> Failure {
    let code = match &e {
        IssuanceError::Peer(p)
            if matches!(p.error_code(), Some("invalid_proof" | "invalid_nonce")) =>
        {
            ErrorCode::SignError
        }
        _ => ErrorCode::CredentialError,
    };
    Failure::new(code, e)
}

/// After `flow_complete`: the access token for the notification, while the window lasts.
pub(crate) struct After {
    notify: Option<(PendingOffer, Grant)>,
}

impl After {
    /// Waits (within the notification window) for the client's `credential_notification`
    /// and forwards it.
    pub(crate) async fn finish(self, ctx: &mut FlowCtx) {
        let Some((pending, grant)) = self.notify else {
            return;
        };
        // The flow stays open after its flow_complete: the client needs it now.
        if ctx.send_completion().await.is_err() {
            return;
        }
        let window = ctx.engine.limits().notification_window;
        let deadline = tokio::time::Instant::now() + window;
        let waited = tokio::time::timeout_at(
            deadline,
            ctx.wait(None, |answer| match answer {
                Answer::Notification(n) => Ok(n),
                other => Err((ErrorCode::InvalidMessage, super::message_id_of(&other))),
            }),
        )
        .await;
        let Ok(Ok(n)) = waited else {
            return;
        };
        let Some(handle) = grant.notification(&pending, &n.notification_id) else {
            let _ = ctx
                .progress(
                    IssuanceStep::Notified,
                    ProgressPayload {
                        delivered: Some(false),
                        ..ProgressPayload::default()
                    },
                )
                .await;
            return;
        };
        let event = match n.event {
            wallet_protocol::client::NotificationEvent::CredentialAccepted => {
                NotificationEvent::CredentialAccepted
            }
            wallet_protocol::client::NotificationEvent::CredentialFailure => {
                NotificationEvent::CredentialFailure
            }
            wallet_protocol::client::NotificationEvent::CredentialDeleted => {
                NotificationEvent::CredentialDeleted
            }
        };
        let description = n
            .event_description
            .as_deref()
            .filter(|d| d.len() <= 200 && d.chars().all(|c| c.is_ascii_graphic() || c == ' '));
        let delivered = match ctx.engine.core().notify(&handle, event, description).await {
            Ok(()) => true,
            Err(e) => {
                tracing::info!(flow = %ctx.flow_id.as_str(), error = %e, "notification not delivered");
                false
            }
        };
        let _ = ctx
            .progress(
                IssuanceStep::Notified,
                ProgressPayload {
                    delivered: Some(delivered),
                    ..ProgressPayload::default()
                },
            )
            .await;
    }
}

/// The flow up to `flow_complete`.
pub(crate) async fn run(ctx: &mut FlowCtx, start: Start) -> Result<After, Failure> {
    let engine = std::sync::Arc::clone(&ctx.engine);
    let core = engine.core();
    ctx.progress(IssuanceStep::ParsingOffer, ProgressPayload::default())
        .await?;
    let offer = core.read_offer(&start.offer).await.map_err(offer_failure)?;
    let tx_code = offer
        .pre_authorized_code
        .as_ref()
        .and_then(|g| g.tx_code.clone());
    ctx.progress(
        IssuanceStep::OfferParsed,
        ProgressPayload {
            offer: Some(OfferSummary {
                credential_issuer: offer.credential_issuer.clone(),
                credential_configuration_ids: offer.credential_configuration_ids.clone(),
                tx_code_required: tx_code.is_some(),
            }),
            ..ProgressPayload::default()
        },
    )
    .await?;

    ctx.progress(IssuanceStep::FetchingMetadata, ProgressPayload::default())
        .await?;
    let pending = core
        .offer_metadata(offer)
        .await
        .map_err(|e| Failure::new(ErrorCode::MetadataFetchError, e))?;
    let support = pending.response_encryption();
    let response = match (&start.response_key, &support) {
        (Some((jwk, enc)), Some(s)) if s.enc_values.contains(enc) => Some(ResponseKey::To {
            jwk: jwk.clone(),
            enc: *enc,
        }),
        _ => None,
    };
    ctx.progress(
        IssuanceStep::MetadataFetched,
        ProgressPayload {
            issuer: Some(IssuerSummary {
                credential_issuer: pending.issuer().to_owned(),
                display_name: pending.issuer_name(),
                response_encryption: response.is_some(),
                signed_metadata: Some(pending.signed_metadata),
            }),
            ..ProgressPayload::default()
        },
    )
    .await?;
    let response = match response {
        Some(r) => r,
        None if start.allow_plaintext && !support.as_ref().is_some_and(|s| s.required) => {
            ResponseKey::Plaintext
        }
        None => {
            return Err(Failure::new(
                ErrorCode::CredentialError,
                "the issuer cannot encrypt the credential response to the client's key \
                 and the client did not allow a plaintext response",
            ));
        }
    };

    ctx.progress(IssuanceStep::EvaluatingTrust, ProgressPayload::default())
        .await?;
    let trusted = core.settings().issuers.accepts(pending.issuer());
    ctx.progress(
        IssuanceStep::TrustEvaluated,
        ProgressPayload {
            trust: Some(TrustResult {
                trusted,
                framework: Some("configured".into()),
            }),
            ..ProgressPayload::default()
        },
    )
    .await?;
    if !trusted {
        return Err(Failure::new(
            ErrorCode::UntrustedIssuer,
            format!("issuer {} is not trusted", pending.issuer()),
        ));
    }

    let configuration_id = select(ctx, &pending).await?;
    let Some(configuration_id) = configuration_id else {
        ctx.complete(declined(&ctx.flow_id)).await?;
        return Ok(After { notify: None });
    };

    let Some(grant) = token(ctx, &pending, tx_code.as_ref()).await? else {
        ctx.complete(declined(&ctx.flow_id)).await?;
        return Ok(After { notify: None });
    };
    ctx.progress(IssuanceStep::TokenObtained, ProgressPayload::default())
        .await?;

    let nonce = core
        .fetch_nonce(&pending)
        .await
        .map_err(|e| Failure::new(ErrorCode::CredentialError, e))?;
    let configuration = pending
        .metadata
        .credential_configurations_supported
        .get(&configuration_id)
        .ok_or_else(|| Failure::new(ErrorCode::CredentialError, "configuration vanished"))?;
    let proof_types = configuration
        .proof_types_supported
        .as_ref()
        .and_then(|p| serde_json::to_value(p).ok())
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        });
    let batch = pending.batch_size();
    let signed = ctx
        .sign(
            SignAction::GenerateProof,
            SignParams {
                audience: pending.issuer().to_owned(),
                nonce,
                issuer: None,
                count: Some(u32::try_from(batch).unwrap_or(u32::MAX)),
                proof_types_supported: proof_types,
                credentials_to_include: None,
                transaction_data: None,
            },
        )
        .await?;
    let proofs = super::signed(
        signed.proofs.filter(|p| !p.is_empty() && p.len() <= batch),
        signed.error,
        "the sign_response holds no proofs, or more than the batch size",
    )?
    .into_iter()
    .map(|p| match p {
        Proof::Jwt { jwt } => jwt,
    })
    .collect::<Vec<_>>();

    ctx.progress(
        IssuanceStep::RequestingCredential,
        ProgressPayload::default(),
    )
    .await?;
    let count = proofs.len();
    let first = core
        .send_credential_request(&pending, &grant, &configuration_id, proofs, &response)
        .await
        .map_err(credential_failure)?;
    let Some(reply) = deferral(ctx, &pending, &grant, &response, count, first).await? else {
        ctx.complete(declined(&ctx.flow_id)).await?;
        return Ok(After { notify: None });
    };
    // Public data for the client's own check of the credentials; the client falls back
    // to its anchors (x5c) when the keys cannot be fetched.
    // Fetched once: the keys that verified signed metadata, or now.
    let issuer_keys = match &pending.issuer_keys {
        Some(keys) => Ok(keys.clone()),
        None => core.issuer_keys(pending.issuer()).await,
    };
    let issuer_jwks = match issuer_keys {
        Ok(keys) => {
            let mut set = Map::new();
            set.insert(
                "keys".into(),
                Value::Array(keys.iter().map(PublicJwk::to_value).collect()),
            );
            Some(set)
        }
        Err(e) => {
            tracing::info!(error = %e, "issuer keys unavailable");
            None
        }
    };
    let issuance = IssuanceContext {
        credential_issuer: pending.issuer().to_owned(),
        credential_configuration_id: configuration_id.clone(),
        credential_configuration: match serde_json::to_value(configuration) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        },
        issuer_name: pending.issuer_name(),
        issuer_jwks,
    };
    let (complete, notify_now) = match reply {
        CredentialReply::Deferred { .. } | CredentialReply::Encrypted { deferred: true, .. } => {
            return Err(Failure::new(
                ErrorCode::InternalError,
                "deferral left unresolved",
            ));
        }
        CredentialReply::Encrypted { jwe, .. } => (
            FlowComplete {
                encrypted_response: Some(jwe),
                issuance: Some(issuance),
                ..empty(&ctx.flow_id)
            },
            true,
        ),
        CredentialReply::Issued {
            credentials,
            notification_id,
        } => {
            let has_notification = notification_id.is_some();
            (
                FlowComplete {
                    credentials: Some(
                        credentials
                            .into_iter()
                            .map(|credential| IssuedCredential { credential })
                            .collect(),
                    ),
                    notification_id,
                    issuance: Some(issuance),
                    ..empty(&ctx.flow_id)
                },
                has_notification,
            )
        }
    };
    ctx.complete(complete).await?;
    let window = notify_now && pending.metadata.notification_endpoint.is_some();
    Ok(After {
        notify: window.then_some((pending, grant)),
    })
}

/// A `flow_complete` with nothing in it yet.
pub(crate) fn empty(flow_id: &wallet_protocol::FlowId) -> FlowComplete {
    FlowComplete {
        flow_id: flow_id.clone(),
        message_id: None,
        timestamp: None,
        encrypted_response: None,
        credentials: None,
        notification_id: None,
        issuance: None,
        redirect_uri: None,
        presented: None,
        declined: false,
    }
}

fn declined(flow_id: &wallet_protocol::FlowId) -> FlowComplete {
    FlowComplete {
        declined: true,
        ..empty(flow_id)
    }
}

/// Longest `transaction_id` taken from a client.
const MAX_TRANSACTION_ID: usize = 1024;

/// Follows a deferral (`deferred`) until the credentials come: polls the deferred
/// credential endpoint every `interval` (the flow limit bounds the whole); an encrypted
/// deferral is shown to the client, which answers with the `transaction_id` it holds.
/// `None` = the client declined.
async fn deferral(
    ctx: &mut FlowCtx,
    pending: &PendingOffer,
    grant: &Grant,
    response: &ResponseKey,
    count: usize,
    mut reply: CredentialReply,
) -> Result<Option<CredentialReply>, Failure> {
    let engine = std::sync::Arc::clone(&ctx.engine);
    loop {
        let (transaction_id, interval) = match reply {
            CredentialReply::Deferred {
                transaction_id,
                interval,
            } => {
                ctx.progress(
                    IssuanceStep::Deferred,
                    ProgressPayload {
                        transaction_id: Some(transaction_id.clone()),
                        interval: Some(u32::try_from(interval).unwrap_or(u32::MAX)),
                        ..ProgressPayload::default()
                    },
                )
                .await?;
                (transaction_id, interval)
            }
            CredentialReply::Encrypted {
                jwe,
                deferred: true,
            } => {
                ctx.progress(
                    IssuanceStep::Deferred,
                    ProgressPayload {
                        encrypted_response: Some(jwe),
                        ..ProgressPayload::default()
                    },
                )
                .await?;
                let answer = ctx
                    .wait(None, |answer| match answer {
                        Answer::Action(FlowAction::ContinueDeferred(c))
                            if !c.transaction_id.is_empty()
                                && c.transaction_id.len() <= MAX_TRANSACTION_ID =>
                        {
                            Ok(Some((c.transaction_id, c.interval)))
                        }
                        Answer::Action(FlowAction::Decline(_)) => Ok(None),
                        other => Err((ErrorCode::InvalidMessage, super::message_id_of(&other))),
                    })
                    .await?;
                match answer {
                    Some(a) => a,
                    None => return Ok(None),
                }
            }
            done => return Ok(Some(done)),
        };
        tokio::time::sleep(std::time::Duration::from_secs(interval.max(1))).await;
        reply = engine
            .core()
            .poll_deferred(pending, grant, &transaction_id, response, count)
            .await
            .map_err(credential_failure)?;
    }
}

/// `awaiting_selection` when the offer names several configurations; `None` = declined.
async fn select(ctx: &mut FlowCtx, pending: &PendingOffer) -> Result<Option<String>, Failure> {
    let ids = pending.offer.credential_configuration_ids.clone();
    if let [only] = ids.as_slice() {
        return Ok(Some(only.clone()));
    }
    let available = pending
        .configurations()
        .into_iter()
        .map(|(id, c)| CredentialOption {
            credential_configuration_id: id.to_owned(),
            format: c.map(|c| c.format.clone()).unwrap_or_default(),
            vct: c.and_then(|c| c.vct.clone()),
            display_name: pending.display(id).name,
        })
        .collect();
    ctx.progress(
        IssuanceStep::AwaitingSelection,
        ProgressPayload {
            available_credentials: Some(available),
            ..ProgressPayload::default()
        },
    )
    .await?;
    ctx.wait(None, |answer| match answer {
        Answer::Action(FlowAction::SelectCredential(s))
            if ids.contains(&s.credential_configuration_id) =>
        {
            Ok(Some(s.credential_configuration_id))
        }
        Answer::Action(FlowAction::Decline(_)) => Ok(None),
        other => Err((ErrorCode::InvalidMessage, super::message_id_of(&other))),
    })
    .await
}

/// `awaiting_tx_code` (again after a refused code) and the token exchange; `None` =
/// declined.
async fn token(
    ctx: &mut FlowCtx,
    pending: &PendingOffer,
    tx_code: Option<&oid4vci::TxCode>,
) -> Result<Option<Grant>, Failure> {
    let attempts = ctx.engine.limits().tx_code_attempts.max(1);
    let mut retry = false;
    let mut tried = 0u32;
    loop {
        let code = match tx_code {
            None => None,
            Some(spec) => {
                ctx.progress(
                    IssuanceStep::AwaitingTxCode,
                    ProgressPayload {
                        tx_code: Some(TxCodeSpec {
                            input_mode: spec.input_mode.map(|m| match m {
                                oid4vci::InputMode::Numeric => "numeric".to_owned(),
                                oid4vci::InputMode::Text => "text".to_owned(),
                            }),
                            length: spec.length,
                            description: spec.description.clone(),
                        }),
                        retry,
                        ..ProgressPayload::default()
                    },
                )
                .await?;
                let given = ctx
                    .wait(None, |answer| match answer {
                        Answer::Action(FlowAction::ProvidePin(p)) => Ok(Some(p.tx_code)),
                        Answer::Action(FlowAction::Decline(_)) => Ok(None),
                        other => Err((ErrorCode::InvalidMessage, super::message_id_of(&other))),
                    })
                    .await?;
                match given {
                    Some(c) => Some(c),
                    None => return Ok(None),
                }
            }
        };
        ctx.progress(IssuanceStep::ExchangingToken, ProgressPayload::default())
            .await?;
        tried += 1;
        let exchanged = ctx
            .engine
            .core()
            .exchange_token(pending, code.as_ref().map(|c| c.expose()))
            .await;
        match exchanged {
            Ok(grant) => return Ok(Some(grant)),
            Err(e)
                if tx_code.is_some()
                    && tried < attempts
                    && (is_invalid_grant(&e) || matches!(e, IssuanceError::TxCodeShape(_))) =>
            {
                tracing::debug!(error = %e, "transaction code refused");
                retry = true;
            }
            Err(e) => return Err(Failure::new(ErrorCode::TokenError, e)),
        }
    }
}
