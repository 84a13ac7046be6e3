#!/usr/bin/env python3
"""Lints and renders the Helm chart deploy/helm/drec and checks what it produces.

Why this test exists: a chart's mistakes only show when Kubernetes runs it (a probe on the wrong
path, a Secret key nobody mounts, two SQLite writers on one volume). This program runs `helm
lint` (plain and --strict) and `helm template` for the three stores and parses the manifests
(PyYAML, from tests/requirements.txt) to assert:

* SQLite: one replica, strategy Recreate, a PersistentVolumeClaim mounted at /var/lib/drec;
  replicaCount 2 fails the rendering, and so does MongoDB with 2 (drec's writer lease);
* PostgreSQL with 3 replicas: RollingUpdate, a PodDisruptionBudget, the URI from a Secret;
  MongoDB: Recreate, one replica, the URI from a Secret; a database store without a URI fails;
* every Secret the pod refers to (tokens, TLS, store URI) is rendered or given as existingSecret,
  under the key used; the generated certificate names the Service's DNS names;
* the tokens reach drec as a file (DREC_AUTH_TOKENS_FILE in a read-only, whole-Secret mount, so
  the kubelet's updates of the Secret reach drec without a restart), one token a line;
* probes: liveness GET /healthz, readiness GET /readyz, HTTPS, on the container's port;
* Prometheus annotations (scrape, port, scheme https, path /metrics) on pod and Service;
* the security context (non-root uid 10001, read-only root, no capabilities, RuntimeDefault
  seccomp) and the resources (requests from the measured RSS, a memory limit above them);
* NOTES.txt's notifications snippet is valid YAML with the endpoint URL, the Authorization header,
  timeout, threshold and backoff (rendered through a copy of the chart, since `helm template`
  leaves NOTES.txt out and `helm install --dry-run` wants a cluster).

Usage: helm_chart_test.py --helm PATH --workdir DIR [--chart deploy/helm/drec]
Exit status 0 when every check passed; 77 when no helm was given (scripts/build-go-tool.sh helm).
"""

from __future__ import annotations

import argparse
import base64
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
from drec_harness import Checks, Failure, fail, prepare_workdir

try:
    import yaml
except ImportError:
    yaml = None

ROOT = Path(__file__).resolve().parents[2]
RELEASE = "reg"
NAMESPACE = "registry"
FULLNAME = f"{RELEASE}-drec"
SERVICE_HOST = f"{FULLNAME}.{NAMESPACE}.svc"


class Helm:
    def __init__(self, binary: str, chart: Path):
        self.binary = binary
        self.chart = chart

    def run(self, *args: str, chart: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.binary, *args, str(chart or self.chart)],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def template(self, *sets: str, chart: Path | None = None) -> dict[tuple[str, str], dict]:
        """The rendered manifests by (kind, name); fails with helm's message if it refuses."""
        args = ["template", RELEASE, "--namespace", NAMESPACE]
        for s in sets:
            args += ["--set", s]
        run = self.run(*args, chart=chart)
        if run.returncode != 0:
            fail(f"helm template {' '.join(sets)}: exit {run.returncode}: {run.stderr.strip()}")
        docs = {}
        for doc in yaml.safe_load_all(run.stdout):
            if doc:
                docs[(doc["kind"], doc["metadata"]["name"])] = doc
        return docs

    def refuses(self, *sets: str, message: str) -> None:
        args = ["template", RELEASE, "--namespace", NAMESPACE]
        for s in sets:
            args += ["--set", s]
        run = self.run(*args)
        if run.returncode == 0:
            fail(f"helm template {' '.join(sets)} rendered; expected a refusal")
        if message not in run.stderr:
            fail(f"helm template {' '.join(sets)}: expected {message!r} in: {run.stderr.strip()}")


def deployment(docs) -> dict:
    return docs[("Deployment", FULLNAME)]


def container(docs) -> dict:
    (only,) = deployment(docs)["spec"]["template"]["spec"]["containers"]
    return only


