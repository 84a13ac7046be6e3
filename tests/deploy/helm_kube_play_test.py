#!/usr/bin/env python3
"""Runs the Helm chart's SQLite rendering with `podman kube play` and checks that drec serves.

Why this test exists: helm_chart_test.py checks the manifests' shape; only running them shows
that the pieces fit: the image starts under the chart's security context (uid 10001, read-only
root file system, no capabilities), reads its tokens (two, one a line) from the mounted token
Secret's file (DREC_AUTH_TOKENS_FILE) and its certificate from the mounted TLS Secret, keeps its
database on the PersistentVolumeClaim, and answers /healthz, /readyz and an authenticated ingest.
No Kubernetes cluster is available here; podman (4.3 on Debian 12, with runc) plays Deployments
and PersistentVolumeClaims, and this program bridges what it lacks, each for a stated reason:

* Secrets: podman 4.3's kube play does not create them the way its own lookups read them, and
  its two lookups read different formats: a secretKeyRef wants a podman secret holding the JSON
  of the Secret's `data` map (base64 values), a secret volume the JSON of a whole Secret whose
  `data` values are the files' plain contents (it writes them undecoded, into a podman volume
  named after the Secret). Each rendered Secret becomes a podman secret of its name in the
  format its one use wants. A secret volume without `optional` crashes podman 4.3 (a nil
  pointer); the chart says `optional: false`, Kubernetes' default.
* Service: not a kind podman 4.3 plays; the container port gets a hostPort on 127.0.0.1 instead,
  which is how the test reaches drec.
* Probes: podman turns an httpGet probe into a curl run inside the container, and drec's image has
  no curl (nor should it); they are removed here, and /healthz and /readyz are asked from outside
  exactly as the kubelet would (HTTPS, the container's port).

podman 4.3 writes a secret volume's files once, when it plays the pod, and has no way to update
them in a running pod (a Secret update reaching drec without a restart, which the kubelet does):
that reload is tested on drec itself (tests/e2e/reload_drain_e2e.py), not here.

Everything the test creates (pod, volume, secrets) is removed at the end, also on failure.

Usage: helm_kube_play_test.py --helm PATH --workdir DIR [--image IMAGE] [--source DIR]
Without --image, drec's image is built or found by tests/support/podman.py (ctest's fixture
drec_image builds it first). Exit status 0 when every check passed; 77 when helm is missing or
podman cannot run containers here.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
import podman as podman_support

from drec_harness import POLL_S, Checks, Failure, LoopbackHttps, fail, free_port, prepare_workdir

try:
    import yaml
except ImportError:
    yaml = None

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 90.0
TOKEN = "kube-play-test-token-0123456789abcdef"
# The first of two tokens: the Secret holds them one a line, drec must accept the second too.
OTHER_TOKEN = "kube-play-test-other-token-fedcba9876543210"


def render(helm: str, chart: Path, release: str, image: str, out: Path) -> list[dict]:
    repository, tag = image.rsplit(":", 1)
    run = subprocess.run(
        [
            helm, "template", release, str(chart),
            "--set", f"image.repository={repository}",
            "--set", f"image.tag={tag}",
            "--set", "image.pullPolicy=Never",
            "--set", f"auth.tokens={{{OTHER_TOKEN},{TOKEN}}}",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    if run.returncode != 0:
        fail(f"helm template: {run.stderr}")
    out.write_text(run.stdout)
    return [d for d in yaml.safe_load_all(run.stdout) if d]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--helm", default="", help="helm binary (scripts/build-go-tool.sh helm)")
    p.add_argument("--chart", type=Path, default=ROOT / "deploy/helm/drec")
    p.add_argument("--source", type=Path, default=ROOT, help="checkout drec's image is built from")
    p.add_argument("--image", help="drec's image (default: build or find it from --source)")
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
    workdir = prepare_workdir(args.workdir, ".helm-kube-play-test")
    try:
        podman = podman_support.podman_or_skip(workdir / "podman", tools=("catatonit",))
        image = args.image or podman_support.ensure_drec_image(podman, args.source)
        podman_support.probe(podman, image)
    except podman_support.Unavailable as e:
        print(f"SKIP: {e}")
        return 77

    release = f"kp{os.getpid()}"
    docs = render(args.helm, args.chart.resolve(), release, image, workdir / "rendered.yaml")
    by_kind: dict[str, list[dict]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    (deployment,) = by_kind["Deployment"]
    (claim,) = by_kind["PersistentVolumeClaim"]
    secrets = {s["metadata"]["name"]: s for s in by_kind["Secret"]}
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    port = free_port()
    container["ports"][0]["hostPort"] = port
    container["ports"][0]["hostIP"] = "127.0.0.1"
    for probe in ("livenessProbe", "readinessProbe"):
        container.pop(probe, None)
    played = workdir / "played.yaml"
    played.write_text(yaml.safe_dump_all([claim, deployment]))
    pod = f"{deployment['metadata']['name']}-pod-0"
    name = f"{pod}-{container['name']}"
    volume = claim["metadata"]["name"]
    created_secrets: list[str] = []
    checks = Checks(indent_details=True)
    try:
        env_secrets = {
            e["valueFrom"]["secretKeyRef"]["name"]
            for e in container["env"]
            if "secretKeyRef" in e.get("valueFrom", {})
        }
        volume_secrets = {v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
        expect(not env_secrets & volume_secrets, f"a Secret used both ways: {env_secrets}")
        for secret_name in env_secrets | volume_secrets:
            data = secrets[secret_name]["data"]
            if secret_name in volume_secrets:
                plain = {k: base64.b64decode(v).decode() for k, v in data.items()}
                content = {**secrets[secret_name], "data": plain}
            else:
                content = data
            path = workdir / f"secret-{secret_name}.json"
            path.write_text(json.dumps(content))
            podman.run("secret", "create", secret_name, str(path))
            created_secrets.append(secret_name)
        result = podman.run("kube", "play", str(played), check=False)
        if result.returncode != 0:
            fail(f"podman kube play: {result.stdout}{result.stderr}")

        tls_name = next(v["secret"]["secretName"] for v in spec["volumes"] if v["name"] == "tls")
        cafile = workdir / "drec.crt"
        cafile.write_bytes(base64.b64decode(secrets[tls_name]["data"]["tls.crt"]))
        tls = ssl.create_default_context(cafile=str(cafile))

        def request(method: str, path: str, *, token: str | None = None, body: bytes | None = None):
            conn = LoopbackHttps(port, tls)
            try:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                if body is not None:
                    headers["Content-Type"] = "application/json"
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.read()
            finally:
                conn.close()

        def ready():
            deadline = time.monotonic() + READY_TIMEOUT_S
            last = "no answer"
            while time.monotonic() < deadline:
                state = podman.run(
                    "inspect", "--format", "{{.State.Status}}", name, check=False
                ).stdout.strip()
                if state in ("exited", "stopped"):
                    logs = podman.run("logs", name, check=False)
                    fail(f"drec's container {state}:\n{logs.stdout}{logs.stderr}")
                try:
                    status, _ = request("GET", "/readyz")
                    if status == 200:
                        break
                    last = f"/readyz {status}"
                except (OSError, ssl.SSLError) as e:
                    last = str(e)
                time.sleep(POLL_S * 4)
            else:
                logs = podman.run("logs", name, check=False)
                fail(f"not ready in {READY_TIMEOUT_S:.0f} s ({last}):\n{logs.stdout}{logs.stderr}")
            status, _ = request("GET", "/healthz")
            expect(status == 200, f"/healthz {status}")

        def security():
            info = json.loads(podman.run("inspect", name).stdout)[0]
            expect(
                info["Config"]["User"].split(":")[0] == "10001", f"user {info['Config']['User']}"
            )
            expect(info["HostConfig"]["ReadonlyRootfs"] is True, "root file system writable")
            expect(not info["EffectiveCaps"], f"capabilities {info['EffectiveCaps']}")
            uid = podman.run("exec", name, "/usr/local/bin/drec", "--version", check=False)
            expect(uid.returncode == 0, f"drec --version in the container: {uid.stderr}")

        def tokens_and_store():
            # No token in a variable: the tokens drec accepts below come from the mounted file.
            variables = {e["name"] for e in container["env"]}
            expect("DREC_AUTH_TOKENS" not in variables, "tokens in DREC_AUTH_TOKENS")
            expect("DREC_AUTH_TOKENS_FILE" in variables, f"no DREC_AUTH_TOKENS_FILE: {variables}")
            status, _ = request("GET", "/api/v1/repositories")
            expect(status == 401, f"the API without a token: {status}")
            event = json.loads(
                (ROOT / "tests/data/registry-2.8/manifest-pull-get.json").read_text()
            )
            status, body = request("POST", "/events", token=TOKEN, body=json.dumps(event).encode())
            expect(status == 200, f"ingest with the Secret's token: {status} {body[:200]!r}")
            repository = event["events"][0]["target"]["repository"]
            # The Secret's first line: both tokens of the file are in force.
            status, body = request("GET", f"/api/v1/repositories/{repository}", token=OTHER_TOKEN)
            expect(status == 200, f"repository with the first token: {status} {body[:200]!r}")
            expect(json.loads(body)["numpulls"] == 1, f"pull not counted: {body[:300]!r}")
            mountpoint = podman.run(
                "volume", "inspect", "--format", "{{.Mountpoint}}", volume
            ).stdout.strip()
            expect(
                (Path(mountpoint) / "drec.db").exists(), f"no drec.db on the PVC's volume {volume}"
            )
            pid = podman.run("inspect", "--format", "{{.State.Pid}}", name).stdout.strip()
            status = Path(f"/proc/{pid}/status").read_text()
            rss = [line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")]
            print(f"     drec's resident memory in the pod: {int(rss[0]) // 1024} MiB")

        checks.run("kube play: drec ready, /healthz and /readyz over HTTPS", ready)
        if checks.failed == 0:
            checks.run("security context: uid 10001, read-only root, no capabilities", security)
            checks.run("tokens from the Secret's file, database on the PVC", tokens_and_store)
    finally:
        podman.run("kube", "down", str(played), check=False)
        podman.run("volume", "rm", "--force", volume, check=False)
        for secret_name in created_secrets:
            podman.run("secret", "rm", secret_name, check=False)
            # podman 4.3 keeps a secret volume's files in a volume named after the Secret.
            podman.run("volume", "rm", "--force", secret_name, check=False)
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


def expect(condition: bool, message: str) -> None:
    if not condition:
        fail(message)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"FAIL {e}")
        sys.exit(1)
