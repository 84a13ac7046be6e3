#!/usr/bin/env python3
"""End-to-end test of `drec backfill` (a registry's own log) and `drec replay` (captured envelopes).

Why this test exists: history from before drec only helps retention if it counts exactly as the
notifications would have; the registry's log says less than a notification (no digest of a
request by tag at info level, the user only on some lines in 2.x), so only a real registry's
log shows whether the two agree. Each run starts a real registry (Debian's 2.8; the 3.x binary of
scripts/build-registry3.sh when it exists) with htpasswd users, delete enabled and its log
captured to a file, notifying drec A (SQLite) and a capture server that keeps every envelope.
skopeo and plain HTTP then push tags, a second tag of the same digest, a multi-arch index, pull
by tag and by digest, inspect, HEAD and delete. Once A has every event (the registry's queue is
empty), the registry is stopped and:

  * backfill: the log goes into an empty store B (`drec backfill`); per repository, tag and
    digest B's counters (numpulls, numpushs, numchecks, numindexpulls, numdeletes) equal A's
    (2.8 at log.level debug, whose storage traces name every digest). Registry 3.x logs no
    digest of a request by tag at any level: its run checks that exactly the requests by tag
    are reported as missing_digest and every other request is applied (or is a delete of a
    digest B never saw as a manifest), and that a store which knows team/app:v1 (the last pull's
    envelope replayed into it) resolves v1's earlier requests, so v1's counters become A's.
    A second backfill of the same log applies nothing. Backfilling the log into A itself changes
    no counter of A (every line is at or after A's observation start); when the API reports
    `observedsince`, it is then no later than the log's first line.
  * replay: the captured envelopes (one per line) go into an empty store C (`drec replay`);
    C's counters equal A's; a second replay applies nothing (all duplicates); a file with a bad
    line reports its number, applies the good lines and exits 1.

Runs: 2.8 with the text log formatter, 2.8 with JSON, and 3.x with text and JSON when the binary
is there (otherwise a line says why that part is skipped).

Usage: backfill_e2e.py --drec PATH --workdir DIR [--registry BINARY] [--registry3 BINARY]
Python standard library only; needs skopeo and umoci (exits 77 saying why when they are missing).
Every process it starts is stopped when it ends.
"""

from __future__ import annotations

import argparse
import base64
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
from drec_harness import Checks, Drec, Failure, fail, free_port, prepare_workdir, stop_process
from oci_images import Image, bcrypt_hash, build_images, run
from registry_harness import wait_until

WORKDIR_MARKER = ".backfill_e2e"
TOKEN = "backfill-e2e-token"
WAIT_S = 30.0
COMMAND_TIMEOUT_S = 120.0
COUNTERS = ("numpulls", "numpushs", "numchecks", "numindexpulls", "numdeletes")
REPOSITORIES = ("team/app", "team/multi")
USERS = {"alice": "alice-secret", "bob": "bob-secret"}
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
REGISTRY3_DEFAULT = Path.home() / ".cache" / "drec" / "registry3" / "registry"


