#!/usr/bin/env python3
"""Soak: drec's memory under mixed valid traffic and abuse, and no acknowledged event lost.

Why it exists: issue 11 found drec's memory unbounded under abuse (bodies read before the
credentials, idle connections, memory kept after bursts). This starts drec (TLS on loopback, the
SQLite store, a generated token, a scratch directory) and, for --duration seconds, runs at once:

* valid traffic: --senders keep-alive connections posting envelopes of --batch events in the
  shapes of tests/data/registry-2.8 (tagged manifest push, GET by tag, HEAD by tag), each event
  with a unique id; an envelope is retried (same ids) after a 503 or a broken connection until
  it is answered 200, as a registry does;
* slowloris: --slowloris TLS clients that start a request and then dribble one header byte a
  second, reconnecting when drec cuts them (how long drec let each one dribble is reported);
* idle floods: waves of --idle-conns bare TCP connections that never start TLS, held
  --idle-hold seconds, then closed;
* unauthenticated bodies: --unauth-clients clients that post a 4 MiB body without credentials,
  again and again;
* malformed envelopes: a client that posts, with credentials, invalid JSON, numbers out of every
  range, deep nesting, long strings, invalid UTF-8 and byte-flipped real envelopes. Their events
  are of blobs, which drec ignores, so they never change the counts.

It prints drec's VmRSS (/proc/<pid>/status), open descriptors and threads every --interval
seconds, then stops the abuse, closes every connection, waits until drec's descriptors are back
to where they started (connections closed) and its RSS settles, and prints the summary: RSS at
start (after a short warm-up of valid traffic), peak, final, final/start and whether final is
within start + --budget-mb. Last, it waits for the pipeline and checks that /api/v1/summary
counts exactly the events acknowledged with 200: nothing lost, nothing counted twice.

Exit status 1 when the final RSS is over the budget, the counts differ, drec answered 500,
refused a valid envelope (4xx) or died. Usage:

    bench/soak_bench.py [--drec build/release/drec] [--duration 120] [--budget-mb 32]

Python standard library only. Loopback only; every loop is bounded by the duration or a count;
drec is stopped when it ends (also on failure). Not in ctest (benchmarks run outside CI).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import resource
import secrets
import signal
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
from drec_harness import Drec, LoopbackHttps

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "registry-2.8"
CONTENT_TYPE = "application/vnd.docker.distribution.events.v1+json"
START_TIMEOUT_S = 30.0
WARMUP_S = 5.0
MAX_ATTEMPTS = 150  # per valid envelope: 503s and broken connections
RECONNECT_S = 0.2
UNAUTH_BODY = 4 * 1024 * 1024
SOCKET_TIMEOUT_S = 10.0
CLOSE_WAIT_S = 90.0  # for drec to close every connection after the abuse (idle timeout 60 s)
SETTLE_S = 5.0  # RSS samples after that, the last of which is the final RSS
COUNT_WAIT_S = 30.0
REPOSITORIES = 40
# Manifest and index media types: the malformed bodies carry blobs instead, which never count.
MANIFEST_TYPE = re.compile(rb"application/vnd\.[a-z.]+\.(manifest|index)[a-z0-9.+]*")
# The valid shapes (files of tests/data/registry-2.8) and the counter each event adds to.
SHAPES = (
    ("manifest-push-tagged.json", "numpushs"),
    ("manifest-pull-get.json", "numpulls"),
    ("manifest-pull-head.json", "numchecks"),
)


def mib(n: float) -> str:
    return f"{n / 1024 / 1024:.1f}"


def proc_status(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if key == "Threads":
            fields[key] = int(parts[0])
        elif len(parts) == 2 and parts[1] == "kB":
            fields[key] = int(parts[0]) * 1024
    return fields


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Stats:
    """Counts shared by the workers (each += under the lock)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.acked = dict.fromkeys((counter for _, counter in SHAPES), 0)
        self.unacked_events = 0
        self.slowloris_held: list[float] = []

    def add(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n


class Soak:
    def __init__(self, args, workdir: Path):
        self.args = args
        self.token = secrets.token_urlsafe(24)
        self.drec = Drec(
            args.drec,
            workdir,
            store="sqlite",
            mongodb_uri=None,
            database_prefix="soak",
            token=self.token,
            tls_args=["--server-ssl-generated-dir", str(workdir / "tls")],
            cafile=workdir / "tls" / "cert.pem",
            start_timeout=START_TIMEOUT_S,
            extra_args=("--log-level", "warn"),
        )
        self.stats = Stats()
        self.stop_abuse = threading.Event()
        self.stop_valid = threading.Event()
        self.shapes = [(json.loads((DATA / f).read_text()), c) for f, c in SHAPES]
        self.blob = json.loads((DATA / "blob-pull-get.json").read_text())
        self.real = [
            p.read_bytes() for p in sorted(DATA.glob("*.json")) if ".events." not in p.name
        ]

    # -- valid traffic ------------------------------------------------------------------------

    def envelope(self, rng: random.Random) -> tuple[bytes, dict[str, int]]:
        events, adds = [], {}
        for _ in range(self.args.batch):
            template, counter = rng.choice(self.shapes)
            event = json.loads(json.dumps(template["events"][0]))
            event["id"] = str(uuid.uuid4())
            event["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            event["target"]["repository"] = f"soak/app-{rng.randrange(REPOSITORIES):02d}"
            events.append(event)
            adds[counter] = adds.get(counter, 0) + 1
        return json.dumps({"events": events}).encode(), adds

    def sender(self, seed: int) -> None:
        rng = random.Random(seed)
        headers = {"Content-Type": CONTENT_TYPE, "Authorization": f"Bearer {self.token}"}
        conn = None
        while not self.stop_valid.is_set():
            body, adds = self.envelope(rng)
            for _ in range(MAX_ATTEMPTS):
                try:
                    if conn is None:
                        conn = LoopbackHttps(self.drec.port, self.drec.tls)
                    conn.request("POST", "/events", body=body, headers=headers)
                    resp = conn.getresponse()
                    resp.read()
                except (OSError, http.client.HTTPException):
                    self.stats.add("valid: connection broken, retried")
                    if conn is not None:
                        conn.close()
                    conn = None
                    time.sleep(RECONNECT_S)  # drec may be refusing connections at its cap
                    continue
                self.stats.add(f"valid: {resp.status}")
                if resp.status == 200:
                    with self.stats.lock:
                        for counter, n in adds.items():
                            self.stats.acked[counter] += n
                    break
                if resp.status != 503:  # counted as a failure in the report
                    with self.stats.lock:
                        self.stats.unacked_events += self.args.batch
                    break
                time.sleep(min(float(resp.getheader("Retry-After", "1")), 2.0))
            else:
                with self.stats.lock:
                    self.stats.unacked_events += self.args.batch
        if conn is not None:
            conn.close()

    # -- abuse --------------------------------------------------------------------------------

    def tls_socket(self) -> ssl.SSLSocket:
        sock = socket.create_connection(("127.0.0.1", self.drec.port), SOCKET_TIMEOUT_S)
        return self.drec.tls.wrap_socket(sock, server_hostname="localhost")

    def slowloris(self) -> None:
        """All slowloris clients in one thread: one header byte each a second."""
        clients: list[tuple[ssl.SSLSocket, float]] = []
        line = b"X-Slow: " + b"a" * 60 + b"\r\n"
        sent = 0
        while not self.stop_abuse.is_set():
            while len(clients) < self.args.slowloris and not self.stop_abuse.is_set():
                try:
                    sock = self.tls_socket()
                    sock.sendall(b"POST /events HTTP/1.1\r\nHost: localhost\r\n")
                    clients.append((sock, time.monotonic()))
                    self.stats.add("slowloris: connections")
                except OSError:
                    self.stats.add("slowloris: connect failed")
                    break
            byte = line[sent % len(line) : sent % len(line) + 1]
            sent += 1
            alive = []
            for sock, since in clients:
                try:
                    sock.sendall(byte)
                    alive.append((sock, since))
                except OSError:  # drec cut it
                    with self.stats.lock:
                        self.stats.slowloris_held.append(time.monotonic() - since)
                    sock.close()
            clients = alive
            self.stop_abuse.wait(1.0)
        for sock, _ in clients:
            sock.close()

    def idle_floods(self) -> None:
        """Waves of bare TCP connections that never start TLS."""
        while not self.stop_abuse.is_set():
            socks = []
            try:
                for _ in range(self.args.idle_conns):
                    if self.stop_abuse.is_set():
                        break
                    try:
                        socks.append(
                            socket.create_connection(("127.0.0.1", self.drec.port), timeout=3)
                        )
                    except OSError:
                        self.stats.add("idle: connect failed")
                self.stats.add("idle: connections", len(socks))
                self.stats.add("idle: waves")
                self.stop_abuse.wait(self.args.idle_hold)
            finally:
                for sock in socks:
                    sock.close()
            self.stop_abuse.wait(2.0)

    def unauthenticated(self) -> None:
        """Posts a 4 MiB body without credentials, again and again (one client)."""
        head = (
            "POST /events HTTP/1.1\r\nHost: localhost\r\n"
            f"Content-Type: {CONTENT_TYPE}\r\nContent-Length: {UNAUTH_BODY}\r\n\r\n"
        ).encode()
        chunk = b" " * 65536
        while not self.stop_abuse.is_set():
            try:
                with contextlib.closing(self.tls_socket()) as sock:
                    sock.sendall(head)
                    for _ in range(UNAUTH_BODY // len(chunk)):
                        sock.sendall(chunk)
                    status = sock.recv(64).split(b" ")[1:2]
                    self.stats.add(f"unauth: {status[0].decode() if status else 'no answer'}")
            except (OSError, IndexError):
                self.stats.add("unauth: connection reset")

    def malformed_bodies(self, rng: random.Random) -> list[tuple[str, bytes]]:
        """(kind, body) pairs: each kind is reported with the statuses it got."""
        blob = json.loads(json.dumps(self.blob))
        event = blob["events"][0]
        bodies = [("not JSON", b) for b in (b"", b"{", b"not json", b"[]" * 1000)]
        bodies.append(("no events array", b'{"events": 5}'))
        bodies.append(("invalid UTF-8", json.dumps(blob).encode().replace(b"team", b"te\xc3am")))
        for number in ("99999999999999999999", "-1e999", "1" * 400, "1e400"):
            text = json.dumps(blob).replace('"size": ', f'"size": {number}, "x": ', 1)
            bodies.append(("out-of-range number", text.encode()))
        bodies.append(("deep nesting", b'{"events": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"))
        bodies.append(("deep nesting", b'{"events": [], "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"))
        long_event = json.loads(json.dumps(event))
        long_event["target"]["repository"] = "a" * 1_000_000
        long_event["actor"] = {"name": "é" * 200_000}
        text = json.dumps({"events": [long_event]}, ensure_ascii=False)
        bodies.append(("long strings", text.encode()))
        for _ in range(8):
            data = bytearray(rng.choice(self.real))
            for _ in range(rng.randrange(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            bodies.append(("byte-flipped envelope", bytes(data)))
        return bodies

    def fuzzer(self) -> None:
        """Malformed envelopes with credentials; a flipped byte can make a counted event, so
        those bodies' events are made blob events first (only ignored events reach drec)."""
        rng = random.Random(self.args.seed)
        headers = {"Content-Type": CONTENT_TYPE, "Authorization": f"Bearer {self.token}"}
        conn = None
        while not self.stop_abuse.is_set():
            for kind, raw in self.malformed_bodies(rng):
                if self.stop_abuse.is_set():
                    break
                body = MANIFEST_TYPE.sub(b"application/octet-stream", raw)
                try:
                    if conn is None:
                        conn = LoopbackHttps(self.drec.port, self.drec.tls)
                    conn.request("POST", "/events", body=body, headers=headers)
                    resp = conn.getresponse()
                    resp.read()
                    self.stats.add(f"malformed, {kind}: {resp.status}")
                except (OSError, http.client.HTTPException):
                    self.stats.add(f"malformed, {kind}: connection broken")
                    if conn is not None:
                        conn.close()
                    conn = None
        if conn is not None:
            conn.close()

    # -- the run ------------------------------------------------------------------------------

    def sample(self, t0: float, phase: str) -> int:
        pid = self.drec.proc.pid
        status = proc_status(pid)
        print(
            f"{time.monotonic() - t0:7.1f} {phase:<8} {mib(status['VmRSS']):>9} "
            f"{mib(status['VmHWM']):>9} {open_fds(pid):>6} {status['Threads']:>7}",
            flush=True,
        )
        return status["VmRSS"]

    def run(self) -> int:
        args = self.args
        self.drec.start()
        pid = self.drec.proc.pid
        rss_ready = proc_status(pid)["VmRSS"]
        threads = [
            threading.Thread(target=self.sender, args=(args.seed * 100 + i,), daemon=True)
            for i in range(args.senders)
        ]
        for thread in threads:
            thread.start()
        time.sleep(WARMUP_S)  # valid traffic only: the store's caches fill, not measured as abuse
        rss_start = proc_status(pid)["VmRSS"]
        fds_start = open_fds(pid)  # the senders' connections included
        abuse = [
            threading.Thread(target=self.slowloris, daemon=True),
            threading.Thread(target=self.idle_floods, daemon=True),
            threading.Thread(target=self.fuzzer, daemon=True),
            *(
                threading.Thread(target=self.unauthenticated, daemon=True)
                for _ in range(args.unauth_clients)
            ),
        ]
        for thread in abuse:
            thread.start()
        print(f"{'t (s)':>7} {'phase':<8} {'RSS MiB':>9} {'peak MiB':>9} {'fds':>6} {'threads':>7}")
        t0 = time.monotonic()
        peak = rss_start
        while time.monotonic() - t0 < args.duration:
            self.drec.check_alive()
            peak = max(peak, self.sample(t0, "abuse"))
            time.sleep(args.interval)
        self.stop_abuse.set()
        self.stop_valid.set()
        for thread in [*abuse, *threads]:
            thread.join(timeout=60)
        # Every client socket is closed: wait for drec to close its ends, then for RSS to settle.
        deadline = time.monotonic() + CLOSE_WAIT_S
        while open_fds(pid) > fds_start and time.monotonic() < deadline:
            self.drec.check_alive()
            peak = max(peak, self.sample(t0, "closing"))
            time.sleep(args.interval)
        fds_left = max(0, open_fds(pid) - fds_start)
        settle_end = time.monotonic() + SETTLE_S
        while True:
            final = self.sample(t0, "settled")
            peak = max(peak, final)
            if time.monotonic() >= settle_end:
                break
            time.sleep(1.0)
        peak = max(peak, proc_status(pid)["VmHWM"])
        counted, lost = self.check_counts()
        return self.report(rss_ready, rss_start, peak, final, fds_left, counted, lost)

    def check_counts(self) -> tuple[dict[str, int], bool]:
        """Polls /api/v1/summary until it counts the acknowledged events (bounded)."""
        expected = self.stats.acked
        deadline = time.monotonic() + COUNT_WAIT_S
        while True:
            totals = self.drec.request("GET", "/api/v1/summary").expect(200).json["totals"]
            counted = {counter: totals[counter] for counter in expected}
            if counted == expected or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        slack = self.stats.unacked_events  # sent, never acknowledged: may or may not count
        ok = all(expected[c] <= counted[c] <= expected[c] + slack for c in expected)
        return counted, not ok

    def report(self, rss_ready, rss_start, peak, final, fds_left, counted, lost) -> int:
        args = self.args
        budget = rss_start + args.budget_mb * 1024 * 1024
        within = final <= budget
        stats = self.stats
        held = stats.slowloris_held
        print()
        print("| soak | value |")
        print("| --- | --- |")
        rows = [
            ("drec", f"`{args.drec}`"),
            ("duration of the abuse", f"{args.duration:.0f} s"),
            ("RSS after start (readyz)", f"{mib(rss_ready)} MiB"),
            ("RSS at start (after warm-up)", f"{mib(rss_start)} MiB"),
            ("RSS peak (VmHWM)", f"{mib(peak)} MiB"),
            ("RSS final (connections closed)", f"{mib(final)} MiB"),
            ("final / start", f"{final / rss_start:.2f}"),
            (
                f"final within start + {args.budget_mb} MiB",
                f"{'yes' if within else 'NO'} (budget {mib(budget)} MiB)",
            ),
            ("descriptors still open after the wait", str(fds_left)),
        ]
        if held:
            rows.append(
                (
                    "slowloris cut after (median, max)",
                    f"{statistics.median(held):.0f} s, {max(held):.0f} s ({len(held)} cut)",
                )
            )
        rows += [(key, str(n)) for key, n in sorted(stats.counts.items())]
        for counter, n in stats.acked.items():
            rows.append((f"{counter}: acknowledged / counted", f"{n} / {counted[counter]}"))
        if stats.unacked_events:
            rows.append(("events never acknowledged", str(stats.unacked_events)))
        for key, value in rows:
            print(f"| {key} | {value} |")
        errors = sum(n for key, n in stats.counts.items() if key.endswith(": 500"))
        failed = []
        if not within:
            failed.append(f"final RSS {mib(final)} MiB over the budget {mib(budget)} MiB")
        if lost:
            failed.append("the counts differ from the acknowledged events")
        if errors:
            failed.append(f"{errors} answers were 500")
        refused = sum(
            n
            for key, n in stats.counts.items()
            if key.startswith("valid: ") and key[7:] in {"400", "401", "413", "500"}
        )
        if refused:
            failed.append(f"{refused} valid envelopes were refused")
        print("\nsoak: " + ("; ".join(failed) if failed else "passed"))
        return 1 if failed else 0

    def stop(self) -> None:
        self.stop_abuse.set()
        self.stop_valid.set()
        self.drec.stop()


def find_drec() -> str:
    for path in (ROOT / "build" / "release" / "drec", Path("/work/main/build/release/drec")):
        if path.exists():
            return str(path)
    return ""


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # run `finally`
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drec", default=find_drec(), help="drec binary (default build/release/drec)")
    p.add_argument("--duration", type=float, default=120.0, help="seconds of abuse")
    p.add_argument("--budget-mb", type=int, default=32, help="final RSS at most start + this")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between RSS samples")
    p.add_argument("--senders", type=int, default=2, help="valid traffic connections")
    p.add_argument("--batch", type=int, default=10, help="events a valid envelope")
    p.add_argument("--slowloris", type=int, default=50, help="slowloris clients")
    p.add_argument("--idle-conns", type=int, default=2000, help="bare connections a wave")
    p.add_argument("--idle-hold", type=float, default=5.0, help="seconds a wave is held")
    p.add_argument("--unauth-clients", type=int, default=32, help="clients posting 4 MiB bodies")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workdir", type=Path, help="scratch directory (default: a temporary one)")
    args = p.parse_args()
    if not args.drec or not Path(args.drec).exists():
        p.error("no drec binary: build it (build/release/drec) or give --drec")
    args.drec = str(Path(args.drec).resolve())
    if min(args.duration, args.senders, args.batch) <= 0:
        p.error("--duration, --senders and --batch must be positive")
    # Every connection is a descriptor here and in drec (which inherits the limit).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = args.idle_conns + args.slowloris + args.unauth_clients + 256
    if hard != resource.RLIM_INFINITY and needed > hard:
        p.error(f"--idle-conns and the clients need {needed} descriptors; the limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 2 * needed)), hard))
    with tempfile.TemporaryDirectory(prefix="drec-soak-bench-") as tmp:
        workdir = args.workdir.resolve() if args.workdir else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        soak = Soak(args, workdir)
        try:
            print(f"<!-- load average before: {os.getloadavg()[0]:.2f} -->", flush=True)
            return soak.run()
        finally:
            soak.stop()


if __name__ == "__main__":
    sys.exit(main())
