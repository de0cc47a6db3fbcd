//! Interop with third-party code: the authorization server of `@openid4vc/oauth2` (npm,
//! pinned in `interop/package.json`), configured to trust the attester's published key,
//! accepts a token request authenticated with an attestation signed inside SoftHSM2 and a
//! PoP made by `wallet::attestation`; it refuses one signed by a key it does not trust and a
//! PoP by another key. Configured with only an X.509 anchor (no JWKS), it accepts an
//! attestation carrying the `x5c` of a certificate the A-Key signed for itself
//! (`symbolon attester gen-cert`), inside SoftHSM2.
//!
//! Needs Node and `npm ci` in `interop/` (scripts/test.sh does it), and the SoftHSM2 test
//! token; fails otherwise.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
#[path = "../../../interop/rust/node_peer.rs"]
mod node_peer;

use std::sync::Arc;

use client_attestation::AttestationClaims;
use common::*;
use jose::random::SystemRandom;
use jose::{Clock, Signer};
use node_peer::NodePeer;
use serde_json::Value;
use service::http::{AddressPolicy, GuardedClient, HttpSettings};
use wallet::attestation::{AttestationClient, ClientSettings, EvidenceSource};

const AS_ISSUER: &str = "https://as.interop.example";
const CODE: &str = "pre-authorized-code-1";

fn start_anchored_peer(anchors: &std::path::Path) -> NodePeer {
    NodePeer::start(
        "js/attester-issuer.mjs",
        "127.0.0.1",
        &[
            ("ATTESTER_ANCHORS", anchors.display().to_string()),
            ("AS_ISSUER", AS_ISSUER.to_owned()),
            ("CODE", CODE.to_owned()),
        ],
    )
}

fn start_peer(jwks_url: &str) -> NodePeer {
    NodePeer::start(
        "js/attester-issuer.mjs",
        "127.0.0.1",
        &[
            ("ATTESTER_JWKS_URL", jwks_url.to_owned()),
            ("AS_ISSUER", AS_ISSUER.to_owned()),
            ("CODE", CODE.to_owned()),
        ],
    )
}

async fn token_request(peer: &NodePeer, attestation: &str, pop: &str) -> (u16, Value) {
    let r = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("http://127.0.0.1:{}/token", peer.port))
        .header("OAuth-Client-Attestation", attestation)
        .header("OAuth-Client-Attestation-PoP", pop)
        .form(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:pre-authorized_code",
            ),
            ("pre-authorized_code", CODE),
        ])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oid4vc_ts_authorization_server_accepts_a_softhsm_attestation() {
    let h = Harness::new(Options {
        key: KeyChoice::Hsm("attester-interop".into()),
        ..Options::default()
    })
    .await;
    // The peer checks times against the real clock.
    h.clock.set(jose::SystemClock.now());
    let base = h.serve().await;
    let peer = tokio::task::spawn_blocking({
        let url = format!("{base}/.well-known/jwks.json");
        move || start_peer(&url)
    })
    .await
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, h.wallet_token("wallet-engine-interop")).unwrap();
    let mut settings = ClientSettings::new(
        &base,
        "wallet-instance-interop",
        EvidenceSource::Kubernetes { token_file },
    );
    settings.attester_id = Some(IDENTIFIER.into());
    let http = GuardedClient::new(HttpSettings {
        policy: AddressPolicy::AllowLoopback,
        ..HttpSettings::default()
    })
    .unwrap();
    let client =
        AttestationClient::new(settings, http, h.clock.clone(), Arc::new(SystemRandom)).unwrap();
    let headers = client.headers(AS_ISSUER, None).await.unwrap();

    let (status, body) = token_request(&peer, &headers.attestation, &headers.pop).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["access_token"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert_eq!(body["attested"]["client_id"], "wallet-instance-interop");
    assert_eq!(body["attested"]["iss"], IDENTIFIER);
    assert_eq!(body["attested"]["environment"]["evidence"], "kubernetes");
    assert_eq!(body["attested"]["environment"]["key_protection"], "pkcs11");
    assert_eq!(body["attested"]["environment"]["namespace"], WALLET_NS);

    // A PoP signed by another key is refused.
    let other = ci_key();
    let forged_pop = client_attestation::PopClaims {
        aud: AS_ISSUER.into(),
        jti: "forged".into(),
        iat: h.clock_now(),
        challenge: None,
        legacy: Some(("wallet-instance-interop".into(), h.clock_now() + 60)),
    }
    .sign(&other)
    .unwrap();
    let (status, body) = token_request(&peer, &headers.attestation, &forged_pop).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");

    // An attestation from a key the server does not trust is refused.
    let rogue = software_key();
    let claims = jose::CompactJws::parse(&headers.attestation)
        .unwrap()
        .claims_unverified()
        .unwrap();
    let forged = AttestationClaims {
        issuer: Some(IDENTIFIER.into()),
        client_id: "wallet-instance-interop".into(),
        iat: h.clock_now(),
        exp: h.clock_now() + 600,
        cnf: jose::PublicJwk::from_value(&claims["cnf"]["jwk"]).unwrap(),
        jti: Some("forged".into()),
        environment: None,
        extra: serde_json::Map::new(),
    }
    .sign(&rogue, None)
    .unwrap();
    assert_ne!(rogue.key_id(), h.akey_jwk.kid());
    let pop = client.pop(AS_ISSUER, None).unwrap();
    let (status, body) = token_request(&peer, &forged, &pop).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
}

