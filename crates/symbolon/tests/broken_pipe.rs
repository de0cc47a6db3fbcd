//! `symbolon … | head`: a reader that closes standard output early ends the command
//! quietly (exit 0, nothing on stderr) instead of a panic on the broken pipe.

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::{Command, Stdio};

use common::symbolon;

/// Runs `command` with standard output a pipe whose reader is already closed, so its
/// first write fails with EPIPE; returns the exit code and stderr.
fn into_closed_pipe(command: &mut Command) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = command
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn issue10_config_check_into_a_closed_pipe_exits_quietly() {
    let (code, stderr) = into_closed_pipe(symbolon().args(["config", "check"]));
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn issue10_wallet_list_into_a_closed_pipe_exits_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("wallet");
    let init = symbolon()
        .env("SYMBOLON_WALLET_PASSPHRASE", "pipe test passphrase")
        .args(["wallet", "--wallet-dir"])
        .arg(&w)
        .args(["init", "--allow-loopback"])
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    for args in [
        &["list"][..],
        &["--json", "list"][..],
        &["trust", "list"][..],
    ] {
        let (code, stderr) = into_closed_pipe(
            symbolon()
                .env("SYMBOLON_WALLET_PASSPHRASE", "pipe test passphrase")
                .args(["wallet", "--wallet-dir"])
                .arg(&w)
                .args(args),
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
    }
}

/// A write error that is not a closed pipe is still an error: stdout on a full device.
#[test]
fn rejects_silently_losing_output_on_a_full_device() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return;
    };
    let out = symbolon()
        .args(["config", "check"])
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("standard output"), "{stderr}");
}
