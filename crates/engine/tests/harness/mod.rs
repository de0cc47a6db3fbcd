//! Shared by the engine's end-to-end tests: a holder with scripted answers, and an engine
//! on its own loopback WebSocket whose every HTTP exchange is recorded.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    unreachable_pub
)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::common::*;
use engine::{AppTokens, Engine, Limits};
use jose::{Algorithm, Clock, Signer, SoftwareSigner};
use serde_json::json;
use wallet::presentation::Choice;
use wallet::{Exchange, Settings};
use wallet_client::{Client, ConsentView, Holder};
use wallet_protocol::FlowStep;
use wallet_protocol::engine::{ProgressPayload, TxCodeSpec};

pub const AUDIENCE: &str = "symbolon-engine";

/// A holder with software keys, scripted answers, and a record of the prompts.
pub struct TestHolder {
    pub keys: Vec<SoftwareSigner>,
    pub tx_codes: VecDeque<String>,
    pub tx_prompts: Vec<bool>,
    pub decline: bool,
    pub disclose: Option<Vec<&'static str>>,
    /// Every step reported, with its payload.
    pub steps: Vec<(FlowStep, ProgressPayload)>,
}

impl TestHolder {
    pub fn new(keys: usize) -> Self {
        TestHolder {
            keys: (0..keys).map(|_| holder()).collect(),
            tx_codes: VecDeque::new(),
            tx_prompts: Vec::new(),
            decline: false,
            disclose: None,
            steps: Vec::new(),
        }
    }
}

impl Holder for TestHolder {
    fn progress(&mut self, step: FlowStep, payload: &ProgressPayload) {
        self.steps.push((step, payload.clone()));
    }

    fn tx_code(&mut self, _spec: &TxCodeSpec, retry: bool) -> Option<String> {
        self.tx_prompts.push(retry);
        self.tx_codes.pop_front()
    }

    fn proof_signers(&self) -> Vec<&dyn Signer> {
        self.keys.iter().map(|k| k as &dyn Signer).collect()
    }

    fn consent(&mut self, view: &ConsentView<'_>) -> Option<Choice> {
        if self.decline {
            return None;
        }
        let mut choice = view.consent.recommended_choice()?;
        if let Some(names) = &self.disclose {
            for p in &mut choice.picks {
                p.disclose = names
                    .iter()
                    .map(|n| wallet::presentation::consent::parse_dotted(n))
                    .collect();
            }
        }
        Some(choice)
    }

    fn presentation_signer(&self) -> &dyn Signer {
        &self.keys[0]
    }
}

/// An engine on its own loopback listener, its session key, and what it sent and
/// received over HTTP.
pub struct Served {
    pub url: String,
    pub session_key: SoftwareSigner,
    pub exchanges: Arc<Mutex<Vec<Exchange>>>,
}

impl Served {
    pub fn token(&self, permissions: &[&str]) -> String {
        let now = jose::SystemClock.now();
        let claims = json!({
            "iss": "https://auth.test",
            "sub": "user-1",
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 600,
            "permissions": permissions,
        });
        jose::HeaderBuilder::new()
            .typ(engine::auth::SESSION_TYP)
            .kid("session-1")
            .sign(claims.to_string().as_bytes(), &self.session_key)
            .unwrap()
    }

    pub async fn client(&self, p: &Platform) -> Client {
        Client::connect(
            &self.url,
            &self.token(&["receive", "present"]),
            p.settings(),
            &[],
        )
        .await
        .unwrap()
    }

    pub fn seen(&self) -> String {
        let exchanges = self.exchanges.lock().unwrap();
        exchanges
            .iter()
            .map(|e| {
                format!(
                    "{} {} {}\n{}\n{}\n",
                    e.method,
                    e.url,
                    e.status,
                    e.request_body.as_deref().unwrap_or_default(),
                    e.response_body
                )
            })
            .collect()
    }
}

pub async fn serve_engine(p: &Platform, settings: Settings) -> Served {
    let exchanges: Arc<Mutex<Vec<Exchange>>> = Arc::default();
    let seen = Arc::clone(&exchanges);
    let core = p
        .wallet_with(settings)
        .with_observer(Arc::new(move |e: &Exchange| {
            seen.lock().unwrap().push(e.clone());
        }));
    let session_key = SoftwareSigner::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("session-1");
    let clock: Arc<dyn Clock> = Arc::new(jose::SystemClock);
    let tokens = AppTokens::new(
        &[session_key.public_jwk().clone()],
        Some("https://auth.test".into()),
        AUDIENCE,
        Arc::clone(&clock),
    )
    .unwrap();
    let engine = Arc::new(Engine::new(
        core,
        tokens,
        Limits::default(),
        clock,
        Arc::new(jose::SystemRandom),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "ws://127.0.0.1:{}{}",
        listener.local_addr().unwrap().port(),
        engine::routes::WALLET_PATH
    );
    tokio::spawn(async move {
        axum::serve(listener, engine::routes::router(engine))
            .await
            .unwrap();
    });
    Served {
        url,
        session_key,
        exchanges,
    }
}
