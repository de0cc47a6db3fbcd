//! What a client's user interface decides: which credential to take, the transaction
//! code, which credentials and claims to present; and the holder keys that sign.

use jose::Signer;
use wallet::HeldCredential;
use wallet::presentation::{Choice, Consent};
use wallet_protocol::FlowStep;
use wallet_protocol::engine::{
    CredentialOption, ProgressPayload, RequestedClaims, TrustResult, TxCodeSpec, VerifierSummary,
};

/// What the holder is shown at the consent step.
#[derive(Debug)]
pub struct ConsentView<'a> {
    /// The verifier, as the engine verified it.
    pub verifier: &'a VerifierSummary,
    /// The engine's trust decision.
    pub trust: Option<&'a TrustResult>,
    /// The consent model built here: per query the candidates, every claim they could
    /// disclose, the requested ones marked recommended.
    pub consent: &'a Consent,
    /// The held credentials (indices in `consent` point here).
    pub held: &'a [HeldCredential],
    /// Their ids.
    pub ids: &'a [String],
    /// What the verifier asks for, per query (as the engine read the request).
    pub requested: &'a [RequestedClaims],
}

/// The holder's side of a flow: a user interface and the holder keys.
pub trait Holder: Send {
    /// A flow reached `step` (for progress display).
    fn progress(&mut self, _step: FlowStep, _payload: &ProgressPayload) {}

    /// Picks one of several offered configurations; `None` declines. The default takes
    /// the first.
    fn select(&mut self, options: &[CredentialOption]) -> Option<String> {
        options
            .first()
            .map(|o| o.credential_configuration_id.clone())
    }

    /// The transaction code the offer asks for (`retry`: the one given before was
    /// refused); `None` declines.
    fn tx_code(&mut self, spec: &TxCodeSpec, retry: bool) -> Option<String>;

    /// The holder keys to receive credentials with, one credential per key (up to the
    /// issuer's batch size, in this order).
    fn proof_signers(&self) -> Vec<&dyn Signer>;

    /// Nothing held answers a presentation request (the client tells the engine, which
    /// answers the verifier `access_denied`): for showing why.
    fn nothing_matches(&mut self, _view: &ConsentView<'_>) {}

    /// The holder's decision on a presentation request; `None` declines.
    fn consent(&mut self, view: &ConsentView<'_>) -> Option<Choice>;

    /// The key that signs presentations (the key the presented credentials are bound to).
    fn presentation_signer(&self) -> &dyn Signer;
}
