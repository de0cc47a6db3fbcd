//! The admin API, behind the admin bearer token (compared in constant time; with no token
//! configured every call is refused): list issued credentials without their claim values
//! (newest first, keyset pages on `(issued_at, id)`),
//! and set a credential's status (VALID, INVALID = revoked, SUSPENDED), which bumps its
//! list's version and re-signs the Status List Token at once; and create offers (the
//! offer itself is made in [`crate::offers`]).

use super::openapi::{CredentialPage, CredentialRecord, ErrorBody, OfferCreated, StatusChanged};
use crate::db::{self, CredentialRow};
use crate::error::{HandlerError, HandlerResult, Reason, Rejection};
use crate::state::State;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State as AxumState};
use axum::response::{IntoResponse, Response};
use oid4vci::ErrorCode;
use serde::Deserialize;
use serde_json::{Value, json};
use service::AdminCaller;
use status_list::Status;
use std::sync::Arc;

/// `POST /admin/offers`.
#[utoipa::path(
    post,
    path = "/admin/offers",
    operation_id = "create_offer",
    tag = "admin",
    security(("admin_bearer" = [])),
    request_body(content = crate::offers::CreateOffer, content_type = "application/json"),
    responses(
        (status = 201, description = "The offer was created.", body = OfferCreated, headers(("cache-control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`: the body is not the JSON object \
                                      described, names an unknown configuration, misses a \
                                      mandatory claim or sets one the issuer writes.",
         body = ErrorBody),
        (status = 401, description = "`invalid_token`: no or a wrong bearer token, or the \
                                      admin API is disabled.", body = ErrorBody,
         headers(("www-authenticate" = String))),
        (status = 500, description = "`server_error`.", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database cannot be \
                                      reached.", body = ErrorBody),
    )
)]
pub(crate) async fn create_offer(
    _: AdminCaller,
    AxumState(state): AxumState<Arc<State>>,
    body: axum::body::Bytes,
) -> HandlerResult<Response> {
    crate::offers::create(&state, &body).await
}

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
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Page {
    /// Only credentials issued strictly before this time (Unix seconds): a filter, not a
    /// page position.
    #[param(nullable = false)]
    before: Option<i64>,
    /// The `next_cursor` of the previous page: continue after its last row.
    #[param(nullable = false)]
    cursor: Option<String>,
    /// Page size (default 100, at most 500; smaller values count as 1, larger as 500).
    #[param(nullable = false)]
    limit: Option<i64>,
}

/// Longest credential id a cursor may carry (ids are 22 characters).
const MAX_CURSOR_ID: usize = 64;

/// A page position: the `(issued_at, id)` of the last row shown, as `<issued_at>.<id>`.
/// Keyset pagination on this unique pair never drops or repeats a row, however many
/// credentials share one second.
fn cursor(r: &CredentialRow) -> String {
    format!("{}.{}", r.issued_at, r.id)
}

fn parse_cursor(text: &str) -> Option<(i64, &str)> {
    let (at, id) = text.split_once('.')?;
    let at = at.parse::<i64>().ok()?;
    let id_ok = !id.is_empty()
        && id.len() <= MAX_CURSOR_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    id_ok.then_some((at, id))
}

/// `GET /admin/credentials`.
#[utoipa::path(
    get,
    path = "/admin/credentials",
    operation_id = "list_credentials",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(Page),
    responses(
        (status = 200, description = "What was issued, newest first, without claim values.",
         body = CredentialPage, headers(("cache-control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`: a malformed query, or a `cursor` \
                                      that is not a `next_cursor`.", body = ErrorBody),
        (status = 401, description = "`invalid_token`: no or a wrong bearer token, or the \
                                      admin API is disabled.", body = ErrorBody,
         headers(("www-authenticate" = String))),
        (status = 500, description = "`server_error`.", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database cannot be \
                                      reached.", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    // Authenticated before the query is looked at: an unauthenticated caller learns
    // nothing, not even which parameters exist (401 before 400).
    _: AdminCaller,
    AxumState(state): AxumState<Arc<State>>,
    page: Result<Query<Page>, QueryRejection>,
) -> HandlerResult<Response> {
    let Query(page) = page.map_err(|e| {
        HandlerError::from(
            Rejection::new(ErrorCode::InvalidRequest, Reason::AdminRequestInvalid)
                .describe(e.body_text()),
        )
    })?;
    let limit = page.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let after = match page.cursor.as_deref() {
        None => None,
        Some(text) => Some(parse_cursor(text).ok_or_else(|| {
            HandlerError::from(
                Rejection::new(ErrorCode::InvalidRequest, Reason::AdminRequestInvalid)
                    .describe("`cursor` must be the `next_cursor` of an earlier page"),
            )
        })?),
    };
    let rows = db::list_credentials(
        state.db.pool(),
        page.before.unwrap_or(i64::MAX),
        after,
        limit,
    )
    .await?;
    let next = if i64::try_from(rows.len()).unwrap_or(0) == limit {
        rows.last().map(cursor)
    } else {
        None
    };
    let list: Vec<Value> = rows.iter().map(|r| describe(&state, r)).collect();
    Ok(axum::Json(json!({"credentials": list, "next_cursor": next})).into_response())
}

/// `GET /admin/credentials/{id}`.
#[utoipa::path(
    get,
    path = "/admin/credentials/{id}",
    operation_id = "get_credential",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "The credential's id.")),
    responses(
        (status = 200, description = "One issued credential, without claim values.",
         body = CredentialRecord, headers(("cache-control" = String, description = "`no-store`"))),
        (status = 401, description = "`invalid_token`: no or a wrong bearer token, or the \
                                      admin API is disabled.", body = ErrorBody,
         headers(("www-authenticate" = String))),
        (status = 404, description = "`not_found`: no such credential.", body = ErrorBody),
        (status = 500, description = "`server_error`.", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database cannot be \
                                      reached.", body = ErrorBody),
    )
)]
pub(crate) async fn show(
    _: AdminCaller,
    AxumState(state): AxumState<Arc<State>>,
    Path(id): Path<String>,
) -> HandlerResult<Response> {
    let row = db::credential(state.db.pool(), &id)
        .await?
        .ok_or_else(|| HandlerError::from(service::ApiError::not_found()))?;
    Ok(axum::Json(describe(&state, &row)).into_response())
}

/// Body of `POST /admin/credentials/{id}/status`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetStatus {
    /// `VALID`, `INVALID` (also `REVOKED`) or `SUSPENDED`.
    status: String,
}

/// `POST /admin/credentials/{id}/status`.
#[utoipa::path(
    post,
    path = "/admin/credentials/{id}/status",
    operation_id = "set_credential_status",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "The credential's id.")),
    request_body(content = SetStatus, content_type = "application/json"),
    responses(
        (status = 200, description = "The status was set and the list re-signed.",
         body = StatusChanged, headers(("cache-control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`: not `{\"status\": \"VALID\" | \
                                      \"INVALID\" | \"SUSPENDED\"}`.", body = ErrorBody),
        (status = 401, description = "`invalid_token`: no or a wrong bearer token, or the \
                                      admin API is disabled.", body = ErrorBody,
         headers(("www-authenticate" = String))),
        (status = 404, description = "`not_found`: no such credential.", body = ErrorBody),
        (status = 500, description = "`server_error`.", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database cannot be \
                                      reached.", body = ErrorBody),
    )
)]
pub(crate) async fn set_status(
    _: AdminCaller,
    AxumState(state): AxumState<Arc<State>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> HandlerResult<Response> {
    let invalid = |t: &'static str| {
        HandlerError::from(
            Rejection::new(ErrorCode::InvalidRequest, Reason::AdminRequestInvalid).describe(t),
        )
    };
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
