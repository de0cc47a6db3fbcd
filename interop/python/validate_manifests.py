"""Validates the Kubernetes manifests under deploy/ and checks the policy intent.

Driven by crates/attester/tests/manifests.rs (also usable by hand):

    interop/python/.venv/bin/python interop/python/validate_manifests.py deploy

1. Schema: every document of every deploy/*.yaml is validated, strictly (unknown fields are
   errors), with `kubernetes-validate` (PyPI) against the JSON schemas bundled in the
   package, offline, for several Kubernetes versions. A kind without a bundled schema is an
   error, except the Sealed Secrets CRD (`bitnami.com/v1alpha1` SealedSecret), whose shape is
   checked here. The kustomization lists every manifest, each exactly once, and nothing else.
2. Intent: the NetworkPolicy `allow-wallets-to-attester` selects the attester's pods, admits
   only wallet-engine pods from the `cvm-wallets` namespace (namespace AND pod selector in one
   peer), only on the attester's port (the container port, the Service's target and the
   configured listen port); a default-deny ingress policy covers all of `cvm-security`; the
   attester may create TokenReviews and nothing else; wallets have no RBAC binding and no API
   token; both namespaces enforce PodSecurity `restricted`; every workload runs non-root with
   no privilege escalation, a read-only root filesystem, all capabilities dropped, requests
   and limits, and (Deployments) liveness and readiness probes; the wallets' projected token
   audience is the attester identifier.

Prints one JSON line {"ok": true, ...} and exits 0, or prints every failure and exits 1.
"""

import json
import pathlib
import sys
import tomllib

import kubernetes_validate
import yaml

VERSIONS = ["1.30.0", "1.37.0"]
ATTESTER_NS = "cvm-security"
WALLET_NS = "cvm-wallets"


class Failures:
    def __init__(self):
        self.items = []

    def check(self, condition, message):
        if not condition:
            self.items.append(message)
        return condition


def load(deploy):
    docs = []
    for path in sorted(deploy.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path.name, doc))
    return docs


def check_sealed_secret(f, name, doc):
    spec = doc.get("spec") or {}
    meta = doc.get("metadata") or {}
    f.check(doc.get("apiVersion") == "bitnami.com/v1alpha1", f"{name}: SealedSecret apiVersion")
    f.check(set(doc) <= {"apiVersion", "kind", "metadata", "spec"}, f"{name}: unknown top-level fields")
    enc = spec.get("encryptedData")
    f.check(isinstance(enc, dict) and enc and all(isinstance(v, str) and v for v in enc.values()),
            f"{name}: spec.encryptedData must map keys to ciphertext strings")
    tmeta = (spec.get("template") or {}).get("metadata") or {}
    f.check(tmeta.get("name") == meta.get("name") and tmeta.get("namespace") == meta.get("namespace"),
            f"{name}: spec.template.metadata must name the same Secret")
    return enc or {}


