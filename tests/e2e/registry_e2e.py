#!/usr/bin/env python3
"""End-to-end test of drec against a real CNCF Distribution registry driven by skopeo.

Why this test exists: drec's unit tests feed it captured events, but only a real registry shows
what really arrives (HEAD-then-GET, children pushed by digest, deletes fanning out to tags,
retries with the same id). This program starts drec, two registries that notify it (one with
htpasswd users, one anonymous behind a fault-injecting TCP proxy) and a capture server that
receives every notification as well, then drives the registries with skopeo and asserts drec's
HTTP API against a model of the operations performed.

The expectations are never copied from a run. Each operation tells the model which manifest
requests it makes (what skopeo is known to do); the model turns them into the events the
registry sends and applies docs/counting.md to them. The capture server checks the first half
(a mismatch there means skopeo or the registry changed, not drec); the API checks drec.

Usage: registry_e2e.py --drec PATH --workdir DIR [--registry BINARY]
                       [--store sqlite | --store mongodb --mongodb-uri URI
                         | --store postgresql --postgresql-uri URI]
                       [--after-scenario CMD [ARGS...]]
Only the Python standard library is used. Exit status 0 when every check passed.

--after-scenario (last option: everything after it is the command) runs a further test against
the drec the scenarios fed, once every check passed and while drec still runs: the command gets
DREC_URL, DREC_TOKEN, DREC_CA_FILE and DREC_E2E_EXPECTED (a JSON file of the model's numbers for
EXPECTED_REPOSITORY, see `Context.expectations`), and its failure fails this run.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
import drec_harness
from drec_harness import (
    Checks,
    Failure,
    add_drec_options,
    check_drec_options,
    differences,
    fail,
    free_port,
    prepare_workdir,
)
from oci_images import Image, bcrypt_hash, build_images, run
from registry_harness import Pki, make_pki, wait_until

TOKEN = "e2e-token-0123456789abcdef"
EXPECTED_REPOSITORY = "team/app"  # the repository whose numbers --after-scenario gets
AFTER_SCENARIO_TIMEOUT_S = 600.0
WAIT_S = 20.0  # bound of every wait for asynchronous delivery
PROMPT_S = 10.0  # "promptly": events behind ignored ones must not wait for retries
NOTIFY_TIMEOUT_S = 1.0  # registry endpoint timeout; the proxy delays longer than this
PROXY_DELAY_S = 2.5
WORKDIR_MARKER = ".registry_e2e"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
INDEX_TYPES = {OCI_INDEX, "application/vnd.docker.distribution.manifest.list.v2+json"}
BLOB_TYPE = "application/octet-stream"
COUNTERS = ("numpulls", "numpushs", "numchecks", "numindexpulls", "numdeletes")
TAG_COUNTERS = ("numpulls", "numpushs", "numchecks", "numindexpulls")
API_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def parse_time_ms(text: str) -> int:
    """RFC 3339 (any offset, any fraction digits) to Unix milliseconds, truncating."""
    m = re.fullmatch(r"(.{19})(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if not m:
        raise Failure(f"not an RFC 3339 time: {text!r}")
    offset = "+00:00" if m[3] == "Z" else m[3]
    seconds = int(datetime.fromisoformat(m[1] + offset).timestamp())
    return seconds * 1000 + int((m[2] or "0")[:3].ljust(3, "0"))


# ---------------------------------------------------------------------------------------------
# Processes and in-process servers


class Processes:
    """Every child process the test starts, so that `stop_all` in a `finally` ends them all.

    setpriv (util-linux) gives each child a parent-death signal, so even a SIGKILL of this
    program (a ctest timeout) leaves no registry behind (drec_harness.Drec does the same).
    """

    def __init__(self, logdir: Path):
        self.logdir = logdir
        self.running: dict[str, subprocess.Popen] = {}
        self.groups: set[str] = set()  # those started in a process group of their own

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        with open(self.logdir / f"{name}.log", "ab") as log:
            self.running[name] = subprocess.Popen(
                ["setpriv", "--pdeathsig", "TERM", *argv],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )

    def run_foreground(
        self, name: str, argv: list[str], env: dict[str, str], timeout: float
    ) -> int:
        """Runs a command to its end with this program's stdout and stderr (a test whose report
        belongs in ours). It gets a process group (session) of its own, so that `stop_all`, if
        this program is stopped meanwhile, ends its children too (node --test runs each file
        in a child process)."""
        sys.stdout.flush()
        proc = subprocess.Popen(
            ["setpriv", "--pdeathsig", "TERM", *argv],
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        self.running[name] = proc
        self.groups.add(name)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"{argv[0]} did not finish in {timeout:.0f} s") from None
        finally:
            if proc.returncode is not None:  # otherwise stop_all ends it
                del self.running[name]
                self.groups.discard(name)

    def check_alive(self, name: str) -> None:
        proc = self.running[name]
        if proc.poll() is not None:
            raise Failure(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.logdir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def _signal(self, name: str, sig: int) -> None:
        proc = self.running[name]
        if name in self.groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)

    def stop_all(self) -> None:
        for name, proc in list(self.running.items()):
            self._signal(name, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._signal(name, signal.SIGKILL)
                proc.wait(timeout=10)
            del self.running[name]
            self.groups.discard(name)


class CaptureServer:
    """Plain-HTTP notification endpoint that records every event, by registry (the URL path).

    Each registry notifies it as a second endpoint beside drec, so the test sees exactly what
    the registry sent and can tell a changed registry or skopeo from a drec bug.
    """

    def __init__(self):
        self.events: dict[str, list[dict]] = {}
        self.lock = threading.Lock()
        capture = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with capture.lock:
                    capture.events.setdefault(self.path.strip("/"), []).extend(body["events"])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self, source: str) -> list[dict]:
        with self.lock:
            return list(self.events.get(source, []))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class TlsRecordScanner:
    """Follows TLS record boundaries in one direction of a connection, without decrypting.

    Lets the proxy find the first application-data record (type 23) a registry sends: the
    request (or, in TLS 1.3, the Finished message just before it) rather than the handshake.
    """

    def __init__(self):
        self.header = b""
        self.skip = 0

    def feed(self, data: bytes) -> bool:
        """True if a record header of type application_data starts in `data`."""
        seen, i = False, 0
        while i < len(data):
            if self.skip:
                step = min(self.skip, len(data) - i)
                self.skip -= step
                i += step
                continue
            take = data[i : i + 5 - len(self.header)]
            self.header += take
            i += len(take)
            if len(self.header) == 5:
                seen |= self.header[0] == 23
                self.skip = int.from_bytes(self.header[3:5], "big")
                self.header = b""
        return seen


class DelayingProxy:
    """TCP proxy between a registry and drec; TLS passes through untouched.

    Once armed, it holds drec's reply to the next request longer than the registry's endpoint
    timeout, so the registry gives up and sends the same event (same id) again: the way
    duplicates happen in production when drec answers slowly.
    """

    def __init__(self, upstream_port: int, delay: float):
        self.upstream_port = upstream_port
        self.delay = delay
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.armed = False
        self.delayed = threading.Event()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def arm(self) -> None:
        with self.lock:
            self.armed = True
            self.delayed.clear()

    def _claim(self) -> bool:
        with self.lock:
            claimed, self.armed = self.armed, False
            return claimed

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # listener closed by stop()
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            upstream.settimeout(None)
        except OSError:
            client.close()  # drec is down: the registry sees a failure and retries
            return
        with self.lock:
            self.sockets += [client, upstream]
        hold = threading.Event()
        threading.Thread(
            target=self._to_upstream, args=(client, upstream, hold), daemon=True
        ).start()
        self._to_client(upstream, client, hold)

    def _to_upstream(self, client, upstream, hold) -> None:
        scanner = TlsRecordScanner()
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                if scanner.feed(data) and not hold.is_set() and self._claim():
                    hold.set()  # before forwarding, so the reply cannot slip through
                upstream.sendall(data)
        with contextlib.suppress(OSError):
            upstream.shutdown(socket.SHUT_WR)

    def _to_client(self, upstream, client, hold) -> None:
        with contextlib.suppress(OSError):
            while data := upstream.recv(65536):
                if hold.is_set():
                    time.sleep(self.delay)
                    hold.clear()
                    self.delayed.set()
                client.sendall(data)
        for s in (client, upstream):
            s.close()

    def stop(self) -> None:
        self.listener.close()
        with self.lock:
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()


# ---------------------------------------------------------------------------------------------
# TLS material, images


# ---------------------------------------------------------------------------------------------
# drec and the registries


class Drec(drec_harness.Drec):
    """drec with the e2e CA's certificate, and the API reads the scenarios need."""

    def __init__(self, args, pki: Pki, workdir: Path, database_prefix: str = "drec_e2e"):
        """`database_prefix` names the MongoDB database or PostgreSQL schema: one per drec a
        program starts."""
        super().__init__(
            args.drec,
            workdir,
            store=args.store,
            mongodb_uri=args.mongodb_uri,
            postgresql_uri=args.postgresql_uri,
            database_prefix=database_prefix,
            token=TOKEN,
            tls_args=["--server-ssl-cert", str(pki.cert), "--server-ssl-cert-key", str(pki.key)],
            cafile=pki.ca,
            start_timeout=WAIT_S,
        )

    def api(self, path: str):
        """JSON of an API resource, or None for 404."""
        r = self.request("GET", "/api/v1/" + path)
        if r.status == 404:
            return None
        if r.status != 200:
            raise Failure(f"GET /api/v1/{path}: status {r.status}: {r.body[:200]!r}")
        return json.loads(r.body)

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of a Prometheus metric whose labels include `labels`."""
        r = self.request("GET", "/metrics", auth=None)
        if r.status != 200:
            raise Failure(f"GET /metrics: status {r.status}")
        total = 0.0
        for line in r.body.decode().splitlines():
            m = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
            if m and all(f'{k}="{v}"' in (m[1] or "") for k, v in labels.items()):
                total += float(m[2])
        return total


class Registry:
    """One registry process; it notifies drec (directly or through the proxy) and the capture
    server."""

    def __init__(
        self,
        name: str,
        binary: str,
        workdir: Path,
        drec_url: str,
        capture: CaptureServer,
        users: dict[str, str] | None,
    ):
        self.name = name
        self.binary = binary
        self.workdir = workdir / name
        self.workdir.mkdir()
        self.port, self.debug_port = free_port(), free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.users = users
        self.capture = capture
        self.config = self._write_config(drec_url, capture.url + "/" + name)

    def _write_config(self, drec_url: str, capture_url: str) -> Path:
        """Registry configuration; JSON is YAML, and 2.8 and 3.x read the same keys here."""
        endpoint = {
            "timeout": f"{int(NOTIFY_TIMEOUT_S * 1000)}ms",
            "threshold": 3,
            "backoff": "100ms",
        }
        config = {
            "version": "0.1",
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.workdir / "storage")},
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
        if self.users:
            htpasswd = self.workdir / "htpasswd"
            htpasswd.write_text("".join(f"{u}:{bcrypt_hash(p)}\n" for u, p in self.users.items()))
            config["auth"] = {"htpasswd": {"realm": "drec-e2e", "path": str(htpasswd)}}
        path = self.workdir / "config.yml"
        path.write_text(json.dumps(config, indent=2))
        return path

    def start(self, processes: Processes, ca: Path) -> None:
        """Starts it trusting the test CA; REGISTRY_* variables would override the config, and
        3.x would export traces over OTLP unless told not to."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_", "OTEL_"))}
        env |= {"SSL_CERT_FILE": str(ca), "OTEL_TRACES_EXPORTER": "none"}
        processes.start(f"registry-{self.name}", [self.binary, "serve", str(self.config)], env=env)

        def ready():
            processes.check_alive(f"registry-{self.name}")
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2).close()
            except urllib.error.HTTPError as e:
                return e.code == 401
            except OSError:
                return False
            return True

        wait_until(f"registry {self.name} /v2/", ready)

    def captured(self) -> list[dict]:
        """Every event this registry sent to the capture server so far."""
        return self.capture.received(self.name)

    def endpoint_metrics(self, endpoint: str) -> dict:
        """The registry's own delivery counters (expvar): Pending, Events, Successes, Errors..."""
        url = f"http://127.0.0.1:{self.debug_port}/debug/vars"
        with urllib.request.urlopen(url, timeout=5) as resp:
            endpoints = json.load(resp)["registry"]["notifications"]["endpoints"]
        return next(e["Metrics"] for e in endpoints if e["name"] == endpoint)

    def delivery_failures(self) -> int:
        """Failed POSTs to drec (error statuses and timeouts); each one is retried."""
        metrics = self.endpoint_metrics("drec")
        return metrics["Failures"] + metrics["Errors"]

    def wait_drained(self, endpoint: str) -> None:
        wait_until(
            f"registry {self.name} to deliver every event to {endpoint}",
            lambda: self.endpoint_metrics(endpoint)["Pending"] == 0,
        )


