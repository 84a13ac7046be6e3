#!/usr/bin/env bash
# The first command: installs what is missing, builds drec, and runs it on the
# embedded SQLite store. Extra arguments go to drec (a config file, flags).
#   scripts/run.sh                       # https://127.0.0.1:8443, data in ./drec-data
#   scripts/run.sh config.yml            # with a config file
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release -DDREC_WARNINGS_AS_ERRORS=OFF >/dev/null
cmake --build --preset release --target drec
exec build/release/drec "$@"
