//! The issuer's HTTP surface, relative to its identifier (mounted at `/issuer` under
//! `--mode=all`); one module per audience, each handler thin — the protocol lives in the
//! domain modules ([`crate::token`], [`crate::credential`], [`crate::offers`], …):
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `GET /.well-known/openid-credential-issuer` | anyone | issuer metadata (JSON; signed with `Accept: application/jwt`) |
//! | `GET /.well-known/oauth-authorization-server` | anyone | AS metadata (`attest_jwt_client_auth`, challenge endpoint) |
//! | `GET /.well-known/jwt-vc-issuer`, `GET /jwks` | anyone | every published signing key |
//! | `GET /status/{list}` | relying parties | Status List Tokens |
//! | `GET /openapi.json` | anyone | the OpenAPI 3.1 document of these routes ([`openapi`]) |
//! | `POST /token` | wallet (client attestation) | pre-authorized code + `tx_code`, client attestation + PoP, optional (or required) DPoP proof |
//! | `POST /challenge` | wallet | attestation challenge (ABCA §6) |
//! | `POST /nonce` | wallet | single-use `c_nonce` |
//! | `POST /credential` | wallet (access token) | SD-JWT VCs, one per proof key, optionally encrypted |
//! | `POST /notification` | wallet (access token) | wallet events |
//! | `GET /offers/{handle}` | wallet | offers by reference |
//! | `POST /admin/offers`, `GET /admin/credentials`, `GET /admin/credentials/{id}`, `POST /admin/credentials/{id}/status` | operator (admin bearer token) | admin API |
//!
//! Modules: `wallet` (what a wallet calls), `documents` (what anyone may fetch and
//! cache), `admin` (the admin API).
//!
//! Every answer of the wallet and admin routes — tokens, nonces, challenges, credentials,
//! offers, what was issued, and every refusal — is `Cache-Control: no-store`, set once by
//! [`service::layers::no_store`] over those routes; the documents set their own `public`
//! lifetimes. `/credential` and `/notification` hand out the next `DPoP-Nonce` (when DPoP
//! nonces are demanded) on every answer, through one more layer: a refusal there, even by
//! an extractor, may have consumed the previous nonce.
//!
//! Under path insertion the well-known documents also belong at the root of the host:
//! [`root_routes`] lists them for the binary to mount there.

mod admin;
mod documents;
pub mod openapi;
mod wallet;

use crate::state::State;
use axum::Router;
use axum::extract::{Request, State as AxumState};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};
use std::sync::Arc;

/// The issuer's routes, relative to its identifier.
pub fn router(state: Arc<State>) -> Router {
    let dpop_nonce = || middleware::from_fn_with_state(Arc::clone(&state), attach_dpop_nonce);
    let dynamic = Router::new()
        .route("/token", post(wallet::token))
        .route("/challenge", post(wallet::challenge))
        .route("/nonce", post(wallet::nonce))
        .route(
            "/credential",
            post(wallet::credential).route_layer(dpop_nonce()),
        )
        .route(
            "/notification",
            post(wallet::notification).route_layer(dpop_nonce()),
        )
        .route("/offers/{handle}", get(wallet::offer))
        .route("/admin/offers", post(admin::create_offer))
        .route("/admin/credentials", get(admin::list))
        .route("/admin/credentials/{id}", get(admin::show))
        .route("/admin/credentials/{id}/status", post(admin::set_status))
        .route_layer(service::layers::no_store());
    Router::new()
        .route(
            "/.well-known/openid-credential-issuer",
            get(documents::issuer_metadata),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(documents::as_metadata),
        )
        .route("/.well-known/jwt-vc-issuer", get(documents::jwt_vc_issuer))
        .route("/jwks", get(documents::jwks))
        .route("/status/{list}", get(documents::status_list))
        .route("/openapi.json", get(openapi::openapi_json))
        .merge(dynamic)
        .with_state(state)
}

/// The next `DPoP-Nonce` on the answer, when DPoP nonces are demanded.
async fn attach_dpop_nonce(
    AxumState(state): AxumState<Arc<State>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    state.dpop.attach_nonce(response).await
}

/// The well-known documents at the paths path insertion gives for this identifier
/// (`/.well-known/<name><identifier path>`), for mounting at the root of the host when
/// the identifier has a path. Empty when it has none (the role's own routes serve them).
pub fn root_routes(state: &Arc<State>) -> Vec<(String, MethodRouter)> {
    let id = state.identifier();
    let has_path = url::Url::parse(id).is_ok_and(|u| !u.path().trim_end_matches('/').is_empty());
    if !has_path {
        return Vec::new();
    }
    let mut out = Vec::new();
    let docs: [(&str, MethodRouter); 3] = [
        (
            oid4vci::metadata::ISSUER_WELL_KNOWN,
            get(documents::issuer_metadata).with_state(Arc::clone(state)),
        ),
        (
            oid4vci::metadata::AS_WELL_KNOWN,
            get(documents::as_metadata).with_state(Arc::clone(state)),
        ),
        (
            oid4vci::metadata::JWT_VC_ISSUER_WELL_KNOWN,
            get(documents::jwt_vc_issuer).with_state(Arc::clone(state)),
        ),
    ];
    for (name, route) in docs {
        if let Ok(path) = oid4vci::well_known_path(id, name) {
            out.push((path, route));
        }
    }
    out
}
