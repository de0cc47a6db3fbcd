//! Interop: the wallet core against a third-party OpenID4VP 1.0 verifier, the verifier side
//! of oid4vc-ts (`@openid4vc/openid4vp` 0.4.6, presentations checked with
//! `@sd-jwt/sd-jwt-vc`), run as a Node server (`interop/js/wallet-verifier.mjs`).
//!
//! For each client identifier prefix of the issue — `x509_san_dns` and `x509_hash` (signed
//! request objects with `x5c`, by reference through `request_uri` and by value) and
//! `redirect_uri` (unsigned, by value) — crossed with both response modes, `direct_post`
//! and `direct_post.jwt` (encrypted to the verifier's ephemeral key), the wallet resolves
//! the request, builds the consent, presents a subset of a classroom pass from Symbolon's
//! issuer chosen by the holder (the recommended claims, fewer, or more), and the peer
//! verifies the presentation (issuer signature, KB-JWT signature, nonce and `aud` =
//! client_id) and receives exactly the chosen disclosures, none of the withheld ones. By
//! reference, the request object is fetched with `request_uri_method` `get` and `post`
//! (for `post` the peer signs it again with the wallet's `wallet_nonce`). One peer answer
//! carries a `redirect_uri`, which the wallet returns to its caller.
//!
//! Not exercised, and why: the library's other prefixes need trust the wallet core does not
//! implement (`decentralized_identifier`: DID resolution; `verifier_attestation`;
//! `openid_federation`; pre-registered clients) or belong to the browser Digital Credentials
//! API (`origin`, with the `dc_api` / `dc_api.jwt` response modes, which have no
//! `response_uri` to post to). Outside the Digital Credentials API the library's requests
//! allow only `direct_post` and `direct_post.jwt` (both covered); a request without
//! `response_mode` would mean the OAuth default `fragment` redirect, which the wallet core
//! does not offer.
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
use jose::{Clock, TrustAnchors};
use node_peer::NodePeer;
use serde_json::{Value, json};
use wallet::PresentationError;
use wallet::presentation::consent::{dotted, parse_dotted};

/// The peer verifier and the certificate its requests are signed with.
struct Peer {
    node: NodePeer,
    cert: Vec<u8>,
}

impl std::ops::Deref for Peer {
    type Target = NodePeer;
    fn deref(&self) -> &NodePeer {
        &self.node
    }
}

impl Peer {
    fn start(p: &Platform) -> Peer {
        let cert = verifier::keyfiles::generate_self_signed(
            &["localhost".into()],
            jose::SystemClock.now(),
            30,
        )
        .unwrap();
        let node = NodePeer::start(
            "js/wallet-verifier.mjs",
            "localhost",
            &[
                ("ISSUER_JWKS_URL", format!("{}/jwks", p.issuer)),
                ("VCT", issuer::demo::CLASSROOM_PASS_VCT.to_owned()),
                ("CERT_DER", jose::b64::encode_std(&cert.der)),
                ("CERT_KEY_JWK", cert.private_jwk.to_json().to_string()),
            ],
        );
        Peer {
            node,
            cert: cert.der,
        }
    }

    async fn request(&self, params: Value) -> (String, String) {
        let r = self.post("/test/request", &params).await;
        (
            r["id"].as_str().unwrap().to_owned(),
            r["authorization_request"].as_str().unwrap().to_owned(),
        )
    }

