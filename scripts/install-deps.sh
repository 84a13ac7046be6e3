#!/usr/bin/env bash
# Installs every Debian package that drec's build, tests and tools need.
# Idempotent: safe to run again; it only installs what is missing.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang-format clang-tidy
  # libraries (see README, "Dependencies")
  libboost1.81-dev libboost-url1.81-dev libssl-dev libsimdjson-dev
  libmongoc-dev libbson-dev libsqlite3-dev libyaml-cpp-dev libcli11-dev
  libspdlog-dev libfmt-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  docker-registry skopeo umoci openssl curl sqlite3 python3 jq
  # the venv of the Python test tools (scripts/install-test-tools.sh, tests/requirements.txt)
  python3-venv
  # the dashboard's browser test (tests/browser): headless Chromium, driven by playwright-core
  chromium
)
# Node.js and npm build the dashboard (web/, `npm ci` runs in the CMake build). A machine
# with its own Node.js keeps it; the browser test's playwright-core needs Node.js >= 20.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install-deps: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian docker-registry package starts a system registry on :5000; drec's tests
# start their own, so the system one is only stopped if this script started it.
