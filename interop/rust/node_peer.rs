//! A Node interop peer for Rust integration tests: runs a script of `interop/js/` (which
//! prints `READY <port>` once it listens on 127.0.0.1), kills it when dropped, and talks
//! JSON to its test endpoints. Included by the tests of several crates with
//! `#[path = "…/interop/rust/node_peer.rs"] mod node_peer;` (a test cannot depend on
//! another crate's test helpers).

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A running peer.
pub struct NodePeer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its base URL, `http://<host>:<port>` with the host given to [`NodePeer::start`].
    pub base: String,
    http: reqwest::Client,
}

impl Drop for NodePeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `interop/`, checked to hold the installed npm packages.
pub fn interop_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../interop"));
    assert!(
        dir.join("node_modules/@openid4vc/openid4vp").is_dir(),
        "interop/node_modules is missing: run `npm ci` in interop/ (scripts/test.sh does)"
    );
    dir
}

impl NodePeer {
    /// Starts `interop/<script>` with `env`; `host` names 127.0.0.1 in [`NodePeer::base`]
    /// (`localhost` where a certificate names it).
    pub fn start(script: &str, host: &str, env: &[(&str, String)]) -> NodePeer {
        let mut command = Command::new("node");
        command
            .current_dir(interop_dir())
            .arg("--dns-result-order=ipv4first")
            .arg(script)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("node must be installed");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("the peer's first line");
        let port: u16 = line
            .trim()
            .strip_prefix("READY ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{script} did not start: {line:?}"));
        NodePeer {
            child,
            port,
            base: format!("http://{host}:{port}"),
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("an HTTP client"),
        }
    }

    /// `GET <base><path>` as JSON.
    pub async fn get(&self, path: &str) -> Value {
        let r = self.http.get(format!("{}{path}", self.base)).send().await;
        r.expect("the peer answers").json().await.expect("JSON")
    }

    /// `POST <base><path>` with a JSON body, answered with JSON.
    pub async fn post(&self, path: &str, body: &Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await;
        r.expect("the peer answers").json().await.expect("JSON")
    }
}
