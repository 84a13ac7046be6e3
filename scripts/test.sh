#!/usr/bin/env bash
# The second command: installs what is missing, then builds and runs every test
# twice: optimised (unit, integration, end to end with the real registry, API, browser,
# lint) and under AddressSanitizer + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=${DREC_BUILD_JOBS:-2}
# Registry 3.x for the end-to-end test: built from the Go module proxy, cached outside the clone.
scripts/build-registry3.sh >/dev/null
# FerretDB, the MongoDB-protocol server the MongoDB store is tested against (same cache).
DREC_FERRETDB="$(scripts/build-ferretdb.sh)"
export DREC_FERRETDB
# The Python test tools pinned in tests/requirements.txt (ruff, the OpenAPI validators), in a
# venv cached the same way; the API, OpenAPI and lint tests run with its python.
test_python="$(scripts/install-test-tools.sh)"

cmake --preset release -DDREC_WARNINGS_AS_ERRORS=ON -DDREC_TEST_PYTHON="$test_python" >/dev/null
cmake --build --preset release -j "$jobs"
ctest --preset release -j 1

cmake --preset sanitize -DDREC_TEST_PYTHON="$test_python" >/dev/null
cmake --build --preset sanitize -j "$jobs"
ctest --preset sanitize -j 1
