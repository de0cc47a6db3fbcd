//! `POST /notification` (§11): the wallet reports what happened to the credentials of one
//! credential response; the event is recorded on those credentials. The access token must
//! be the one they were issued under, presented as at `/credential` (bearer, or DPoP with a
//! proof by its key; the attestation too under `bind_access_token`). Repeated identical
//! notifications succeed (§11: idempotent).

use crate::caller::{BoundGrant, NotificationEndpoint};
use crate::db;
use crate::error::{HandlerResult, Reason, Rejection};
use crate::state::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oid4vci::{ErrorCode, NotificationRequest};

/// Records a notification (`POST /notification`, handled in `routes::wallet`) under a
/// grant whose access token (and binding) its extractor checked.
pub(crate) async fn notify(
    state: &State,
    grant: &BoundGrant<NotificationEndpoint>,
    body: &[u8],
) -> HandlerResult<Response> {
    let request = NotificationRequest::from_json(body).map_err(|e| {
        Rejection::new(e.code(), Reason::NotificationRequestMalformed).describe(e.to_string())
    })?;
    let touched = db::record_notification(
        state.db.pool(),
        &request.notification_id,
        &grant.id,
        request.event.as_str(),
        state.now(),
    )
    .await?;
    if touched == 0 {
        return Err(Rejection::new(
            ErrorCode::InvalidNotificationId,
            Reason::UnknownNotificationId,
        )
        .into());
    }
    tracing::info!(offer_id = %grant.id, event = request.event.as_str(), "notification recorded");
    Ok(StatusCode::NO_CONTENT.into_response())
}
