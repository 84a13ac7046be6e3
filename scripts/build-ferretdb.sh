#!/usr/bin/env bash
# Builds FerretDB (a MongoDB wire-protocol server on an embedded SQLite backend) from the Go
# module proxy: the MongoDB store's tests need a server speaking the MongoDB protocol, and no
# MongoDB server can be installed from Debian 12.
#
# Idempotent: the binary is cached outside the repository; a second run prints the cached path
# and exits. Usage: scripts/build-ferretdb.sh
# Prints the path of the binary on stdout; everything else goes to stderr.
set -euo pipefail

version=v1.24.2
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/drec/ferretdb-$version"
binary="$cache_dir/ferretdb"

if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi

module="github.com/FerretDB/FerretDB"
# shellcheck source=scripts/go-module.sh
. "$(dirname "$0")/go-module.sh"
dir="$(go_module_dir build-ferretdb "$module" "$version")"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
# The module ships without the file its build embeds as the version, and the binary panics
# at start-up when it is missing.
printf '%s' "$version" >"$work/src/build/version/version.txt"

mkdir -p "$cache_dir"
echo "build-ferretdb: building $module $version into $binary" >&2
start=$SECONDS
(cd "$work/src" && CGO_ENABLED=0 "$go" build -trimpath -o "$binary.tmp" ./cmd/ferretdb)
mv "$binary.tmp" "$binary"
echo "build-ferretdb: built in $((SECONDS - start)) s" >&2
echo "$binary"
