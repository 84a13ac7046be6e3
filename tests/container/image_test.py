#!/usr/bin/env python3
"""drec's container image, built from the Dockerfile and run as a user runs it, against a real
registry.

Why it exists: the image is how most people run drec; this proves the Dockerfile builds, that the
image serves with its data in one volume, its configuration from a mounted file and DREC_*
variables, as a non-root user and without a compiler, and that drec in it counts what Debian's
registry (docker-registry 2.8, on the host) reports while skopeo pushes and pulls. With podman
and runc (tests/support/podman.py), all on 127.0.0.1:

  1. the image is built (or reused: it is named after its build inputs), and inspected: user
     10001, port 8443, volume /var/lib/drec, SIGTERM, OCI labels; no compiler, linker, Node.js
     or CMake on its PATH;
  2. a container with DREC_AUTH_TOKENS only, on a fresh volume: drec generates its certificate
     into the volume and /healthz and /readyz answer over HTTPS with it;
  3. a container on the same volume with a mounted /etc/drec (config file naming a certificate
     of a test CA) plus DREC_AUTH_TOKENS: the registry notifies it with a bearer token; skopeo
     pushes two tags, pulls one twice, a HEAD checks it; once the registry has delivered every
     event, drec's API shows exactly 2 pushes, 2 pulls, 1 check; the process runs as uid 10001
     (`id -u` in it, and /proc/<pid>/status of its process on the host);
  4. the container is stopped (drec exits 0 on SIGTERM) and removed, and a new one on the same
     volume shows the same counts, and counts one more pull;
  5. the image itself is pushed into the registry (skopeo copy containers-storage:... docker://)
     and drec counts exactly one tagged push of repository `drec`.

Containers, volume and registry are removed at the end, also on failure or interruption. Where
podman cannot run (not root, tools missing, podman refuses), it says why and exits 77 (skipped).

  python3 tests/container/image_test.py --source . --workdir /tmp/drec-image-test \\
      --registry /usr/bin/docker-registry
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
from podman import (
    DEBIAN_SLIM_IMAGE,
    DREC_IMAGE,
    SKIP,
    Unavailable,
    ensure_debian_images,
    ensure_drec_image,
    podman_or_skip,
    probe,
    tail,
)

from drec_harness import LoopbackHttps, free_port, prepare_workdir

TOKEN = "image-test-token"
UID = "10001"
WAIT_S = 60.0
POLL_S = 0.1
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
# What a build image has and a run image must not: compilers, linker, assembler, build tools.
BUILD_TOOLS = ("gcc", "cc", "c++", "g++", "cpp", "clang", "clang++", "ld", "as", "make")
BUILD_TOOLS += ("cmake", "ninja", "node", "npm")


def log(message: str) -> None:
    print(f"[image-test {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(*argv: str, env: dict | None = None) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def wait_until(what: str, probe_fn, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    while True:
        value = probe_fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL_S)


def make_pki(directory: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a certificate for localhost/127.0.0.1: (ca, cert, key)."""
    directory.mkdir()
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    cert, key, csr = directory / "cert.pem", directory / "key.pem", directory / "cert.csr"
    ext = directory / "cert.ext"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    subj = ["-subj", "/CN=drec image test CA"]
    ca_ext = ["-addext", "basicConstraints=critical,CA:TRUE"]
    run("openssl", "req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca), *subj, *ca_ext)
    run("openssl", "req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost")
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    run(
        "openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert),
    )  # fmt: skip
    return ca, cert, key


class DrecContainer:
    """One drec container from the image, published on a loopback port of the host."""

    def __init__(self, podman, image: str, name: str, volume: str, args: list[str], cafile: Path):
        self.podman, self.image, self.name = podman, image, name
        self.port = free_port()
        self.cafile = cafile
        self.argv = [
            "run", "-d", "--name", name,
            "-p", f"127.0.0.1:{self.port}:8443",
            "-v", f"{volume}:/var/lib/drec",
            "-e", f"DREC_AUTH_TOKENS={TOKEN}",
            *args,
        ]  # fmt: skip

    def start(self, cafile_from_volume: bool = False) -> None:
        self.podman.run(*self.argv)
        tls = None

        def ready():
            nonlocal tls
            state = self.inspect()["State"]
            if not state["Running"]:
                raise AssertionError(f"drec exited ({state['ExitCode']}):\n{self.logs()}")
            if tls is None:
                if cafile_from_volume:  # drec writes it at start-up
                    cert = self.podman.run(
                        "exec", self.name, "cat", "/var/lib/drec/tls/cert.pem", check=False
                    ).stdout
                    if "END CERTIFICATE" not in cert:
                        return False
                    self.cafile.write_text(cert)
                tls = ssl.create_default_context(cafile=str(self.cafile))
            try:
                return self.get("/readyz", tls=tls)[0] == 200
            except OSError:
                return False

        wait_until(f"{self.name} to answer /readyz", ready)
        self.tls = tls

    def get(self, target: str, tls=None, auth: bool = False) -> tuple[int, bytes]:
        conn = LoopbackHttps(self.port, tls or self.tls)
        try:
            headers = {"Authorization": f"Bearer {TOKEN}"} if auth else {}
            conn.request("GET", target, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def api(self, target: str):
        status, body = self.get(target, auth=True)
        assert status == 200, f"GET {target}: {status} {body[:300]!r}"
        return json.loads(body)

    def inspect(self) -> dict:
        return json.loads(self.podman.run("container", "inspect", self.name).stdout)[0]

    def logs(self) -> str:
        return self.podman.run("logs", "--tail", "40", self.name, check=False).stderr

    def stop(self) -> int:
        """SIGTERM (the image's STOPSIGNAL), then drec's exit code."""
        self.podman.run("stop", "-t", "30", self.name)
        return self.inspect()["State"]["ExitCode"]

    def remove(self) -> None:
        self.podman.run("rm", "-f", "-t", "0", self.name, check=False)


class Registry:
    """Debian's docker-registry on a loopback port, notifying drec with its bearer token."""

    def __init__(self, binary: str, workdir: Path, drec_url: str, ca: Path):
        self.port, self.debug_port = free_port(), free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.log = workdir / "registry.log"
        config = {
            "version": "0.1",
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(workdir / "registry-storage")}},
            "http": {"addr": self.host, "debug": {"addr": f"127.0.0.1:{self.debug_port}"}},
            "notifications": {
                "endpoints": [
                    {
                        "name": "drec",
                        "url": drec_url,
                        "headers": {"Authorization": [f"Bearer {TOKEN}"]},
                        "timeout": "5s",
                        "threshold": 3,
                        "backoff": "200ms",
                    }
                ]
            },
        }
        path = workdir / "registry.yml"
        path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        env["SSL_CERT_FILE"] = str(ca)  # the registry verifies drec's certificate
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [binary, "serve", str(path)], env=env, stdout=out, stderr=subprocess.STDOUT
            )

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"the registry exited:\n{tail(self.log)}")
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2).close()
            except OSError:
                return False
            return True

        wait_until("the registry's /v2/", ready)

    def endpoint_metrics(self) -> dict:
        url = f"http://127.0.0.1:{self.debug_port}/debug/vars"
        with urllib.request.urlopen(url, timeout=5) as resp:
            endpoints = json.load(resp)["registry"]["notifications"]["endpoints"]
        return next(e["Metrics"] for e in endpoints if e["name"] == "drec")

    def wait_delivered(self, events: int) -> None:
        """Until the registry has sent at least `events` events and none is pending."""

        def delivered():
            m = self.endpoint_metrics()
            return m["Pending"] == 0 and m["Successes"] >= events and m

        wait_until(f"the registry to deliver {events} events to drec", delivered)

    def head(self, repo: str, tag: str) -> None:
        request = urllib.request.Request(
            f"http://{self.host}/v2/{repo}/manifests/{tag}",
            method="HEAD",
            headers={"Accept": OCI_MANIFEST},
        )
        urllib.request.urlopen(request, timeout=10).close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def counters(record: dict) -> dict:
    return {k: record[k] for k in ("numpushs", "numpulls", "numchecks", "numindexpulls")}