/// Issue 10 item 4: an issuer that does not have the attester's JWKS (here oid4vc-ts's
/// authorization server, given only the certificate as its anchor) verifies the
/// attestation through its `x5c`; without an anchor for it, it refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_oid4vc_ts_issuer_without_our_jwks_accepts_the_x5c_of_a_softhsm_attestation() {
    let h = Harness::new(Options {
        key: KeyChoice::Hsm("attester-x5c".into()),
        self_signed: true,
        ..Options::default()
    })
    .await;
    h.clock.set(jose::SystemClock.now());
    let base = h.serve().await;
    let dir = tempfile::tempdir().unwrap();
    let anchors = dir.path().join("attester-cert.pem");
    std::fs::write(&anchors, h.state.akey().chain_pem().unwrap()).unwrap();
    let peer = tokio::task::spawn_blocking({
        let anchors = anchors.clone();
        move || start_anchored_peer(&anchors)
    })
    .await
    .unwrap();

    let token_file = dir.path().join("token");
    std::fs::write(&token_file, h.wallet_token("wallet-engine-x5c")).unwrap();
    let mut settings = ClientSettings::new(
        &base,
        "wallet-instance-x5c",
        EvidenceSource::Kubernetes { token_file },
    );
    settings.attester_id = Some(IDENTIFIER.into());
    let http = GuardedClient::new(HttpSettings {
        policy: AddressPolicy::AllowLoopback,
        ..HttpSettings::default()
    })
    .unwrap();
    let client =
        AttestationClient::new(settings, http, h.clock.clone(), Arc::new(SystemRandom)).unwrap();
    let headers = client.headers(AS_ISSUER, None).await.unwrap();
    let jws = jose::CompactJws::parse(&headers.attestation).unwrap();
    assert_eq!(jws.header().x5c().map(<[_]>::len), Some(1));
    assert_eq!(jws.header().kid(), h.akey_jwk.kid());

    let (status, body) = token_request(&peer, &headers.attestation, &headers.pop).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["attested"]["client_id"], "wallet-instance-x5c");
    assert_eq!(body["attested"]["environment"]["key_protection"], "pkcs11");

    // The same peer with an unrelated anchor refuses it: the chain is what it trusts.
    drop(peer);
    let other = software_key();
    let (_, pem) = attester::certificate::self_signed(
        &other,
        &attester::certificate::Subject {
            common_name: "someone else".into(),
            organization: None,
            dns: Vec::new(),
        },
        jose::SystemClock.now(),
        30,
    )
    .unwrap();
    let stranger = dir.path().join("stranger.pem");
    std::fs::write(&stranger, pem).unwrap();
    let peer = tokio::task::spawn_blocking(move || start_anchored_peer(&stranger))
        .await
        .unwrap();
    let pop = client.pop(AS_ISSUER, None).unwrap();
    let (status, body) = token_request(&peer, &headers.attestation, &pop).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
}
