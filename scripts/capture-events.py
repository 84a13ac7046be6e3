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

Usage: scripts/capture-events.py [--out tests/data] [--only 2.8|3.1]
                                 [--registry-2.8 PATH] [--registry-3.1 PATH] [--keep-workdir]
Only the Python standard library is used (plus skopeo, umoci and setpriv on PATH).
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import http.server
import json
import os
import shutil
import signal
import sys
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
    version: str, binary: str, workdir: Path, receiver: Receiver, processes: Processes
) -> tuple[dict[str, bytes], list[str]]:
    """Runs the operations against `binary`; returns each fixture's body and notes on how the
    registry behaved where versions differ."""
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
    if receiver.refused:
        raise Failure(f"{receiver.refused} notifications came without the Authorization header")
    return captured, notes


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
    p.add_argument("--keep-workdir", action="store_true", help="keep the temporary directory")
    args = p.parse_args()
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
            captured, notes = capture(version, binary, workdir, receiver, processes)
            out = args.out / f"registry-{version}"
            save(out, version, binary, captured, notes, command)
            print(f"registry {version}: {len(captured)} envelopes in {out}")
            for note in notes:
                print(f"  {note}")
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
