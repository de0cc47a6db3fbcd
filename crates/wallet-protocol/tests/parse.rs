//! Negative tests of the parsers (each refusal is the exact typed error, and the schema
//! refuses the same message where it can state the rule), and property tests: any message
//! the types can build serializes and parses back equal, and no input makes a parser panic.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use serde_json::{Value, json};
use wallet_protocol::client::{
    Consent, Decline, FlowAction, FlowStart, Handshake, IssuanceStart, MatchResponse,
    PresentationStart, Proof, ProvidePin, SelectCredential, SignResponse,
};
use wallet_protocol::common::{CredentialMatch, CredentialSelection, PathElement};
use wallet_protocol::engine::{
    ErrorBody, FlowError, FlowProgress, ProgressPayload, SignAction, SignParams, SignRequest,
};
use wallet_protocol::limits::{MAX_JSON_DEPTH, MAX_MESSAGE_BYTES};
use wallet_protocol::parse::ParseError;
use wallet_protocol::{
    AppToken, ClientMessage, EngineMessage, ErrorCode, FlowId, FlowStep, IssuanceStep, MessageId,
    PresentationStep, TxCode, parse_client_message, parse_engine_message, schema,
};

fn client(v: &Value) -> Result<ClientMessage, ParseError> {
    parse_client_message(v.to_string().as_bytes(), MAX_MESSAGE_BYTES)
}

fn engine(v: &Value) -> Result<EngineMessage, ParseError> {
    parse_engine_message(v.to_string().as_bytes(), MAX_MESSAGE_BYTES)
}

fn schema_accepts(direction: &str, v: &Value) -> bool {
    let mut doc = schema::schema();
    let obj = doc.as_object_mut().unwrap();
    obj.remove("anyOf");
    obj.insert("$ref".into(), json!(format!("#/$defs/{direction}")));
    jsonschema::draft202012::new(&doc).unwrap().is_valid(v)
}

/// The parser refuses `v` and so does the schema.
fn refused_by_both(v: &Value) -> ParseError {
    assert!(!schema_accepts("ClientMessage", v), "schema accepts {v}");
    let e = client(v).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidMessage);
    e
}

#[test]
fn rejects_unknown_type() {
    let e = refused_by_both(&json!({"type": "hello"}));
    assert!(
        matches!(e, ParseError::UnknownType(ref t) if t == "hello"),
        "{e:?}"
    );
    // An engine message sent by a client is an unknown type in that direction.
    let progress = json!({"type": "flow_progress", "flow_id": "f-1", "step": "parsing_offer"});
    assert!(engine(&progress).is_ok());
    let e = refused_by_both(&progress);
    assert!(
        matches!(e, ParseError::UnknownType(ref t) if t == "flow_progress"),
        "{e:?}"
    );
}

#[test]
fn rejects_missing_type() {
    let e = refused_by_both(&json!({"app_token": "t"}));
    assert!(matches!(e, ParseError::MissingType), "{e:?}");
}

#[test]
fn rejects_missing_field() {
    let e = refused_by_both(&json!({"type": "handshake"}));
    assert!(
        matches!(e, ParseError::MissingField { ref field } if field == "app_token"),
        "{e:?}"
    );
    let e = refused_by_both(&json!({"type": "flow_start", "flow_id": "f-1", "offer": "x"}));
    assert!(
        matches!(e, ParseError::MissingField { ref field } if field == "protocol"),
        "{e:?}"
    );
    let e = refused_by_both(&json!({"type": "flow_start", "protocol": "oid4vp", "flow_id": "f-1"}));
    assert!(
        matches!(e, ParseError::MissingField { ref field } if field == "request"),
        "{e:?}"
    );
    let e = refused_by_both(&json!({"type": "flow_action", "flow_id": "f-1", "tx_code": "1"}));
    assert!(
        matches!(e, ParseError::MissingField { ref field } if field == "action"),
        "{e:?}"
    );
    let e = refused_by_both(
        &json!({"type": "sign_response", "flow_id": "f-1", "proofs": [{"proof_type": "jwt", "jwt": "a.b.c"}]}),
    );
    assert!(
        matches!(e, ParseError::MissingField { ref field } if field == "message_id"),
        "{e:?}"
    );
}

