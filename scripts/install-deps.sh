#!/usr/bin/env bash
# Installs the Debian 12 packages drec needs, for one of three purposes:
#   scripts/install-deps.sh --for run      # build and run drec (scripts/run.sh, the image's build)
#   scripts/install-deps.sh --for runtime  # only run a built drec (the container image, Dockerfile)
#   scripts/install-deps.sh --for test   # also every test and tool (scripts/test.sh; the default)
#   scripts/install-deps.sh --for test --list   # print the package names, install nothing
# The package lists live only here. Idempotent: it only installs what is missing.
set -euo pipefail

purpose=test
list_only=0
while (($#)); do
  case "$1" in
    --for) purpose="${2:-}"; shift 2 ;;
    --for=*) purpose="${1#--for=}"; shift ;;
    --list) list_only=1; shift ;;
    *) echo "usage: $0 [--for run|runtime|test] [--list]" >&2; exit 2 ;;
  esac
done

# Building and running drec: compiler, CMake + Ninja, the libraries it links (see README,
# "Dependencies"), and Node.js + npm for the dashboard (web/, `npm ci` runs in the CMake build;
# ca-certificates so npm can reach its registry over HTTPS).
run_packages=(
  build-essential cmake ninja-build pkg-config ca-certificates
  libboost1.81-dev libboost-url1.81-dev libssl-dev libsimdjson-dev
  libmongoc-dev libbson-dev libpq-dev libsqlite3-dev libyaml-cpp-dev libcli11-dev
  libspdlog-dev libfmt-dev
)
# Running a built drec and nothing else: the shared libraries it links (`readelf -d drec`;
# libstdc++6 and libgcc-s1 are in every Debian) and the CA certificates it verifies TLS peers
# with (PostgreSQL, MongoDB). No compiler, no Node.js: the container image runs on these.
runtime_packages=(
  ca-certificates libssl3 libboost-url1.81.0 libsimdjson14 libmongoc-1.0-0 libbson-1.0-0 libpq5
  libsqlite3-0 libyaml-cpp0.7 libspdlog1.10 libfmt9
)
# Everything the tests, benchmarks and checks use on top of that.
test_packages=(
  "${run_packages[@]}"
  clang-format clang-tidy
  # the fuzz targets (fuzz/, the fuzz preset): clang 14 and its libFuzzer and sanitizer runtimes
  clang-14 libclang-rt-14-dev
  libgtest-dev libgmock-dev libbenchmark-dev python3
  # the PostgreSQL store's suites: private clusters (tests/support/postgres_cluster.py)
  postgresql
  # end to end: Debian's registry 2.8, skopeo and umoci for the images, the CLI tools
  docker-registry skopeo umoci openssl curl sqlite3 jq
  # the venv of the Python test tools (scripts/install-test-tools.sh, tests/requirements.txt)
  python3-venv
  # the dashboard's browser test (tests/browser): headless Chromium, driven by playwright-core
  chromium
  # scripts/install-go.sh unpacks the Go toolchain (registry 3.x, FerretDB) from a module zip
  unzip
  # the bare Debian 12 container test (tests/container)
  podman runc debootstrap git
  # the replicas end-to-end test and benchmark: HAProxy in front of several drec replicas
  haproxy
  # the compose stacks of deploy/compose (tests/deploy/compose_test.py); the CNI plugin gives
  # their containers DNS names on podman's network (podman-compose addresses services by name)
  podman-compose golang-github-containernetworking-plugin-dnsname
  # podman kube play (tests/deploy/helm_kube_play_test.py): the pods' pause image is built
  # locally from catatonit, as no registry gives one
  catatonit
  # the side-by-side benchmark (bench/side_by_side.py): nginx as a null TLS server, wrk as the load generator
  nginx-light wrk
)

case "$purpose" in
  run) packages=("${run_packages[@]}") ;;
  runtime) packages=("${runtime_packages[@]}") ;;
  test) packages=("${test_packages[@]}") ;;
  *) echo "install-deps: --for must be run, runtime or test, not '$purpose'" >&2; exit 2 ;;
esac
# A machine with its own Node.js and npm keeps them (scripts/install-node.sh adds the
# Node.js >= 20 the browser test needs when the system one is older). Only the build needs them.
if [ "$purpose" != runtime ] && { ! command -v node >/dev/null || ! command -v npm >/dev/null; }; then
  packages+=(nodejs npm)
fi

if ((list_only)); then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install-deps ($purpose): installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
