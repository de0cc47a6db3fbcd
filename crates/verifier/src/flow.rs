//! The transaction lifecycle shared by the RP API and the demo page: creating a
//! transaction and its authorization request, serving the request object, taking the
//! wallet's response, and presenting the result.

use jose::Curve;
use jose::jwe::{CompactJwe, DecryptPolicy, EncryptionKey};
use oid4vp::dcql::DcqlQuery;
use oid4vp::{
    AuthorizationRequest, AuthorizationResponse, ClientId, ClientIdPrefix, ClientMetadata,
    DirectPostBody, Invocation, RequestUriMethod, RequestUriPost, ResponseMode, ResponseUriReply,
    SdJwtVcFormat, WalletMetadata,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use service::ApiError;
use service::error::codes;
use utoipa::ToSchema;

use crate::error::{ProtocolError, Rejection};
use crate::policy::Policy;
use crate::session::{self, SessionClaims};
use crate::state::State;
use crate::transaction::{Finish, FinishOutcome, Flow, Status, Transaction};
use crate::trust::ALGORITHMS;
use crate::verify::{Expectation, Failure, check_vp_token};
use std::sync::Arc;

/// 128 random bits, base64url: transaction ids, request ids (`state`), nonces, response
/// codes (OpenID4VP §5.2, §13.3: at least 128 bits).
fn token(random: &dyn jose::random::Random) -> Result<String, jose::random::RandomError> {
    jose::random::token(random, 16)
}

/// Namespace of response codes in the single-use store.
const RESPONSE_CODES: &str = "verifier.response_code";

/// The body of `POST /transactions`. Every member is optional; `null` is the same as
/// absent.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// The policy name (default: the configured default, or the only policy).
    pub policy: Option<String>,
    /// A DCQL query replacing the policy's (it must request every essential claim).
    #[schema(value_type = Option<Object>)]
    pub dcql_query: Option<Value>,
    /// `x509_san_dns`, `x509_hash` or `redirect_uri` (default: `verifier.client_id_prefix`).
    #[schema(value_type = Option<PrefixName>)]
    pub client_id_prefix: Option<String>,
    /// `direct_post` or `direct_post.jwt` (default: `verifier.response_mode`).
    #[schema(value_type = Option<ResponseModeName>)]
    pub response_mode: Option<String>,
    /// `get` or `post` (default: `verifier.request_uri_method`).
    #[schema(value_type = Option<RequestUriMethodName>)]
    pub request_uri_method: Option<String>,
    /// `cross_device` or `same_device` (default: the policy's).
    #[schema(value_type = Option<FlowName>)]
    pub flow: Option<String>,
}

// These four enums only describe the names in the OpenAPI document: `CreateRequest` keeps
// the strings, so that an unknown name gets its own error description.

/// The client identifier prefixes a transaction can use.
#[derive(serde::Serialize, ToSchema)]
#[allow(dead_code)]
enum PrefixName {
    #[serde(rename = "x509_san_dns")]
    X509SanDns,
    #[serde(rename = "x509_hash")]
    X509Hash,
    #[serde(rename = "redirect_uri")]
    RedirectUri,
}

/// The response modes a transaction can use.
#[derive(serde::Serialize, ToSchema)]
#[allow(dead_code)]
enum ResponseModeName {
    #[serde(rename = "direct_post")]
    DirectPost,
    #[serde(rename = "direct_post.jwt")]
    DirectPostJwt,
}

/// How the wallet fetches the request object.
#[derive(serde::Serialize, ToSchema)]
#[allow(dead_code)]
enum RequestUriMethodName {
    #[serde(rename = "get")]
    Get,
    #[serde(rename = "post")]
    Post,
}

/// Where the wallet runs: another device (QR code) or the same one (link).
#[derive(serde::Serialize, ToSchema)]
#[allow(dead_code)]
enum FlowName {
    #[serde(rename = "cross_device")]
    CrossDevice,
    #[serde(rename = "same_device")]
    SameDevice,
}

