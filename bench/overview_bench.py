#!/usr/bin/env python3
"""Runs bench/overview_bench against a private PostgreSQL 15 cluster that it starts and stops.

    python3 bench/overview_bench.py --bench build/release/bench/overview_bench \\
        --repositories 10000 [--data build/release/overview-bench/pg] [-- BENCHMARK ARGS...]

The benchmark's DREC_BENCH_* settings (DREC_BENCH_BULK, DREC_BENCH_DAYS, DREC_BENCH_CHECK_BULK:
see bench/overview_bench.cpp) pass through from the environment.

Why it exists: the overview benchmark measures every store at 10k, 100k and 1M repositories, and
the PostgreSQL store needs a server. This keeps a durable cluster (fsync on, as in production) in
`--data`, reusing it between runs so each scale's data (schema bench_<repositories>) is generated
once, starts it on a free loopback port, runs the benchmark with DREC_BENCH_POSTGRESQL_URI and
DREC_BENCH_REPOSITORIES set, and stops the server whatever happens. Standard library only.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
import postgres_cluster


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", required=True, type=Path)
    parser.add_argument("--repositories", type=int, default=100_000)
    parser.add_argument("--data", type=Path, default=Path("build/release/overview-bench/pg"))
    parser.add_argument("rest", nargs="*", help="arguments for the benchmark binary")
    args = parser.parse_args()
    if reason := postgres_cluster.unavailable_reason():
        print(f"overview_bench.py: no PostgreSQL cluster: {reason}", file=sys.stderr)
        return 1
    cluster = postgres_cluster.Cluster(args.data, durable=True)
    if (cluster.data / "PG_VERSION").exists():
        # Reuse the generated data: no initdb, which would wipe it.
        cluster._prepare_dirs()
        cluster.set(port=str(cluster.port))  # a free port of this run
    else:
        cluster.init()
    # The test clusters' 32MB would keep even the repositories table of 100k out of memory.
    cluster.set(shared_buffers="256MB")
    cluster.start()
    try:
        uri = cluster.uri("drec")
        exists = postgres_cluster.query(
            cluster.uri(), "SELECT count(*) FROM pg_database WHERE datname = 'drec'"
        )
        if exists == "0":
            postgres_cluster.query(cluster.uri(), "CREATE DATABASE drec")
        env = dict(
            os.environ,
            DREC_BENCH_POSTGRESQL_URI=uri,
            DREC_BENCH_REPOSITORIES=str(args.repositories),
        )
        bench = args.bench.resolve()
        # A first short run generates the scale's data when the schema has none; then the
        # statistics and visibility map autovacuum would keep in production, so the measured
        # run does not depend on when autovacuum last came by.
        subprocess.run(
            [str(bench), "--benchmark_filter=BM_RepositoryPage", "--benchmark_min_time=0.01"],
            env=env,
            cwd=bench.parent.parent,
            check=True,
            capture_output=True,
        )
        postgres_cluster.query(uri, "VACUUM (ANALYZE)")
        return subprocess.run(
            [str(bench), *args.rest], env=env, cwd=bench.parent.parent, check=False
        ).returncode
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
