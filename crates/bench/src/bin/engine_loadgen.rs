//! Load generator of the wallet engine (`symbolon serve --mode=engine`, default
//! configuration): the memory of idle sessions, and what running a flow through the engine
//! costs compared with the wallet core running it in the client's own process.
//!
//! ```text
//! cargo build --release -p symbolon --bin symbolon -p symbolon-bench --bin engine_loadgen
//! taskset -c 0 target/release/engine_loadgen [--binary target/release/symbolon]
//!     [--idle 10000] [--idle-hold 35] [--per-address 100] [--skip-flows] [--skip-presentations]
//!     [--concurrency 8] [--seconds 2] [--runs 5] [--latency-flows 100]
//!     [--port 18700] [--engine-port 18701] [--server-cpus 1] [--peers-cpus 0]
//! ```
//!
//! Set-up: a peers process `symbolon serve --mode=attester,issuer,verifier` (software A-Key
//! generated here, `dev` evidence accepted, the issuer's demo classroom pass, trusting the
//! A-Key) under `taskset -c <peers-cpus>`, and the engine `symbolon serve --mode=engine`
//! under `taskset -c <server-cpus>`. The engine's configuration is its defaults plus only
//! what a one-machine run needs: its attester (the peers' one, `dev` evidence), the session
//! JWT key this process generates (`[engine.app_tokens] jwks_file`), and `http://`
//! issuers on loopback (`trust.allow_http_loopback`, which also lets the outbound client
//! reach loopback). Limits, keep-alive, metrics and every check stay as shipped.
//!
//! 1. Idle sessions (`--idle N`, 0 skips): the engine's VmRSS (`/proc/<pid>/status`)
//!    before any connection; then N WebSockets, each completing the handshake with a
//!    valid session JWT (`handshake_complete` received), kept idle with a reader task
//!    each (tungstenite answers the engine's pings while it reads); VmRSS with all N open,
//!    bytes per connection, the engine's CPU per handshake; then the connections stay
//!    open `--idle-hold` seconds (longer than the 30 s ping interval) and the pings the
//!    clients saw and the connections the engine closed are counted. The shared listener
//!    admits `server.max_connections_per_peer` (128) connections per peer address, so the
//!    client sockets are bound to 127.0.0.2, 127.0.0.3, … (`--per-address` each; Linux
//!    routes all of 127.0.0.0/8 to `lo`). Each side needs more than N file descriptors:
//!    this process raises its soft limit to the hard one and the servers inherit it.
//! 2. Flows (`--skip-flows` skips): full issuances (offer by value → signed metadata →
//!    token with client attestation, PoP and DPoP → nonce → credential with a proof,
//!    response encrypted to the client → notification `credential_accepted`), alternately
//!    (a) direct: the wallet core (`resolve_offer`, `accept`, `notify`) in this process,
//!    CPU = this process's; (b) through the engine: the client library over a WebSocket
//!    (`receive`, `notify`), CPU = the engine's + this process's. Each run pair gives the
//!    same-run ratio (b)/(a) of wallet-side CPU per issuance; the medians over `--runs`
//!    are reported, with the engine's own CPU per issuance and issuances per engine
//!    CPU-second. The peers' CPU is printed too but is not the wallet's. Then
//!    `--latency-flows` issuances one at a time in each mode give the wall latency.
//!    The engine admits 10 flow starts per connection and minute (API v2's limit): each
//!    connection carries at most 10 issuances and enough connections are opened (and
//!    handshaken) before each timed run.
//!
//! Before the servers start, the same-run crypto ceiling of the engine's own part of an
//! issuance is measured in this process: one P-256 key generation (the DPoP key), six
//! ES256 signatures (PoP and DPoP at the token, credential and notification endpoints),
//! one ES256 verification (the signed metadata) and one ECDH-ES JWE encryption (the
//! credential request), on one core. The holder's part (proof signature, response key,
//! decryption, credential verification) is the client's.
//!
//! Offers are created through the issuer's admin API before each timed run. Every
//! issuance is checked (one verified credential bound to the holder key, delivered
//! encrypted, the notification accepted); errors are counted and reported.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use jose::{Algorithm, Clock, Signer, SoftwareSigner};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use wallet::presentation::Choice;
use wallet_client::{ConsentView, Holder, ReceivePolicy};
use wallet_protocol::Frame;
use wallet_protocol::engine::TxCodeSpec;

const ADMIN: &str = "engine-loadgen-admin-token-0123456789";
const RP: &str = "engine-loadgen-rp-token-0123456789";
const SESSION_KID: &str = "loadgen-session";
const AUDIENCE: &str = "symbolon-engine";
/// API v2's flow starts per connection and minute.
const FLOWS_PER_CONNECTION: usize = wallet_protocol::limits::FLOW_STARTS_PER_MINUTE as usize;

