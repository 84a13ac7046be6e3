# Sourced by the scripts that build a pinned Go program from the Go module proxy
# (build-registry3.sh, build-ferretdb.sh, build-go-tool.sh): picks the Go toolchain and hands
# out a module's source. Not a program of its own.

# GO, or a Go new enough for it (scripts/install-go.sh finds or fetches one).
go="${GO:-$("$(dirname "${BASH_SOURCE[0]}")/install-go.sh")}"
export GOFLAGS=-mod=mod
# The toolchain was chosen above: no switch to another one behind its back.
export GOTOOLCHAIN=local

# go_module_dir WHO MODULE VERSION: prints the directory of MODULE@VERSION's source, the
# proxy's (read-only) copy in the module cache; its go.mod and go.sum pin every dependency.
go_module_dir() {
  local who="$1" module="$2" version="$3" info dir
  if ! info="$("$go" mod download -json "$module@$version")"; then
    echo "$who: go mod download $module@$version failed:" >&2
    echo "$info" >&2
    return 1
  fi
  dir="$(python3 -c "import json, sys; print(json.load(sys.stdin).get('Dir', ''))" <<<"$info")"
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    echo "$who: go mod download gave no source directory for $module@$version:" >&2
    echo "$info" >&2
    return 1
  fi
  echo "$dir"
}
