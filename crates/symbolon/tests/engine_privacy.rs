//! The engine process holds no credential after a flow: a `symbolon serve --mode=engine`
//! process (its own, apart from the issuer) runs an issuance for a client over a
//! WebSocket; afterwards every readable and writable mapping of the engine's memory is
//! scanned for the credential's signature and disclosures (the issuer encrypted the
//! response to the client, so the engine never had them), with a string the engine must
//! hold (its attester's URL) as the control that the scan reads real memory.
//!
//! Linux only (`/proc/<pid>/mem` of a child process).

#![cfg(target_os = "linux")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{Read, Seek, SeekFrom};

use common::{LoggedServer, admin_offer, free_port, start, symbolon};
use jose::{Algorithm, Signer, SoftwareSigner};
use wallet::presentation::Choice;
use wallet_client::{Client, ConsentView, Holder, ReceivePolicy};
use wallet_protocol::engine::TxCodeSpec;

struct OneKey(SoftwareSigner);

impl Holder for OneKey {
    fn tx_code(&mut self, _: &TxCodeSpec, _: bool) -> Option<String> {
        None
    }
    fn proof_signers(&self) -> Vec<&dyn Signer> {
        vec![&self.0]
    }
    fn consent(&mut self, _: &ConsentView<'_>) -> Option<Choice> {
        None
    }
    fn presentation_signer(&self) -> &dyn Signer {
        &self.0
    }
}

/// Which of `needles` occur in the readable, writable, resident mappings of process
/// `pid`, and how many bytes were searched.
fn search_memory(pid: u32, needles: &[&[u8]]) -> (Vec<bool>, usize) {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let finders: Vec<memchr::memmem::Finder<'_>> =
        needles.iter().map(memchr::memmem::Finder::new).collect();
    let mut found = vec![false; needles.len()];
    let mut searched = 0;
    let mut current: Option<(u64, u64)> = None;
    for line in smaps.lines() {
        let mut parts = line.split_whitespace();
        let (Some(first), Some(second)) = (parts.next(), parts.next()) else {
            continue;
        };
        if let Some((start, end)) = first.split_once('-')
            && let (Ok(start), Ok(end)) =
                (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16))
        {
            current = second.starts_with("rw").then_some((start, end));
            continue;
        }
        // `Rss:` of the current mapping: untouched reservations are skipped.
        if first != "Rss:" || second == "0" {
            continue;
        }
        let Some((start, end)) = current.take() else {
            continue;
        };
        let mut buf = vec![0u8; usize::try_from(end - start).unwrap()];
        if mem.seek(SeekFrom::Start(start)).is_err() || mem.read_exact(&mut buf).is_err() {
            continue;
        }
        searched += buf.len();
        for (hit, finder) in found.iter_mut().zip(&finders) {
            *hit |= finder.find(&buf).is_some();
        }
    }
    (found, searched)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_the_engine_process_holds_no_credential_after_a_flow() {
    let dir = tempfile::tempdir().unwrap();
    let (_platform, base) = start(dir.path());
    let port = free_port();
    let attester = format!("{base}/attester");
    let config = format!(
        r#"data_dir = {data:?}
[server]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
allow_http_loopback = true
[engine]
attester_url = "{attester}"
evidence = "dev"
[engine.app_tokens]
anonymous = ["receive"]
[engine.trust]
allow_http_loopback = true
[engine.outbound]
address_policy = "allow_loopback"
"#,
        data = dir.path().join("engine-data").display().to_string(),
    );
    let path = dir.path().join("engine.toml");
    std::fs::write(&path, config).unwrap();
    let mut command = symbolon();
    command
        .args(["serve", "--mode=engine", "--config"])
        .arg(&path);
    let engine = LoggedServer::start(command);

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let offer = admin_offer(&http, &base, dir.path()).await;
    let mut settings = wallet::Settings::without_verifier_anchors();
    settings.allow_http_loopback = true;
    let mut client = Client::connect(
        &format!("ws://127.0.0.1:{port}/api/v2/wallet"),
        "anonymous",
        settings,
        &[],
    )
    .await
    .unwrap();
    let mut holder = OneKey(SoftwareSigner::generate(Algorithm::Es256).unwrap());
    let receipt = client
        .receive(&offer, &mut holder, ReceivePolicy::default())
        .await
        .unwrap();
    assert!(receipt.encrypted);
    let compact = receipt.credentials[0].credential.compact.clone();
    assert!(
        client
            .notify(
                &receipt,
                wallet_protocol::client::NotificationEvent::CredentialAccepted
            )
            .await
            .unwrap()
    );
    client.close().await;

    // What would betray the credential: its issuer signature and every disclosure.
    let mut parts = compact.split('~');
    let jwt = parts.next().unwrap();
    let signature = jwt.rsplit('.').next().unwrap().to_owned();
    let mut secrets = vec![signature];
    secrets.extend(parts.filter(|d| !d.is_empty()).map(str::to_owned));
    assert!(secrets.len() >= 2, "{compact}");

    let mut needles: Vec<&[u8]> = vec![attester.as_bytes()];
    needles.extend(secrets.iter().map(|s| s.as_bytes()));
    let (found, searched) = search_memory(engine.0.id(), &needles);
    assert!(searched > 1 << 20, "the scan read {searched} bytes only");
    assert!(
        found[0],
        "control: the engine's attester URL is in its memory"
    );
    for (secret, hit) in secrets.iter().zip(&found[1..]) {
        assert!(
            !hit,
            "the engine process holds part of the credential: {secret}"
        );
    }
}
