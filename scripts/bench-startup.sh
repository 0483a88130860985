#!/usr/bin/env bash
# Start-up of the json store, one or more binaries side by side, interleaved: seconds to the
# listening line, CPU seconds spent by then (steadier than wall time on a busy machine), peak
# RSS when listening and after 1,000 reads by id and a page of 100. Data: 100,000 seeded
# character documents (first without a document index, then from it) and 1,000,000 messages
# in 200 chats.
#   scripts/bench-startup.sh [ROUNDS] BINARY...      e.g. scripts/bench-startup.sh 2 target/release/quillstore
# Needs target/release/examples/loadgen (cargo build --release --example loadgen).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/server.sh
source scripts/lib/server.sh
rounds=$1
shift
loadgen=${LOADGEN:-target/release/examples/loadgen}
work=$(mktemp -d)
trap 'stop_quillstore; rm -rf "$work"' EXIT
"$loadgen" seed-documents --dir "$work/big" --count 100000
"$loadgen" seed-chats --dir "$work/chats" --chats 200 --messages 5000
find "$work/big/characters" -name '*.json' -printf '%f\n' | awk 'NR <= 1000 { sub(/\.json$/, ""); print }' >"$work/ids"

# run LABEL BINARY DATA_DIR [use]: one start, one line of figures, then a clean stop.
run() {
  local label=$1 binary=$2 dir=$3 use=${4:-} started ready rss cpu used
  rm -f "$work/log" "$work/log.err"
  sync
  started=$(date +%s.%N)
  RUST_LOG=warn,quillstore::store::json=info start_quillstore "$binary" "$dir" "$work/log"
  ready=$(date +%s.%N)
  rss=$(($(peak_rss_kib "$QS_PID") / 1024))
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$QS_PID/stat")
  if [ -n "$use" ]; then
    "$loadgen" run --label use --base "$QS_URL" --method GET --path '/api/characters/{id}' \
      --ids "$work/ids" --requests 1000 --concurrency 8 >/dev/null
    curl -fsS "$QS_URL/api/characters?limit=100" >/dev/null
  fi
  used=$(($(peak_rss_kib "$QS_PID") / 1024))
  printf '| %s | %s | %.2f | %s | %s | %s |\n' "$binary" "$label" \
    "$(awk -v a="$started" -v b="$ready" 'BEGIN { print b - a }')" "$cpu" "$rss" "$used"
  stop_quillstore
}

echo "| binary | data | seconds to listening | CPU seconds by then | peak RSS MiB listening | after 1,000 reads + a page |"
echo "|---|---|---|---|---|---|"
for _ in $(seq "$rounds"); do
  for binary in "$@"; do
    rm -rf "$work/big/indexes"
    run "100,000 documents, no document index" "$binary" "$work/big" use
    run "100,000 documents" "$binary" "$work/big" use
    run "1,000,000 messages in 200 chats" "$binary" "$work/chats"
  done
done
