#!/usr/bin/env python3
"""Side by side: drec against a null TLS server with the same load, and the ratios (issue 13).

Why it exists: drec's ingest figures alone say nothing on a shared 2-core machine; what matters
is how far drec is from what the machine can do at all. In the same run this measures, with the
same load generator (wrk) and the same request bytes (bench/side_by_side.lua: one real-shaped
manifest pull per envelope, its id unique per request and per connection):

* nginx-null: Debian's nginx (nginx-light) answering every request `200 {}` and doing nothing
  with it, over TLS 1.2+ with the same certificate, 2 workers (the two cores drec's threads
  get): the cost of TLS, HTTP and the loopback round trip with no work;
* drec on its embedded SQLite store (a fresh file in the workdir, defaults otherwise), which
  answers 200 only after the events are durably committed;
* a durable-write probe on the same file system as drec's SQLite file: 2,000 times write 4 KiB
  at offset 0 + fdatasync, median and p90; and, for information, 500 one-row SQLite commits
  as drec makes them (WAL, synchronous FULL) in a database of their own beside drec's, timed
  once its WAL has been checkpointed and is reused, as drec's is.

Each round runs, for --duration seconds each: nginx with 1 connection, drec with 1, nginx with
64, drec with 64, then the probes, then the one-request clients: 200 clients one after the
other each open a TLS connection, send ONE POST and close, to drec and then to nginx; measured:
the handshake and the time from the end of sending to the first byte of the reply (before drec
set TCP_NODELAY, that reply often waited ~40 ms: Nagle meets delayed ACK). After each drec run
it checks /metrics: every event drec applied is one that was sent (applied - completed between
0 and the connections, the requests in flight when wrk stopped; no duplicates), and no answer
was non-2xx; else the run is invalid.

The goals it reports, not asserts (a ratio is taken in each round, then their median):

  durable limit  1 / (nginx-null's mean reply time at 1 connection + median durable write):
                 the best serial rate of a server that does nothing but one durable write.
                 The mean reply time is 1 / req/s of that run, not wrk's "Latency Avg": wrk 4
                 corrects its latency figures for coordinated omission (stats_correct adds a
                 virtual sample every expected interval below each slow reply), so on a busy
                 machine its mean at 1 connection is many times the real one (e.g. 562 us at
                 17,452 req/s). wrk's corrected mean, p50 and p99 are printed as wrk gives them.
  goal 2         drec at 1 connection >= 0.8 x the durable limit
  goal 3         drec at 64 connections >= 0.6 x nginx-null at 64, no non-2xx, drec's peak RSS
                 (VmHWM after the 64-connection runs) <= 50 MB
  goal 4         no stall on new connections: at most 1 % of drec's replies after the
                 handshake take over 20 ms (the stall was ~40 ms; a slow flush on the
                 project's machine is 4 ms)

Usage: side_by_side.py --drec build/release/drec [--duration 10] [--rounds 3] [--workdir DIR]
                       [--clients 200] [--writes 2000] [--commits 500] [--wrk PATH]
                       [--nginx PATH]
The workdir (default: a new directory beside the drec binary, removed at the end; not /tmp,
which may be tmpfs; a given one is kept) holds drec's SQLite file and the probe files. Exit
status 0 when the run was valid (counts matched, no non-2xx, no socket errors) whatever the
goals, 1 otherwise.
Python standard library only; nginx and drec are stopped when it ends. Not in ctest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
from drec_harness import Drec, Failure, fail, free_port, prepare_workdir, stop_process

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "side_by_side.lua"
WORKDIR_MARKER = ".side_by_side"
CONTENT_TYPE = "application/vnd.docker.distribution.events.v1+json"
DIGEST = "sha256:a3350243e7f3f60fe8606a9efbc06127cbd08bb0d6af13af414e6bf2b7036808"
START_TIMEOUT_S = 30.0
SETTLE_TIMEOUT_S = 30.0  # for drec to commit the envelopes in flight when wrk stopped
POLL_S = 0.05
SQLITE_WARMUP_LIMIT = 5000  # commits; SQLite checkpoints after about 1,000 one-page commits
SOCKET_TIMEOUT_S = 10.0
WORKERS = 2  # nginx workers: drec serves HTTP with one thread per core on this 2-core target
MANY = 64  # connections of the concurrent runs
STALL_MS = 20.0  # a reply after the handshake slower than this counts as a stall
STALL_SHARE = 0.01  # goal 4: at most this share of the one-request clients see a stall
GOAL_SERIAL = 0.8
GOAL_CONCURRENT = 0.6
GOAL_RSS_MB = 50.0
UNITS_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}

NGINX_CONF = """\
# Generated by bench/side_by_side.py: a TLS server that does no work.
daemon off;
master_process on;
worker_processes {workers};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        keepalive_requests 1000000;
        keepalive_timeout 75s;
        location / {{
            default_type application/json;
            return 200 "{{}}";
        }}
    }}
}}
"""


def filesystem(path: Path) -> str:
    """The type, device and mount point of the file system `path` is on (/proc/mounts)."""
    best = ("?", "?", "/")
    for line in Path("/proc/mounts").read_text().splitlines():
        device, mount, fstype = line.split()[:3]
        mount = mount.replace("\\040", " ")
        inside = str(path) == mount or str(path).startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best[2]):
            best = (fstype, device, mount)
    return f"{best[0]} ({best[1]} on {best[2]})"


def make_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed P-256 certificate for localhost and 127.0.0.1 (openssl CLI)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    argv = [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ]
    subprocess.run(
        [*argv, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def proc_status_bytes(pid: int, keys: tuple[str, ...]) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in keys:
            values[key] = int(value.split()[0]) * 1024
    return values


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


class Nginx:
    """nginx in the foreground on a free loopback port with the generated config."""

    def __init__(self, binary: str, directory: Path, cert: Path, key: Path):
        self.binary = binary
        self.dir = directory
        self.dir.mkdir()
        self.port = free_port()
        self.conf = directory / "nginx.conf"
        self.conf.write_text(
            NGINX_CONF.format(workers=WORKERS, dir=directory, port=self.port, cert=cert, key=key)
        )
        self.proc: subprocess.Popen | None = None

    def start(self, tls: ssl.SSLContext) -> None:
        prefix = ["setpriv", "--pdeathsig", "TERM"] if shutil.which("setpriv") else []
        argv = [self.binary, "-p", f"{self.dir}/", "-c", str(self.conf), "-e", "stderr"]
        with open(self.dir / "nginx.log", "ab") as log:
            self.proc = subprocess.Popen(
                prefix + argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        last_error = "no answer"
        while True:
            if self.proc.poll() is not None:
                fail(f"nginx exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                status, _, _ = one_request(self.port, tls, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                if status == 200:
                    return
                last_error = f"status {status}"
            except OSError as e:
                last_error = str(e)
            if time.monotonic() > deadline:
                fail(f"nginx not ready after {START_TIMEOUT_S:.0f} s ({last_error})")
            time.sleep(POLL_S)

    def log_tail(self) -> str:
        text = (self.dir / "nginx.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-20:])

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


def one_request(port: int, tls: ssl.SSLContext, request: bytes) -> tuple[int, float, float]:
    """One TLS connection, one request: (status, handshake s, s from sent to first reply byte).

    The client sets TCP_NODELAY, so a wait measured here is the server's, not the client's.
    """
    sock = socket.create_connection(("127.0.0.1", port), SOCKET_TIMEOUT_S)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = tls.wrap_socket(sock, server_hostname="localhost", do_handshake_on_connect=False)
        t0 = time.perf_counter()
        conn.do_handshake()
        t1 = time.perf_counter()
        conn.sendall(request)
        t2 = time.perf_counter()
        data = conn.recv(65536)
        t3 = time.perf_counter()
        while b"\r\n\r\n" not in data:
            more = conn.recv(65536)
            if not more:
                fail(f"connection closed before the reply's headers: {data[:200]!r}")
            data += more
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        while length and len(body) < int(length.group(1)):
            more = conn.recv(65536)
            if not more:
                break
            body += more
        conn.close()
        return status, t1 - t0, t3 - t2
    finally:
        sock.close()


def post_bytes(token: str, event_id: str) -> bytes:
    """The request of the one-request clients: the event of the Lua script, its own id."""
    event = {
        "id": event_id,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "action": "pull",
        "target": {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "size": 345,
            "digest": DIGEST,
            "length": 345,
            "repository": "team/app",
            "url": f"https://registry.example:5000/v2/team/app/manifests/{DIGEST}",
            "tag": "v1",
        },
        "request": {
            "id": f"{event_id}-r",
            "addr": "10.0.0.1:55508",
            "host": "registry.example:5000",
            "method": "GET",
            "useragent": "containerd/1.7.24",
        },
        "actor": {"name": "ci-bot"},
        "source": {"addr": "vm:5000", "instanceID": "57e1d1d1-82d6-4b6f-8858-0b7f496249b0"},
    }
    body = json.dumps({"events": [event]}, separators=(",", ":")).encode()
    head = (
        f"POST /events HTTP/1.1\r\nHost: localhost\r\nContent-Type: {CONTENT_TYPE}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    return head + body


def parse_wrk(output: str) -> dict:
    """Requests completed, req/s, mean/p50/p99 latency (s), socket errors, non-2xx."""

    def seconds(text: str) -> float:
        m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
        if not m:
            fail(f"wrk: unknown time {text!r}")
        return float(m.group(1)) * UNITS_S[m.group(2)]

    def find(pattern: str) -> re.Match:
        m = re.search(pattern, output, re.MULTILINE)
        if not m:
            fail(f"wrk output without {pattern!r}:\n{output}")
        return m

    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    hook = find(r"^side_by_side: responses=(\d+) non2xx=(\d+)")
    return {
        "completed": int(find(r"^\s*(\d+) requests in")[1]),
        "rps": float(find(r"^Requests/sec:\s*([\d.]+)")[1]),
        "wrk_mean": seconds(find(r"^\s*Latency\s+(\S+)")[1]),
        "p50": seconds(find(r"^\s*50%\s+(\S+)")[1]),
        "p99": seconds(find(r"^\s*99%\s+(\S+)")[1]),
        "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0,
        "responses": int(hook[1]),
        "non2xx": int(hook[2]),
    }


class SideBySide:
    def __init__(self, args, workdir: Path):
        self.args = args
        self.workdir = workdir
        self.token = secrets.token_urlsafe(24)
        self.run_id = secrets.token_hex(4)
        self.invalid: list[str] = []
        cert, key = make_cert(workdir)
        self.tls = ssl.create_default_context(cafile=str(cert))
        self.nginx = Nginx(args.nginx, workdir / "nginx", cert, key)
        drec_dir = workdir / "drec"
        drec_dir.mkdir()
        self.drec = Drec(
            args.drec,
            drec_dir,
            store="sqlite",
            mongodb_uri=None,
            database_prefix="side_by_side",
            token=self.token,
            tls_args=["--server-ssl-cert", str(cert), "--server-ssl-cert-key", str(key)],
            cafile=cert,
            start_timeout=START_TIMEOUT_S,
        )
        self.drec_db = drec_dir / "drec.db"
        self.probe_file = drec_dir / "durable-probe.bin"
        self.sqlite_probe_file = drec_dir / "sqlite-probe.db"

    # -- the parts ------------------------------------------------------------------------------

    def wrk(self, server: str, port: int, connections: int, label: str) -> dict:
        threads = 1 if connections == 1 else 2
        argv = [
            self.args.wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{self.args.duration:g}s",
            "--timeout",
            "30s",
            "--latency",
            "-s",
            str(LUA),
            f"https://127.0.0.1:{port}/events",
            "--",
            self.token,
            f"sbs-{self.run_id}-{label}",
        ]
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=self.args.duration + 120, check=False
        )
        if done.returncode != 0:
            fail(f"wrk exited with {done.returncode}:\n{done.stdout}\n{done.stderr}")
        result = parse_wrk(done.stdout)
        if result["non2xx"]:
            self.invalid.append(f"{label}: {result['non2xx']} answers were not 2xx")
        if result["socket_errors"]:
            self.invalid.append(f"{label}: {result['socket_errors']} socket errors")
        if result["responses"] != result["completed"]:
            self.invalid.append(
                f"{label}: the Lua hook saw {result['responses']} responses, wrk counted "
                f"{result['completed']}"
            )
        result["server"] = server
        result["connections"] = connections
        # What a connection spent per request, measured: wrk's latency figures are not (see the
        # module's docstring).
        result["mean"] = connections / result["rps"]
        return result

    def metrics(self) -> dict[str, int]:
        text = self.drec.request("GET", "/metrics", auth=None).expect(200).body.decode()
        values = {}
        for name in (
            "drec_events_received_total",
            "drec_events_applied_total",
            "drec_events_duplicate_total",
        ):
            m = re.search(rf"^{name} (\d+)$", text, re.MULTILINE)
            if not m:
                fail(f"/metrics has no {name}")
            values[name] = int(m[1])
        return values

    def settled_delta(self, before: dict[str, int]) -> dict[str, int]:
        """The counters' change once every accepted event is committed (bounded wait)."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while True:
            now = self.metrics()
            delta = {k: now[k] - before[k] for k in now}
            committed = delta["drec_events_applied_total"] + delta["drec_events_duplicate_total"]
            if committed >= delta["drec_events_received_total"]:
                return delta
            if time.monotonic() > deadline:
                fail(f"drec did not commit the accepted events within {SETTLE_TIMEOUT_S:.0f} s")
            time.sleep(POLL_S)

    def check_counts(self, label: str, before: dict[str, int], completed: int, inflight: int):
        delta = self.settled_delta(before)
        applied = delta["drec_events_applied_total"]
        extra = applied - completed
        ok = 0 <= extra <= inflight and delta["drec_events_duplicate_total"] == 0
        if not ok:
            self.invalid.append(
                f"{label}: drec applied {applied} events, wrk completed {completed} requests "
                f"(allowed in flight: {inflight}), duplicates "
                f"{delta['drec_events_duplicate_total']}"
            )
        return f"applied {applied} = completed {completed} + {extra} in flight" + (
            "" if ok else "  MISMATCH"
        )

    def drec_run(self, connections: int, label: str) -> dict:
        before = self.metrics()
        result = self.wrk("drec", self.drec.port, connections, label)
        result["check"] = self.check_counts(label, before, result["completed"], connections)
        self.drec.check_alive()
        return result

    def durable_probe(self) -> dict:
        """write(4 KiB) at offset 0 + fdatasync, --writes times, beside drec's SQLite file."""
        block = os.urandom(4096)
        fd = os.open(self.probe_file, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.pwrite(fd, block, 0)  # allocate the block first: later writes only overwrite
            os.fsync(fd)
            times = []
            for _ in range(self.args.writes):
                t0 = time.perf_counter()
                os.pwrite(fd, block, 0)
                os.fdatasync(fd)
                times.append(time.perf_counter() - t0)
        finally:
            os.close(fd)
        times.sort()
        return {
            "median": statistics.median(times),
            "p10": percentile(times, 0.10),
            "p90": percentile(times, 0.90),
            "mean": statistics.mean(times),
        }

    def sqlite_probe(self) -> dict:
        """--commits SQLite transactions of one row, as drec commits (WAL, synchronous FULL),
        in a database of their own beside drec's: what a durable SQLite commit costs here.

        Timed only once the WAL has been checkpointed and restarted, as drec's is after its
        first thousand pages: until then each commit grows the WAL file, and an fdatasync that
        must also persist the new file size costs two to three times one that does not."""
        db = sqlite3.connect(self.sqlite_probe_file, isolation_level=None)
        wal = Path(f"{self.sqlite_probe_file}-wal")
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            db.execute("CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, v BLOB)")

            def commit() -> float:
                t0 = time.perf_counter()
                db.execute("BEGIN")
                db.execute("INSERT INTO probe (v) VALUES (randomblob(300))")
                db.execute("COMMIT")
                return time.perf_counter() - t0

            # Every commit appends to a growing WAL; the first one that does not has started
            # over at its beginning, after a checkpoint. Bounded, should that never come.
            largest = 0
            for _ in range(SQLITE_WARMUP_LIMIT):
                commit()
                size = wal.stat().st_size
                if size == largest:
                    break
                largest = size
            times = [commit() for _ in range(self.args.commits)]
        finally:
            db.close()
        times.sort()
        return {"median": statistics.median(times), "p90": percentile(times, 0.90)}

    def one_request_probe(self, server: str, port: int, label: str) -> dict:
        """--clients clients one after the other: connect, handshake, one POST, close."""
        before = self.metrics() if server == "drec" else None
        handshakes, replies = [], []
        for i in range(self.args.clients):
            request = post_bytes(self.token, f"sbs-{self.run_id}-{label}-{i}")
            status, handshake, reply = one_request(port, self.tls, request)
            if not 200 <= status <= 299:
                self.invalid.append(f"{label}: status {status}")
            handshakes.append(handshake)
            replies.append(reply)
        result = {"handshake": sorted(handshakes), "reply": sorted(replies)}
        if before is not None:
            result["check"] = self.check_counts(label, before, self.args.clients, 0)
        return result

    # -- the run --------------------------------------------------------------------------------

    def run(self) -> int:
        binary = Path(self.args.drec)
        built = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(binary.stat().st_mtime))
        digest = hashlib.sha256(binary.read_bytes()).hexdigest()[:12]
        print(f"drec: {binary} (built {built}, sha256 {digest}...)")
        print(f"workdir: {self.workdir} on {filesystem(self.workdir)}")
        print(
            f"cores: {os.cpu_count()}; nginx worker_processes {WORKERS}; drec --server-threads "
            f"default (one per core); load average {os.getloadavg()[0]:.2f}"
        )
        print(
            f"wrk: {self.args.wrk} -s {LUA.name}; 1 connection: -t1 -c1, {MANY}: -t2 -c{MANY}; "
            f"{self.args.duration:g} s each, {self.args.rounds} rounds"
        )
        self.nginx.start(self.tls)
        self.drec.start()
        print(
            f"nginx {self.nginx.port} (pid {self.nginx.proc.pid}), drec {self.drec.port} "
            f"(pid {self.drec.proc.pid}), SQLite {self.drec_db}\n",
            flush=True,
        )
        rounds = []
        for r in range(1, self.args.rounds + 1):
            row = {
                "nginx1": self.wrk("nginx", self.nginx.port, 1, f"r{r}-nginx-c1"),
                "drec1": self.drec_run(1, f"r{r}-drec-c1"),
                "nginx64": self.wrk("nginx", self.nginx.port, MANY, f"r{r}-nginx-c{MANY}"),
                "drec64": self.drec_run(MANY, f"r{r}-drec-c{MANY}"),
            }
            row["rss"] = proc_status_bytes(self.drec.proc.pid, ("VmHWM", "VmRSS"))
            row["durable"] = self.durable_probe()
            row["limit"] = 1 / (row["nginx1"]["mean"] + row["durable"]["median"])
            row["limit_mean"] = 1 / (row["nginx1"]["mean"] + row["durable"]["mean"])
            row["sqlite"] = self.sqlite_probe()
            row["limit_sqlite"] = 1 / (row["nginx1"]["mean"] + row["sqlite"]["median"])
            row["single"] = {
                "drec": self.one_request_probe("drec", self.drec.port, f"r{r}-drec-single"),
                "nginx": self.one_request_probe("nginx", self.nginx.port, f"r{r}-nginx-single"),
            }
            rounds.append(row)
            print_round(r, row)
        single = {
            server: {
                key: sorted(x for row in rounds for x in row["single"][server][key])
                for key in ("handshake", "reply")
            }
            for server in ("drec", "nginx")
        }
        print_single(single, "all rounds")
        print_summary(rounds, single)
        if self.invalid:
            print("\nINVALID run:\n  " + "\n  ".join(self.invalid))
            return 1
        print("\nvalid run: every count matched, every answer 2xx")
        return 0

    def stop(self) -> None:
        try:
            self.drec.stop()
        finally:
            self.nginx.stop()


