//! The issuance flows through the real router, on SQLite and PostgreSQL: offers by value
//! and by reference, transaction codes, batches, encrypted responses, notifications,
//! revocation in the status list, metadata, and key rotation with an injected clock.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use jose::jwe::{DecryptPolicy, ECDH_ES, Enc, EncryptionKey};
use jose::{Algorithm, Curve, FixedClock, Signer, VerifyingKey};
use oid4vci::{
    CredentialRequest, CredentialResponse, CredentialTarget, Proofs, ResponseEncryption,
};
use serde_json::json;
use status_list::{Status, StatusListToken, VerifyOptions};
use store::Backend;

async fn issues_a_classroom_pass(b: Backend) {
    let h = harness(b).await;
    let wallet = h.wallet();
    let (credential, _, response) = h.issue_one(&wallet).await;
    assert!(response["notification_id"].is_string());
    assert_eq!(
        credential.matches('~').count(),
        7,
        "6 disclosures: {credential}"
    );
    let claims = verify_with_published_keys(&h, &credential).await;
    assert_eq!(claims["vct"], issuer::demo::CLASSROOM_PASS_VCT);
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["role"], "student");
    assert_eq!(claims["course"], "Immersive chemistry 101");
    assert!(claims["cnf"]["jwk"].is_object());
    let cnf = jose::PublicJwk::from_value(&claims["cnf"]["jwk"]).unwrap();
    assert!(cnf.same_key(wallet.holder.public_jwk()));
    let status = &claims["status"]["status_list"];
    assert!(
        status["uri"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{ISSUER}/status/"))
    );
    assert!(status["idx"].is_u64());
    assert_eq!(h.issued().await, 1);
    // The typ is dc+sd-jwt and the kid is on the header.
    let header = jose::CompactJws::parse(credential.split('~').next().unwrap()).unwrap();
    assert_eq!(header.header().typ(), Some("dc+sd-jwt"));
    assert!(header.header().kid().is_some());
}

