#!/usr/bin/env bash
# Builds one pinned Go client tool from the Go module proxy, so scripts/capture-events.py can
# drive the registries with the clients that real traffic comes from (attachments, user agents):
#   scripts/build-go-tool.sh oras|crane|cosign|conformance|helm
# `conformance` is the OCI distribution-spec conformance suite, a Go test package: it is built
# as a test binary (`go test -c`), run with the OCI_* environment variables it documents.
# `helm` lints and renders the Helm chart in deploy/helm/drec (tests/deploy/helm_chart_test.py).
#
# Idempotent: each binary is cached outside the repository in
# ${XDG_CACHE_HOME:-$HOME/.cache}/drec/tools/<name>-<version>/<name>; a second run only prints
# its path. Versions are pinned in the table below; change one (and the cache follows) to move.
# Prints the binary's path on stdout; progress and errors go to stderr.
set -euo pipefail

usage() { echo "usage: $0 oras|crane|cosign|conformance|helm" >&2; exit 2; }
[ $# -eq 1 ] || usage
name="$1"

# name: module, version, package inside the module ("test": the module root, built with
# go test -c), and the version stamps of the project's own release builds (its Makefile or
# .goreleaser.yml), so that `version` and the User-Agent say what a released binary says.
stamps=""
case "$name" in
  oras)
    # internal/version.Version is in the source; releases leave BuildMetadata empty.
    module=oras.land/oras version=v1.3.6 package=./cmd/oras ;;
  crane)
    module=github.com/google/go-containerregistry version=v0.22.1 package=./cmd/crane
    stamps="-X $module/cmd/crane/cmd.Version=${version#v}"
    stamps+=" -X $module/pkg/v1/remote/transport.Version=${version#v}" ;;
  cosign)
    module=github.com/sigstore/cosign/v2 version=v2.6.5 package=./cmd/cosign
    stamps="-X sigs.k8s.io/release-utils/version.gitVersion=$version"
    stamps+=" -X sigs.k8s.io/release-utils/version.gitTreeState=clean" ;;
  conformance)
    module=github.com/opencontainers/distribution-spec/conformance
    version=v0.0.0-20260831232431-97274622c111 package=test ;;
  helm)
    # The stamps of helm's Makefile for a tagged release: the commit is the tag's (the module
    # proxy's .info Origin.Hash); the Kubernetes version helm assumes (`helm template`'s
    # .Capabilities.KubeVersion, lint's deprecation checks) is client-go's v0.37 + 1 = 1.37.
    module=helm.sh/helm/v3 version=v3.22.0 package=./cmd/helm
    stamps="-X $module/internal/version.version=$version"
    stamps+=" -X $module/internal/version.metadata="
    stamps+=" -X $module/internal/version.gitCommit=144ca65f8501953fa8b41cd1d37c7223051c85b7"
    stamps+=" -X $module/internal/version.gitTreeState=clean"
    stamps+=" -X $module/pkg/lint/rules.k8sVersionMajor=1 -X $module/pkg/lint/rules.k8sVersionMinor=37"
    stamps+=" -X $module/pkg/chartutil.k8sVersionMajor=1 -X $module/pkg/chartutil.k8sVersionMinor=37" ;;
  *) usage ;;
esac

cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/drec/tools/$name-$version"
binary="$cache_dir/$name"
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi

# shellcheck source=scripts/go-module.sh
. "$(dirname "$0")/go-module.sh"
dir="$(go_module_dir "build-go-tool" "$module" "$version")"

mkdir -p "$cache_dir"
echo "build-go-tool: building $name ($module $version) into $binary" >&2
start=$SECONDS
# Built inside the module's own directory, so its go.mod and go.sum pin every dependency.
if [ "$package" = test ]; then
  (cd "$dir" && CGO_ENABLED=0 "$go" test -c -trimpath -o "$binary.tmp" .)
else
  (cd "$dir" && CGO_ENABLED=0 "$go" build -trimpath -ldflags "-s -w $stamps" \
    -o "$binary.tmp" "$package")
fi
mv "$binary.tmp" "$binary"
echo "build-go-tool: built $name in $((SECONDS - start)) s" >&2
echo "$binary"