# ---------------------------------------------------------------------------------------------
# The model: operations -> registry events -> the rules of docs/counting.md


@dataclasses.dataclass(frozen=True, order=True)
class Ev:
    """The fields of one registry event that matter for counting."""

    action: str
    repository: str
    kind: str  # image, index, blob, or "-" (deletes carry no media type)
    method: str
    tag: str
    digest: str
    actor: str

    @staticmethod
    def from_json(event: dict) -> Ev:
        target = event["target"]
        media_type = target.get("mediaType") or ""
        kind = (
            "index"
            if media_type in INDEX_TYPES
            else "blob"
            if media_type == BLOB_TYPE
            else "image"
            if media_type
            else "-"
        )
        return Ev(
            event["action"],
            target.get("repository", ""),
            kind,
            event.get("request", {}).get("method", ""),
            target.get("tag", ""),
            target.get("digest", ""),
            event.get("actor", {}).get("name", ""),
        )


@dataclasses.dataclass
class Window:
    """Wall-clock interval of one operation: its events' timestamps fall inside."""

    name: str
    start: int
    end: int = 0


@dataclasses.dataclass
class TagModel:
    digest: str
    live: bool = True
    counters: Counter = dataclasses.field(default_factory=Counter)


@dataclasses.dataclass
class RepoModel:
    counters: Counter = dataclasses.field(default_factory=Counter)
    tags: dict[str, TagModel] = dataclasses.field(default_factory=dict)
    actors: set[str] = dataclasses.field(default_factory=set)  # of counted pushes and pulls
    # Per named actor, every counted action: pushes, pulls, checks, index pulls, deletes.
    actor_counters: dict[str, Counter] = dataclasses.field(default_factory=dict)
    first_push: Window | None = None
    last_push: Window | None = None
    first_pull: Window | None = None
    last_pull: Window | None = None


