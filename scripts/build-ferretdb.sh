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
# GO, or a Go new enough for it (scripts/install-go.sh finds or fetches one).
go="${GO:-$("$(dirname "$0")/install-go.sh")}"
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/drec/ferretdb-$version"
binary="$cache_dir/ferretdb"

if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi

export GOFLAGS=-mod=mod
# The toolchain was chosen above: no switch to another one behind its back.
export GOTOOLCHAIN=local
module="github.com/FerretDB/FerretDB"

# The proxy hands out the module source; `Dir` is its read-only copy in the module cache.
info="$("$go" mod download -json "$module@$version")"
dir="$(sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' <<<"$info")"
if [ -z "$dir" ] || [ ! -d "$dir" ]; then
  echo "build-ferretdb: go mod download gave no source directory:" >&2
  echo "$info" >&2
  exit 1
fi

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