/// A created transaction.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, ToSchema)]
pub struct Created {
    /// The RP-facing id.
    pub transaction_id: String,
    /// The `openid4vp://` link (QR code content, same-device link).
    pub authorization_request: String,
    /// Until when the wallet can answer (Unix seconds).
    pub expires_at: i64,
    /// The full client identifier used.
    pub client_id: String,
}

fn invalid(description: impl Into<String>) -> ApiError {
    ApiError::bad_request(codes::INVALID_REQUEST).with_description(description.into())
}

/// A failure of the server's own, or "could not check" (`503` with `Retry-After`) when the
/// transaction store or the single-use store could not be reached (a database restart).
fn internal(e: &(dyn std::error::Error + 'static)) -> ApiError {
    let unreachable = e
        .downcast_ref::<crate::transaction::StoreError>()
        .is_some_and(crate::transaction::StoreError::is_unavailable)
        || e.downcast_ref::<store::Error>()
            .is_some_and(store::Error::is_unavailable);
    if unreachable {
        tracing::warn!(error = %e, "a store is unavailable");
        return ApiError::unavailable();
    }
    ApiError::internal(e)
}

fn choose_policy<'s>(
    state: &'s State,
    name: Option<&str>,
) -> Result<&'s std::sync::Arc<Policy>, ApiError> {
    let name = match name {
        Some(n) => n.to_owned(),
        None => match (&state.settings().default_policy, state.policies().count()) {
            (Some(d), _) => d.clone(),
            (None, 1) => state
                .policies()
                .next()
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            _ => return Err(invalid("name a policy: there is no default policy")),
        },
    };
    state
        .policy(&name)
        .ok_or_else(|| invalid(format!("unknown policy {name:?}")))
}

/// Creates a transaction (the RP API's and the demo's `POST`).
pub async fn create(state: &State, req: CreateRequest) -> Result<Created, ApiError> {
    let policy = choose_policy(state, req.policy.as_deref())?;
    let query = match &req.dcql_query {
        None => policy.query.clone(),
        Some(v) => {
            let q = DcqlQuery::from_value(v).map_err(|e| invalid(format!("dcql_query: {e}")))?;
            if !policy.query_covers_essentials(&q) {
                return Err(invalid(
                    "dcql_query must request every essential claim of the policy",
                ));
            }
            q
        }
    };
    let settings = state.settings();
    let prefix = match req.client_id_prefix.as_deref() {
        None => settings.default_prefix,
        Some(p) => crate::config::parse_prefix("client_id_prefix", p).map_err(|_| {
            invalid("client_id_prefix must be x509_san_dns, x509_hash or redirect_uri")
        })?,
    };
    let client_id = state.client_id(prefix).ok_or_else(|| {
        invalid(format!(
            "client_id_prefix {prefix} is not available: no matching certificate"
        ))
    })?;
    let response_mode = match req.response_mode.as_deref() {
        None => settings.response_mode,
        Some(m) => ResponseMode::from_name(m)
            .ok_or_else(|| invalid("response_mode must be direct_post or direct_post.jwt"))?,
    };
    let request_uri_method = match req.request_uri_method.as_deref() {
        None => settings.request_uri_method,
        Some(m) => RequestUriMethod::from_name(m)
            .ok_or_else(|| invalid("request_uri_method must be get or post"))?,
    };
    let flow = match req.flow.as_deref() {
        None => policy.flow,
        Some(f) => {
            Flow::from_name(f).ok_or_else(|| invalid("flow must be cross_device or same_device"))?
        }
    };
    // The same check as for a same-device policy at config time: without a redirect the
    // response code never reaches the RP, so the transaction could never deliver claims.
    if flow == Flow::SameDevice && redirect_base(state, policy).is_none() {
        return Err(invalid(format!(
            "flow same_device needs a success_redirect, and policy {:?} has none",
            policy.name
        )));
    }

    let random = state.random();
    let id = token(random).map_err(|e| internal(&e))?;
    let request_id = token(random).map_err(|e| internal(&e))?;
    let nonce = token(random).map_err(|e| internal(&e))?;
    let (enc_key, sealed_key) = match response_mode {
        ResponseMode::DirectPost => (None, None),
        ResponseMode::DirectPostJwt => {
            let key = EncryptionKey::generate(Curve::P256)
                .map_err(|e| internal(&e))?
                .with_kid(request_id.clone());
            let sealed = state
                .sealer()
                .seal(&key, &request_id, random)
                .map_err(|e| internal(&e))?;
            (Some(key), Some(sealed))
        }
    };
    let now = state.clock().now();
    let tx = Transaction {
        id,
        request_id,
        nonce,
        policy: policy.name.clone(),
        dcql_query: query.to_value().to_string(),
        prefix,
        client_id: client_id.as_str().to_owned(),
        response_mode,
        request_uri_method,
        sealed_key,
        flow,
        status: Status::Pending,
        created_at: now,
        expires_at: now.saturating_add(settings.transaction_ttl),
        finished_at: None,
        result: None,
    };
    state.store().insert(&tx).await.map_err(|e| internal(&e))?;
    state.pending().put(&tx, now);

    let invocation = match prefix {
        ClientIdPrefix::RedirectUri => {
            let enc_jwk = enc_key
                .as_ref()
                .map(EncryptionKey::public_jwk_for_encryption);
            let request = authorization_request(state, &tx, query, enc_jwk, &settings.enc_values)?;
            Invocation::ByValue(Box::new(request))
        }
        _ => Invocation::ByReference {
            client_id: tx.client_id.clone(),
            request_uri: state.request_uri(&tx.request_id),
            request_uri_method: Some(request_uri_method),
        },
    };
    tracing::info!(
        transaction = %tx.id,
        policy = %tx.policy,
        prefix = prefix.name(),
        response_mode = response_mode.name(),
        "transaction created"
    );
    Ok(Created {
        transaction_id: tx.id,
        authorization_request: invocation.to_uri("openid4vp://"),
        expires_at: tx.expires_at,
        client_id: tx.client_id,
    })
}

