//! Deferred issuance through the engine (OpenID4VCI 1.0 §9): an issuer (an axum server on
//! loopback, written for this test) answers the credential request `202` with a
//! `transaction_id` and asks to be polled; its deferred credential endpoint answers `202`
//! once more, then the credential. In plaintext the engine reads the transaction id and
//! polls (`deferred` step with `transaction_id`, `interval`); when the response is
//! encrypted to the client, the engine shows the JWE (`deferred` step with
//! `encrypted_response`), the client answers `continue_deferred` with what it decrypted,
//! and the credential arrives encrypted as usual.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../wallet/tests/common/mod.rs"]
mod common;
mod support;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use common::*;
use jose::jwe::{DecryptPolicy, Enc, EncryptionKey};
use jose::{Algorithm, Curve, Signer, SoftwareSigner};
use oid4vci::{CredentialRequest, CredentialResponse, Proofs, ResponseEncryption};
use serde_json::{Map, Value, json};
use support::*;
use wallet_client::ReceivePolicy;

const VCT: &str = "https://deferred.example/pass";

/// The issuer's state: its keys, what the wallet asked for, and the polls.
struct Deferring {
    base: Mutex<String>,
    signer: SoftwareSigner,
    encryption: Option<EncryptionKey>,
    holder: Mutex<Option<jose::PublicJwk>>,
    response: Mutex<Option<ResponseEncryption>>,
    polls: Mutex<Vec<Value>>,
}

type Shared = Arc<Deferring>;

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

impl Deferring {
    fn base(&self) -> String {
        self.base.lock().unwrap().clone()
    }

    /// A request body: JSON, or a JWE to this issuer's encryption key.
    fn read(&self, headers: &HeaderMap, body: &Bytes) -> Value {
        let text = String::from_utf8_lossy(body).into_owned();
        if headers.get(header::CONTENT_TYPE).unwrap() == "application/jwt" {
            let key = self.encryption.as_ref().unwrap();
            let plain =
                jose::jwe::decrypt(&text, key, &DecryptPolicy::new(&[Enc::A128Gcm])).unwrap();
            serde_json::from_slice(plain.plaintext()).unwrap()
        } else {
            serde_json::from_str(&text).unwrap()
        }
    }

    /// An answer, encrypted to the wallet's key when it asked for that.
    fn answer(&self, status: StatusCode, body: &CredentialResponse) -> Response {
        match &*self.response.lock().unwrap() {
            Some(r) => (
                status,
                [(header::CONTENT_TYPE, "application/jwt")],
                r.encrypt(body.to_value().to_string().as_bytes()).unwrap(),
            )
                .into_response(),
            None => json_response(status, &body.to_value()),
        }
    }

    fn credential(&self) -> String {
        let holder = self.holder.lock().unwrap().clone().unwrap();
        let now = jose::SystemClock.now();
        let mut claims = Map::new();
        claims.insert("iss".into(), self.base().into());
        claims.insert("vct".into(), VCT.into());
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), (now + 3600).into());
        claims.insert("cnf".into(), json!({"jwk": holder.to_value()}));
        claims.insert("given_name".into(), "Erika".into());
        let frame = sd_jwt::Frame::new().with(sd_jwt::ClaimPath::claim("given_name"));
        sd_jwt::vc::issue(
            claims,
            &frame,
            &self.signer,
            &sd_jwt::SeededSalts::new(7),
            None,
        )
        .unwrap()
        .into_string()
    }
}

use jose::Clock as _;

async fn metadata(State(s): State<Shared>) -> Response {
    let base = s.base();
    let mut m = json!({
        "credential_issuer": base,
        "credential_endpoint": format!("{base}/credential"),
        "deferred_credential_endpoint": format!("{base}/deferred"),
        "nonce_endpoint": format!("{base}/nonce"),
        "credential_configurations_supported": {
            "pass": {
                "format": "dc+sd-jwt",
                "vct": VCT,
                "cryptographic_binding_methods_supported": ["jwk"],
                "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": ["ES256"]}}
            }
        }
    });
    if let Some(key) = &s.encryption {
        let mut jwk = key.public_jwk_for_encryption().to_value();
        jwk["kid"] = "enc-1".into();
        m["credential_request_encryption"] = json!({
            "jwks": {"keys": [jwk]},
            "enc_values_supported": ["A128GCM"],
            "encryption_required": false
        });
        m["credential_response_encryption"] = json!({
            "alg_values_supported": ["ECDH-ES"],
            "enc_values_supported": ["A128GCM"],
            "encryption_required": false
        });
    }
    json_response(StatusCode::OK, &m)
}

async fn as_metadata(State(s): State<Shared>) -> Response {
    let base = s.base();
    json_response(
        StatusCode::OK,
        &json!({"issuer": base, "token_endpoint": format!("{base}/token"),
                "pre-authorized_grant_anonymous_access_supported": true}),
    )
}

async fn jwt_vc_issuer(State(s): State<Shared>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"issuer": s.base(), "jwks": {"keys": [s.signer.public_jwk().to_value()]}}),
    )
}

async fn token() -> Response {
    json_response(
        StatusCode::OK,
        &json!({"access_token": "at-deferred", "token_type": "Bearer", "expires_in": 300}),
    )
}

async fn nonce() -> Response {
    json_response(StatusCode::OK, &json!({"c_nonce": "n-deferred"}))
}

