//! An OpenID4VCI issuer written for tests (an axum server on loopback), scripted to be
//! awkward where a test needs it: it may publish request/response encryption (and then
//! requires it), defer issuance a number of times (`202` with a `transaction_id`, then its
//! deferred credential endpoint), and bind the credential to a key of its choosing
//! instead of the proof's. It records the deferred polls and the notifications it gets.
//! Used by the wallet core's and the engine's tests.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jose::jwe::{DecryptPolicy, Enc, EncryptionKey};
use jose::{Algorithm, Clock as _, Curve, PublicJwk, Signer, SoftwareSigner};
use oid4vci::{CredentialRequest, CredentialResponse, Proofs, ResponseEncryption};
use serde_json::{Map, Value, json};

/// The credential type it issues.
pub const SCRIPTED_VCT: &str = "https://scripted.example/pass";
/// The `transaction_id` of its deferrals.
pub const TRANSACTION_ID: &str = "tx-scripted-1";

/// How the issuer behaves.
#[derive(Clone, Debug, Default)]
pub struct Script {
    /// Publish request and response encryption, and require it.
    pub encrypting: bool,
    /// Answer `202` this many times (the credential request, then deferred polls) before
    /// the credential.
    pub defer: usize,
    /// Bind the credential to this key instead of the proof's.
    pub bound_to: Option<PublicJwk>,
}

/// A running scripted issuer.
pub struct ScriptedIssuer {
    /// Its identifier (`http://localhost:<port>`).
    pub base: String,
    script: Script,
    signer: SoftwareSigner,
    encryption: Option<EncryptionKey>,
    holder: Mutex<Option<PublicJwk>>,
    response: Mutex<Option<ResponseEncryption>>,
    /// The deferred credential requests received (decrypted).
    pub polls: Mutex<Vec<Value>>,
    /// The notifications received.
    pub notifications: Mutex<Vec<Value>>,
}

type Shared = Arc<ScriptedIssuer>;

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

impl ScriptedIssuer {
    /// An offer of its one configuration, by value.
    pub fn offer(&self) -> String {
        let offer = json!({"credential_issuer": self.base, "credential_configuration_ids": ["pass"],
            "grants": {oid4vci::PRE_AUTHORIZED_CODE_GRANT: {"pre-authorized_code": "c"}}});
        format!(
            "openid-credential-offer://?credential_offer={}",
            url::form_urlencoded::byte_serialize(offer.to_string().as_bytes()).collect::<String>()
        )
    }

    /// A request body: JSON, or a JWE to this issuer's encryption key.
    fn read(&self, headers: &HeaderMap, body: &Bytes) -> Value {
        let text = String::from_utf8_lossy(body).into_owned();
        let jwt = headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v == "application/jwt");
        match (&self.encryption, jwt) {
            (Some(key), true) => {
                let plain =
                    jose::jwe::decrypt(text.trim(), key, &DecryptPolicy::new(&[Enc::A128Gcm]))
                        .unwrap();
                serde_json::from_slice(plain.plaintext()).unwrap()
            }
            _ => serde_json::from_str(&text).unwrap(),
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

    fn deferral(&self) -> Response {
        self.answer(
            StatusCode::ACCEPTED,
            &CredentialResponse::Deferred {
                transaction_id: TRANSACTION_ID.into(),
                interval: 1,
            },
        )
    }

    fn issued(&self) -> Response {
        let holder = match &self.script.bound_to {
            Some(k) => k.clone(),
            None => self.holder.lock().unwrap().clone().unwrap(),
        };
        let now = jose::SystemClock.now();
        let mut claims = Map::new();
        claims.insert("iss".into(), self.base.clone().into());
        claims.insert("vct".into(), SCRIPTED_VCT.into());
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), (now + 3600).into());
        claims.insert("cnf".into(), json!({"jwk": holder.to_value()}));
        claims.insert("given_name".into(), "Erika".into());
        let frame = sd_jwt::Frame::new().with(sd_jwt::ClaimPath::claim("given_name"));
        let credential = sd_jwt::vc::issue(
            claims,
            &frame,
            &self.signer,
            &sd_jwt::SystemSalts::new(),
            None,
        )
        .unwrap()
        .into_string();
        self.answer(
            StatusCode::OK,
            &CredentialResponse::Issued {
                credentials: vec![credential.into()],
                notification_id: Some("nid".into()),
            },
        )
    }
}

