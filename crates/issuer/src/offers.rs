//! Credential offers: created through the admin API (`POST /admin/offers`), delivered by
//! value in the offer URI or by reference (`GET /offers/{handle}`, fetchable until the code
//! is redeemed or expires: some wallets fetch twice).
//!
//! Nothing that grants access is stored in clear: the pre-authorized code as SHA-256; the
//! by-reference handle as SHA-256, with the code derived from the handle (so the offer can
//! be served again without storing the code); the transaction code as a salted SHA-256,
//! returned once to the admin caller. Transaction codes are short by design, so their hash
//! alone would not resist an offline search; what protects them is the small number of
//! online attempts (`tx_code_max_attempts`) and the short offer lifetime.

use crate::auth;
use crate::config::RESERVED_CLAIMS;
use crate::db::{self, NewOffer};
use crate::error::{HandlerError, HandlerResult, Reason, Rejection};
use crate::state::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jose::random::{Random, RandomError, token};
use oid4vci::offer::{InputMode, OfferReference, OfferUri};
use oid4vci::{CredentialOffer, ErrorCode, PreAuthorizedCodeGrant, TxCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Largest claims object an offer may carry (serialized).
const MAX_CLAIMS_BYTES: usize = 32 * 1024;
/// Characters of text transaction codes: no look-alikes (0/O, 1/I/L).
const TEXT_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// `POST /admin/offers` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateOffer {
    /// What the offer grants: ids of `[issuer.credentials.<id>]`, each once.
    credential_configuration_ids: Vec<String>,
    /// The claims: every `mandatory` claim of each configuration, none the issuer writes
    /// (`iss`, `iat`, `exp`, `cnf`, `vct`, `status`, …).
    claims: Map<String, Value>,
    /// A transaction code the holder must type at `/token`.
    #[serde(default)]
    #[schema(nullable = false)]
    tx_code: Option<TxCodeRequest>,
    /// Deliver the offer by reference (`credential_offer_uri`) instead of by value.
    #[serde(default)]
    by_reference: bool,
    /// An https wallet endpoint to build the offer URI on, instead of
    /// `openid-credential-offer://`.
    #[serde(default)]
    #[schema(nullable = false)]
    wallet_url: Option<String>,
}

/// The transaction code of an offer.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TxCodeRequest {
    /// 4 to 12 characters (default 6).
    #[serde(default)]
    #[schema(nullable = false)]
    length: Option<u32>,
    /// `numeric` (default) or `text`.
    #[serde(default)]
    #[schema(nullable = false)]
    input_mode: Option<String>,
    /// Shown to the holder, at most 300 characters.
    #[serde(default)]
    #[schema(nullable = false)]
    description: Option<String>,
}

fn invalid(text: impl Into<std::borrow::Cow<'static, str>>) -> HandlerError {
    Rejection::new(ErrorCode::InvalidRequest, Reason::OfferRequestInvalid)
        .describe(text)
        .into()
}

/// The pre-authorized code of a by-reference offer, derived from its handle.
fn code_from_handle(handle: &str) -> String {
    let mut input = b"symbolon-issuer pre-authorized-code\0".to_vec();
    input.extend_from_slice(handle.as_bytes());
    auth::sha256_b64(&input)
}

/// `salt ‖ code` hashed: what is stored of a transaction code.
pub(crate) fn tx_code_hash(salt: &str, code: &str) -> String {
    let mut input = salt.as_bytes().to_vec();
    input.push(0);
    input.extend_from_slice(code.as_bytes());
    auth::sha256_b64(&input)
}

fn generate_tx_code(
    random: &dyn Random,
    length: usize,
    mode: InputMode,
) -> Result<String, RandomError> {
    let alphabet: &[u8] = match mode {
        InputMode::Numeric => b"0123456789",
        InputMode::Text => TEXT_ALPHABET,
    };
    let n = u8::try_from(alphabet.len()).map_err(|_| RandomError)?;
    // Rejection sampling keeps every character equally likely.
    let limit = u8::MAX - (u8::MAX % n);
    let mut out = String::with_capacity(length);
    let mut buf = [0u8; 32];
    while out.len() < length {
        random.fill(&mut buf)?;
        for b in buf {
            if b < limit && out.len() < length {
                let c = alphabet
                    .get(usize::from(b % n))
                    .copied()
                    .ok_or(RandomError)?;
                out.push(char::from(c));
            }
        }
    }
    Ok(out)
}