fn authorization_request(
    state: &State,
    tx: &Transaction,
    query: DcqlQuery,
    enc_jwk: Option<jose::PublicJwk>,
    enc_values: &[jose::jwe::Enc],
) -> Result<AuthorizationRequest, ApiError> {
    let jwt = tx.response_mode == ResponseMode::DirectPostJwt;
    // Stored by this verifier from a parsed identifier: failing here means a damaged row.
    let client_id = ClientId::parse(&tx.client_id).map_err(|e| internal(&e))?;
    Ok(AuthorizationRequest {
        client_id,
        response_mode: tx.response_mode,
        response_uri: state.response_uri(),
        nonce: tx.nonce.clone(),
        state: Some(tx.request_id.clone()),
        dcql_query: query,
        client_metadata: Some(ClientMetadata {
            sd_jwt_vc: Some(SdJwtVcFormat::with_algorithms(ALGORITHMS)),
            jwks: enc_jwk.map(|k| vec![k]),
            encrypted_response_enc_values_supported: jwt.then(|| enc_values.to_vec()),
        }),
        wallet_nonce: None,
        transaction_data: None,
    })
}

/// Serves the signed request object of a transaction (`request_uri`, GET or POST).
pub async fn request_object(
    state: &State,
    request_id: &str,
    post: Option<RequestUriPost>,
) -> Result<String, ApiError> {
    let pending = state
        .transaction(request_id)
        .await
        .map_err(|e| internal(&e))?
        .ok_or_else(ApiError::not_found)?;
    let tx = &pending.tx;
    let now = state.clock().now();
    check_pending(tx, now).map_err(|e| e.to_api_error())?;
    if tx.prefix == ClientIdPrefix::RedirectUri {
        // Requests with this prefix travel by value and are never signed.
        return Err(ApiError::not_found());
    }
    let mut enc_values = state.settings().enc_values.clone();
    let mut wallet_nonce = None;
    if let Some(post) = post {
        if let Some(text) = &post.wallet_metadata {
            let meta = WalletMetadata::from_json(text)
                .map_err(|e| invalid(format!("wallet_metadata: {e}")))?;
            if !meta.supports_sd_jwt_vc() {
                return Err(ProtocolError::WalletUnsupported(
                    "the wallet does not support dc+sd-jwt".into(),
                )
                .to_api_error());
            }
            if !meta.accepts_request_alg(state.request_signer().algorithm()) {
                return Err(invalid(
                    "the wallet does not accept the request object signing algorithm",
                ));
            }
            if let Some(prefixes) = &meta.client_id_prefixes_supported
                && !prefixes.iter().any(|p| p == tx.prefix.name())
            {
                return Err(invalid(format!(
                    "the wallet does not support the client_id prefix {}",
                    tx.prefix
                )));
            }
            if tx.response_mode == ResponseMode::DirectPostJwt {
                enc_values = meta.enc_values(&enc_values);
                if enc_values.is_empty() {
                    return Err(invalid(
                        "the wallet supports none of the offered response encryption methods",
                    ));
                }
            }
        }
        wallet_nonce = post.wallet_nonce;
    }
    let query = pending.query.clone();
    let enc_jwk = match &tx.sealed_key {
        None => None,
        Some(sealed) => Some(
            open_sealed(state, sealed, tx)
                .map_err(|e| e.to_api_error())?
                .public_jwk_for_encryption(),
        ),
    };
    let mut request = authorization_request(state, tx, query, enc_jwk, &enc_values)?;
    request.wallet_nonce = wallet_nonce;
    let lifetime = tx.expires_at.saturating_sub(now).clamp(1, 600);
    oid4vp::sign_request_object(
        &request,
        state.request_signer(),
        Some(state.chain()),
        now,
        lifetime,
    )
    .map_err(|e| internal(&e))
}

