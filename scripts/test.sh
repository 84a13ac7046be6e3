#!/usr/bin/env bash
# The second command: installs what is missing, then builds and runs every test twice:
# optimised (unit, integration, end to end with the real registries and client tools, API,
# browser, lint and format) and under
# AddressSanitizer + UBSan; the full scope also runs the fuzz targets for a minute (fuzz/).
#
#   DREC_BUILD_JOBS=N        parallel compile jobs (default 2)
#   DREC_TEST_SCOPE=quick    the optimised build's tests only (no sanitizer pass, no lint); what the
#                            bare-Debian container test runs inside its container
#   DREC_CONTAINER_TEST=1    also run the bare Debian 12 container test (tests/container, about
#                            25 minutes: the whole quick scope again inside a bare Debian 12);
#                            never with scope quick. Off by default: drec's image build (below)
#                            already builds drec on a bare Debian 12 with scripts/install-deps.sh
# The full scope also builds drec's container image with podman and tests it (label image,
# docs/container.md): about 10 minutes the first time, seconds while its build inputs are the same.
set -euo pipefail
cd "$(dirname "$0")/.."
scope="${DREC_TEST_SCOPE:-full}"
case "$scope" in full | quick) ;; *) echo "test.sh: DREC_TEST_SCOPE is full or quick" >&2; exit 2 ;; esac
container_test="${DREC_CONTAINER_TEST:-0}"
[ "$scope" = full ] || container_test=0

scripts/install-deps.sh --for test
jobs=${DREC_BUILD_JOBS:-2}
# Go >= 1.26 for the two Go tools below (Debian 12's is 1.19): found, or fetched and cached.
GO="$(scripts/install-go.sh)"
export GO
# Node.js >= 20 for the browser test's playwright-core (Debian 12's is 18).
PATH="$(scripts/install-node.sh):$PATH"
# Registry 3.x for the end-to-end test: built from the Go module proxy, cached outside the clone.
scripts/build-registry3.sh >/dev/null
# FerretDB, the MongoDB-protocol server the MongoDB store is tested against (same cache).
DREC_FERRETDB="$(scripts/build-ferretdb.sh)"
export DREC_FERRETDB
# The client tools of the clients end-to-end test (oras, crane, cosign; same cache), except in
# the quick scope, which leaves that test out: cosign alone takes 6 minutes and 1.7 GB to build.
# helm for the Helm chart's test (deploy/helm; a few minutes to build, so full scope only too:
# without it that test is skipped).
if [ "$scope" = full ]; then
  for tool in oras crane cosign helm; do
    path="$(scripts/build-go-tool.sh "$tool")"
    export "DREC_${tool^^}=$path"
  done
fi
# The Python test tools pinned in tests/requirements.txt (ruff, the OpenAPI validators), in a
# venv cached the same way; the API, OpenAPI and lint tests run with its python.
test_python="$(scripts/install-test-tools.sh)"

# Tests and benchmarks on (scripts/run.sh turns them off in the same build directory), and the
# Node.js found above (CMake would otherwise keep the one an earlier configure cached).
configure=(-DDREC_BUILD_TESTS=ON -DDREC_NODE="$(command -v node)" -DDREC_TEST_PYTHON="$test_python"
  -DDREC_WARNINGS_AS_ERRORS=ON)

cmake --preset release "${configure[@]}" -DDREC_BUILD_BENCH=ON >/dev/null
cmake --build --preset release -j "$jobs"
# The quick scope (the container test's inner run) leaves out the lint checks too: they read
# only the sources, which the outer run has checked already; and the client tools' test, whose
# tools it did not build; and the image's tests (podman in a container).
excluded=container
[ "$scope" = full ] || excluded="container|lint|tools|image"
ctest --preset release -j 1 -LE "$excluded"

if [ "$scope" = full ]; then
  cmake --preset sanitize "${configure[@]}" >/dev/null
  cmake --build --preset sanitize -j "$jobs"
  # The lint and format checks ran above; the sanitizers change nothing they look at, nor the
  # image's tests (label image), whose image is built by its own Dockerfile either way.
  ctest --preset sanitize -j 1 -LE "container|lint|image"
  # The fuzz targets (fuzz/README.md): their own clang-14 build of the few sources they reach,
  # then each target for 20 seconds from its seed corpus (about 2 minutes with the build).
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j "$jobs"
  ctest --preset fuzz -j 1
fi

# A fresh clone of this checkout in a bare Debian 12 container runs both README commands.
if [ "$container_test" = 1 ]; then
  ctest --preset release -L container
fi
