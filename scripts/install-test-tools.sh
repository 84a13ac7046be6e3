#!/usr/bin/env bash
# Installs the Python test tools pinned in tests/requirements.txt (ruff, the OpenAPI validators)
# into a venv cached outside the clone, and prints the venv's python.
#
# The venv is named after a hash of tests/requirements.txt
# (${XDG_CACHE_HOME:-$HOME/.cache}/drec/venv-<hash>): a changed pin makes a new one, an unchanged
# one is reused as it is (a second run only checks the marker that a complete install left).
# Debian's python3 and python3-venv (scripts/install-deps.sh) make it; pip installs with
# --no-deps, so nothing unpinned comes in, and `pip check` proves the pins are complete.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
requirements="$root/tests/requirements.txt"
python="${DREC_VENV_BASE_PYTHON:-/usr/bin/python3}"
[ -x "$python" ] || python="$(command -v python3)"

hash="$({ cat "$requirements"; "$python" -c 'import sys; print(sys.version)'; } |
          sha256sum | cut -c1-16)"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/drec/venv-$hash"
marker="$venv/.drec-complete"

mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9  # two runs at once: the second waits, then finds the venv made
if [ ! -f "$marker" ]; then
  if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
    echo "install-test-tools: $python has no venv/ensurepip: run scripts/install-deps.sh" >&2
    exit 1
  fi
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    --no-deps --only-binary=:all: -r "$requirements" >&2
  "$venv/bin/python" -m pip check --disable-pip-version-check >&2
  touch "$marker"
fi
echo "$venv/bin/python"
