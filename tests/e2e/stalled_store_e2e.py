#!/usr/bin/env python3
"""End-to-end test: a stalled store never hangs drec's endpoints, and nothing counts twice.

Why this test exists: a file system frozen by a snapshot tool (fsfreeze) or a network disk that
stops answering puts every thread that touches the store into an uninterruptible wait; a
PostgreSQL server that stops answering (SIGSTOP here, a hung host in practice) does the same
to every query. drec must stay observable and answer quickly all the same: /healthz and /metrics
always, /readyz with 503, POST /events with 503 and Retry-After within pipeline.commit_timeout_ms
(so the registry retries), API queries with 503 within storage.query_timeout_ms. A commit that
was answered 503 may still land once the store is back; the registry's retry of the same
envelope must then be a duplicate by event id, so the counts come out exactly once.

The run, for each store asked for (`--stores sqlite,postgresql`):
  1. drec (TLS on loopback) with short bounds: commit 2 s, query 2 s, store check 0.5 s. SQLite
     lives on an ext4 image loop-mounted in the workdir; PostgreSQL is a private cluster
     (tests/support/postgres_cluster.py). drec's log stays outside the stalled store.
  2. A burst of envelopes, each acknowledged with 200.
  3. The store stalls: `fsfreeze -f` on the mount, or SIGSTOP to the postmaster and every
     backend. Two envelopes, two queries and two /readyz are sent and left waiting, as a
     registry and a dashboard would, so that the request threads drec has are all in use.
  4. While stalled, each within its bound: /healthz 200, /metrics 200, /readyz 503, POST /events
     503 with Retry-After, GET /api/v1/repositories 503.
  5. The store resumes (`fsfreeze -u`, SIGCONT; also in `finally`). /readyz returns to 200;
     every envelope answered 503 is sent again until 200, as a registry retries, and one
     envelope of the burst is sent again as well. Each repository's pull count is then exactly
     the number of distinct events sent for it, and drec_commit_timeouts_total counted the 503s.

A run on a binary without the bounds (before issue 11) fails at step 4: its requests time out.
Needs root (fsfreeze, mount) for sqlite and the PostgreSQL server binaries for postgresql; exits
77 with the reason when neither can run.

Usage: stalled_store_e2e.py --drec PATH --workdir DIR [--stores sqlite,postgresql]
Python standard library only. Every process it starts is stopped, and the file system it froze
thawed and unmounted, when it ends.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))

import postgres_cluster

from drec_harness import (
    HTTP_TIMEOUT_S,
    Checks,
    Drec,
    Failure,
    LoopbackHttps,
    fail,
    prepare_workdir,
)

WORKDIR_MARKER = ".stalled-store-e2e"
TOKEN = "stalled-store-token"
START_TIMEOUT_S = 60.0
COMMIT_TIMEOUT_MS = 2000
QUERY_TIMEOUT_MS = 2000
CHECK_TIMEOUT_MS = 500
# Slack over each bound for scheduling on a loaded machine; far below the harness's client timeout
# (HTTP_TIMEOUT_S), so a drec that hangs fails the check instead of passing late.
SLACK_S = 2.0
REPOSITORIES = [f"stall/app{i}" for i in range(5)]
BURST_ENVELOPES = 20
EVENTS_PER_ENVELOPE = 10
RECOVERY_S = 60.0
MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
EVENTS_TYPE = "application/vnd.docker.distribution.events.v1+json"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drec", required=True, type=Path)
    p.add_argument("--workdir", required=True, type=Path)
    p.add_argument("--stores", default="sqlite,postgresql")
    return p.parse_args()


def envelope(count: int, offset: int) -> tuple[bytes, dict[str, int]]:
    """An envelope of `count` manifest pulls under new event ids, and the pulls per repository."""
    events, pulls = [], {}
    for i in range(count):
        repository = REPOSITORIES[(offset + i) % len(REPOSITORIES)]
        pulls[repository] = pulls.get(repository, 0) + 1
        events.append(
            {
                "id": str(uuid.uuid4()),
                "timestamp": "2026-11-27T02:24:34Z",
                "action": "pull",
                "target": {
                    "mediaType": MEDIA_TYPE,
                    "digest": "sha256:" + "d" * 64,
                    "repository": repository,
                    "tag": "v1",
                    "size": 1,
                    "length": 1,
                },
                "request": {"method": "GET", "useragent": "docker/27"},
                "actor": {"name": "ci"},
            }
        )
    return json.dumps({"events": events}).encode(), pulls


class Timed:
    """One request's answer (status, headers, body) or its error, and how long it took."""

    def __init__(self, drec: Drec, method: str, target: str, body: bytes | None = None):
        self.status, self.headers, self.body, self.error = 0, {}, b"", ""
        headers = {"Authorization": f"Bearer {drec.token}"}
        if body is not None:
            headers["Content-Type"] = EVENTS_TYPE
        start = time.monotonic()
        conn = LoopbackHttps(drec.port, drec.tls)
        try:
            conn.request(method, target, body=body, headers=headers)
            resp = conn.getresponse()
            self.status, self.headers, self.body = resp.status, resp.headers, resp.read()
        except OSError as e:
            self.error = f"{type(e).__name__}: {e}"
        finally:
            conn.close()
        self.seconds = time.monotonic() - start

    def describe(self) -> str:
        answer = self.error or f"{self.status} {self.body[:200]!r}"
        return f"{answer} after {self.seconds:.2f} s"