def env(docs) -> dict:
    return {e["name"]: e for e in container(docs)["env"]}


def secret_ref(docs, variable: str) -> tuple[str, str]:
    entry = env(docs).get(variable)
    if not entry or "valueFrom" not in entry:
        fail(f"{variable} does not come from a Secret: {entry}")
    ref = entry["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


def tokens_file(docs) -> tuple[str, str]:
    """The token Secret's name and key behind DREC_AUTH_TOKENS_FILE: the file must lie in a
    read-only mount of a whole Secret volume (a subPath mount is never updated by the kubelet,
    so a changed Secret would not reach drec without a restart)."""
    variables = env(docs)
    expect("DREC_AUTH_TOKENS" not in variables, "tokens in a variable: a rotation needs a restart")
    entry = variables.get("DREC_AUTH_TOKENS_FILE")
    expect(entry is not None and "value" in entry, f"DREC_AUTH_TOKENS_FILE: {entry}")
    directory, _, key = entry["value"].rpartition("/")
    mount = mounts(docs).get(directory)
    expect(mount is not None, f"nothing mounted at {directory}: {list(mounts(docs))}")
    expect(mount.get("readOnly") is True, f"token mount writable: {mount}")
    expect("subPath" not in mount, f"a subPath mount is not updated: {mount}")
    secret = volumes(docs)[mount["name"]].get("secret")
    expect(secret is not None, f"volume {mount['name']} is not a Secret")
    # podman kube play 4.3 crashes on a secret volume without it (Kubernetes' default).
    expect(secret.get("optional") is False, f"no optional: false on {secret}")
    return secret["secretName"], key


def expect(condition: bool, message: str) -> None:
    if not condition:
        fail(message)


def check_secret_rendered(docs, name: str, key: str) -> bytes:
    secret = docs.get(("Secret", name))
    expect(secret is not None, f"Secret {name} referred to but not rendered")
    expect(key in secret.get("data", {}), f"Secret {name} has no key {key}: {secret.get('data')}")
    return base64.b64decode(secret["data"][key])


def volumes(docs) -> dict:
    return {v["name"]: v for v in deployment(docs)["spec"]["template"]["spec"]["volumes"]}


def mounts(docs) -> dict:
    return {m["mountPath"]: m for m in container(docs)["volumeMounts"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--helm", default="", help="helm binary (scripts/build-go-tool.sh helm)")
    p.add_argument("--chart", type=Path, default=ROOT / "deploy/helm/drec")
    p.add_argument("--workdir", required=True, type=Path, help="scratch directory (cleared)")
    args = p.parse_args()
    if not args.helm or not Path(args.helm).is_file():
        print("SKIP: no helm (scripts/build-go-tool.sh helm builds it; scripts/test.sh passes it)")
        return 77
    if yaml is None:
        print(
            "FAIL: PyYAML missing: run with the test tools' python (scripts/install-test-tools.sh)"
        )
        return 1
    workdir = prepare_workdir(args.workdir, ".helm-chart-test")
    helm = Helm(args.helm, args.chart.resolve())
    checks = Checks(indent_details=True)
    pg = ("store.backend=postgresql", "store.postgresql.uri=postgresql://drec:pw@db:5432/drec")
    mongo = ("store.backend=mongodb", "store.mongodb.uri=mongodb://drec:pw@mongo:27017/")

    def lint():
        for strict in ((), ("--strict",)):
            for sets in ((), (*pg, "replicaCount=3"), mongo):
                flags = [a for s in sets for a in ("--set", s)]
                run = helm.run("lint", *strict, *flags)
                if run.returncode != 0:
                    fail(f"helm lint {' '.join(strict + sets)}:\n{run.stdout}{run.stderr}")

    def sqlite():
        docs = helm.template()
        spec = deployment(docs)["spec"]
        expect(spec["replicas"] == 1, f"replicas {spec['replicas']}")
        expect(spec["strategy"] == {"type": "Recreate"}, f"strategy {spec['strategy']}")
        claim = volumes(docs)["data"].get("persistentVolumeClaim", {}).get("claimName")
        expect(claim == f"{FULLNAME}-data", f"data volume {volumes(docs)['data']}")
        pvc = docs.get(("PersistentVolumeClaim", claim))
        expect(pvc is not None, f"no PersistentVolumeClaim {claim}")
        expect(pvc["spec"]["accessModes"] == ["ReadWriteOnce"], f"PVC {pvc['spec']}")
        expect(mounts(docs)["/var/lib/drec"]["name"] == "data", "data not at /var/lib/drec")
        variables = env(docs)
        expect(variables["DREC_STORAGE_BACKEND"]["value"] == "sqlite", "backend")
        expect(
            variables["DREC_STORAGE_SQLITE_PATH"]["value"].startswith("/var/lib/drec/"),
            "the database is not on the volume",
        )
        expect(("PodDisruptionBudget", FULLNAME) not in docs, "a PDB with one replica")

    def sqlite_refuses_replicas():
        helm.refuses("replicaCount=2", message="only one drec may write a sqlite store")
        helm.refuses(*mongo, "replicaCount=2", message="only one drec may write a mongodb store")
        helm.refuses("store.backend=postgresql", message="needs store.postgresql.existingSecret")
        helm.refuses("store.backend=etcd", message="store.backend must be")

    def postgresql():
        docs = helm.template(*pg, "replicaCount=3")
        spec = deployment(docs)["spec"]
        expect(spec["replicas"] == 3, f"replicas {spec['replicas']}")
        expect(spec["strategy"]["type"] == "RollingUpdate", f"strategy {spec['strategy']}")
        expect(spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, "maxUnavailable")
        name, key = secret_ref(docs, "DREC_STORAGE_POSTGRESQL_URI")
        uri = check_secret_rendered(docs, name, key)
        expect(uri == b"postgresql://drec:pw@db:5432/drec", f"URI {uri!r}")
        expect("emptyDir" in volumes(docs)["data"], "a database store keeps no volume")
        expect(not [k for k in docs if k[0] == "PersistentVolumeClaim"], "a PVC on PostgreSQL")
        pdb = docs.get(("PodDisruptionBudget", FULLNAME))
        expect(pdb is not None, "no PodDisruptionBudget with 3 replicas")
        expect(
            pdb["spec"]["selector"]["matchLabels"] == spec["selector"]["matchLabels"],
            "PDB selector",
        )
        # A Secret of one's own instead of the chart's.
        docs = helm.template(
            "store.backend=postgresql", "store.postgresql.existingSecret=pg", "replicaCount=2"
        )
        expect(secret_ref(docs, "DREC_STORAGE_POSTGRESQL_URI") == ("pg", "uri"), "existingSecret")
        expect(("Secret", f"{FULLNAME}-store") not in docs, "store Secret despite existingSecret")

    def mongodb():
        docs = helm.template(*mongo)
        spec = deployment(docs)["spec"]
        expect(spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}, f"{spec}")
        name, key = secret_ref(docs, "DREC_STORAGE_MONGODB_URI")
        expect(check_secret_rendered(docs, name, key).startswith(b"mongodb://"), "URI")
        expect(env(docs)["DREC_STORAGE_BACKEND"]["value"] == "mongodb", "backend")

    def secrets():
        docs = helm.template()
        name, key = tokens_file(docs)
        expect((name, key) == (f"{FULLNAME}-auth", "tokens"), f"token Secret {name} {key}")
        token = check_secret_rendered(docs, name, key)
        expect(len(token.strip()) >= 32, f"generated token too short: {token!r}")
        expect(token.count(b"\n") == 1 and token.endswith(b"\n"), f"not one line: {token!r}")
        docs = helm.template("auth.tokens={one,two}")
        name, key = tokens_file(docs)
        tokens = check_secret_rendered(docs, name, key)
        expect(tokens == b"one\ntwo\n", f"tokens from values, one a line: {tokens!r}")
        docs = helm.template("auth.tokens={one}", "auth.tokensKey=list.txt")
        expect(env(docs)["DREC_AUTH_TOKENS_FILE"]["value"].endswith("/list.txt"), "tokensKey")
        expect(check_secret_rendered(docs, *tokens_file(docs)) == b"one\n", "tokensKey's data")
        docs = helm.template("reload.watchIntervalMs=2500")
        interval = env(docs).get("DREC_RELOAD_WATCH_INTERVAL_MS", {}).get("value")
        expect(interval == "2500", f"reload.watchIntervalMs: {interval}")
        # TLS: drec reads the mounted Secret's files.
        tls = volumes(docs)["tls"]["secret"]["secretName"]
        mount = next(m for m in container(docs)["volumeMounts"] if m["name"] == "tls")
        variables = env(docs)
        expect(
            variables["DREC_SERVER_SSL_CERT"]["value"] == f"{mount['mountPath']}/tls.crt", "cert"
        )
        expect(
            variables["DREC_SERVER_SSL_CERT_KEY"]["value"] == f"{mount['mountPath']}/tls.key", "key"
        )
        check_secret_rendered(docs, tls, "tls.key")
        cert = check_secret_rendered(docs, tls, "tls.crt")
        pem = workdir / "generated.crt"
        pem.write_bytes(cert)
        text = subprocess.run(
            ["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", str(pem)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for dns in (SERVICE_HOST, f"{SERVICE_HOST}.cluster.local", FULLNAME):
            expect(f"DNS:{dns}," in text or text.rstrip().endswith(f"DNS:{dns}"), f"{dns}: {text}")
        # Existing Secrets: nothing generated, the references follow.
        docs = helm.template("auth.existingSecret=tokens", "tls.existingSecret=cert")
        expect(tokens_file(docs) == ("tokens", "tokens"), "auth existingSecret")
        expect(volumes(docs)["tls"]["secret"]["secretName"] == "cert", "tls existingSecret")
        expect(not [k for k in docs if k[0] == "Secret"], f"Secrets rendered: {list(docs)}")
        # Anonymous: no token Secret, and drec is told (it refuses 0.0.0.0 otherwise).
        docs = helm.template("auth.allowAnonymous=true")
        expect("DREC_AUTH_TOKENS_FILE" not in env(docs), "tokens with allowAnonymous")
        expect("auth" not in volumes(docs), "token volume with allowAnonymous")
        expect(env(docs)["DREC_AUTH_ALLOW_ANONYMOUS"]["value"] == "true", "allow anonymous")

    def probes():
        docs = helm.template()
        c = container(docs)
        port = {p["name"] for p in c["ports"]}
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = c[probe]["httpGet"]
            expect(get["path"] == path, f"{probe} path {get['path']}")
            expect(get["scheme"] == "HTTPS", f"{probe} scheme {get.get('scheme')}")
            expect(get["port"] in port, f"{probe} port {get['port']} not in {port}")

    def annotations():
        docs = helm.template()
        expected = {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": "8443",
            "prometheus.io/scheme": "https",
            "prometheus.io/path": "/metrics",
        }
        pod = deployment(docs)["spec"]["template"]["metadata"].get("annotations", {})
        service = docs[("Service", FULLNAME)]
        for where, found in (("pod", pod), ("Service", service["metadata"].get("annotations", {}))):
            missing = {k: v for k, v in expected.items() if found.get(k) != v}
            expect(not missing, f"{where} annotations lack {missing}: {found}")
        (port,) = service["spec"]["ports"]
        expect(port["name"] == "https" and port["targetPort"] == "https", f"Service port {port}")
        expect(
            service["spec"]["selector"] == deployment(docs)["spec"]["selector"]["matchLabels"],
            "Service selector",
        )
        docs = helm.template("metrics.serviceMonitor.enabled=true")
        monitor = docs[("ServiceMonitor", FULLNAME)]["spec"]["endpoints"][0]
        expect(monitor["port"] == "https" and monitor["path"] == "/metrics", f"{monitor}")

    def security_context():
        docs = helm.template()
        pod = deployment(docs)["spec"]["template"]["spec"]["securityContext"]
        c = container(docs)["securityContext"]
        expect(pod["runAsNonRoot"] is True and pod["runAsUser"] == 10001, f"pod {pod}")
        expect(pod["seccompProfile"] == {"type": "RuntimeDefault"}, f"seccomp {pod}")
        expect(c["readOnlyRootFilesystem"] is True, f"container {c}")
        expect(c["allowPrivilegeEscalation"] is False, f"container {c}")
        expect(c["capabilities"] == {"drop": ["ALL"]}, f"capabilities {c}")
        expect("/tmp" in mounts(docs), "no writable /tmp beside a read-only root")

    def resources():
        docs = helm.template()
        r = container(docs)["resources"]

        def mib(q: str) -> int:
            units = {"Mi": 1, "Gi": 1024}
            return int(q[:-2]) * units[q[-2:]]

        # Measured: 24 MiB resident ingesting, 27 MiB at most (docs/kubernetes.md).
        expect(mib(r["requests"]["memory"]) >= 48, f"memory request {r['requests']}")
        expect(mib(r["limits"]["memory"]) > mib(r["requests"]["memory"]), f"memory limit {r}")
        expect("cpu" in r["requests"], f"no cpu request: {r}")

    def notes():
        # helm template leaves NOTES.txt out: render it with `tpl` inside a ConfigMap of a copy.
        copy = Path(tempfile.mkdtemp(dir=workdir)) / "drec"
        shutil.copytree(helm.chart, copy)
        (copy / "templates/NOTES.txt").rename(copy / "notes-under-test.txt")
        (copy / "templates/notes-under-test.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: |\n"
            '{{ tpl (.Files.Get "notes-under-test.txt") . | indent 4 }}\n'
        )
        docs = helm.template(chart=copy)
        text = docs[("ConfigMap", "notes")]["data"]["notes"]
        start = text.index("notifications:")
        end = text.index("\n\n", start)
        snippet = yaml.safe_load(text[start:end])
        (endpoint,) = snippet["notifications"]["endpoints"]
        expect(endpoint["url"] == f"https://{SERVICE_HOST}:8443/events", f"url {endpoint['url']}")
        expect(endpoint["headers"] == {"Authorization": ["Bearer $TOKEN"]}, f"{endpoint}")
        for key in ("timeout", "threshold", "backoff"):
            expect(key in endpoint, f"no {key} in {endpoint}")
        expect(snippet["notifications"]["events"] == {"includereferences": True}, "events")
        expect(f"secret --namespace {NAMESPACE} {FULLNAME}-auth" in text, "token command")
        expect("base64 -d | head -n1)" in text, "the token command reads the first line")
        expect(f"secret --namespace {NAMESPACE} {FULLNAME}-tls" in text, "certificate command")

    checks.run("helm lint (and --strict) for sqlite, postgresql, mongodb", lint)
    checks.run("sqlite: one replica, Recreate, a PVC at /var/lib/drec", sqlite)
    checks.run(
        "refused: 2 replicas on sqlite or mongodb, no URI, unknown store", sqlite_refuses_replicas
    )
    checks.run("postgresql: 3 replicas, RollingUpdate, PDB, URI Secret", postgresql)
    checks.run("mongodb: one replica, Recreate, URI Secret", mongodb)
    checks.run("Secrets: tokens as a file, TLS (SANs), existing ones, anonymous", secrets)
    checks.run("probes: /healthz and /readyz over HTTPS", probes)
    checks.run("Prometheus annotations on pod and Service, ServiceMonitor", annotations)
    checks.run("security context", security_context)
    checks.run("resources", resources)
    checks.run("NOTES.txt: the registry's notifications snippet", notes)
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"FAIL {e}")
        sys.exit(1)