def expect(actual, expected, what: str) -> None:
    assert actual == expected, f"{what}: expected {expected}, drec says {actual}"
    log(f"ok   {what}: {actual}")


def check_image(podman, image: str) -> None:
    """The image's configuration, and no build tool on its PATH."""
    config = json.loads(podman.run("image", "inspect", image).stdout)[0]["Config"]
    expect(config.get("User"), f"{UID}:{UID}", "image user")
    expect(sorted(config.get("ExposedPorts", {})), ["8443/tcp"], "exposed ports")
    expect(sorted(config.get("Volumes", {})), ["/var/lib/drec"], "volumes")
    expect(config.get("StopSignal"), "SIGTERM", "stop signal")
    expect(config["Labels"].get("org.opencontainers.image.title"), "drec", "title label")
    found = podman.run(
        "run", "--rm", "--network=none", "--entrypoint", "sh", image, "-c",
        'for t in "$@"; do command -v "$t" || true; done', "sh", *BUILD_TOOLS,
    ).stdout.split()  # fmt: skip
    expect(found, [], f"build tools on the image's PATH ({', '.join(BUILD_TOOLS)})")
    version = podman.run("run", "--rm", "--network=none", image, "--version").stdout.strip()
    log(f"ok   the image runs drec: {version}")


def check_non_root(podman, container: DrecContainer) -> None:
    expect(podman.run("exec", container.name, "id", "-u").stdout.strip(), UID, "id -u in it")
    pid = container.inspect()["State"]["Pid"]
    status = Path(f"/proc/{pid}/status").read_text()
    comm = Path(f"/proc/{pid}/comm").read_text().strip()
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    expect((comm, uids), ("drec", [UID] * 4), f"/proc/{pid} (command, real/effective/saved/fs uid)")