struct Args {
    binary: String,
    idle: usize,
    idle_hold: u64,
    per_address: usize,
    skip_flows: bool,
    skip_presentations: bool,
    concurrency: usize,
    seconds: u64,
    runs: usize,
    latency_flows: usize,
    port: u16,
    engine_port: u16,
    server_cpus: Option<String>,
    peers_cpus: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        binary: "target/release/symbolon".into(),
        idle: 10_000,
        idle_hold: 35,
        per_address: 100,
        skip_flows: false,
        skip_presentations: false,
        concurrency: 8,
        seconds: 2,
        runs: 5,
        latency_flows: 100,
        port: 18700,
        engine_port: 18701,
        server_cpus: None,
        peers_cpus: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--skip-flows" {
            a.skip_flows = true;
            continue;
        }
        if flag == "--skip-presentations" {
            a.skip_presentations = true;
            continue;
        }
        let v = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--binary" => a.binary = v,
            "--idle" => a.idle = v.parse().unwrap(),
            "--idle-hold" => a.idle_hold = v.parse().unwrap(),
            "--per-address" => a.per_address = v.parse().unwrap(),
            "--concurrency" => a.concurrency = v.parse().unwrap(),
            "--seconds" => a.seconds = v.parse().unwrap(),
            "--runs" => a.runs = v.parse().unwrap(),
            "--latency-flows" => a.latency_flows = v.parse().unwrap(),
            "--port" => a.port = v.parse().unwrap(),
            "--engine-port" => a.engine_port = v.parse().unwrap(),
            "--server-cpus" => a.server_cpus = Some(v),
            "--peers-cpus" => a.peers_cpus = Some(v),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(
        (1..=128).contains(&a.per_address),
        "--per-address must be 1..=128 (the engine's default max_connections_per_peer)"
    );
    a
}

fn now() -> i64 {
    jose::SystemClock.now()
}

/// User + system CPU seconds of process `pid` so far.
fn cpu_secs(pid: u32) -> f64 {
    measure::process_cpu(pid).unwrap().as_secs_f64()
}

fn own_cpu() -> f64 {
    cpu_secs(std::process::id())
}

/// VmRSS of process `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS in /proc/<pid>/status");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in kB");
    kb * 1024
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn list(values: &[f64], digits: usize) -> String {
    values
        .iter()
        .map(|v| format!("{v:.digits$}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Raises this process's soft limit of open files to the hard limit; the servers started
/// from here inherit it.
fn raise_nofile(needed: u64) -> u64 {
    let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
    if soft < hard {
        rlimit::Resource::NOFILE.set(hard, hard).unwrap();
    }
    let (soft, _) = rlimit::Resource::NOFILE.get().unwrap();
    if soft < needed {
        eprintln!(
            "warning: the open-file limit is {soft} (hard {hard}); {needed} are needed: raise the hard limit (`ulimit -Hn {needed}` as root, or in the shell's limits) and run again"
        );
    }
    soft
}

/// The engine's part of one issuance, repeated on one core: issuances per CPU-second of
/// this process (see the module header for the operations).
fn crypto_ceiling() -> f64 {
    let key = SoftwareSigner::generate(Algorithm::Es256).unwrap();
    let public = jose::VerifyingKey::from_jwk(key.public_jwk()).unwrap();
    let message = b"eyJhbGciOiJFUzI1NiJ9.eyJub25jZSI6Im4ifQ";
    let signature = key.sign(message).unwrap();
    let issuer_key = jose::EncryptionKey::generate(jose::Curve::P256)
        .unwrap()
        .public_jwk_for_encryption();
    // About the size of a credential request with one proof and a response key.
    let request = vec![b'x'; 900];
    let n = 1500;
    let c0 = own_cpu();
    for _ in 0..n {
        let dpop = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        for _ in 0..3 {
            key.sign(message).unwrap();
            dpop.sign(message).unwrap();
        }
        public
            .verify(Algorithm::Es256, message, &signature)
            .unwrap();
        jose::jwe::encrypt(
            &request,
            &issuer_key,
            jose::Enc::A128Gcm,
            &jose::EncryptOptions::default(),
        )
        .unwrap();
    }
    n as f64 / (own_cpu() - c0)
}

fn command(binary: &str, cpus: Option<&String>) -> std::process::Command {
    match cpus {
        Some(cpus) => {
            let mut c = std::process::Command::new("taskset");
            c.args(["-c", cpus.as_str(), binary]);
            c
        }
        None => std::process::Command::new(binary),
    }
}

/// Kills a started server when dropped.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_ready(http: &reqwest::Client, url: &str, what: &str) {
    for _ in 0..200 {
        if let Ok(r) = http.get(url).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the {what} did not become ready at {url}");
}

/// The source address of the `i`-th client socket.
fn source(i: usize, per_address: usize) -> IpAddr {
    let n = u32::try_from(i / per_address + 2).unwrap();
    assert!(n < 0x00ff_ffff, "too many source addresses");
    IpAddr::V4(Ipv4Addr::from(0x7f00_0000 | n))
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A WebSocket to the engine from source address `src`.
async fn open_socket(
    src: IpAddr,
    engine: SocketAddr,
    url: &str,
    config: WebSocketConfig,
) -> Result<Ws, String> {
    let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::new(src, 0))
        .map_err(|e| format!("bind {src}: {e}"))?;
    let stream = socket
        .connect(engine)
        .await
        .map_err(|e| format!("connect from {src}: {e}"))?;
    // As the client library's transport does (`connect_async_tls_with_config(…, true, …)`).
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
        .await
        .map_err(|e| format!("upgrade from {src}: {e}"))?;
    Ok(ws)
}

/// A session JWT of the auth role's key (`typ` session+jwt) for user `sub`.
fn session_token(key: &SoftwareSigner, sub: &str) -> String {
    let now = now();
    let claims = json!({"sub": sub, "aud": AUDIENCE, "iat": now, "exp": now + 3600,
        "permissions": ["receive", "present"]});
    jose::HeaderBuilder::new()
        .typ(engine::auth::SESSION_TYP)
        .kid(SESSION_KID)
        .sign(claims.to_string().as_bytes(), key)
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// Idle sessions

#[derive(Default)]
struct IdleCounters {
    ready: AtomicUsize,
    failed: AtomicUsize,
    pings: AtomicU64,
    pinged: AtomicUsize,
    closed: AtomicUsize,
}

/// One idle session: connect, handshake, then read (answering pings) until the engine
/// closes or the task is aborted.
async fn idle_session(
    src: IpAddr,
    engine: SocketAddr,
    url: String,
    token: String,
    counters: Arc<IdleCounters>,
    first_error: Arc<Mutex<Option<String>>>,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    // Small buffers: this side's memory is not what is measured, and 10,000 sockets with
    // tungstenite's default 128 KiB read buffer would take over a gigabyte here.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let handshake = async {
        let mut ws = open_socket(src, engine, &url, config).await?;
        ws.send(Message::Text(
            json!({"type": "handshake", "app_token": token})
                .to_string()
                .into(),
        ))
        .await
        .map_err(|e| e.to_string())?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).map_err(|e| e.to_string())?;
                    if v["type"] == "handshake_complete" {
                        return Ok(ws);
                    }
                    return Err(format!("handshake answered {v}"));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("closed during the handshake".into()),
            }
        }
    };
    let outcome = tokio::time::timeout(Duration::from_secs(60), handshake).await;
    // The next connection may start.
    drop(permit);
    let mut ws = match outcome {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            first_error.lock().unwrap().get_or_insert(e);
            return;
        }
        Err(_) => {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            first_error
                .lock()
                .unwrap()
                .get_or_insert("handshake timed out".into());
            return;
        }
    };
    counters.ready.fetch_add(1, Ordering::Relaxed);
    let mut pinged = false;
    loop {
        match ws.next().await {
            Some(Ok(Message::Ping(_))) => {
                counters.pings.fetch_add(1, Ordering::Relaxed);
                if !pinged {
                    pinged = true;
                    counters.pinged.fetch_add(1, Ordering::Relaxed);
                }
            }
            Some(Ok(Message::Close(_)) | Err(_)) | None => {
                counters.closed.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Some(Ok(_)) => {}
        }
    }
}

