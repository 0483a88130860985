#!/usr/bin/env bash
# Instructions the server spends per GET, counted by callgrind (valgrind), for a cached image
# variant against a plain file of the same size: a figure that does not move with the load on
# the machine, unlike requests per second (issue 15 point 5). One server per binary, under
# callgrind; counters zeroed before and dumped after each run of N requests (one client).
#   scripts/count-variant-get.sh [REQUESTS] BIN_DIR...   (BIN_DIR as target/release: quillstore,
#   examples/loadgen, examples/variant_baseline)
set -euo pipefail
cd "$(dirname "$0")/.."
requests=$1
shift
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

# callgrind_control finds the server by names made of these (as in the server's environment).
control() { HOST=127.0.0.1 LOGNAME=bench USER=bench callgrind_control "$@"; }

# count PID LOADGEN URL PATH: instructions per request over $requests requests.
count() {
  control -z "$1" >/dev/null
  "$2" run --label count --base "$3" --method GET --path "$4" --requests "$requests" \
    --concurrency 1 --seconds 600 >/dev/null
  rm -f "$work"/callgrind.out.*
  control -d "$1" >/dev/null
  sleep 0.5
  # COUNT_KEEP=DIR keeps each dump there, for callgrind_annotate.
  if [ -n "${COUNT_KEEP:-}" ]; then
    cp "$work"/callgrind.out.* "$COUNT_KEEP/callgrind.$(date +%s%N).$(tr -c 'a-z0-9' _ <<<"$4" | cut -c1-40)"
  fi
  awk -v n="$requests" '/^summary:/ { s += $2 } /^totals:/ { t += $2 }
    END { printf "%.0f", (t ? t : s) / n }' "$work"/callgrind.out.*
}

echo "| binary | plain file GET (instructions/request) | cached variant GET | plain / variant (as requests/s variant ÷ plain) |"
echo "|---|---|---|---|"
for bin in "$@"; do
  rm -rf "$work/data" "$work/images"
  "$bin/examples/variant_baseline" make "$work/images" 1 >/dev/null
  env -i PATH="$PATH" HOME="$HOME" HOST=127.0.0.1 LOGNAME=bench USER=bench PORT=0 \
    DATA_DIR="$work/data" AUTH_MODE=none \
    RUST_LOG=warn RATE_LIMIT_USER_PER_MINUTE=0 RATE_LIMIT_IP_PER_MINUTE=0 \
    ALLOWED_MIME_TYPES='image/*,application/octet-stream' \
    valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out.%p" \
    "$bin/quillstore" serve >"$work/log" 2>"$work/err" &
  pid=$!
  until url=$(sed -n 's/.*listening on \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$work/log" 2>/dev/null) &&
    [ -n "$url" ]; do sleep 0.5; done
  upload() {
    curl -sS --fail -H 'Expect:' -F "file=@$1;type=$2" "$url/api/files" |
      sed -n 's/.*"id":"\([^"]*\)".*/\1/p'
  }
  id=$(upload "$work/images/square-0.png" image/png)
  variant="/api/files/$id?w=256&h=256&format=webp"
  curl -sS --fail -o "$work/variant.webp" "$url$variant"
  head -c "$(stat -c %s "$work/variant.webp")" /dev/urandom >"$work/plain.bin"
  plain_id=$(upload "$work/plain.bin" application/octet-stream)
  plain=$(count "$pid" "$bin/examples/loadgen" "$url" "/api/files/$plain_id")
  cached=$(count "$pid" "$bin/examples/loadgen" "$url" "$variant")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
  awk -v b="$bin" -v p="$plain" -v c="$cached" \
    'BEGIN { printf "| %s | %d | %d | %.3f |\n", b, p, c, p / c }'
done
