#!/usr/bin/env python3
"""Captures real notification envelopes from real registries into tests/data/registry-<version>/.

Why it exists: the unit and integration tests parse and count envelopes exactly as a registry
sends them; this script makes those fixtures from Debian's Distribution 2.8 (`docker-registry`)
and registry 3.x (scripts/build-registry3.sh) instead of typing them by hand.

For each registry version it starts two registries on free loopback ports, with filesystem
storage in a temporary directory and deletes enabled: `anon` (no authentication) and `named`
(htpasswd users alice and bob, so events carry an actor). Both notify one plain-HTTP receiver in
this script on 127.0.0.1 with a static Authorization header; the receiver answers 200 and
records every POST body. Images are built locally with umoci (tests/e2e/registry_e2e.py's
`build_images`) and moved with skopeo; a few requests (a HEAD, a blob mount, a delete by tag)
are plain HTTP. Each fixture is then the one envelope whose single event matches that
fixture's content (action, media type, method, repository, tag, digest), saved byte for byte as
the registry sent it. Every process the script starts is stopped when it ends, also on failure.

Then, against the anonymous registry, real client tools (oras, crane, cosign, the OCI
conformance suite: scripts/build-go-tool.sh; and curl) run one scenario at a time, each in
repositories of its own: attachments (oras attach/discover/pull, cosign sign/verify), blob and
manifest deletes, crane's push/pull/digest, manifest GETs with and without Accept. Every
envelope a scenario caused is kept, in arrival order, in `<scenario>.events.json` (a JSON
array; the conformance suite's hundreds are cut to the first of each kind), and its requests
(the registry's access log) in --requests-dir.

Usage: scripts/capture-events.py [--out tests/data] [--only 2.8|3.1]
                                 [--registry-2.8 PATH] [--registry-3.1 PATH] [--keep-workdir]
                                 [--oras PATH] [--crane PATH] [--cosign PATH]
                                 [--conformance PATH] [--requests-dir DIR]
Only the Python standard library is used (plus skopeo, umoci, setpriv and curl on PATH; the Go
tools are built by scripts/build-go-tool.sh unless given).
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import registry_e2e  # noqa: E402  (tests/e2e/registry_e2e.py: processes, images, registries)
from registry_e2e import Failure, Image, Processes, build_images, run  # noqa: E402

RECEIVER_AUTHORIZATION = "Bearer capture-events-0123456789"
USERS = {"alice": "alice-password", "bob": "bob-password"}
WAIT_S = 30.0
POLL_S = 0.05
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
INDEX_TYPES = {OCI_INDEX, "application/vnd.docker.distribution.manifest.list.v2+json"}
MANIFEST_TYPES = INDEX_TYPES | {
    OCI_MANIFEST,
    "application/vnd.docker.distribution.manifest.v2+json",
}
VERSIONS = {
    "2.8": "/usr/bin/docker-registry",
    "3.1": str(
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        / "drec"
        / "registry3"
        / "registry"
    ),
}


# ---------------------------------------------------------------------------------------------
# The receiver


class Receiver:
    """The registries' notification endpoint: checks the Authorization header, answers 200 and
    records each POST body, by URL path (one path per registry)."""

    def __init__(self):
        self.bodies: dict[str, list[bytes]] = {}
        self.refused = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                authorized = self.headers.get("Authorization") == RECEIVER_AUTHORIZATION
                with receiver.lock:
                    if authorized:
                        receiver.bodies.setdefault(self.path.strip("/"), []).append(body)
                    else:
                        receiver.refused += 1
                self.send_response(200 if authorized else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def envelopes(self, source: str) -> list[tuple[bytes, dict]]:
        with self.lock:
            bodies = list(self.bodies.get(source, []))
        return [(body, json.loads(body)) for body in bodies]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


class CaptureRegistry(registry_e2e.Registry):
    """registry_e2e's registry, notifying only the receiver, with the static header."""

    def _write_config(self, drec_url: str, capture_url: str) -> Path:
        path = super()._write_config(drec_url, capture_url)
        config = json.loads(path.read_text())
        # The access log (the registry's stdout, its log file) shows each scenario's requests,
        # also those that cause no event (the referrers API, an upload).
        config["log"]["accesslog"]["disabled"] = False
        config["notifications"]["endpoints"] = [
            {
                "name": "capture",
                "url": capture_url,
                "headers": {"Authorization": [RECEIVER_AUTHORIZATION]},
                "timeout": "5s",
                "threshold": 5,
                "backoff": "100ms",
            }
        ]
        path.write_text(json.dumps(config, indent=2))
        return path

    def drained(self) -> None:
        self.wait_drained("capture")


