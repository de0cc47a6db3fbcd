//! The verifier's demo relying party page (the "immersive classroom") in a real headless
//! Chromium, against `symbolon serve --mode=all`, with the command-line wallet as the
//! holder: the page shows a QR code and a same-device link; the wallet presents the
//! recommended claims and the browser it redirects back to shows "access granted" with
//! exactly those claims; withholding the essential `course` makes the page (which keeps
//! polling, as in the cross-device flow) show "access denied" with the reason.
//!
//! Needs Node with `playwright-core` in `interop/node_modules` and Debian's `chromium`
//! (both installed by `scripts/test.sh`).

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use common::{ok_json, wallet};
use serde_json::Value;

fn interop_dir() -> PathBuf {
    let dir = std::env::var_os("INTEROP_DIR").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../interop")),
        PathBuf::from,
    );
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing in {}: run `npm ci` in interop/ (scripts/test.sh does)",
        dir.display()
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "Chromium not found at {chromium}: install Debian's `chromium` (scripts/test.sh does) or set CHROMIUM"
    );
    dir
}

/// The browser driver: `interop/js/classroom-browser.mjs`, one JSON line per step.
struct Browser {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Browser {
    fn open(page: &str) -> Browser {
        let dir = interop_dir();
        let mut child = Command::new("node")
            .arg(dir.join("js/classroom-browser.mjs"))
            .arg(page)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot run node");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Browser {
            child,
            stdin,
            stdout,
        }
    }

    fn read(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(
            !line.is_empty(),
            "the browser driver ended early (see its stderr)"
        );
        serde_json::from_str(&line).unwrap()
    }

    /// Sends the redirect the wallet got (or nothing) and returns the page's decision.
    fn decision(mut self, redirect: Option<&str>) -> Value {
        writeln!(self.stdin, "{}", redirect.unwrap_or_default()).unwrap();
        let decision = self.read();
        assert!(self.child.wait().unwrap().success());
        assert_eq!(decision["problems"], serde_json::json!([]), "{decision}");
        decision
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_classroom_page_grants_the_recommended_claims_and_denies_without_course() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = common::start(dir.path());
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let w = common::wallet_with_pass(&http, &base, dir.path()).await;
    let page = format!("{base}/verifier/demo");

    // Same-device: the wallet presents, the browser follows its redirect.
    let mut browser = Browser::open(&page);
    let shown = browser.read();
    assert!(shown["qr_width"].as_u64().unwrap() > 0, "{shown}");
    let link = shown["authorization_request"].as_str().unwrap();
    assert!(link.starts_with("openid4vp://"), "{link}");
    let presented = ok_json(wallet(&w, &["--json", "present", link, "--yes"]));
    let redirect = presented["redirect_uri"].as_str().unwrap();
    assert!(redirect.contains("#response_code="), "{redirect}");
    let decision = browser.decision(Some(redirect));
    assert_eq!(decision["result"], "granted", "{decision}");
    let claims = decision["claims"].as_object().unwrap();
    let mut names: Vec<&str> = claims.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["course", "role"], "{decision}");
    assert_eq!(claims["course"], "Chemistry 101");

    // Cross-device: the page polls; the holder withholds the essential `course`.
    let mut browser = Browser::open(&page);
    let link = browser.read()["authorization_request"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = wallet(&w, &["present", &link, "--disclose", "role"]);
    assert_eq!(refused.status.code(), Some(1));
    let decision = browser.decision(None);
    assert_eq!(decision["result"], "denied", "{decision}");
    let reason = decision["reason"].as_str().unwrap();
    assert!(reason.contains("course"), "{reason}");
}