def scenario(args, podman, workdir: Path, cleanup: list) -> None:
    started = time.monotonic()
    check_tools = [t for t in ("skopeo", "umoci", "openssl") if not shutil.which(t)]
    assert not check_tools, f"missing {check_tools} (scripts/install-deps.sh --for test)"
    image = ensure_drec_image(podman, args.source, jobs=args.jobs)
    size = podman.image_size(image)
    log(f"image {image}: {size} bytes ({size / 1e6:.1f} MB), base {DEBIAN_SLIM_IMAGE}")
    log(f"built or found in {time.monotonic() - started:.0f} s")
    check_image(podman, image)

    suffix = f"{os.getpid()}-{int(time.time())}"
    volume = f"drec-image-test-{suffix}"
    podman.run("volume", "create", volume)
    cleanup.append(lambda: podman.run("volume", "rm", "-f", volume, check=False))

    # 2. Variables only: the generated certificate lands in the volume.
    plain = DrecContainer(
        podman, image, f"drec-image-test-env-{suffix}", volume, [], workdir / "generated-ca.pem"
    )
    cleanup.append(plain.remove)
    plain.start(cafile_from_volume=True)
    expect(plain.get("/healthz")[0], 200, "/healthz with the generated certificate")
    expect(plain.get("/api/v1/repositories")[0], 401, "the API without the token")
    expect(plain.stop(), 0, "drec's exit code on SIGTERM (podman stop)")
    plain.remove()

    # 3. A mounted configuration file with a certificate of our CA, the token from a variable.
    ca, cert, key = make_pki(workdir / "pki")
    etc = workdir / "etc-drec"
    (etc / "tls").mkdir(parents=True)
    shutil.copy(cert, etc / "tls/cert.pem")
    shutil.copy(key, etc / "tls/key.pem")
    (etc / "tls/key.pem").chmod(0o644)  # drec runs as 10001: it must be able to read it
    (etc / "config.yml").write_text(
        "server:\n  ssl:\n    cert: /etc/drec/tls/cert.pem\n    cert_key: /etc/drec/tls/key.pem\n"
        "log:\n  level: info\n"
    )
    config_args = ["-v", f"{etc}:/etc/drec:ro", image, "/etc/drec/config.yml"]
    drec = DrecContainer(podman, image, f"drec-image-test-{suffix}", volume, config_args, ca)
    cleanup.append(drec.remove)
    drec.start()
    log(f"ok   drec serves the mounted certificate on 127.0.0.1:{drec.port}")
    check_non_root(podman, drec)

    registry = Registry(args.registry, workdir, f"https://localhost:{drec.port}/events", ca)
    cleanup.append(registry.stop)
    layout = workdir / "layout"
    run("umoci", "init", "--layout", str(layout))
    content = workdir / "hello.txt"
    content.write_text("drec image test\n")
    run("umoci", "new", "--image", f"{layout}:app")
    run("umoci", "insert", "--image", f"{layout}:app", str(content), "/hello.txt")
    skopeo = ["skopeo", "--insecure-policy", "--tmpdir", str(workdir)]
    remote = f"docker://{registry.host}/team/app"
    for tag in ("v1", "v2"):
        run(*skopeo, "copy", "--dest-tls-verify=false", f"oci:{layout}:app", f"{remote}:{tag}")
    for n in (1, 2):
        run(*skopeo, "copy", "--src-tls-verify=false", f"{remote}:v1", f"oci:{workdir}/pulled:{n}")
    registry.head("team/app", "v1")
    registry.wait_delivered(5)
    want = {"numpushs": 2, "numpulls": 2, "numchecks": 1, "numindexpulls": 0}
    expect(counters(drec.api("/api/v1/repositories/team/app")), want, "team/app")

    def tags():
        listed = drec.api("/api/v1/repositories/team/app/-/tags")["tags"]
        return {t["tag"]: counters(t) for t in listed}

    want_tags = {
        "v1": {"numpushs": 1, "numpulls": 2, "numchecks": 1, "numindexpulls": 0},
        "v2": {"numpushs": 1, "numpulls": 0, "numchecks": 0, "numindexpulls": 0},
    }
    expect(tags(), want_tags, "team/app's tags")

    # 4. A new container on the same volume: nothing lost, and it counts on.
    expect(drec.stop(), 0, "drec's exit code on SIGTERM (podman stop)")
    drec.remove()
    drec = DrecContainer(podman, image, f"drec-image-test-2-{suffix}", volume, config_args, ca)
    cleanup.append(drec.remove)
    drec.start()
    expect(
        counters(drec.api("/api/v1/repositories/team/app")), want, "team/app after a new container"
    )
    expect(tags(), want_tags, "team/app's tags after a new container")
    # The registry still notifies the old port: a second registry endpoint is not needed, the
    # registry is restarted with the new one.
    registry.stop()
    registry = Registry(args.registry, workdir, f"https://localhost:{drec.port}/events", ca)
    cleanup.append(registry.stop)
    run(*skopeo, "copy", "--src-tls-verify=false", f"{remote}:v1", f"oci:{workdir}/pulled:3")
    registry.wait_delivered(1)
    want["numpulls"] = 3
    expect(counters(drec.api("/api/v1/repositories/team/app")), want, "team/app, one pull later")

    # 5. drec's own image is an artifact like any other.
    tag = image.rsplit(":", 1)[1]
    run(
        *skopeo, "copy", "--dest-tls-verify=false",
        f"containers-storage:{image}", f"docker://{registry.host}/drec:{tag}",
    )  # fmt: skip
    registry.wait_delivered(2)
    pushed = {"numpushs": 1, "numpulls": 0, "numchecks": 0, "numindexpulls": 0}
    expect(
        counters(drec.api("/api/v1/repositories/drec")), pushed, f"drec, after pushing {DREC_IMAGE}"
    )
    listed = {t["tag"]: t["numpushs"] for t in drec.api("/api/v1/repositories/drec/-/tags")["tags"]}
    expect(listed, {tag: 1}, "drec's tags")
    took = time.monotonic() - started
    log(f"image size: {size} bytes ({size / 1e6:.1f} MB); test took {took:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", required=True, type=Path, help="the checkout (Dockerfile)")
    parser.add_argument("--workdir", required=True, type=Path, help="scratch (cleared)")
    parser.add_argument("--registry", default="/usr/bin/docker-registry", help="registry 2.8")
    parser.add_argument("--jobs", type=int, default=2, help="parallel compile jobs of a build")
    args = parser.parse_args()
    args.source = args.source.resolve()

    # ctest's timeout and ^C end the test through `finally`, so the containers go too.
    def interrupted(signum, _frame):
        raise SystemExit(f"interrupted by signal {signum}")

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, interrupted)

    workdir = prepare_workdir(args.workdir, ".drec-image-test")
    try:
        podman = podman_or_skip(workdir, tools=("git",))
        if not os.access(args.registry, os.X_OK):
            raise Unavailable(f"{args.registry} is not installed (docker-registry)")
        ensure_debian_images(podman)
        probe(podman, DEBIAN_SLIM_IMAGE)
    except Unavailable as why:
        log(f"SKIPPED: {why}")
        return SKIP

    cleanup: list = []
    try:
        scenario(args, podman, workdir, cleanup)
    finally:
        for step in reversed(cleanup):
            try:
                step()
            except Exception as e:  # every step runs; the scenario's failure is the one reported
                log(f"cleanup: {e}")
        log("containers, volume and registry removed")
    log("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
