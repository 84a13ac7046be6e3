#!/usr/bin/env python3
"""MongoDB commands per batch and per event, and where the time goes, on FerretDB.

Why it exists: the MongoDB store's throughput is its round trips (docs/mongodb.md, "Batches: few
round trips"), so their number per batch is the figure to watch, not a guess. This starts
FerretDB (the tests' server: its embedded SQLite backend, in a temporary directory, as
tests/with_ferretdb.py does) and one drec on `storage.backend: mongodb`, then for each sender
count posts single-event envelopes (pulls by tag, unique event ids, over 100 repositories) for a
fixed time: each sender is one process with one keep-alive TLS connection and one POST in flight,
as a registry endpoint delivers. Measured over the window, from drec's /metrics
(drec_mongodb_commands_total, drec_commits_total, drec_events_applied_total) and /proc:

  events/s           acknowledged (200) events per second, all senders (a POST not answered
                     within the sender's timeout counts as failed)
  applied/s          events the store applied per second (drec_events_applied_total), answered
                     in time or not
  events/batch       events applied per store batch (drec_commits_total{result="ok"})
  cmds/batch         commands of the write path per batch: every command but the lease's (those on
                     `C.meta`, and `hello` for the server's time), which its renewals send every
                     10 s whatever the load; they are the "lease cmds" column
  cmds/event         the same per event
  by command         the write path's commands per batch, by command and collection role
  FerretDB, drec CPU user + system CPU per event of the FerretDB process and of drec
  (ms/event)         (/proc/<pid>/stat): which part of an event's cost is the server's
  FerretDB ms/cmd    FerretDB's CPU per command of the window

drec runs with pipeline.commit_timeout_ms = --commit-timeout-ms (default 120 s instead of 5 s):
on FerretDB a batch of 64 events takes longer than 5 s, and senders answered 503 would measure the
timeout instead of the store.

Usage: mongo_commands_bench.py --drec PATH [--ferretdb BIN] [--senders 1,64] [--seconds 20]
                               [--warmup 2] [--commit-timeout-ms 120000] [--workdir DIR]
FerretDB defaults to ~/.cache/drec/ferretdb-v1.24.2/ferretdb (scripts/build-ferretdb.sh).
Python standard library only; every process it starts is stopped when it ends. Not in ctest.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import registry_e2e
import with_ferretdb
from registry_e2e import make_pki
from replicas_bench import cpu_seconds, sender
from replicas_e2e import load_templates

from drec_harness import prepare_workdir, stop_process

WORKDIR_MARKER = ".mongo_commands_bench"
DEFAULT_FERRETDB = Path.home() / ".cache" / "drec" / "ferretdb-v1.24.2" / "ferretdb"
LEASE_ROLE = "meta"
LEASE_COMMANDS = ("hello", "isMaster")  # the lease reads the server's clock with them


def is_lease(command: str, role: str) -> bool:
    return role == LEASE_ROLE or command in LEASE_COMMANDS


COMMANDS = re.compile(r'drec_mongodb_commands_total\{command="(\w+)",collection="(\w+)"\} (\d+)')


def start_ferretdb(binary: str, state: Path) -> tuple[subprocess.Popen, str]:
    """FerretDB as the tests start it (tests/with_ferretdb.py), dying with this program."""
    log = open(state / "ferretdb.log", "w")  # noqa: SIM115 - lives as long as the server
    return with_ferretdb.start_ferretdb(binary, state, log, ("setpriv", "--pdeathsig", "TERM"))


def sample(drec: registry_e2e.Drec, ferretdb: subprocess.Popen) -> dict:
    text = drec.request("GET", "/metrics", auth=None).body.decode()
    commands = Counter()
    for command, role, n in COMMANDS.findall(text):
        commands[(command, role)] = int(n)

    def value(pattern: str) -> int:
        m = re.search(pattern + r" (\d+)", text)
        return int(m[1]) if m else 0

    return {
        "commands": commands,
        "commits": value(r'drec_commits_total\{result="ok"\}'),
        "applied": value(r"drec_events_applied_total"),
        "ferretdb_cpu": cpu_seconds(ferretdb.pid),
        "drec_cpu": cpu_seconds(drec.proc.pid),
    }


def window(drec, ferretdb, template, senders: int, args) -> dict:
    ctx = multiprocessing.get_context("fork")
    ready, go, results = ctx.Barrier(senders + 1), ctx.Event(), ctx.Queue()
    children = [
        ctx.Process(
            target=sender,
            args=(drec.port, template, i, args.warmup, args.seconds, ready, go, results),
            daemon=True,
        )
        for i in range(senders)
    ]
    for child in children:
        child.start()
    try:
        ready.wait(timeout=args.warmup + 60)
        before = sample(drec, ferretdb)
        go.set()
        collected = [
            results.get(timeout=args.seconds + args.commit_timeout_ms / 1000 + 60) for _ in children
        ]
        after = sample(drec, ferretdb)
    finally:
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.kill()
    acknowledged = sum(len(c[0]) for c in collected)
    elapsed = max(c[2] for c in collected)
    commands = after["commands"] - before["commands"]
    lease = sum(n for key, n in commands.items() if is_lease(*key))
    write_path = Counter({key: n for key, n in commands.items() if not is_lease(*key)})
    batches = after["commits"] - before["commits"]
    events = after["applied"] - before["applied"]
    return {
        "senders": senders,
        "acknowledged": acknowledged,
        "errors": sum(c[1] for c in collected),
        "events_s": acknowledged / elapsed,
        "applied_s": events / elapsed,
        "batches": batches,
        "events": events,
        "commands": sum(write_path.values()),
        "lease": lease,
        "by_command": write_path,
        "ferretdb_ms": 1000 * (after["ferretdb_cpu"] - before["ferretdb_cpu"]) / max(events, 1),
        "drec_ms": 1000 * (after["drec_cpu"] - before["drec_cpu"]) / max(events, 1),
        "ferretdb_cmd_ms": 1000
        * (after["ferretdb_cpu"] - before["ferretdb_cpu"])
        / max(sum(commands.values()), 1),
    }


HEADER = (
    "| senders | events/s | applied/s | events/batch | cmds/batch | cmds/event | lease cmds "
    "| FerretDB CPU ms/event | drec CPU ms/event | FerretDB ms/cmd |\n"
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def format_row(r: dict) -> str:
    batches, events = max(r["batches"], 1), max(r["events"], 1)
    errors = f" ({r['errors']} failed)" if r["errors"] else ""
    return (
        f"| {r['senders']} | {r['events_s']:,.1f}{errors} | {r['applied_s']:,.1f} "
        f"| {r['events'] / batches:.2f} "
        f"| {r['commands'] / batches:.2f} | {r['commands'] / events:.2f} | {r['lease']} "
        f"| {r['ferretdb_ms']:.1f} | {r['drec_ms']:.2f} | {r['ferretdb_cmd_ms']:.1f} |"
    )


def format_breakdown(r: dict) -> str:
    batches = max(r["batches"], 1)
    parts = [
        f"{command} {role} {n / batches:.2f}"
        for (command, role), n in sorted(r["by_command"].items(), key=lambda kv: -kv[1])
    ]
    return f"<!-- {r['senders']} senders, per batch: " + ", ".join(parts) + " -->"


def numbers(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # run `finally`
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drec", required=True, help="drec binary")
    p.add_argument("--ferretdb", default=os.environ.get("DREC_FERRETDB", str(DEFAULT_FERRETDB)))
    p.add_argument("--workdir", type=Path, help="scratch directory (default: a temporary one)")
    p.add_argument("--senders", type=numbers, default=[1, 64])
    p.add_argument("--seconds", type=float, default=20.0, help="measured window")
    p.add_argument("--commit-timeout-ms", type=int, default=120_000)
    p.add_argument("--warmup", type=float, default=2.0, help="seconds before each window")
    args = p.parse_args()
    args.drec = str(Path(args.drec).resolve())
    if not os.access(args.ferretdb, os.X_OK):
        print(f"no FerretDB at {args.ferretdb} (scripts/build-ferretdb.sh)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="drec-mongo-commands-bench-") as tmp:
        workdir = prepare_workdir(args.workdir, WORKDIR_MARKER) if args.workdir else Path(tmp)
        state = workdir / "ferretdb"
        state.mkdir()
        pki = make_pki(workdir / "pki")
        os.environ["BENCH_CA"] = str(pki.ca)
        ferretdb, uri = start_ferretdb(args.ferretdb, state)
        drec = None
        try:
            options = SimpleNamespace(
                drec=args.drec, store="mongodb", mongodb_uri=uri, postgresql_uri=None
            )
            (workdir / "drec").mkdir()
            drec = registry_e2e.Drec(options, pki, workdir / "drec", "drec_bench")
            drec.argv += ["--pipeline-commit-timeout-ms", str(args.commit_timeout_ms)]
            drec.start()
            template = load_templates()["default"]["get"]
            print(f"<!-- load average before: {os.getloadavg()[0]:.2f} -->", flush=True)
            print(HEADER, flush=True)
            rows = []
            for senders in args.senders:
                rows.append(window(drec, ferretdb, template, senders, args))
                print(format_row(rows[-1]), flush=True)
            for row in rows:
                print(format_breakdown(row))
            print(f"<!-- load average after: {os.getloadavg()[0]:.2f} -->", flush=True)
        finally:
            if drec is not None and drec.proc is not None:
                stop_process(drec.proc)
            stop_process(ferretdb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