/// Opens a transaction's sealed response key. A key that does not open is the
/// transaction's problem, not the server's: it was sealed under another key encryption key
/// (changed configuration, or a process that had its own), so no answer to it can ever be
/// decrypted; the wallet gets a 400 and the transaction is left to expire.
fn open_sealed(
    state: &State,
    sealed: &[u8],
    tx: &Transaction,
) -> Result<EncryptionKey, ProtocolError> {
    state.sealer().open(sealed, &tx.request_id).map_err(|e| {
        tracing::warn!(
            transaction = %tx.id,
            error = %e,
            "a pending transaction's response key cannot be opened: was verifier.key_encryption_key changed?"
        );
        ProtocolError::TransactionKeyUnreadable
    })
}

fn check_pending(tx: &Transaction, now: i64) -> Result<(), ProtocolError> {
    match tx.status {
        Status::Pending if now >= tx.expires_at => Err(ProtocolError::Expired),
        Status::Pending => Ok(()),
        Status::Success | Status::Failed => Err(ProtocolError::AlreadyAnswered),
    }
}

/// What the response endpoint answers.
#[derive(Debug)]
pub enum ResponseOutcome {
    /// `200` with this body.
    Accepted(ResponseUriReply),
    /// `400` with the rejection; the transaction is failed.
    Rejected(Rejection),
    /// A protocol error; nothing changed.
    Protocol(ProtocolError),
    /// Internal failure.
    Internal(ApiError),
}

/// Takes a `direct_post` / `direct_post.jwt` body.
pub async fn response(state: &State, body: &[u8]) -> ResponseOutcome {
    match response_inner(state, body).await {
        Ok(o) | Err(o) => o,
    }
}