# -- printing -----------------------------------------------------------------------------------


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f}"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f}"


def mb(n: float) -> str:
    return f"{n / 1e6:.1f}"


def print_round(r: int, row: dict) -> None:
    print(f"round {r}")
    print(
        "| run | req/s | mean µs (conns / req/s) | wrk: mean µs | p50 µs | p99 µs | requests "
        "| non-2xx |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for key in ("nginx1", "drec1", "nginx64", "drec64"):
        w = row[key]
        name = f"{w['server']}, {w['connections']} conn"
        print(
            f"| {name} | {w['rps']:,.0f} | {us(w['mean'])} | {us(w['wrk_mean'])} | {us(w['p50'])} "
            f"| {us(w['p99'])} "
            f"| {w['completed']:,} | {w['non2xx']} |"
        )
    d = row["durable"]
    print(
        f"durable write (4 KiB + fdatasync): median {us(d['median'])} µs, p10 {us(d['p10'])},"
        f" p90 {us(d['p90'])}, mean {us(d['mean'])} µs; durable limit {row['limit']:,.0f} req/s"
        f" (with the mean write: {row['limit_mean']:,.0f})"
    )
    q = row["sqlite"]
    print(
        f"SQLite commit (WAL, synchronous FULL, one row): median {us(q['median'])} µs, p90 "
        f"{us(q['p90'])} µs; with it the limit is {row['limit_sqlite']:,.0f} req/s"
    )
    print(
        f"drec after {MANY} conn: VmHWM {mb(row['rss']['VmHWM'])} MB, "
        f"VmRSS {mb(row['rss']['VmRSS'])} MB"
    )
    print(f"counts: 1 conn {row['drec1']['check']}; {MANY} conn {row['drec64']['check']}")
    print_single(row["single"], f"round {r}")


def print_single(single: dict, title: str) -> None:
    n = len(single["drec"]["reply"])
    print(f"one request per connection, {title} ({n} clients one after the other, ms)")
    print(
        f"| server | handshake p50 | p90 | p99 | max | reply after handshake p50 | p90 | p99 "
        f"| max | replies > {STALL_MS:.0f} ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for server in ("drec", "nginx"):
        h, rep = single[server]["handshake"], single[server]["reply"]
        stalls = sum(1 for x in rep if x * 1e3 > STALL_MS)
        cells = [ms(statistics.median(h)), ms(percentile(h, 0.9)), ms(percentile(h, 0.99))]
        cells += [ms(h[-1]), ms(statistics.median(rep)), ms(percentile(rep, 0.9))]
        cells += [ms(percentile(rep, 0.99)), ms(rep[-1]), str(stalls)]
        print(f"| {server} | " + " | ".join(cells) + " |")
    if "check" in single["drec"]:
        print(f"counts: {single['drec']['check']}")
    print(flush=True)


def print_summary(rounds: list[dict], single: dict) -> None:
    def med(key: str, field: str = "rps") -> float:
        return statistics.median(row[key][field] for row in rounds)

    nginx1, drec1, nginx64, drec64 = med("nginx1"), med("drec1"), med("nginx64"), med("drec64")
    limit = statistics.median(row["limit"] for row in rounds)
    durable = statistics.median(row["durable"]["median"] for row in rounds)
    sqlite_commit = statistics.median(row["sqlite"]["median"] for row in rounds)
    sqlites = [row["drec1"]["rps"] / row["limit_sqlite"] for row in rounds]
    hwm = max(row["rss"]["VmHWM"] for row in rounds)
    rss = rounds[-1]["rss"]["VmRSS"]
    # The ratios pair the figures of the same round: the durable write's cost changes between
    # rounds on a shared machine (and on this one's virtual disk, by a factor of 50).
    serials = [row["drec1"]["rps"] / row["limit"] for row in rounds]
    concurrents = [row["drec64"]["rps"] / row["nginx64"]["rps"] for row in rounds]
    serial, concurrent = statistics.median(serials), statistics.median(concurrents)

    def each(values: list[float]) -> str:
        return ", ".join(f"{v:.2f}" for v in values)

    replies = single["drec"]["reply"]
    stalls = sum(1 for x in replies if x * 1e3 > STALL_MS)
    nginx_stalls = sum(1 for x in single["nginx"]["reply"] if x * 1e3 > STALL_MS)

    def yes(ok: bool) -> str:
        return "yes" if ok else "no"

    print(f"summary (medians over {len(rounds)} rounds; a ratio: the median of the rounds' ratios)")
    print("| figure | value | goal | holds |")
    print("|---|---:|---|---|")
    print(
        f"| nginx-null, 1 connection | {nginx1:,.0f} req/s (mean "
        f"{us(med('nginx1', 'mean'))} µs) | | |"
    )
    print(f"| drec, 1 connection | {drec1:,.0f} req/s (mean {us(med('drec1', 'mean'))} µs) | | |")
    print(f"| durable write (4 KiB + fdatasync), median | {us(durable)} µs | | |")
    print(
        f"| durable limit = 1 / (nginx mean at 1 conn + durable write) | {limit:,.0f} req/s | | |"
    )
    print(
        f"| informational: SQLite commit (WAL, synchronous FULL), median | {us(sqlite_commit)} µs "
        "| | |"
    )
    print(
        f"| informational: drec serial / (1 / (nginx mean + SQLite commit)) (rounds: "
        f"{each(sqlites)}) | {statistics.median(sqlites):.2f} | | |"
    )
    print(
        f"| goal 2: drec serial / durable limit (rounds: {each(serials)}) | {serial:.2f} "
        f"| ≥ {GOAL_SERIAL} "
        f"| {yes(serial >= GOAL_SERIAL)} |"
    )
    print(f"| nginx-null, {MANY} connections | {nginx64:,.0f} req/s | | |")
    print(f"| drec, {MANY} connections | {drec64:,.0f} req/s | | |")
    print(
        f"| goal 3: drec {MANY} / nginx {MANY} (rounds: {each(concurrents)}) | {concurrent:.2f} "
        f"| ≥ {GOAL_CONCURRENT} "
        f"| {yes(concurrent >= GOAL_CONCURRENT)} |"
    )
    print(
        f"| goal 3: drec VmHWM (peak) / VmRSS after the last {MANY}-connection run "
        f"| {mb(hwm)} / {mb(rss)} MB | ≤ {GOAL_RSS_MB:.0f} MB "
        f"| {yes(hwm <= GOAL_RSS_MB * 1e6)} |"
    )
    print(
        f"| goal 4: drec replies after a new connection's handshake > {STALL_MS:.0f} ms "
        f"(nginx: {nginx_stalls}; drec p50 {ms(statistics.median(replies))}, p90 "
        f"{ms(percentile(replies, 0.9))}, max {ms(replies[-1])} ms) | {stalls} of "
        f"{len(replies)} | ≤ {STALL_SHARE:.0%} | {yes(stalls <= STALL_SHARE * len(replies))} |"
    )


def find_drec() -> str:
    path = ROOT / "build" / "release" / "drec"
    return str(path) if path.exists() else ""


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # run `finally`
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drec", default=find_drec(), help="drec binary (default build/release/drec)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of each wrk run")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--workdir", type=Path, help="holds drec's SQLite file and the probe file")
    p.add_argument("--clients", type=int, default=200, help="one-request clients per server")
    p.add_argument("--writes", type=int, default=2000, help="durable writes per probe")
    p.add_argument("--commits", type=int, default=500, help="SQLite commits per probe")
    p.add_argument("--wrk", default=shutil.which("wrk") or "/usr/bin/wrk")
    p.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    args = p.parse_args()
    if not args.drec or not Path(args.drec).exists():
        p.error("no drec binary: build it (build/release/drec) or give --drec")
    for tool in (args.wrk, args.nginx):
        if not Path(tool).exists():
            p.error(f"{tool} not found: scripts/install-deps.sh --for test installs it")
    if min(args.duration, args.rounds, args.clients, args.writes, args.commits) <= 0:
        p.error("--duration, --rounds, --clients, --writes and --commits must be positive")
    args.drec = str(Path(args.drec).resolve())
    if args.workdir:
        workdir, remove = prepare_workdir(args.workdir.resolve(), WORKDIR_MARKER), False
    else:
        parent = Path(args.drec).parent
        workdir, remove = Path(tempfile.mkdtemp(prefix="side-by-side-", dir=parent)), True
    bench = None
    try:
        bench = SideBySide(args, workdir)
        return bench.run()
    except Failure as e:
        print(f"side_by_side: {e}", file=sys.stderr)
        return 1
    finally:
        if bench is not None:
            bench.stop()
        if remove:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