async fn idle_phase(a: &Args, engine_pid: u32, session_key: &SoftwareSigner) {
    let n = a.idle;
    let engine_addr = SocketAddr::from(([127, 0, 0, 1], a.engine_port));
    let url = format!(
        "ws://127.0.0.1:{}{}",
        a.engine_port,
        engine::routes::WALLET_PATH
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss(engine_pid);
    let counters = Arc::new(IdleCounters::default());
    let first_error = Arc::new(Mutex::new(None));
    let gate = Arc::new(tokio::sync::Semaphore::new(256));
    // The session JWTs are signed before the clock starts (the engine's CPU is measured).
    let tokens: Vec<String> = (0..n)
        .map(|i| session_token(session_key, &format!("idle-{i}")))
        .collect();
    eprintln!(
        "idle: engine VmRSS before any connection {:.1} MB; opening {n} sessions from {} source addresses",
        before as f64 / 1e6,
        n.div_ceil(a.per_address)
    );
    let c0 = cpu_secs(engine_pid);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for (i, token) in tokens.into_iter().enumerate() {
        let permit = Arc::clone(&gate).acquire_owned().await.unwrap();
        let (url, counters, first_error) =
            (url.clone(), Arc::clone(&counters), Arc::clone(&first_error));
        tasks.push(tokio::spawn(idle_session(
            source(i, a.per_address),
            engine_addr,
            url,
            token,
            counters,
            first_error,
            permit,
        )));
    }
    while counters.ready.load(Ordering::Relaxed) + counters.failed.load(Ordering::Relaxed) < n {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connect_wall = start.elapsed().as_secs_f64();
    let handshake_cpu = cpu_secs(engine_pid) - c0;
    let ready = counters.ready.load(Ordering::Relaxed);
    let failed = counters.failed.load(Ordering::Relaxed);
    if let Some(e) = first_error.lock().unwrap().as_ref() {
        eprintln!("idle: {failed} sessions failed; the first: {e}");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let open = rss(engine_pid);
    let per = open.saturating_sub(before) as f64 / ready.max(1) as f64;
    eprintln!(
        "idle: {ready} sessions open ({failed} failed) in {connect_wall:.1} s; engine VmRSS {:.1} MB, {:.0} bytes per session; engine CPU {:.0} µs per connection + handshake",
        open as f64 / 1e6,
        per,
        1e6 * handshake_cpu / ready.max(1) as f64
    );
    let hold_cpu0 = cpu_secs(engine_pid);
    tokio::time::sleep(Duration::from_secs(a.idle_hold)).await;
    let hold_cpu = cpu_secs(engine_pid) - hold_cpu0;
    let held = rss(engine_pid);
    let pinged = counters.pinged.load(Ordering::Relaxed);
    let pings = counters.pings.load(Ordering::Relaxed);
    let closed = counters.closed.load(Ordering::Relaxed);
    eprintln!(
        "idle: after {} s: {pinged} sessions got pings ({pings} pings), {closed} closed by the engine; engine VmRSS {:.1} MB; engine CPU while idle {:.1}%",
        a.idle_hold,
        held as f64 / 1e6,
        100.0 * hold_cpu / a.idle_hold as f64
    );
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss(engine_pid);
    eprintln!(
        "idle: all closed: engine VmRSS {:.1} MB",
        after as f64 / 1e6
    );
    println!(
        "RESULT\tsymbolon-engine\tidle_sessions (n={ready}, failed={failed})\tVmRSS {:.1} MB\t{per:.0} bytes/session\tbefore {:.1} MB, after {} s {:.1} MB (pinged {pinged}, closed {closed}), closed all {:.1} MB, {:.0} µs engine CPU per handshake",
        open as f64 / 1e6,
        before as f64 / 1e6,
        a.idle_hold,
        held as f64 / 1e6,
        after as f64 / 1e6,
        1e6 * handshake_cpu / ready.max(1) as f64
    );
}

// ---------------------------------------------------------------------------------------
// Flows

/// The holder: one key, takes what is offered.
struct LoadHolder {
    key: SoftwareSigner,
}

impl Holder for LoadHolder {
    fn tx_code(&mut self, _spec: &TxCodeSpec, _retry: bool) -> Option<String> {
        None
    }

    fn proof_signers(&self) -> Vec<&dyn Signer> {
        vec![&self.key]
    }

    fn consent(&mut self, view: &ConsentView<'_>) -> Option<Choice> {
        view.consent.recommended_choice()
    }

    fn presentation_signer(&self) -> &dyn Signer {
        &self.key
    }
}

type FrameSink = Pin<Box<dyn Sink<Frame, Error = String> + Send>>;
type FrameStream = Pin<Box<dyn Stream<Item = Frame> + Send>>;

/// The client library's WebSocket transport (as `wallet_client::Client::connect` builds
/// it, default buffers), over a socket bound to `src`.
async fn frames(
    src: IpAddr,
    engine: SocketAddr,
    url: &str,
) -> Result<(FrameSink, FrameStream), String> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(wallet_protocol::limits::MAX_MESSAGE_BYTES * 2));
    let ws = open_socket(src, engine, url, config).await?;
    let (sink, stream) = ws.split();
    let input = stream.filter_map(|m| {
        std::future::ready(match m {
            Ok(Message::Text(t)) => Some(Frame::Text(t.as_str().to_owned())),
            Ok(Message::Binary(b)) => Some(Frame::Binary(b.to_vec())),
            Ok(Message::Ping(_) | Message::Frame(_)) => None,
            Ok(Message::Pong(p)) => Some(Frame::Pong(p.to_vec())),
            Ok(Message::Close(_)) | Err(_) => Some(Frame::Close(None)),
        })
    });
    let output = sink.sink_map_err(|e| e.to_string()).with(|f: Frame| {
        std::future::ready(Ok::<_, String>(match f {
            Frame::Text(t) => Message::Text(t.into()),
            Frame::Binary(b) => Message::Binary(b.into()),
            Frame::Ping(p) => Message::Ping(p.into()),
            Frame::Pong(p) => Message::Pong(p.into()),
            Frame::Close(_) => Message::Close(None),
        }))
    });
    Ok((Box::pin(output), Box::pin(input)))
}

struct Flows {
    http: reqwest::Client,
    issuer: String,
    verifier: String,
    engine_addr: SocketAddr,
    engine_url: String,
    engine_pid: u32,
    peers_pid: u32,
    session_key: SoftwareSigner,
    core: Arc<wallet::Wallet>,
    per_address: usize,
    /// Source addresses used so far by flow connections.
    next_source: AtomicUsize,
}

fn client_settings() -> wallet::Settings {
    let mut s = wallet::Settings::without_verifier_anchors();
    s.allow_http_loopback = true;
    s
}

impl Flows {
    /// `n` offer URIs (by value, one classroom pass each) from the issuer's admin API.
    async fn offers(&self, n: usize) -> Vec<String> {
        let parallel = 8;
        let mut tasks = Vec::new();
        for p in 0..parallel {
            let (http, issuer) = (self.http.clone(), self.issuer.clone());
            let share = n / parallel + usize::from(p < n % parallel);
            tasks.push(tokio::spawn(async move {
                let claims = issuer::demo::example_claims();
                let mut out = Vec::with_capacity(share);
                for _ in 0..share {
                    let r = http
                        .post(format!("{issuer}/admin/offers"))
                        .bearer_auth(ADMIN)
                        .json(&json!({"credential_configuration_ids": [issuer::demo::CLASSROOM_PASS_ID], "claims": claims}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 201, "creating an offer");
                    let o: Value = r.json().await.unwrap();
                    out.push(o["offer_uri"].as_str().unwrap().to_owned());
                }
                out
            }));
        }
        let mut all = Vec::with_capacity(n);
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    }

    /// `n` presentation requests (`openid4vp://…`, unsigned, the demo classroom policy)
    /// from the verifier's RP API.
    async fn transactions(&self, n: usize) -> Vec<String> {
        let parallel = 8;
        let mut tasks = Vec::new();
        for p in 0..parallel {
            let (http, verifier) = (self.http.clone(), self.verifier.clone());
            let share = n / parallel + usize::from(p < n % parallel);
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::with_capacity(share);
                for _ in 0..share {
                    let r = http
                        .post(format!("{verifier}/transactions"))
                        .bearer_auth(RP)
                        .json(&json!({}))
                        .send()
                        .await
                        .unwrap();
                    assert!(
                        r.status().is_success(),
                        "starting a transaction: {}",
                        r.status()
                    );
                    let t: Value = r.json().await.unwrap();
                    out.push(t["authorization_request"].as_str().unwrap().to_owned());
                }
                out
            }));
        }
        let mut all = Vec::with_capacity(n);
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    }

    /// Work items of `kind`: offers or presentation requests.
    async fn items(&self, kind: Kind, n: usize) -> Vec<String> {
        match kind {
            Kind::Issuance => self.offers(n).await,
            Kind::Presentation => self.transactions(n).await,
        }
    }

    /// `n` sessions with the engine, handshake done, from fresh source addresses.
    async fn sessions(&self, n: usize) -> Vec<wallet_client::Client> {
        let base = self
            .next_source
            .fetch_add(n.div_ceil(self.per_address), Ordering::Relaxed);
        let mut tasks = Vec::new();
        for i in 0..n {
            let src = source(base * self.per_address + i, self.per_address);
            let (addr, url) = (self.engine_addr, self.engine_url.clone());
            let token = session_token(&self.session_key, &format!("flow-user-{i}"));
            tasks.push(tokio::spawn(async move {
                let (sink, stream) = frames(src, addr, &url).await.unwrap();
                wallet_client::Client::open(sink, stream, &token, client_settings())
                    .await
                    .unwrap()
            }));
        }
        let mut out = Vec::with_capacity(n);
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }
}

