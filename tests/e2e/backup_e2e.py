#!/usr/bin/env python3
"""End-to-end test of `drec backup`: a consistent copy of the SQLite store while drec takes events.

Why this test exists: the embedded store is one file per registry that drec keeps open and
writes all the time (WAL); copying the file with cp while drec commits can give a torn
database. `drec backup` copies it with SQLite's online backup API from one snapshot. What must
hold for an operator who restores it: the copy is a sound database (PRAGMA integrity_check),
named as drec expects, and holds every event drec acknowledged before the backup began (a
snapshot taken later holds more, never less); a drec started on the copy answers from it.

The run:
  1. drec on SQLite with `registries: [r28]` takes the captured notifications of registry 2.8
     (tests/data) at /events and /events/r28, so team/app:v1 exists in both.
  2. A thread posts pulls of team/app:v1 (the captured pull, each under a new event id, 20 to an
     envelope) to /events without pause, counting the acknowledged ones.
  3. `drec backup --output DIR --step-pages 1` runs meanwhile (with drec's config file), one
     page per step so that drec commits between its steps; the count of acknowledged pulls is
     read just before it starts and after it ends. The stream then stops.
  4. Each file in DIR passes PRAGMA integrity_check; a second drec started on DIR answers with a
     pull count of team/app at least the count acknowledged before the backup began and at most
     the count acknowledged when it ended (plus the one envelope that may be in flight); r28's
     statistics are there too.
  5. `drec backup` refuses to overwrite the files (exit 2), and refuses the PostgreSQL and
     MongoDB stores with a message naming pg_dump / mongodump (exit 2).

Usage: backup_e2e.py --drec PATH --workdir DIR
Python standard library only. Every process it starts is stopped when it ends.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
from drec_harness import Checks, Drec, Failure, fail, prepare_workdir

ROOT = Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data" / "registry-2.8"
WORKDIR_MARKER = ".backup_e2e"
TOKEN = "backup-e2e-token"
EVENTS_TYPE = "application/vnd.docker.distribution.events.v1+json"
REGISTRY = "r28"
START_TIMEOUT_S = 60.0
BACKUP_TIMEOUT_S = 120.0
# Pull events per streamed envelope, and envelopes acknowledged before the backup starts: enough
# event ids that the files span many pages, which the backup copies one per step.
PULLS_PER_ENVELOPE = 20
WARM_UP_PULLS = 50 * PULLS_PER_ENVELOPE
MIN_PAGES = 20
MAX_STREAM_S = 120.0


def post(drec: Drec, route: str, envelope: dict) -> None:
    drec.request(
        "POST", route, headers={"Content-Type": EVENTS_TYPE}, body=json.dumps(envelope).encode()
    ).expect(200)


def captured() -> list[dict]:
    out = []
    for path in sorted(DATA.glob("*.json")):
        doc = json.loads(path.read_text())
        out.extend(doc if isinstance(doc, list) else [doc])
    return out


class PullStream:
    """Posts pulls of team/app:v1 until stopped; `acked` counts the answered ones."""

    def __init__(self, drec: Drec):
        self.drec = drec
        self.pull = json.loads((DATA / "manifest-pull-get.json").read_text())
        self.acked = 0
        self.error: str | None = None
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + MAX_STREAM_S
        try:
            while not self.stopping.is_set() and time.monotonic() < deadline:
                envelope = json.loads(json.dumps(self.pull))
                event = envelope["events"][0]
                envelope["events"] = [
                    {**event, "id": str(uuid.uuid4())} for _ in range(PULLS_PER_ENVELOPE)
                ]
                post(self.drec, "/events", envelope)
                with self.lock:
                    self.acked += PULLS_PER_ENVELOPE
        except Exception as e:  # reported by the test
            self.error = str(e)

    def count(self) -> int:
        with self.lock:
            return self.acked

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)


def pulls(drec: Drec, registry: str) -> int:
    r = drec.request("GET", f"/api/v1/repositories/team/app?registry={registry}").expect(200)
    return r.json["numpulls"]


def new_drec(args, workdir: Path, extra: tuple[str, ...] = ()) -> Drec:
    workdir.mkdir(parents=True, exist_ok=True)
    return Drec(
        args.drec,
        workdir,
        store="sqlite",
        mongodb_uri=None,
        database_prefix="drec_backup",
        token=TOKEN,
        tls_args=["--server-ssl-generated-dir", str(workdir / "tls")],
        cafile=workdir / "tls" / "cert.pem",
        start_timeout=START_TIMEOUT_S,
        extra_args=("--registries", REGISTRY, *extra),
    )


def backup(args, *argv: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [args.drec, "backup", *argv],
        check=False,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=BACKUP_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    print(
        f"     $ drec backup {' '.join(argv)}: exit {result.returncode}\n"
        + "".join(f"     | {line}\n" for line in result.stdout.splitlines()),
        end="",
        flush=True,
    )
    return result


def run(args, workdir: Path, checks: Checks, started: list[Drec]) -> None:
    drec = new_drec(args, workdir / "live")
    restored = new_drec(args, workdir / "restored")
    started += [drec, restored]
    config = workdir / "drec.yml"
    config.write_text(
        json.dumps(
            {
                "storage": {
                    "backend": "sqlite",
                    "sqlite": {"path": str(workdir / "live" / "drec.db")},
                },
                "registries": [REGISTRY],
            }
        )
        + "\n"
    )
    output = workdir / "restored"  # the second drec's storage.sqlite.path directory

    drec.start()
    for envelope in captured():
        post(drec, "/events", envelope)
        post(drec, f"/events/{REGISTRY}", envelope)
    baseline = pulls(drec, "default")
    r28_pulls = pulls(drec, REGISTRY)

    stream = PullStream(drec)
    stream.thread.start()
    deadline = time.monotonic() + MAX_STREAM_S
    while stream.count() < WARM_UP_PULLS:
        if stream.error or time.monotonic() > deadline:
            stream.stop()
            fail(f"the pull stream did not get going: {stream.error}")
        time.sleep(0.01)
    acked_before = stream.count()
    result = backup(args, str(config), "--output", str(output), "--step-pages", "1")
    acked_after = stream.count()
    stream.stop()
    if stream.error:
        fail(f"the pull stream failed: {stream.error}")
    print(
        f"     pulls acknowledged: {acked_before} before the backup, {acked_after} when it ended",
        flush=True,
    )

    def copied():
        if result.returncode != 0:
            fail(f"drec backup failed (exit {result.returncode})")
        for name in ("drec.db", f"drec@{REGISTRY}.db"):
            path = output / name
            if not path.is_file():
                fail(f"{path} is missing")
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                verdict = db.execute("PRAGMA integrity_check").fetchall()
            finally:
                db.close()
            if verdict != [("ok",)]:
                fail(f"{path}: integrity_check says {verdict}")
        pages = [int(p) for p in re.findall(r"\((\d+) pages", result.stdout)]
        if len(pages) != 2 or min(pages) < MIN_PAGES:
            fail(f"pages copied {pages}: expected two files of at least {MIN_PAGES} pages")
        leftovers = sorted(p.name for p in output.iterdir() if p.name.endswith(".partial"))
        if leftovers:
            fail(f"partial files left behind: {leftovers}")

    checks.run("drec backup copies both registries' files, each sound", copied)

    def consistent():
        restored.start()
        try:
            got = pulls(restored, "default") - baseline
            # One envelope may be committed but not yet acknowledged when the backup ends.
            if not acked_before <= got <= acked_after + PULLS_PER_ENVELOPE:
                fail(
                    f"the copy holds {got} of the streamed pulls; acknowledged {acked_before} "
                    f"before the backup and {acked_after} when it ended (one envelope of "
                    f"{PULLS_PER_ENVELOPE} may be in flight)"
                )
            if pulls(restored, REGISTRY) != r28_pulls:
                fail("registry r28's pull count differs in the copy")
            print(f"     the copy holds {got} streamed pulls", flush=True)
        finally:
            restored.stop()

    checks.run("drec on the copy holds every pull acknowledged before the backup began", consistent)
    checks.run(
        "drec backup does not overwrite files",
        lambda: expect_exit(backup(args, str(config), "--output", str(output)), 2, "exists"),
    )
    checks.run(
        "drec backup refuses PostgreSQL and MongoDB, naming their tools",
        lambda: (
            expect_exit(
                backup(
                    args,
                    "--storage-backend",
                    "postgresql",
                    "--storage-postgresql-uri",
                    "postgresql://127.0.0.1:1/drec",
                    "--output",
                    str(workdir / "unused"),
                ),
                2,
                "pg_dump",
            ),
            expect_exit(
                backup(
                    args,
                    "--storage-backend",
                    "mongodb",
                    "--storage-mongodb-uri",
                    "mongodb://127.0.0.1:1/",
                    "--output",
                    str(workdir / "unused"),
                ),
                2,
                "mongodump",
            ),
        ),
    )
    drec.stop()


def expect_exit(result: subprocess.CompletedProcess, status: int, needle: str) -> None:
    if result.returncode != status or needle not in result.stdout:
        fail(f"expected exit {status} saying {needle!r}, got {result.returncode}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drec", required=True, help="drec binary")
    p.add_argument("--workdir", required=True, type=Path, help="scratch directory (cleared)")
    args = p.parse_args()
    started_at = time.monotonic()
    checks = Checks(indent_details=True, catch_unexpected=True)
    started: list[Drec] = []
    setup_error = None
    try:
        workdir = prepare_workdir(args.workdir, WORKDIR_MARKER)
        run(args, workdir, checks, started)
    except Failure as e:
        setup_error = str(e)
    finally:
        for drec in started:
            drec.stop()
    if setup_error:
        print(f"FAIL setup: {setup_error}")
        checks.failed += 1
    if checks.failed:
        for drec in started:
            print(f"--- last lines of {drec.log} ---\n{drec.log_tail()}")
    print(
        f"backup_e2e: {checks.passed} passed, {checks.failed} failed "
        f"in {time.monotonic() - started_at:.0f} s"
    )
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