#[test]
fn rejects_unknown_field() {
    // The TypeScript client's extra handshake member.
    let e = refused_by_both(&json!({"type": "handshake", "app_token": "t", "tenantId": "x"}));
    assert!(
        matches!(e, ParseError::UnknownField { ref field } if field == "tenantId"),
        "{e:?}"
    );
    // Inside a nested tag (protocol, action), where the schema needs unevaluatedProperties.
    let e = refused_by_both(&json!({
        "type": "flow_start", "protocol": "oid4vci", "flow_id": "f-1", "offer": "x",
        "redirect_uri": "https://evil.example"
    }));
    assert!(
        matches!(e, ParseError::UnknownField { ref field } if field == "redirect_uri"),
        "{e:?}"
    );
    let e = refused_by_both(&json!({
        "type": "flow_action", "action": "provide_pin", "flow_id": "f-1",
        "payload": {"tx_code": "1"}
    }));
    assert!(
        matches!(e, ParseError::UnknownField { ref field } if field == "payload"),
        "{e:?}"
    );
    let e = refused_by_both(&json!({
        "type": "match_response", "flow_id": "f-1", "message_id": "m",
        "matches": [{"credential_query_id": "q", "credential_id": "c", "available_claims": [], "format": "dc+sd-jwt"}]
    }));
    assert!(
        matches!(e, ParseError::UnknownField { ref field } if field == "format"),
        "{e:?}"
    );
}

#[test]
fn rejects_unknown_enum_values() {
    let e = refused_by_both(&json!({"type": "flow_start", "protocol": "vctm", "flow_id": "f-1"}));
    assert!(
        matches!(e, ParseError::UnknownVariant { ref value } if value == "vctm"),
        "{e:?}"
    );
    let e = refused_by_both(
        &json!({"type": "flow_action", "action": "trust_result", "flow_id": "f-1"}),
    );
    assert!(
        matches!(e, ParseError::UnknownVariant { ref value } if value == "trust_result"),
        "{e:?}"
    );
    let e = refused_by_both(&json!({
        "type": "credential_notification", "flow_id": "f-1", "notification_id": "n",
        "event": "credential_revoked"
    }));
    assert!(
        matches!(e, ParseError::UnknownVariant { ref value } if value == "credential_revoked"),
        "{e:?}"
    );
}

#[test]
fn rejects_oversized_input() {
    let big = json!({"type": "handshake", "app_token": "a".repeat(MAX_MESSAGE_BYTES)});
    let bytes = big.to_string();
    let e = parse_client_message(bytes.as_bytes(), MAX_MESSAGE_BYTES).unwrap_err();
    assert!(
        matches!(e, ParseError::TooLarge { len, max } if len == bytes.len() && max == MAX_MESSAGE_BYTES),
        "{e:?}"
    );
    // The caller's limit is the one applied.
    let small = json!({"type": "handshake", "app_token": "abc"}).to_string();
    assert!(matches!(
        parse_client_message(small.as_bytes(), 10),
        Err(ParseError::TooLarge { max: 10, .. })
    ));
}

