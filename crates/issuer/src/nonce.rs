//! `c_nonce` values (§7): fresh, unpredictable (256 bits), stored once in the single-use
//! store for `nonce_ttl` and consumed by the credential request that uses it
//! (`POST /nonce`, handled in `routes::wallet`, answers with one). Attestation challenges
//! (ABCA §6, `POST /challenge`) are made by [`crate::auth::ClientAuth`].

use crate::error::HandlerResult;
use crate::state::State;
use jose::random::token;

/// Namespace of `c_nonce` values in the single-use store.
pub(crate) const NONCE_NAMESPACE: &str = "issuer.c_nonce";

/// A fresh `c_nonce`, stored for one use.
pub(crate) async fn fresh_c_nonce(state: &State) -> HandlerResult<String> {
    let c_nonce = token(state.random.as_ref(), 32)?;
    let _fresh = state
        .single_use
        .put(
            NONCE_NAMESPACE,
            c_nonce.as_bytes(),
            b"1",
            state.settings.nonce_ttl,
        )
        .await?;
    Ok(c_nonce)
}
