#!/usr/bin/env bash
# Peak RSS of a fresh fs/json service while it streams an account export of one large file
# (ARCHIVE_MIB, default 400), then imports that archive back after deleting the account.
# Usage: cargo build --bin quillstore && scripts/account-memory.sh
set -eu
bin=${QUILLSTORE_BIN:-target/debug/quillstore}
mib=${ARCHIVE_MIB:-400}
d=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
DATA_DIR=$d PORT=$port HOST=127.0.0.1 AUTH_MODE=none MAX_UPLOAD_SIZE=1GiB BLOB_CACHE_BYTES=0 \
  "$bin" serve >"$d/log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$d"' EXIT

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
# sample_rss FILE: VmRSS every 50 ms into FILE until killed.
sample_rss() { while kill -0 "$pid" 2>/dev/null; do rss_kib; sleep 0.05; done >"$1"; }

for _ in $(seq 50); do curl -sf "$base/api/health/live" >/dev/null && break; sleep 0.2; done
head -c $((mib * 1024 * 1024)) /dev/urandom | base64 -w 100 | head -c $((mib * 1024 * 1024)) >"$d/big.txt"
curl -sf -F "file=@$d/big.txt;type=text/plain" "$base/api/files" >/dev/null
rm "$d/big.txt"
before=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
before_rss=$(rss_kib)

sample_rss "$d/rss" &
sampler=$!
start=$(date +%s.%N)
curl -sf "$base/api/account/export" -o "$d/archive.tar"
end=$(date +%s.%N)
kill "$sampler"
size=$(stat -c %s "$d/archive.tar")
peak=$(sort -n "$d/rss" | tail -1)
echo "archive bytes: $size; time: $(echo "$end - $start" | bc) s; RSS before export: ${before_rss} KiB; peak RSS during export: ${peak} KiB; VmHWM before export (upload): ${before} KiB"

curl -sf -X DELETE -H 'X-Confirm-Delete: local' "$base/api/account" >/dev/null
sample_rss "$d/rss2" &
sampler=$!
start=$(date +%s.%N)
code=$(curl -s -o "$d/out" -w '%{http_code}' -H 'content-type: application/x-tar' \
  -T "$d/archive.tar" -X POST "$base/api/account/import")
end=$(date +%s.%N)
kill "$sampler"
echo "import: HTTP $code in $(echo "$end - $start" | bc) s; peak RSS during import: $(sort -n "$d/rss2" | tail -1) KiB; $(cat "$d/out")"