class Model:
    """What drec's API must show, derived from the operations performed and docs/counting.md."""

    def __init__(self):
        self.repos: dict[str, RepoModel] = {}
        self.absent: set[str] = set()  # repositories that only saw ignored events
        self.index_children: dict[str, list[str]] = {}
        self.indexes_with_references: set[str] = set()  # learned from captured index pushes
        self.ignored = 0

    def tags_at(self, repo: RepoModel, digest: str) -> list[TagModel]:
        """Live tags a by-digest request counts for: pointing at it, or at an index listing it
        when the registry sent that index's `references`."""
        parents = {
            i for i in self.indexes_with_references if digest in self.index_children.get(i, [])
        }
        return [
            t for t in repo.tags.values() if t.live and (t.digest == digest or t.digest in parents)
        ]

    def apply(self, ev: Ev, window: Window) -> None:
        if ev.kind == "blob" or ev.action == "mount":
            self.ignored += 1
            if ev.repository not in self.repos:
                self.absent.add(ev.repository)
            return
        repo = self.repos.setdefault(ev.repository, RepoModel())
        self.absent.discard(ev.repository)
        if ev.action == "push":
            self._push(repo, ev, window)
        elif ev.action == "pull":
            self._pull(repo, ev, window)
        elif ev.action == "delete":
            self._delete(repo, ev)

    @staticmethod
    def _push(repo: RepoModel, ev: Ev, window: Window) -> None:
        if not ev.tag:
            return  # a child pushed by digest is no push of the repository
        repo.counters["numpushs"] += 1
        Model._count_actor(repo, ev, "numpushs")
        repo.first_push = repo.first_push or window
        repo.last_push = window
        tag = repo.tags.setdefault(ev.tag, TagModel(ev.digest))
        tag.digest, tag.live = ev.digest, True
        tag.counters["numpushs"] += 1
        if ev.actor:
            repo.actors.add(ev.actor)

    def _pull(self, repo: RepoModel, ev: Ev, window: Window) -> None:
        counter = (
            "numchecks"
            if ev.method == "HEAD"
            else "numindexpulls"
            if ev.kind == "index"
            else "numpulls"
        )
        repo.counters[counter] += 1
        self._count_actor(repo, ev, counter)
        if counter != "numchecks":  # a check is never a pull
            repo.first_pull = repo.first_pull or window
            repo.last_pull = window
        if counter == "numpulls" and ev.actor:
            repo.actors.add(ev.actor)
        if ev.tag:
            tag = repo.tags.setdefault(ev.tag, TagModel(ev.digest))
            tag.digest = ev.digest
            tags = [tag]
        else:
            tags = self.tags_at(repo, ev.digest)
        for tag in tags:
            tag.counters[counter] += 1

    @staticmethod
    def _count_actor(repo: RepoModel, ev: Ev, counter: str) -> None:
        if ev.actor:
            repo.actor_counters.setdefault(ev.actor, Counter())[counter] += 1

    @staticmethod
    def _delete(repo: RepoModel, ev: Ev) -> None:
        if ev.digest:
            repo.counters["numdeletes"] += 1
            Model._count_actor(repo, ev, "numdeletes")
            for tag in repo.tags.values():
                if tag.digest == ev.digest:
                    tag.live = False
        if ev.tag:
            repo.tags[ev.tag].live = False


