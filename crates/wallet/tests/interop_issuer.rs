//! Interop: the wallet core against a third-party OID4VCI 1.0 issuer, the issuer side of
//! oid4vc-ts (`@openid4vc/openid4vci` + `@openid4vc/oauth2`, SD-JWT VCs from
//! `@sd-jwt/sd-jwt-vc`), run as a Node server (`interop/js/wallet-issuer.mjs`) that trusts
//! Symbolon's attester and requires Attestation-Based Client Authentication at `/token`.
//!
//! Proves: an offer from the peer is resolved (metadata, display), the wallet authenticates
//! with an attestation from Symbolon's attester plus a PoP (the peer's library verifies
//! both), fetches a `c_nonce`, sends JWT proofs, verifies the SD-JWT VCs (signature through
//! the peer's JWT VC Issuer Metadata, holder binding, `vct`) and acknowledges them; with a
//! transaction code; as a batch of two holder keys; and a peer that does not trust the
//! attester refuses the wallet, which reports the peer's `invalid_client` and gets nothing.
//!
//! Not exercised: the attestation challenge (`use_attestation_challenge`). The peer's
//! library (`@openid4vc/oauth2` 0.4.6) has no challenge endpoint and verifies the PoP at the
//! token endpoint without an expected nonce, so no peer built on it can ask for one; the
//! wallet's answer to a challenge is tested against Symbolon's issuer (`flows.rs`).
//!
//! Needs `npm ci` in `interop/` (scripts/test.sh does).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
#[path = "../../../interop/rust/node_peer.rs"]
mod node_peer;

use common::*;
use jose::Signer;
use node_peer::NodePeer;
use oid4vci::NotificationEvent;
use serde_json::{Value, json};
use wallet::{IssuanceError, PeerError};

const VCT: &str = "https://interop.example/vct/pass";

/// The peer issuer, trusting the platform's attester (or, with `trust_attester` false,
/// a key of its own only).
struct Peer(NodePeer);

impl std::ops::Deref for Peer {
    type Target = NodePeer;
    fn deref(&self) -> &NodePeer {
        &self.0
    }
}

impl Peer {
    fn start(p: &Platform, trust_attester: bool) -> Peer {
        let mut env = vec![(
            "ATTESTER_JWKS_URL",
            format!("{}/attester/.well-known/jwks.json", p.base),
        )];
        if !trust_attester {
            env.push(("TRUST_NOBODY", "1".to_owned()));
        }
        Peer(NodePeer::start("js/wallet-issuer.mjs", "127.0.0.1", &env))
    }

    async fn offer(&self, body: Value) -> String {
        let r = self.post("/test/offer", &body).await;
        r["offer_uri"].as_str().unwrap().to_owned()
    }

    async fn events(&self) -> Value {
        self.get("/test/events").await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receives_and_acknowledges_a_credential_from_the_oid4vc_ts_issuer() {
    let p = platform("").await;
    let peer = Peer::start(&p, true);
    let w = p.wallet();
    let holder = holder();

    let uri = peer.offer(json!({})).await;
    assert!(uri.starts_with("openid-credential-offer://"), "{uri}");
    let pending = w.resolve_offer(&uri).await.unwrap();
    assert_eq!(pending.issuer(), peer.base);
    assert!(pending.tx_code().is_none());
    let display = pending.display("interop_pass");
    assert_eq!(display.name.as_deref(), Some("Interop pass"));
    assert!(display.claims.iter().any(|c| c.label == "Role"));

    let issued = w.accept(&pending, None, &[&holder]).await.unwrap();
    assert!(!issued.encrypted, "the peer offers no response encryption");
    assert_eq!(issued.credentials.len(), 1);
    let c = &issued.credentials[0].credential;
    assert_eq!(c.vct, VCT);
    assert_eq!(c.issuer.as_deref(), Some(peer.base.as_str()));
    assert_eq!(c.claims["given_name"], "Erika");
    assert_eq!(c.claims["role"], "student");
    assert!(c.holder_key.as_ref().unwrap().same_key(holder.public_jwk()));
    assert_eq!(c.disclosable().len(), 3);

    w.notify(
        &issued.notifications[0],
        NotificationEvent::CredentialAccepted,
        None,
    )
    .await
    .unwrap();

    // What the peer saw: the attestation from Symbolon's attester for this wallet
    // instance (dev evidence), one credential bound to the holder key, the notification.
    let events = peer.events().await;
    let tokens = events["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1, "{events}");
    assert_eq!(tokens[0]["client_id"], "symbolon-wallet-test");
    assert_eq!(tokens[0]["iss"], format!("{}/attester", p.base));
    assert_eq!(tokens[0]["environment"]["evidence"], "dev", "{events}");
    assert_eq!(
        events["issued"][0]["cnf_jwk"]["x"],
        holder.public_jwk().to_value()["x"]
    );
    assert_eq!(
        events["notifications"],
        json!([{
            "notification_id": issued.notifications[0].notification_id,
            "event": "credential_accepted"
        }])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_code_and_batch_with_the_oid4vc_ts_issuer() {
    let p = platform("").await;
    let peer = Peer::start(&p, true);
    let w = p.wallet();

    // A wrong code: the peer's library refuses it as `invalid_grant`; the code stays
    // usable there (this peer has no attempt limit), so the right one then works.
    let uri = peer.offer(json!({"tx_code": "493817"})).await;
    let pending = w.resolve_offer(&uri).await.unwrap();
    assert_eq!(pending.tx_code().unwrap().length, Some(6));
    let holder = holder();
    match w.accept(&pending, None, &[&holder]).await {
        Err(IssuanceError::TxCodeRequired(_)) => {}
        other => panic!("{other:?}"),
    }
    match w.accept(&pending, Some("000000"), &[&holder]).await {
        Err(e @ IssuanceError::Peer(PeerError::Refused { status: 400, .. })) => {
            // What a person reads: which endpoint, the peer's code and its description.
            let text = e.to_string();
            assert!(
                text.starts_with("the token endpoint answered HTTP 400: invalid_grant"),
                "{text}"
            );
            assert!(text.contains("tx_code"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    let (a, b) = (holder, common::holder());
    let issued = w.accept(&pending, Some("493817"), &[&a, &b]).await.unwrap();
    assert_eq!(issued.credentials.len(), 2);
    for (received, key) in issued.credentials.iter().zip([&a, &b]) {
        let held = received.credential.holder_key.as_ref().unwrap();
        assert!(held.same_key(key.public_jwk()));
    }
    assert_eq!(peer.events().await["issued"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oid4vc_ts_issuer_that_does_not_trust_the_attester_refuses_the_wallet() {
    let p = platform("").await;
    let peer = Peer::start(&p, false);
    let w = p.wallet();
    let uri = peer.offer(json!({})).await;
    let pending = w.resolve_offer(&uri).await.unwrap();
    let err = w.accept(&pending, None, &[&holder()]).await.unwrap_err();
    match &err {
        IssuanceError::Peer(PeerError::Refused { what, error, .. }) => {
            assert_eq!(*what, "token endpoint", "{err}");
            assert_eq!(error.as_deref(), Some("invalid_client"), "{err}");
            assert!(
                err.to_string().contains("client attestation"),
                "the peer's reason reaches the holder: {err}"
            );
        }
        other => panic!("{other:?}"),
    }
    let events = peer.events().await;
    assert_eq!(events["tokens"], json!([]));
    assert_eq!(events["issued"], json!([]));
}
