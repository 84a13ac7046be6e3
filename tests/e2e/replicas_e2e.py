#!/usr/bin/env python3
"""End-to-end test of several drec replicas on one PostgreSQL database, under fire.

Why this test exists: with the PostgreSQL store, several drec processes share one database and
schema, and exactly once across them is the store's job (an event id is claimed in the commit
transaction that applies it). Only real replicas behind a real load balancer, fed by real
registries that retry whatever fails, with replicas killed and the database restarted while
events arrive, show that no acknowledged event is lost and none is counted twice.

Set-up, all on loopback:
  PostgreSQL  a private durable cluster (tests/support/postgres_cluster.py), one database, one
              schema for every replica
  replicas    N drec processes (default 3), `registries: [r28, r31]`
  HAProxy     TLS passthrough (`mode tcp`, drec's certificate verifies for localhost),
              `balance roundrobin`, health checks of each replica's /readyz, short connect
              timeout and redispatch, so a killed replica is skipped and the client retries
  r28, r31    Debian's docker-registry 2.8 and registry 3.1, htpasswd users alice and bob,
              notifying HAProxy at {route}/r28 and {route}/r31 and a capture server
  generator   S senders, each one POST at a time like a registry, of real-shaped events
              (tests/data templates, unique ids, timestamps over the last 10 days) into the
              default registry, r28 and r31; some envelopes are re-posted after their 200 to a
              replica directly (a late registry retry), some posted to two replicas at once (a
              retry racing the first delivery); every envelope is retried on 503 or a connection
              error until it is acknowledged with 200

While skopeo pushes, pulls, checks and deletes real images in both registries and the generator
posts, each chaos round kills every replica with SIGKILL in turn (restarted once the others have
acknowledged more events) and restarts PostgreSQL once (immediate shutdown, a crash, in odd
rounds; fast in even ones): while it is down every replica must answer 503 (POST and /readyz)
and a replica killed and started meanwhile must keep running; once it is back every replica must
reconnect by itself. Then, with every registry endpoint drained (Pending 0) and every generated
envelope acknowledged, every repository, tag, digest, actor and day of each registry
(`?registry=`), the summaries and the registry totals must equal what the captured events of the
registries and the generator's own events make under docs/counting.md (clients_e2e's Model, with
by-digest tag attribution), and each registry's event_ids table must hold exactly their ids:
zero lost, zero counted twice.

Usage: replicas_e2e.py --drec PATH --workdir DIR --registry3 PATH [--registry-2.8 PATH]
                       [--haproxy PATH] [--replicas N] [--senders S] [--rate EVENTS_PER_S]
                       [--rounds N] [--duration SECONDS]
The bounded form (ctest) is two rounds; `--rounds` and `--duration` make a longer run (a soak).
Python standard library only (and skopeo, umoci, openssl, setpriv, HAProxy and the PostgreSQL
server binaries). Every process it starts is stopped when it ends. Exit status 0 when every
check passed.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import http.client
import json
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
import postgres_cluster
import registry_e2e
from clients_e2e import ATTACHMENT_TAG, INDEX_TYPES, MANIFEST_TYPES, USERS, Model
from multi_registry_e2e import counters_by, counters_of, times_diff, utc_day, want_counters
from registry_e2e import (
    OCI_INDEX,
    OCI_MANIFEST,
    TOKEN,
    CaptureServer,
    Processes,
    Registry,
    bcrypt_hash,
    build_images,
    make_pki,
    parse_time_ms,
    run,
    wait_until,
)

from drec_harness import (
    Checks,
    Failure,
    LoopbackHttps,
    fail,
    free_port,
    prepare_workdir,
)

WORKDIR_MARKER = ".replicas_e2e"
DATA = Path(__file__).resolve().parent.parent / "data"
EVENTS_TYPE = "application/vnd.docker.distribution.events.v1+json"
SCHEMA = "drec_replicas"  # not the default `drec`: the setting must be honoured
REGISTRIES = ("r28", "r31")  # drec's `registries`; "default" is always there
VIEWS = ("default", *REGISTRIES)
TAG_COUNTERS = ("numpulls", "numpushs", "numchecks", "numindexpulls")
HTTP_TIMEOUT_S = 10.0
DELIVERY_DEADLINE_S = 90.0  # one envelope: acknowledged within this, retries included
STEP_S = 30.0  # bound of each chaos step's wait (a replica serving, readiness)
DRAIN_STALL_S = 20.0  # a registry's queue for an endpoint must shrink within this
DRAIN_MAX_S = 300.0
SKOPEO_ROUND_S = 1.0  # at most one round of skopeo operations per registry in this time
POLL_S = 0.05
PHASE_EVENTS = 300  # events delivered in each phase of the chaos (a replica down, back up)
RETRY_PAUSE_S = 0.05  # between retries of a refused POST (drec's Retry-After, capped)
RETRY_AFTER_CAP_S = 0.25


# ---------------------------------------------------------------------------------------------
# Pieces the benchmark (bench/replicas_bench.py) shares


def postgres_argv(argv: list[str], uri: str, schema: str) -> list[str]:
    """drec's argv with its storage flags (the harness gives SQLite ones) replaced by the
    PostgreSQL store's."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg.startswith("--storage-"):
            skip = "=" not in arg
            continue
        out.append(arg)
    return [
        *out,
        "--storage-backend",
        "postgresql",
        "--storage-postgresql-uri",
        uri,
        "--storage-postgresql-schema",
        schema,
    ]


