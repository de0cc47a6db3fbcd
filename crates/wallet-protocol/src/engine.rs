//! Engine → client messages.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Capability, ClaimPath, CredentialSelection, FlowStep};
use crate::error_code::ErrorCode;
use crate::ids::{FlowId, MessageId};

/// Every message an engine sends, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineMessage {
    /// The handshake succeeded.
    HandshakeComplete(HandshakeComplete),
    /// A flow reached a step.
    FlowProgress(FlowProgress),
    /// A flow ended successfully.
    FlowComplete(FlowComplete),
    /// A flow ended with an error.
    FlowError(FlowError),
    /// The engine needs the holder key: a key proof or a presentation signature.
    SignRequest(SignRequest),
    /// The engine needs the client to match a DCQL query against its credentials.
    MatchRequest(MatchRequest),
    /// A notice not tied to a request.
    Push(Push),
    /// A message could not be accepted, or the connection is being closed.
    Error(ErrorMessage),
}

impl EngineMessage {
    /// The message's `type` names, in declaration order.
    pub const TYPES: [&'static str; 8] = [
        "handshake_complete",
        "flow_progress",
        "flow_complete",
        "flow_error",
        "sign_request",
        "match_request",
        "push",
        "error",
    ];
}

/// `handshake_complete{session_id, capabilities, protocol_version}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HandshakeComplete {
    /// Envelope: the `message_id` of the `handshake`, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// Envelope: RFC 3339 time of sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// This connection's id, for support requests (not an authenticator).
    pub session_id: String,
    /// The flows this engine runs and this session's token permits.
    pub capabilities: Vec<Capability>,
    /// [`crate::PROTOCOL_VERSION`].
    pub protocol_version: String,
}

/// `flow_progress{step, payload}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowProgress {
    /// Envelope: the flow.
    pub flow_id: FlowId,
    /// Envelope: optional correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// Envelope: RFC 3339 time of sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The step reached.
    pub step: FlowStep,
    /// What the step found; which members are present depends on the step.
    #[serde(default, skip_serializing_if = "ProgressPayload::is_empty")]
    pub payload: ProgressPayload,
}

/// The payload of `flow_progress`: each member belongs to the step named in its doc.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressPayload {
    /// `offer_parsed`: the offer's issuer and offered configurations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<OfferSummary>,
    /// `metadata_fetched`: the issuer's display name and what it supports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<IssuerSummary>,
    /// `trust_evaluated`, `request_parsed`: the trust decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<TrustResult>,
    /// `awaiting_selection`: the configurations the client may choose from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_credentials: Option<Vec<CredentialOption>>,
    /// `awaiting_tx_code`: how the transaction code looks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_code: Option<TxCodeSpec>,
    /// `awaiting_tx_code`: the code sent before was refused by the issuer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retry: bool,
    /// `request_parsed`, `awaiting_consent`: who is asking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier: Option<VerifierSummary>,
    /// `awaiting_consent`: for each credential query, the claims the verifier asked for
    /// (to mark them recommended on the consent screen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_claims: Option<Vec<RequestedClaims>>,
    /// `deferred`: the issuer's transaction id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// `deferred`: seconds the engine waits between polls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<u32>,
    /// `deferred`, when the issuer encrypted its deferral to the client: the JWE holding
    /// `transaction_id` and `interval` (answered with `continue_deferred`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_response: Option<String>,
    /// `notified`: whether the issuer accepted the notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<bool>,
}

impl ProgressPayload {
    /// True when no member is set (the payload is then omitted).
    pub fn is_empty(&self) -> bool {
        self == &ProgressPayload::default()
    }
}

/// What an offer names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferSummary {
    /// The issuer's identifier.
    pub credential_issuer: String,
    /// The offered configurations.
    pub credential_configuration_ids: Vec<String>,
    /// Whether the offer needs a transaction code.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tx_code_required: bool,
}

/// What the issuer's metadata says, as far as the client needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssuerSummary {
    /// The issuer's identifier.
    pub credential_issuer: String,
    /// Its display name, when the metadata gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Whether it can encrypt the credential response. When it cannot and the client did
    /// not allow a plaintext response, the flow ends with `CREDENTIAL_ERROR` right after.
    pub response_encryption: bool,
    /// Whether the issuer's metadata came signed and verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_metadata: Option<bool>,
}

/// A trust decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustResult {
    /// Trusted or not (an untrusted party ends the flow with `UNTRUSTED_*`).
    pub trusted: bool,
    /// The framework that decided (e.g. a configured trust list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
}

/// One offered credential configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialOption {
    /// The configuration id to put in `select_credential`.
    pub credential_configuration_id: String,
    /// Its format (e.g. `dc+sd-jwt`).
    pub format: String,
    /// Its type, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vct: Option<String>,
    /// Its display name, when the metadata gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// The offer's `tx_code` object (OpenID4VCI 1.0 §4.1.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TxCodeSpec {
    /// `numeric` or `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_mode: Option<String>,
    /// The code's length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u32>,
    /// The issuer's hint for the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Who a presentation request comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifierSummary {
    /// The verified client id, with its prefix (e.g. `x509_san_dns:verifier.example`).
    pub client_id: String,
    /// The verifier's name from its metadata, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The claims one DCQL credential query asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestedClaims {
    /// The credential query id.
    pub credential_query_id: String,
    /// The requested claim paths.
    pub claims: Vec<ClaimPath>,
}