# ---------------------------------------------------------------------------------------------
# What each fixture is


@dataclasses.dataclass(frozen=True)
class Wanted:
    """The event one fixture holds, by content; empty strings must be absent from the event."""

    file: str
    registry: str  # "anon" or "named"
    action: str
    repository: str
    method: str | None  # None: not compared (deletes and mounts are checked by action)
    kind: str | None  # "image", "index", "blob" or None (deletes carry no media type)
    tag: str
    digest: str

    def matches(self, event: dict) -> bool:
        target = event.get("target", {})
        media_type = target.get("mediaType", "")
        kind = (
            "index"
            if media_type in INDEX_TYPES
            else "image"
            if media_type in MANIFEST_TYPES
            else "blob"
            if media_type
            else None
        )
        return (
            event.get("action") == self.action
            and target.get("repository") == self.repository
            and (self.method is None or event.get("request", {}).get("method") == self.method)
            and (self.kind is None or kind == self.kind)
            and target.get("tag", "") == self.tag
            and target.get("digest", "") == self.digest
        )


def wanted_events(images: dict[str, Image]) -> list[Wanted]:
    amd64, arm64, multi = images["amd64"], images["arm64"], images["multi"]
    return [
        Wanted(
            "manifest-push-tagged.json",
            "anon",
            "push",
            "team/app",
            "PUT",
            "image",
            "v1",
            amd64.digest,
        ),
        Wanted(
            "manifest-pull-head.json",
            "anon",
            "pull",
            "team/app",
            "HEAD",
            "image",
            "v1",
            amd64.digest,
        ),
        Wanted(
            "manifest-pull-get.json", "anon", "pull", "team/app", "GET", "image", "v1", amd64.digest
        ),
        Wanted("blob-pull-get.json", "anon", "pull", "team/app", "GET", "blob", "", amd64.layer),
        Wanted(
            "index-push-tagged.json",
            "named",
            "push",
            "team/multi",
            "PUT",
            "index",
            "latest",
            multi.digest,
        ),
        Wanted(
            "index-pull-get.json",
            "named",
            "pull",
            "team/multi",
            "GET",
            "index",
            "latest",
            multi.digest,
        ),
        Wanted(
            "child-manifest-pull-by-digest.json",
            "named",
            "pull",
            "team/multi",
            "GET",
            "image",
            "",
            arm64.digest,
        ),
        Wanted("blob-mount.json", "named", "mount", "team/multi", None, "blob", "", arm64.layer),
        Wanted("delete-digest.json", "named", "delete", "team/app", None, None, "", arm64.digest),
        Wanted("delete-tag.json", "named", "delete", "team/app", None, None, "arm", ""),
    ]


# ---------------------------------------------------------------------------------------------
# Clients