class Operation:
    """One client action: the manifest requests it makes, as the events the registry sends.

    Each helper records the expected event and applies it to the model at once, so later
    requests in the same operation see the state it leaves (a delete fans out to the tags).
    """

    def __init__(self, model: Model, registry: Registry, name: str, actor: str, with_blobs: bool):
        self.model = model
        self.registry = registry
        self.window = Window(name, now_ms())
        self.actor = actor
        self.with_blobs = with_blobs  # compare blob events too (raw requests make a known set)
        self.expected: list[Ev] = []
        self.seen_before = len(registry.captured())

    def _event(self, action, repo, kind, method, tag="", digest="") -> None:
        ev = Ev(action, repo, kind, method, tag, digest, self.actor)
        self.expected.append(ev)
        self.model.apply(ev, self.window)

    def put(self, repo: str, image: Image, tag: str = "") -> None:
        self._event("push", repo, "index" if image.index else "image", "PUT", tag, image.digest)

    def get(self, repo: str, digest: str, index: bool = False, tag: str = "") -> None:
        self._event("pull", repo, "index" if index else "image", "GET", tag, digest)

    def head(self, repo: str, digest: str, tag: str = "") -> None:
        self._event("pull", repo, "image", "HEAD", tag, digest)

    def delete(self, repo: str, digest: str) -> None:
        """Deleting a manifest: one event with the digest, then one per tag that pointed at it."""
        tags = [t for t, m in self.model.repos[repo].tags.items() if m.live and m.digest == digest]
        self._event("delete", repo, "-", "DELETE", "", digest)
        for tag in tags:
            self._event("delete", repo, "-", "DELETE", tag)

    def blob(self, action: str, repo: str, method: str, digest: str) -> None:
        self._event(action, repo, "blob", method, "", digest)


# ---------------------------------------------------------------------------------------------
# Test context: checks, operations, state comparison


