#!/usr/bin/env bash
# File throughput of quillstore against baselines measured in the same run, plus the server's
# peak memory during a 1 GiB upload. Writes docs/benchmarks.md.
#
# fs: examples/bench_baseline.rs, a minimal axum server that streams the same multipart
# uploads to disk (no hashing, sniffing, fsync or metadata) and serves the files back.
# S3: quillstore with S3_MODE=external on a local Garage (started here, installed from
# crates.io when missing) against the same transfers done directly with Garage through
# presigned URLs. Everything runs on 127.0.0.1; the run takes a few minutes after the build.
# The 1 MiB and 64 MiB S3 GETs are also measured with quillstore reaching a second, identical
# Garage over a Unix socket (S3_SOCKET), against the same Garage direct over TCP.
#
# Request rates (wrk -t1 -c8) are compared with nginx (Debian's nginx-light, run here as our
# own process on a loopback port, config in the temp dir) serving the same bytes from disk,
# and with Garage serving them through presigned URLs.
#
# Usage: scripts/bench.sh   (environment: SMALL_RUNS, LARGE_RUNS, WRK_SECONDS, BENCH_OUT;
#                            needs: apt-get install -y nginx-light wrk)
set -euo pipefail
cd "$(dirname "$0")/.."

small_runs=${SMALL_RUNS:-20}
large_runs=${LARGE_RUNS:-5}
out=${BENCH_OUT:-docs/benchmarks.md}
target=${CARGO_TARGET_DIR:-target}

wrk_seconds=${WRK_SECONDS:-5}
for tool in cargo curl awk sort wrk nginx python3; do
  command -v "$tool" >/dev/null || { echo "bench.sh needs $tool" >&2; exit 1; }
done

echo "==> building release binaries" >&2
cargo build --release --locked --bin quillstore --example bench_baseline >&2
quillstore="$target/release/quillstore"
baseline="$target/release/examples/bench_baseline"

# shellcheck source=scripts/lib/garage.sh
. scripts/lib/garage.sh
# shellcheck source=scripts/lib/boto3.sh
. scripts/lib/boto3.sh
# shellcheck source=scripts/lib/nginx.sh
. scripts/lib/nginx.sh
# shellcheck source=scripts/lib/wrk.sh
. scripts/lib/wrk.sh
# shellcheck source=scripts/lib/cpus.sh
. scripts/lib/cpus.sh
# shellcheck source=scripts/lib/stats.sh
. scripts/lib/stats.sh
ensure_boto3
find_garage || {
  echo "bench.sh needs garage (cargo install garage --locked --version $garage_version)" >&2
  exit 1
}

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  stop_garage
  if [ -n "${socket_garage_pid:-}" ]; then GARAGE_PID=$socket_garage_pid stop_garage; fi
  rm -rf "$work"
}
trap cleanup EXIT