class Client:
    """skopeo and plain HTTP against one registry, as one user (or anonymously)."""

    def __init__(self, registry: CaptureRegistry, user: str | None, workdir: Path):
        self.registry = registry
        self.user = user
        self.workdir = workdir

    def skopeo(self, *argv: str) -> None:
        run("skopeo", "--insecure-policy", "--tmpdir", str(self.workdir / "tmp"), *argv)

    def creds(self, flag: str) -> list[str]:
        return [flag, f"{self.user}:{USERS[self.user]}"] if self.user else []

    def ref(self, repo: str, tag: str) -> str:
        return f"docker://{self.registry.host}/{repo}:{tag}"

    def push(self, layout: Path, image: Image, repo: str, tag: str) -> None:
        self.skopeo(
            "copy",
            *(["--all"] if image.index else []),
            "--dest-tls-verify=false",
            *self.creds("--dest-creds"),
            f"oci:{layout}:{image.ref}",
            self.ref(repo, tag),
        )

    def pull(self, repo: str, tag: str, arch: str | None = None) -> None:
        arch_flags = ["--override-arch", arch] if arch else []
        self.skopeo(
            *arch_flags,
            "copy",
            "--src-tls-verify=false",
            *self.creds("--src-creds"),
            self.ref(repo, tag),
            f"oci:{self.workdir / 'pulled'}:{repo.replace('/', '-')}",
        )

    def delete(self, repo: str, tag: str) -> None:
        """skopeo deletes by digest (it GETs the tag first to learn it)."""
        self.skopeo("delete", "--tls-verify=false", *self.creds("--creds"), self.ref(repo, tag))

    def http(self, method: str, path: str, expect: int, accept: str | None = None) -> None:
        headers = {"User-Agent": "drec-capture-events"}
        if accept:
            headers["Accept"] = accept
        if self.user:
            pair = base64.b64encode(f"{self.user}:{USERS[self.user]}".encode()).decode()
            headers["Authorization"] = f"Basic {pair}"
        request = urllib.request.Request(
            f"http://{self.registry.host}{path}", method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as resp:
                resp.read()
                status = resp.status
        except urllib.error.HTTPError as e:
            status = e.code
        if status != expect:
            raise Failure(f"{method} {path}: status {status}, expected {expect}")


# ---------------------------------------------------------------------------------------------
# Client tools (scripts/build-go-tool.sh) and the scenarios that keep every event they cause

TOOLS = ("oras", "crane", "cosign", "conformance")
SBOM_TYPE = "application/vnd.example.sbom+json"
COSIGN_PASSWORD = "capture-events-cosign"
TOOL_TIMEOUT_S = 120.0
CONFORMANCE_TIMEOUT_S = 600.0
SETTLE_S = 0.3  # an event may follow the response (a blob GET's): wait until none comes


def build_tool(name: str) -> str:
    """The tool's binary: built (or found cached) by scripts/build-go-tool.sh."""
    return run(str(ROOT / "scripts" / "build-go-tool.sh"), name, capture=True).strip()


class Tools:
    """The client tools, run in a home of their own (no credentials, configuration or caches
    of the user's, nothing fetched: cosign's TUF cache is an empty directory)."""

    def __init__(self, paths: dict[str, str], workdir: Path):
        self.paths = paths
        self.cwd = workdir / "tools"
        home = self.cwd / "home"
        home.mkdir(parents=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("OCI_", "COSIGN_"))}
        self.env |= {
            "HOME": str(home),
            "DOCKER_CONFIG": str(home / "docker"),
            "TUF_ROOT": str(home / "sigstore"),
            "COSIGN_PASSWORD": COSIGN_PASSWORD,
        }

    def run(
        self, name: str, *argv: str, env: dict | None = None, timeout: float = TOOL_TIMEOUT_S
    ) -> subprocess.CompletedProcess:
        """Runs a tool to its end (killed on timeout or when this program stops)."""
        binary = self.paths.get(name, name)
        command = ["setpriv", "--pdeathsig", "TERM", binary, *argv]
        try:
            return subprocess.run(
                command,
                cwd=self.cwd,
                env=self.env | (env or {}),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise Failure(f"{name} {' '.join(argv)} did not finish in {timeout:.0f} s") from None

    def ok(self, name: str, *argv: str) -> str:
        """Runs a tool that must succeed; its stdout."""
        proc = self.run(name, *argv)
        if proc.returncode != 0:
            raise Failure(f"{name} {' '.join(argv)} exited {proc.returncode}:\n{proc.stderr}")
        return proc.stdout

    def version(self, name: str) -> str:
        if name == "conformance":  # a test binary: its version is the one it was built from
            return f"{Path(self.paths[name]).parent.name} (go test -c)"
        argv = {"oras": ["version"], "crane": ["version"], "cosign": ["version"]}[name]
        out = self.ok(name, *argv).splitlines()
        line = next((x for x in out if x.startswith(("Version:", "GitVersion:"))), out[0])
        return line.split(":", 1)[-1].strip()


class Recorder:
    """Keeps, for each scenario, the envelopes one registry sent while it ran (in arrival
    order) and the registry's access-log lines of its requests."""

    def __init__(self, receiver: Receiver, registry: CaptureRegistry, requests_dir: Path):
        self.receiver = receiver
        self.registry = registry
        self.log = registry.workdir.parent / f"registry-{registry.name}.log"
        self.requests_dir = requests_dir
        self.files: dict[str, bytes] = {}
        self.events: dict[str, list[dict]] = {}

    def settle(self) -> None:
        """Every event delivered, and no new one for SETTLE_S."""
        while True:
            self.registry.drained()
            count = len(self.receiver.envelopes(self.registry.name))
            time.sleep(SETTLE_S)
            if len(self.receiver.envelopes(self.registry.name)) == count:
                return

    def scenario(self, name: str, action, keep=lambda envelopes: envelopes):
        """Runs `action` and keeps what it caused as `<name>.events.json` (the envelopes that
        `keep` selects, all by default); returns its result."""
        self.settle()
        before = len(self.receiver.envelopes(self.registry.name))
        log_start = self.log.stat().st_size
        result = action()
        self.settle()
        envelopes = [e for _, e in self.receiver.envelopes(self.registry.name)[before:]]
        self.events[name] = [ev for e in envelopes for ev in e.get("events", [])]
        kept = keep(envelopes)
        self.files[f"{name}.events.json"] = (json.dumps(kept, indent=2) + "\n").encode()
        with self.log.open("rb") as log:
            log.seek(log_start)
            requests = [
                line
                for line in log.read().decode(errors="replace").splitlines()
                if '"' in line and " HTTP/1.1" in line  # the access log's lines only
            ]
        self.requests_dir.mkdir(parents=True, exist_ok=True)
        (self.requests_dir / f"{name}.requests.log").write_text("\n".join(requests) + "\n")
        return result


def event_shape(event: dict) -> tuple:
    """What an event is, without its ids, digests and times: what classifies it."""
    target, request = event.get("target", {}), event.get("request", {})
    return (
        event.get("action"),
        request.get("method"),
        target.get("mediaType"),
        bool(target.get("tag")),
        "references" in target,
        target.get("repository"),
        target.get("digest", "").partition(":")[0],  # the conformance suite pushes sha512 too
    )


def first_of_each_shape(envelopes: list[dict]) -> list[dict]:
    """The first envelope of each distinct event shape, in arrival order."""
    seen, kept = set(), []
    for envelope in envelopes:
        shape = tuple(event_shape(e) for e in envelope.get("events", []))
        if shape not in seen:
            seen.add(shape)
            kept.append(envelope)
    return kept


def tool_scenarios(
    version: str,
    registry: CaptureRegistry,
    recorder: Recorder,
    tools: Tools,
    anonymous: Client,
    layout: Path,
    images: dict[str, Image],
) -> list[str]:
    """Runs the client tools' scenarios against the anonymous registry, each in repositories
    of its own (none touches team/app, whose events are the single-event fixtures); returns
    notes on what the tools reported."""
    host, amd64 = registry.host, images["amd64"]
    notes: list[str] = []
    oras_flags = ["--plain-http"]

    # oras: attach an SBOM to a pushed image, list what refers to it, pull the SBOM by digest.
    anonymous.push(layout, amd64, "team/attach", "v1")
    (tools.cwd / "sbom.json").write_text('{"sbom": "drec capture", "packages": []}\n')
    attached = recorder.scenario(
        "oras-attach",
        lambda: tools.ok(
            "oras",
            "attach",
            *oras_flags,
            "--format",
            "json",
            "--artifact-type",
            SBOM_TYPE,
            "--annotation",
            "org.example.capture=drec",
            f"{host}/team/attach:v1",
            f"sbom.json:{SBOM_TYPE}",
        ),
    )
    sbom = json.loads(attached)
    sbom_digest = sbom["digest"]
    discovered = recorder.scenario(
        "oras-discover",
        lambda: tools.ok(
            "oras", "discover", *oras_flags, "--format", "json", f"{host}/team/attach:v1"
        ),
    )
    referrers = json.loads(discovered).get("referrers", json.loads(discovered).get("manifests"))
    notes.append(
        f"oras-discover: {len(referrers or [])} referrer(s) listed: "
        + ", ".join(f"{r.get('artifactType')} {r.get('digest', '')[:19]}" for r in referrers or [])
    )
    referrers_url = f"http://{host}/v2/team/attach/referrers/{amd64.digest}"
    answer = tools.ok(
        "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{content_type}", referrers_url
    )
    notes.append(f"referrers API: GET /v2/team/attach/referrers/<subject> answered {answer}")
    pulled = tools.cwd / "oras-pulled"
    recorder.scenario(
        "oras-pull-attachment",
        lambda: tools.ok(
            "oras", "pull", *oras_flags, "-o", str(pulled), f"{host}/team/attach@{sbom_digest}"
        ),
    )

    # oras: push a blob, delete it (a blob delete, by digest).
    blob = f"drec capture blob {version}\n".encode()
    (tools.cwd / "blob.bin").write_bytes(blob)
    blob_digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    recorder.scenario(
        "oras-blob-push",
        lambda: tools.ok("oras", "blob", "push", *oras_flags, f"{host}/team/blobs", "blob.bin"),
    )
    recorder.scenario(
        "oras-blob-delete",
        lambda: tools.ok(
            "oras", "blob", "delete", *oras_flags, "--force", f"{host}/team/blobs@{blob_digest}"
        ),
    )

    # cosign: sign an image by digest with a local key and no transparency log, then verify.
    anonymous.push(layout, amd64, "team/signed", "v1")
    tools.ok("cosign", "generate-key-pair")
    insecure = ["--allow-insecure-registry", "--allow-http-registry"]
    signed = f"{host}/team/signed@{amd64.digest}"
    recorder.scenario(
        "cosign-sign",
        lambda: tools.ok(
            "cosign",
            "sign",
            "--key",
            "cosign.key",
            "--tlog-upload=false",
            "--yes",
            *insecure,
            signed,
        ),
    )
    verified = recorder.scenario(
        "cosign-verify",
        lambda: tools.run(
            "cosign", "verify", "--key", "cosign.pub", "--insecure-ignore-tlog", *insecure, signed
        ),
    )
    if verified.returncode != 0:
        raise Failure(f"cosign verify exited {verified.returncode}:\n{verified.stderr}")
    notes.append(f"cosign-verify: exit 0, {len(json.loads(verified.stdout))} signature(s) verified")

    # crane: push an image (append a layer to an empty base), pull it, ask its digest.
    layer = tools.cwd / "layer.tar"
    with tarfile.open(layer, "w") as tar:
        tar.add(tools.cwd / "blob.bin", arcname="drec-crane.txt")
    crane_ref = f"{host}/team/crane:v1"
    recorder.scenario(
        "crane-push",
        lambda: tools.ok("crane", "append", "--insecure", "-f", str(layer), "-t", crane_ref),
    )
    recorder.scenario(
        "crane-pull",
        lambda: tools.ok("crane", "pull", "--insecure", crane_ref, str(tools.cwd / "crane.tar")),
    )
    recorder.scenario("crane-digest", lambda: tools.ok("crane", "digest", "--insecure", crane_ref))

    # curl: a manifest GET by tag without an Accept header, and one with it.
    anonymous.push(layout, amd64, "team/curl", "v1")
    url = f"http://{host}/v2/team/curl/manifests/v1"
    for name, accept in (
        ("curl-get-no-accept", []),
        ("curl-get-accept", ["-H", f"Accept: {OCI_MANIFEST}"]),
    ):
        out = recorder.scenario(
            name,
            lambda accept=accept: tools.ok(
                "curl",
                "-sS",
                *accept,
                "-o",
                "/dev/stdout",
                "-w",
                "\n%{http_code} %{content_type}",
                url,
            ),
        )
        body, _, status = out.rpartition("\n")
        error = "" if status.startswith("200 ") else f"; body: {body.strip()[:160]}"
        notes.append(f"{name}: curl got {status or '?'}{error}")

    # The OCI conformance suite, with its (deprecated, still read) OCI_ROOT_URL-style settings.
    suite = recorder.scenario(
        "conformance",
        lambda: tools.run(
            "conformance",
            "-test.timeout",
            f"{CONFORMANCE_TIMEOUT_S:.0f}s",
            env={
                "OCI_ROOT_URL": f"http://{host}",
                "OCI_NAMESPACE": "conformance/repo1",
                "OCI_CROSSMOUNT_NAMESPACE": "conformance/repo2",
                "OCI_TEST_PULL": "1",
                "OCI_TEST_PUSH": "1",
                "OCI_TEST_CONTENT_DISCOVERY": "1",
                "OCI_TEST_CONTENT_MANAGEMENT": "1",
                "OCI_DELETE_MANIFEST_BEFORE_BLOBS": "1",
                "OCI_RESULTS_DIR": str(tools.cwd / "conformance-results"),
            },
            timeout=CONFORMANCE_TIMEOUT_S + 30,
        ),
        # Hundreds of events: the file keeps one of each kind.
        keep=first_of_each_shape,
    )
    (recorder.requests_dir / "conformance.out").write_text(suite.stdout + suite.stderr)
    notes.append(
        f"conformance: exit {suite.returncode}, result {conformance_summary(suite.stdout)}; "
        f"{len(recorder.events['conformance'])} events, of which conformance.events.json "
        "keeps the first of each kind (action, method, media type, tag or not, references or "
        "not, repository, digest algorithm)"
    )

    # oras: a manifest delete by digest (the SBOM), beside the blob delete above.
    recorder.scenario(
        "oras-manifest-delete",
        lambda: tools.ok(
            "oras",
            "manifest",
            "delete",
            *oras_flags,
            "--force",
            f"{host}/team/attach@{sbom_digest}",
        ),
    )
    return notes


def conformance_summary(output: str) -> str:
    """The suite's result and its counts ("OCI Conformance Result: FAIL", then one line per
    count: "  Pass....: 703")."""
    lines = output.splitlines()
    at = next((i for i, x in enumerate(lines) if x.startswith("OCI Conformance Result:")), None)
    if at is None:
        return lines[-1] if lines else "no output"
    counts = []
    for line in lines[at + 1 :]:
        m = re.fullmatch(r"\s+(\w+)\.+:\s+(\d+)", line)
        if not m:
            break
        counts.append(f"{m[1]} {m[2]}")
    return f"{lines[at].split(':', 1)[1].strip()} ({', '.join(counts)})"


# ---------------------------------------------------------------------------------------------
# One registry version


def wait_for(what: str, probe):
    deadline = time.monotonic() + WAIT_S
    while not (value := probe()):
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {WAIT_S:.0f} s waiting for {what}")
        time.sleep(POLL_S)
    return value


def matching(receiver: Receiver, source: str, wanted: Wanted) -> dict[str, bytes]:
    """Envelopes holding the wanted event, by event id (a retried delivery repeats the id)."""
    found = {}
    for body, envelope in receiver.envelopes(source):
        for event in envelope.get("events", []):
            if wanted.matches(event):
                if len(envelope["events"]) != 1:
                    raise Failure(
                        f"{wanted.file}: the envelope holds "
                        f"{len(envelope['events'])} events, expected one"
                    )
                found[event["id"]] = body
    return found


def capture(
    version: str,
    binary: str,
    workdir: Path,
    receiver: Receiver,
    processes: Processes,
    tools: dict[str, str],
    requests_dir: Path,
) -> tuple[dict[str, bytes], list[str], dict[str, list[dict]]]:
    """Runs the operations against `binary`; returns each fixture's body, notes on how the
    registry behaved where versions differ, and each tool scenario's events."""
    layout, scratch = workdir / "layout", workdir / "scratch"
    (workdir / "tmp").mkdir()
    scratch.mkdir()
    images = build_images(layout, scratch)
    wanted = wanted_events(images)
    anon = CaptureRegistry(f"{version}-anon", binary, workdir, "", receiver, None)
    named = CaptureRegistry(f"{version}-named", binary, workdir, "", receiver, USERS)
    for registry in (anon, named):
        registry.start(processes, Path("/etc/ssl/certs/ca-certificates.crt"))
    source = {"anon": anon.name, "named": named.name}
    anonymous = Client(anon, None, workdir)
    alice, bob = Client(named, "alice", workdir), Client(named, "bob", workdir)
    notes = []

    # Anonymous: a tagged push, a pull by tag (manifest GET and blob GETs), a check (HEAD).
    anonymous.push(layout, images["amd64"], "team/app", "v1")
    anonymous.pull("team/app", "v1")
    anonymous.http("HEAD", "/v2/team/app/manifests/v1", 200, accept=f"{OCI_MANIFEST}, {OCI_INDEX}")
    # Named: alice pushes an image and mounts its layer into another repository, pushes a
    # multi-arch index (children by digest, then the tagged index); bob pulls the index for
    # arm64 (index by tag, then the child by digest); alice deletes the image by digest.
    alice.push(layout, images["arm64"], "team/app", "arm")
    query = urllib.parse.urlencode({"mount": images["arm64"].layer, "from": "team/app"})
    alice.http("POST", f"/v2/team/multi/blobs/uploads/?{query}", 201)
    alice.push(layout, images["multi"], "team/multi", "latest")
    bob.pull("team/multi", "latest", arch="arm64")
    alice.delete("team/app", "arm")
    named.drained()
    tag_delete = next(w for w in wanted if w.file == "delete-tag.json")
    if matching(receiver, named.name, tag_delete):
        notes.append(
            "delete-tag.json: sent for the tag when its digest was deleted "
            "(skopeo delete), in the same request as delete-digest.json"
        )
    else:
        # Registry 3 deletes tags on its own request only: tag again, then DELETE by tag.
        alice.push(layout, images["arm64"], "team/app", "arm")
        alice.http("DELETE", "/v2/team/app/manifests/arm", 202)
        notes.append(
            "delete-tag.json: no tag event came with the digest delete; this one is "
            "from DELETE /v2/team/app/manifests/arm (a delete by tag)"
        )

    for registry in (anon, named):
        registry.drained()
    captured = {}
    for w in wanted:
        found = wait_for(f"{w.file} ({w})", lambda w=w: matching(receiver, source[w.registry], w))
        if len(found) != 1:
            raise Failure(f"{w.file}: {len(found)} different events match {w}")
        captured[w.file] = next(iter(found.values()))

    # The client tools' scenarios, after the single-event fixtures are settled.
    recorder = Recorder(receiver, anon, requests_dir)
    runner = Tools(tools, workdir)
    notes += [f"{name}: {runner.version(name)}" for name in sorted(tools)]
    notes.append(f"curl: {runner.ok('curl', '--version').splitlines()[0]}")
    notes += tool_scenarios(version, anon, recorder, runner, anonymous, layout, images)
    captured |= recorder.files
    if receiver.refused:
        raise Failure(f"{receiver.refused} notifications came without the Authorization header")
    return captured, notes, recorder.events


def summary(events: dict[str, list[dict]]) -> str:
    """One line per event of each scenario: what drec gets to count them by."""
    lines = []
    for name, evs in events.items():
        lines.append(f"{name}: {len(evs)} event(s)")
        for e in evs:
            t, r = e.get("target", {}), e.get("request", {})
            extra = sorted(
                set(t) - {"mediaType", "size", "digest", "length", "repository", "url", "tag"}
            )
            media_type = t.get("mediaType", "(none)") or "(empty)"
            lines.append(
                f"  {e.get('action')} {r.get('method', '-')} {media_type}"
                f" tag={t.get('tag', '-')} {t.get('digest', '-')[:19]} {t.get('repository')}"
                f" other-target-fields={extra} ua={r.get('useragent', '')!r}"
            )
    return "\n".join(lines) + "\n"


def tool_version(*argv: str) -> str:
    return run(*argv, capture=True).strip().splitlines()[0]


def save(
    out: Path, version: str, binary: str, captured: dict[str, bytes], notes: list[str], command: str
) -> None:
    """Writes the fixtures (replacing the old ones) and capture.txt: when, how, with what."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.json"):
        old.unlink()
    for name, body in sorted(captured.items()):
        json.loads(body)  # it parses
        (out / name).write_bytes(body)
    registry_version = tool_version(binary, "--version").replace(binary, Path(binary).name)
    info = [
        f"captured: {datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"command: {command}",
        f"registry {version}: {registry_version}",
        f"skopeo: {tool_version('skopeo', '--version')}",
        f"umoci: {tool_version('umoci', '--version')}",
        *notes,
    ]
    (out / "capture.txt").write_text("\n".join(info) + "\n")


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # run `finally`
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "tests" / "data")
    p.add_argument("--only", choices=sorted(VERSIONS), action="append")
    for version, default in VERSIONS.items():
        p.add_argument(
            f"--registry-{version}",
            dest=f"registry_{version}",
            default=default,
            help=f"registry {version} binary (default {default})",
        )
    for name in TOOLS:
        p.add_argument(
            f"--{name}", help=f"{name} binary (default: scripts/build-go-tool.sh {name})"
        )
    p.add_argument(
        "--requests-dir",
        type=Path,
        help="keep each scenario's access-log lines and an event summary here (default: workdir)",
    )
    p.add_argument("--keep-workdir", action="store_true", help="keep the temporary directory")
    args = p.parse_args()
    try:
        tools = {name: getattr(args, name) or build_tool(name) for name in TOOLS}
    except Failure as e:
        print(f"capture-events: {e}", file=sys.stderr)
        return 2
    command = "scripts/capture-events.py" + "".join(f" --only {v}" for v in args.only or [])

    status = 0
    for version in args.only or sorted(VERSIONS):
        binary = getattr(args, f"registry_{version}")
        if not Path(binary).is_file():
            print(f"capture-events: registry {version} not found at {binary}", file=sys.stderr)
            return 2
        workdir = Path(tempfile.mkdtemp(prefix=f"drec-capture-{version}-"))
        receiver, processes = Receiver(), Processes(workdir)
        try:
            requests_dir = (args.requests_dir or workdir / "requests") / f"registry-{version}"
            captured, notes, events = capture(
                version, binary, workdir, receiver, processes, tools, requests_dir
            )
            out = args.out / f"registry-{version}"
            save(out, version, binary, captured, notes, command)
            (requests_dir / "summary.txt").write_text(summary(events))
            print(f"registry {version}: {len(captured)} files in {out}")
            for note in notes:
                print(f"  {note}")
            print(f"  each scenario's requests and a summary of its events: {requests_dir}")
        except Failure as e:
            print(f"capture-events: registry {version}: {e}", file=sys.stderr)
            for log in sorted(workdir.glob("registry-*.log")):
                print(f"--- {log.name} ---\n{processes.log_tail(log.stem)}", file=sys.stderr)
            status = 1
        finally:
            processes.stop_all()
            receiver.stop()
            if args.keep_workdir:
                print(f"workdir kept: {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