class Context:
    """Everything the scenarios share."""

    def __init__(self, args, workdir: Path, processes: Processes):
        self.args = args
        self.workdir = workdir
        self.processes = processes
        self.checks = Checks(indent_details=True)
        self.model = Model()
        self.pki = make_pki(workdir / "pki")
        self.layout = workdir / "oci"
        self.images = build_images(self.layout, workdir)
        for image in self.images.values():
            if image.index:
                self.model.index_children[image.digest] = image.children
        self.capture = CaptureServer()
        self.drec = Drec(args, self.pki, workdir)
        self.proxy: DelayingProxy | None = None
        self.registries: list[Registry] = []

    def start(self) -> None:
        self.drec.start()
        self.proxy = DelayingProxy(self.drec.port, PROXY_DELAY_S)
        users = {"alice": "alice-secret", "bob": "bob-secret"}
        if not bcrypt_hash("probe"):
            print("note: this Python cannot make bcrypt hashes; every registry is anonymous")
            users = None
        named = Registry(
            "named",
            self.args.registry,
            self.workdir,
            f"https://127.0.0.1:{self.drec.port}/events",
            self.capture,
            users,
        )
        anonymous = Registry(
            "anon",
            self.args.registry,
            self.workdir,
            f"https://127.0.0.1:{self.proxy.port}/events",
            self.capture,
            None,
        )
        for registry in (named, anonymous):
            registry.start(self.processes, self.pki.ca)
            self.registries.append(registry)

    def image_by_digest(self, digest: str) -> Image:
        return next(i for i in self.images.values() if i.digest == digest)

    def stop(self) -> None:
        if self.proxy:
            self.proxy.stop()
        self.capture.stop()
        self.drec.stop()

    @contextlib.contextmanager
    def operation(self, client: Client, name: str, with_blobs: bool = False):
        """Runs one operation, then checks the registry sent exactly the modelled events."""
        op = Operation(self.model, client.registry, name, client.user or "", with_blobs)
        yield op
        op.window.end = now_ms()
        self.checks.run(f"events of: {name}", self._verify_stream, op)

    def _verify_stream(self, op: Operation) -> None:
        def relevant(events):
            evs = (Ev.from_json(e) for e in events)
            return sorted(
                e for e in evs if op.with_blobs or (e.kind != "blob" and e.action != "mount")
            )

        def captured():
            return op.registry.captured()[op.seen_before :]

        with contextlib.suppress(Failure):
            wait_until("the modelled events", lambda: len(relevant(captured())) >= len(op.expected))
        op.registry.wait_drained("capture")
        events = captured()
        for target in (e["target"] for e in events):
            if target.get("mediaType") in INDEX_TYPES and target.get("references"):
                self.model.indexes_with_references.add(target["digest"])
        got, want = relevant(events), sorted(op.expected)
        if got != want:
            raise Failure(
                "the registry's events differ from the model (skopeo or registry "
                f"behaviour changed?)\n expected: {want}\n got:      {got}"
            )

    # -- drec's state against the model --

    def state_diff(self, names: list[str] | None) -> list[str]:
        """Mismatches between drec and the model, for `names` or (None) for everything."""
        problems = []
        for name, repo in sorted(self.model.repos.items()):
            if names is None or name in names:
                problems += self._repository_diff(name, repo)
        for name in sorted(self.model.absent):
            if names is not None and name not in names:
                continue
            if self.drec.api(f"repositories/{name}") is not None:
                problems.append(f"{name}: exists, but it only ever saw ignored events")
        if names is not None:
            return problems
        listing = self.drec.api("repositories") or {}
        listed = sorted(r.get("repositoryname") for r in listing.get("repositories", []))
        if listed != sorted(self.model.repos) or listing.get("total") != len(self.model.repos):
            problems.append(
                f"listing: {listed} total {listing.get('total')}, "
                f"expected {sorted(self.model.repos)}"
            )
        return problems

    def _repository_diff(self, name: str, repo: RepoModel) -> list[str]:
        doc = self.drec.api(f"repositories/{name}")
        if doc is None:
            return [f"{name}: 404"]
        problems = []

        def expect(what, got, want):
            if got != want:
                problems.append(f"{name}: {what} is {got!r}, expected {want!r}")

        expect("repositoryname", doc.get("repositoryname"), name)
        for counter in COUNTERS:
            expect(counter, doc.get(counter), repo.counters[counter])
        expect("numstars", doc.get("numstars"), 0)
        expect("actors", sorted(doc.get("actors") or []), sorted(repo.actors))
        expect("tags", doc.get("tags"), sorted(t for t, m in repo.tags.items() if m.live))
        problems += self._times_diff(name, doc, repo)
        tags = self.drec.api(f"repositories/{name}/-/tags") or {}
        expect("tags resource repository", tags.get("repository"), name)
        entries = {t.get("tag"): t for t in tags.get("tags", [])}
        expect("tag names", sorted(entries), sorted(repo.tags))
        for tag, model in repo.tags.items():
            entry = entries.get(tag, {})
            expect(f"tag {tag} digest", entry.get("digest"), model.digest)
            expect(f"tag {tag} deleted", entry.get("deleted"), not model.live)
            for counter in TAG_COUNTERS:
                expect(f"tag {tag} {counter}", entry.get(counter), model.counters[counter])
        actors = self.drec.api(f"repositories/{name}/-/actors") or {}
        entries = {a.get("actor"): a for a in actors.get("actors", [])}
        expect("actor names", sorted(entries), sorted(repo.actor_counters))
        for actor, counters in repo.actor_counters.items():
            for counter in COUNTERS:
                expect(
                    f"actor {actor} {counter}",
                    entries.get(actor, {}).get(counter),
                    counters[counter],
                )
        return problems

    def _times_diff(self, name: str, doc: dict, repo: RepoModel) -> list[str]:
        """Each time is an event's own timestamp (ms), inside the operation that set it."""
        event_ms = {
            parse_time_ms(e["timestamp"])
            for r in self.registries
            for e in r.captured()
            if e["target"].get("repository") == name
        }
        problems, values = [], {}
        for field, window in (
            ("firstpushed", repo.first_push),
            ("lastpushed", repo.last_push),
            ("firstpulled", repo.first_pull),
            ("lastpulled", repo.last_pull),
        ):
            text = doc.get(field)
            if window is None:
                if text is not None:
                    problems.append(f"{name}: {field} is {text!r}, expected null")
                continue
            if not isinstance(text, str) or not API_TIME.match(text):
                problems.append(f"{name}: {field} is {text!r}, expected RFC 3339 UTC with ms")
                continue
            values[field] = ms = parse_time_ms(text)
            if not window.start <= ms <= window.end:
                problems.append(f"{name}: {field} {text} is outside operation '{window.name}'")
            elif not any(abs(ms - e) <= 1 for e in event_ms):
                problems.append(f"{name}: {field} {text} is no event's timestamp")
        for first, last in (("firstpushed", "lastpushed"), ("firstpulled", "lastpulled")):
            if first in values and last in values and values[first] > values[last]:
                problems.append(f"{name}: {first} is after {last}")
        return problems

    def expect_state(self, names: list[str] | None = None, timeout: float = WAIT_S) -> None:
        """Waits for drec to show the modelled state of `names` (None: all, and the listing);
        then, once every registry has delivered everything, checks it still does (no late
        over-counting). Scoping keeps one miscount from failing every later check."""
        problems = []

        def matches():
            nonlocal problems
            problems = self.state_diff(names)
            return not problems

        try:
            wait_until("drec's statistics to match the model", matches, timeout)
        except Failure as e:
            raise Failure(f"{e}:\n" + "\n".join(problems)) from None
        self.drained()
        problems = self.state_diff(names)
        if problems:
            raise Failure("after delivery finished:\n" + "\n".join(problems))

    def expectations(self, name: str) -> dict:
        """What the model knows exactly, for a test of what drec shows (the dashboard): `name`'s
        counters, tags (digest, live, counters), actors (the repository's list, and every
        actor's counters), the windows its times fall in; every repository's counters and the
        totals. The API matched all of it at the last check."""
        repo = self.model.repos[name]

        def iso(ms: int) -> str:
            return (
                datetime.fromtimestamp(ms / 1000, UTC)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z")
            )

        def window(w: Window | None):
            return {"operation": w.name, "from": iso(w.start), "to": iso(w.end)} if w else None

        def counters(c: Counter, names=COUNTERS) -> dict:
            return {k: c[k] for k in names}

        repositories = {
            n: {
                **counters(r.counters),
                "pushed": r.last_push is not None,
                "pulled": r.last_pull is not None,
            }
            for n, r in sorted(self.model.repos.items())
        }
        return {
            "repository": name,
            **counters(repo.counters),
            "tags": [
                {
                    "tag": tag,
                    "digest": t.digest,
                    "live": t.live,
                    **counters(t.counters, TAG_COUNTERS),
                }
                for tag, t in sorted(repo.tags.items())
            ],
            "actors": sorted(repo.actors),
            "actor_counters": [
                {"actor": a, **counters(c)} for a, c in sorted(repo.actor_counters.items())
            ],
            "times": {
                "firstpushed": window(repo.first_push),
                "lastpushed": window(repo.last_push),
                "firstpulled": window(repo.first_pull),
                "lastpulled": window(repo.last_pull),
            },
            "repositories": repositories,
            "totals": {
                "repositories": len(repositories),
                **{k: sum(r[k] for r in repositories.values()) for k in COUNTERS},
            },
        }

    def after_scenario(self, argv: list[str]) -> None:
        """Runs `argv` against drec as the scenarios left it; see the module's docstring."""
        expected = self.workdir / "expected.json"
        expected.write_text(json.dumps(self.expectations(EXPECTED_REPOSITORY), indent=2) + "\n")
        env = os.environ | {
            "DREC_URL": f"https://localhost:{self.drec.port}",
            "DREC_TOKEN": TOKEN,
            "DREC_CA_FILE": str(self.pki.ca),
            "DREC_E2E_EXPECTED": str(expected),
        }
        print(f"---- {' '.join(argv)} (DREC_E2E_EXPECTED={expected})", flush=True)
        status = self.processes.run_foreground(
            "after-scenario", argv, env, AFTER_SCENARIO_TIMEOUT_S
        )
        print(f"---- exit status {status}", flush=True)
        self.drec.check_alive()
        if status != 0:
            fail(f"{argv[0]} exited {status}")

    def snapshot(self) -> dict:
        """Everything drec shows about the modelled repositories."""
        state = {"listing": self.drec.api("repositories")}
        for name in self.model.repos:
            state[name] = (
                self.drec.api(f"repositories/{name}"),
                self.drec.api(f"repositories/{name}/-/tags"),
            )
        return state

    def drained(self) -> None:
        for registry in self.registries:
            registry.wait_drained("drec")