# start NAME COMMAND...: runs a server in the background; once it listens, sets started_url
# to its base URL and started_pid to its pid.
started_url=""
started_pid=""
start() {
  local name=$1 log="$work/$1.log" _
  shift
  "$@" >"$log" 2>"$work/$name.err" &
  started_pid=$!
  pids+=("$started_pid")
  for _ in $(seq 1 100); do
    started_url=$(sed -n 's/.*listening on \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$log" | head -n 1)
    if [ -n "$started_url" ]; then
      return
    fi
    sleep 0.1
  done
  echo "$name did not start:" >&2
  cat "$work/$name.err" >&2
  exit 1
}

serve_quillstore() {
  exec env -i PATH="$PATH" HOME="$HOME" HOST=127.0.0.1 PORT=0 DATA_DIR="$work/$1" AUTH_MODE=none \
    ALLOWED_MIME_TYPES=application/octet-stream MAX_UPLOAD_SIZE=2GiB RUST_LOG=warn \
    RATE_LIMIT_USER_PER_MINUTE=0 RATE_LIMIT_IP_PER_MINUTE=0 \
    FILES_SIGNING_SECRET=bench-secret-bench-secret-bench-secret \
    "$quillstore" serve
}

# serve_quillstore_s3 DATA_DIR_NAME [NAME=VALUE...]: on the Garage of S3_*, the assignments
# given after the name overriding them.
serve_quillstore_s3() {
  exec env -i PATH="$PATH" HOME="$HOME" HOST=127.0.0.1 PORT=0 DATA_DIR="$work/$1" AUTH_MODE=none \
    ALLOWED_MIME_TYPES=application/octet-stream MAX_UPLOAD_SIZE=2GiB RUST_LOG=warn \
    RATE_LIMIT_USER_PER_MINUTE=0 RATE_LIMIT_IP_PER_MINUTE=0 \
    FILES_SIGNING_SECRET=bench-secret-bench-secret-bench-secret FILES_REDIRECT=never \
    S3_MODE=external S3_ENDPOINT="$S3_ENDPOINT" S3_REGION="$S3_REGION" S3_BUCKET="$S3_BUCKET" \
    S3_ACCESS_KEY="$S3_ACCESS_KEY" S3_SECRET_KEY="$S3_SECRET_KEY" S3_PATH_PREFIX="$1" \
    "${@:2}" "$quillstore" serve
}

serve_baseline() {
  exec env -i PATH="$PATH" PORT=0 BASELINE_DIR="$work/baseline-files" "$baseline"
}

# make_files PREFIX SIZE_MIB COUNT: COUNT files of random bytes (distinct, so no dedup).
make_files() {
  local i
  for i in $(seq 1 "$3"); do
    head -c "$(($2 * 1024 * 1024))" /dev/urandom >"$work/$1-$i.bin"
  done
}

# upload URL FILE: prints "seconds id".
upload() {
  curl -sS --fail -H 'Expect:' -o "$work/answer.json" -w '%{time_total}' \
    -F "file=@$2;type=application/octet-stream" "$1"
  printf ' %s\n' "$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' "$work/answer.json")"
}

# bench_pair PREFIX SIZE_MIB RUNS: upload and download medians (MiB/s) for both servers.
bench_pair() {
  local prefix=$1 size=$2 runs=$3 i line
  make_files "$prefix" "$size" "$runs"
  for server in quillstore baseline; do
    local upload_url download_base times="" ids=()
    if [ "$server" = quillstore ]; then
      upload_url="$quillstore_url/api/files"
      download_base="$quillstore_url/api/files"
    else
      upload_url="$baseline_url/upload"
      download_base="$baseline_url/files"
    fi
    for i in $(seq 1 "$runs"); do
      line=$(upload "$upload_url" "$work/$prefix-$i.bin")
      times+="${line%% *}"$'\n'
      ids+=("${line##* }")
    done
    local up
    up=$(printf '%s' "$times" | median)
    times=""
    for i in "${ids[@]}"; do
      times+=$(curl -sS --fail -o /dev/null -w '%{time_total}' "$download_base/$i")$'\n'
    done
    local down
    down=$(printf '%s' "$times" | median)
    awk -v s="$size" -v u="$up" -v d="$down" -v n="$server" -v p="$prefix" \
      'BEGIN { printf "%s %s %.1f %.1f\n", p, n, s / u, s / d }'
  done
}

echo "==> generating files and measuring throughput" >&2
start quillstore serve_quillstore data
quillstore_url=$started_url
start baseline serve_baseline
baseline_url=$started_url
results="$work/results.txt"
bench_pair 1MiB 1 "$small_runs" >"$results"
bench_pair 64MiB 64 "$large_runs" >>"$results"

# bench_s3 PREFIX SIZE_MIB RUNS: upload and download medians (MiB/s) through quillstore on S3
# and directly with Garage (presigned PUT and GET of the same files).
bench_s3() {
  local prefix=$1 size=$2 runs=$3 i line times="" ids=() up down
  for i in $(seq 1 "$runs"); do
    line=$(upload "$s3_url/api/files" "$work/$prefix-$i.bin")
    times+="${line%% *}"$'\n'
    ids+=("${line##* }")
  done
  up=$(printf '%s' "$times" | median)
  times=""
  for i in "${ids[@]}"; do
    for _ in 1 2 3; do
      times+=$(curl -sS --fail -o /dev/null -w '%{time_total}' "$s3_url/api/files/$i")$'\n'
    done
  done
  down=$(printf '%s' "$times" | median)
  awk -v s="$size" -v u="$up" -v d="$down" -v p="$prefix" \
    'BEGIN { printf "%s quillstore %.1f %.1f\n", p, s / u, s / d }'
  # The direct upload is what quillstore does with Garage: one PUT up to a part (8 MiB),
  # beyond that a multipart upload in 8 MiB parts, three in flight (scripts/lib/multipart.py).
  times=""
  for i in $(seq 1 "$runs"); do
    if [ "$size" -gt 8 ]; then
      times+=$(python3 scripts/lib/multipart.py "$work/$prefix-$i.bin" "direct/$prefix-$i.bin")$'\n'
    else
      times+=$(curl -sS --fail -H 'Expect:' -o /dev/null -w '%{time_total}' \
        -T "$work/$prefix-$i.bin" "$(python3 scripts/lib/presign.py PUT "direct/$prefix-$i.bin")")$'\n'
    fi
  done
  up=$(printf '%s' "$times" | median)
  times=""
  for i in $(seq 1 "$runs"); do
    local get_url
    get_url=$(python3 scripts/lib/presign.py GET "direct/$prefix-$i.bin")
    for _ in 1 2 3; do
      times+=$(curl -sS --fail -o /dev/null -w '%{time_total}' "$get_url")$'\n'
    done
  done
  down=$(printf '%s' "$times" | median)
  awk -v s="$size" -v u="$up" -v d="$down" -v p="$prefix" \
    'BEGIN { printf "%s garage %.1f %.1f\n", p, s / u, s / d }'
  # A large file also goes up with boto3's upload_file and its defaults (a CRC32 of every
  # part, a SHA-256 signed payload over http): an application uploading directly.
  if [ "$size" -gt 8 ]; then
    times=""
    for i in $(seq 1 "$runs"); do
      times+=$("$boto3_python" scripts/lib/boto3_upload.py "$work/$prefix-$i.bin" "boto3/$prefix-$i.bin")$'\n'
    done
    up=$(printf '%s' "$times" | median)
    awk -v s="$size" -v u="$up" -v p="$prefix" 'BEGIN { printf "%s boto3 %.1f\n", p, s / u }'
  fi
}

echo "==> S3: quillstore on Garage against presigned transfers with Garage" >&2
# The Garage on a Unix socket first: start_garage exports the settings of the last one started.
start_garage "$work/garage-socket" "$work/s3.sock" || {
  cat "$work/garage-socket/garage.log" >&2
  exit 1
}
socket_garage_pid=$GARAGE_PID
socket_endpoint=$S3_ENDPOINT socket_access_key=$S3_ACCESS_KEY socket_secret_key=$S3_SECRET_KEY
start_garage "$work/garage" || {
  cat "$work/garage/garage.log" >&2
  exit 1
}
start quillstore-s3 serve_quillstore_s3 s3-data
s3_url=$started_url
s3_pid=$started_pid
start quillstore-socket serve_quillstore_s3 socket-data S3_ENDPOINT="$socket_endpoint" \
  S3_SOCKET="$work/s3.sock" S3_ACCESS_KEY="$socket_access_key" S3_SECRET_KEY="$socket_secret_key"
socket_url=$started_url
s3_results="$work/s3-results.txt"
bench_s3 1MiB 1 "$small_runs" >"$s3_results"
bench_s3 64MiB 64 "$large_runs" >>"$s3_results"

# wrk_rate URL SIZE_BYTES: requests per second of wrk -t1 -c8 over WRK_SECONDS; for 1 MiB and
# more, the bytes wrk read divided by SIZE (see scripts/lib/wrk.sh).
wrk_rate() {
  "${client[@]}" wrk -t1 -c8 -d"${wrk_seconds}s" "$1" | wrk_read | awk -v size="$2" '
    { if (size >= 1048576) printf "%.2f\n", $2 * 1048576 / size / $1; else print $3 }'
}

# wrk_row LABEL SIZE_BYTES QUILLSTORE_URL ANCHOR_NAME ANCHOR_URL: one line of the ratio table.
wrk_row() {
  local ours theirs url
  # Both must answer 200 with the expected bytes, or the rates compare error pages.
  for url in "$3" "$5"; do
    if [ "$(curl -sS -o /dev/null -w '%{http_code}' "$url")" != 200 ]; then
      echo "wrk_row $1: $url does not answer 200" >&2
      exit 1
    fi
  done
  ours=$(wrk_rate "$3" "$2")
  theirs=$(wrk_rate "$5" "$2")
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$ours" "$4" "$theirs" >>"$wrk_results"
}

# How wrk runs: as it is, or pinned (see pin_s3).
client=()
# pin_s3 on|off: Garage on one CPU, the quillstore in front of it and wrk on another (the
# first two this script may use, scripts/lib/cpus.sh), as S3 has a machine of its own in a
# deployment; or both processes back on the CPUs they had. Each process with all its
# threads. Needs taskset and two CPUs (can_pin).
can_pin=false
if pick_cpus; then can_pin=true; fi
pin_s3() {
  if [ "$1" = on ]; then
    garage_cpus=$(affinity "$GARAGE_PID")
    s3_cpus=$(affinity "$s3_pid")
    pin "$GARAGE_PID" "$S3_CPU"
    pin "$s3_pid" "$CLIENT_CPU"
    client=(taskset -c "$CLIENT_CPU")
  else
    pin "$GARAGE_PID" "$garage_cpus"
    pin "$s3_pid" "$s3_cpus"
    client=()
  fi
}

echo "==> request rates with wrk -t1 -c8 against nginx and Garage direct" >&2
wrk_results="$work/wrk-results.tsv"
: >"$wrk_results"
mkdir -p "$work/nginx-root"
# nginx's worker drops to an unprivileged user when started as root: it must reach the files.
chmod a+rx "$work" "$work/nginx-root"
start_nginx "$work/nginx-root" "$work/nginx"
for size in 1024 65536 1048576 67108864; do
  head -c "$size" /dev/urandom >"$work/nginx-root/$size.bin"
  chmod a+r "$work/nginx-root/$size.bin"
  fs_id=$(upload "$quillstore_url/api/files" "$work/nginx-root/$size.bin" | cut -d' ' -f2)
  s3_id=$(upload "$s3_url/api/files" "$work/nginx-root/$size.bin" | cut -d' ' -f2)
  curl -sS --fail -H 'Expect:' -o /dev/null -T "$work/nginx-root/$size.bin" \
    "$(python3 scripts/lib/presign.py PUT "direct/wrk-$size.bin")"
  direct=$(python3 scripts/lib/presign.py GET "direct/wrk-$size.bin")
  if [ "$size" = 1024 ]; then
    curl -sS --fail -o "$work/nginx-root/metadata.json" "$quillstore_url/api/files/$fs_id/metadata"
    chmod a+r "$work/nginx-root/metadata.json"
    wrk_row "metadata GET by id" 0 "$quillstore_url/api/files/$fs_id/metadata" nginx \
      "$nginx_url/metadata.json"
  fi
  if [ "$size" != 65536 ]; then
    wrk_row "fs GET $size" "$size" "$quillstore_url/api/files/$fs_id" nginx "$nginx_url/$size.bin"
  fi
  wrk_row "S3 GET $size" "$size" "$s3_url/api/files/$s3_id" "Garage direct" "$direct"
  if [ "$size" -ge 1048576 ]; then
    socket_id=$(upload "$socket_url/api/files" "$work/nginx-root/$size.bin" | cut -d' ' -f2)
    wrk_row "S3 GET via S3_SOCKET $size" "$size" "$socket_url/api/files/$socket_id" \
      "Garage direct" "$direct"
    if $can_pin; then
      pin_s3 on
      wrk_row "S3 GET $size, Garage on its own core" "$size" "$s3_url/api/files/$s3_id" \
        "Garage direct" "$direct"
      pin_s3 off
    else
      echo "==> SKIPPED: the pinned S3 GET $size row (needs taskset and two CPUs)" >&2
    fi
  fi
done

echo "==> peak memory during a 1 GiB upload" >&2
head -c $((1024 * 1024 * 1024)) /dev/urandom >"$work/1GiB.bin"
start memory serve_quillstore memory-data
memory_url=$started_url
memory_pid=$started_pid
curl -sS --fail -o /dev/null "$memory_url/api/limits"
idle_kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$memory_pid/status")
upload_seconds=$(upload "$memory_url/api/files" "$work/1GiB.bin" | cut -d' ' -f1)
peak_kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$memory_pid/status")
after_kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$memory_pid/status")

echo "==> peak memory during a 1 GiB upload to S3" >&2
start memory-s3 serve_quillstore_s3 memory-s3-data
memory_s3_url=$started_url
memory_s3_pid=$started_pid
curl -sS --fail -o /dev/null "$memory_s3_url/api/limits"
idle_s3_kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$memory_s3_pid/status")
upload_s3_seconds=$(upload "$memory_s3_url/api/files" "$work/1GiB.bin" | cut -d' ' -f1)
peak_s3_kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$memory_s3_pid/status")
after_s3_kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$memory_s3_pid/status")

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
{
  echo "# Benchmarks"
  echo
  echo "Written by \`scripts/bench.sh\` on $(date -u +%Y-%m-%d) at commit \`$commit\`"
  echo "($(nproc) cores, $(uname -sr), TCP congestion control $(congestion_control); client: curl,"
  echo "server and client on 127.0.0.1)."
  echo
  echo "Command: \`SMALL_RUNS=$small_runs LARGE_RUNS=$large_runs WRK_SECONDS=$wrk_seconds scripts/bench.sh\`."
  echo "One run (load average $(cut -d' ' -f1 /proc/loadavg) when it ended): this machine is shared with other"
  echo "builds, so figures move between runs; ratios compare rows measured minutes apart."
  echo
  echo "## File throughput"
  echo
  echo "Median MiB/s over $small_runs uploads (1 MiB) and $large_runs uploads (64 MiB) of distinct"
  echo "random files, then one download of each. Baseline: \`examples/bench_baseline.rs\`, a"
  echo "minimal axum handler that streams the same multipart upload to disk without hashing,"
  echo "sniffing, fsync or metadata, and serves the file back; ratio = quillstore / baseline."
  echo
  echo "| size | direction | quillstore MiB/s | baseline MiB/s | ratio |"
  echo "|---|---|---|---|---|"
  for prefix in 1MiB 64MiB; do
    awk -v p="$prefix" '
      $1 == p && $2 == "quillstore" { qu = $3; qd = $4 }
      $1 == p && $2 == "baseline" { bu = $3; bd = $4 }
      END {
        printf "| %s | upload | %.1f | %.1f | %.2f |\n", p, qu, bu, qu / bu
        printf "| %s | download | %.1f | %.1f | %.2f |\n", p, qd, bd, qd / bd
      }' "$results"
  done
  echo
  echo "## File throughput on S3 (Garage)"
  echo
  echo "The same files through quillstore with \`S3_MODE=external\` on a local single-node Garage"
  echo "(\`FILES_REDIRECT=never\`, so downloads stream through quillstore; uploads up to 8 MiB are one"
  echo "PutObject, larger ones multipart in 8 MiB parts, three sent at once, each with a CRC32C"
  echo "checksum) against the same transfers done directly with Garage: a presigned PUT (curl) for"
  echo "1 MiB, a multipart upload in 8 MiB parts, three in flight (\`scripts/lib/multipart.py\`) for"
  echo "64 MiB, and presigned GETs (curl). Downloads: median of three GETs of each file. The"
  echo "64 MiB files also go up with boto3's \`upload_file\` and its defaults"
  echo "(\`scripts/lib/boto3_upload.py\`: 8 MiB parts, a CRC32 of each, a SHA-256 signed payload"
  echo "over http), the anchor of issue 21. The bare multipart client checks nothing; quillstore"
  echo "hashes every upload with SHA-256 (the file's \`sha256\`) and sends a CRC32C with each part."
  echo "Ratio = quillstore / direct."
  echo
  echo "| size | direction | quillstore MiB/s | direct Garage MiB/s | ratio |"
  echo "|---|---|---|---|---|"
  for prefix in 1MiB 64MiB; do
    awk -v p="$prefix" '
      $1 == p && $2 == "quillstore" { qu = $3; qd = $4 }
      $1 == p && $2 == "garage" { bu = $3; bd = $4 }
      $1 == p && $2 == "boto3" { b3 = $3 }
      END {
        printf "| %s | upload | %.1f | %.1f | %.2f |\n", p, qu, bu, qu / bu
        if (b3 > 0) printf "| %s | upload, against boto3 upload_file | %.1f | %.1f | %.2f |\n", p, qu, b3, qu / b3
        printf "| %s | download | %.1f | %.1f | %.2f |\n", p, qd, bd, qd / bd
      }' "$s3_results"
  done
  echo
  echo "## Request rates against nginx and Garage direct"
  echo
  echo "wrk -t1 -c8 for ${wrk_seconds} s per row, one run, loopback. quillstore on json + fs, then on"
  echo "the same Garage with \`FILES_REDIRECT=never\` (blob cache on, default 64 MiB / 256 KiB:"
  echo "the 1 KiB and 64 KiB S3 rows are served from it after the first request); nginx"
  echo "(nginx-light, sendfile, one worker) serving the same bytes and the same metadata JSON"
  echo "from disk; Garage serving the same objects through presigned GET URLs. The \"via"
  echo "S3_SOCKET\" rows: quillstore reaching a second, identical Garage over a Unix socket"
  echo "(\`S3_SOCKET\`), against the same Garage direct over TCP. The \"on its own core\" rows: Garage"
  echo "pinned to one CPU, quillstore and wrk to another (taskset), for both sides of the ratio, as S3"
  echo "has its own machine in a deployment: whether quillstore keeps up with S3, rather than how"
  echo "much of a shared CPU it takes from it (the rows without it; \`scripts/bench-s3-get.sh\` with"
  echo "\`PIN=1\` measures both over several rounds)."
  echo
  echo "| transfer | quillstore | anchor | ratio |"
  echo "|---|---|---|---|"
  awk -F'\t' '
    function rate(r, size) {
      if (size == 0 || size <= 65536) return sprintf("%.0f req/s", r)
      return sprintf("%.0f MiB/s", r * size / 1048576)
    }
    function label(l, size,   name) {
      # The size ends the label or its first part ("S3 GET 1048576, Garage on its own core").
      if (size == 1024) name = "1 KiB"
      if (size == 65536) name = "64 KiB"
      if (size == 1048576) name = "1 MiB"
      if (size == 67108864) name = "64 MiB"
      if (name != "" && !sub(" " size ",", " " name ",", l)) sub(" " size "$", " " name, l)
      return l
    }
    { printf "| %s | %s | %s: %s | %.2f |\n", label($1, $2), rate($3, $2), $4, rate($5, $2), $3 / $5 }
  ' "$wrk_results"
  echo
  echo "## Memory during a 1 GiB upload"
  echo
  echo "A fresh server receives one 1 GiB multipart upload (MAX_UPLOAD_SIZE=2GiB); RSS read from"
  echo "\`/proc/<pid>/status\`. Target: peak less than 64 MiB above idle."
  echo
  echo "| blob store | idle VmRSS | peak VmHWM | peak above idle | VmRSS after | upload time |"
  echo "|---|---|---|---|---|---|"
  row='{ printf "| %s | %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB | %.1f s |\n", n, i / 1024, p / 1024, (p - i) / 1024, a / 1024, t }'
  awk -v n=fs -v i="$idle_kib" -v p="$peak_kib" -v a="$after_kib" -v t="$upload_seconds" "BEGIN $row"
  awk -v n="s3 (Garage)" -v i="$idle_s3_kib" -v p="$peak_s3_kib" -v a="$after_s3_kib" \
    -v t="$upload_s3_seconds" "BEGIN $row"
} >"$out"
cat "$out"

echo "==> image variants (scripts/bench-images.sh)" >&2
echo >>"$out"
BENCH_IMAGES_OUT="$work/images.md" scripts/bench-images.sh
cat "$work/images.md" >>"$out"