def validate_schemas(f, docs):
    checked = 0
    for name, doc in docs:
        kind = doc.get("kind")
        if kind == "SealedSecret":
            check_sealed_secret(f, name, doc)
            checked += 1
            continue
        for version in VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                path = ".".join(str(p) for p in e.path)
                f.check(False, f"{name}: {kind}/{doc['metadata'].get('name')} invalid for {version}: {path}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError as e:
                f.check(False, f"{name}: {e.message}")
        checked += 1
    return checked


def check_kustomization(f, deploy):
    k = yaml.safe_load((deploy / "kustomization.yaml").read_text())
    f.check(k.get("apiVersion") == "kustomize.config.k8s.io/v1beta1" and k.get("kind") == "Kustomization",
            "kustomization.yaml: not a Kustomization")
    resources = k.get("resources") or []
    f.check(len(resources) == len(set(resources)), "kustomization.yaml: a resource is listed twice")
    for r in resources:
        f.check((deploy / r).is_file(), f"kustomization.yaml: {r} does not exist")
    manifests = {p.name for p in deploy.glob("*.yaml")} - {"kustomization.yaml"}
    # The plaintext Secret template is deliberately never applied.
    expected = {m for m in manifests if not m.endswith(".template.yaml")}
    f.check(set(resources) == expected,
            f"kustomization.yaml: resources {sorted(set(resources))} != manifests {sorted(expected)}")
    f.check(not any(r.endswith(".template.yaml") for r in resources),
            "kustomization.yaml: the Secret template must not be applied")


def find(docs, kind, name=None, namespace=None):
    return [d for _, d in docs if d.get("kind") == kind
            and (name is None or d["metadata"].get("name") == name)
            and (namespace is None or d["metadata"].get("namespace") == namespace)]


def selects(selector, labels):
    """Whether a LabelSelector (matchLabels only; matchExpressions refused) selects `labels`."""
    if selector is None:
        return False
    if selector.get("matchExpressions"):
        return False
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


def pod_labels(workload):
    return workload["spec"]["template"]["metadata"].get("labels") or {}


def check_workload_security(f, workload):
    kind, name = workload["kind"], workload["metadata"]["name"]
    spec = pod_spec(workload)
    psc = spec.get("securityContext") or {}
    f.check((psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
            f"{kind}/{name}: seccompProfile RuntimeDefault")
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        csc = c.get("securityContext") or {}
        where = f"{kind}/{name} container {c['name']}"
        f.check(csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, f"{where}: runAsNonRoot")
        f.check(csc.get("runAsUser", psc.get("runAsUser", 1)) != 0, f"{where}: runs as uid 0")
        f.check(csc.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation false")
        f.check(csc.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem")
        f.check((csc.get("capabilities") or {}).get("drop") == ["ALL"], f"{where}: drop ALL capabilities")
        f.check(not csc.get("privileged"), f"{where}: privileged")
        res = c.get("resources") or {}
        for part in ("requests", "limits"):
            f.check({"cpu", "memory"} <= set(res.get(part) or {}), f"{where}: resources.{part} cpu and memory")
        if kind == "Deployment":
            f.check("livenessProbe" in c and "readinessProbe" in c, f"{where}: liveness and readiness probes")


def check_intent(f, docs):
    attester = find(docs, "Deployment", "cvm-attester", ATTESTER_NS)
    wallet = find(docs, "Deployment", "wallet-engine", WALLET_NS)
    if not (f.check(len(attester) == 1, "one attester Deployment in cvm-security")
            and f.check(len(wallet) == 1, "one wallet-engine Deployment in cvm-wallets")):
        return
    attester, wallet = attester[0], wallet[0]
    a_labels, w_labels = pod_labels(attester), pod_labels(wallet)

    # The attester's port, three ways.
    config = find(docs, "ConfigMap", "cvm-attester-config", ATTESTER_NS)
    f.check(len(config) == 1, "the attester ConfigMap exists")
    toml = tomllib.loads(config[0]["data"]["attester.toml"]) if config else {}
    listen_port = int(toml.get("server", {}).get("listen", ":0").rsplit(":", 1)[1])
    container = pod_spec(attester)["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    port = ports.get("http")
    f.check(port == listen_port == 5000, f"attester port: container {port}, listen {listen_port}, expected 5000")
    services = find(docs, "Service", "cvm-attester", ATTESTER_NS)
    service_selector = services[0]["spec"].get("selector") if len(services) == 1 else None
    f.check(bool(service_selector) and selects({"matchLabels": service_selector}, a_labels),
            "the attester Service selects the attester pods")
    if services:
        f.check([p.get("targetPort") for p in services[0]["spec"]["ports"]] in (["http"], [port]),
                "the attester Service targets the attester port")

    # allow-wallets-to-attester.
    allow = find(docs, "NetworkPolicy", "allow-wallets-to-attester", ATTESTER_NS)
    if f.check(len(allow) == 1, "NetworkPolicy allow-wallets-to-attester in cvm-security"):
        spec = allow[0]["spec"]
        f.check(selects(spec.get("podSelector"), a_labels), "allow-wallets-to-attester selects the attester pods")
        f.check(not selects(spec.get("podSelector"), {}) , "allow-wallets-to-attester must not select every pod")
        f.check(spec.get("policyTypes") == ["Ingress"], "allow-wallets-to-attester is an Ingress policy")
        rules = spec.get("ingress") or []
        if f.check(len(rules) == 1, "allow-wallets-to-attester has exactly one ingress rule"):
            peers = rules[0].get("from") or []
            if f.check(len(peers) == 1, "exactly one peer (namespace AND pod selector together)"):
                peer = peers[0]
                f.check("ipBlock" not in peer, "no ipBlock peer")
                ns_sel = peer.get("namespaceSelector")
                f.check(ns_sel == {"matchLabels": {"kubernetes.io/metadata.name": WALLET_NS}},
                        f"the peer's namespaceSelector admits only {WALLET_NS}: {ns_sel}")
                pod_sel = peer.get("podSelector")
                f.check(pod_sel is not None and (pod_sel.get("matchLabels") or pod_sel.get("matchExpressions")),
                        "the peer has a non-empty podSelector")
                f.check(selects(pod_sel, w_labels), "the peer's podSelector selects the wallet-engine pods")
                f.check(not selects(pod_sel, a_labels), "the peer's podSelector does not select the attester")
            rule_ports = rules[0].get("ports") or []
            f.check(rule_ports == [{"protocol": "TCP", "port": port}],
                    f"allow-wallets-to-attester admits only TCP {port}: {rule_ports}")

    # Default deny.
    deny = [d for d in find(docs, "NetworkPolicy", namespace=ATTESTER_NS)
            if d["spec"].get("podSelector") == {} and "Ingress" in (d["spec"].get("policyTypes") or [])]
    f.check(any(not d["spec"].get("ingress") for d in deny),
            "a default-deny ingress NetworkPolicy (empty podSelector, no ingress rules) in cvm-security")
    f.check(not any(d["spec"].get("ingress") for d in deny),
            "no policy in cvm-security admits traffic to every pod")

    # RBAC.
    roles = find(docs, "ClusterRole") + find(docs, "Role")
    bindings = find(docs, "ClusterRoleBinding") + find(docs, "RoleBinding")
    attester_sa = pod_spec(attester).get("serviceAccountName")
    wallet_sa = pod_spec(wallet).get("serviceAccountName")
    f.check(attester_sa == "cvm-attester-sa" and wallet_sa == "wallet-sa", "service accounts of the pods")
    for b in bindings:
        subjects = b.get("subjects") or []
        f.check(not any(s.get("name") == wallet_sa for s in subjects), f"{b['metadata']['name']}: wallets get no RBAC")
    bound = [b for b in bindings if any(s.get("kind") == "ServiceAccount" and s.get("name") == attester_sa
                                        and s.get("namespace") == ATTESTER_NS for s in b.get("subjects") or [])]
    if f.check(len(bound) == 1, "the attester has exactly one binding"):
        ref = bound[0]["roleRef"]
        role = [r for r in roles if r["kind"] == ref["kind"] and r["metadata"]["name"] == ref["name"]]
        f.check(len(role) == 1 and role[0].get("rules") == [
            {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]}],
            "the attester may create TokenReviews and nothing else")
    f.check(pod_spec(wallet).get("automountServiceAccountToken") is False, "wallets get no API token")

    # The wallets' projected token is for the attester's audience.
    identifier = toml.get("attester", {}).get("identifier")
    audiences = [s["serviceAccountToken"].get("audience")
                 for v in pod_spec(wallet).get("volumes", [])
                 for s in (v.get("projected") or {}).get("sources", []) if "serviceAccountToken" in s]
    f.check(audiences == [identifier], f"wallet token audience {audiences} is the attester identifier {identifier}")
    allowed = toml.get("attester", {}).get("kubernetes", {}).get("allowed")
    f.check(allowed == [f"{WALLET_NS}:{wallet_sa}"], f"the attester admits {WALLET_NS}:{wallet_sa}: {allowed}")

    # PodSecurity restricted, secure workloads.
    for ns in (WALLET_NS, ATTESTER_NS):
        n = find(docs, "Namespace", ns)
        f.check(len(n) == 1 and n[0]["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce")
                == "restricted", f"namespace {ns} enforces PodSecurity restricted")
    workloads = find(docs, "Deployment") + find(docs, "Job")
    for w in workloads:
        check_workload_security(f, w)
    f.check(any(j["metadata"]["name"] == "softhsm-init-token" for j in find(docs, "Job", namespace=ATTESTER_NS)),
            "the SoftHSM token-init Job exists")
    return {"attester_port": port, "workloads": len(workloads)}


def main():
    deploy = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "deploy")
    f = Failures()
    docs = load(deploy)
    checked = validate_schemas(f, docs)
    check_kustomization(f, deploy)
    try:
        summary = check_intent(f, docs) or {}
    except (KeyError, IndexError, TypeError, ValueError) as e:
        # A manifest too malformed to read the intent from is a failure, not a crash.
        f.check(False, f"policy intent could not be read: {type(e).__name__}: {e}")
        summary = {}
    if f.items:
        for item in f.items:
            print(f"FAIL {item}")
        sys.exit(1)
    print(json.dumps({"ok": True, "documents": checked, "versions": VERSIONS, **summary}))


if __name__ == "__main__":
    main()