async fn response_inner(state: &State, body: &[u8]) -> Result<ResponseOutcome, ResponseOutcome> {
    use ResponseOutcome as O;
    let parsed = DirectPostBody::from_form(body)
        .map_err(|e| O::Protocol(ProtocolError::InvalidRequest(e.to_string())))?;
    let store = state.store();
    let (pending, response) =
        match parsed {
            DirectPostBody::Plain(response) => {
                let request_id = response.state().ok_or_else(|| {
                    O::Protocol(ProtocolError::InvalidRequest("state is required".into()))
                })?;
                let pending = state
                    .transaction(request_id)
                    .await
                    .map_err(|e| O::Internal(internal(&e)))?
                    .ok_or(O::Protocol(ProtocolError::InvalidState))?;
                if pending.tx.response_mode == ResponseMode::DirectPostJwt
                    && matches!(response, AuthorizationResponse::Success { .. })
                {
                    return Err(O::Protocol(ProtocolError::EncryptionRequired));
                }
                (pending, response)
            }
            DirectPostBody::Encrypted(jwe) => {
                let jwe = CompactJwe::parse(&jwe)
                    .map_err(|e| O::Protocol(ProtocolError::InvalidEncryption(e.to_string())))?;
                let kid = jwe.header().kid().ok_or_else(|| {
                    O::Protocol(ProtocolError::InvalidEncryption(
                        "the JWE has no kid; copy it from client_metadata.jwks".into(),
                    ))
                })?;
                let pending = state
                    .transaction(kid)
                    .await
                    .map_err(|e| O::Internal(internal(&e)))?
                    .ok_or(O::Protocol(ProtocolError::InvalidState))?;
                let tx = &pending.tx;
                check_pending(tx, state.clock().now()).map_err(O::Protocol)?;
                let sealed = tx.sealed_key.as_deref().ok_or(O::Protocol(
                    ProtocolError::InvalidEncryption("this transaction expects direct_post".into()),
                ))?;
                let key = open_sealed(state, sealed, tx).map_err(O::Protocol)?;
                let enc = &state.settings().enc_values;
                let plain = jwe
                    .decrypt(&key, &DecryptPolicy::new(enc))
                    .map_err(|e| O::Protocol(ProtocolError::InvalidEncryption(e.to_string())))?;
                let payload = jose::json::parse_object(plain.plaintext()).map_err(|_| {
                    O::Protocol(ProtocolError::InvalidEncryption(
                        "the decrypted payload is not a JSON object".into(),
                    ))
                })?;
                let response = AuthorizationResponse::from_payload(&payload)
                    .map_err(|e| O::Protocol(ProtocolError::InvalidRequest(e.to_string())))?;
                if response.state() != Some(tx.request_id.as_str()) {
                    return Err(O::Protocol(ProtocolError::InvalidState));
                }
                (Arc::clone(&pending), response)
            }
        };
    let tx = &pending.tx;
    let now = state.clock().now();
    if let Err(e) = check_pending(tx, now) {
        if e == ProtocolError::AlreadyAnswered {
            state.pending().remove(&tx.request_id);
        }
        return Err(O::Protocol(e));
    }
    let policy = state
        .policy(&tx.policy)
        .ok_or_else(|| O::Internal(ApiError::unavailable().with_description("policy removed")))?;

    let verdict = match &response {
        AuthorizationResponse::Error {
            error,
            error_description,
            ..
        } => Err(Failure::Rejected(Rejection::WalletError(
            match error_description {
                Some(d) => format!("{error}: {d}"),
                None => error.clone(),
            },
        ))),
        AuthorizationResponse::Success { vp_token, .. } => {
            let expect = Expectation {
                policy,
                query: &pending.query,
                client_id: &tx.client_id,
                nonce: &tx.nonce,
            };
            check_vp_token(state, &expect, vp_token).await
        }
    };
    let (status, result, reject) = match verdict {
        Ok(accepted) => (
            Status::Success,
            json!({"claims": accepted.claims, "essential": accepted.essential}),
            None,
        ),
        Err(Failure::Unavailable) => return Err(O::Protocol(ProtocolError::Unavailable)),
        Err(Failure::Rejected(r)) => (
            Status::Failed,
            json!({"error": r.code(), "error_description": r.to_string()}),
            Some(r),
        ),
    };
    // The holder's browser comes back (with a code) after success, and after a wallet
    // error so the RP can show the refusal; refused presentations get the error instead.
    let wallet_declined = matches!(response, AuthorizationResponse::Error { .. });
    let code = if status == Status::Success || wallet_declined {
        let code = token(state.random()).map_err(|e| O::Internal(internal(&e)))?;
        // Stored before the answer is recorded: if the store cannot keep it, nothing has
        // changed yet and the wallet may retry. A code whose transaction then turns out to
        // be answered already is never handed out and expires unused.
        let ttl = std::time::Duration::from_secs(
            u64::try_from(state.settings().result_ttl).unwrap_or(600),
        );
        match state
            .single_use()
            .put(RESPONSE_CODES, code.as_bytes(), tx.id.as_bytes(), ttl)
            .await
        {
            Ok(store::InsertOutcome::Inserted) => Some(code),
            Ok(store::InsertOutcome::AlreadyPresent) => {
                return Err(O::Internal(ApiError::unavailable()));
            }
            Err(e) if e.is_unavailable() => return Err(O::Protocol(ProtocolError::Unavailable)),
            Err(e) => return Err(O::Internal(internal(&e))),
        }
    } else {
        None
    };
    let finish = Finish { status, result };
    let outcome = store
        .finish(&tx.request_id, &finish, now)
        .await
        .map_err(|e| O::Internal(internal(&e)))?;
    state.pending().remove(&tx.request_id);
    match outcome {
        FinishOutcome::Done => {}
        FinishOutcome::AlreadyAnswered => return Err(O::Protocol(ProtocolError::AlreadyAnswered)),
        FinishOutcome::Expired => return Err(O::Protocol(ProtocolError::Expired)),
        FinishOutcome::Unknown => return Err(O::Protocol(ProtocolError::InvalidState)),
    }
    let reason = reject.as_ref().map(Rejection::code).unwrap_or("none");
    tracing::info!(
        transaction = %tx.id,
        status = status.name(),
        reason,
        "transaction answered"
    );
    metrics::counter!(
        "verifier_transactions_answered_total",
        "status" => status.name(),
        "reason" => reason
    )
    .increment(1);
    if let Some(r) = reject
        && !wallet_declined
    {
        return Ok(O::Rejected(r));
    }
    let redirect_uri = match (redirect_base(state, policy), code) {
        (Some(base), Some(code)) => Some(format!("{base}#response_code={code}")),
        _ => None,
    };
    Ok(O::Accepted(ResponseUriReply { redirect_uri }))
}

