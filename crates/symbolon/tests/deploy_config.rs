//! The configurations the Kubernetes manifests ship are ones `symbolon` accepts: each role's
//! overlay (`deploy/<role>`) is rendered with the real kustomize (through
//! `interop/python/validate_manifests.py --render`, which runs `kubectl kustomize`), its
//! config file is taken from the ConfigMap key the Deployment mounts at `--config`, and
//! `symbolon config check --mode=<role>` runs on it with the environment the Deployment
//! gives the container — plain values as written, Secret references with test values of
//! the right shape. So neither the config keys nor the `SYMBOLON_*` variable names of the
//! manifests can drift from the real config schema (an unknown key or variable is an
//! error), and a value the config needs from the Secret (the verifier's key-encryption key
//! with a database URL) must be wired.
//!
//! Needs the interop virtualenv (`scripts/test.sh` creates it); fails otherwise.

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn python() -> PathBuf {
    let python = std::env::var_os("INTEROP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("interop/python/.venv/bin/python"));
    assert!(
        python.is_file(),
        "{} is missing: create the interop virtualenv (scripts/test.sh does it)",
        python.display()
    );
    python
}

/// The rendered documents of `deploy/<role>`.
fn render(role: &str) -> Vec<Value> {
    let out = Command::new(python())
        .arg(repo().join("interop/python/validate_manifests.py"))
        .arg("--render")
        .arg(repo().join("deploy").join(role))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rendering deploy/{role}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn random(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    bytes
}

/// A test value of the shape the Secret template asks for under `key`. A key the test
/// does not know fails the test: a new Secret value needs a deliberate test value.
fn secret_value(secret: &str, key: &str) -> String {
    match key {
        "database-url" => {
            "postgres://symbolon:pw@postgresql.symbolon-data.svc:5432/symbolon".into()
        }
        "redis-url" => "redis://:pw@redis.symbolon-data.svc:6379/0".into(),
        // issuer.keys.kek: 32 bytes, base64.
        "kek" => jose::b64::encode_std(random(32)),
        // verifier.key_encryption_key: 32 bytes, base64url.
        "key-encryption-key" => jose::b64::encode(random(32)),
        "admin-token" | "rp-token" => jose::b64::encode(random(32)),
        other => panic!("no test value for key {other} of Secret {secret}: add one"),
    }
}

/// What `config check` needs from the rendered overlay of `role`: the config file's text
/// and the container's environment.
struct Wiring {
    config: String,
    config_path: String,
    env: Vec<(String, String)>,
}

fn wiring(role: &str, docs: &[Value]) -> Wiring {
    let deployment = docs
        .iter()
        .find(|d| {
            d["kind"] == "Deployment"
                && d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
                    == role
        })
        .unwrap_or_else(|| panic!("no {role} Deployment in deploy/{role}"));
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[..2], ["serve", &format!("--mode={role}")], "{args:?}");
    let config_path = args
        .iter()
        .find_map(|a| a.strip_prefix("--config="))
        .unwrap_or_else(|| panic!("the {role} container names no --config=: {args:?}"));
    let (dir, file) = config_path.rsplit_once('/').unwrap();
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == dir)
        .unwrap_or_else(|| panic!("nothing is mounted at {dir}"));
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    let source = &volume["configMap"];
    let key = source["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"] == file)
        .unwrap_or_else(|| panic!("{config_path} is no item of the volume {volume}"))["key"]
        .as_str()
        .unwrap();
    let config_map = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == source["name"])
        .unwrap_or_else(|| panic!("no ConfigMap {}", source["name"]));
    let config = config_map["data"][key].as_str().unwrap().to_owned();
    let env = container["env"]
        .as_array()
        .map(|env| {
            env.iter()
                .map(|e| {
                    let name = e["name"].as_str().unwrap().to_owned();
                    let value = match (&e["value"], &e["valueFrom"]["secretKeyRef"]) {
                        (Value::String(v), _) => v.clone(),
                        (_, Value::Object(r)) => {
                            secret_value(r["name"].as_str().unwrap(), r["key"].as_str().unwrap())
                        }
                        _ => panic!("env {name}: neither a value nor a Secret key: {e}"),
                    };
                    (name, value)
                })
                .collect()
        })
        .unwrap_or_default();
    Wiring {
        config,
        config_path: config_path.to_owned(),
        env,
    }
}