class Client:
    """skopeo (and raw HTTP) against one registry as one user; tells the model what it requests.

    What each skopeo 1.9 command requests was learned by capturing notifications; the methods
    below encode it, and every operation checks it against the real event stream again.
    """

    def __init__(self, ctx: Context, registry: Registry, user: str | None):
        self.ctx = ctx
        self.registry = registry
        self.user = user if registry.users else None
        self.who = self.user or "anonymous"
        self.password = registry.users[user] if self.user else None

    def push(self, image: Image, repo: str, tag: str) -> None:
        """oci -> registry: blobs, then (for an index) each child by digest, then the tagged
        manifest."""
        with self.ctx.operation(self, f"{self.who} pushes {image.ref} to {repo}:{tag}") as op:
            self._skopeo(
                "copy",
                *(["--all"] if image.index else []),
                "--dest-tls-verify=false",
                *self._creds("--dest-creds"),
                f"oci:{self.ctx.layout}:{image.ref}",
                self._docker(repo, tag),
            )
            for child in image.children:
                op.put(repo, self.ctx.image_by_digest(child))
            op.put(repo, image, tag)

    def pull(self, repo: str, ref: str, image: Image, arch: str | None = None) -> None:
        """registry -> oci: GET of the reference (no HEAD first); from an index, GET of the one
        child for `arch`, by digest."""
        name = f"{self.who} pulls {self._reference(repo, ref)}" + (f" for {arch}" if arch else "")
        with self.ctx.operation(self, name) as op:
            destination = f"oci:{self.ctx.workdir / 'pulled'}:{repo.replace('/', '-')}"
            self._skopeo(
                "copy",
                "--src-tls-verify=false",
                *self._creds("--src-creds"),
                self._docker(repo, ref),
                destination,
                arch=arch,
            )
            op.get(repo, image.digest, image.index, tag="" if ref.startswith("sha256:") else ref)
            if image.index:
                op.get(repo, self.ctx.images[arch].digest)

    def inspect_digest(self, repo: str, tag: str, image: Image) -> str:
        """`skopeo inspect` GETs the manifest (and the config blob)."""
        with self.ctx.operation(self, f"{self.who} inspects {repo}:{tag}") as op:
            digest = self._skopeo(
                "inspect",
                "--tls-verify=false",
                *self._creds("--creds"),
                "--format",
                "{{.Digest}}",
                self._docker(repo, tag),
                capture=True,
            )
            op.get(repo, image.digest, tag=tag)
        return digest.strip()

    def copy(self, image: Image, src: str, dst: str, tag: str) -> None:
        """registry -> same registry: GET of the source, blobs mounted or copied, tagged PUT."""
        with self.ctx.operation(self, f"{self.who} copies {src}:{tag} to {dst}:{tag}") as op:
            self._skopeo(
                "copy",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                *self._creds("--src-creds"),
                *self._creds("--dest-creds"),
                self._docker(src, tag),
                self._docker(dst, tag),
            )
            op.get(src, image.digest, tag=tag)
            op.put(dst, image, tag)

    def delete(self, repo: str, tag: str, image: Image) -> None:
        """`skopeo delete` GETs the tag to learn the digest, then deletes by digest, which
        removes every tag pointing at it."""
        with self.ctx.operation(self, f"{self.who} deletes {repo}:{tag}") as op:
            self._skopeo(
                "delete", "--tls-verify=false", *self._creds("--creds"), self._docker(repo, tag)
            )
            op.get(repo, image.digest, tag=tag)
            op.delete(repo, image.digest)

    def head_manifest(self, repo: str, tag: str, image: Image) -> None:
        """A version check as docker and tooling make it: HEAD of the tag."""
        with self.ctx.operation(self, f"{self.who} HEADs {repo}:{tag}") as op:
            self._http(
                "HEAD", f"/v2/{repo}/manifests/{tag}", 200, accept=f"{OCI_MANIFEST}, {OCI_INDEX}"
            )
            op.head(repo, image.digest, tag)

    def blob_requests(self, repo: str, image: Image, mount_into: str) -> None:
        """HEAD and GET of a layer and a cross-repository mount of it: events drec ignores."""
        name = f"{self.who} fetches and mounts a blob of {repo}"
        with self.ctx.operation(self, name, with_blobs=True) as op:
            self._http("HEAD", f"/v2/{repo}/blobs/{image.layer}", 200)
            op.blob("pull", repo, "HEAD", image.layer)
            self._http("GET", f"/v2/{repo}/blobs/{image.layer}", 200)
            op.blob("pull", repo, "GET", image.layer)
            query = urllib.parse.urlencode({"mount": image.layer, "from": repo})
            self._http("POST", f"/v2/{mount_into}/blobs/uploads/?{query}", 201)
            op.blob("mount", mount_into, "POST", image.layer)

    def _skopeo(self, *argv: str, capture: bool = False, arch: str | None = None) -> str:
        global_flags = ["--insecure-policy", "--tmpdir", str(self.ctx.workdir / "tmp")]
        if arch:
            global_flags += ["--override-arch", arch]
        return run("skopeo", *global_flags, *argv, capture=capture)

    def _creds(self, flag: str) -> list[str]:
        return [flag, f"{self.user}:{self.password}"] if self.user else []

    @staticmethod
    def _reference(repo: str, ref: str) -> str:
        return f"{repo}{'@' if ref.startswith('sha256:') else ':'}{ref}"

    def _docker(self, repo: str, ref: str) -> str:
        return f"docker://{self.registry.host}/{self._reference(repo, ref)}"

    def _http(self, method: str, path: str, status: int, accept: str | None = None) -> None:
        headers = {"Accept": accept} if accept else {}
        if self.user:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        url = f"http://{self.registry.host}{path}"
        try:
            with urllib.request.urlopen(
                urllib.request.Request(url, method=method, headers=headers), timeout=10
            ) as resp:
                resp.read()
                got = resp.status
        except urllib.error.HTTPError as e:
            got = e.code
        if got != status:
            fail(f"{method} {path}: status {got}, expected {status}")


