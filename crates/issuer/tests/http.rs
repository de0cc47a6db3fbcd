//! End to end over HTTP: the issuer nested under `/issuer` on a real listener, its
//! well-known documents at the root (path insertion), driven with an HTTP client through
//! the whole flow and the main refusals.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use serde_json::{Value, json};
use store::Backend;

async fn issues_over_http_with_path_insertion(b: Backend) {
    let s = serve(b, "").await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let h = &s.harness;

    // Discovery the way a wallet does it: path insertion at the root of the host.
    let m: Value = http
        .get(format!(
            "{}/.well-known/openid-credential-issuer/issuer",
            s.origin
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["credential_issuer"], s.base.as_str());
    assert_eq!(m["credential_endpoint"], format!("{}/credential", s.base));
    let a: Value = http
        .get(format!(
            "{}/.well-known/oauth-authorization-server/issuer",
            s.origin
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(a["issuer"], s.base.as_str());
    let ready = http
        .get(format!("{}/readyz", s.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    let offer: Value = http
        .post(format!("{}/admin/offers", s.base))
        .bearer_auth(ADMIN)
        .json(&json!({"credential_configuration_ids": [CONFIG_ID], "claims": issuer::demo::example_claims(), "by_reference": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let location = offer["credential_offer_uri"].as_str().unwrap();
    let fetched: Value = http
        .get(location)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = fetched["grants"][oid4vci::PRE_AUTHORIZED_CODE_GRANT]["pre-authorized_code"]
        .as_str()
        .unwrap()
        .to_owned();

    let w = Wallet::new(&h.attester, h.now(), &s.base);
    let form = format!(
        "grant_type={}&pre-authorized_code={}",
        enc(oid4vci::PRE_AUTHORIZED_CODE_GRANT),
        enc(&code)
    );
    let token = |pop: String| {
        http.post(format!("{}/token", s.base))
            .header(client_attestation::ATTESTATION_HEADER, &w.attestation)
            .header(client_attestation::POP_HEADER, pop)
            .header("content-type", FORM)
            .body(form.clone())
            .send()
    };
    let r = token(w.pop(h.now())).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let at = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The code is spent.
    let r = token(w.pop(h.now())).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");

    let nonce: Value = http
        .post(format!("{}/nonce", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let nonce = nonce["c_nonce"].as_str().unwrap();
    let body = json!({"credential_configuration_id": CONFIG_ID, "proofs": {"jwt": [w.proof(&s.base, h.now(), Some(nonce))]}});
    let credential = |body: Value| {
        http.post(format!("{}/credential", s.base))
            .bearer_auth(&at)
            .header(client_attestation::ATTESTATION_HEADER, &w.attestation)
            .header(client_attestation::POP_HEADER, w.pop(h.now()))
            .json(&body)
            .send()
    };
    let r = credential(body.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let issued: Value = r.json().await.unwrap();
    assert!(
        issued["credentials"][0]["credential"]
            .as_str()
            .unwrap()
            .contains('~')
    );
    // The nonce is spent.
    let r = credential(body).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_nonce");
    // The access token alone is a bearer token (OpenID4VCI 1.0): this request gets past
    // authorization and is refused for its body. (The stricter attestation binding is
    // tested in rejects_credential.rs.)
    let r = http
        .post(format!("{}/credential", s.base))
        .bearer_auth(&at)
        .json(&json!({"credential_configuration_id": CONFIG_ID}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_proof");
    // Without it, nothing.
    let r = http
        .post(format!("{}/credential", s.base))
        .json(&json!({"credential_configuration_id": CONFIG_ID}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );

    let jwks: Value = http
        .get(format!("{}/.well-known/jwt-vc-issuer/issuer", s.origin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["issuer"], s.base.as_str());
    assert_eq!(h.issued().await, 1);
}

both_backends!(issues_over_http_with_path_insertion);
