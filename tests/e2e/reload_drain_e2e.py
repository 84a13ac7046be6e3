#!/usr/bin/env python3
"""End-to-end test of changes without a restart (reload) and of a stop that loses nothing.

Why this test exists: an operator rotates tokens and certificates while registries keep sending,
edits the configuration in place, and stops drec for an upgrade. Unit tests show the pieces; only
the real process under load shows that a rotation answers no client with an error, that a broken
new configuration leaves the old one in force, and that SIGTERM loses no acknowledged event.

The run, drec on SQLite with a config file, a tokens file (auth.tokens_file, in a directory laid
out and updated as the kubelet does a Secret volume: a `..data` symlink swapped) and a
certificate signed by a CA of the test, watched every 100 ms (reload.watch_interval_ms):
  1. `drec --check-config` prints the settings in force without any secret and exits 0; a wrong
     setting exits 2 naming it. /metrics carries drec_build_info and the process_* metrics.
     Every thread but the main one blocks SIGHUP, SIGINT and SIGTERM, so that a stop signal
     never kills drec with the default action, even during start-up.
  2. Four clients post envelopes of one unique push event each, over keep-alive connections,
     with the old token. The tokens file gains a new token (a Kubernetes Secret update); once
     drec_config_reloads_total{result="ok"} rises, the clients switch to the new token: from
     then on not one answer may be other than 200.
  3. The certificate and key are replaced by a second pair: new connections present the new
     certificate, the clients' connections (opened before) go on, none is dropped.
  4. The old token leaves the file: it gets 401, the new one 200.
  5. A broken certificate file and then a config file that does not parse are refused
     (result="refused", the log names the reason); the certificate and tokens in force stay.
     SIGHUP with a repaired config applies it.
  6. SIGTERM while the clients post at full speed: drec exits 0 within its bound; then it
     starts again on the same file and the clients send again every envelope that got no 200,
     as a registry does. The repository's numpushs must equal the number of envelopes: none
     lost, none counted twice.

Usage: reload_drain_e2e.py --drec PATH --workdir DIR
Python standard library only (and openssl, setpriv on PATH). Every process it starts is stopped.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
from drec_harness import (
    POLL_S,
    Checks,
    Failure,
    LoopbackHttps,
    fail,
    free_port,
    prepare_workdir,
)

REPOSITORY = "reload/app"
CONTENT_TYPE = "application/vnd.docker.distribution.events.v1+json"
CLIENTS = 4
DEADLINE_S = 30.0
STOP_BOUND_S = 15.0  # drec's own bound is 10 s for requests in progress, then the queue drains


def run(*argv: str) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Pki:
    """A CA of the test and server certificates it signs for 127.0.0.1/localhost (openssl CLI)."""

    def __init__(self, directory: Path):
        self.dir = directory
        directory.mkdir()
        self.ca, self.ca_key = directory / "ca.pem", directory / "ca.key"
        run(
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(self.ca_key),
            "-out", str(self.ca), "-days", "2", "-subj", "/CN=drec reload test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip

    def issue(self, name: str) -> tuple[Path, Path]:
        """A new key and certificate, `name`.pem and `name`.key, with a serial of their own."""
        cert, key, csr = (self.dir / f"{name}{ext}" for ext in (".pem", ".key", ".csr"))
        ext = self.dir / "server.ext"
        ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
        run(
            "openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN=localhost {name}",
        )  # fmt: skip
        run(
            "openssl", "x509", "-req", "-in", str(csr), "-CA", str(self.ca), "-CAkey",
            str(self.ca_key), "-CAcreateserial", "-days", "2", "-extfile", str(ext),
            "-out", str(cert),
        )  # fmt: skip
        return cert, key


def replace_file(path: Path, content: bytes) -> None:
    """Writes beside `path`, then renames: a watcher never sees half a file."""
    tmp = path.with_name(path.name + ".new")
    tmp.write_bytes(content)
    os.replace(tmp, path)


class SecretVolume:
    """A directory laid out as the kubelet keeps a Secret volume, and updated as it does.

    `<dir>/<key>` is a symlink to `..data/<key>`; `..data` is a symlink to a directory of the
    current version. An update writes a new version directory and renames a new `..data`
    symlink over the old one: the file's path never changes, only what it resolves to.
    """

    def __init__(self, directory: Path, key: str):
        self.dir = directory
        self.key = key
        self.versions = 0
        directory.mkdir()
        (directory / key).symlink_to(Path("..data") / key)

    @property
    def path(self) -> Path:
        return self.dir / self.key

    def update(self, content: bytes) -> None:
        self.versions += 1
        version = self.dir / f"..version_{self.versions}"
        version.mkdir()
        (version / self.key).write_bytes(content)
        link = self.dir / "..data_tmp"
        link.symlink_to(version.name)
        os.replace(link, self.dir / "..data")


def envelope() -> tuple[str, bytes]:
    """One tagged manifest push with a fresh event id: each counts one numpushs."""
    event_id = str(uuid.uuid4())
    digest = "sha256:" + uuid.uuid4().hex + uuid.uuid4().hex
    event = {
        "id": event_id,
        "timestamp": "2026-11-30T12:00:00.000000000Z",
        "action": "push",
        "target": {
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "size": 528,
            "digest": digest,
            "length": 528,
            "repository": REPOSITORY,
            "tag": "latest",
        },
        "request": {
            "id": event_id,
            "addr": "127.0.0.1:5000",
            "method": "PUT",
            "useragent": "reload-test",
        },
        "actor": {"name": "ci"},
        "source": {"addr": "127.0.0.1:5000", "instanceID": "reload-test"},
    }
    return event_id, json.dumps({"events": [event]}).encode()


class Drec:
    """drec with a config file, started and stopped by the test."""

    def __init__(self, binary: str, workdir: Path, config: Path, tls: ssl.SSLContext):
        self.binary = binary
        self.config = config
        self.log = workdir / "drec.log"
        self.port = free_port()
        self.tls = tls
        self.proc: subprocess.Popen | None = None

    def argv(self, *extra: str) -> list[str]:
        return [self.binary, "--server-port", str(self.port), *extra, str(self.config)]

    def start(self) -> None:
        prefix = ["setpriv", "--pdeathsig", "TERM"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                prefix + self.argv(), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        deadline = time.monotonic() + DEADLINE_S
        while True:
            if self.proc.poll() is not None:
                fail(f"drec exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if self.get("/readyz").status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                fail(f"drec not ready after {DEADLINE_S:.0f} s:\n{self.log_tail()}")
            time.sleep(POLL_S)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_BOUND_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def get(self, target: str, token: str | None = None) -> http.client.HTTPResponse:
        conn = LoopbackHttps(self.port, self.tls)
        try:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            conn.request("GET", target, headers=headers)
            resp = conn.getresponse()
            resp.body = resp.read()
            return resp
        finally:
            conn.close()

    def metric(self, line_prefix: str) -> float:
        for line in self.get("/metrics").body.decode().splitlines():
            if line.startswith(line_prefix + " "):
                return float(line.split()[-1])
        fail(f"/metrics has no {line_prefix}")

    def reloads(self, result: str) -> float:
        return self.metric(f'drec_config_reloads_total{{result="{result}"}}')

    def wait_reload(self, result: str, before: float) -> None:
        """Waits until one more reload with `result` than `before` is counted."""
        deadline = time.monotonic() + DEADLINE_S
        while self.reloads(result) <= before:
            if time.monotonic() > deadline:
                fail(f"no reload {result} within {DEADLINE_S:.0f} s:\n{self.log_tail()}")
            time.sleep(POLL_S)

    def peer_serial(self) -> int:
        """The serial of the certificate a new connection is shown."""
        with (
            socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock,
            self.tls.wrap_socket(sock, server_hostname="localhost") as tls,
        ):
            der = tls.getpeercert(binary_form=True)
        out = subprocess.run(
            ["openssl", "x509", "-inform", "DER", "-noout", "-serial"],
            input=der, capture_output=True, check=True,
        )  # fmt: skip
        return int(out.stdout.decode().strip().split("=")[1], 16)


class Client(threading.Thread):
    """A registry-like sender: one keep-alive connection, one envelope per POST, in a loop.

    Every envelope that got no 200 is kept to be sent again (`unacknowledged`), as a registry
    retries. After `mark()`, any answer other than 200 is recorded in `errors_since_mark`.
    """

    def __init__(self, drec: Drec, token: str):
        super().__init__(daemon=True)
        self.drec = drec
        self.token = token
        self.running = threading.Event()
        self.running.set()
        self.sent = 0
        self.acknowledged = 0
        self.unacknowledged: list[bytes] = []
        self.connections = 0
        self.marked = False
        self.errors_since_mark: list[str] = []
        self.lock = threading.Lock()

    def mark(self, token: str | None = None) -> None:
        with self.lock:
            if token:
                self.token = token
            self.marked = True
            self.errors_since_mark.clear()

    def run(self) -> None:
        conn = None
        while self.running.is_set():
            _, body = envelope()
            with self.lock:
                token = self.token
                self.sent += 1
            try:
                if conn is None:
                    conn = LoopbackHttps(self.drec.port, self.drec.tls)
                    conn.connect()
                    self.connections += 1
                conn.request("POST", "/events", body=body, headers={
                    "Authorization": f"Bearer {token}", "Content-Type": CONTENT_TYPE})  # fmt: skip
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                status = f"{type(e).__name__}: {e}"
                if conn is not None:
                    conn.close()
                conn = None
            with self.lock:
                if status == 200:
                    self.acknowledged += 1
                else:
                    self.unacknowledged.append(body)
                    if self.marked:
                        self.errors_since_mark.append(str(status))
            if status != 200 and not isinstance(status, int):
                time.sleep(POLL_S)  # drec is stopping or gone: do not spin
        if conn is not None:
            conn.close()

    def stop(self) -> None:
        self.running.clear()
        self.join(timeout=DEADLINE_S)


def wait_for_progress(clients: list[Client], events: int) -> None:
    """Waits until every client had `events` more answers: load is really flowing."""
    start = [c.sent for c in clients]
    deadline = time.monotonic() + DEADLINE_S
    while any(c.sent - s < events for c, s in zip(clients, start, strict=True)):
        if time.monotonic() > deadline:
            fail("the clients made no progress")
        time.sleep(POLL_S)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drec", required=True)
    p.add_argument("--workdir", required=True, type=Path)
    args = p.parse_args()
    workdir = prepare_workdir(args.workdir, ".drec-reload-drain-e2e")
    pki = Pki(workdir / "pki")
    cert_a, key_a = pki.issue("a")
    cert_b, key_b = pki.issue("b")
    cert, key = workdir / "tls" / "cert.pem", workdir / "tls" / "key.pem"
    cert.parent.mkdir()
    replace_file(cert, cert_a.read_bytes())
    replace_file(key, key_a.read_bytes())
    secret = SecretVolume(workdir / "secret", "tokens")
    secret.update(b"# rotated by the test\ntoken-old\n")
    tokens = secret.path
    config = workdir / "drec.yml"
    config_text = (
        "server:\n  address: 127.0.0.1\n  ssl:\n"
        f"    cert: {cert}\n    cert_key: {key}\n"
        f"auth:\n  tokens_file: {tokens}\n"
        f"storage:\n  sqlite:\n    path: {workdir / 'drec.db'}\n"
        "reload:\n  watch_interval_ms: 100\n"
    )
    replace_file(config, config_text.encode())
    tls = ssl.create_default_context(cafile=str(pki.ca))
    drec = Drec(args.drec, workdir, config, tls)
    checks = Checks(indent_details=True)
    clients: list[Client] = []
    serial_a = int(subprocess.run(["openssl", "x509", "-in", str(cert_a), "-noout", "-serial"],
                                  capture_output=True, check=True, text=True)
                   .stdout.strip().split("=")[1], 16)  # fmt: skip

    def check_config() -> None:
        secret_config = workdir / "secret.yml"
        secret_config.write_text(
            config_text.replace(
                "auth:\n",
                "auth:\n  tokens: [tok-SECRET-1]\n  basic:\n"
                "    - {user: ops, password: pw-SECRET-2}\n",
            ).replace(
                "storage:\n",
                "storage:\n  postgresql:\n"
                "    uri: postgresql://drec:pg-SECRET-3@127.0.0.1:5432/drec\n",
            )
        )
        out = subprocess.run(
            [*drec.argv("--check-config")[:-1], str(secret_config)],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if out.returncode != 0:
            fail(f"--check-config exited {out.returncode}: {out.stderr}")
        for secret in ("tok-SECRET-1", "pw-SECRET-2", "pg-SECRET-3", "token-old"):
            if secret in out.stdout:
                fail(f"--check-config shows the secret {secret}:\n{out.stdout}")
        expected = {
            "auth.tokens": "<redacted>",
            "auth.basic": "ops",
            "storage.postgresql.uri": "postgresql://drec:***@127.0.0.1:5432/drec",
            "server.port": str(drec.port),
            "auth.tokens_file": str(tokens),
        }
        for key_name, value in expected.items():
            if not re.search(rf"^{re.escape(key_name)}: {re.escape(value)}  # ", out.stdout, re.M):
                fail(f"--check-config does not show {key_name}: {value}:\n{out.stdout}")
        bad = subprocess.run(
            drec.argv("--check-config", "--server-port", "99999"),
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if bad.returncode != 2 or "server.port" not in bad.stderr:
            fail(f"a bad port: exit {bad.returncode}, {bad.stderr!r}")

    def process_metrics() -> None:
        text = drec.get("/metrics").body.decode()
        if not re.search(r'^drec_build_info\{version="[^"]+"\} 1$', text, re.M):
            fail("no drec_build_info")
        rss = drec.metric("process_resident_memory_bytes")
        fds = drec.metric("process_open_fds")
        started = drec.metric("process_start_time_seconds")
        if not 1e6 < rss < 1e9 or not 3 <= fds <= drec.metric("process_max_fds"):
            fail(f"implausible process metrics: rss {rss}, open fds {fds}")
        if abs(started - time.time()) > 120:
            fail(f"process_start_time_seconds {started} is not about now ({time.time()})")

    def stop_signals_reach_only_the_main_thread() -> None:
        # A thread that leaves SIGTERM unblocked would take it with the default action and kill
        # drec without draining; the main thread waits for it in sigtimedwait, which unblocks it
        # there while it waits, so only the other threads are checked.
        stop_signals = (1 << (signal.SIGHUP - 1)) | (1 << (signal.SIGINT - 1)) | (
            1 << (signal.SIGTERM - 1))  # fmt: skip
        tasks = Path(f"/proc/{drec.proc.pid}/task")
        others = [t for t in tasks.iterdir() if t.name != str(drec.proc.pid)]
        if not others:
            fail("drec runs no thread besides the main one")
        for task in others:
            try:
                status = (task / "status").read_text()
            except FileNotFoundError:  # the thread ended meanwhile
                continue
            blocked = int(re.search(r"^SigBlk:\s*([0-9a-f]+)$", status, re.M).group(1), 16)
            if blocked & stop_signals != stop_signals:
                name = (task / "comm").read_text().strip()
                fail(f"thread {task.name} ({name}) does not block SIGHUP, SIGINT and SIGTERM")

    def token_rotation() -> None:
        before = drec.reloads("ok")
        secret.update(b"token-old\ntoken-new\n")
        drec.wait_reload("ok", before)
        for c in clients:
            c.mark("token-new")
        wait_for_progress(clients, 20)
        errors = [e for c in clients for e in c.errors_since_mark]
        if errors:
            fail(f"{len(errors)} answers other than 200 with the new token: {errors[:5]}")

    def certificate_rotation() -> None:
        connections = [c.connections for c in clients]
        if drec.peer_serial() != serial_a:
            fail("drec does not present the first certificate")
        before = drec.reloads("ok")
        replace_file(key, key_b.read_bytes())
        replace_file(cert, cert_b.read_bytes())
        deadline = time.monotonic() + DEADLINE_S
        while drec.peer_serial() == serial_a:
            if time.monotonic() > deadline:
                fail(f"new connections still get the first certificate:\n{drec.log_tail()}")
            time.sleep(POLL_S)
        if drec.reloads("ok") <= before:
            fail("the certificate changed without a counted reload")
        wait_for_progress(clients, 20)
        errors = [e for c in clients for e in c.errors_since_mark]
        if errors:
            fail(f"{len(errors)} answers other than 200 across the rotation: {errors[:5]}")
        if [c.connections for c in clients] != connections:
            fail(f"connections were dropped: {connections} -> {[c.connections for c in clients]}")

    def old_token_revoked() -> None:
        before = drec.reloads("ok")
        secret.update(b"token-new\n")
        drec.wait_reload("ok", before)
        if (status := drec.get("/api/v1/registries", "token-old").status) != 401:
            fail(f"the revoked token got {status}")
        if (status := drec.get("/api/v1/registries", "token-new").status) != 200:
            fail(f"the new token got {status}")

    def bad_changes_refused() -> None:
        serial_b = drec.peer_serial()
        refused = drec.reloads("refused")
        replace_file(cert, b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
        drec.wait_reload("refused", refused)
        if "reload" not in drec.log_tail(5) or "server.ssl.cert" not in drec.log_tail(5):
            fail(f"the refusal does not name server.ssl.cert:\n{drec.log_tail(5)}")
        if drec.peer_serial() != serial_b:
            fail("a refused certificate was put in force")
        refused = drec.reloads("refused")
        replace_file(config, b"server: [this is not a mapping\n")
        drec.wait_reload("refused", refused)
        if drec.get("/api/v1/registries", "token-new").status != 200:
            fail("the token in force stopped working after a refused reload")
        ok = drec.reloads("ok")
        replace_file(cert, cert_b.read_bytes())
        replace_file(config, (config_text + "log:\n  level: debug\n").encode())
        drec.wait_reload("ok", ok)
        # No file changes now: only the signal can cause the next reload.
        ok = drec.reloads("ok")
        drec.proc.send_signal(signal.SIGHUP)
        drec.wait_reload("ok", ok)
        if "reloaded (SIGHUP)" not in drec.log.read_text(errors="replace"):
            fail(f"no reload logged for SIGHUP:\n{drec.log_tail(5)}")
        if drec.metric("drec_config_last_reload_successful") != 1:
            fail("the last reload is not reported successful")
        errors = [e for c in clients for e in c.errors_since_mark]
        if errors:
            fail(f"{len(errors)} answers other than 200 during refused reloads: {errors[:5]}")

    def drain_on_sigterm() -> None:
        wait_for_progress(clients, 20)
        started = time.monotonic()
        drec.proc.send_signal(signal.SIGTERM)
        try:
            code = drec.proc.wait(timeout=STOP_BOUND_S)
        except subprocess.TimeoutExpired:
            fail(f"drec did not stop within {STOP_BOUND_S} s")
        took = time.monotonic() - started
        if code != 0:
            fail(f"drec exited {code} on SIGTERM:\n{drec.log_tail()}")
        for c in clients:
            c.stop()
        sent = sum(c.sent for c in clients)
        unacknowledged = [body for c in clients for body in c.unacknowledged]
        print(f"     stopped in {took:.2f} s; {sent} envelopes sent, "
              f"{len(unacknowledged)} without 200 to send again", flush=True)  # fmt: skip
        drec.start()
        for body in unacknowledged:
            conn = LoopbackHttps(drec.port, drec.tls)
            try:
                conn.request("POST", "/events", body=body, headers={
                    "Authorization": "Bearer token-new", "Content-Type": CONTENT_TYPE})  # fmt: skip
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    fail(f"a retried envelope got {resp.status}")
            finally:
                conn.close()
        answer = drec.get(f"/api/v1/repositories/{REPOSITORY}", "token-new")
        if answer.status != 200:
            fail(f"GET the repository: {answer.status}")
        pushes = json.loads(answer.body)["numpushs"]
        if pushes != sent:
            wrong = f"{sent - pushes} lost" if pushes < sent else f"{pushes - sent} counted twice"
            fail(f"numpushs {pushes} after {sent} distinct events: {wrong}")

    try:
        drec.start()
        checks.run("--check-config shows the settings without secrets; a bad one exits 2",
                   check_config)  # fmt: skip
        checks.run("/metrics has drec_build_info and the process metrics", process_metrics)
        checks.run("every thread but the main one blocks the stop and reload signals",
                   stop_signals_reach_only_the_main_thread)  # fmt: skip
        clients = [Client(drec, "token-old") for _ in range(CLIENTS)]
        for c in clients:
            c.start()
        wait_for_progress(clients, 10)
        checks.run("a new token in the tokens file: no answer other than 200 with it",
                   token_rotation)  # fmt: skip
        checks.run("a new certificate: new connections get it, none is dropped",
                   certificate_rotation)  # fmt: skip
        checks.run("the old token leaves the file: 401", old_token_revoked)
        checks.run("bad files are refused and the configuration in force stays; SIGHUP applies",
                   bad_changes_refused)  # fmt: skip
        checks.run("SIGTERM under load: no acknowledged event lost, none counted twice",
                   drain_on_sigterm)  # fmt: skip
    except Failure as e:
        print(f"FAIL {e}", flush=True)
        checks.failed += 1
    finally:
        for c in clients:
            c.stop()
        drec.stop()
    print(f"{checks.passed} passed, {checks.failed} failed", flush=True)
    return 0 if checks.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
