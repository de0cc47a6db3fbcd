//! Client → engine messages.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{CredentialMatch, CredentialSelection, VpToken};
use crate::ids::{AppToken, FlowId, MessageId, TxCode};

/// Every message a client sends, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// The first message on a connection: authenticates it.
    Handshake(Handshake),
    /// Starts an issuance or a presentation flow.
    // The inner structs refuse unknown members; in the schema, where the outer `type` is
    // evaluated beside the inner `oneOf`, that is `unevaluatedProperties`.
    #[schemars(extend("unevaluatedProperties" = false))]
    FlowStart(FlowStart),
    /// The user's answer at a step that waits for one.
    #[schemars(extend("unevaluatedProperties" = false))]
    FlowAction(FlowAction),
    /// The answer to a `sign_request`.
    SignResponse(SignResponse),
    /// The answer to a `match_request`.
    MatchResponse(MatchResponse),
    /// Reports what became of an issued credential (OpenID4VCI 1.0 §11).
    CredentialNotification(CredentialNotification),
}

impl ClientMessage {
    /// The message's `type` names, in declaration order.
    pub const TYPES: [&'static str; 6] = [
        "handshake",
        "flow_start",
        "flow_action",
        "sign_response",
        "match_response",
        "credential_notification",
    ];
}

/// `handshake{app_token}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Handshake {
    /// Envelope: optional correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// Envelope: optional RFC 3339 time of sending (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The session JWT from the auth role.
    pub app_token: AppToken,
}

/// `flow_start`, by `protocol`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "protocol", rename_all = "snake_case")]
pub enum FlowStart {
    /// Receive a credential (OpenID4VCI).
    Oid4vci(IssuanceStart),
    /// Present credentials (OpenID4VP).
    Oid4vp(PresentationStart),
}

impl FlowStart {
    /// The flow this message starts.
    pub fn flow_id(&self) -> &FlowId {
        match self {
            FlowStart::Oid4vci(s) => &s.flow_id,
            FlowStart::Oid4vp(s) => &s.flow_id,
        }
    }
}

/// `flow_start{protocol: "oid4vci"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssuanceStart {
    /// Envelope: the new flow's id, chosen by the client, unique on the connection.
    pub flow_id: FlowId,
    /// Envelope: optional correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// Envelope: optional RFC 3339 time of sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The offer as scanned: `openid-credential-offer://?credential_offer=…` (by value) or
    /// `…?credential_offer_uri=…` (by reference; the engine fetches it).
    pub offer: String,
    /// A fresh public key (JWK, `use` `enc`) of the client's for this issuance: the engine
    /// asks the issuer to encrypt the credential response to it, and relays ciphertext.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_encryption: Option<ResponseEncryption>,
    /// Whether the client's policy accepts a plaintext credential response when the
    /// issuer cannot encrypt it (default: no, the flow ends with `CREDENTIAL_ERROR`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_plaintext_response: bool,
}

/// The client's key for OpenID4VCI credential response encryption (§8.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponseEncryption {
    /// The public JWK (an EC P-256 key with `alg` `ECDH-ES`). A JWK with private key
    /// members is refused by the parser.
    pub jwk: serde_json::Map<String, serde_json::Value>,
    /// The content encryption the client wants.
    pub enc: ContentEncryption,
}

/// The content encryption algorithms a client may ask for (an allow-list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ContentEncryption {
    /// AES-128-GCM.
    #[serde(rename = "A128GCM")]
    A128Gcm,
    /// AES-256-GCM.
    #[serde(rename = "A256GCM")]
    A256Gcm,
}

/// `flow_start{protocol: "oid4vp"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PresentationStart {
    /// Envelope: the new flow's id, chosen by the client, unique on the connection.
    pub flow_id: FlowId,
    /// Envelope: optional correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// Envelope: optional RFC 3339 time of sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The authorization request as scanned: `openid4vp://?client_id=…&request_uri=…`.
    pub request: String,
}

/// `flow_action`, by `action`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum FlowAction {
    /// Issuance, at `awaiting_selection`: which offered credential to receive.
    SelectCredential(SelectCredential),
    /// Issuance, at `awaiting_tx_code`: the transaction code the user typed.
    ProvidePin(ProvidePin),
    /// Presentation, at `match_credentials`: the match result, as an alternative to
    /// `match_response` for a client that answers the step rather than the request.
    CredentialsMatched(CredentialsMatched),
    /// Presentation, at `awaiting_consent`: what the holder agreed to disclose.
    Consent(Consent),
    /// Either flow, at any waiting step: the user said no.
    Decline(Decline),
    /// Issuance, at `deferred` with an `encrypted_response`: the `transaction_id` and
    /// `interval` the client read from it, so the engine can poll the deferred credential
    /// endpoint.
    ContinueDeferred(ContinueDeferred),
}

impl FlowAction {
    /// The flow this action belongs to.
    pub fn flow_id(&self) -> &FlowId {
        match self {
            FlowAction::SelectCredential(a) => &a.flow_id,
            FlowAction::ProvidePin(a) => &a.flow_id,
            FlowAction::CredentialsMatched(a) => &a.flow_id,
            FlowAction::Consent(a) => &a.flow_id,
            FlowAction::Decline(a) => &a.flow_id,
            FlowAction::ContinueDeferred(a) => &a.flow_id,
        }
    }
}