async fn token_response_has_no_c_nonce_and_is_not_cached(b: Backend) {
    let h = harness(b).await;
    let wallet = h.wallet();
    let code = h.simple_offer().await;
    let r = h.token(&wallet, &code, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let json = r.json();
    assert!(json.get("c_nonce").is_none());
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["expires_in"], 300);
    assert_eq!(r.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    let n = h
        .send(Request::post("/nonce").body(Body::empty()).unwrap())
        .await;
    assert_eq!(n.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
}

async fn transaction_code_is_returned_once_and_accepted(b: Backend) {
    let h = harness(b).await;
    let offer = h
        .offer(json!({
            "credential_configuration_ids": [CONFIG_ID],
            "claims": issuer::demo::example_claims(),
            "tx_code": {"length": 6, "input_mode": "numeric", "description": "sent by SMS"}
        }))
        .await;
    let tx = offer["tx_code"].as_str().unwrap().to_owned();
    assert_eq!(tx.len(), 6);
    let uri = offer["offer_uri"].as_str().unwrap();
    assert!(!uri.contains(&tx), "the code never travels with the offer");
    let parsed = oid4vci::OfferUri::parse(uri, oid4vci::OfferUriOptions::default()).unwrap();
    let oid4vci::OfferReference::ByValue(o) = parsed.offer else {
        panic!()
    };
    let grant = o.pre_authorized_code.unwrap();
    assert_eq!(grant.tx_code.unwrap().length, Some(6));
    // The database holds no trace of the code in clear.
    use sqlx::Row;
    let rows = sqlx::query("SELECT tx_code_hash, code_hash FROM issuer_offers")
        .fetch_all(h.db.pool())
        .await
        .unwrap();
    for r in rows {
        let stored: String = r.try_get(0).unwrap();
        assert!(!stored.contains(&tx));
        let code_hash: String = r.try_get(1).unwrap();
        assert_ne!(code_hash, grant.pre_authorized_code);
    }
    let wallet = h.wallet();
    let r = h
        .token(&wallet, &grant.pre_authorized_code, Some(&tx))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

async fn offers_by_reference_can_be_fetched_until_redeemed(b: Backend) {
    let h = harness(b).await;
    let offer = h
        .offer(json!({
            "credential_configuration_ids": [CONFIG_ID],
            "claims": issuer::demo::example_claims(),
            "by_reference": true
        }))
        .await;
    let location = offer["credential_offer_uri"].as_str().unwrap();
    let parsed = oid4vci::OfferUri::parse(
        offer["offer_uri"].as_str().unwrap(),
        oid4vci::OfferUriOptions::default(),
    )
    .unwrap();
    assert_eq!(
        parsed.offer,
        oid4vci::OfferReference::ByReference(location.to_owned())
    );
    let path = location.strip_prefix(ISSUER).unwrap();
    let mut code = None;
    for _ in 0..2 {
        let r = h
            .send(Request::get(path).body(Body::empty()).unwrap())
            .await;
        assert_eq!(r.status, StatusCode::OK, "fetched twice");
        assert_eq!(
            r.headers.get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
        let o = oid4vci::CredentialOffer::from_json(&r.body).unwrap();
        assert_eq!(o.credential_issuer, ISSUER);
        let c = o.pre_authorized_code.unwrap().pre_authorized_code;
        assert!(code.is_none() || code.as_deref() == Some(c.as_str()));
        code = Some(c);
    }
    let wallet = h.wallet();
    let _at = h.access_token(&wallet, code.as_deref().unwrap()).await;
    let r = h
        .send(Request::get(path).body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "gone once redeemed");
}

async fn https_wallet_offer_uri(b: Backend) {
    let h = harness(b).await;
    let offer = h
        .offer(json!({
            "credential_configuration_ids": [CONFIG_ID],
            "claims": issuer::demo::example_claims(),
            "wallet_url": "https://wallet.example/offer"
        }))
        .await;
    assert!(
        offer["offer_uri"]
            .as_str()
            .unwrap()
            .starts_with("https://wallet.example/offer?credential_offer=")
    );
    let _ = code_of(&offer);
}

async fn batch_issues_one_credential_per_key_at_random_indices(b: Backend) {
    let h = harness(b).await;
    let wallet = h.wallet();
    let code = h.simple_offer().await;
    let at = h.access_token(&wallet, &code).await;
    let nonce = h.nonce().await;
    let holders: Vec<jose::SoftwareSigner> = (0..5)
        .map(|_| jose::SoftwareSigner::generate(Algorithm::Es256).unwrap())
        .collect();
    let proofs: Vec<String> = holders
        .iter()
        .map(|k| wallet.proof_with(k, ISSUER, h.now(), Some(&nonce)))
        .collect();
    let r = h
        .credential(
            &wallet,
            &at,
            json!({"credential_configuration_id": CONFIG_ID, "proofs": {"jwt": proofs}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let list = r.json()["credentials"].as_array().unwrap().clone();
    assert_eq!(list.len(), 5);
    let mut indices = Vec::new();
    for (c, holder) in list.iter().zip(&holders) {
        let claims = verify_with_published_keys(&h, c["credential"].as_str().unwrap()).await;
        let cnf = jose::PublicJwk::from_value(&claims["cnf"]["jwk"]).unwrap();
        assert!(cnf.same_key(holder.public_jwk()));
        indices.push(claims["status"]["status_list"]["idx"].as_u64().unwrap());
    }
    let mut sorted = indices.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 5, "distinct indices {indices:?}");
    assert!(
        indices.iter().any(|i| *i > 1024),
        "random, not sequential: {indices:?}"
    );
    assert_eq!(h.issued().await, 5);
}

async fn encrypted_request_gets_an_encrypted_response(b: Backend) {
    let h = harness(b).await;
    let wallet = h.wallet();
    let code = h.simple_offer().await;
    let at = h.access_token(&wallet, &code).await;
    let nonce = h.nonce().await;
    let metadata = h
        .send(
            Request::get("/.well-known/openid-credential-issuer")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let metadata = oid4vci::CredentialIssuerMetadata::from_json(&metadata.body, ISSUER).unwrap();
    let enc = metadata.credential_request_encryption.unwrap();
    let issuer_key = jose::PublicJwk::from_value(&enc.jwks.keys[0]).unwrap();
    let wallet_key = EncryptionKey::generate(Curve::P256)
        .unwrap()
        .with_kid("wallet-enc");
    let request = CredentialRequest {
        target: CredentialTarget::ConfigurationId(CONFIG_ID.into()),
        proofs: Some(Proofs::Jwt(vec![wallet.proof(
            ISSUER,
            h.now(),
            Some(&nonce),
        )])),
        credential_response_encryption: Some(ResponseEncryption {
            jwk: wallet_key.public_jwk().clone().with_alg(ECDH_ES),
            enc: Enc::A256Gcm,
            zip: false,
        }),
    };
    let jwe = request.to_jwe(&issuer_key, Enc::A128Gcm).unwrap();
    let r = h
        .send(
            wallet
                .authed(Request::post("/credential"), h.now())
                .header(header::AUTHORIZATION, format!("Bearer {at}"))
                .header(header::CONTENT_TYPE, "application/jwt")
                .body(Body::from(jwe))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/jwt"
    );
    let response =
        CredentialResponse::from_jwe(&r.text(), &wallet_key, &DecryptPolicy::new(&Enc::ALL))
            .unwrap();
    let CredentialResponse::Issued { credentials, .. } = response else {
        panic!()
    };
    verify_with_published_keys(&h, credentials[0].as_str().unwrap()).await;
}

async fn notification_is_recorded_and_idempotent(b: Backend) {
    let h = harness(b).await;
    let wallet = h.wallet();
    let (_, at, response) = h.issue_one(&wallet).await;
    let id = response["notification_id"].as_str().unwrap();
    for _ in 0..2 {
        let r = h
            .send(
                wallet
                    .authed(Request::post("/notification"), h.now())
                    .header(header::AUTHORIZATION, format!("Bearer {at}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(
                        json!({"notification_id": id, "event": "credential_accepted"}).to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    }
    let list = h.admin_get("/admin/credentials").await.json();
    assert_eq!(
        list["credentials"][0]["notification"]["event"],
        "credential_accepted"
    );
}

async fn fetch_status(h: &Harness, path: &str, uri: &str) -> status_list::VerifiedStatusListToken {
    let r = h
        .send(Request::get(path).body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/statuslist+jwt"
    );
    assert!(
        r.headers
            .get(header::CACHE_CONTROL)
            .unwrap()
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let token = StatusListToken::parse(&r.text()).unwrap();
    let kid = token.header().kid().unwrap().to_owned();
    let keys = h
        .send(Request::get("/jwks").body(Body::empty()).unwrap())
        .await
        .json();
    let jwk = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap()
        .clone();
    let key = VerifyingKey::from_jwk(&jose::PublicJwk::from_value(&jwk).unwrap()).unwrap();
    let verified = token
        .verify(
            &key,
            uri,
            &VerifyOptions::new(&[Algorithm::Es256]).requiring_exp(),
            &FixedClock(h.now()),
        )
        .unwrap();
    assert!(verified.ttl().unwrap() > 0);
    verified
}

async fn revocation_shows_in_the_status_list(b: Backend) {
    let h = harness(b).await;
    let wallet = h.wallet();
    let (credential, _, _) = h.issue_one(&wallet).await;
    let claims = verify_with_published_keys(&h, &credential).await;
    let uri = claims["status"]["status_list"]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let idx = usize::try_from(claims["status"]["status_list"]["idx"].as_u64().unwrap()).unwrap();
    let path = uri.strip_prefix(ISSUER).unwrap().to_owned();

    assert_eq!(
        fetch_status(&h, &path, &uri).await.status(idx).unwrap(),
        Status::Valid
    );

    let list = h.admin_get("/admin/credentials").await.json();
    let id = list["credentials"][0]["id"].as_str().unwrap().to_owned();
    assert!(list["credentials"][0].get("claims").is_none());
    assert!(
        !list.to_string().contains("Mustermann"),
        "no claim values in the listing"
    );
    let r = h
        .admin_post(
            &format!("/admin/credentials/{id}/status"),
            json!({"status": "INVALID"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        fetch_status(&h, &path, &uri).await.status(idx).unwrap(),
        Status::Invalid
    );
    let r = h
        .admin_post(
            &format!("/admin/credentials/{id}/status"),
            json!({"status": "SUSPENDED"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        fetch_status(&h, &path, &uri).await.status(idx).unwrap(),
        Status::Suspended
    );
    let shown = h
        .admin_get(&format!("/admin/credentials/{id}"))
        .await
        .json();
    assert_eq!(shown["status"], "SUSPENDED");
}

async fn rotation_keeps_old_credentials_verifiable(b: Backend) {
    let h = harness(b).await;
    let wallet = h.wallet();
    let (old, _, _) = h.issue_one(&wallet).await;
    let old_kid = jose::CompactJws::parse(old.split('~').next().unwrap())
        .unwrap()
        .header()
        .kid()
        .unwrap()
        .to_owned();
    // One rotation period later a new key signs; the old one is still published.
    h.clock.advance(24 * 3600 + 5);
    let wallet = h.wallet();
    let (new, _, _) = h.issue_one(&wallet).await;
    let new_kid = jose::CompactJws::parse(new.split('~').next().unwrap())
        .unwrap()
        .header()
        .kid()
        .unwrap()
        .to_owned();
    assert_ne!(old_kid, new_kid);
    verify_with_published_keys(&h, &old).await;
    verify_with_published_keys(&h, &new).await;
    let published = h
        .send(
            Request::get("/.well-known/jwt-vc-issuer")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .json();
    assert_eq!(published["jwks"]["keys"].as_array().unwrap().len(), 2);
    // Long after the old key's credentials expired it is withdrawn.
    h.clock.advance(400 * 24 * 3600);
    let published = h
        .send(
            Request::get("/.well-known/jwt-vc-issuer")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .json();
    let kids: Vec<&str> = published["jwks"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(!kids.contains(&old_kid.as_str()), "{kids:?}");
}

async fn metadata_documents_describe_the_issuer(b: Backend) {
    let h = harness(b).await;
    let r = h
        .send(
            Request::get("/.well-known/openid-credential-issuer")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        r.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/json"
    );
    let m = oid4vci::CredentialIssuerMetadata::from_json(&r.body, ISSUER).unwrap();
    assert_eq!(
        m.nonce_endpoint.as_deref(),
        Some("https://issuer.example/nonce")
    );
    assert_eq!(m.batch_credential_issuance.unwrap().batch_size, 10);
    let c = &m.credential_configurations_supported[CONFIG_ID];
    assert_eq!(c.vct.as_deref(), Some(issuer::demo::CLASSROOM_PASS_VCT));
    assert_eq!(
        c.cryptographic_binding_methods_supported.as_deref(),
        Some(&["jwk".to_owned()][..])
    );
    assert!(m.credential_response_encryption.is_some());

    let signed = h
        .send(
            Request::get("/.well-known/openid-credential-issuer")
                .header(header::ACCEPT, "application/jwt")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        signed.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/jwt"
    );
    let jws = jose::CompactJws::parse(&signed.text()).unwrap();
    let kid = jws.header().kid().unwrap().to_owned();
    let keys = h
        .send(Request::get("/jwks").body(Body::empty()).unwrap())
        .await
        .json();
    let jwk = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap()
        .clone();
    let key = VerifyingKey::from_jwk(&jose::PublicJwk::from_value(&jwk).unwrap()).unwrap();
    let back = oid4vci::CredentialIssuerMetadata::from_signed(
        &signed.text(),
        &key,
        &[Algorithm::Es256],
        ISSUER,
        &FixedClock(h.now()),
    )
    .unwrap();
    assert_eq!(back, m);

    let r = h
        .send(
            Request::get("/.well-known/oauth-authorization-server")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let a = oid4vci::AuthorizationServerMetadata::from_json(&r.body, ISSUER).unwrap();
    assert_eq!(
        a.token_endpoint.as_deref(),
        Some("https://issuer.example/token")
    );
    assert_eq!(
        a.pre_authorized_grant_anonymous_access_supported,
        Some(false)
    );
    assert!(
        a.token_endpoint_auth_methods_supported
            .unwrap()
            .contains(&"attest_jwt_client_auth".to_owned())
    );
    assert_eq!(
        a.challenge_endpoint.as_deref(),
        Some("https://issuer.example/challenge")
    );
}

async fn challenges_are_issued_and_consumed(b: Backend) {
    let mut o = Options::new(b);
    o.config = "[attestation]\nrequire_challenge = true".into();
    let h = Harness::start(o).await;
    let mut wallet = h.wallet();
    let code = h.simple_offer().await;
    let r = h.token(&wallet, &code, None).await;
    r.assert_error(400, "use_attestation_challenge");
    let challenge = r
        .headers
        .get(client_attestation::CHALLENGE_HEADER)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    wallet.challenge = Some(challenge);
    let r = h.token(&wallet, &code, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // From the challenge endpoint, too.
    let r = h
        .send(Request::post("/challenge").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    assert!(r.json()["attestation_challenge"].is_string());
}

both_backends!(
    issues_a_classroom_pass,
    token_response_has_no_c_nonce_and_is_not_cached,
    transaction_code_is_returned_once_and_accepted,
    offers_by_reference_can_be_fetched_until_redeemed,
    https_wallet_offer_uri,
    batch_issues_one_credential_per_key_at_random_indices,
    encrypted_request_gets_an_encrypted_response,
    notification_is_recorded_and_idempotent,
    revocation_shows_in_the_status_list,
    rotation_keeps_old_credentials_verifiable,
    metadata_documents_describe_the_issuer,
    challenges_are_issued_and_consumed,
);
