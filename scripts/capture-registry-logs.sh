#!/usr/bin/env bash
# Captures the logs of real registries for the unit tests of src/backfill/registry_log.cpp:
#   scripts/capture-registry-logs.sh [REGISTRY3_BINARY]
# writes tests/data/registry-logs/{registry-2.8,registry-3.1}.{txt,json}: Debian's registry 2.8
# (log.level debug, so its storage traces name digests) and registry 3.x (info) with the text and
# JSON formatters, while skopeo and curl push, pull by tag and digest, check (HEAD) and delete an
# image as the htpasswd user "alice". Only the lines of manifest requests are kept (with the first
# line of each log). Needs docker-registry, skopeo, umoci, curl and python3 (bcrypt via crypt).
set -euo pipefail

out="$(cd "$(dirname "$0")/.." && pwd)/tests/data/registry-logs"
registry3="${1:-$HOME/.cache/drec/registry3/registry}"
work="$(mktemp -d)"
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))

cd "$work"
umoci init --layout lay
umoci new --image lay:img
echo "drec registry log capture" >f.txt
umoci insert --image lay:img f.txt /f.txt >/dev/null
python3 -c 'import crypt; print("alice:" + crypt.crypt("secret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))' \
  2>/dev/null >htpasswd

capture() { # binary level formatter output
  local binary=$1 level=$2 formatter=$3 output=$4
  rm -rf storage
  cat >config.yml <<CONFIG
version: 0.1
log:
  level: $level
  formatter: $formatter
storage:
  filesystem:
    rootdirectory: $work/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
auth:
  htpasswd:
    realm: capture
    path: $work/htpasswd
CONFIG
  env OTEL_TRACES_EXPORTER=none "$binary" serve config.yml >raw.log 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break
    sleep 0.1
  done
  local r="docker://127.0.0.1:$port/team/app" creds=(--creds alice:secret)
  skopeo copy --dest-tls-verify=false --dest-creds alice:secret oci:lay:img "$r:v1" >/dev/null
  skopeo copy --src-tls-verify=false --src-creds alice:secret "$r:v1" oci:pulled:x >/dev/null
  digest=$(skopeo inspect --tls-verify=false "${creds[@]}" --format '{{.Digest}}' "$r:v1")
  skopeo copy --src-tls-verify=false --src-creds alice:secret "$r@$digest" oci:pulled:y >/dev/null
  curl -s -o /dev/null -I -u alice:secret -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://127.0.0.1:$port/v2/team/app/manifests/v1"
  skopeo delete --tls-verify=false "${creds[@]}" "$r:v1"
  # The last response line is written after the reply: wait for it before stopping.
  for _ in $(seq 50); do
    grep -q 'DELETE.*response completed\|response completed.*DELETE\|"DELETE".*response completed' raw.log && break
    grep -q '"http.request.method":"DELETE".*"msg":"response completed"' raw.log && break
    sleep 0.1
  done
  kill "$pid"
  wait "$pid" || true
  python3 - raw.log "$out/$output" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
ids = set()
for line in lines:
    if "/manifests/" in line and "response completed" in line:
        m = re.search(r'http\.request\.id"?[=:]"?([0-9a-f-]+)', line)
        if m:
            ids.add(m[1])
keep = [lines[0]] + [l for l in lines[1:] if any(i in l for i in ids)]
open(sys.argv[2], "w").write("\n".join(keep) + "\n")
PY
  echo "capture-registry-logs: $output: $(wc -l <"$out/$output") lines" >&2
}

capture /usr/bin/docker-registry debug text registry-2.8.txt
capture /usr/bin/docker-registry debug json registry-2.8.json
if [ -x "$registry3" ]; then
  capture "$registry3" info text registry-3.1.txt
  capture "$registry3" info json registry-3.1.json
else
  echo "capture-registry-logs: no registry 3.x at $registry3 (scripts/build-registry3.sh)" >&2
fi