/// `symbolon config check --mode=<role>` on `wiring` with only its environment (no
/// `SYMBOLON_*` from the shell): (success, stdout, stderr).
fn config_check(role: &str, wiring: &Wiring, dir: &Path) -> (bool, String, String) {
    let path = dir.join(format!("{role}.toml"));
    std::fs::write(&path, &wiring.config).unwrap();
    let mut command = common::symbolon();
    command.envs(wiring.env.iter().map(|(k, v)| (k, v)));
    let out = command
        .args(["config", "check", &format!("--mode={role}"), "--config"])
        .arg(&path)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The role's manifest config passes `config check --mode=<role>`; returns its output.
fn accepted(role: &str) -> (Wiring, String) {
    let wiring = wiring(role, &render(role));
    let dir = tempfile::tempdir().unwrap();
    let (ok, stdout, stderr) = config_check(role, &wiring, dir.path());
    assert!(
        ok,
        "deploy/{role}: config check --mode={role} refused {}: {stderr}",
        wiring.config_path
    );
    (wiring, stdout)
}

#[test]
fn issue11_issuer_manifest_config_passes_config_check() {
    let (wiring, stdout) = accepted("issuer");
    // The Secret reaches the process: the URLs are taken (and printed redacted).
    assert!(
        wiring
            .env
            .iter()
            .any(|(k, _)| k == "SYMBOLON_ISSUER__DATABASE_URL"),
        "{:?}",
        wiring.env
    );
    assert!(stdout.contains("0.0.0.0:8444"), "{stdout}");
    assert!(!stdout.contains("postgres://symbolon:pw"), "{stdout}");
}

#[test]
fn issue11_verifier_manifest_config_passes_config_check() {
    let (_, stdout) = accepted("verifier");
    assert!(stdout.contains("0.0.0.0:8443"), "{stdout}");
    assert!(!stdout.contains("postgres://symbolon:pw"), "{stdout}");
}

#[test]
fn issue11_attester_manifest_config_passes_config_check() {
    let (_, stdout) = accepted("attester");
    assert!(stdout.contains("0.0.0.0:5000"), "{stdout}");
}

#[test]
fn issue12_engine_manifest_config_passes_config_check() {
    let (_, stdout) = accepted("engine");
    assert!(stdout.contains("0.0.0.0:8080"), "{stdout}");
    assert!(stdout.contains("[engine.app_tokens]"), "{stdout}");
    assert!(
        stdout.contains("address_policy = \"public_only\""),
        "{stdout}"
    );
}

#[test]
fn issue11_manifest_config_check_refuses_a_miswired_environment() {
    let dir = tempfile::tempdir().unwrap();
    // A misspelt variable is no config key: refused, naming it.
    let mut wiring = wiring("issuer", &render("issuer"));
    for (name, _) in &mut wiring.env {
        if name == "SYMBOLON_ISSUER__DATABASE_URL" {
            *name = "SYMBOLON_ISSUER__DATABASE_URI".into();
        }
    }
    let (ok, _, stderr) = config_check("issuer", &wiring, dir.path());
    assert!(!ok, "a misspelt variable passed");
    assert!(stderr.contains("SYMBOLON_ISSUER__DATABASE_URI"), "{stderr}");
    // The Redis cache without the Secret's Redis URL: refused, naming the key.
    for (role, name, key) in [
        (
            "issuer",
            "SYMBOLON_ISSUER__CACHE__REDIS_URL",
            "issuer.cache.redis_url",
        ),
        (
            "verifier",
            "SYMBOLON_VERIFIER__CACHE__REDIS_URL",
            "verifier.cache.redis_url",
        ),
    ] {
        let wiring = wiring_without(role, name);
        let (ok, _, stderr) = config_check(role, &wiring, dir.path());
        assert!(!ok, "deploy/{role} without {name} passed");
        assert!(stderr.contains(key), "{stderr}");
    }
}

/// The wiring of `role` without the variable `name` (which the manifests must set).
fn wiring_without(role: &str, name: &str) -> Wiring {
    let mut wiring = wiring(role, &render(role));
    let before = wiring.env.len();
    wiring.env.retain(|(k, _)| k != name);
    assert_eq!(
        wiring.env.len(),
        before - 1,
        "deploy/{role} does not set {name}"
    );
    wiring
}