/// Where the wallet sends the holder's browser after answering a transaction of `policy`
/// (`#response_code=…` is appended): its `success_redirect`, or the demo page for the
/// demo policy.
fn redirect_base(state: &State, policy: &Policy) -> Option<String> {
    match &policy.success_redirect {
        Some(base) => Some(base.clone()),
        None if state.settings().demo && policy.name == crate::demo::CLASSROOM_POLICY => {
            Some(format!("{}/demo", state.base_url()))
        }
        None => None,
    }
}

/// The JSON view of a transaction for the RP. `code` is the `response_code` when the RP
/// exchanges one. `reveal` controls whether a cross-device poll may see the result.
pub async fn view(state: &State, id: &str, code: Option<&str>) -> Result<Value, ApiError> {
    let store = state.store();
    let tx = store
        .by_id(id)
        .await
        .map_err(|e| internal(&e))?
        .ok_or_else(ApiError::not_found)?;
    let now = state.clock().now();
    let exchanged = match code {
        None => false,
        Some(code) => {
            let taken = state
                .single_use()
                .take(RESPONSE_CODES, code.as_bytes())
                .await
                .map_err(|e| {
                    if e.is_unavailable() {
                        ApiError::unavailable()
                    } else {
                        internal(&e)
                    }
                })?;
            if taken.as_deref() != Some(tx.id.as_bytes()) {
                return Err(ApiError::bad_request(codes::INVALID_GRANT)
                    .with_description("the response_code is invalid or was already used"));
            }
            true
        }
    };
    let status = match tx.status {
        Status::Pending if now >= tx.expires_at => ViewStatus::Expired,
        Status::Pending => ViewStatus::Pending,
        Status::Success => ViewStatus::Success,
        Status::Failed => ViewStatus::Failed,
    };
    let mut out = TransactionView {
        transaction_id: tx.id.clone(),
        status,
        policy: tx.policy.clone(),
        expires_at: tx.expires_at,
        claims: None,
        session_token: None,
        error: None,
        error_description: None,
    };
    let reveal = exchanged || tx.flow == Flow::CrossDevice;
    if let (true, Some(result)) = (reveal, &tx.result) {
        match tx.status {
            Status::Success => {
                out.claims = result.get("claims").cloned();
                let essential = result
                    .get("essential")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let jti = token(state.random()).map_err(|e| internal(&e))?;
                let token = session::issue(
                    &SessionClaims {
                        issuer: state.base_url(),
                        transaction_id: &tx.id,
                        policy: &tx.policy,
                        issued_at: now,
                        lifetime: state.settings().session_token_ttl,
                        jti: &jti,
                        claims: &essential,
                    },
                    state.session_signer(),
                )
                .map_err(|e| internal(&e))?;
                out.session_token = Some(token);
            }
            Status::Failed => {
                out.error = result.get("error").cloned();
                out.error_description = result.get("error_description").cloned();
            }
            Status::Pending => {}
        }
    }
    serde_json::to_value(out).map_err(|e| internal(&e))
}

