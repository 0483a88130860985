#!/usr/bin/env bash
# Image variants: first-time generation of a 256 px WebP from a 4000x3000 JPEG and a
# 2048x2048 PNG through quillstore (GET /api/files/{id}?w=256&h=256, each on a distinct image so
# nothing is cached) against the same work in a plain program with the same crates
# (examples/variant_baseline.rs); a cached variant GET against a plain GET of a file of the
# same size (examples/loadgen.rs); peak RSS while 8 clients ask for variants of 8 different
# 12-megapixel images at once. fs blob store, 127.0.0.1.
#
# Usage: scripts/bench-images.sh   (environment: IMAGE_RUNS, IMAGE_SECONDS, BENCH_IMAGES_OUT,
# BENCH_BIN_DIR; prints the markdown section; scripts/bench.sh appends it to
# docs/benchmarks.md)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${IMAGE_RUNS:-5}
seconds=${IMAGE_SECONDS:-5}
target=${CARGO_TARGET_DIR:-target}
out=${BENCH_IMAGES_OUT:-/dev/stdout}

# BENCH_BIN_DIR: a directory of already built binaries to measure (quillstore and
# examples/variant_baseline, examples/loadgen, as in target/release; skips the build).
bin_dir=${BENCH_BIN_DIR:-$target/release}
if [ -z "${BENCH_BIN_DIR:-}" ]; then
  echo "==> building release binaries" >&2
  cargo build --release --locked --bin quillstore --example variant_baseline --example loadgen >&2
fi
quillstore="$bin_dir/quillstore"
baseline="$bin_dir/examples/variant_baseline"
loadgen="$bin_dir/examples/loadgen"

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# start DATA: runs quillstore on DATA; sets url and pid once it listens.
start() {
  env -i PATH="$PATH" HOME="$HOME" HOST=127.0.0.1 PORT=0 DATA_DIR="$work/$1" AUTH_MODE=none \
    RUST_LOG=warn RATE_LIMIT_USER_PER_MINUTE=0 RATE_LIMIT_IP_PER_MINUTE=0 \
    ALLOWED_MIME_TYPES='image/*,application/octet-stream' \
    "$quillstore" serve >"$work/$1.log" 2>"$work/$1.err" &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 1 100); do
    url=$(sed -n 's/.*listening on \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$work/$1.log" | head -n 1)
    [ -n "$url" ] && return
    sleep 0.1
  done
  cat "$work/$1.err" >&2
  exit 1
}

# upload FILE TYPE: prints the new file's id.
upload() {
  curl -sS --fail -H 'Expect:' -F "file=@$1;type=$2" "$url/api/files" |
    sed -n 's/.*"id":"\([^"]*\)".*/\1/p'
}

# shellcheck source=scripts/lib/stats.sh
. scripts/lib/stats.sh

echo "==> making $runs images of each kind, and 8 photos for the memory run" >&2
count=$((runs > 8 ? runs : 8))
"$baseline" make "$work/images" "$count"