class EnvelopeCapture:
    """Plain-HTTP notification endpoint that keeps every envelope body as the registry sent it."""

    def __init__(self):
        self.bodies: list[bytes] = []
        self.lock = threading.Lock()
        capture = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with capture.lock:
                    capture.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def envelopes(self) -> list[dict]:
        with self.lock:
            return [json.loads(b) for b in self.bodies]

    def write_lines(self, path: Path) -> None:
        """One envelope a line, as `drec replay` reads them."""
        with self.lock:
            path.write_bytes(
                b"".join(json.dumps(json.loads(b)).encode() + b"\n" for b in self.bodies)
            )

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Registry:
    """A registry process whose log goes to a file, notifying drec and the capture server."""

    def __init__(
        self,
        binary: str,
        workdir: Path,
        level: str,
        formatter: str,
        drec_url: str,
        capture_url: str,
        users: dict[str, str] | None,
    ):
        self.binary = binary
        self.workdir = workdir
        self.log = workdir / "registry.log"
        self.port, self.debug_port = free_port(), free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.users = users
        self.proc: subprocess.Popen | None = None
        endpoint = {"timeout": "2s", "threshold": 3, "backoff": "100ms"}
        config = {
            "version": "0.1",
            "log": {"level": level, "formatter": formatter, "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(workdir / "storage")},
                "delete": {"enabled": True},
            },
            "http": {"addr": self.host, "debug": {"addr": f"127.0.0.1:{self.debug_port}"}},
            "notifications": {
                "endpoints": [
                    {
                        "name": "drec",
                        "url": drec_url,
                        "headers": {"Authorization": [f"Bearer {TOKEN}"]},
                        **endpoint,
                    },
                    {"name": "capture", "url": capture_url, **endpoint},
                ]
            },
        }
        if users:
            htpasswd = workdir / "htpasswd"
            htpasswd.write_text("".join(f"{u}:{bcrypt_hash(p)}\n" for u, p in users.items()))
            config["auth"] = {"htpasswd": {"realm": "backfill-e2e", "path": str(htpasswd)}}
        self.config = workdir / "config.yml"
        self.config.write_text(json.dumps(config, indent=2))

    def start(self, ca: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_", "OTEL_"))}
        env |= {"SSL_CERT_FILE": str(ca), "OTEL_TRACES_EXPORTER": "none"}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["setpriv", "--pdeathsig", "TERM", self.binary, "serve", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )

        def ready():
            if self.proc.poll() is not None:
                fail(f"registry exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2).close()
            except urllib.error.HTTPError as e:
                return e.code == 401
            except OSError:
                return False
            return True

        wait_until("the registry's /v2/", ready, WAIT_S)

    def pending(self) -> int:
        """Events queued for delivery, over both endpoints (the registry's expvar)."""
        url = f"http://127.0.0.1:{self.debug_port}/debug/vars"
        with urllib.request.urlopen(url, timeout=5) as resp:
            endpoints = json.load(resp)["registry"]["notifications"]["endpoints"]
        return sum(e["Metrics"]["Pending"] for e in endpoints)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


class Traffic:
    """skopeo and plain HTTP against the registry, as named users."""

    def __init__(self, registry: Registry, layout: Path, scratch: Path):
        self.registry = registry
        self.layout = layout
        self.scratch = scratch

    def _creds(self, flag: str, user: str) -> list[str]:
        return [flag, f"{user}:{USERS[user]}"] if self.registry.users else []

    def _docker(self, repo: str, ref: str) -> str:
        sep = "@" if ref.startswith("sha256:") else ":"
        return f"docker://{self.registry.host}/{repo}{sep}{ref}"

    def skopeo(self, *argv: str, capture: bool = False) -> str:
        return run(
            "skopeo", "--insecure-policy", "--tmpdir", str(self.scratch), *argv, capture=capture
        )

    def push(self, user: str, image: Image, repo: str, tag: str) -> None:
        self.skopeo(
            "copy",
            *(["--all"] if image.index else []),
            "--dest-tls-verify=false",
            *self._creds("--dest-creds", user),
            f"oci:{self.layout}:{image.ref}",
            self._docker(repo, tag),
        )

    def pull(self, user: str, repo: str, ref: str, arch: str | None = None) -> None:
        self.skopeo(
            *(["--override-arch", arch] if arch else []),
            "copy",
            "--src-tls-verify=false",
            *self._creds("--src-creds", user),
            self._docker(repo, ref),
            f"oci:{self.scratch / 'pulled'}:x",
        )

    def inspect(self, user: str, repo: str, ref: str) -> str:
        return self.skopeo(
            "inspect",
            "--tls-verify=false",
            *self._creds("--creds", user),
            "--format",
            "{{.Digest}}",
            self._docker(repo, ref),
            capture=True,
        ).strip()

    def head(self, user: str, repo: str, ref: str) -> None:
        headers = {"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"}
        if self.registry.users:
            pair = base64.b64encode(f"{user}:{USERS[user]}".encode()).decode()
            headers["Authorization"] = f"Basic {pair}"
        url = f"http://{self.registry.host}/v2/{repo}/manifests/{ref}"
        request = urllib.request.Request(url, method="HEAD", headers=headers)
        with urllib.request.urlopen(request, timeout=10) as resp:
            if resp.status != 200:
                fail(f"HEAD {url}: status {resp.status}")

    def delete(self, user: str, repo: str, ref: str) -> None:
        self.skopeo(
            "delete", "--tls-verify=false", *self._creds("--creds", user), self._docker(repo, ref)
        )


def drive(traffic: Traffic, images: dict[str, Image]) -> None:
    """Pushes with tags (two tags of one digest), a multi-arch index, pulls by tag and digest,
    inspects, HEADs and deletes."""
    amd64, arm64, multi = images["amd64"], images["arm64"], images["multi"]
    traffic.push("alice", amd64, "team/app", "v1")
    traffic.push("alice", arm64, "team/app", "v2")
    traffic.push("alice", arm64, "team/app", "rc")
    traffic.pull("bob", "team/app", "v1")
    if traffic.inspect("bob", "team/app", "v1") != amd64.digest:
        fail("skopeo inspect reports another digest than the OCI layout's")
    traffic.head("bob", "team/app", "v1")
    traffic.head("bob", "team/app", "v2")
    traffic.push("alice", multi, "team/multi", "latest")
    traffic.pull("bob", "team/multi", "latest", arch="arm64")
    traffic.pull("bob", "team/multi", images["amd64"].digest)
    traffic.pull("alice", "team/app", amd64.digest)
    traffic.delete("alice", "team/app", "rc")  # by digest: v2 goes too
    traffic.pull("bob", "team/app", "v1")


def statistics(drec: Drec) -> dict:
    """Per repository: its counters, each tag's (with digest and deleted) and each digest's."""

    def get(path: str):
        return drec.request("GET", "/api/v1/" + path).expect(200).json

    result = {}
    for repo in REPOSITORIES:
        record = get(f"repositories/{repo}")
        tags = get(f"repositories/{repo}/-/tags")["tags"]
        digests = get(f"repositories/{repo}/-/digests")
        digest_items = digests["digests"]
        result[repo] = {
            "counters": {c: record[c] for c in COUNTERS},
            "tags": {
                t["tag"]: {
                    "digest": t["digest"],
                    "deleted": t["deleted"],
                    **{c: t[c] for c in COUNTERS},
                }
                for t in tags
            },
            "digests": {d["digest"]: {c: d[c] for c in COUNTERS} for d in digest_items},
        }
    return result


def observed_since(drec: Drec) -> dict[str, str | None] | None:
    """Each repository's observedsince, or None when this drec's API does not report it."""
    values = {}
    for repo in REPOSITORIES:
        record = drec.request("GET", f"/api/v1/repositories/{repo}").expect(200).json
        if "observedsince" not in record:
            return None
        values[repo] = record["observedsince"]
    return values


def diff(a: dict, b: dict, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            line
            for k in sorted(a.keys() | b.keys())
            for line in diff(a.get(k, "<missing>"), b.get(k, "<missing>"), f"{path}/{k}")
        ]
    return [] if a == b else [f"{path}: {a!r} -> {b!r}"]


def summary(output: str) -> dict[str, int]:
    """The `name: number` lines of a replay or backfill summary."""
    return {m[1]: int(m[2]) for m in re.finditer(r"^([a-z ]+): (\d+)", output, re.M)}


def command(args, name: str, *argv: str, expect: int = 0) -> tuple[dict[str, int], str]:
    proc = subprocess.run(
        [args.drec, name, *argv],
        check=False,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    shown = " ".join(Path(a).name if "/" in a else a for a in argv)
    print(
        f"     $ drec {name} {shown}: exit {proc.returncode}\n"
        + "".join(f"     | {line}\n" for line in (proc.stderr + proc.stdout).splitlines()),
        end="",
        flush=True,
    )
    if proc.returncode != expect:
        fail(f"drec {name} exited {proc.returncode}, expected {expect}")
    return summary(proc.stdout), proc.stderr + proc.stdout


class Run:
    """One registry version and log format: registry, drec A, traffic, then the checks."""

    def __init__(
        self,
        args,
        workdir: Path,
        checks: Checks,
        name: str,
        binary: str,
        formatter: str,
        level: str,
        full_digests: bool,
        images,
        layout: Path,
    ):
        self.args, self.checks, self.name = args, checks, name
        self.workdir = workdir / name
        self.workdir.mkdir()
        self.binary, self.formatter, self.level = binary, formatter, level
        self.full_digests = full_digests
        self.images, self.layout = images, layout
        self.started: list = []

    def drec(self, label: str, db: Path) -> Drec:
        home = self.workdir / label
        home.mkdir(exist_ok=True)
        drec = Drec(
            self.args.drec,
            home,
            store="sqlite",
            mongodb_uri=None,
            database_prefix="drec_backfill",
            token=TOKEN,
            tls_args=["--server-ssl-generated-dir", str(home / "tls")],
            cafile=home / "tls" / "cert.pem",
            start_timeout=WAIT_S,
            extra_args=("--storage-sqlite-path", str(db)),
        )
        self.started.append(drec)
        drec.start()
        return drec

    def store_flags(self, db: Path) -> list[str]:
        return ["--storage-sqlite-path", str(db)]

    def execute(self) -> None:
        try:
            self._execute()
        finally:
            for process in reversed(self.started):
                process.stop()

    def _execute(self) -> None:
        a_db = self.workdir / "a.db"
        drec_a = self.drec("a", a_db)
        capture = EnvelopeCapture()
        self.started.append(capture)
        users = USERS if bcrypt_hash("probe") else None
        if users is None:
            print("     note: this Python cannot make bcrypt hashes; the registry is anonymous")
        registry = Registry(
            self.binary,
            self.workdir,
            self.level,
            self.formatter,
            f"https://127.0.0.1:{drec_a.port}/events",
            capture.url,
            users,
        )
        self.started.append(registry)
        registry.start(drec_a.cafile)
        scratch = self.workdir / "tmp"
        scratch.mkdir()
        drive(Traffic(registry, self.layout, scratch), self.images)
        wait_until("the registry to deliver every event", lambda: registry.pending() == 0, WAIT_S)
        registry.stop()  # every log line is written
        log = registry.log
        envelopes = capture.envelopes()
        events = [e for env in envelopes for e in env["events"]]
        manifest_events = [
            e
            for e in events
            if e["action"] == "delete" or e["target"].get("mediaType") in (OCI_MANIFEST, OCI_INDEX)
        ]
        # One request can notify several events (2.8 fans a DELETE by digest out to its tags):
        # the log has one line a request.
        requests = {e["request"]["id"]: e for e in manifest_events}
        by_tag = sum(
            1 for e in requests.values() if e["action"] != "delete" and e["target"].get("tag")
        )
        a_before = statistics(drec_a)
        print(
            f"     {len(envelopes)} envelopes, {len(manifest_events)} manifest events "
            f"({by_tag} naming a tag); log: {sum(1 for _ in log.open())} lines"
        )

        def traffic_covers_every_counter():
            totals = {c: sum(r["counters"][c] for r in a_before.values()) for c in COUNTERS}
            if not all(totals.values()):
                fail(f"the traffic left a counter at 0 in A, so it checks nothing: {totals}")

        self.checks.run(
            f"{self.name}: A counted every kind of request", traffic_covers_every_counter
        )

        b_db = self.workdir / "b.db"
        first, first_text = command(self.args, "backfill", *self.store_flags(b_db), str(log))
        drec_b = self.drec("b", b_db)

        def backfill_counts():
            if first["manifest requests"] != len(requests):
                fail(
                    f"{first['manifest requests']} manifest requests in the log, "
                    f"{len(requests)} notified"
                )
            if self.full_digests:
                if first["ignored"] != 0:
                    fail(f"{first['ignored']} lines ignored")
                lines = diff(a_before, statistics(drec_b))
                if lines:
                    fail("B (backfilled) differs from A (notified):\n" + "\n".join(lines))
            else:
                # Every request by tag lacks its digest; the others count, but for a delete of a
                # digest that B only saw pushed by tag (unknown to it as a manifest).
                m = re.search(r"missing_digest: (\d+)", first_text)
                missing = int(m[1]) if m else 0
                m = re.search(r"unknown_digest_delete: (\d+)", first_text)
                unknown = int(m[1]) if m else 0
                if missing != by_tag or first["applied"] + unknown != len(requests) - by_tag:
                    fail(
                        f"expected the {by_tag} requests by tag ignored as missing_digest (3.x "
                        f"logs no digest for them) and the {len(requests) - by_tag} others "
                        "applied"
                    )

        self.checks.run(
            f"{self.name}: backfilled counters equal the notified ones", backfill_counts
        )

        def backfill_again():
            before = statistics(drec_b)
            again, _ = command(self.args, "backfill", *self.store_flags(b_db), str(log))
            if again["applied"] != 0:
                fail(f"a second backfill applied {again['applied']} events")
            lines = diff(before, statistics(drec_b))
            if lines:
                fail("a second backfill changed B:\n" + "\n".join(lines))

        self.checks.run(f"{self.name}: a second backfill adds nothing", backfill_again)

        def backfill_into_a():
            out, _ = command(self.args, "backfill", *self.store_flags(a_db), str(log))
            if out["lines used"] != 0 or out["lines skipped as overlap"] != len(requests):
                fail("every line should be at or after A's observation start")
            lines = diff(a_before, statistics(drec_a))
            if lines:
                fail("backfilling A's own traffic changed A:\n" + "\n".join(lines))
            since = observed_since(drec_a)
            if since is None:
                fail("the API reports no observedsince")
            first_line = next(
                m[1] for line in log.open() if (m := re.search(r'time"?[=:]"([0-9T:.\-]+Z)', line))
            )
            for repo, value in since.items():
                if value is None or value[:23] > first_line[:23]:
                    fail(
                        f"{repo}: observedsince {value}, later than the log's first line "
                        f"{first_line}"
                    )

        self.checks.run(f"{self.name}: backfilling A itself changes no counter", backfill_into_a)

        replay_file = self.workdir / "envelopes.jsonl"
        capture.write_lines(replay_file)
        c_db = self.workdir / "c.db"
        replayed, _ = command(self.args, "replay", *self.store_flags(c_db), str(replay_file))
        drec_c = self.drec("c", c_db)

        def replay_equal():
            if replayed["events"] != len(events) or replayed["bad lines"] != 0:
                fail(f"replay read {replayed['events']} events, the registry sent {len(events)}")
            lines = diff(a_before, statistics(drec_c))
            if lines:
                fail("C (replayed) differs from A (notified):\n" + "\n".join(lines))

        self.checks.run(f"{self.name}: replayed counters equal the notified ones", replay_equal)

        def replay_twice():
            again, _ = command(self.args, "replay", *self.store_flags(c_db), str(replay_file))
            if again["applied"] != 0 or again["duplicates"] != replayed["applied"]:
                fail(
                    f"a second replay applied {again['applied']}, "
                    f"{again['duplicates']} duplicates (expected {replayed['applied']})"
                )
            lines = diff(a_before, statistics(drec_c))
            if lines:
                fail("a second replay changed C:\n" + "\n".join(lines))

        self.checks.run(f"{self.name}: a second replay adds nothing", replay_twice)

        def replay_bad_line():
            bad = self.workdir / "bad.jsonl"
            lines = replay_file.read_text().splitlines()
            bad.write_text("\n".join([lines[0], "{not an envelope", *lines[1:]]) + "\n")
            d_db = self.workdir / "d.db"
            out, text = command(self.args, "replay", *self.store_flags(d_db), str(bad), expect=1)
            if f"{bad}:2:" not in text or out["bad lines"] != 1:
                fail("the bad line 2 was not reported")
            if out["applied"] != replayed["applied"]:
                fail(
                    f"{out['applied']} applied, {replayed['applied']} expected from the good lines"
                )

        self.checks.run(
            f"{self.name}: a bad line is reported, the good ones applied", replay_bad_line
        )

        if not self.full_digests:
            self.checks.run(
                f"{self.name}: tags the log leaves unresolved take the store's digest",
                self._store_digests,
                replay_file,
                log,
                a_before,
            )

    def _store_digests(self, replay_file: Path, log: Path, a_before: dict) -> None:
        """A store that has seen only the last pull of team/app:v1 (its envelope replayed) knows
        v1's digest and observes team/app from that pull on: backfilling the log resolves the
        earlier requests of v1 through it, so v1's counters become A's."""
        last = None
        for line in replay_file.read_text().splitlines():
            for e in json.loads(line)["events"]:
                t = e["target"]
                if e["action"] == "pull" and t["repository"] == "team/app" and t.get("tag") == "v1":
                    last = line
        if last is None:
            fail("no notified pull of team/app:v1")
        one = self.workdir / "last-pull.jsonl"
        one.write_text(last + "\n")
        s_db = self.workdir / "s.db"
        command(self.args, "replay", *self.store_flags(s_db), str(one))
        out, _ = command(self.args, "backfill", *self.store_flags(s_db), str(log))
        if out["digests from the store"] < 1:
            fail("no digest came from the store")
        drec_s = self.drec("s", s_db)
        got = statistics(drec_s)["team/app"]["tags"].get("v1")
        want = a_before["team/app"]["tags"]["v1"]
        if got != want:
            fail(f"team/app:v1: {got} after the backfill, A has {want}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drec", required=True, help="drec binary")
    p.add_argument("--workdir", required=True, type=Path, help="scratch directory (cleared)")
    p.add_argument(
        "--registry",
        default=shutil.which("docker-registry") or "docker-registry",
        help="registry 2.x binary (Debian's docker-registry)",
    )
    p.add_argument(
        "--registry3",
        default=str(REGISTRY3_DEFAULT),
        help="registry 3.x binary (scripts/build-registry3.sh)",
    )
    args = p.parse_args()
    for tool in ("skopeo", "umoci", "setpriv", args.registry):
        if not shutil.which(tool):
            print(f"SKIP: {tool} is not installed (scripts/install-deps.sh installs it)")
            return 77
    started_at = time.monotonic()
    checks = Checks(indent_details=True, catch_unexpected=True)
    setup_error = None
    try:
        workdir = prepare_workdir(args.workdir, WORKDIR_MARKER)
        layout = workdir / "oci"
        images = build_images(layout, workdir)
        runs = [
            ("registry-2.8-text", args.registry, "text"),
            ("registry-2.8-json", args.registry, "json"),
        ]
        if os.access(args.registry3, os.X_OK):
            runs += [
                ("registry-3-text", args.registry3, "text"),
                ("registry-3-json", args.registry3, "json"),
            ]
        else:
            print(
                f"SKIP registry 3.x part: no executable {args.registry3} "
                "(scripts/build-registry3.sh builds it)"
            )
        for name, binary, formatter in runs:
            full = "2.8" in name
            # 2.8 names the digest of a request by tag only in its debug traces; 3.x never does,
            # so it runs at the level operators use.
            Run(
                args,
                workdir,
                checks,
                name,
                binary,
                formatter,
                "debug" if full else "info",
                full,
                images,
                layout,
            ).execute()
    except Failure as e:
        setup_error = str(e)
    if setup_error:
        print(f"FAIL setup: {setup_error}")
        checks.failed += 1
    print(
        f"backfill_e2e: {checks.passed} passed, {checks.failed} failed "
        f"in {time.monotonic() - started_at:.0f} s"
    )
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
