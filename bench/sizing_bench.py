#!/usr/bin/env python3
"""Memory and disk of drec on the embedded SQLite store, per million events and per repository.

Why it exists: an operator sizing a volume and a memory limit needs measured numbers, not a
guess from the schema. This starts drec (TLS, the SQLite store, a scratch directory) and posts
real-shaped Distribution registry notification envelopes (the shape of
tests/data/registry-2.8/manifest-*.json) with unique event ids, as traffic of many repositories
looks: per repository a few tags, each pushed in a few versions (tagged manifest pushes, 4 %),
GET pulls by tag (46 %) and by digest (25 %), HEAD checks by tag (25 %), from several actors
and user agents (so the traffic classes fill too), timestamps over the last 30 days (so every
repository has per-day records): by default in the order sent, as a registry notifies while it
serves (30 days compressed into the run); with --timestamps random each anywhere in the 30 days
(late deliveries: the per-day tables are written all over, the worst case for the write path).
Registry blob events are not sent: drec ignores them and stores nothing for them. C connections
(threads, one keep-alive TLS connection and one POST in flight each) post envelopes of B events;
every envelope must be answered 200 (a 503, drec's
back-pressure, is retried after its Retry-After, as a registry does).

After each step (by default a quarter, half and all of --events) the senders pause and it
prints: events/s of the step, drec's CPU and storage writes (/proc/<pid>/io write_bytes: the
WAL, checkpoints) per event, drec's VmRSS and VmHWM (/proc/<pid>/status), the sizes of the
database file, its -wal and -shm while drec runs, and
the file after `PRAGMA wal_checkpoint(TRUNCATE)` by the sqlite3 CLI (drec keeps the file in WAL
mode without an exclusive lock, so the CLI may checkpoint it while drec runs), in bytes per
event and per repository. At the end: the disk by table (indexes with their table) from the
dbstat virtual table, the rows of each table, and the share of the event ids.

The event_ids table (retries dropped by id) keeps an id for pipeline.retention_days (7 by
default) after drec applied it; every other table grows with repositories, tags, digests, actors
and days, not with the number of events. So the ids count for the last 7 days of traffic only:
the figures show their share, the steady state for a traffic of N events a week is the rest
plus N times the bytes of one id.

Usage: sizing_bench.py --drec PATH [--events 1000000] [--repositories 10000] [--connections 4]
                       [--batch 50] [--steps 250000,500000,1000000] [--workdir DIR] [--seed 1]
                       [--timestamps ordered|random]
Python standard library only, and the sqlite3 CLI (Debian's sqlite3, with dbstat). Loopback
only; drec is stopped when it ends (also on failure). Not in ctest.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import itertools
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
from drec_harness import Drec, LoopbackHttps, fail, prepare_workdir

WORKDIR_MARKER = ".sizing_bench"
TOKEN = "sizing-bench-token"
CONTENT_TYPE = "application/vnd.docker.distribution.events.v1+json"
START_TIMEOUT_S = 30.0
DAY_S = 86_400
SPREAD_DAYS = 30
VERSIONS = 3  # digests pushed per tag
TAGS = ("latest", "v1.0.0", "v1.1.0", "main", "v2.0.0-rc1", "2026.11")
MAX_ATTEMPTS = 200  # per envelope: 503s and reconnections
MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
# (action, method, by digest, weight): tagged pushes, GET by tag, GET by digest, HEAD by tag.
MIX = (
    ("push", "PUT", False, 4),
    ("pull", "GET", False, 46),
    ("pull", "GET", True, 25),
    ("pull", "HEAD", False, 25),
)
PUSHERS = ('{"name":"ci-bot"}', '{"name":"alice"}', '{"name":"release"}')
PULLERS = ("{}", "{}", '{"name":"k8s-puller"}', '{"name":"alice"}', '{"name":"bob"}')
PUSH_AGENTS = ("buildkit/v0.12.5", "docker/24.0.7 go/go1.20.10 git-commit/311b9ff kernel/6.1.0")
PULL_AGENTS = (
    "containerd/1.7.2",
    "containerd/1.7.2",
    "docker/24.0.7 go/go1.20.10 git-commit/311b9ff kernel/6.1.0",
    "cri-o/1.28.1",
    "skopeo/1.9.3",
    "Trivy/0.48.0",
)
EVENT = (
    '{{"id":"{id}","timestamp":"{ts}","action":"{action}","target":{{"mediaType":"' + MEDIA_TYPE
    + '","size":{size},"digest":"{digest}","length":{size},"repository":"{repo}",'
    '"url":"https://registry.example:5000/v2/{repo}/manifests/{ref}"{tag}}},'
    '"request":{{"id":"{rid}","addr":"10.0.{a}.{b}:{port}","host":"registry.example:5000",'
    '"method":"{method}","useragent":"{agent}"}},"actor":{actor},'
    '"source":{{"addr":"registry-0:5000","instanceID":"7b0a4e52-2f0c-4d6e-9a38-5c1f0e6d2b11"}}}}'
)  # fmt: skip


def repository(r: int) -> str:
    return f"team-{r % 300:03d}/service-{r:06d}"


def digest(repo: str, tag: str, version: int) -> str:
    return "sha256:" + hashlib.sha256(f"{repo}:{tag}:{version}".encode()).hexdigest()


class Clock:
    """Event times over the SPREAD_DAYS before `now`. In order (a registry notifies as it
    serves, so 30 days of traffic arrive compressed into the run, every sender at the same
    point of them, a few seconds apart), or at random (every event anywhere in the 30 days:
    late and out-of-order deliveries, the worst case for the per-day tables)."""

    def __init__(self, events: int, now: float, ordered: bool):
        self.events = events
        self.now = now
        self.ordered = ordered
        self.sequence = itertools.count()  # next() is atomic under the GIL

    def at(self, rng: random.Random) -> float:
        if not self.ordered:
            return self.now - rng.random() * SPREAD_DAYS * DAY_S
        done = min(next(self.sequence), self.events) / self.events
        return self.now - (1 - done) * SPREAD_DAYS * DAY_S - rng.random() * 5


class Traffic:
    """Envelopes of one sender: a random stream of its own (seeded), unique ids (uuid4)."""

    def __init__(self, repositories: int, seed: int, clock: Clock):
        self.repositories = repositories
        self.rng = random.Random(seed)
        self.clock = clock
        self.kinds = [kind for kind in MIX for _ in range(kind[3])]

    def event(self) -> str:
        rng = self.rng
        r = rng.randrange(self.repositories)
        repo = repository(r)
        tag = TAGS[rng.randrange(2 + r % 4)]  # 2 to 5 tags a repository
        action, method, by_digest, _ = rng.choice(self.kinds)
        ref = digest(repo, tag, rng.randrange(VERSIONS))
        at = self.clock.at(rng)
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1e9):09d}Z"
        push = action == "push"
        return EVENT.format(
            id=uuid.uuid4(),
            ts=ts,
            action=action,
            size=400 + r % 1200,
            digest=ref,
            repo=repo,
            ref=ref if by_digest else tag,
            tag="" if by_digest else f',"tag":"{tag}"',
            rid=uuid.uuid4(),
            a=rng.randrange(256),
            b=rng.randrange(256),
            port=rng.randrange(32768, 61000),
            method=method,
            agent=rng.choice(PUSH_AGENTS if push else PULL_AGENTS),
            actor=rng.choice(PUSHERS if push else PULLERS),
        )

    def envelope(self, events: int) -> bytes:
        return ('{"events":[' + ",".join(self.event() for _ in range(events)) + "]}").encode()


class Sender:
    """One keep-alive TLS connection, one POST in flight."""

    def __init__(self, drec: Drec, traffic: Traffic):
        self.drec = drec
        self.traffic = traffic
        self.conn: LoopbackHttps | None = None
        self.retries = 0
        self.error: str | None = None

    def post(self, body: bytes) -> None:
        headers = {"Content-Type": CONTENT_TYPE, "Authorization": f"Bearer {TOKEN}"}
        for _ in range(MAX_ATTEMPTS):
            try:
                if self.conn is None:
                    self.conn = LoopbackHttps(self.drec.port, self.drec.tls)
                self.conn.request("POST", "/events", body=body, headers=headers)
                resp = self.conn.getresponse()
                answer = resp.read()
            except (OSError, http.client.HTTPException):
                self.close()  # the same ids again: drec drops what it already has
                self.retries += 1
                self.drec.check_alive()
                continue
            if resp.status == 200:
                return
            if resp.status != 503:
                fail(f"POST /events: {resp.status} {answer[:200]!r}")
            self.retries += 1
            time.sleep(float(resp.getheader("Retry-After", "1")))  # as a registry backs off
        fail(f"POST /events: no 200 after {MAX_ATTEMPTS} attempts")

    def send(self, events: int, batch: int) -> None:
        """Thread body: `events` events in envelopes of `batch`; a failure is kept for the main
        thread."""
        try:
            while events > 0:
                n = min(batch, events)
                self.post(self.traffic.envelope(n))
                events -= n
        except Exception as e:
            self.error = f"{type(e).__name__}: {e}"

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ---------------------------------------------------------------------------------------------
# What drec and the file take


def proc_status(pid: int) -> dict[str, int]:
    """The kB fields of /proc/<pid>/status, in bytes."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB":
            fields[key] = int(parts[0]) * 1024
    return fields


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def written(pid: int) -> int:
    """Bytes the process had the kernel write to storage (/proc/<pid>/io write_bytes)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def file_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def sqlite(db: Path, sql: str) -> list[list[str]]:
    """Rows of the sqlite3 CLI (it waits up to 30 s for drec's write lock)."""
    out = subprocess.run(
        ["sqlite3", "-batch", "-cmd", ".timeout 30000", str(db), sql],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout
    return [line.split("|") for line in out.splitlines() if line]


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f}"


class Bench:
    def __init__(self, args, workdir: Path):
        self.args = args
        self.db = workdir / "drec.db"
        self.drec = Drec(
            args.drec,
            workdir,
            store="sqlite",
            mongodb_uri=None,
            database_prefix="sizing",
            token=TOKEN,
            tls_args=["--server-ssl-generated-dir", str(workdir / "tls")],
            cafile=workdir / "tls" / "cert.pem",
            start_timeout=START_TIMEOUT_S,
            extra_args=("--log-level", "warn"),
        )
        self.senders: list[Sender] = []

    def run(self) -> None:
        args = self.args
        self.drec.start()
        pid = self.drec.proc.pid
        clock = Clock(args.events, time.time(), args.timestamps == "ordered")
        self.senders = [
            Sender(self.drec, Traffic(args.repositories, args.seed * 1000 + i, clock))
            for i in range(args.connections)
        ]
        print(
            f"drec {args.drec}, SQLite {self.db}; {args.events:,} events over "
            f"{args.repositories:,} repositories, {args.connections} connections, "
            f"{args.batch} events an envelope, timestamps {args.timestamps} over the last "
            f"{SPREAD_DAYS} days",
            flush=True,
        )
        status = proc_status(pid)
        print(
            f"drec at start: VmRSS {mib(status['VmRSS'])} MiB, VmHWM {mib(status['VmHWM'])} MiB, "
            f"file {mib(file_size(self.db))} MiB",
            flush=True,
        )
        print(
            "\n| events | events/s | drec CPU µs/event | drec writes kB/event "
            "| VmRSS MiB | VmHWM MiB "
            "| db + wal + shm MiB | db after checkpoint MiB | B/event | event ids MiB "
            "| rest kB/repository |\n"
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            flush=True,
        )
        sent = 0
        for step in args.steps:
            cpu0, io0, t0 = cpu_seconds(pid), written(pid), time.monotonic()
            self.feed(step - sent)
            elapsed = time.monotonic() - t0
            cpu, io = cpu_seconds(pid) - cpu0, written(pid) - io0
            rate, per_event_us = (step - sent) / elapsed, 1e6 * cpu / (step - sent)
            io_kb = io / (step - sent) / 1000
            sent = step
            status = proc_status(pid)
            live = sum(file_size(Path(f"{self.db}{s}")) for s in ("", "-wal", "-shm"))
            busy = sqlite(self.db, "PRAGMA wal_checkpoint(TRUNCATE)")[0][0] != "0"
            db, ids = file_size(self.db), self.event_ids_bytes()
            print(
                f"| {sent:,} | {rate:,.0f} | {per_event_us:,.0f} | {io_kb:,.1f} "
                f"| {mib(status['VmRSS'])} "
                f"| {mib(status['VmHWM'])} | {mib(live)} | {mib(db)}{' (busy)' if busy else ''} "
                f"| {db / sent:,.0f} | {mib(ids)} | {(db - ids) / args.repositories / 1000:,.1f} |",
                flush=True,
            )
        self.report(sent, pid)

    def event_ids_bytes(self) -> int:
        """The pages of the event_ids table and its index (dbstat reads only those b-trees)."""
        query = (
            "SELECT SUM(pgsize) FROM dbstat WHERE name IN ('event_ids', 'event_ids_by_applied_at')"
        )
        return int(sqlite(self.db, query)[0][0])

    def feed(self, events: int) -> None:
        """`events` more, shared among the senders; returns when every one is acknowledged."""
        n = len(self.senders)
        threads = [
            threading.Thread(
                target=s.send, args=(events // n + (i < events % n), self.args.batch), daemon=True
            )
            for i, s in enumerate(self.senders)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        errors = [s.error for s in self.senders if s.error]
        if errors:
            fail("a sender failed: " + "; ".join(errors))

    def report(self, sent: int, pid: int) -> None:
        metrics = self.drec.request("GET", "/metrics").expect(200).body.decode()
        applied = next(
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith("drec_events_applied_total")
        )
        if int(applied) != sent:
            fail(f"drec_events_applied_total is {applied:.0f}, {sent:,} events were sent")
        retries = sum(s.retries for s in self.senders)
        print(f"\nall {sent:,} events applied (drec_events_applied_total), {retries} retries")
        # The API's answers read through the store's reader connections: memory with reads too.
        for target in (
            "/api/v1/summary",
            "/api/v1/repositories?sort=numpulls&limit=10",
            f"/api/v1/repositories/{repository(0)}/-/daily",
        ):
            self.drec.request("GET", target).expect(200)
        status = proc_status(pid)
        print(
            f"after API reads (summary, top 10, a daily series): VmRSS {mib(status['VmRSS'])} "
            f"MiB, VmHWM {mib(status['VmHWM'])} MiB, RssAnon {mib(status.get('RssAnon', 0))} MiB"
        )

        page_size = int(sqlite(self.db, "PRAGMA page_size")[0][0])
        free = int(sqlite(self.db, "PRAGMA freelist_count")[0][0]) * page_size
        by_table = sqlite(
            self.db,
            "SELECT s.tbl_name, SUM(d.pgsize) AS bytes, COUNT(*) FROM dbstat d "
            "JOIN sqlite_schema s ON s.name = d.name GROUP BY s.tbl_name ORDER BY bytes DESC",
        )
        db = file_size(self.db)
        print(
            f"\nDisk by table (dbstat, indexes with their table; page size {page_size} B, "
            f"free pages {mib(free)} MiB):\n\n"
            "| table | rows | MiB | share | B/event | B/row |\n"
            "| --- | ---: | ---: | ---: | ---: | ---: |"
        )
        ids = 0
        for table, pages_bytes, _pages in by_table:
            rows = int(sqlite(self.db, f'SELECT COUNT(*) FROM "{table}"')[0][0])
            size = int(pages_bytes)
            if table == "event_ids":
                ids = size
            print(
                f"| {table} | {rows:,} | {mib(size)} | {100 * size / db:.1f} % "
                f"| {size / sent:,.1f} | {size / rows if rows else 0:,.0f} |"
            )
        rest = db - ids
        print(
            f"\nevent ids: {mib(ids)} MiB, {100 * ids / db:.1f} % of the file, "
            f"{ids / sent:,.1f} B an event.\n"
            f"They are kept pipeline.retention_days (7 by default) after drec applied them, so in "
            f"steady state the table holds the last 7 days of traffic only (here all {sent:,} "
            f"ids, applied minutes ago; the event timestamps do not matter).\n"
            f"Everything else: {mib(rest)} MiB for {self.args.repositories:,} repositories with "
            f"{SPREAD_DAYS} days of history ({rest / self.args.repositories / 1000:,.1f} kB a "
            f"repository); it grows with repositories, tags, digests, actors and days, not "
            f"with events.\n"
            f"So a store with this history and {sent:,} events a week takes about {mib(db)} MiB; "
            f"each further million events a week adds {mib(ids / sent * 1e6)} MiB of event ids."
        )

    def stop(self) -> None:
        for s in self.senders:
            s.close()
        self.drec.stop()


def counts(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x]


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # run `finally`
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drec", required=True, help="drec binary")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--repositories", type=int, default=10_000)
    p.add_argument("--connections", type=int, default=4, help="sender threads")
    p.add_argument("--batch", type=int, default=50, help="events an envelope")
    p.add_argument(
        "--steps", type=counts, help="measure after these many events (default: N/4,N/2,N)"
    )
    p.add_argument(
        "--timestamps",
        choices=("ordered", "random"),
        default="ordered",
        help="event times over the last 30 days: in order as sent, or each at random",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workdir", type=Path, help="scratch directory (default: a temporary one)")
    args = p.parse_args()
    args.drec = str(Path(args.drec).resolve())
    args.steps = sorted(
        {s for s in args.steps or (args.events // 4, args.events // 2, args.events) if s > 0}
    )
    if args.steps[-1] != args.events:
        p.error("the last of --steps must be --events")
    if min(args.events, args.repositories, args.connections, args.batch) < 1:
        p.error("--events, --repositories, --connections and --batch must be positive")
    with tempfile.TemporaryDirectory(prefix="drec-sizing-bench-") as tmp:
        workdir = prepare_workdir(args.workdir, WORKDIR_MARKER) if args.workdir else Path(tmp)
        bench = Bench(args, workdir)
        try:
            print(f"<!-- load average before: {os.getloadavg()[0]:.2f} -->", flush=True)
            bench.run()
            print(f"<!-- load average after: {os.getloadavg()[0]:.2f} -->", flush=True)
        finally:
            bench.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