/// Checks an offer's claims against the configurations it names.
fn check_claims(
    state: &State,
    ids: &[String],
    claims: &Map<String, Value>,
) -> Result<(), HandlerError> {
    if let Some(reserved) = claims
        .keys()
        .find(|k| RESERVED_CLAIMS.contains(&k.as_str()))
    {
        return Err(invalid(format!(
            "claim `{reserved}` is set by the issuer, not by an offer"
        )));
    }
    if Value::Object(claims.clone()).to_string().len() > MAX_CLAIMS_BYTES {
        return Err(invalid("the claims are too large"));
    }
    for id in ids {
        let Some(c) = state.config.credentials.get(id) else {
            return Err(invalid(format!("unknown credential configuration `{id}`")));
        };
        for claim in c.claims.iter().filter(|c| c.mandatory) {
            if crate::credential::lookup(claims, &claim.path).is_none() {
                return Err(invalid(format!(
                    "configuration `{id}` requires claim `{}`",
                    claim.path.join(".")
                )));
            }
        }
    }
    Ok(())
}

/// Creates an offer (`POST /admin/offers`, handled in `routes::admin`).
pub(crate) async fn create(state: &State, body: &[u8]) -> HandlerResult<Response> {
    let object =
        jose::json::parse_object(body).map_err(|_| invalid("the body must be a JSON object"))?;
    let req: CreateOffer = serde_json::from_value(Value::Object(object))
        .map_err(|e| invalid(format!("malformed offer request: {e}")))?;
    let ids = &req.credential_configuration_ids;
    if ids.is_empty() {
        return Err(invalid("`credential_configuration_ids` must not be empty"));
    }
    if ids
        .iter()
        .enumerate()
        .any(|(i, id)| ids.iter().take(i).any(|o| o == id))
    {
        return Err(invalid("`credential_configuration_ids` repeats an id"));
    }
    check_claims(state, ids, &req.claims)?;
    if let Some(url) = &req.wallet_url {
        let ok = url::Url::parse(url).is_ok_and(|u| u.scheme() == "https" && u.query().is_none());
        if !ok {
            return Err(invalid("`wallet_url` must be an https URL without query"));
        }
    }
    let tx = match &req.tx_code {
        None => None,
        Some(t) => {
            let mode = match t.input_mode.as_deref() {
                None => InputMode::Numeric,
                Some(m) => InputMode::from_name(m)
                    .ok_or_else(|| invalid("`tx_code.input_mode` must be numeric or text"))?,
            };
            let length = t.length.unwrap_or(6);
            if !(4..=12).contains(&length) {
                return Err(invalid("`tx_code.length` must be between 4 and 12"));
            }
            if t.description
                .as_deref()
                .is_some_and(|d| d.chars().count() > oid4vci::offer::MAX_TX_CODE_DESCRIPTION)
            {
                return Err(invalid(
                    "`tx_code.description` is longer than 300 characters",
                ));
            }
            let len =
                usize::try_from(length).map_err(|_| invalid("`tx_code.length` out of range"))?;
            let code = generate_tx_code(state.random.as_ref(), len, mode)?;
            let salt = token(state.random.as_ref(), 16)?;
            Some((code, salt, mode, length, t.description.clone()))
        }
    };

    let now = state.now();
    let expires_at = now.saturating_add(state.settings.offer_ttl);
    let offer_id = token(state.random.as_ref(), 16)?;
    let (code, handle) = if req.by_reference {
        let handle = token(state.random.as_ref(), 32)?;
        (code_from_handle(&handle), Some(handle))
    } else {
        (token(state.random.as_ref(), 32)?, None)
    };
    let code_hash = auth::sha256_b64(code.as_bytes());
    let ref_hash = handle.as_deref().map(|h| auth::sha256_b64(h.as_bytes()));
    let ids_json = Value::from(ids.clone()).to_string();
    let claims_json = Value::Object(req.claims.clone()).to_string();
    let tx_hash = tx.as_ref().map(|(c, s, ..)| tx_code_hash(s, c));
    db::insert_offer(
        state.db.pool(),
        &NewOffer {
            id: &offer_id,
            code_hash: &code_hash,
            ref_hash: ref_hash.as_deref(),
            configuration_ids: &ids_json,
            claims: &claims_json,
            tx_code_hash: tx_hash.as_deref(),
            tx_code_salt: tx.as_ref().map(|(_, s, ..)| s.as_str()),
            tx_code_mode: tx.as_ref().map(|(_, _, m, ..)| m.as_str()),
            tx_code_length: tx.as_ref().map(|(.., l, _)| i64::from(*l)),
            tx_code_description: tx.as_ref().and_then(|(.., d)| d.as_deref()),
            created_at: now,
            expires_at,
        },
    )
    .await?;

    let reference = match &handle {
        Some(h) => OfferReference::ByReference(format!("{}/offers/{h}", state.settings.identifier)),
        None => OfferReference::ByValue(offer_object(
            state,
            ids.clone(),
            code,
            tx.as_ref().map(|(_, _, m, l, d)| (*m, *l, d.clone())),
        )),
    };
    let uri = match &req.wallet_url {
        Some(w) => OfferUri {
            endpoint: w.clone(),
            offer: reference.clone(),
        },
        None => OfferUri::with_scheme(reference.clone()),
    };
    let mut body = json!({
        "offer_id": offer_id,
        "offer_uri": uri.to_uri(),
        "expires_at": expires_at,
    });
    if let (OfferReference::ByReference(u), Some(o)) = (&reference, body.as_object_mut()) {
        o.insert("credential_offer_uri".into(), u.clone().into());
    }
    if let (Some((c, ..)), Some(o)) = (&tx, body.as_object_mut()) {
        o.insert("tx_code".into(), c.clone().into());
    }
    tracing::info!(offer_id = %offer_id, by_reference = req.by_reference, tx_code = tx.is_some(), "offer created");
    // `Cache-Control: no-store` comes from the admin routes' layer.
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

fn offer_object(
    state: &State,
    ids: Vec<String>,
    code: String,
    tx: Option<(InputMode, u32, Option<String>)>,
) -> CredentialOffer {
    CredentialOffer {
        credential_issuer: state.settings.identifier.clone(),
        credential_configuration_ids: ids,
        pre_authorized_code: Some(PreAuthorizedCodeGrant {
            pre_authorized_code: code,
            tx_code: tx.map(|(mode, length, description)| TxCode {
                input_mode: Some(mode),
                length: Some(length),
                description,
            }),
            authorization_server: None,
        }),
        authorization_code: None,
    }
}

/// The offer object of `handle` (`GET /offers/{handle}`, handled in `routes::wallet`),
/// while the code is unredeemed and live.
pub(crate) async fn fetch(state: &State, handle: &str) -> HandlerResult<Response> {
    let not_found = || HandlerError::from(service::ApiError::not_found());
    if handle.len() > 128 {
        return Err(not_found());
    }
    let row = db::offer_by_ref(state.db.pool(), &auth::sha256_b64(handle.as_bytes()))
        .await?
        .filter(|r| r.redeemed_at.is_none() && r.expires_at > state.now())
        .ok_or_else(not_found)?;
    let ids: Vec<String> = serde_json::from_str(&row.configuration_ids)
        .map_err(|_| crate::error::Failure::Corrupt("offer"))?;
    let tx = match (&row.tx_code_hash, &row.tx_code_mode, row.tx_code_length) {
        (Some(_), mode, length) => Some((
            mode.as_deref()
                .and_then(InputMode::from_name)
                .unwrap_or_default(),
            length.and_then(|l| u32::try_from(l).ok()).unwrap_or(6),
            row.tx_code_description.clone(),
        )),
        (None, ..) => None,
    };
    let offer = offer_object(state, ids, code_from_handle(handle), tx);
    // `Cache-Control: no-store` comes from the wallet routes' layer.
    Ok(axum::Json(offer.to_value()).into_response())
}

impl From<service::ApiError> for HandlerError {
    fn from(e: service::ApiError) -> Self {
        HandlerError::Api(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jose::random::SystemRandom;

    #[test]
    fn transaction_codes_have_the_asked_length_and_alphabet() {
        for _ in 0..50 {
            let n = generate_tx_code(&SystemRandom, 6, InputMode::Numeric).unwrap();
            assert_eq!(n.len(), 6);
            assert!(n.bytes().all(|b| b.is_ascii_digit()), "{n}");
            let t = generate_tx_code(&SystemRandom, 8, InputMode::Text).unwrap();
            assert_eq!(t.len(), 8);
            assert!(t.bytes().all(|b| TEXT_ALPHABET.contains(&b)), "{t}");
        }
    }

    #[test]
    fn codes_derive_from_handles_and_hashes_are_salted() {
        assert_eq!(code_from_handle("h1"), code_from_handle("h1"));
        assert_ne!(code_from_handle("h1"), code_from_handle("h2"));
        assert_ne!(tx_code_hash("s1", "123456"), tx_code_hash("s2", "123456"));
    }
}