/// A transaction as the RP sees it (`GET /transactions/{id}`): members without a value
/// are left out.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionView {
    /// The RP-facing id.
    pub transaction_id: String,
    /// Where the transaction is.
    pub status: ViewStatus,
    /// The policy name.
    pub policy: String,
    /// Until when the wallet can answer (Unix seconds).
    pub expires_at: i64,
    /// `success`, when the result is shown: the disclosed claims.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>, nullable = false)]
    pub claims: Option<Value>,
    /// `success`, when the result is shown: a session token (JWT signed with the key at
    /// `/jwks`) carrying the policy's essential claims.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub session_token: Option<String>,
    /// `failed`, when the result is shown: the rejection code (or `wallet_error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = false)]
    pub error: Option<Value>,
    /// `failed`, when the result is shown: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = false)]
    pub error_description: Option<Value>,
}

/// The state of a transaction as the RP sees it: `expired` is a pending transaction past
/// its `expires_at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ViewStatus {
    /// Waiting for the wallet.
    Pending,
    /// Answered and accepted.
    Success,
    /// Answered and refused (or declined by the wallet).
    Failed,
    /// Not answered in time.
    Expired,
}

/// The authorization request link of a pending transaction, for the QR code.
pub async fn link(state: &State, id: &str) -> Result<String, ApiError> {
    let tx = state
        .store()
        .by_id(id)
        .await
        .map_err(|e| internal(&e))?
        .ok_or_else(ApiError::not_found)?;
    check_pending(&tx, state.clock().now()).map_err(|e| e.to_api_error())?;
    if tx.prefix == ClientIdPrefix::RedirectUri {
        let query = DcqlQuery::from_json(tx.dcql_query.as_bytes()).map_err(|e| internal(&e))?;
        let enc_jwk = match &tx.sealed_key {
            None => None,
            Some(sealed) => Some(
                open_sealed(state, sealed, &tx)
                    .map_err(|e| e.to_api_error())?
                    .public_jwk_for_encryption(),
            ),
        };
        let request =
            authorization_request(state, &tx, query, enc_jwk, &state.settings().enc_values)?;
        return Ok(Invocation::ByValue(Box::new(request)).to_uri("openid4vp://"));
    }
    Ok(Invocation::ByReference {
        client_id: tx.client_id.clone(),
        request_uri: state.request_uri(&tx.request_id),
        request_uri_method: Some(tx.request_uri_method),
    }
    .to_uri("openid4vp://"))
}