start variants
generation=""
for kind in photo:jpeg square:png; do
  name=${kind%%:*}
  type=image/${kind##*:}
  file_ext=$([ "$name" = photo ] && echo jpg || echo png)
  times=""
  for i in $(seq 0 $((runs - 1))); do
    id=$(upload "$work/images/$name-$i.$file_ext" "$type")
    seconds_taken=$(curl -sS --fail -o /dev/null -w '%{time_total}' "$url/api/files/$id?w=256&h=256&format=webp")
    times="$times $(awk -v s="$seconds_taken" 'BEGIN { print s * 1000 }')"
  done
  server_ms=$(echo "$times" | tr ' ' '\n' | grep . | median)
  plain_ms=$("$baseline" render "$work/images/$name-0.$file_ext" "$runs")
  generation="$generation$name $server_ms $plain_ms
"
done

echo "==> cached variant GET against a plain GET of the same size" >&2
id=$(upload "$work/images/photo-0.jpg" image/jpeg)
variant_path="/api/files/$id?w=256&h=256&format=webp"
curl -sS --fail -o "$work/variant.webp" "$url$variant_path"
variant_bytes=$(stat -c %s "$work/variant.webp")
head -c "$variant_bytes" /dev/urandom >"$work/same-size.bin"
plain_id=$(upload "$work/same-size.bin" application/octet-stream)
rps() { sed -n 's/.*"rps":\([0-9.]*\).*/\1/p'; }
# Interleaved rounds (cached, plain, cached, plain, ...) so that load from elsewhere on the
# machine falls on both alike; the table shows the round with the median ratio.
rounds=${IMAGE_GET_ROUNDS:-3}
ratios=""
for round in $(seq "$rounds"); do
  cached_r=$("$loadgen" run --label cached --base "$url" --method GET --path "$variant_path" \
    --seconds "$seconds" --concurrency 8)
  plain_r=$("$loadgen" run --label plain --base "$url" --method GET --path "/api/files/$plain_id" \
    --seconds "$seconds" --concurrency 8)
  ratio=$(awk -v c="$(rps <<<"$cached_r")" -v p="$(rps <<<"$plain_r")" 'BEGIN { printf "%.3f", c / p }')
  ratios="$ratios $ratio"
  echo "round $round: cached/plain = $ratio" >&2
  printf '%s\n' "$cached_r" >"$work/cached-$ratio"
  printf '%s\n' "$plain_r" >"$work/plain-$ratio"
done
median_ratio=$(tr ' ' '\n' <<<"$ratios" | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
cached=$(cat "$work/cached-$median_ratio")
plain=$(cat "$work/plain-$median_ratio")
p50() { sed -n 's/.*"p50_ms":\([0-9.]*\).*/\1/p'; }

echo "==> peak memory: 8 clients, 8 different 12-megapixel images at once" >&2
start memory
ids=()
for i in $(seq 0 7); do
  ids+=("$(upload "$work/images/photo-$i.jpg" image/jpeg)")
done
idle_kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
started=$(date +%s.%N)
clients=()
for id in "${ids[@]}"; do
  curl -sS --fail -o /dev/null "$url/api/files/$id?w=256&format=webp" &
  clients+=("$!")
done
for client in "${clients[@]}"; do
  wait "$client"
done
finished=$(date +%s.%N)
peak_kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
concurrent=${#clients[@]}

{
  echo "## Image variants"
  echo
  echo "Written by \`scripts/bench-images.sh\` on $(date -u +%Y-%m-%d) at commit \`$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\`"
  echo "($(nproc) cores shared with other work while it ran, so absolute figures are noisy; the"
  echo "ratios compare runs made minutes apart on the same machine). fs blob store, release build,"
  echo "\`IMAGE_MAX_CONCURRENT\` at its default (the number of CPUs)."
  echo
  echo "First-time generation of a 256x256 WebP (cover), median of $runs distinct images each:"
  echo "quillstore's whole request (read the original from the store, decode, orient, resize,"
  echo "encode, store the variant, serve it) against the same decode/resize/encode in"
  echo "\`examples/variant_baseline.rs\` (same crates, no server)."
  echo
  echo "| original | quillstore ms | plain program ms | ratio |"
  echo "|---|---|---|---|"
  printf '%s' "$generation" | awk 'NF == 3 {
    label = ($1 == "photo") ? "JPEG 4000x3000" : "PNG 2048x2048"
    printf "| %s | %.0f | %.0f | %.2f |\n", label, $2, $3, $2 / $3 }'
  echo
  echo "Cached variant GET against a plain file GET of the same size ($variant_bytes bytes),"
  echo "\`examples/loadgen.rs\`, 8 clients for ${seconds} s each, $rounds interleaved rounds (ratios:$ratios);"
  echo "the round with the median ratio is shown; ratio = variant / plain (goal >= 0.9)."
  echo
  echo "| GET | requests/s | p50 ms |"
  echo "|---|---|---|"
  echo "| cached variant | $(rps <<<"$cached") | $(p50 <<<"$cached") |"
  echo "| plain file | $(rps <<<"$plain") | $(p50 <<<"$plain") |"
  echo "| ratio | $median_ratio | |"
  echo
  echo "Peak memory while $concurrent clients ask at once for a 256 px WebP of $concurrent different 4000x3000"
  echo "(12-megapixel) JPEGs on a fresh server:"
  echo
  awk -v i="$idle_kib" -v p="$peak_kib" -v s="$started" -v f="$finished" 'BEGIN {
    printf "| idle VmRSS | peak VmHWM | peak above idle | all 8 answered in |\n|---|---|---|---|\n"
    printf "| %.1f MiB | %.1f MiB | %.1f MiB | %.1f s |\n", i / 1024, p / 1024, (p - i) / 1024, f - s }'
} >"$out"
