#!/usr/bin/env bash
# Finds a Go toolchain new enough for the Go tools the tests build (scripts/build-registry3.sh,
# scripts/build-ferretdb.sh, scripts/build-go-tool.sh), or fetches a pinned one, and prints its
# `go` binary's path.
#   GO="$(scripts/install-go.sh)"
# Debian 12's own Go (1.19) is too old. A `go` on PATH (or /usr/local/go/bin/go) of at least
# $minimum is used as it is; otherwise the pinned toolchain is fetched from the Go module proxy
# the way the go command's own toolchain switch does (module golang.org/toolchain, version
# v0.0.1-go<version>.<os>-<arch>), checked against a pinned sha256 of the module zip, and
# unpacked into ${XDG_CACHE_HOME:-$HOME/.cache}/drec/go-<version> (outside the clone).
# Idempotent: a second run only prints the path. Progress and errors go to stderr.
set -euo pipefail

# registry v3.1.2's go.mod says `go 1.26.0`, oras v1.3.6's `go 1.26.7`; FerretDB v1.24.2
# needs 1.24.
minimum=1.26.7
version=1.26.8
platform=linux-amd64
# sha256 of https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go1.26.8.linux-amd64.zip
# (its bin/go is byte-identical to the go1.26.8.linux-amd64.tar.gz release's).
zip_sha256=30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7

cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/drec/go-$version"

# Prints the version of the go binary $1 as x.y.z, or nothing if it does not run.
go_version() {
  local v
  v="$(GOTOOLCHAIN=local "$1" env GOVERSION 2>/dev/null)" || return 0
  v="${v#go}"
  v="${v%%[!0-9.]*}"
  echo "$v"
}
new_enough() {
  [ -n "$1" ] && [ "$(printf '%s\n%s\n' "$minimum" "$1" | sort -V | head -n1)" = "$minimum" ]
}

for candidate in "${GO:-}" "$(command -v go || true)" /usr/local/go/bin/go "$cache_dir/bin/go"; do
  [ -n "$candidate" ] && [ -x "$candidate" ] || continue
  if new_enough "$(go_version "$candidate")"; then
    echo "$candidate"
    exit 0
  fi
done

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "install-go: no Go >= $minimum found, and only $platform is pinned here;" \
          "install Go >= $minimum from https://go.dev/dl and put it on PATH" >&2
     exit 1 ;;
esac

# The first proxy of GOPROXY (a comma- or pipe-separated list; `direct` and `off` are no proxies).
proxy=https://proxy.golang.org
IFS=',|' read -ra proxies <<<"${GOPROXY:-$proxy}"
for p in "${proxies[@]}"; do
  case "$p" in direct | off | "") ;; *) proxy="${p%/}"; break ;; esac
done

module_version="v0.0.1-go$version.$platform"
base="$proxy/golang.org/toolchain/@v/$module_version"
parent="$(dirname "$cache_dir")"
mkdir -p "$parent"
work="$(mktemp -d "$parent/.go-$version.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "install-go: no Go >= $minimum found; fetching go$version from $proxy" >&2
curl -fsSL --retry 3 -o "$work/info" "$base.info"
grep -q "\"Version\" *: *\"$module_version\"" "$work/info" || {
  echo "install-go: $base.info does not describe $module_version:" >&2
  cat "$work/info" >&2
  exit 1
}
curl -fsSL --retry 3 -o "$work/toolchain.zip" "$base.zip"
actual="$(sha256sum "$work/toolchain.zip" | cut -d' ' -f1)"
if [ "$actual" != "$zip_sha256" ]; then
  echo "install-go: $base.zip has sha256 $actual, expected $zip_sha256" >&2
  exit 1
fi
unzip -q "$work/toolchain.zip" -d "$work/unpacked"
root="$work/unpacked/golang.org/toolchain@$module_version"
if [ "$(go_version "$root/bin/go")" != "$version" ]; then
  echo "install-go: the unpacked toolchain does not run as go$version" >&2
  exit 1
fi
rm -rf "$cache_dir"
mv "$root" "$cache_dir"
echo "install-go: go$version in $cache_dir" >&2
echo "$cache_dir/bin/go"
