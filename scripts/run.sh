#!/usr/bin/env bash
# The first command: installs what is missing for building and running drec, builds it, and
# runs it on the embedded SQLite store. Extra arguments go to drec (a config file, flags).
#   scripts/run.sh                       # https://127.0.0.1:8443, data in ./drec-data
#   scripts/run.sh config.yml            # with a config file
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --for run
# Only drec: tests and benchmarks (and their packages) are scripts/test.sh's business. It turns
# them back on in the same build directory, and drec's own objects are reused either way.
cmake --preset release -DDREC_WARNINGS_AS_ERRORS=OFF -DDREC_BUILD_TESTS=OFF -DDREC_BUILD_BENCH=OFF \
  >/dev/null
cmake --build --preset release -j "${DREC_BUILD_JOBS:-2}" --target drec
exec build/release/drec "$@"
