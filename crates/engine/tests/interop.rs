//! Interop through the engine: the third-party oid4vc-ts issuer and verifier (Node
//! servers `interop/js/wallet-issuer.mjs` and `interop/js/wallet-verifier.mjs`, run
//! unmodified, configured only) against the engine on a real WebSocket, with the API v2
//! client library holding the keys.
//!
//! Issuance: the peer requires Attestation-Based Client Authentication (it trusts
//! Symbolon's attester, which attests the engine's own CI-Key) and DPoP at `/token`; a
//! transaction code typed wrong then right; a batch of two. The peer cannot encrypt
//! credential responses, so the flow stops at `metadata_fetched` unless the client allows
//! plaintext relay. Presentation: every client identifier prefix and response mode the
//! peer offers, exactly the chosen claims arriving.
//!
//! Needs `npm ci` in `interop/` (scripts/test.sh does).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../wallet/tests/common/mod.rs"]
mod common;
#[path = "../../../interop/rust/node_peer.rs"]
mod node_peer;
mod support;

use std::collections::VecDeque;

use common::*;
use jose::{Clock, Signer, TrustAnchors};
use node_peer::NodePeer;
use serde_json::{Value, json};
use support::*;
use wallet_client::{Presented, ReceivePolicy};
use wallet_protocol::ErrorCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_receives_from_the_oid4vc_ts_issuer_with_attestation_dpop_tx_code_and_batch() {
    let p = platform("").await;
    let peer = NodePeer::start(
        "js/wallet-issuer.mjs",
        "127.0.0.1",
        &[
            (
                "ATTESTER_JWKS_URL",
                format!("{}/attester/.well-known/jwks.json", p.base),
            ),
            ("DPOP_REQUIRED", "1".to_owned()),
        ],
    );
    let served = serve_engine(&p, p.settings()).await;
    let mut client = served.client(&p).await;

    // The peer cannot encrypt to the client: refused unless plaintext is allowed.
    let offer = peer.post("/test/offer", &json!({})).await;
    let uri = offer["offer_uri"].as_str().unwrap();
    let err = client
        .receive(uri, &mut TestHolder::new(1), ReceivePolicy::default())
        .await
        .unwrap_err();
    match err {
        wallet_client::ClientError::Flow { code, .. } => {
            assert_eq!(code, ErrorCode::CredentialError);
        }
        other => panic!("{other}"),
    }

    let offer = peer
        .post("/test/offer", &json!({"tx_code": "493817"}))
        .await;
    let uri = offer["offer_uri"].as_str().unwrap();
    let mut holder = TestHolder::new(2);
    holder.tx_codes = VecDeque::from(["000000".to_owned(), "493817".to_owned()]);
    let receipt = client
        .receive(
            uri,
            &mut holder,
            ReceivePolicy {
                allow_plaintext: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        holder.tx_prompts,
        [false, true],
        "asked again after invalid_grant"
    );
    assert!(!receipt.encrypted);
    assert_eq!(receipt.issuer, peer.base);
    assert_eq!(receipt.credentials.len(), 2, "a batch of two");
    for (c, key) in receipt.credentials.iter().zip(&holder.keys) {
        assert_eq!(c.credential.vct, "https://interop.example/vct/pass");
        assert_eq!(c.credential.claims["given_name"], "Erika");
        assert!(
            c.credential
                .holder_key
                .as_ref()
                .unwrap()
                .same_key(key.public_jwk())
        );
    }
    assert_eq!(
        receipt.credentials[0].display.name.as_deref(),
        Some("Interop pass")
    );
    let delivered = client
        .notify(
            &receipt,
            wallet_protocol::client::NotificationEvent::CredentialAccepted,
        )
        .await
        .unwrap();
    assert!(delivered);

    // What the peer saw: the engine's attestation (Symbolon's attester, dev evidence) and
    // a DPoP-bound token, two credentials bound to the holder's keys, the notification.
    let events = peer.get("/test/events").await;
    let tokens = events["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1, "{events}");
    assert_eq!(tokens[0]["client_id"], "symbolon-wallet-test");
    assert_eq!(tokens[0]["iss"], format!("{}/attester", p.base));
    assert!(tokens[0]["dpop_jkt"].is_string(), "{events}");
    let issued = events["issued"].as_array().unwrap();
    assert_eq!(issued.len(), 2, "{events}");
    assert_eq!(
        issued[0]["cnf_jwk"]["x"],
        holder.keys[0].public_jwk().to_value()["x"]
    );
    assert_eq!(
        events["notifications"][0]["event"], "credential_accepted",
        "{events}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_presents_to_the_oid4vc_ts_verifier_with_each_prefix_and_response_mode() {
    let p = platform("").await;
    let cert = verifier::keyfiles::generate_self_signed(
        &["localhost".into()],
        jose::SystemClock.now(),
        30,
    )
    .unwrap();
    let peer = NodePeer::start(
        "js/wallet-verifier.mjs",
        "localhost",
        &[
            ("ISSUER_JWKS_URL", format!("{}/jwks", p.issuer)),
            ("VCT", issuer::demo::CLASSROOM_PASS_VCT.to_owned()),
            ("CERT_DER", jose::b64::encode_std(&cert.der)),
            ("CERT_KEY_JWK", cert.private_jwk.to_json().to_string()),
        ],
    );
    let mut settings = p.settings();
    settings.verifier_anchors = Some(TrustAnchors::from_der([cert.der.clone()]).unwrap());
    let served = serve_engine(&p, settings).await;
    let mut client = served.client(&p).await;
    let mut holder = TestHolder::new(1);
    let offer = p.offer(json!({})).await;
    let receipt = client
        .receive(
            offer["offer_uri"].as_str().unwrap(),
            &mut holder,
            ReceivePolicy::default(),
        )
        .await
        .unwrap();
    let held = vec![receipt.credentials[0].credential.clone()];
    let ids = vec!["c-1".to_owned()];

    let cases: [(&str, &str, Option<&str>, &[&'static str]); 7] = [
        (
            "x509_san_dns",
            "direct_post",
            Some("get"),
            &["course", "role"],
        ),
        ("x509_san_dns", "direct_post.jwt", Some("post"), &["role"]),
        (
            "x509_san_dns",
            "direct_post",
            None,
            &["course", "given_name", "role"],
        ),
        (
            "x509_hash",
            "direct_post",
            Some("post"),
            &["course", "role"],
        ),
        ("x509_hash", "direct_post.jwt", None, &["course"]),
        ("redirect_uri", "direct_post", None, &["course", "role"]),
        (
            "redirect_uri",
            "direct_post.jwt",
            None,
            &["family_name", "role"],
        ),
    ];
    for (prefix, mode, by_reference, chosen) in cases {
        let case = format!("{prefix} / {mode} / request_uri={by_reference:?} / {chosen:?}");
        let r: Value = peer
            .post(
                "/test/request",
                &json!({
                    "client_id_prefix": prefix,
                    "response_mode": mode,
                    "by_reference": by_reference.is_some(),
                    "request_uri_method": by_reference,
                    "redirect": prefix == "x509_hash",
                }),
            )
            .await;
        let id = r["id"].as_str().unwrap();
        let link = r["authorization_request"].as_str().unwrap();
        holder.disclose = Some(chosen.to_vec());
        let outcome = client
            .present(link, &held, &ids, &mut holder)
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let Presented::Presented {
            disclosed,
            redirect_uri,
        } = outcome
        else {
            panic!("{case}: {outcome:?}");
        };
        let mut reported = disclosed[0].2.clone();
        reported.sort_unstable();
        assert_eq!(reported, chosen, "{case}");
        let result = peer.get(&format!("/test/result/{id}")).await;
        assert_eq!(result["status"], "verified", "{case}: {result}");
        assert_eq!(result["encrypted"], mode == "direct_post.jwt", "{case}");
        assert_eq!(result["disclosed"], json!(chosen), "{case}: {result}");
        for name in ["given_name", "family_name", "birthdate", "course", "role"] {
            let seen = result["claims"].get(name);
            assert_eq!(seen.is_some(), chosen.contains(&name), "{case}: {name}");
        }
        if prefix == "x509_hash" {
            assert_eq!(
                redirect_uri.as_deref(),
                Some(format!("{}/done/{id}", peer.base).as_str()),
                "{case}"
            );
        }
    }
}