#[test]
fn rejects_deep_nesting() {
    let mut q = json!(1);
    for _ in 0..MAX_JSON_DEPTH {
        q = json!({ "a": q });
    }
    let msg = json!({"type": "match_request", "flow_id": "f", "message_id": "m", "dcql_query": q});
    let e = engine(&msg).unwrap_err();
    assert!(
        matches!(e, ParseError::TooDeep { max } if max == MAX_JSON_DEPTH),
        "{e:?}"
    );
    // Far past serde_json's own recursion limit: still the typed error, one linear pass.
    let deep = format!(r#"{{"type":"handshake","x":{}}}"#, "[".repeat(100_000));
    let e = parse_client_message(deep.as_bytes(), usize::MAX).unwrap_err();
    assert!(matches!(e, ParseError::TooDeep { .. }), "{e:?}");
}

#[test]
fn rejects_wrong_types() {
    let e = refused_by_both(&json!({"type": 7}));
    assert!(
        matches!(e, ParseError::InvalidValue { ref path, .. } if path == "type"),
        "{e:?}"
    );
    let e = refused_by_both(&json!({"type": "handshake", "app_token": 5}));
    assert!(
        matches!(e, ParseError::InvalidValue { ref detail, .. } if detail.contains("invalid type")),
        "{e:?}"
    );
    let e = refused_by_both(&json!({"type": "handshake", "app_token": ""}));
    assert!(matches!(e, ParseError::InvalidValue { .. }), "{e:?}");
    let e = refused_by_both(
        &json!({"type": "flow_start", "protocol": "oid4vp", "flow_id": "f 1", "request": "x"}),
    );
    assert!(
        matches!(e, ParseError::InvalidValue { ref detail, .. } if detail.contains("an id uses only")),
        "{e:?}"
    );
    let e = refused_by_both(&json!({
        "type": "flow_action", "action": "consent", "flow_id": "f",
        "selected_credentials": [{"credential_id": "c", "disclosed_claims": [["a", 1.5]]}]
    }));
    assert!(matches!(e, ParseError::InvalidValue { .. }), "{e:?}");
}

#[test]
fn rejects_invalid_json_duplicates_and_non_objects() {
    let e = parse_client_message(
        br#"{"type":"handshake","app_token":"a","app_token":"b"}"#,
        1024,
    )
    .unwrap_err();
    assert!(
        matches!(e, ParseError::Json(jose::json::JsonError::Duplicate(ref n)) if n == "app_token"),
        "{e:?}"
    );
    let e = parse_client_message(br#"{"type":"handshake""#, 1024).unwrap_err();
    assert!(
        matches!(e, ParseError::Json(jose::json::JsonError::Syntax(_))),
        "{e:?}"
    );
    let e = parse_client_message(br#"{"type":"handshake","app_token":"a"} {}"#, 1024).unwrap_err();
    assert!(
        matches!(e, ParseError::Json(jose::json::JsonError::Syntax(_))),
        "{e:?}"
    );
    let e = parse_client_message(b"[1]", 1024).unwrap_err();
    assert!(matches!(e, ParseError::NotObject), "{e:?}");
}

#[test]
fn rejects_both_or_neither_of_exclusive_members() {
    let m = json!({"credential_query_id": "q", "credential_id": "c", "available_claims": [["a"]]});
    let e = refused_by_both(&json!({
        "type": "match_response", "flow_id": "f", "message_id": "m",
        "matches": [m], "no_match_reason": "x"
    }));
    assert!(matches!(e, ParseError::ExactlyOneOf { .. }), "{e:?}");
    let e = refused_by_both(&json!({"type": "match_response", "flow_id": "f", "message_id": "m"}));
    assert!(matches!(e, ParseError::ExactlyOneOf { .. }), "{e:?}");
    // `null` counts as absent for both the parser and the schema.
    let ok = json!({"type": "match_response", "flow_id": "f", "message_id": "m", "matches": null, "no_match_reason": "none"});
    assert!(client(&ok).is_ok());
    assert!(schema_accepts("ClientMessage", &ok));
    let e = refused_by_both(&json!({"type": "sign_response", "flow_id": "f", "message_id": "m"}));
    assert!(matches!(e, ParseError::ExactlyOneOf { .. }), "{e:?}");
    let e = refused_by_both(&json!({
        "type": "sign_response", "flow_id": "f", "message_id": "m",
        "vp_token": {"q": ["x"]}, "error": "no key"
    }));
    assert!(matches!(e, ParseError::ExactlyOneOf { .. }), "{e:?}");
}

#[test]
fn rejects_empty_lists() {
    let e = refused_by_both(
        &json!({"type": "match_response", "flow_id": "f", "message_id": "m", "matches": []}),
    );
    assert!(matches!(e, ParseError::Empty { field: "matches" }), "{e:?}");
    let e = refused_by_both(
        &json!({"type": "flow_action", "action": "consent", "flow_id": "f", "selected_credentials": []}),
    );
    assert!(
        matches!(
            e,
            ParseError::Empty {
                field: "selected_credentials"
            }
        ),
        "{e:?}"
    );
    let e = refused_by_both(
        &json!({"type": "sign_response", "flow_id": "f", "message_id": "m", "proofs": []}),
    );
    assert!(matches!(e, ParseError::Empty { field: "proofs" }), "{e:?}");
}

#[test]
fn rejects_sign_request_for_zero_proofs() {
    let v = json!({
        "type": "sign_request", "flow_id": "f", "message_id": "m", "action": "generate_proof",
        "params": {"audience": "https://issuer.example", "nonce": "n", "count": 0}
    });
    assert!(!schema_accepts("EngineMessage", &v));
    let e = engine(&v).unwrap_err();
    assert!(
        matches!(e, ParseError::InvalidValue { ref path, .. } if path == "params.count"),
        "{e:?}"
    );
}

#[test]
fn error_bodies_carry_the_user_facing_message() {
    let msg = EngineMessage::FlowError(FlowError {
        flow_id: FlowId::new("f").unwrap(),
        message_id: None,
        timestamp: None,
        step: Some(FlowStep::Issuance(IssuanceStep::ExchangingToken)),
        error: ErrorBody::new(ErrorCode::TokenError),
    });
    let v: Value = serde_json::from_str(&msg.to_json()).unwrap();
    assert_eq!(v["error"]["code"], "TOKEN_ERROR");
    assert_eq!(v["error"]["message"], ErrorCode::TokenError.user_message());
    assert!(schema_accepts("EngineMessage", &v));
}

#[test]
fn tx_code_and_app_token_never_show_in_debug() {
    let m = parse_client_message(
        br#"{"type":"flow_action","action":"provide_pin","flow_id":"f","tx_code":"493536"}"#,
        1024,
    )
    .unwrap();
    assert!(!format!("{m:?}").contains("493536"));
    let m =
        parse_client_message(br#"{"type":"handshake","app_token":"secret-jwt"}"#, 1024).unwrap();
    assert!(!format!("{m:?}").contains("secret-jwt"));
}

// ---- properties ----

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~-]{1,24}"
}

fn text() -> impl Strategy<Value = String> {
    ".{0,24}"
}

fn claim_path() -> impl Strategy<Value = Vec<PathElement>> {
    prop::collection::vec(
        prop_oneof![
            text().prop_map(PathElement::Name),
            any::<u64>().prop_map(PathElement::Index),
            Just(PathElement::All(())),
        ],
        1..4,
    )
}

fn selection() -> impl Strategy<Value = CredentialSelection> {
    (
        id(),
        prop::option::of(id()),
        prop::collection::vec(claim_path(), 0..3),
    )
        .prop_map(|(credential_id, credential_query_id, disclosed_claims)| {
            CredentialSelection {
                credential_id,
                credential_query_id,
                disclosed_claims,
            }
        })
}

fn client_message() -> impl Strategy<Value = ClientMessage> {
    let fid = || id().prop_map(|s| FlowId::new(s).unwrap());
    let mid = || id().prop_map(|s| MessageId::new(s).unwrap());
    prop_oneof![
        (".{1,40}", prop::option::of(mid()), prop::option::of(text())).prop_map(|(t, m, ts)| {
            ClientMessage::Handshake(Handshake {
                message_id: m,
                timestamp: ts,
                app_token: AppToken::new(t),
            })
        }),
        (fid(), text(), any::<bool>()).prop_map(|(f, offer, allow)| {
            ClientMessage::FlowStart(FlowStart::Oid4vci(IssuanceStart {
                flow_id: f,
                message_id: None,
                timestamp: None,
                offer,
                response_encryption: None,
                allow_plaintext_response: allow,
            }))
        }),
        (fid(), text()).prop_map(|(f, request)| {
            ClientMessage::FlowStart(FlowStart::Oid4vp(PresentationStart {
                flow_id: f,
                message_id: None,
                timestamp: None,
                request,
            }))
        }),
        (fid(), text()).prop_map(
            |(f, c)| ClientMessage::FlowAction(FlowAction::SelectCredential(SelectCredential {
                flow_id: f,
                message_id: None,
                timestamp: None,
                credential_configuration_id: c
            }))
        ),
        (fid(), ".{1,12}").prop_map(|(f, c)| ClientMessage::FlowAction(FlowAction::ProvidePin(
            ProvidePin {
                flow_id: f,
                message_id: None,
                timestamp: None,
                tx_code: TxCode::new(c)
            }
        ))),
        (fid(), prop::collection::vec(selection(), 1..3)).prop_map(|(f, s)| {
            ClientMessage::FlowAction(FlowAction::Consent(Consent {
                flow_id: f,
                message_id: None,
                timestamp: None,
                selected_credentials: s,
            }))
        }),
        (fid(), prop::option::of(text())).prop_map(|(f, r)| ClientMessage::FlowAction(
            FlowAction::Decline(Decline {
                flow_id: f,
                message_id: None,
                timestamp: None,
                reason: r
            })
        )),
        (fid(), mid(), prop::collection::vec(text(), 1..3)).prop_map(|(f, m, jwts)| {
            ClientMessage::SignResponse(SignResponse {
                flow_id: f,
                message_id: m,
                timestamp: None,
                proofs: Some(jwts.into_iter().map(|jwt| Proof::Jwt { jwt }).collect()),
                vp_token: None,
                error: None,
            })
        }),
        (
            fid(),
            mid(),
            id(),
            id(),
            prop::option::of(text()),
            prop::collection::vec(claim_path(), 0..3)
        )
            .prop_map(|(f, m, q, c, vct, claims)| ClientMessage::MatchResponse(
                MatchResponse {
                    flow_id: f,
                    message_id: m,
                    timestamp: None,
                    matches: Some(vec![CredentialMatch {
                        credential_query_id: q,
                        credential_id: c,
                        vct,
                        available_claims: claims,
                    }]),
                    no_match_reason: None,
                }
            )),
    ]
}

fn engine_message() -> impl Strategy<Value = EngineMessage> {
    let fid = || id().prop_map(|s| FlowId::new(s).unwrap());
    let step = prop_oneof![
        Just(FlowStep::Issuance(IssuanceStep::ParsingOffer)),
        Just(FlowStep::Issuance(IssuanceStep::AwaitingTxCode)),
        Just(FlowStep::Issuance(IssuanceStep::Deferred)),
        Just(FlowStep::Presentation(PresentationStep::MatchCredentials)),
        Just(FlowStep::Presentation(PresentationStep::SubmittingResponse)),
    ];
    prop_oneof![
        (
            fid(),
            step.clone(),
            prop::option::of(id()),
            prop::option::of(any::<u32>())
        )
            .prop_map(
                |(f, step, transaction_id, interval)| EngineMessage::FlowProgress(FlowProgress {
                    flow_id: f,
                    message_id: None,
                    timestamp: None,
                    step,
                    payload: ProgressPayload {
                        transaction_id,
                        interval,
                        ..ProgressPayload::default()
                    },
                })
            ),
        (
            fid(),
            prop::option::of(step),
            prop::sample::select(ErrorCode::ALL.to_vec())
        )
            .prop_map(|(f, step, code)| EngineMessage::FlowError(FlowError {
                flow_id: f,
                message_id: None,
                timestamp: None,
                step,
                error: ErrorBody::new(code),
            })),
        (
            fid(),
            id(),
            text(),
            text(),
            1u32..10,
            prop::collection::vec(selection(), 0..2)
        )
            .prop_map(
                |(f, m, audience, nonce, count, sel)| EngineMessage::SignRequest(SignRequest {
                    flow_id: f,
                    message_id: MessageId::new(m).unwrap(),
                    timestamp: None,
                    action: SignAction::GenerateProof,
                    params: SignParams {
                        audience,
                        nonce: Some(nonce),
                        issuer: None,
                        count: Some(count),
                        proof_types_supported: None,
                        credentials_to_include: Some(sel),
                        transaction_data: None,
                    },
                })
            ),
    ]
}

proptest! {
    #[test]
    fn any_client_message_parses_back_equal(msg in client_message()) {
        let json = msg.to_json();
        let back = parse_client_message(json.as_bytes(), MAX_MESSAGE_BYTES).unwrap();
        prop_assert_eq!(back, msg);
    }

    #[test]
    fn any_engine_message_parses_back_equal(msg in engine_message()) {
        let json = msg.to_json();
        let back = parse_engine_message(json.as_bytes(), MAX_MESSAGE_BYTES).unwrap();
        prop_assert_eq!(back, msg);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_client_message(&bytes, MAX_MESSAGE_BYTES);
        let _ = parse_engine_message(&bytes, MAX_MESSAGE_BYTES);
    }
}

#[test]
fn rejects_private_key_as_response_encryption_key() {
    let v = json!({
        "type": "flow_start", "protocol": "oid4vci", "flow_id": "f", "offer": "x",
        "response_encryption": {
            "jwk": {"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "secret"},
            "enc": "A128GCM"
        }
    });
    let e = client(&v).unwrap_err();
    assert!(
        matches!(
            e,
            ParseError::PrivateKeyMaterial {
                field: "response_encryption.jwk"
            }
        ),
        "{e:?}"
    );
}

#[test]
fn rejects_content_encryption_outside_the_allow_list() {
    let e = refused_by_both(&json!({
        "type": "flow_start", "protocol": "oid4vci", "flow_id": "f", "offer": "x",
        "response_encryption": {"jwk": {"kty": "EC"}, "enc": "A128CBC-HS256"}
    }));
    assert!(
        matches!(e, ParseError::UnknownVariant { ref value } if value == "A128CBC-HS256"),
        "{e:?}"
    );
}

#[test]
fn envelope_of_a_refused_message_names_its_flow_and_message() {
    let bytes = br#"{"type":"flow_action","action":"nope","flow_id":"f-1","message_id":"m-2"}"#;
    assert!(parse_client_message(bytes, 1024).is_err());
    let env = wallet_protocol::envelope_of(bytes, 1024);
    assert_eq!(env.flow_id.unwrap().as_str(), "f-1");
    assert_eq!(env.message_id.unwrap().as_str(), "m-2");
    // Invalid ids, non-objects and oversized input give nothing, without failing.
    let env = wallet_protocol::envelope_of(br#"{"flow_id":"a b","message_id":5}"#, 1024);
    assert_eq!(env, wallet_protocol::Envelope::default());
    assert_eq!(
        wallet_protocol::envelope_of(b"[]", 1024),
        wallet_protocol::Envelope::default()
    );
    assert_eq!(
        wallet_protocol::envelope_of(bytes, 8),
        wallet_protocol::Envelope::default()
    );
}