/// `flow_complete`: the issuance's credentials (encrypted unless the client allowed
/// otherwise), or the presentation's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowComplete {
    /// Envelope: the flow.
    pub flow_id: FlowId,
    /// Envelope: optional correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// Envelope: RFC 3339 time of sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Issuance: the issuer's credential response as received, a compact JWE encrypted
    /// to the client's `response_encryption` key. The engine cannot read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_response: Option<String>,
    /// Issuance without response encryption (only when the client allowed it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Vec<IssuedCredential>>,
    /// Issuance: the issuer's `notification_id` (for `credential_notification`), when
    /// the response was not encrypted (otherwise it is inside the JWE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_id: Option<String>,
    /// Issuance: what the client needs to check and show the credentials it decrypts
    /// (the issuer's published keys and the configuration's display), as the engine
    /// fetched them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuance: Option<IssuanceContext>,
    /// Presentation: where the verifier asks the user agent to go next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// Presentation: the credentials that were presented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presented: Option<Vec<CredentialSelection>>,
    /// The flow ended because the client sent `decline` (for a presentation, after the
    /// engine told the verifier `access_denied`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub declined: bool,
}

/// The public issuer data a client needs to verify and show issued credentials without
/// fetching anything itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssuanceContext {
    /// The credential issuer identifier (the credentials' `iss`).
    pub credential_issuer: String,
    /// The configuration requested.
    pub credential_configuration_id: String,
    /// That configuration as the issuer's metadata publishes it (`format`, `vct`,
    /// `credential_metadata` with its display and claim labels).
    pub credential_configuration: serde_json::Map<String, serde_json::Value>,
    /// The issuer's display name, if it publishes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_name: Option<String>,
    /// The issuer's signing keys from its JWT VC Issuer Metadata (a JWK Set), when the
    /// engine could fetch them; a credential signed with an `x5c` chain is checked
    /// against the client's own anchors instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_jwks: Option<serde_json::Map<String, serde_json::Value>>,
}

/// One credential of a plaintext credential response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssuedCredential {
    /// The credential (an SD-JWT VC is a string).
    pub credential: serde_json::Value,
}

/// `flow_error{step, error{code, message}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowError {
    /// Envelope: the flow (which has ended).
    pub flow_id: FlowId,
    /// Envelope: the `message_id` of the message that caused the error, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// Envelope: RFC 3339 time of sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The step the flow failed at; absent when it failed before its first step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<FlowStep>,
    /// What failed.
    pub error: ErrorBody,
}

/// `{code, message}`: the message is the code's [`ErrorCode::user_message`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// The error code.
    pub code: ErrorCode,
    /// The user-facing message.
    pub message: String,
}

impl ErrorBody {
    /// The body for `code`, with its user-facing message.
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            message: code.user_message().to_owned(),
        }
    }
}

/// `sign_request{action, params}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// Envelope: the flow.
    pub flow_id: FlowId,
    /// Envelope: to be echoed by the `sign_response`.
    pub message_id: MessageId,
    /// Envelope: RFC 3339 time of sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// What to sign.
    pub action: SignAction,
    /// What goes into the signature.
    pub params: SignParams,
}

/// What a `sign_request` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignAction {
    /// OpenID4VCI key proofs (`openid4vci-proof+jwt`), 1 to `count` of them, answered with `proofs`.
    GenerateProof,
    /// OpenID4VP presentations with key binding (KB-JWT), answered with `vp_token`.
    SignPresentation,
}

/// The inputs of a signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignParams {
    /// `aud`: the credential issuer (proof) or the verifier's client id (KB-JWT).
    pub audience: String,
    /// `nonce`: the issuer's `c_nonce` (absent when the issuer has no nonce endpoint) or
    /// the verifier's request nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// `generate_proof`: the proof's `iss` (the engine's client id), absent for an
    /// anonymous pre-authorized grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// `generate_proof`: the most proofs the issuer takes in one request (its batch
    /// size; default 1). The client sends between 1 and `count`, each with a distinct
    /// holder key, and receives one credential per proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub count: Option<u32>,
    /// `generate_proof`: the configuration's `proof_types_supported`, as the issuer sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof_types_supported: Option<serde_json::Map<String, serde_json::Value>>,
    /// `sign_presentation`: the credentials and claims to present (those consented to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_to_include: Option<Vec<CredentialSelection>>,
    /// `sign_presentation`: the request's `transaction_data` items (base64url strings), to be
    /// hashed into the KB-JWT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_data: Option<Vec<String>>,
}

/// `match_request{dcql_query}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchRequest {
    /// Envelope: the flow.
    pub flow_id: FlowId,
    /// Envelope: to be echoed by the `match_response`.
    pub message_id: MessageId,
    /// Envelope: RFC 3339 time of sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The verifier's DCQL query, as in its request.
    pub dcql_query: serde_json::Map<String, serde_json::Value>,
}

/// `push{push_type}`: a notice about the session, not tied to a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Push {
    /// Envelope: the flow concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<FlowId>,
    /// Envelope: optional correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// Envelope: RFC 3339 time of sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// What the notice is about.
    pub push_type: PushType,
    /// `session_expiring`: seconds until the `app_token` expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
}

/// Kinds of `push`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PushType {
    /// The `app_token` expires soon; reconnect with a fresh one (flows do not resume).
    SessionExpiring,
    /// The engine is shutting down: running flows finish, new ones go elsewhere.
    Draining,
}

/// `error{code, message}`: a message-level or connection-level error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorMessage {
    /// Envelope: the flow named by the refused message, when it named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<FlowId>,
    /// Envelope: the `message_id` of the refused message, when it had a valid one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// Envelope: RFC 3339 time of sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The error code.
    pub code: ErrorCode,
    /// The code's user-facing message.
    pub message: String,
}

impl ErrorMessage {
    /// The error for `code`, with its user-facing message and no envelope ids.
    pub fn new(code: ErrorCode) -> Self {
        Self {
            flow_id: None,
            message_id: None,
            timestamp: None,
            code,
            message: code.user_message().to_owned(),
        }
    }
}