def expect(name: str, answer: Timed, status: int, within_s: float) -> None:
    if answer.status != status or answer.seconds > within_s:
        fail(f"{name}: expected {status} within {within_s:.1f} s, got {answer.describe()}")


class FrozenFs:
    """An ext4 image loop-mounted in the workdir, frozen and thawed with fsfreeze."""

    def __init__(self, workdir: Path):
        self.image = workdir / "store.img"
        self.mount = workdir / "mnt"
        self.mounted = False
        self.frozen = False

    def setup(self) -> None:
        self.mount.mkdir()
        subprocess.run(["truncate", "-s", "256M", str(self.image)], check=True)
        subprocess.run(["mkfs.ext4", "-q", "-F", str(self.image)], check=True)
        done = subprocess.run(
            ["mount", "-o", "loop", str(self.image), str(self.mount)],
            check=False,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise Unavailable(f"cannot loop-mount an ext4 image: {done.stderr.strip()}")
        self.mounted = True

    def stall(self) -> None:
        subprocess.run(["fsfreeze", "-f", str(self.mount)], check=True)
        self.frozen = True

    def resume(self) -> None:
        if self.frozen:
            subprocess.run(["fsfreeze", "-u", str(self.mount)], check=False)
            self.frozen = False

    def teardown(self) -> None:
        self.resume()
        if self.mounted:
            subprocess.run(["umount", str(self.mount)], check=False)
            self.mounted = False


class StoppedPostgres:
    """A private PostgreSQL cluster whose postmaster and backends are stopped with SIGSTOP."""

    def __init__(self, workdir: Path):
        self.cluster = postgres_cluster.Cluster(workdir / "pg", name="stall")
        self.stopped: list[int] = []

    def setup(self) -> None:
        self.cluster.init()
        self.cluster.start()

    def pids(self) -> list[int]:
        """The postmaster and its children (backends, checkpointer, walwriter...)."""
        postmaster = self.cluster._postmaster.pid
        found = [postmaster]
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The parent pid is the second field after the command, which may contain spaces.
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == postmaster:
                found.append(int(entry.name))
        return found

    def stall(self) -> None:
        for pid in self.pids():
            os.kill(pid, signal.SIGSTOP)
            self.stopped.append(pid)

    def resume(self) -> None:
        for pid in self.stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self.stopped = []

    def teardown(self) -> None:
        self.resume()
        self.cluster.stop()


class Unavailable(Exception):
    """This machine cannot run the scenario (exit 77)."""


def metric(drec: Drec, name: str) -> float:
    text = Timed(drec, "GET", "/metrics").body.decode()
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    if not match:
        fail(f"/metrics has no {name}")
    return float(match.group(1))


def scenario(args, store: str, workdir: Path, checks: Checks) -> None:
    stall = FrozenFs(workdir) if store == "sqlite" else StoppedPostgres(workdir)
    drec = None
    try:
        stall.setup()
        if store == "sqlite":
            store_args = {"store": "sqlite", "postgresql_uri": None}
        else:
            store_args = {"store": "postgresql", "postgresql_uri": stall.cluster.uri()}
        drec = Drec(
            str(args.drec),
            workdir,
            mongodb_uri=None,
            database_prefix="drec_stall",
            token=TOKEN,
            tls_args=["--server-ssl-generated-dir", str(workdir / "tls")],
            cafile=workdir / "tls" / "cert.pem",
            start_timeout=START_TIMEOUT_S,
            extra_args=(
                *(
                    ["--storage-sqlite-path", str(stall.mount / "drec.db")]
                    if store == "sqlite"
                    else []
                ),
                "--server-threads",
                "2",
            ),
            **store_args,
        )
        drec.start()

        expected: dict[str, int] = {}
        burst = []
        for n in range(BURST_ENVELOPES):
            body, pulls = envelope(EVENTS_PER_ENVELOPE, n)
            answer = Timed(drec, "POST", "/events", body)
            if answer.status != 200:
                fail(f"burst envelope {n}: {answer.describe()}")
            burst.append(body)
            for repository, count in pulls.items():
                expected[repository] = expected.get(repository, 0) + count

        stall.stall()
        # Requests left waiting while the store is stalled, as a registry and a dashboard send.
        retry: list[bytes] = []
        waiting: list[threading.Thread] = []
        for n in range(2):
            body, pulls = envelope(EVENTS_PER_ENVELOPE, 100 + n)
            retry.append(body)
            for repository, count in pulls.items():
                expected[repository] = expected.get(repository, 0) + count
            waiting.append(threading.Thread(target=Timed, args=(drec, "POST", "/events", body)))
        for target in ["/api/v1/repositories", "/api/v1/repositories", "/readyz", "/readyz"]:
            waiting.append(threading.Thread(target=Timed, args=(drec, "GET", target)))
        for thread in waiting:
            thread.start()

        checks.run(
            f"{store}: /healthz answers while the store is stalled",
            lambda: expect("/healthz", Timed(drec, "GET", "/healthz"), 200, SLACK_S),
        )
        checks.run(
            f"{store}: /metrics answers while the store is stalled",
            lambda: expect("/metrics", Timed(drec, "GET", "/metrics"), 200, SLACK_S),
        )
        checks.run(
            f"{store}: /readyz answers 503 within the check bound",
            lambda: expect(
                "/readyz", Timed(drec, "GET", "/readyz"), 503, CHECK_TIMEOUT_MS / 1000 + SLACK_S
            ),
        )

        def ingest_is_503():
            body, pulls = envelope(EVENTS_PER_ENVELOPE, 200)
            retry.append(body)
            for repository, count in pulls.items():
                expected[repository] = expected.get(repository, 0) + count
            answer = Timed(drec, "POST", "/events", body)
            expect("POST /events", answer, 503, COMMIT_TIMEOUT_MS / 1000 + SLACK_S)
            if not answer.headers.get("Retry-After"):
                fail("POST /events: 503 without Retry-After")

        checks.run(f"{store}: POST /events answers 503 within the commit timeout", ingest_is_503)
        checks.run(
            f"{store}: queries answer 503 within the query timeout",
            lambda: expect(
                "GET /api/v1/repositories",
                Timed(drec, "GET", "/api/v1/repositories"),
                503,
                QUERY_TIMEOUT_MS / 1000 + SLACK_S,
            ),
        )

        stall.resume()
        for thread in waiting:
            thread.join(HTTP_TIMEOUT_S + SLACK_S)

        def ready_again():
            deadline = time.monotonic() + RECOVERY_S
            while True:
                answer = Timed(drec, "GET", "/readyz")
                if answer.status == 200:
                    return
                if time.monotonic() > deadline:
                    fail(f"/readyz not 200 within {RECOVERY_S:.0f} s: {answer.describe()}")
                time.sleep(0.1)

        checks.run(f"{store}: /readyz returns to 200 once the store resumes", ready_again)

        def exactly_once():
            # The registry retries every envelope it got no 200 for, and may resend one it did.
            for body in [*retry, burst[0]]:
                deadline = time.monotonic() + RECOVERY_S
                while (answer := Timed(drec, "POST", "/events", body)).status != 200:
                    if time.monotonic() > deadline:
                        fail(f"a retried envelope is not accepted: {answer.describe()}")
                    time.sleep(0.1)
            wrong = []
            for repository in REPOSITORIES:
                answer = Timed(drec, "GET", f"/api/v1/repositories/{repository}")
                if answer.status != 200:
                    fail(f"GET {repository}: {answer.describe()}")
                pulls = json.loads(answer.body)["numpulls"]
                if pulls != expected[repository]:
                    wrong.append(f"{repository}: {pulls} pulls, expected {expected[repository]}")
            if wrong:
                fail("counts differ after the retries:\n" + "\n".join(wrong))
            timeouts = metric(drec, "drec_commit_timeouts_total")
            if timeouts < 1:
                fail(f"drec_commit_timeouts_total is {timeouts}, expected at least 1")

        checks.run(f"{store}: retries after the stall count every event exactly once", exactly_once)
    finally:
        stall.resume()
        if drec is not None:
            drec.stop()
            if checks.failed:
                print(f"--- drec log ({store}):\n{drec.log_tail(40)}", flush=True)
        stall.teardown()


def main() -> int:
    # The bounds as variables, not flags: a drec without them (before issue 11) still starts,
    # ignoring unknown DREC_* variables, and then fails on its behaviour, not on its arguments.
    os.environ["DREC_PIPELINE_COMMIT_TIMEOUT_MS"] = str(COMMIT_TIMEOUT_MS)
    os.environ["DREC_STORAGE_QUERY_TIMEOUT_MS"] = str(QUERY_TIMEOUT_MS)
    os.environ["DREC_STORAGE_CHECK_TIMEOUT_MS"] = str(CHECK_TIMEOUT_MS)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # run `finally`
    args = parse_args()
    checks = Checks(indent_details=True)
    skipped, ran = [], 0
    base = args.workdir.resolve()
    # A mount left by an interrupted run would be emptied by prepare_workdir otherwise.
    if (base / "sqlite" / "mnt").is_mount():
        subprocess.run(["fsfreeze", "-u", str(base / "sqlite" / "mnt")], check=False)
        subprocess.run(["umount", str(base / "sqlite" / "mnt")], check=False)
    workdir = prepare_workdir(base, WORKDIR_MARKER)
    for store in [s for s in args.stores.split(",") if s]:
        if store == "sqlite" and os.geteuid() != 0:
            skipped.append("sqlite: fsfreeze and mount need root")
            continue
        if store == "sqlite" and not shutil.which("fsfreeze"):
            skipped.append("sqlite: no fsfreeze (util-linux)")
            continue
        if store == "postgresql" and (reason := postgres_cluster.unavailable_reason()):
            skipped.append(f"postgresql: {reason}")
            continue
        (workdir / store).mkdir()
        try:
            scenario(args, store, workdir / store, checks)
            ran += 1
        except Unavailable as e:
            skipped.append(f"{store}: {e}")
        except Failure as e:
            checks.failed += 1
            print(f"FAIL {store}: setup or scenario aborted: {e}", flush=True)
            ran += 1
    for reason in skipped:
        print(f"SKIP {reason}", flush=True)
    print(f"stalled_store_e2e: {checks.passed} passed, {checks.failed} failed", flush=True)
    if checks.failed:
        return 1
    return 77 if ran == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
