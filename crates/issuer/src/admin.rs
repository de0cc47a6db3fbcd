//! The admin API, behind the admin bearer token (compared in constant time; with no token
//! configured every call is refused): list issued credentials without their claim values,
//! and set a credential's status (VALID, INVALID = revoked, SUSPENDED), which bumps its
//! list's version and re-signs the Status List Token at once. Offers are created in
//! [`crate::offers`].

use crate::auth;
use crate::db::{self, CredentialRow};
use crate::errors::{HandlerError, HandlerResult, Rejection};
use crate::state::State;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use oid4vci::ErrorCode;
use serde::Deserialize;
use serde_json::{Value, json};
use status_list::Status;
use std::sync::Arc;

/// Largest page of `GET /admin/credentials`.
const MAX_PAGE: i64 = 500;

fn status_name(v: i64) -> Value {
    match u8::try_from(v).map(Status::from) {
        Ok(Status::Valid) => "VALID".into(),
        Ok(Status::Invalid) => "INVALID".into(),
        Ok(Status::Suspended) => "SUSPENDED".into(),
        _ => v.into(),
    }
}

fn describe(state: &State, r: &CredentialRow) -> Value {
    json!({
        "id": r.id,
        "offer_id": r.offer_id,
        "credential_configuration_id": r.configuration_id,
        "holder_key_thumbprint": r.holder_jkt,
        "status": status_name(r.status),
        "status_list": {"uri": state.status.uri(&r.status_list), "idx": r.status_idx},
        "kid": r.kid,
        "issued_at": r.issued_at,
        "expires_at": r.expires_at,
        "status_changed_at": r.status_changed_at,
        "notification": r.notification_event.as_ref().map(|e| json!({"event": e, "at": r.notified_at})),
    })
}

/// Query of `GET /admin/credentials`.
#[derive(Debug, Deserialize)]
pub(crate) struct Page {
    /// Only credentials issued strictly before this time (Unix seconds).
    before: Option<i64>,
    /// Page size (default 100, at most 500).
    limit: Option<i64>,
}

/// `GET /admin/credentials`.
pub(crate) async fn list(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    page: Result<Query<Page>, QueryRejection>,
) -> HandlerResult<Response> {
    // Authenticate before looking at the query: an unauthenticated caller learns nothing,
    // not even which parameters exist (401 before 400).
    auth::admin(&headers, state.admin_token.as_ref())?;
    let Query(page) = page.map_err(|e| {
        HandlerError::from(Rejection::new(ErrorCode::InvalidRequest).describe(e.body_text()))
    })?;
    let limit = page.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let rows =
        db::list_credentials(state.db.pool(), page.before.unwrap_or(i64::MAX), limit).await?;
    let next = if i64::try_from(rows.len()).unwrap_or(0) == limit {
        rows.last().map(|r| r.issued_at)
    } else {
        None
    };
    let list: Vec<Value> = rows.iter().map(|r| describe(&state, r)).collect();
    Ok(axum::Json(json!({"credentials": list, "next_before": next})).into_response())
}

/// `GET /admin/credentials/{id}`.
pub(crate) async fn show(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> HandlerResult<Response> {
    auth::admin(&headers, state.admin_token.as_ref())?;
    let row = db::credential(state.db.pool(), &id)
        .await?
        .ok_or_else(|| HandlerError::from(service::ApiError::not_found()))?;
    Ok(axum::Json(describe(&state, &row)).into_response())
}

/// Body of `POST /admin/credentials/{id}/status`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetStatus {
    status: String,
}

/// `POST /admin/credentials/{id}/status`.
pub(crate) async fn set_status(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> HandlerResult<Response> {
    auth::admin(&headers, state.admin_token.as_ref())?;
    let invalid =
        |t: &'static str| HandlerError::from(Rejection::new(ErrorCode::InvalidRequest).describe(t));
    let object =
        jose::json::parse_object(&body).map_err(|_| invalid("the body must be a JSON object"))?;
    let req: SetStatus = serde_json::from_value(Value::Object(object))
        .map_err(|_| invalid("send {\"status\": \"VALID\" | \"INVALID\" | \"SUSPENDED\"}"))?;
    let status = match req.status.as_str() {
        "VALID" => Status::Valid,
        "INVALID" | "REVOKED" => Status::Invalid,
        "SUSPENDED" => Status::Suspended,
        _ => return Err(invalid("status must be VALID, INVALID or SUSPENDED")),
    };
    let now = state.now();
    let list = db::set_status(&state.db, &id, i64::from(u8::from(status)), now)
        .await?
        .ok_or_else(|| HandlerError::from(service::ApiError::not_found()))?;
    tracing::info!(credential = %id, status = %req.status, list = %list, "credential status changed");
    // Re-sign now so the next fetch already has it; a failure here only delays that.
    if let Err(e) = state.status.token(&list, &state.keys, now).await {
        tracing::warn!(error = %e, list = %list, "status list not re-signed yet");
    }
    Ok(
        axum::Json(json!({"id": id, "status": status_name(i64::from(u8::from(status)))}))
            .into_response(),
    )
}