/// One issuance by the wallet core in this process.
async fn direct_issuance(
    core: &wallet::Wallet,
    holder: &SoftwareSigner,
    offer: &str,
) -> Result<(), String> {
    let pending = core.resolve_offer(offer).await.map_err(|e| e.to_string())?;
    let issued = core
        .accept(&pending, None, &[holder])
        .await
        .map_err(|e| e.to_string())?;
    check_credential(
        issued.credentials.len(),
        issued.encrypted,
        issued
            .credentials
            .first()
            .and_then(|c| c.credential.holder_key.as_ref()),
        holder,
    )?;
    let handle = issued
        .notifications
        .first()
        .ok_or("no notification handle")?;
    core.notify(handle, oid4vci::NotificationEvent::CredentialAccepted, None)
        .await
        .map_err(|e| e.to_string())
}

fn check_credential(
    count: usize,
    encrypted: bool,
    bound: Option<&jose::PublicJwk>,
    holder: &SoftwareSigner,
) -> Result<(), String> {
    if count != 1 {
        return Err(format!("{count} credentials"));
    }
    if !encrypted {
        return Err("the credential response was not encrypted".into());
    }
    if !bound.is_some_and(|k| k.same_key(holder.public_jwk())) {
        return Err("the credential is not bound to the holder key".into());
    }
    Ok(())
}