class Replica(registry_e2e.Drec):
    """One drec replica on the shared PostgreSQL database, with a directory (log) of its own."""

    def __init__(self, drec: str, pki, workdir: Path, uri: str, schema: str, extra: list[str]):
        workdir.mkdir(parents=True, exist_ok=True)
        harness_args = SimpleNamespace(
            drec=drec, store="sqlite", mongodb_uri=None, postgresql_uri=None
        )
        super().__init__(harness_args, pki, workdir)
        self.name = workdir.name
        self.argv = postgres_argv(self.argv, uri, schema) + extra

    # The harness's start() in two halves, so that several replicas start at once: the
    # processes from this (the main) thread, because the parent-death signal setpriv arms fires
    # when the thread that started the child ends, and the waits for readiness side by side.
    def spawn(self) -> None:
        prefix = ["setpriv", "--pdeathsig", "TERM"] if shutil.which("setpriv") else []
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                prefix + self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def wait_ready(self) -> None:
        self.tls = self.tls or ssl.create_default_context(cafile=str(self.cafile))

        def ready():
            self.check_alive()
            return self.ready() == 200

        try:
            wait_until(f"{self.name} /readyz", ready, self.start_timeout)
        except Failure as e:
            fail(f"{e}:\n{self.log_tail()}")

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def ready(self) -> int | None:
        """/readyz status, None when nothing answers."""
        try:
            return self.request("GET", "/readyz", auth=None).status
        except (OSError, http.client.HTTPException):
            return None


def haproxy_config(port: int, replicas: list[Replica], ca: Path) -> str:
    """TLS passthrough to the replicas; each is checked with GET /readyz over TLS, so one whose
    database is gone is taken out, and a dead one is skipped (redispatch on connect failure)."""
    servers = "\n".join(f"    server {r.name} 127.0.0.1:{r.port}" for r in replicas)
    return f"""global
    log stderr format short local0 warning
    # Few connections are ever open here; 256 fits the FD limit of a container (1024),
    # where haproxy refuses to start if it cannot raise the limit maxconn needs.
    maxconn 256

defaults
    mode tcp
    log global
    option tcplog
    timeout connect 300ms
    timeout client 60s
    timeout server 30s
    timeout check 1s
    retries 3
    option redispatch 1

frontend drec
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    default-server check check-ssl check-sni localhost verify required ca-file {ca}
    default-server inter 250ms fastinter 100ms downinter 250ms rise 1 fall 1
{servers}
"""


class HaProxy:
    def __init__(self, binary: str, workdir: Path, replicas: list[Replica], ca: Path):
        self.binary = binary
        self.port = free_port()
        self.config = workdir / "haproxy.cfg"
        self.config.write_text(haproxy_config(self.port, replicas, ca))
        self.tls = ssl.create_default_context(cafile=str(ca))

    def start(self, processes: Processes) -> None:
        run(self.binary, "-c", "-q", "-f", str(self.config))
        processes.start("haproxy", [self.binary, "-f", str(self.config), "-db"])

        def serving():
            processes.check_alive("haproxy")
            return Endpoint(self.port, self.tls).status("/readyz") == 200

        wait_until("HAProxy to pass /readyz to a replica", serving, STEP_S)