async fn credential(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let request =
        CredentialRequest::from_object(s.read(&headers, &body).as_object().unwrap()).unwrap();
    let Some(Proofs::Jwt(proofs)) = &request.proofs else {
        panic!("no proofs");
    };
    let proof = jose::CompactJws::parse(&proofs[0]).unwrap();
    *s.holder.lock().unwrap() = proof.header().jwk().cloned();
    *s.response.lock().unwrap() = request.credential_response_encryption.clone();
    s.answer(
        StatusCode::ACCEPTED,
        &CredentialResponse::Deferred {
            transaction_id: "tx-deferred-1".into(),
            interval: 1,
        },
    )
}

async fn deferred(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let request = s.read(&headers, &body);
    assert_eq!(request["transaction_id"], "tx-deferred-1", "{request}");
    let polls = {
        let mut polls = s.polls.lock().unwrap();
        polls.push(request);
        polls.len()
    };
    if polls < 2 {
        return s.answer(
            StatusCode::ACCEPTED,
            &CredentialResponse::Deferred {
                transaction_id: "tx-deferred-1".into(),
                interval: 1,
            },
        );
    }
    s.answer(
        StatusCode::OK,
        &CredentialResponse::Issued {
            credentials: vec![s.credential().into()],
            notification_id: None,
        },
    )
}

/// Starts the issuer; returns its state and an offer URI.
async fn deferring_issuer(encrypting: bool) -> (Shared, String) {
    let state = Arc::new(Deferring {
        base: Mutex::new(String::new()),
        signer: SoftwareSigner::generate(Algorithm::Es256)
            .unwrap()
            .with_kid("deferred-1"),
        encryption: encrypting.then(|| EncryptionKey::generate(Curve::P256).unwrap()),
        holder: Mutex::new(None),
        response: Mutex::new(None),
        polls: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new()
        .route("/.well-known/openid-credential-issuer", get(metadata))
        .route("/.well-known/oauth-authorization-server", get(as_metadata))
        .route("/.well-known/jwt-vc-issuer", get(jwt_vc_issuer))
        .route("/token", post(token))
        .route("/nonce", post(nonce))
        .route("/credential", post(credential))
        .route("/deferred", post(deferred))
        .with_state(Arc::clone(&state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    *state.base.lock().unwrap() = base.clone();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let offer = json!({
        "credential_issuer": base,
        "credential_configuration_ids": ["pass"],
        "grants": {"urn:ietf:params:oauth:grant-type:pre-authorized_code":
            {"pre-authorized_code": "code-deferred"}}
    });
    let uri = format!(
        "openid-credential-offer://?credential_offer={}",
        url::form_urlencoded::byte_serialize(offer.to_string().as_bytes()).collect::<String>()
    );
    (state, uri)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_plaintext_deferral_is_polled_by_the_engine() {
    let p = platform("").await;
    let served = serve_engine(&p, p.settings()).await;
    let mut client = served.client(&p).await;
    let (issuer, offer) = deferring_issuer(false).await;
    let mut holder = TestHolder::new(1);
    let receipt = client
        .receive(
            &offer,
            &mut holder,
            ReceivePolicy {
                allow_plaintext: true,
            },
        )
        .await
        .unwrap();
    assert!(!receipt.encrypted);
    assert_eq!(receipt.credentials.len(), 1);
    assert_eq!(
        receipt.credentials[0].credential.claims["given_name"],
        "Erika"
    );
    assert_eq!(issuer.polls.lock().unwrap().len(), 2, "polled until issued");
    let deferred: Vec<_> = holder
        .steps
        .iter()
        .filter(|(s, _)| {
            *s == wallet_protocol::FlowStep::Issuance(wallet_protocol::IssuanceStep::Deferred)
        })
        .collect();
    assert_eq!(deferred.len(), 2, "one deferred step per 202");
    assert_eq!(
        deferred[0].1.transaction_id.as_deref(),
        Some("tx-deferred-1")
    );
    assert_eq!(deferred[0].1.interval, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_an_encrypted_deferral_is_read_by_the_client_and_polled_by_the_engine() {
    let p = platform("").await;
    let served = serve_engine(&p, p.settings()).await;
    let mut client = served.client(&p).await;
    let (issuer, offer) = deferring_issuer(true).await;
    let mut holder = TestHolder::new(1);
    let receipt = client
        .receive(&offer, &mut holder, ReceivePolicy::default())
        .await
        .unwrap();
    assert!(
        receipt.encrypted,
        "the credential came encrypted to the client"
    );
    assert_eq!(
        receipt.credentials[0].credential.claims["given_name"],
        "Erika"
    );
    let polls = issuer.polls.lock().unwrap().clone();
    assert_eq!(polls.len(), 2);
    // Each poll asked for the response encrypted to the client's key again.
    assert!(
        polls
            .iter()
            .all(|p| p["credential_response_encryption"].is_object())
    );
    let deferred: Vec<_> = holder
        .steps
        .iter()
        .filter(|(s, _)| {
            *s == wallet_protocol::FlowStep::Issuance(wallet_protocol::IssuanceStep::Deferred)
        })
        .collect();
    assert_eq!(deferred.len(), 2);
    // The engine could not read the transaction id: it showed the JWE to the client.
    assert!(deferred[0].1.encrypted_response.is_some());
    assert!(deferred[0].1.transaction_id.is_none());
    // Nothing the engine saw carries the credential.
    let issuer_jwt = receipt.credentials[0]
        .credential
        .compact
        .split('~')
        .next()
        .unwrap()
        .to_owned();
    assert!(!served.seen().contains(&issuer_jwt));
}