/// `flow_action{action: "select_credential"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectCredential {
    /// Envelope: the flow.
    pub flow_id: FlowId,
    /// Envelope: optional correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// Envelope: optional RFC 3339 time of sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// One of the offer's `credential_configuration_ids`.
    pub credential_configuration_id: String,
}

/// `flow_action{action: "provide_pin"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvidePin {
    /// Envelope: the flow.
    pub flow_id: FlowId,
    /// Envelope: optional correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// Envelope: optional RFC 3339 time of sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The transaction code.
    pub tx_code: TxCode,
}

/// `flow_action{action: "credentials_matched"}`: the body of a `match_response`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
// Exactly one present (a `null` member counts as absent, as it does for serde).
#[schemars(extend("oneOf" = [{"required": ["matches"], "properties": {"matches": {"not": {"type": "null"}}}}, {"required": ["no_match_reason"], "properties": {"no_match_reason": {"not": {"type": "null"}}}}]))]
pub struct CredentialsMatched {
    /// Envelope: the flow.
    pub flow_id: FlowId,
    /// Envelope: optional correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// Envelope: optional RFC 3339 time of sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The matches (exactly one of `matches` and `no_match_reason`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub matches: Option<Vec<CredentialMatch>>,
    /// Why nothing matched, for the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_match_reason: Option<String>,
}

/// `flow_action{action: "consent"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Consent {
    /// Envelope: the flow.
    pub flow_id: FlowId,
    /// Envelope: optional correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// Envelope: optional RFC 3339 time of sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The credentials and claims the holder agreed to present (at least one).
    #[schemars(length(min = 1))]
    pub selected_credentials: Vec<CredentialSelection>,
}

/// `flow_action{action: "decline"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Decline {
    /// Envelope: the flow.
    pub flow_id: FlowId,
    /// Envelope: optional correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// Envelope: optional RFC 3339 time of sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Why, for the log (never forwarded to the peer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `continue_deferred`: what the client decrypted from a deferred credential response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContinueDeferred {
    /// Envelope: the flow.
    pub flow_id: FlowId,
    /// Envelope: optional correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// Envelope: RFC 3339 time of sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The issuer's `transaction_id`.
    #[schemars(length(min = 1, max = 1024))]
    pub transaction_id: String,
    /// The issuer's `interval`, seconds.
    #[schemars(range(min = 1))]
    pub interval: u64,
}

/// `sign_response{proofs[] | vp_token | error}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
// Exactly one present (a `null` member counts as absent, as it does for serde).
#[schemars(extend("oneOf" = [{"required": ["proofs"], "properties": {"proofs": {"not": {"type": "null"}}}}, {"required": ["vp_token"], "properties": {"vp_token": {"not": {"type": "null"}}}}, {"required": ["error"], "properties": {"error": {"not": {"type": "null"}}}}]))]
pub struct SignResponse {
    /// Envelope: the flow of the `sign_request`.
    pub flow_id: FlowId,
    /// Envelope: the `message_id` of the `sign_request` answered.
    pub message_id: MessageId,
    /// Envelope: optional RFC 3339 time of sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// For `generate_proof`: `count` key proofs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub proofs: Option<Vec<Proof>>,
    /// For `sign_presentation`: the presentations, by credential query id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vp_token: Option<VpToken>,
    /// The client could not or would not sign (the flow ends with `SIGN_ERROR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One OpenID4VCI key proof, by `proof_type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "proof_type", rename_all = "snake_case")]
pub enum Proof {
    /// `openid4vci-proof+jwt` (OpenID4VCI 1.0 Appendix F.1).
    Jwt {
        /// The compact JWS.
        jwt: String,
    },
}

/// `match_response{matches[] | no_match_reason}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
// Exactly one present (a `null` member counts as absent, as it does for serde).
#[schemars(extend("oneOf" = [{"required": ["matches"], "properties": {"matches": {"not": {"type": "null"}}}}, {"required": ["no_match_reason"], "properties": {"no_match_reason": {"not": {"type": "null"}}}}]))]
pub struct MatchResponse {
    /// Envelope: the flow of the `match_request`.
    pub flow_id: FlowId,
    /// Envelope: the `message_id` of the `match_request` answered.
    pub message_id: MessageId,
    /// Envelope: optional RFC 3339 time of sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The matches (exactly one of `matches` and `no_match_reason`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub matches: Option<Vec<CredentialMatch>>,
    /// Why nothing matched, for the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_match_reason: Option<String>,
}

/// `credential_notification{notification_id, event}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialNotification {
    /// Envelope: the issuance flow (still running: its access token is needed).
    pub flow_id: FlowId,
    /// Envelope: optional correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// Envelope: optional RFC 3339 time of sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The `notification_id` from `flow_complete`.
    pub notification_id: String,
    /// What happened.
    pub event: NotificationEvent,
    /// Free text for the issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_description: Option<String>,
}

/// OpenID4VCI 1.0 §11.1 notification events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationEvent {
    /// The credential was stored.
    CredentialAccepted,
    /// The credential was refused or could not be stored.
    CredentialFailure,
    /// The holder deleted it.
    CredentialDeleted,
}