class Endpoint:
    """HTTPS requests to one port (a replica or HAProxy), a new connection each."""

    def __init__(self, port: int, tls: ssl.SSLContext):
        self.port = port
        self.tls = tls

    def request(self, method: str, path: str, body: bytes | None = None, headers=None):
        conn = LoopbackHttps(self.port, self.tls)
        conn.timeout = HTTP_TIMEOUT_S
        try:
            all_headers = {"Authorization": f"Bearer {TOKEN}", **(headers or {})}
            conn.request(method, path, body=body, headers=all_headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def status(self, path: str) -> int | None:
        try:
            return self.request("GET", path)[0]
        except (OSError, http.client.HTTPException):
            return None

    def api(self, path: str):
        """JSON of an API resource, None for 404."""
        status, body = self.request("GET", "/api/v1/" + path)
        if status == 404:
            return None
        if status != 200:
            fail(f"GET /api/v1/{path}: status {status}: {body[:200]!r}")
        return json.loads(body)


def start_postgres(workdir: Path) -> tuple[postgres_cluster.Cluster, str]:
    """A durable private cluster and the one database every replica uses."""
    cluster = postgres_cluster.Cluster(workdir, name="pg", durable=True).init()
    cluster.start()
    return cluster, cluster.create_database("drec")


def start_replicas(replicas: list[Replica]) -> None:
    """Starts them at once, so their schema set-up on the empty database races."""
    errors: list[str] = []

    def wait(replica: Replica) -> None:
        try:
            replica.wait_ready()
        except Failure as e:
            errors.append(f"{replica.name}: {e}")

    for replica in replicas:
        replica.spawn()
    threads = [threading.Thread(target=wait, args=(r,)) for r in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        fail("replicas did not start:\n" + "\n".join(errors))


def rfc3339(ms: int, extra_ns: int = 0) -> str:
    """Unix ms to RFC 3339 UTC with nanoseconds, as the registry writes its timestamps."""
    seconds, millis = divmod(ms, 1000)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{millis * 1_000_000 + extra_ns:09d}Z"


# ---------------------------------------------------------------------------------------------
# The load generator: real-shaped events, delivered like a registry delivers them


TEMPLATES = {
    "push": "manifest-push-tagged.json",
    "get": "manifest-pull-get.json",
    "head": "manifest-pull-head.json",
    "index-get": "index-pull-get.json",
    "digest-get": "child-manifest-pull-by-digest.json",
}
KINDS = (  # what one generated event does, with its weight
    ("push", 2),
    ("get", 6),
    ("head", 3),
    ("digest-get", 2),
    ("index-push", 1),
    ("index-get", 2),
)
ACTORS = ("", "alice", "ci-bot", "deployer")
USER_AGENTS = (
    "containerd/1.7.2",
    "skopeo/1.9.3",
    "crane/0.22.1 go-containerregistry/0.22.1",
    "trivy/0.50.1",
)
TAGS = ("t0", "t1", "t2")


def load_templates() -> dict[str, dict[str, dict]]:
    """The captured event of each kind, per registry version (the default route gets 2.8's)."""
    out = {}
    for view, version in (("default", "2.8"), ("r28", "2.8"), ("r31", "3.1")):
        out[view] = {
            kind: json.loads((DATA / f"registry-{version}" / name).read_text())["events"][0]
            for kind, name in TEMPLATES.items()
        }
    return out


class Poster:
    """One sender's connection to one port, kept alive as a registry keeps its own."""

    def __init__(self, port: int, tls: ssl.SSLContext):
        self.port = port
        self.tls = tls
        self.conn: LoopbackHttps | None = None

    def post(self, route: str, body: bytes) -> tuple[int, str]:
        """Status and Retry-After of one POST; raises OSError/HTTPException on a broken one."""
        try:
            if self.conn is None:
                self.conn = LoopbackHttps(self.port, self.tls)
                self.conn.timeout = HTTP_TIMEOUT_S
                self.conn.connect()
                # http.client writes headers and body apart: without this, Nagle holds the body
                # until the server's delayed ACK, 40 ms a POST (Go, as the registry, sets it).
                self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.conn.request(
                "POST",
                route,
                body=body,
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": EVENTS_TYPE},
            )
            resp = self.conn.getresponse()
            resp.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if resp.will_close:
            self.close()
        return resp.status, resp.headers.get("Retry-After", "")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Generator:
    """Senders posting real-shaped envelopes until told to stop; every envelope is delivered
    (retried until 200) before the next, and recorded once acknowledged."""

    def __init__(self, haproxy_port: int, replicas: list[Replica], tls, senders: int, rate: float):
        self.haproxy_port = haproxy_port
        self.replicas = replicas
        self.tls = tls
        self.senders = senders
        self.interval = senders / rate if rate > 0 else 0.0
        self.templates = load_templates()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.events: dict[str, list[dict]] = defaultdict(list)  # view -> acknowledged events
        self.stats = Counter()
        self.failures: list[str] = []
        self.threads = [
            threading.Thread(target=self._sender, args=(i,), daemon=True) for i in range(senders)
        ]
        now = int(time.time() * 1000)
        self.oldest_ms = now - 10 * 86_400_000

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def finish(self, timeout: float) -> None:
        self.stop.set()
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if alive := sum(t.is_alive() for t in self.threads):
            self.failures.append(f"{alive} senders still running {timeout:.0f} s after the stop")

    def count(self, what: str) -> int:
        with self.lock:
            return self.stats[what]

    def _bump(self, what: str, n: int = 1) -> None:
        with self.lock:
            self.stats[what] += n

    # -- events --

    def _event(self, rng: random.Random, view: str, repo: str) -> dict:
        kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
        tag = rng.choice(TAGS)
        index = kind.startswith("index")
        if index:
            tag = "multi"
        digest = "sha256:" + hashlib.sha256(f"{view}/{repo}:{tag}".encode()).hexdigest()
        template = self.templates[view]["push" if kind == "index-push" else kind]
        event = copy.deepcopy(template)
        ms = rng.randrange(self.oldest_ms, int(time.time() * 1000))
        event["id"] = str(uuid.uuid4())
        event["timestamp"] = rfc3339(ms, rng.randrange(1_000_000))
        target = event["target"]
        target |= {
            "repository": repo,
            "digest": digest,
            "mediaType": OCI_INDEX if index else OCI_MANIFEST,
        }
        target["url"] = target["url"].split("/v2/")[0] + f"/v2/{repo}/manifests/{digest}"
        if kind == "digest-get":
            target.pop("tag", None)
        else:
            target["tag"] = tag
        event["request"] |= {
            "id": str(uuid.uuid4()),
            "useragent": rng.choice(USER_AGENTS),
            "method": {"push": "PUT", "index-push": "PUT", "head": "HEAD"}.get(kind, "GET"),
        }
        actor = rng.choice(ACTORS)
        event["actor"] = {"name": actor} if actor else {}
        return event

    def _envelope(self, rng: random.Random, sender: int, n: int) -> tuple[str, dict]:
        view = VIEWS[n % len(VIEWS)]
        repo = f"load/s{sender}-{rng.randrange(2)}"  # a sender's own: its order is the order
        count = 3 if n % 10 == 9 else 1
        return view, {"events": [self._event(rng, view, repo) for _ in range(count)]}

    # -- delivery --

    def deliver(self, poster: Poster, route: str, body: bytes, deadline: float) -> bool:
        """POSTs until 200, as a registry retries; False when `deadline` passes first."""
        while time.monotonic() < deadline:
            try:
                status, retry_after = poster.post(route, body)
            except (OSError, http.client.HTTPException):
                self._bump("connection errors")
                time.sleep(RETRY_PAUSE_S)  # pacing of retries, not synchronisation
                continue
            if status == 200:
                return True
            if status != 503:
                self.failures.append(f"POST {route}: status {status}, only 200 or 503 expected")
                return False
            self._bump("503 answers")
            try:
                pause = min(float(retry_after), RETRY_AFTER_CAP_S)
            except ValueError:
                pause = RETRY_PAUSE_S
            time.sleep(pause)  # pacing, as the registry's backoff
        return False

    def _sender(self, index: int) -> None:
        rng = random.Random(1000 + index)
        through = Poster(self.haproxy_port, self.tls)
        direct = [Poster(r.port, self.tls) for r in self.replicas]
        n = 0
        try:
            while not self.stop.is_set():
                started = time.monotonic()
                view, envelope = self._envelope(rng, index, n)
                route = "/events" if view == "default" else f"/events/{view}"
                body = json.dumps(envelope).encode()
                deadline = started + DELIVERY_DEADLINE_S
                first, second = n % len(direct), (n + 1) % len(direct)
                if n % 5 == 4 and len(direct) > 1:
                    ok = self._race(route, body, first, second, deadline)
                else:
                    ok = self.deliver(through, route, body, deadline)
                    if ok and n % 7 == 3:
                        self._bump("late re-posts")
                        ok = self.deliver(direct[first], route, body, deadline)
                if not ok:
                    if not self.failures:
                        self.failures.append(
                            f"sender {index}: an envelope to {route} was not acknowledged "
                            f"within {DELIVERY_DEADLINE_S:.0f} s"
                        )
                    return
                self.record(view, envelope)
                n += 1
                if self.interval:
                    self.stop.wait(max(0.0, started + self.interval - time.monotonic()))
        finally:
            for p in (through, *direct):
                p.close()

    def probe(self, replica: Replica) -> Probe:
        """An envelope posted to `replica` directly, outside the senders (while the database is
        down); recorded like theirs once acknowledged."""
        return Probe(self, replica, *self._envelope(random.Random(), 0, 0))

    def record(self, view: str, envelope: dict) -> None:
        with self.lock:
            self.events[view] += envelope["events"]
            self.stats["envelopes"] += 1
            self.stats["events"] += len(envelope["events"])

    def _race(self, route: str, body: bytes, first: int, second: int, deadline: float) -> bool:
        """The same envelope to two replicas at once: a retry racing the first delivery."""
        self._bump("racing double posts")
        results = [False, False]

        def post(slot: int, replica: int) -> None:
            poster = Poster(self.replicas[replica].port, self.tls)
            try:
                results[slot] = self.deliver(poster, route, body, deadline)
            finally:
                poster.close()

        threads = [
            threading.Thread(target=post, args=(i, r)) for i, r in enumerate((first, second))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return all(results)


class Probe:
    """One envelope to one replica: refused while the database is down, delivered after."""

    def __init__(self, generator: Generator, replica: Replica, view: str, envelope: dict):
        self.generator = generator
        self.view = view
        self.envelope = envelope
        self.route = "/events" if view == "default" else f"/events/{view}"
        self.body = json.dumps(envelope).encode()
        self.poster = Poster(replica.port, generator.tls)
        self.acknowledged = False

    def refused(self) -> None:
        try:
            status, retry_after = self.poster.post(self.route, self.body)
        except (OSError, http.client.HTTPException) as e:
            fail(f"POST {self.route}: {e}")
        if status == 200:  # applied before the server went down? It was not: it is new
            self.acknowledged = True
            self.generator.record(self.view, self.envelope)
            fail(f"POST {self.route} acknowledged with 200 while PostgreSQL is down")
        if status != 503 or not retry_after:
            fail(f"POST {self.route}: status {status}, Retry-After {retry_after!r}")

    def deliver(self) -> None:
        if self.acknowledged:
            return
        deadline = time.monotonic() + STEP_S
        ok = self.generator.deliver(self.poster, self.route, self.body, deadline)
        self.poster.close()
        if not ok:
            fail(f"POST {self.route}: not acknowledged within {STEP_S:.0f} s")
        self.acknowledged = True
        self.generator.record(self.view, self.envelope)


# ---------------------------------------------------------------------------------------------
# skopeo traffic on the real registries


class Traffic:
    """Rounds of skopeo operations on one registry, as alice and bob, until told to stop."""

    def __init__(self, registry: Registry, workdir: Path, layout: Path, min_rounds: int):
        self.registry = registry
        self.workdir = workdir
        self.layout = layout
        self.min_rounds = min_rounds
        self.stop = threading.Event()
        self.rounds = 0
        self.error: str | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _skopeo(self, *argv: str, arch: str | None = None) -> None:
        flags = ["--insecure-policy", "--tmpdir", str(self.workdir / "tmp")]
        if arch:
            flags += ["--override-arch", arch]
        run("skopeo", *flags, *argv)

    def _docker(self, repo: str, tag: str) -> str:
        return f"docker://{self.registry.host}/{repo}:{tag}"

    @staticmethod
    def _creds(flag: str, user: str) -> list[str]:
        return [flag, f"{user}:{USERS[user]}"]

    def push(self, image: str, repo: str, tag: str, index: bool = False) -> None:
        self._skopeo(
            "copy",
            *(["--all"] if index else []),
            "--dest-tls-verify=false",
            *self._creds("--dest-creds", "alice"),
            f"oci:{self.layout}:{image}",
            self._docker(repo, tag),
        )

    def pull(self, repo: str, tag: str, arch: str | None = None) -> None:
        out = self.workdir / "pulled" / self.registry.name
        out.mkdir(parents=True, exist_ok=True)
        self._skopeo(
            "copy",
            "--src-tls-verify=false",
            *self._creds("--src-creds", "bob"),
            self._docker(repo, tag),
            f"oci:{out}:{repo.replace('/', '-')}",
            arch=arch,
        )

    def head(self, repo: str, tag: str) -> None:
        """A version check: HEAD of the tag, as bob."""
        basic = base64.b64encode(f"bob:{USERS['bob']}".encode()).decode()
        request = urllib.request.Request(
            f"http://{self.registry.host}/v2/{repo}/manifests/{tag}",
            method="HEAD",
            headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}", "Authorization": f"Basic {basic}"},
        )
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as resp:
            if resp.status != 200:
                fail(f"HEAD {repo}:{tag}: status {resp.status}")

    def one_round(self, n: int) -> None:
        tag = f"r{n}"
        self.push("amd64", "team/app", tag)
        self.pull("team/app", tag)
        self.head("team/app", tag)
        self.push("multi", "team/multi", "latest", index=True)
        self.pull("team/multi", "latest", arch="arm64")
        self.push("arm64", "team/tmp", tag)
        self._skopeo(
            "delete",
            "--tls-verify=false",
            *self._creds("--creds", "alice"),
            self._docker("team/tmp", tag),
        )

    def _run(self) -> None:
        try:
            while self.rounds < self.min_rounds or not self.stop.is_set():
                started = time.monotonic()
                self.one_round(self.rounds)
                self.rounds += 1
                # Pacing, so that skopeo leaves the two cores some room for the rest.
                self.stop.wait(max(0.0, started + SKOPEO_ROUND_S - time.monotonic()))
        except (Failure, OSError, urllib.error.URLError) as e:
            self.error = f"{self.registry.name}: {e}"


# ---------------------------------------------------------------------------------------------
# The model of one registry of drec's: the events it was sent, docs/counting.md applied


class AttributingModel(Model):
    """clients_e2e's Model, plus what it leaves out: a pull by digest counts for every live
    image tag pointing at that digest (docs/counting.md#tag-attribution; the registries here
    send no references, so no index children)."""

    @staticmethod
    def of(events: list[dict], repo: str) -> AttributingModel:
        model, manifests = AttributingModel(), set()
        for event in events:
            if event["target"].get("repository") == repo:
                model._apply(event, manifests)
        return model

    def _apply(self, event: dict, manifests: set[str]) -> None:
        super()._apply(event, manifests)
        target = event["target"]
        if (
            event["action"] != "pull"
            or target.get("tag")
            or target.get("mediaType") not in MANIFEST_TYPES
        ):
            return
        counter = pull_counter(event)
        for state in self.tags.values():
            if state.live and not state.attachment and state.digest == target.get("digest"):
                state.counters[counter] += 1


def pull_counter(event: dict) -> str:
    if event.get("request", {}).get("method") == "HEAD":
        return "numchecks"
    return "numindexpulls" if event["target"].get("mediaType") in INDEX_TYPES else "numpulls"


def digest_model(events: list[dict], repo: str) -> dict[str, dict]:
    """Per manifest digest: counters and times (docs/data-model.md#digests: every push counts,
    tagged or not; a delete only of a digest known as a manifest)."""
    out: dict[str, dict] = {}
    for event in events:
        target = event["target"]
        if target.get("repository") != repo:
            continue
        digest, media_type = target.get("digest"), target.get("mediaType")
        if event["action"] == "delete":
            if digest in out:
                out[digest]["counters"]["numdeletes"] += 1
            continue
        if event["action"] not in ("push", "pull") or media_type not in MANIFEST_TYPES:
            continue
        if ATTACHMENT_TAG.fullmatch(target.get("tag") or ""):
            fail(f"an attachment event in {repo}: this test does not model them")
        record = out.setdefault(digest, {"counters": Counter(), "times": {}})
        counter = "numpushs" if event["action"] == "push" else pull_counter(event)
        record["counters"][counter] += 1
        if counter == "numchecks":
            continue
        kind = "pushed" if counter == "numpushs" else "pulled"
        ms, times = parse_time_ms(event["timestamp"]), record["times"]
        times[f"first{kind}"] = min(times.get(f"first{kind}", ms), ms)
        times[f"last{kind}"] = max(times.get(f"last{kind}", ms), ms)
    return out


class Expected:
    """What drec must show for one of its registries."""

    def __init__(self, name: str, events: list[dict]):
        self.name = name
        self.events = events
        self.by_repo: dict[str, list[dict]] = defaultdict(list)
        for event in events:
            self.by_repo[event["target"].get("repository", "")].append(event)
        # A repository exists once a manifest was pushed or pulled in it.
        self.repositories = sorted(
            repo
            for repo, evs in self.by_repo.items()
            if any(
                e["action"] in ("push", "pull") and e["target"].get("mediaType") in MANIFEST_TYPES
                for e in evs
            )
        )
        self.models = {r: AttributingModel.of(self.by_repo[r], r) for r in self.repositories}

    def days(self) -> tuple[str, str]:
        days = sorted({utc_day(e) for e in self.events}) or [datetime.now(UTC).strftime("%Y-%m-%d")]
        return days[0], days[-1]

    def recorded_ids(self) -> set[str]:
        """The ids drec stores (docs/counting.md#exactly-once): every event but the ignored ones
        (blobs, mounts), deletes of unknown digests included."""
        return {
            e["id"]
            for e in self.events
            if e["action"] == "delete"
            or (e["action"] in ("push", "pull") and e["target"].get("mediaType") in MANIFEST_TYPES)
        }

    def totals(self) -> Counter:
        total = Counter()
        for model in self.models.values():
            total.update(want_counters(model.counters))
        return total

    def daily_totals(self) -> dict[str, Counter]:
        out: dict[str, Counter] = defaultdict(Counter)
        for repo in self.repositories:
            for day, counters in counters_by(self.by_repo[repo], repo, utc_day).items():
                out[day].update(want_counters(counters))
        return out


# ---------------------------------------------------------------------------------------------
# Comparing drec with the model


def compare_repository(api: Endpoint, exp: Expected, repo: str) -> list[str]:
    """Every difference of one repository: record, tags, digests, actors and days."""
    q = f"registry={exp.name}"
    model, events, problems = exp.models[repo], exp.by_repo[repo], []

    def expect(what, got, want):
        if got != want:
            problems.append(f"{repo}: {what} is {got!r}, expected {want!r}")

    doc = api.api(f"repositories/{repo}?{q}")
    if doc is None:
        return [f"{repo}: 404"]
    expect("counters", counters_of(doc), want_counters(model.counters))
    expect("actors", sorted(doc.get("actors") or []), sorted(model.actors))
    live = sorted(t for t, s in model.tags.items() if s.live and not s.attachment)
    expect("live tags", doc.get("tags"), live)
    problems += times_diff(repo, doc, model.times)

    tags = {t["tag"]: t for t in (api.api(f"repositories/{repo}/-/tags?{q}") or {}).get("tags", [])}
    expect("tag names", sorted(tags), sorted(model.tags))
    for tag, state in model.tags.items():
        entry = tags.get(tag, {})
        expect(f"tag {tag} digest", entry.get("digest"), state.digest)
        expect(f"tag {tag} deleted", entry.get("deleted"), not state.live)
        for counter in TAG_COUNTERS:
            expect(f"tag {tag} {counter}", entry.get(counter), state.counters[counter])

    want_digests = digest_model(events, repo)
    digests = api.api(f"repositories/{repo}/-/digests?{q}") or {}
    digests = {d["digest"]: d for d in digests.get("digests", [])}
    expect("digests", sorted(digests), sorted(want_digests))
    for digest, want in want_digests.items():
        entry = digests.get(digest, {})
        expect(
            f"digest {digest[:19]} counters", counters_of(entry), want_counters(want["counters"])
        )
        problems += times_diff(f"{repo}@{digest[:19]}", entry, want["times"])

    actors = {
        a["actor"]: a
        for a in (api.api(f"repositories/{repo}/-/actors?{q}") or {}).get("actors", [])
    }
    expect("actor names", sorted(actors), sorted(model.actor_counters))
    for actor, counters in model.actor_counters.items():
        expect(f"actor {actor}", counters_of(actors.get(actor, {})), want_counters(counters))

    first, last = exp.days()
    want_days = {d: want_counters(c) for d, c in counters_by(events, repo, utc_day).items()}
    daily = api.api(f"repositories/{repo}/-/daily?{q}&from={first}&to={last}") or {}
    got_days = {
        d["day"]: counters_of(d) for d in daily.get("days", []) if any(counters_of(d).values())
    }
    expect("days", got_days, want_days)
    return problems


def compare_registry(api: Endpoint, exp: Expected) -> list[str]:
    """The listing and summary of one registry (per-repository checks are separate)."""
    problems = []
    listing = api.api(f"repositories?registry={exp.name}&limit=1000") or {}
    names = sorted(r.get("repositoryname") for r in listing.get("repositories", []))
    if names != exp.repositories or listing.get("total") != len(exp.repositories):
        problems.append(
            f"listing {names} (total {listing.get('total')}), expected {exp.repositories}"
        )
    first, last = exp.days()
    summary = api.api(f"summary?registry={exp.name}&from={first}&to={last}") or {}
    totals = summary.get("totals", {})
    want = want_counters(exp.totals())
    if counters_of(totals) != want or totals.get("repositories") != len(exp.repositories):
        problems.append(
            f"summary totals {counters_of(totals)}, {totals.get('repositories')} repositories; "
            f"expected {want}, {len(exp.repositories)}"
        )
    want_days = {d: want_counters(c) for d, c in exp.daily_totals().items() if any(c.values())}
    got_days = {
        d["day"]: counters_of(d) for d in summary.get("days", []) if any(counters_of(d).values())
    }
    if got_days != want_days:
        for day in sorted(want_days.keys() | got_days.keys()):
            if got_days.get(day) != want_days.get(day):
                problems.append(
                    f"summary day {day}: {got_days.get(day)}, expected {want_days.get(day)}"
                )
    return problems


# ---------------------------------------------------------------------------------------------
# The run


def wait_drained(registry: Registry, endpoint: str) -> None:
    """Until the registry holds no event for `endpoint`. A registry delivers one event at a time
    and skopeo can make them faster than that, so a backlog takes the time it takes: the bound
    is on standing still (DRAIN_STALL_S without the queue shrinking), and DRAIN_MAX_S overall."""
    started = time.monotonic()
    least, progressed = None, started
    while True:
        pending = registry.endpoint_metrics(endpoint)["Pending"]
        now = time.monotonic()
        if pending == 0:
            return
        if least is None or pending < least:
            least, progressed = pending, now
        if now - progressed > DRAIN_STALL_S or now - started > DRAIN_MAX_S:
            fail(
                f"registry {registry.name} still holds {pending} events for {endpoint} after "
                f"{now - started:.0f} s, {now - progressed:.0f} s without progress"
            )
        time.sleep(POLL_S)


class Run:
    def __init__(self, args, workdir: Path, checks: Checks):
        self.args = args
        self.workdir = workdir
        self.checks = checks
        self.processes = Processes(workdir)
        self.capture: CaptureServer | None = None
        self.cluster: postgres_cluster.Cluster | None = None
        self.replicas: list[Replica] = []
        self.haproxy: HaProxy | None = None
        self.registries: dict[str, Registry] = {}
        self.generator: Generator | None = None
        self.traffic: list[Traffic] = []

    def start(self) -> None:
        args, workdir = self.args, self.workdir
        (workdir / "tmp").mkdir()
        pki = make_pki(workdir / "pki")
        layout = workdir / "oci"
        (workdir / "scratch").mkdir()
        images = build_images(layout, workdir / "scratch")
        if not {"amd64", "arm64", "multi"} <= images.keys():
            fail(f"images {sorted(images)}")
        self.cluster, uri = start_postgres(workdir)
        config = workdir / "drec.yml"
        config.write_text(json.dumps({"registries": list(REGISTRIES)}))
        self.replicas = [
            Replica(args.drec, pki, workdir / f"replica{i}", uri, SCHEMA, ["--config", str(config)])
            for i in range(args.replicas)
        ]
        start_replicas(self.replicas)
        self.haproxy = HaProxy(args.haproxy, workdir, self.replicas, pki.ca)
        self.haproxy.start(self.processes)
        self.capture = CaptureServer()
        route = f"https://127.0.0.1:{self.haproxy.port}/events"
        for name, binary in (("r28", args.registry_28), ("r31", args.registry3)):
            registry = Registry(name, binary, workdir, f"{route}/{name}", self.capture, USERS)
            registry.start(self.processes, pki.ca)
            self.registries[name] = registry
        self.generator = Generator(
            self.haproxy.port, self.replicas, self.haproxy.tls, args.senders, args.rate
        )
        self.traffic = [Traffic(r, workdir, layout, 1) for r in self.registries.values()]

    def stop(self, show_logs: bool) -> None:
        if self.generator:
            self.generator.stop.set()
        for t in self.traffic:
            t.stop.set()
        if self.capture:
            self.capture.stop()
        for replica in self.replicas:
            replica.stop()
        self.processes.stop_all()
        if self.cluster:
            self.cluster.stop("fast")
        if show_logs:
            for replica in self.replicas:
                if tail := replica.log_tail(40):
                    print(f"--- last lines of {replica.name}/drec.log ---\n{tail}")
            for name in ("haproxy", *(f"registry-{n}" for n in self.registries)):
                if tail := self.processes.log_tail(name):
                    print(f"--- last lines of {name}.log ---\n{tail}")
            if self.cluster and self.cluster.log.exists():
                tail = "\n".join(self.cluster.log.read_text(errors="replace").splitlines()[-20:])
                print(f"--- last lines of {self.cluster.log.name} ---\n{tail}")

    # -- under fire --

    def events_delivered(self) -> int:
        """Progress of every source: generated envelopes acknowledged, registry events
        delivered to drec."""
        registry_events = sum(
            r.endpoint_metrics("drec")["Successes"] for r in self.registries.values()
        )
        return self.generator.count("envelopes") + registry_events

    def delivery_failures(self) -> int:
        return sum(r.delivery_failures() for r in self.registries.values())

    def wait_progress(self, what: str, more: int) -> None:
        """Until `more` events were delivered (bounded): the system serves meanwhile."""
        start = self.events_delivered()
        wait_until(what, lambda: self.events_delivered() >= start + more, STEP_S)

    def kill_replica(self, replica: Replica) -> None:
        """kill -9 while events arrive; the others serve PHASE_EVENTS meanwhile; restarted, it
        serves along until PHASE_EVENTS more were delivered."""
        replica.kill9()
        print(f"     kill -9 {replica.name}", flush=True)
        self.checks.run(
            f"{replica.name} killed: the others go on acknowledging",
            self.wait_progress,
            f"events to be acknowledged while {replica.name} is down",
            PHASE_EVENTS,
        )
        replica.start()
        print(f"     {replica.name} restarted", flush=True)
        self.checks.run(
            f"{replica.name} restarted: events are acknowledged",
            self.wait_progress,
            f"events to be acknowledged after {replica.name} restarted",
            PHASE_EVENTS,
        )

    def restart_postgres(self, mode: str, victim: Replica | None) -> None:
        """Stops PostgreSQL (`immediate`: a crash) under traffic: replicas must refuse (503,
        /readyz 503) and not die; `victim` is killed and started again while the database is
        down; after the start every replica must find the database by itself."""
        self.cluster.stop(mode)
        print(f"     PostgreSQL stopped ({mode})", flush=True)
        probe = self.generator.probe(self.replicas[0])
        self.checks.run(
            f"PostgreSQL down: a POST to {self.replicas[0].name} is answered 503 with Retry-After",
            probe.refused,
        )

        def unready():
            statuses = {r.name: r.ready() for r in self.replicas}
            return all(s == 503 for s in statuses.values()) and statuses

        self.checks.run(
            f"PostgreSQL down ({mode}): every replica's /readyz answers 503",
            wait_until,
            "every /readyz to answer 503",
            unready,
            STEP_S,
        )
        if victim:
            victim.kill9()
            victim.spawn()
            print(f"     kill -9 {victim.name} and start it while PostgreSQL is down", flush=True)
        failures = self.delivery_failures()
        self.checks.run(
            "PostgreSQL down: a registry's delivery fails (it will retry)",
            wait_until,
            "a failed delivery of r28 or r31",
            lambda: self.delivery_failures() > failures,
            STEP_S,
        )
        if victim:
            self.checks.run(
                f"{victim.name}, started while PostgreSQL is down, keeps running",
                victim.check_alive,
            )
        self.cluster.start()
        print("     PostgreSQL started", flush=True)

        def all_ready():
            for replica in self.replicas:
                replica.check_alive()
            return all(r.ready() == 200 for r in self.replicas)

        self.checks.run(
            "PostgreSQL back: every replica reconnects by itself (/readyz 200)",
            wait_until,
            "every /readyz to answer 200",
            all_ready,
            STEP_S,
        )
        if victim and victim.proc.poll() is not None:
            victim.start()  # so that the run goes on; the check above failed
        self.checks.run(
            f"PostgreSQL back: the refused envelope is acknowledged by {self.replicas[0].name}",
            probe.deliver,
        )
        self.checks.run(
            "PostgreSQL back: events are acknowledged again",
            self.wait_progress,
            "events to be acknowledged after the restart",
            PHASE_EVENTS,
        )

    def under_fire(self) -> None:
        started = time.monotonic()
        self.generator.start()
        for t in self.traffic:
            t.thread.start()
        self.checks.run(
            "traffic flows before the first kill",
            self.wait_progress,
            "the first events to be acknowledged",
            30,
        )
        n = 0
        while n < self.args.rounds or time.monotonic() - started < self.args.duration:
            print(f"---- round {n + 1}", flush=True)
            middle = len(self.replicas) // 2
            for i, replica in enumerate(self.replicas):
                if i == middle:
                    victim = self.replicas[-1] if len(self.replicas) > 1 else None
                    self.restart_postgres("immediate" if n % 2 == 0 else "fast", victim)
                self.kill_replica(replica)
            n += 1
        for t in self.traffic:
            t.stop.set()
        self.generator.finish(DELIVERY_DEADLINE_S + 10)
        for t in self.traffic:
            t.thread.join(300)
        g = self.generator
        print(
            f"     generator: {g.count('events')} events in {g.count('envelopes')} envelopes, "
            f"{g.count('racing double posts')} posted to two replicas at once, "
            f"{g.count('late re-posts')} re-posted after their 200, "
            f"{g.count('503 answers')} answers 503, {g.count('connection errors')} connection "
            f"errors; skopeo rounds {[t.rounds for t in self.traffic]}; "
            f"{n} chaos rounds in {time.monotonic() - started:.0f} s",
            flush=True,
        )

    # -- the end --

    def check_delivered(self) -> None:
        def generator_done():
            if self.generator.failures:
                fail("\n".join(self.generator.failures))

        self.checks.run("the generator: every envelope acknowledged with 200", generator_done)

        def traffic_done():
            errors = [t.error for t in self.traffic if t.error]
            if errors:
                fail("\n".join(errors))

        self.checks.run("skopeo traffic on r28 and r31 ran without error", traffic_done)

        def drained():
            for registry in self.registries.values():
                for endpoint in ("drec", "capture"):
                    wait_drained(registry, endpoint)

        backlog = {n: r.endpoint_metrics("drec")["Pending"] for n, r in self.registries.items()}
        print(f"     events the registries still hold for drec: {backlog}", flush=True)
        self.checks.run(
            f"every registry endpoint drained (Pending 0, each {DRAIN_STALL_S:.0f} s making "
            "progress)",
            drained,
        )

        def alive():
            for replica in self.replicas:
                replica.check_alive()
            self.processes.check_alive("haproxy")

        self.checks.run("every replica and HAProxy still running", alive)

    def expectations(self) -> dict[str, Expected]:
        events = {v: list(self.generator.events[v]) for v in VIEWS}
        for name, registry in self.registries.items():
            events[name] += registry.captured()
        return {v: Expected(v, events[v]) for v in VIEWS}

    def check_statistics(self) -> None:
        expected = self.expectations()
        api = Endpoint(self.haproxy.port, self.haproxy.tls)  # round robin: every replica answers
        for name, exp in expected.items():
            counted = sum(sum(want_counters(m.counters).values()) for m in exp.models.values())
            print(
                f"     {name}: {len(exp.events)} events, {counted} counted, "
                f"{len(exp.repositories)} repositories",
                flush=True,
            )
            for repo in exp.repositories:
                self.checks.run(
                    f"[{name}] {repo}: record, tags, digests, actors, days as the events make them",
                    self._no_problems,
                    compare_repository,
                    api,
                    exp,
                    repo,
                )
            self.checks.run(
                f"[{name}] listing and summary (totals, per day)",
                self._no_problems,
                compare_registry,
                api,
                exp,
            )

        def registries():
            got = {
                r.get("registry"): r for r in (api.api("registries") or {}).get("registries", [])
            }
            problems = []
            if sorted(got) != sorted(VIEWS):
                problems.append(f"registries {sorted(got)}, expected {sorted(VIEWS)}")
            for name, exp in expected.items():
                entry = got.get(name, {})
                want = want_counters(exp.totals()) | {"repositories": len(exp.repositories)}
                have = counters_of(entry) | {"repositories": entry.get("repositories")}
                if have != want:
                    problems.append(f"{name}: {have}, expected {want}")
            if problems:
                fail("\n".join(problems))

        self.checks.run("GET /registries: every registry's totals", registries)

        def same_everywhere():
            problems = []
            for replica in self.replicas:
                direct = Endpoint(replica.port, self.haproxy.tls)
                for exp in expected.values():
                    problems += [f"{replica.name}: {p}" for p in compare_registry(direct, exp)]
            if problems:
                fail("\n".join(problems[:40]))

        self.checks.run("each replica, asked directly, answers the same", same_everywhere)

        def event_ids():
            problems = []
            for name, exp in expected.items():
                schema = SCHEMA if name == "default" else f"{SCHEMA}@{name}"
                rows = self.cluster.psql(f'SELECT id FROM "{schema}".event_ids', "drec")
                stored, want = set(rows.split()), exp.recorded_ids()
                if stored != want:
                    missing, extra = sorted(want - stored), sorted(stored - want)
                    problems.append(
                        f"{schema}.event_ids: {len(stored)} ids, expected {len(want)}; "
                        f"missing {len(missing)} {missing[:3]}, unexpected {len(extra)} {extra[:3]}"
                    )
            if problems:
                fail("\n".join(problems))

        self.checks.run(
            "PostgreSQL: each registry's event_ids holds exactly the ids of its applied events",
            event_ids,
        )

    @staticmethod
    def _no_problems(compare, *args) -> None:
        problems = compare(*args)
        if problems:
            more = f"\n... and {len(problems) - 40} more" if len(problems) > 40 else ""
            fail("\n".join(problems[:40]) + more)


# ---------------------------------------------------------------------------------------------


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drec", required=True, help="drec binary (with the PostgreSQL store)")
    p.add_argument("--workdir", required=True, type=Path, help="scratch directory (cleared)")
    p.add_argument(
        "--registry-2.8",
        dest="registry_28",
        default=shutil.which("docker-registry") or "docker-registry",
        help="registry 2.8 binary (Debian's docker-registry)",
    )
    p.add_argument("--registry3", required=True, help="registry 3.x (scripts/build-registry3.sh)")
    p.add_argument("--haproxy", default=shutil.which("haproxy") or "/usr/sbin/haproxy")
    p.add_argument("--replicas", type=int, default=3, help="drec replicas (default 3)")
    p.add_argument("--senders", type=int, default=4, help="generator senders (default 4)")
    p.add_argument(
        "--rate", type=float, default=120.0, help="generated envelopes per second, all senders"
    )
    p.add_argument("--rounds", type=int, default=2, help="chaos rounds (default 2)")
    p.add_argument(
        "--duration", type=float, default=0.0, help="go on with chaos rounds for this many s"
    )
    args = p.parse_args()
    if args.replicas < 1 or args.senders < 1 or args.rounds < 1:
        p.error("--replicas, --senders and --rounds must be at least 1")
    args.drec = str(Path(args.drec).resolve())
    return args


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # run `finally`
    args = parse_args()
    started = time.monotonic()
    checks = Checks(indent_details=True)
    run_ = None
    try:
        workdir = prepare_workdir(args.workdir, WORKDIR_MARKER)
        if not bcrypt_hash("probe"):
            fail("this Python cannot make bcrypt hashes (crypt), which htpasswd users need")
        if not postgres_cluster.available():
            fail("no PostgreSQL server binaries (or no postgres user to run them as root)")
        run_ = Run(args, workdir, checks)
        run_.start()
        print(
            f"     {args.replicas} replicas behind HAProxy :{run_.haproxy.port}, PostgreSQL "
            f":{run_.cluster.port}, r28 {run_.registries['r28'].host}, "
            f"r31 {run_.registries['r31'].host}",
            flush=True,
        )
        run_.under_fire()
        run_.check_delivered()
        run_.check_statistics()
    except Failure as e:
        checks.failed += 1
        print(f"FAIL setup: {e}", flush=True)
    finally:
        if run_:
            run_.stop(show_logs=checks.failed > 0)
    print(
        f"replicas_e2e: {checks.passed} passed, {checks.failed} failed "
        f"in {time.monotonic() - started:.0f} s"
    )
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