# ---------------------------------------------------------------------------------------------
# Scenarios


def scenario_registry_operations(ctx: Context) -> None:
    """Pushes, pulls, checks, a multi-arch index, a cross-repository copy and a delete, by
    named users where the Python can make bcrypt hashes."""
    named = ctx.registries[0]
    alice, bob = Client(ctx, named, "alice"), Client(ctx, named, "bob")
    amd64, arm64, multi = ctx.images["amd64"], ctx.images["arm64"], ctx.images["multi"]

    alice.push(amd64, "team/app", "v1")
    alice.push(arm64, "team/app", "v2")
    alice.push(arm64, "team/app", "rc")  # the same image under a second tag
    bob.pull("team/app", "v1", amd64)
    digest = bob.inspect_digest("team/app", "v1", amd64)

    def same_digest():
        if digest != amd64.digest:
            fail(f"skopeo reports {digest}, the OCI layout has {amd64.digest}")

    ctx.checks.run("skopeo inspect reports the digest of the OCI layout", same_digest)
    bob.head_manifest("team/app", "v1", amd64)
    alice.push(multi, "team/multi", "latest")
    bob.pull("team/multi", "latest", multi, arch="arm64")
    alice.copy(amd64, "team/app", "team/copy", "v1")  # blobs are mounted: must not count
    alice.delete("team/app", "rc", arm64)  # deletes the digest, so v2 goes too
    bob.pull("team/app", amd64.digest, amd64)  # by digest: counts for v1, the tag pointing at it
    ctx.checks.run(
        "statistics after registry operations (counters, tags, times, actors)",
        ctx.expect_state,
        ["team/app", "team/multi", "team/copy"],
    )