async fn metadata(State(s): State<Shared>) -> Response {
    let base = &s.base;
    let mut m = json!({
        "credential_issuer": base,
        "credential_endpoint": format!("{base}/credential"),
        "deferred_credential_endpoint": format!("{base}/deferred"),
        "nonce_endpoint": format!("{base}/nonce"),
        "notification_endpoint": format!("{base}/notification"),
        "credential_configurations_supported": {
            "pass": {
                "format": "dc+sd-jwt",
                "vct": SCRIPTED_VCT,
                "cryptographic_binding_methods_supported": ["jwk"],
                "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": ["ES256"]}}
            }
        }
    });
    if let Some(key) = &s.encryption {
        // OpenID4VCI 1.0 §10: an encrypted response goes with an encrypted request.
        m["credential_request_encryption"] = json!({
            "jwks": {"keys": [key.public_jwk_for_encryption().to_value()]},
            "enc_values_supported": ["A128GCM"],
            "encryption_required": true
        });
        m["credential_response_encryption"] = json!({
            "alg_values_supported": ["ECDH-ES"],
            "enc_values_supported": ["A128GCM", "A256GCM"],
            "encryption_required": true
        });
    }
    json_response(StatusCode::OK, &m)
}

async fn as_metadata(State(s): State<Shared>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"issuer": s.base, "token_endpoint": format!("{}/token", s.base),
                "pre-authorized_grant_anonymous_access_supported": true}),
    )
}

async fn jwt_vc_issuer(State(s): State<Shared>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"issuer": s.base, "jwks": {"keys": [s.signer.public_jwk().to_value()]}}),
    )
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
    if s.script.defer > 0 {
        s.deferral()
    } else {
        s.issued()
    }
}

async fn deferred(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let request = s.read(&headers, &body);
    assert_eq!(request["transaction_id"], TRANSACTION_ID, "{request}");
    let polls = {
        let mut polls = s.polls.lock().unwrap();
        polls.push(request);
        polls.len()
    };
    if polls < s.script.defer {
        s.deferral()
    } else {
        s.issued()
    }
}

async fn notification(State(s): State<Shared>, body: String) -> StatusCode {
    s.notifications
        .lock()
        .unwrap()
        .push(serde_json::from_str(&body).unwrap());
    StatusCode::NO_CONTENT
}

/// Starts an issuer following `script`.
pub async fn scripted_issuer(script: Script) -> Shared {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let state = Arc::new(ScriptedIssuer {
        base,
        signer: SoftwareSigner::generate(Algorithm::Es256)
            .unwrap()
            .with_kid("scripted-1"),
        encryption: script.encrypting.then(|| {
            EncryptionKey::generate(Curve::P256)
                .unwrap()
                .with_kid("scripted-enc-1")
        }),
        script,
        holder: Mutex::new(None),
        response: Mutex::new(None),
        polls: Mutex::new(Vec::new()),
        notifications: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new()
        .route("/.well-known/openid-credential-issuer", get(metadata))
        .route("/.well-known/oauth-authorization-server", get(as_metadata))
        .route("/.well-known/jwt-vc-issuer", get(jwt_vc_issuer))
        .route(
            "/token",
            post(|| async {
                axum::Json(json!({"access_token": "t", "token_type": "Bearer", "expires_in": 300}))
            }),
        )
        .route(
            "/nonce",
            post(|| async { axum::Json(json!({"c_nonce": "n"})) }),
        )
        .route("/credential", post(credential))
        .route("/deferred", post(deferred))
        .route("/notification", post(notification))
        .with_state(Arc::clone(&state));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    state
}
