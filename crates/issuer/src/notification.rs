//! `POST /notification` (§11): the wallet reports what happened to the credentials of one
//! credential response; the event is recorded on those credentials. The access token must
//! be the one they were issued under and the caller must prove the key it is bound to, as
//! at `/credential`. Repeated identical notifications succeed (§11: idempotent).

use crate::credential::access_token;
use crate::db;
use crate::errors::{HandlerResult, Rejection};
use crate::state::State;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use oid4vci::{ErrorCode, NotificationRequest};
use std::sync::Arc;

/// `POST /notification`.
pub(crate) async fn notification_endpoint(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> HandlerResult<Response> {
    let grant = access_token(&state, &headers).await?;
    state
        .auth
        .prove_binding(&headers, &grant.jkt, &grant.client_id, state.clock.as_ref())
        .await?;
    let request = NotificationRequest::from_json(&body)
        .map_err(|e| Rejection::new(e.code()).describe(e.to_string()))?;
    let touched = db::record_notification(
        state.db.pool(),
        &request.notification_id,
        &grant.id,
        request.event.as_str(),
        state.now(),
    )
    .await?;
    if touched == 0 {
        return Err(Rejection::new(ErrorCode::InvalidNotificationId).into());
    }
    tracing::info!(offer_id = %grant.id, event = request.event.as_str(), "notification recorded");
    Ok(StatusCode::NO_CONTENT.into_response())
}
