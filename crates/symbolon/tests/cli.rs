//! End-to-end tests of the developer commands: each runs the real `symbolon` binary and
//! checks its exit code (0 success, 1 invalid input, 2 usage), stdout and stderr.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::symbolon;

fn run(command: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    (
        status.code().expect("exited normally"),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

const ROLES: [&str; 10] = [
    "issuer", "verifier", "attester", "engine", "auth", "storage", "registry", "backend",
    "gateway", "all",
];

#[test]
fn version_prints_the_package_version() {
    let (code, stdout, _) = run(symbolon().arg("--version"));
    assert_eq!(code, 0);
    assert_eq!(
        stdout.trim(),
        format!("symbolon {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn rejects_an_unknown_role_as_usage_error_listing_the_roles() {
    let (code, _, stderr) = run(symbolon().args(["serve", "--mode=wallet"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("unknown role `wallet`"), "{stderr}");
    for role in ROLES {
        assert!(stderr.contains(role), "{role} missing from: {stderr}");
    }
    assert!(stderr.contains("implemented in this build:"), "{stderr}");
}

/// The roles this build implements, as the binary reports them.
fn implemented_roles() -> Vec<String> {
    let (_, _, stderr) = run(symbolon().args(["serve", "--mode=wallet"]));
    let listed = stderr
        .split("implemented in this build: ")
        .nth(1)
        .expect("the refusal lists the implemented roles")
        .lines()
        .next()
        .unwrap()
        .trim();
    if listed == "none yet" {
        Vec::new()
    } else {
        listed.split(", ").map(str::to_owned).collect()
    }
}

#[test]
fn rejects_a_role_not_implemented_yet_naming_the_implemented_ones() {
    let implemented = implemented_roles();
    let pending: Vec<&str> = ROLES
        .into_iter()
        .filter(|r| *r != "all" && !implemented.iter().any(|i| i == r))
        .collect();
    for role in pending {
        // Both spellings of the mode: the flag and SYMBOLON_MODE.
        let by_flag = run(symbolon().args(["serve", &format!("--mode={role}")]));
        let by_env = run(symbolon().arg("serve").env("SYMBOLON_MODE", role));
        for (code, _, stderr) in [by_flag, by_env] {
            assert_eq!(code, 2, "{stderr}");
            assert!(
                stderr.contains(&format!("role `{role}` is not implemented yet")),
                "{stderr}"
            );
            assert!(stderr.contains("implemented roles: "), "{stderr}");
        }
    }
}

#[test]
fn rejects_serve_without_a_mode() {
    let (code, _, stderr) = run(symbolon().arg("serve"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--mode"), "{stderr}");
}

#[test]
fn config_check_prints_the_defaults() {
    let (code, stdout, stderr) = run(symbolon().args(["config", "check"]));
    assert_eq!(code, 0, "{stderr}");
    let printed: toml::Table = toml::from_str(&stdout).unwrap();
    assert_eq!(printed["data_dir"].as_str(), Some("./data"));
    assert_eq!(printed["server"]["listen"].as_str(), Some("127.0.0.1:8080"));
    assert_eq!(printed["server"]["request_timeout"].as_str(), Some("30s"));
}

#[test]
fn config_check_applies_file_then_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("symbolon.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"0.0.0.0:9000\"\nshutdown_grace = \"1m\"\n",
    )
    .unwrap();
    let (code, stdout, stderr) = run(symbolon()
        .args(["config", "check", "--config"])
        .arg(&file)
        .env("SYMBOLON_SERVER__LISTEN", "127.0.0.1:9001"));
    assert_eq!(code, 0, "{stderr}");
    let printed: toml::Table = toml::from_str(&stdout).unwrap();
    assert_eq!(printed["server"]["listen"].as_str(), Some("127.0.0.1:9001"));
    assert_eq!(printed["server"]["shutdown_grace"].as_str(), Some("1m"));
}

#[test]
fn config_check_reads_the_file_named_by_symbolon_config() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("symbolon.toml");
    std::fs::write(&file, "data_dir = \"/srv/symbolon\"\n").unwrap();
    let (code, stdout, stderr) = run(symbolon()
        .args(["config", "check"])
        .env("SYMBOLON_CONFIG", &file));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("data_dir = \"/srv/symbolon\""), "{stdout}");
}

#[test]
fn rejects_an_unknown_key_in_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("symbolon.toml");
    std::fs::write(&file, "[server]\nlisen = \"0.0.0.0:9000\"\n").unwrap();
    let (code, stdout, stderr) = run(symbolon().args(["config", "check", "--config"]).arg(&file));
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("server.lisen"), "{stderr}");
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");
}

#[test]
fn rejects_an_unknown_symbolon_variable() {
    let (code, _, stderr) = run(symbolon()
        .args(["config", "check"])
        .env("SYMBOLON_SERVER__PORT", "9000"));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("SYMBOLON_SERVER__PORT"), "{stderr}");
}

#[test]
fn rejects_a_bad_duration_naming_the_key() {
    let (code, _, stderr) = run(symbolon()
        .args(["config", "check"])
        .env("SYMBOLON_SERVER__REQUEST_TIMEOUT", "thirty seconds"));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("server.request_timeout"), "{stderr}");
}

#[test]
fn rejects_a_missing_config_file() {
    let (code, _, stderr) =
        run(symbolon().args(["config", "check", "--config", "/nonexistent/x.toml"]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("/nonexistent/x.toml"), "{stderr}");
}

fn generate(alg: &str, out: &Path) -> (i32, String, String) {
    run(symbolon()
        .args(["jwk", "generate", "--alg", alg, "--out"])
        .arg(out))
}

#[test]
fn jwk_generate_writes_a_private_file_and_prints_the_public_key() {
    let dir = tempfile::tempdir().unwrap();
    for alg in ["ES256", "ES384", "Ed25519"] {
        let out = dir.path().join(format!("{alg}.jwk"));
        let (code, stdout, stderr) = generate(alg, &out);
        assert_eq!(code, 0, "{stderr}");

        let printed: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert!(
            printed.get("d").is_none(),
            "public output has no `d`: {stdout}"
        );
        assert_eq!(printed["alg"], alg);
        let public = jose::PublicJwk::from_json(stdout.trim().as_bytes()).unwrap();
        assert_eq!(
            public.kid(),
            Some(public.thumbprint().as_str()),
            "kid is the RFC 7638 thumbprint"
        );

        let private = jose::PrivateJwk::from_json(&std::fs::read(&out).unwrap()).unwrap();
        assert!(private.public().same_key(&public));
        assert_eq!(private.public().kid(), public.kid());

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&out).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "private key file mode {mode:o}");
        }
    }
}

