//! A local HTTPS stand-in for the Kubernetes API server's TokenReview endpoint
//! (`POST /apis/authentication.k8s.io/v1/tokenreviews`), following the published
//! `authentication.k8s.io/v1` shape: it checks the caller's bearer token (the attester's own
//! service-account token), answers `201 Created` with a TokenReview whose `status` has
//! `authenticated`, `user` (`username`, `uid`, `groups`, `extra`), `audiences` (the
//! intersection of the requested audiences and the token's) and `error`, and `401` with a
//! `Status` object for a wrong caller. TLS with a CA generated per test, which the attester
//! is configured to trust. No cluster runs here; this is the one third-party API faked.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// The API server's default audience (what tokens are for when no audience is asked).
pub const API_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";

/// A service-account token the stand-in knows.
#[derive(Debug, Clone)]
pub struct KnownToken {
    pub username: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: HashMap<String, Vec<String>>,
    pub audiences: Vec<String>,
}

#[derive(Default)]
struct Inner {
    attester_token: String,
    tokens: Mutex<HashMap<String, KnownToken>>,
    requests: AtomicUsize,
    /// Behave like an authenticator that ignores `spec.audiences` (answers with none).
    ignore_audiences: AtomicBool,
}

/// The running stand-in.
pub struct KubeStandIn {
    inner: Arc<Inner>,
    pub url: String,
    /// PEM of the CA that signed the server certificate.
    pub ca_pem: String,
    pub dir: tempfile::TempDir,
    /// The attester's own service-account token file.
    pub attester_token_file: PathBuf,
    /// The CA file.
    pub ca_file: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for KubeStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

fn status_failure(code: u16, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code,
    });
    (StatusCode::from_u16(code).unwrap(), axum::Json(body)).into_response()
}

async fn tokenreviews(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    inner.requests.fetch_add(1, Ordering::SeqCst);
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(inner.attester_token.as_str()) {
        return status_failure(401, "Unauthorized", "Unauthorized");
    }
    let Ok(review) = serde_json::from_slice::<Value>(&body) else {
        return status_failure(400, "BadRequest", "the body is not JSON");
    };
    if review["apiVersion"] != "authentication.k8s.io/v1" || review["kind"] != "TokenReview" {
        return status_failure(
            400,
            "BadRequest",
            "expected an authentication.k8s.io/v1 TokenReview",
        );
    }
    let Some(token) = review["spec"]["token"].as_str() else {
        return status_failure(422, "Invalid", "spec.token: Required value");
    };
    let requested: Vec<String> = match review["spec"]["audiences"].as_array() {
        Some(a) if !a.is_empty() => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => vec![API_AUDIENCE.to_owned()],
    };
    let known = inner.tokens.lock().unwrap().get(token).cloned();
    let status = match known {
        None => json!({"user": {}, "error": "[invalid bearer token, token lookup failed]"}),
        Some(t) => {
            let common: Vec<String> = requested
                .iter()
                .filter(|a| t.audiences.contains(a))
                .cloned()
                .collect();
            if inner.ignore_audiences.load(Ordering::SeqCst) {
                json!({
                    "authenticated": true,
                    "user": {"username": t.username, "uid": t.uid, "groups": t.groups, "extra": t.extra},
                })
            } else if common.is_empty() {
                json!({"user": {}, "error": "[invalid bearer token, token audiences [..] is invalid for the target audiences]"})
            } else {
                json!({
                    "authenticated": true,
                    "user": {"username": t.username, "uid": t.uid, "groups": t.groups, "extra": t.extra},
                    "audiences": common,
                })
            }
        }
    };
    let answer = json!({
        "kind": "TokenReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": review["spec"],
        "status": status,
    });
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

impl KubeStandIn {
    /// Starts the stand-in on 127.0.0.1 with a fresh CA.
    pub async fn start() -> KubeStandIn {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "kubernetes-test-ca");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let server_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let server_params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap();
        let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();

        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![server_cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(
                    rustls::pki_types::PrivatePkcs8KeyDer::from(server_key.serialize_der()),
                ),
            )
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = tcp.local_addr().unwrap().port();

        let attester_token = format!("attester-sa-token-{}", std::process::id());
        let attester_token_file = dir.path().join("attester-token");
        std::fs::write(&attester_token_file, format!("{attester_token}\n")).unwrap();
        let ca_file = dir.path().join("ca.crt");
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();

        let inner = Arc::new(Inner {
            attester_token,
            ..Inner::default()
        });
        let app = Router::new()
            .route(
                "/apis/authentication.k8s.io/v1/tokenreviews",
                post(tokenreviews),
            )
            .with_state(Arc::clone(&inner));
        let task = tokio::spawn(async move {
            let _ = axum::serve(TlsListener { tcp, acceptor }, app).await;
        });
        KubeStandIn {
            inner,
            url: format!("https://127.0.0.1:{port}"),
            ca_pem: ca_cert.pem(),
            dir,
            attester_token_file,
            ca_file,
            task,
        }
    }

    /// Registers a service-account token bound to `pod` for `audiences`; returns it.
    pub fn add_token(
        &self,
        namespace: &str,
        service_account: &str,
        pod: Option<&str>,
        audiences: &[&str],
    ) -> String {
        let n = self.inner.tokens.lock().unwrap().len();
        let token = format!("eyJhbGciOiJSUzI1NiJ9.sa-{namespace}-{service_account}-{n}.sig");
        let mut extra = HashMap::new();
        if let Some(p) = pod {
            extra.insert(
                "authentication.kubernetes.io/pod-name".to_owned(),
                vec![p.to_owned()],
            );
            extra.insert(
                "authentication.kubernetes.io/pod-uid".to_owned(),
                vec![format!("uid-{p}")],
            );
        }
        extra.insert(
            "authentication.kubernetes.io/credential-id".to_owned(),
            vec![format!("JTI={n}")],
        );
        self.add_raw(
            &token,
            KnownToken {
                username: format!("system:serviceaccount:{namespace}:{service_account}"),
                uid: format!("uid-sa-{service_account}"),
                groups: vec![
                    "system:serviceaccounts".into(),
                    format!("system:serviceaccounts:{namespace}"),
                    "system:authenticated".into(),
                ],
                extra,
                audiences: audiences.iter().map(|a| (*a).to_owned()).collect(),
            },
        );
        token
    }

    /// Registers a token with any identity.
    pub fn add_raw(&self, token: &str, known: KnownToken) {
        self.inner
            .tokens
            .lock()
            .unwrap()
            .insert(token.to_owned(), known);
    }

    /// Reviews answered so far.
    pub fn requests(&self) -> usize {
        self.inner.requests.load(Ordering::SeqCst)
    }

    /// Emulates an authenticator that ignores `spec.audiences`.
    pub fn ignore_audiences(&self, on: bool) {
        self.inner.ignore_audiences.store(on, Ordering::SeqCst);
    }

    /// The CA certificates (DER).
    pub fn ca_der(&self) -> Vec<Vec<u8>> {
        jose::pem::certificates(&self.ca_pem).unwrap()
    }
}
