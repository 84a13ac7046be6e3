#!/usr/bin/env python3
"""The PostgreSQL server the C++ integration tests share (a ctest fixture).

    postgres_fixture.py start --dir DIR   # a new cluster in DIR, database `drec`
    postgres_fixture.py stop --dir DIR    # stops it and removes DIR

Why it exists: the store contract suite runs every test in a process of its own, and a cluster
per process would cost seconds each. ctest runs `start` before the first test that needs it and
`stop` after the last (FIXTURES_SETUP / FIXTURES_CLEANUP in tests/CMakeLists.txt). The server
listens only on a Unix socket in DIR, so its address is known when the tests are configured
(DREC_TEST_POSTGRESQL_URI) and no port can clash. Each test makes a schema of its own.
"""

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))
from postgres_cluster import Cluster

SOCKET_PORT = 5432


def cluster(directory: Path) -> Cluster:
    return Cluster(directory, durable=False, tcp=False, port=SOCKET_PORT)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("--dir", required=True, type=Path)
    args = parser.parse_args()
    server = cluster(args.dir)
    # A cluster left by an interrupted run is stopped first: start always begins empty.
    if server.data.exists():
        server.stop("immediate")
    shutil.rmtree(args.dir, ignore_errors=True)
    if args.action == "start":
        server.init()
        server.start(detached=True)
        server.psql("CREATE DATABASE drec")
        print(f"PostgreSQL for the integration tests: socket {server.socket_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