#[test]
fn jwk_generate_defaults_to_es256() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("key.jwk");
    let (code, stdout, stderr) = run(symbolon().args(["jwk", "generate", "--out"]).arg(&out));
    assert_eq!(code, 0, "{stderr}");
    let printed: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(printed["alg"], "ES256");
    assert_eq!(printed["crv"], "P-256");
}

#[test]
fn rejects_overwriting_an_existing_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("key.jwk");
    std::fs::write(&out, "existing").unwrap();
    let (code, stdout, stderr) = generate("ES256", &out);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stdout.is_empty(),
        "nothing printed when nothing was written"
    );
    assert!(stderr.contains("refusing to overwrite"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "existing");
}

#[test]
fn jwk_generate_without_out_writes_kid_named_file_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(symbolon().current_dir(dir.path()).args(["jwk", "generate"]));
    assert_eq!(code, 0, "{stderr}");
    let public = jose::PublicJwk::from_json(stdout.trim().as_bytes()).unwrap();
    let file = dir.path().join(format!("{}.jwk", public.thumbprint()));
    let private = jose::PrivateJwk::from_json(&std::fs::read(&file).unwrap()).unwrap();
    assert!(private.public().same_key(&public));
    assert!(stderr.contains("private key written to"), "{stderr}");
}

#[test]
fn status_list_decode_reads_stdin_and_reports_an_index() {
    use std::io::Write;
    let mut child = symbolon()
        .args(["status-list", "decode", "--idx", "3", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"bits":1,"lst":"eNrbuRgAAhcBXQ"}"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["name"], "INVALID");
}

#[test]
fn rejects_status_list_decode_of_garbage_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x");
    std::fs::write(&f, "garbage").unwrap();
    let (code, stdout, stderr) = run(symbolon().args(["status-list", "decode"]).arg(&f));
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("not a status list token"), "{stderr}");
}

#[test]
fn rejects_an_unsupported_algorithm_as_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("key.jwk");
    let (code, _, stderr) = generate("RS256", &out);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("ES256, ES384, Ed25519"), "{stderr}");
    assert!(!out.exists());
}