    async fn result(&self, id: &str) -> Value {
        self.get(&format!("/test/result/{id}")).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presents_to_the_oid4vc_ts_verifier_with_each_prefix_and_response_mode() {
    let p = platform("").await;
    let peer = Peer::start(&p);
    let holder = holder();
    let held = vec![issue(&p, &holder).await];
    let mut settings = p.settings();
    settings.verifier_anchors = Some(TrustAnchors::from_der([peer.cert.clone()]).unwrap());
    let w = p.wallet_with(settings);

    // (prefix, response mode, request by reference with this request_uri_method, the
    // claims the holder chooses). The query asks for `role` and `course`; the holder
    // sometimes withholds one of them or adds one it was not asked for (the peer has no
    // policy on essential claims, so it accepts what is validly presented).
    let cases = [
        (
            "x509_san_dns",
            "direct_post",
            Some("get"),
            &["course", "role"][..],
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
        (
            "x509_hash",
            "direct_post.jwt",
            Some("get"),
            &["birthdate", "role"],
        ),
        ("redirect_uri", "direct_post", None, &["course", "role"]),
        (
            "redirect_uri",
            "direct_post.jwt",
            None,
            &["family_name", "role"],
        ),
    ];
    let disclosable: Vec<String> = held[0].disclosable().iter().map(dotted).collect();
    let mut every_claim: Vec<String> = issuer::demo::example_claims().keys().cloned().collect();
    every_claim.sort_unstable();
    let mut sorted = disclosable.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted, every_claim,
        "every subject claim is selectively disclosable"
    );
    for (prefix, mode, by_reference, chosen) in cases {
        let case = format!("{prefix} / {mode} / request_uri={by_reference:?} / {chosen:?}");
        let (id, link) = peer
            .request(json!({
                "client_id_prefix": prefix,
                "response_mode": mode,
                "by_reference": by_reference.is_some(),
                "request_uri_method": by_reference,
                "redirect": prefix == "x509_hash",
            }))
            .await;
        assert!(link.starts_with("openid4vp://"), "{case}: {link}");
        let request = w
            .resolve_request(&link)
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let consent = w.consent(&request, &held);
        assert!(consent.satisfiable(), "{case}");
        let mut recommended: Vec<&str> = consent.queries[0].candidates[0]
            .claims
            .iter()
            .filter(|c| c.recommended)
            .map(|c| c.name.as_str())
            .collect();
        recommended.sort_unstable();
        assert_eq!(recommended, ["course", "role"], "{case}");
        let mut choice = consent.recommended_choice().unwrap();
        choice.picks[0].disclose = chosen.iter().map(|c| parse_dotted(c)).collect();
        let presented = w
            .present(&request, &held, &choice, &holder)
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let mut reported = presented.disclosed[0].2.clone();
        reported.sort_unstable();
        assert_eq!(reported, chosen, "{case}");

        let result = peer.result(&id).await;
        assert_eq!(result["status"], "verified", "{case}: {result}");
        assert_eq!(result["encrypted"], mode == "direct_post.jwt", "{case}");
        if by_reference == Some("post") {
            assert!(result["wallet_nonce"].is_string(), "{case}: {result}");
            assert!(result["wallet_metadata"].is_object(), "{case}: {result}");
        }
        // Exactly the chosen disclosures arrived, and the withheld claims are not in
        // what the peer's library reconstructed.
        assert_eq!(result["disclosed"], json!(chosen), "{case}: {result}");
        let claims = &result["claims"];
        for name in &disclosable {
            let seen = claims.get(name.as_str());
            if chosen.contains(&name.as_str()) {
                assert_eq!(seen, held[0].claims.get(name.as_str()), "{case}: {name}");
            } else {
                assert!(seen.is_none(), "{case}: {name} leaked: {claims}");
            }
        }
        let expected_aud = match prefix {
            "redirect_uri" => format!("redirect_uri:{}/response/{id}", peer.base),
            "x509_san_dns" => "x509_san_dns:localhost".to_owned(),
            _ => result["kb"]["aud"].as_str().unwrap().to_owned(),
        };
        assert_eq!(result["kb"]["aud"], expected_aud.as_str(), "{case}");
        if prefix == "x509_hash" {
            assert!(expected_aud.starts_with("x509_hash:"), "{case}");
            assert_eq!(
                presented.redirect_uri.as_deref(),
                Some(format!("{}/done/{id}", peer.base).as_str()),
                "{case}"
            );
        } else {
            assert_eq!(presented.redirect_uri, None, "{case}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_signed_by_an_untrusted_certificate_is_refused_before_anything_is_sent() {
    let p = platform("").await;
    let peer = Peer::start(&p);
    // The wallet trusts only Symbolon's verifier certificate, not the peer's.
    let w = p.wallet();
    for prefix in ["x509_san_dns", "x509_hash"] {
        let (id, link) = peer
            .request(json!({"client_id_prefix": prefix, "response_mode": "direct_post", "by_reference": true}))
            .await;
        let err = w.resolve_request(&link).await.unwrap_err();
        assert!(
            matches!(err, PresentationError::Request(_)),
            "{prefix}: {err:?}"
        );
        assert_eq!(peer.result(&id).await["status"], "pending", "{prefix}");
    }
}

/// A request the holder's wallet cannot answer: the peer hears `access_denied` with its
/// `state` at once (encrypted to its key with `direct_post.jwt`), instead of waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_the_oid4vc_ts_verifier_hears_access_denied_when_nothing_answers() {
    let p = platform("").await;
    let peer = Peer::start(&p);
    let mut settings = p.settings();
    settings.verifier_anchors = Some(TrustAnchors::from_der([peer.cert.clone()]).unwrap());
    let w = p.wallet_with(settings);
    for mode in ["direct_post", "direct_post.jwt"] {
        let (id, link) = peer
            .request(
                json!({"client_id_prefix": "x509_san_dns", "response_mode": mode,
                "by_reference": true}),
            )
            .await;
        let request = w.resolve_request(&link).await.unwrap();
        // An empty wallet: nothing answers.
        assert!(w.consent(&request, &[]).recommended_choice().is_none());
        w.refuse(
            &request,
            oid4vp::ErrorCode::AccessDenied,
            "no credential in the wallet answers the request",
        )
        .await
        .unwrap();
        let r = peer.result(&id).await;
        assert_eq!(r["status"], "wallet_error", "{mode}: {r}");
        assert_eq!(r["error"], "access_denied", "{mode}: {r}");
        assert_eq!(r["state_matches"], true, "{mode}: {r}");
        assert_eq!(r["encrypted"], mode == "direct_post.jwt", "{mode}: {r}");
    }
}
