//! Property tests: every message this crate writes parses back to the same value.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use oid4vci::notification::NotificationEvent;
use oid4vci::offer::AuthorizationCodeGrant;
use oid4vci::{
    CredentialOffer, CredentialRequest, CredentialTarget, InputMode, NotificationRequest,
    OfferReference, OfferUri, OfferUriOptions, PreAuthorizedCodeGrant, Proofs, TokenRequest,
    TxCode,
};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    "[ -~éü€😀]{1,24}"
}

fn tx_code() -> impl Strategy<Value = Option<TxCode>> {
    proptest::option::of(
        (
            proptest::option::of(prop_oneof![Just(InputMode::Numeric), Just(InputMode::Text)]),
            proptest::option::of(1u32..12),
            proptest::option::of("[ -~]{0,40}"),
        )
            .prop_map(|(input_mode, length, description)| TxCode {
                input_mode,
                length,
                description,
            }),
    )
}

fn offer() -> impl Strategy<Value = CredentialOffer> {
    (
        text(),
        proptest::collection::btree_set(text(), 1..4),
        proptest::option::of((text(), tx_code())),
        proptest::option::of(proptest::option::of(text())),
    )
        .prop_map(|(issuer, ids, pre, auth)| CredentialOffer {
            credential_issuer: issuer,
            credential_configuration_ids: ids.into_iter().collect(),
            pre_authorized_code: pre.map(|(code, tx_code)| PreAuthorizedCodeGrant {
                pre_authorized_code: code,
                tx_code,
                authorization_server: None,
            }),
            authorization_code: auth.map(|issuer_state| AuthorizationCodeGrant {
                issuer_state,
                authorization_server: None,
            }),
        })
}

proptest! {
    #[test]
    fn offers_round_trip(o in offer()) {
        prop_assert_eq!(CredentialOffer::from_json(o.to_json().as_bytes()).unwrap(), o.clone());
        let uri = OfferUri::with_scheme(OfferReference::ByValue(o));
        prop_assert_eq!(OfferUri::parse(&uri.to_uri(), OfferUriOptions::default()).unwrap(), uri);
    }

    #[test]
    fn offer_references_round_trip(path in "[a-zA-Z0-9_-]{1,30}") {
        let uri = OfferUri::with_scheme(OfferReference::ByReference(format!("https://issuer.example/offers/{path}")));
        prop_assert_eq!(OfferUri::parse(&uri.to_uri(), OfferUriOptions::default()).unwrap(), uri);
    }

    #[test]
    fn token_requests_round_trip(code in text(), tx in proptest::option::of(text()), client in proptest::option::of(text())) {
        let mut r = TokenRequest::new(code, tx);
        r.client_id = client;
        prop_assert_eq!(TokenRequest::from_form(r.to_form().as_bytes()).unwrap(), r);
    }

    #[test]
    fn credential_requests_round_trip(id in text(), by_id in any::<bool>(), proofs in proptest::collection::vec("[A-Za-z0-9._-]{1,40}", 1..5)) {
        let r = CredentialRequest {
            target: if by_id { CredentialTarget::Identifier(id) } else { CredentialTarget::ConfigurationId(id) },
            proofs: Some(Proofs::Jwt(proofs)),
            credential_response_encryption: None,
        };
        prop_assert_eq!(CredentialRequest::from_json(r.to_value().to_string().as_bytes()).unwrap(), r);
    }

    #[test]
    fn notifications_round_trip(id in text(), event in 0usize..3, description in proptest::option::of("[ !#-\\[\\]-~]{0,40}")) {
        let event = [NotificationEvent::CredentialAccepted, NotificationEvent::CredentialFailure, NotificationEvent::CredentialDeleted][event];
        let r = NotificationRequest { notification_id: id, event, event_description: description };
        prop_assert_eq!(NotificationRequest::from_json(r.to_value().to_string().as_bytes()).unwrap(), r);
    }

    #[test]
    fn arbitrary_bodies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = CredentialOffer::from_json(&bytes);
        let _ = CredentialRequest::from_json(&bytes);
        let _ = TokenRequest::from_form(&bytes);
        let _ = NotificationRequest::from_json(&bytes);
        let _ = oid4vci::CredentialResponse::from_json(&bytes);
    }
}