/// One issuance through the engine.
async fn engine_issuance(
    client: &mut wallet_client::Client,
    holder: &mut LoadHolder,
    offer: &str,
) -> Result<(), String> {
    let receipt = client
        .receive(offer, holder, ReceivePolicy::default())
        .await
        .map_err(|e| e.to_string())?;
    check_credential(
        receipt.credentials.len(),
        receipt.encrypted,
        receipt
            .credentials
            .first()
            .and_then(|c| c.credential.holder_key.as_ref()),
        &holder.key,
    )?;
    match client
        .notify(
            &receipt,
            wallet_protocol::client::NotificationEvent::CredentialAccepted,
        )
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err("the issuer did not accept the notification".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// One presentation by the wallet core in this process.
async fn direct_presentation(
    core: &wallet::Wallet,
    worker: &Worker,
    link: &str,
) -> Result<(), String> {
    let held = std::slice::from_ref(worker.held.as_ref().ok_or("no credential held")?);
    let request = core
        .resolve_request(link)
        .await
        .map_err(|e| e.to_string())?;
    let choice = core
        .consent(&request, held)
        .recommended_choice()
        .ok_or("nothing held answers the request")?;
    let presented = core
        .present(&request, held, &choice, &worker.holder.key)
        .await
        .map_err(|e| e.to_string())?;
    if presented.disclosed.is_empty() {
        return Err("nothing disclosed".into());
    }
    Ok(())
}

/// One presentation through the engine.
async fn engine_presentation(
    client: &mut wallet_client::Client,
    worker: &mut Worker,
    link: &str,
) -> Result<(), String> {
    let held = std::slice::from_ref(worker.held.as_ref().ok_or("no credential held")?);
    let outcome = client
        .present(link, held, &["held-1".to_owned()], &mut worker.holder)
        .await
        .map_err(|e| e.to_string())?;
    match outcome {
        wallet_client::Presented::Presented { disclosed, .. } if !disclosed.is_empty() => Ok(()),
        other => Err(format!("not presented: {other:?}")),
    }
}

/// What one concurrent wallet holds: its key and, for presentations, a credential bound
/// to it.
struct Worker {
    holder: LoadHolder,
    held: Option<wallet::HeldCredential>,
}

impl Worker {
    fn new() -> Worker {
        Worker {
            holder: LoadHolder {
                key: SoftwareSigner::generate(Algorithm::Es256).unwrap(),
            },
            held: None,
        }
    }
}

/// `n` workers each holding a classroom pass (issued directly).
async fn holders(f: &Flows, n: usize) -> Vec<Worker> {
    let offers = f.offers(n).await;
    let mut out = Vec::with_capacity(n);
    for offer in offers {
        let mut w = Worker::new();
        let pending = f.core.resolve_offer(&offer).await.unwrap();
        let issued = f
            .core
            .accept(&pending, None, &[&w.holder.key])
            .await
            .unwrap();
        w.held = Some(issued.credentials[0].credential.clone());
        out.push(w);
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Issuance,
    Presentation,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Issuance => "issuance",
            Kind::Presentation => "presentation",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Direct,
    Engine,
}

struct Run {
    ok: u64,
    errors: u64,
    wall: f64,
    own_cpu: f64,
    engine_cpu: f64,
    peers_cpu: f64,
    latencies: Vec<f64>,
    /// The workers, for the next run.
    workers: Vec<Worker>,
}

impl Run {
    /// Wallet-side CPU seconds per flow: this process's, plus the engine's in (b).
    fn wallet_cpu(&self, mode: Mode) -> f64 {
        let engine = if mode == Mode::Engine {
            self.engine_cpu
        } else {
            0.0
        };
        (self.own_cpu + engine) / self.ok.max(1) as f64
    }

    fn per_flow(&self, cpu: f64) -> f64 {
        cpu / self.ok.max(1) as f64
    }
}

/// Runs flows of `kind` with one task per worker until `seconds` passed or the `items`
/// (offers, presentation requests) ran out. Sessions (engine mode) are taken from
/// `sessions`, at most [`FLOWS_PER_CONNECTION`] flows each.
async fn run(
    f: &Arc<Flows>,
    kind: Kind,
    mode: Mode,
    workers: Vec<Worker>,
    seconds: f64,
    items: Vec<String>,
    sessions: Vec<wallet_client::Client>,
) -> Run {
    let items = Arc::new(items);
    let next = Arc::new(AtomicUsize::new(0));
    let sessions = Arc::new(Mutex::new(sessions));
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let (e0, p0, o0) = (cpu_secs(f.engine_pid), cpu_secs(f.peers_pid), own_cpu());
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for mut worker in workers {
        let (f, items, next, sessions, ok, errors) = (
            Arc::clone(f),
            Arc::clone(&items),
            Arc::clone(&next),
            Arc::clone(&sessions),
            Arc::clone(&ok),
            Arc::clone(&errors),
        );
        tasks.push(tokio::spawn(async move {
            let mut session: Option<(wallet_client::Client, usize)> = None;
            let mut latencies = Vec::new();
            while Instant::now() < end {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                if mode == Mode::Engine
                    && session
                        .as_ref()
                        .is_none_or(|(_, used)| *used >= FLOWS_PER_CONNECTION)
                {
                    let taken = sessions.lock().unwrap().pop();
                    match taken {
                        Some(c) => session = Some((c, 0)),
                        None => {
                            eprintln!("error: out of pre-opened sessions");
                            break;
                        }
                    }
                }
                let t0 = Instant::now();
                let result = match (mode, kind) {
                    (Mode::Direct, Kind::Issuance) => {
                        direct_issuance(&f.core, &worker.holder.key, item).await
                    }
                    (Mode::Direct, Kind::Presentation) => {
                        direct_presentation(&f.core, &worker, item).await
                    }
                    (Mode::Engine, _) => {
                        let (client, used) = session.as_mut().unwrap();
                        *used += 1;
                        match kind {
                            Kind::Issuance => {
                                engine_issuance(client, &mut worker.holder, item).await
                            }
                            Kind::Presentation => {
                                engine_presentation(client, &mut worker, item).await
                            }
                        }
                    }
                };
                match result {
                    Ok(()) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        latencies.push(t0.elapsed().as_secs_f64());
                    }
                    Err(e) => {
                        if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("error ({}): {e}", kind.name());
                        }
                    }
                }
            }
            (worker, latencies, session)
        }));
    }
    let mut finished = Vec::new();
    for t in tasks {
        finished.push(t.await.unwrap());
    }
    let wall = start.elapsed().as_secs_f64();
    let (e1, p1, o1) = (cpu_secs(f.engine_pid), cpu_secs(f.peers_pid), own_cpu());
    // Sessions are closed after the measurement.
    let mut workers = Vec::new();
    let mut latencies = Vec::new();
    for (worker, l, session) in finished {
        workers.push(worker);
        latencies.extend(l);
        drop(session);
    }
    sessions.lock().unwrap().clear();
    tokio::time::sleep(Duration::from_millis(300)).await;
    Run {
        ok: ok.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        wall,
        own_cpu: o1 - o0,
        engine_cpu: e1 - e0,
        peers_cpu: p1 - p0,
        latencies,
        workers,
    }
}

/// Direct and engine runs of `kind`, alternating; then the latency one at a time.
/// Returns the number of errors.
async fn measure_kind(a: &Args, f: &Arc<Flows>, kind: Kind, ceiling: Option<f64>) -> u64 {
    let c = a.concurrency;
    let name = kind.name();
    let mut workers = match kind {
        Kind::Issuance => (0..c).map(|_| Worker::new()).collect(),
        Kind::Presentation => holders(f, c).await,
    };
    // Warm-up, and the rate that sizes the items and sessions of the timed runs.
    let warm = 40 * c;
    let items = f.items(kind, warm).await;
    let d = run(f, kind, Mode::Direct, workers, 2.0, items, Vec::new()).await;
    assert!(d.ok > 0, "no {name} succeeded directly");
    let items = f.items(kind, warm).await;
    let sessions = f.sessions(warm.div_ceil(FLOWS_PER_CONNECTION) + c).await;
    let e = run(f, kind, Mode::Engine, d.workers, 2.0, items, sessions).await;
    assert!(e.ok > 0, "no {name} succeeded through the engine");
    workers = e.workers;
    let mut rate_direct = d.ok as f64 / d.wall;
    let mut rate_engine = e.ok as f64 / e.wall;
    let mut errors = d.errors + e.errors;
    eprintln!(
        "{name}: warm-up {rate_direct:.0}/s direct, {rate_engine:.0}/s through the engine (errors {} / {})",
        d.errors, e.errors
    );

    let mut ratios = Vec::new();
    let mut engine_per_cpu = Vec::new();
    let mut engine_ms = Vec::new();
    let mut direct_ms = Vec::new();
    let mut via_ms = Vec::new();
    let mut client_ms = Vec::new();
    let secs = a.seconds as f64;
    for i in 0..a.runs {
        let n = (rate_direct * secs * 1.5) as usize + 4 * c;
        let items = f.items(kind, n).await;
        let mut d = run(f, kind, Mode::Direct, workers, secs, items, Vec::new()).await;
        let n = (rate_engine * secs * 1.5) as usize + 4 * c;
        let items = f.items(kind, n).await;
        let sessions = f.sessions(n.div_ceil(FLOWS_PER_CONNECTION) + c).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let e = run(
            f,
            kind,
            Mode::Engine,
            std::mem::take(&mut d.workers),
            secs,
            items,
            sessions,
        )
        .await;
        rate_direct = d.ok as f64 / d.wall;
        rate_engine = e.ok as f64 / e.wall;
        errors += d.errors + e.errors;
        let (cpu_a, cpu_b) = (d.wallet_cpu(Mode::Direct), e.wallet_cpu(Mode::Engine));
        eprintln!(
            "{name} run {}: (a) direct {} ok {} err, {rate_direct:.0}/s, {:.2} ms wallet CPU each (peers {:.2} ms); \
             (b) engine {} ok {} err, {rate_engine:.0}/s, {:.2} ms wallet CPU each = engine {:.2} ms + client {:.2} ms (peers {:.2} ms); ratio {:.2}",
            i + 1,
            d.ok,
            d.errors,
            1e3 * cpu_a,
            1e3 * d.per_flow(d.peers_cpu),
            e.ok,
            e.errors,
            1e3 * cpu_b,
            1e3 * e.per_flow(e.engine_cpu),
            1e3 * e.per_flow(e.own_cpu),
            1e3 * e.per_flow(e.peers_cpu),
            cpu_b / cpu_a
        );
        ratios.push(cpu_b / cpu_a);
        engine_per_cpu.push(e.ok as f64 / e.engine_cpu);
        engine_ms.push(1e3 * e.per_flow(e.engine_cpu));
        direct_ms.push(1e3 * cpu_a);
        via_ms.push(1e3 * cpu_b);
        client_ms.push(1e3 * e.per_flow(e.own_cpu));
        workers = e.workers;
    }

    // Latency: one flow at a time.
    let l = a.latency_flows;
    let one: Vec<Worker> = workers.into_iter().take(1).collect();
    let items = f.items(kind, l).await;
    let d = run(f, kind, Mode::Direct, one, 600.0, items, Vec::new()).await;
    let items = f.items(kind, l).await;
    let sessions = f.sessions(l.div_ceil(FLOWS_PER_CONNECTION) + 1).await;
    let e = run(f, kind, Mode::Engine, d.workers, 600.0, items, sessions).await;
    errors += d.errors + e.errors;
    let (ld, le) = (1e3 * median(&d.latencies), 1e3 * median(&e.latencies));
    eprintln!(
        "{name} latency, one at a time: direct median {ld:.2} ms (p90 {:.2}), through the engine median {le:.2} ms (p90 {:.2}); {} + {} flows",
        1e3 * percentile(&d.latencies, 0.9),
        1e3 * percentile(&e.latencies, 0.9),
        d.ok,
        e.ok
    );

    let pinned = format!(
        "engine on cpu {}, peers and loadgen on cpu {}",
        a.server_cpus.as_deref().unwrap_or("any"),
        a.peers_cpus.as_deref().unwrap_or("any")
    );
    println!(
        "RESULT\tsymbolon-engine\t{name}s_per_engine_cpu_second ({pinned}, c={c})\t{:.0}\t{}",
        median(&engine_per_cpu),
        list(&engine_per_cpu, 0)
    );
    println!(
        "RESULT\tsymbolon-engine\t{name} wallet-side CPU ms: direct (a) | via engine (b) = engine + client\t{:.3} | {:.3} = {:.3} + {:.3}\t(a) {} | (b) {} | engine {}",
        median(&direct_ms),
        median(&via_ms),
        median(&engine_ms),
        median(&client_ms),
        list(&direct_ms, 3),
        list(&via_ms, 3),
        list(&engine_ms, 3)
    );
    println!(
        "RESULT\tsymbolon-engine\t{name} same-run CPU ratio (b)/(a)\t{:.3}\t{}",
        median(&ratios),
        list(&ratios, 3)
    );
    println!(
        "RESULT\tsymbolon-engine\t{name} latency ms median (p90), c=1: direct | via engine\t{ld:.2} ({:.2}) | {le:.2} ({:.2})\tengine share {:.0}%",
        1e3 * percentile(&d.latencies, 0.9),
        1e3 * percentile(&e.latencies, 0.9),
        100.0 * (le - ld) / le
    );
    if let Some(ceiling) = ceiling {
        println!(
            "RESULT\tcrypto-ceiling\tengine part of an issuance (1 keygen + 6 sign + 1 verify + 1 ECDH-ES JWE, one core)\t{ceiling:.0}\tper CPU-second; engine at {:.0}% of it",
            100.0 * median(&engine_per_cpu) / ceiling
        );
    }
    errors
}

async fn flows_phase(a: &Args, f: Arc<Flows>, ceiling: f64) {
    let mut errors = measure_kind(a, &f, Kind::Issuance, Some(ceiling)).await;
    if !a.skip_presentations {
        errors += measure_kind(a, &f, Kind::Presentation, None).await;
    }
    println!("RESULT\terrors\t{errors}");
}

// ---------------------------------------------------------------------------------------
// Set-up

fn main() {
    let a = args();
    // Each side holds one descriptor per session, plus its listeners, files and the
    // flows' HTTP connections.
    let limit = raise_nofile(a.idle as u64 + 1024);
    eprintln!("open-file limit {limit}");
    let ceilings: Vec<f64> = (0..3).map(|_| crypto_ceiling()).collect();
    let ceiling = median(&ceilings);
    eprintln!(
        "crypto ceiling of the engine's part of an issuance (1 P-256 keygen, 6 ES256 sign, 1 ES256 verify, 1 ECDH-ES JWE), one core: {ceiling:.0} per CPU-second ({})",
        list(&ceilings, 0)
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let mut kek = [0u8; 32];
        aws_lc_rs::rand::fill(&mut kek).unwrap();
        let kek_b64 = jose::b64::encode(kek);

        // The attester's A-Key, made here so the issuer's trust file can name it.
        let a_key_file = dir.path().join("a-key.sealed");
        let a_key = keys::key_file::load_or_generate(
            &a_key_file,
            &keys::Kek::from_bytes(&kek).unwrap(),
            Algorithm::Es256,
        )
        .unwrap();
        let attester_jwks = dir.path().join("attester.json");
        std::fs::write(
            &attester_jwks,
            json!({"keys": [a_key.public_jwk().to_value()]}).to_string(),
        )
        .unwrap();
        // The auth role's session key.
        let session_key = SoftwareSigner::generate(Algorithm::Es256)
            .unwrap()
            .with_kid(SESSION_KID);
        let session_jwks = dir.path().join("session-keys.json");
        std::fs::write(
            &session_jwks,
            json!({"keys": [session_key.public_jwk().to_value()]}).to_string(),
        )
        .unwrap();

        let peers_base = format!("http://127.0.0.1:{}", a.port);
        let peers_config = format!(
            r#"data_dir = {data:?}
[server]
listen = "127.0.0.1:{port}"
allow_http_loopback = true
[metrics]
enabled = false
[attester]
dev_evidence = true
[attester.kubernetes]
enabled = false
[attester.rate_limit]
requests = 100000000
window = "1h"
[attester.software_key]
key_file = {a_key:?}
kek = {{ key = {{ env = "LOADGEN_KEK" }} }}
[issuer]
admin_token = "{ADMIN}"
demo = true
offer_ttl = "1h"
[issuer.keys]
kek = {{ key = {{ env = "LOADGEN_KEK" }} }}
[issuer.attestation]
jwks_file = {jwks:?}
evidence = ["dev"]
key_protection = ["software"]
[verifier]
demo = true
rp_token = "{RP}"
"#,
            data = dir.path().join("peers").display().to_string(),
            port = a.port,
            a_key = a_key_file.display().to_string(),
            jwks = attester_jwks.display().to_string(),
        );
        let peers_path = dir.path().join("peers.toml");
        std::fs::write(&peers_path, peers_config).unwrap();
        let engine_config = format!(
            r#"data_dir = {data:?}
[server]
listen = "127.0.0.1:{port}"
allow_http_loopback = true
[engine]
attester_url = "{peers_base}/attester"
evidence = "dev"
[engine.app_tokens]
jwks_file = {jwks:?}
[engine.trust]
allow_http_loopback = true
"#,
            data = dir.path().join("engine").display().to_string(),
            port = a.engine_port,
            jwks = session_jwks.display().to_string(),
        );
        let engine_path = dir.path().join("engine.toml");
        std::fs::write(&engine_path, engine_config).unwrap();

        let peers = Server(
            command(&a.binary, a.peers_cpus.as_ref())
                .args(["serve", "--mode=attester,issuer,verifier", "--config"])
                .arg(&peers_path)
                .env("LOADGEN_KEK", &kek_b64)
                .env("RUST_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("start the symbolon binary (build it with --release first)"),
        );
        let engine = Server(
            command(&a.binary, a.server_cpus.as_ref())
                .args(["serve", "--mode=engine", "--config"])
                .arg(&engine_path)
                .env("RUST_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("start the symbolon binary"),
        );
        let (peers_pid, engine_pid) = (peers.0.id(), engine.0.id());
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        wait_ready(&http, &format!("{peers_base}/readyz"), "peers process").await;
        wait_ready(
            &http,
            &format!("http://127.0.0.1:{}/readyz", a.engine_port),
            "engine",
        )
        .await;
        eprintln!("peers pid {peers_pid}, engine pid {engine_pid}");

        if a.idle > 0 {
            idle_phase(&a, engine_pid, &session_key).await;
        }
        if !a.skip_flows {
            let guarded = http_client::GuardedClient::new(http_client::HttpSettings {
                policy: http_client::AddressPolicy::AllowLoopback,
                ..http_client::HttpSettings::default()
            })
            .unwrap();
            let clock: Arc<dyn Clock> = Arc::new(jose::SystemClock);
            let attestation = wallet::attestation::AttestationClient::new(
                wallet::attestation::ClientSettings::new(
                    format!("{peers_base}/attester"),
                    "engine-loadgen-wallet",
                    wallet::attestation::EvidenceSource::Dev,
                ),
                guarded.clone(),
                Arc::clone(&clock),
                Arc::new(jose::SystemRandom),
            )
            .unwrap();
            let core = wallet::Wallet::new(
                client_settings(),
                guarded,
                Arc::new(attestation),
                clock,
                Arc::new(jose::SystemRandom),
            );
            let flows = Arc::new(Flows {
                http: http.clone(),
                issuer: format!("{peers_base}/issuer"),
                verifier: format!("{peers_base}/verifier"),
                engine_addr: SocketAddr::from(([127, 0, 0, 1], a.engine_port)),
                engine_url: format!(
                    "ws://127.0.0.1:{}{}",
                    a.engine_port,
                    engine::routes::WALLET_PATH
                ),
                engine_pid,
                peers_pid,
                session_key,
                core: Arc::new(core),
                per_address: a.per_address,
                // Past the idle phase's addresses.
                next_source: AtomicUsize::new(a.idle.div_ceil(a.per_address) + 1),
            });
            flows_phase(&a, flows, ceiling).await;
        }
        drop(engine);
        drop(peers);
    });
}
