#!/usr/bin/env bash
# Builds the CNCF Distribution registry 3.x (`registry` binary) from the Go module proxy, so the
# end-to-end test can run against registry 3 as well as Debian's 2.8:
#   python3 tests/e2e/registry_e2e.py ... --registry "$(scripts/build-registry3.sh)"
# Debian ships no 3.x package and there is no docker engine to run the image.
#
# Idempotent: the binary is cached outside the repository and a second run only prints its path.
# The version is pinned; change `version` (and the cache follows) to move to a newer release.
# Prints the binary's path on stdout; progress and errors go to stderr.
set -euo pipefail

version="v3.1.2"
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/drec/registry3"
binary="$cache_dir/registry"
module="github.com/distribution/distribution/v3"
stamp="$cache_dir/version"

if [ -x "$binary" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
  echo "$binary"
  exit 0
fi

# shellcheck source=scripts/go-module.sh
. "$(dirname "$0")/go-module.sh"
dir="$(go_module_dir build-registry3 "$module" "$version")"

mkdir -p "$cache_dir"
echo "build-registry3: building $module $version into $binary" >&2
start=$SECONDS
# Built inside the module's own directory, so its go.mod and go.sum pin every dependency.
(cd "$dir" && CGO_ENABLED=0 "$go" build -trimpath \
  -ldflags "-s -w -X $module/version.version=$version" -o "$binary.tmp" ./cmd/registry)
mv "$binary.tmp" "$binary"
echo "$version" >"$stamp"
echo "build-registry3: built in $((SECONDS - start)) s" >&2
echo "$binary"
