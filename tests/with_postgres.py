#!/usr/bin/env python3
"""Runs a test command against a PostgreSQL server of its own.

    with_postgres.py -- COMMAND ARGS...   ({uri} in ARGS becomes the URI of database `drec`)

The Python suites (end to end, API) take a PostgreSQL URI; this starts a private cluster
(tests/support/postgres_cluster.py: initdb in a temporary directory, a free loopback port, fsync
off since these suites never crash the server), creates the database `drec`, runs the command,
then stops the server and removes the directory whatever happens. With DREC_TEST_POSTGRESQL_URI
set, that server is used instead and nothing is started (each suite makes a schema of its own).
Without PostgreSQL's server programs it says why and exits 1.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))
import postgres_cluster

from drec_harness import Failure

CHILD_STOP_S = 30.0


def run(command: list[str], uri: str) -> int:
    """Runs the command; a SIGTERM of this wrapper reaches it, and it gets time to clean up."""
    child = subprocess.Popen([a.replace("{uri}", uri) for a in command])
    try:
        return child.wait()
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=CHILD_STOP_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command")
    external = os.environ.get("DREC_TEST_POSTGRESQL_URI")
    if external:
        return subprocess.call([a.replace("{uri}", external) for a in command])
    reason = postgres_cluster.unavailable_reason()
    if reason:
        print(f"with_postgres: cannot run a PostgreSQL server: {reason}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # run `finally`
    with tempfile.TemporaryDirectory(prefix="drec-postgres-") as base:
        cluster = postgres_cluster.Cluster(Path(base), name="pg", durable=False)
        try:
            cluster.init()
            cluster.start()
            uri = cluster.create_database("drec")
            return run(command, uri)
        except Failure as e:
            print(f"with_postgres: {e}", file=sys.stderr)
            return 1
        finally:
            cluster.stop("fast")


if __name__ == "__main__":
    sys.exit(main())
