//! Types both directions share: flow steps, claim paths, matches and selections.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The flow protocols an engine runs (`flow_start.protocol`, `handshake_complete.capabilities`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// OpenID for Verifiable Credential Issuance 1.0 (receiving).
    Oid4vci,
    /// OpenID for Verifiable Presentations 1.0 (presenting).
    Oid4vp,
}

/// Steps of an issuance flow, in order (`deferred` only when the issuer defers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IssuanceStep {
    /// Reading the offer (by value, or fetching `credential_offer_uri`).
    ParsingOffer,
    /// The offer is read; payload `offer`.
    OfferParsed,
    /// Fetching the issuer's and authorization server's metadata.
    FetchingMetadata,
    /// Metadata fetched; payload `issuer`.
    MetadataFetched,
    /// Evaluating the issuer's trust.
    EvaluatingTrust,
    /// Trust evaluated; payload `trust`.
    TrustEvaluated,
    /// Waiting for `select_credential` (or `decline`); payload `available_credentials`.
    AwaitingSelection,
    /// Waiting for `provide_pin` (or `decline`); payload `tx_code`. Not in the list:
    /// the offer's `tx_code` prompt needs a step of its own (see docs/api-v2.md).
    AwaitingTxCode,
    /// Calling the token endpoint.
    ExchangingToken,
    /// Access token obtained.
    TokenObtained,
    /// Calling the credential endpoint (after the `generate_proof` signature).
    RequestingCredential,
    /// The issuer deferred issuance; payload `transaction_id`, `interval`.
    Deferred,
    /// After `flow_complete`: the engine forwarded the client's
    /// `credential_notification`; payload `delivered` (whether the issuer accepted it).
    Notified,
}

/// Steps of a presentation flow, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PresentationStep {
    /// Reading the request (fetching `request_uri`).
    ParsingRequest,
    /// Checking the request object's signature, client id prefix and the verifier's trust.
    EvaluatingVerifierTrust,
    /// The request is valid; payload `verifier`, `trust`.
    RequestParsed,
    /// A `match_request` is out; waiting for `match_response` (or `credentials_matched`).
    MatchCredentials,
    /// Waiting for `consent` (or `decline`); payload `verifier`.
    AwaitingConsent,
    /// Posting the `vp_token` to the verifier (after the `sign_presentation` signature).
    SubmittingResponse,
}

/// A step of either flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum FlowStep {
    /// A step of an issuance flow.
    Issuance(IssuanceStep),
    /// A step of a presentation flow.
    Presentation(PresentationStep),
}

/// One element of a DCQL claims path (OpenID4VP 1.0 §7): a claim name, an array index,
/// or `null` for every element of an array.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(untagged)]
pub enum PathElement {
    /// An object member.
    Name(String),
    /// An array element.
    Index(u64),
    /// Every element of an array.
    All(()),
}

/// A DCQL claims path, e.g. `["address", "street_address"]`.
pub type ClaimPath = Vec<PathElement>;

/// A credential of the client's that satisfies one DCQL credential query. Only ids and
/// claim paths: the credential itself stays on the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialMatch {
    /// The `id` of the DCQL credential query this credential answers.
    pub credential_query_id: String,
    /// The client's local id of the credential (opaque to the engine).
    pub credential_id: String,
    /// The credential's type (`vct` of an SD-JWT VC), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vct: Option<String>,
    /// Every claim the credential could disclose for this query.
    pub available_claims: Vec<ClaimPath>,
}

/// The holder's choice for one credential: which claims to disclose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialSelection {
    /// The client's local id of the credential (from a [`CredentialMatch`]).
    pub credential_id: String,
    /// The `id` of the DCQL credential query it answers, when the client names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_query_id: Option<String>,
    /// The claims the holder chose to disclose.
    pub disclosed_claims: Vec<ClaimPath>,
}

/// A presentation's `vp_token` as OpenID4VP 1.0 §8.1 defines it for DCQL: for each
/// credential query id, the presentations answering it.
pub type VpToken = BTreeMap<String, Vec<String>>;

impl From<IssuanceStep> for FlowStep {
    fn from(step: IssuanceStep) -> Self {
        FlowStep::Issuance(step)
    }
}

impl From<PresentationStep> for FlowStep {
    fn from(step: PresentationStep) -> Self {
        FlowStep::Presentation(step)
    }
}
