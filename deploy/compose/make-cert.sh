#!/usr/bin/env bash
# Makes drec's TLS certificate for the compose stack: self-signed (its own CA), for the service
# name "drec" (the registry's notification URL) and localhost/127.0.0.1 (the published port),
# into ./tls/drec.crt and ./tls/drec.key next to this script. The registry trusts drec.crt
# (SSL_CERT_FILE in compose.yaml). Keeps existing files.
#   deploy/compose/make-cert.sh [DIR]     (DIR defaults to deploy/compose/tls)
set -euo pipefail
dir="${1:-$(dirname "$0")/tls}"
mkdir -p "$dir"
if [ -s "$dir/drec.crt" ] && [ -s "$dir/drec.key" ]; then
  echo "make-cert: $dir/drec.crt exists, kept" >&2
  exit 0
fi
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
  -subj /CN=drec -addext "subjectAltName=DNS:drec,DNS:localhost,IP:127.0.0.1" \
  -keyout "$dir/drec.key" -out "$dir/drec.crt" 2>/dev/null
# drec runs as uid 10001 in its image and reads the key through a bind mount.
chmod 0644 "$dir/drec.crt"
chmod 0640 "$dir/drec.key"
chown 0:10001 "$dir/drec.key" 2>/dev/null || chmod 0644 "$dir/drec.key"
echo "make-cert: wrote $dir/drec.crt and $dir/drec.key" >&2