def scenario_ignored_events(ctx: Context) -> None:
    """Anonymous events count without an actor; blob and mount events are acknowledged and
    ignored, and a manifest event queued behind them is still counted promptly."""
    anonymous = Client(ctx, ctx.registries[1], None)
    amd64 = ctx.images["amd64"]
    anonymous.push(amd64, "ops/anon", "v1")
    anonymous.pull("ops/anon", "v1", amd64)
    ctx.checks.run("anonymous operations count without an actor", ctx.expect_state, ["ops/anon"])

    ignored_before = ctx.drec.metric("drec_events_ignored_total")
    ignored_in_model = ctx.model.ignored
    retries_before = anonymous.registry.delivery_failures()
    anonymous.blob_requests("ops/anon", amd64, mount_into="ops/mounted")
    anonymous.head_manifest("ops/anon", "v1", amd64)
    ctx.checks.run(
        "a manifest event behind ignored ones is counted promptly",
        ctx.expect_state,
        ["ops/anon", "ops/mounted"],
        PROMPT_S,
    )

    def ignored_metric():
        delta = ctx.drec.metric("drec_events_ignored_total") - ignored_before
        want = ctx.model.ignored - ignored_in_model
        retried = anonymous.registry.delivery_failures() > retries_before  # may count again
        if delta < want or (delta > want and not retried):
            fail(f"drec_events_ignored_total grew by {delta:g}, expected {want}")
        if ctx.drec.metric("drec_events_ignored_total", reason="mount") < 1:
            fail("no ignored event with reason mount")

    ctx.checks.run("/metrics counts the blob and mount events as ignored", ignored_metric)


def scenario_duplicate_delivery(ctx: Context) -> None:
    """The proxy holds drec's reply past the registry's timeout: the registry resends the same
    event; drec must count it once and report a duplicate."""
    anonymous_registry = ctx.registries[1]
    anonymous = Client(ctx, anonymous_registry, None)
    ctx.drained()  # the next event the registry sends is the HEAD below
    duplicates_before = ctx.drec.metric("drec_events_duplicate_total")
    failed_before = anonymous_registry.delivery_failures()
    ctx.proxy.arm()
    anonymous.head_manifest("ops/anon", "v1", ctx.images["amd64"])

    def resent_and_counted_once():
        if not ctx.proxy.delayed.wait(WAIT_S):
            fail("the proxy never delayed a reply")
        ctx.expect_state(["ops/anon"])
        if anonymous_registry.delivery_failures() <= failed_before:
            fail("the registry did not time out, so it never resent the event")
        duplicates = ctx.drec.metric("drec_events_duplicate_total") - duplicates_before
        if duplicates < 1:
            fail(f"drec_events_duplicate_total grew by {duplicates:g}, expected at least 1")

    ctx.checks.run(
        "a resent event is counted once and reported as duplicate", resent_and_counted_once
    )


def scenario_kill9(ctx: Context) -> None:
    """Acknowledged means committed: after kill -9 and a restart on the same store every count
    is unchanged, and events sent while drec was down arrive once it is back."""
    ctx.drained()
    before = ctx.snapshot()
    ctx.drec.kill9()
    ctx.drec.start()

    def unchanged():
        changes = differences(before, ctx.snapshot())
        if changes:
            fail("changed across kill -9:\n" + "\n".join(changes[:20]))

    ctx.checks.run("every statistic survives kill -9 and restart", unchanged)

    ctx.drec.kill9()
    Client(ctx, ctx.registries[0], "bob").pull("team/app", "v1", ctx.images["amd64"])
    ctx.drec.start()
    ctx.checks.run(
        "events sent while drec was down are counted once after restart",
        ctx.expect_state,
        ["team/app"],
    )
    ctx.checks.run("every repository and the listing at the end", ctx.expect_state)


SCENARIOS = (
    scenario_registry_operations,
    scenario_ignored_events,
    scenario_duplicate_delivery,
    scenario_kill9,
)


# ---------------------------------------------------------------------------------------------


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_drec_options(p)
    p.add_argument(
        "--registry",
        default=shutil.which("docker-registry") or "docker-registry",
        help="registry binary: Debian's docker-registry 2.8 or a 3.x `registry`",
    )
    p.add_argument(
        "--after-scenario",
        nargs=argparse.REMAINDER,
        metavar="CMD",
        help="last option: a command (and its arguments) to run against drec once "
        "every scenario passed; gets DREC_URL, DREC_TOKEN, DREC_CA_FILE and "
        "DREC_E2E_EXPECTED; its failure fails the run",
    )
    args = p.parse_args()
    if args.after_scenario == []:
        p.error("--after-scenario needs a command")
    check_drec_options(p, args)
    return args


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # run `finally`
    args = parse_args()
    args.drec = str(Path(args.drec).resolve())
    ctx, processes, setup_failed = None, None, False
    try:
        workdir = prepare_workdir(args.workdir, WORKDIR_MARKER)
        (workdir / "tmp").mkdir()
        processes = Processes(workdir)
        ctx = Context(args, workdir, processes)
        ctx.start()
        for scenario in SCENARIOS:
            try:
                scenario(ctx)
            except Failure as e:
                ctx.checks.failed += 1
                print(f"FAIL {scenario.__name__} aborted: {e}", flush=True)
        if args.after_scenario:
            if ctx.checks.failed:
                print(f"skip {' '.join(args.after_scenario)}: a check failed", flush=True)
            else:
                ctx.checks.run(
                    f"after the scenarios: {' '.join(args.after_scenario)}",
                    ctx.after_scenario,
                    args.after_scenario,
                )
    except Failure as e:
        print(f"e2e: setup failed: {e}", flush=True)
        setup_failed = True
    finally:
        if ctx:
            ctx.stop()
        if processes:
            processes.stop_all()
            if setup_failed or ctx is None or ctx.checks.failed:
                for name in ("drec", "registry-named", "registry-anon"):
                    if tail := processes.log_tail(name):
                        print(f"--- last lines of {name}.log ---\n{tail}")
    if setup_failed:
        return 2
    print(f"e2e: {ctx.checks.passed} passed, {ctx.checks.failed} failed")
    return 1 if ctx.checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
