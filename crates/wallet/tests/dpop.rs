//! Issue 10, item 1, wallet side: the wallet core uses DPoP (RFC 9449) when the issuer's
//! authorization server offers it — proofs at the token, credential and notification
//! endpoints, the token presented as `DPoP`, `DPoP-Nonce` carried along and one retry on
//! `use_dpop_nonce` — and plain bearer tokens when it does not; against Symbolon's real
//! attester and issuer over loopback HTTP.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use oid4vci::NotificationEvent;
use serde_json::json;
use std::sync::{Arc, Mutex};
use wallet::Exchange;
use wallet::lifecycle::Lifecycle;

/// What the wallet sent to one endpoint, and what it got.
#[derive(Debug)]
struct Seen {
    what: &'static str,
    status: u16,
    dpop: bool,
    authorization: Option<String>,
}

/// Accepts an offer from `p`, notifies, checks status; returns every exchange with the
/// token, credential and notification endpoints.
async fn run(p: &Platform) -> Vec<Seen> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let w = p.wallet().with_observer(Arc::new(move |e: &Exchange| {
        if matches!(
            e.what,
            "token endpoint" | "credential endpoint" | "notification endpoint"
        ) {
            let header = |name: &str| {
                e.request_headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
            };
            sink.lock().unwrap().push(Seen {
                what: e.what,
                status: e.status,
                dpop: header("DPoP").is_some(),
                // The scheme only: the token itself stays out of the test output.
                authorization: header("Authorization")
                    .and_then(|v| v.split(' ').next().map(str::to_owned)),
            });
        }
    }));
    let holder = holder();
    let offer = p.offer(json!({})).await;
    let pending = w
        .resolve_offer(offer["offer_uri"].as_str().unwrap())
        .await
        .unwrap();
    let issued = w.accept(&pending, None, &[&holder]).await.unwrap();
    let c = &issued.credentials[0].credential;
    w.notify(
        &issued.notifications[0],
        NotificationEvent::CredentialAccepted,
        None,
    )
    .await
    .unwrap();
    assert_eq!(w.check(c).await, Lifecycle::Valid);
    let mut out = seen.lock().unwrap();
    std::mem::take(&mut *out)
}

fn successes(seen: &[Seen]) -> Vec<(&'static str, bool, Option<&str>)> {
    seen.iter()
        .filter(|s| s.status < 300)
        .map(|s| (s.what, s.dpop, s.authorization.as_deref()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_wallet_uses_dpop_when_the_issuer_offers_it() {
    let p = platform("").await;
    let seen = run(&p).await;
    assert_eq!(
        successes(&seen),
        [
            ("token endpoint", true, None),
            ("credential endpoint", true, Some("DPoP")),
            ("notification endpoint", true, Some("DPoP")),
        ],
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_wallet_answers_use_dpop_nonce_when_dpop_is_required() {
    let p = platform("[dpop]\nmode = \"required\"\nrequire_nonce = true").await;
    let seen = run(&p).await;
    // The first token request has no nonce yet: `use_dpop_nonce`, then the retry.
    assert_eq!(seen[0].what, "token endpoint");
    assert_eq!(seen[0].status, 400, "{seen:?}");
    assert_eq!(
        successes(&seen),
        [
            ("token endpoint", true, None),
            ("credential endpoint", true, Some("DPoP")),
            ("notification endpoint", true, Some("DPoP")),
        ],
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_wallet_uses_bearer_tokens_when_dpop_is_off() {
    let p = platform("[dpop]\nmode = \"off\"").await;
    let seen = run(&p).await;
    assert_eq!(
        successes(&seen),
        [
            ("token endpoint", false, None),
            ("credential endpoint", false, Some("Bearer")),
            ("notification endpoint", false, Some("Bearer")),
        ],
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_wallet_satisfies_attestation_binding_and_dpop_together() {
    // The stricter policy (attestation and PoP at the resources) on top of required DPoP:
    // the wallet sends both.
    let p = platform("[attestation]\nbind_access_token = true\n[dpop]\nmode = \"required\"").await;
    let seen = run(&p).await;
    assert_eq!(successes(&seen).len(), 3, "{seen:?}");
}
