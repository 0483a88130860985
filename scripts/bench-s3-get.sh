#!/usr/bin/env bash
# Streaming S3 GETs (1 MiB and 64 MiB, FILES_REDIRECT=never, larger than the blob cache takes)
# for one or more quillstore binaries on a local single-node Garage, against Garage serving
# the same bytes through a presigned URL, interleaved round by round (wrk -t1 -c8) so each
# ratio compares runs seconds apart. With SOCKET=1 each binary also runs against a second
# Garage whose S3 API listens on a Unix socket (S3_SOCKET; rows "N socket"), still compared
# with Garage direct over TCP, the first one.
# With PIN=1 every Garage runs on one CPU and quillstore and wrk on another (the first two this
# script may use, scripts/lib/cpus.sh): S3 has a core of its own, as it has its own machine in
# a deployment, and the ratio says whether quillstore keeps up with it (quillstore shares its
# core with wrk; Garage direct does not). Unpinned, all three share both cores, and
# quillstore's CPU time is taken from Garage's.
# Ends with the median ratio of the rounds (scripts/lib/stats.sh) and their range, per size and
# binary.
#   scripts/bench-s3-get.sh ROUNDS BINARY...   (environment: WRK_SECONDS, default 5;
#                                               SIZES, default "1048576 67108864"; SOCKET;
#                                               PIN; needs: apt-get install -y wrk, and
#                                               garage; PIN needs taskset and two CPUs)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=$1
shift
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "bench-s3-get.sh: ROUNDS must be 1 or more" >&2; exit 1; }
seconds=${WRK_SECONDS:-5}
sizes=${SIZES:-1048576 67108864}
pin=${PIN:-0}
# shellcheck source=scripts/lib/cpus.sh
. scripts/lib/cpus.sh
# shellcheck source=scripts/lib/stats.sh
. scripts/lib/stats.sh
if [[ $pin == 1 ]]; then
  pick_cpus || { echo "bench-s3-get.sh: PIN=1 needs taskset and two CPUs" >&2; exit 1; }
fi
for tool in wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "bench-s3-get.sh needs $tool" >&2; exit 1; }
done
work=$(mktemp -d)
# shellcheck source=scripts/lib/garage.sh
. scripts/lib/garage.sh
# shellcheck source=scripts/lib/server.sh
. scripts/lib/server.sh
# shellcheck source=scripts/lib/wrk.sh
. scripts/lib/wrk.sh
pids=()
socket_garage=
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  stop_garage
  if [[ -n $socket_garage ]]; then GARAGE_PID=$socket_garage stop_garage; fi
  rm -rf "$work"
}
trap cleanup EXIT
find_garage || { echo "bench-s3-get.sh needs garage (see scripts/lib/garage.sh)" >&2; exit 1; }
if [[ ${SOCKET:-0} == 1 ]]; then
  start_garage "$work/garage-socket" "$work/s3.sock" ||
    { cat "$work/garage-socket/garage.log" >&2; exit 1; }
  socket_garage=$GARAGE_PID
  socket_endpoint=$S3_ENDPOINT socket_access=$S3_ACCESS_KEY socket_secret=$S3_SECRET_KEY
fi
start_garage "$work/garage" || { cat "$work/garage/garage.log" >&2; exit 1; }

# Every quillstore here streams from Garage (start_quillstore passes the environment on).
export ALLOWED_MIME_TYPES=application/octet-stream MAX_UPLOAD_SIZE=1GiB FILES_REDIRECT=never \
  S3_MODE=external
# Per quillstore: its base URL, its label and the Garage behind it.
bases=()
labels=()
behind=()
n=0
for binary in "$@"; do
  n=$((n + 1))
  S3_PATH_PREFIX="q$n/" start_quillstore "$binary" "$work/data-$n" "$work/quillstore-$n.log"
  pids+=("$QS_PID")
  bases+=("$QS_URL")
  labels+=("$n")
  behind+=("$GARAGE_PID")
  if [[ -n $socket_garage ]]; then
    S3_ENDPOINT=$socket_endpoint S3_ACCESS_KEY=$socket_access S3_SECRET_KEY=$socket_secret \
      S3_SOCKET=$work/s3.sock S3_PATH_PREFIX="q$n/" \
      start_quillstore "$binary" "$work/data-$n-socket" "$work/quillstore-$n-socket.log"
    pids+=("$QS_PID")
    bases+=("$QS_URL")
    labels+=("$n socket")
    behind+=("$socket_garage")
  fi
done

client=()
if [[ $pin == 1 ]]; then
  for pid in "${pids[@]}"; do pin "$pid" "$CLIENT_CPU"; done
  for pid in "$GARAGE_PID" $socket_garage; do pin "$pid" "$S3_CPU"; done
  client=(taskset -c "$CLIENT_CPU")
fi

# cpu PID: user and system CPU ticks the process has spent so far.
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ticks=$(getconf CLK_TCK)
# measure URL PID GARAGE: wrk -t1 -c8 on URL; prints "MiB/s, PID's CPU µs per MiB, GARAGE's",
# the rate from the bytes wrk read (scripts/lib/wrk.sh).
measure() {
  local before garage_before seconds_run mib
  before=$(cpu "$2")
  garage_before=$(cpu "$3")
  read -r seconds_run mib _ < <("${client[@]}" wrk -t1 -c8 -d"${seconds}s" "$1" | wrk_read)
  awk -v t="$ticks" -v d="$seconds_run" -v m="$mib" -v own=$(($(cpu "$2") - before)) \
    -v garage=$(($(cpu "$3") - garage_before)) \
    'BEGIN { printf "%.1f %.0f %.0f\n", m / d, own * 1e6 / t / m, garage * 1e6 / t / m }'
}

echo "TCP congestion control (the system default; the sender's): $(congestion_control)."
echo "MiB/s from the bytes wrk read in its run. quillstore and Garage CPU: user + system time per"
echo "MiB sent, from /proc (wrk's own is not counted)."
if [[ $pin == 1 ]]; then
  echo "Pinned: Garage on CPU $S3_CPU, quillstore and wrk on CPU $CLIENT_CPU."
else
  echo "Not pinned: Garage, quillstore and wrk share both CPUs."
fi
echo
ratios=$work/ratios.tsv
: >"$ratios"
echo "| size | round | binary (as given) | quillstore MiB/s | Garage direct MiB/s | ratio | CPU µs/MiB: quillstore, Garage behind it; Garage direct |"
echo "|---|---|---|---|---|---|---|"
for size in $sizes; do
  head -c "$size" /dev/urandom >"$work/$size.bin"
  urls=()
  for base in "${bases[@]}"; do
    id=$(curl -sS --fail -H 'Expect:' -F "file=@$work/$size.bin;type=application/octet-stream" \
      "$base/api/files" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
    urls+=("$base/api/files/$id")
  done
  curl -sS --fail -H 'Expect:' -o /dev/null -T "$work/$size.bin" \
    "$(python3 scripts/lib/presign.py PUT "direct/$size.bin")"
  direct=$(python3 scripts/lib/presign.py GET "direct/$size.bin")
  for url in "${urls[@]}" "$direct"; do
    curl -sS --fail -o "$work/check.bin" "$url"
    cmp -s "$work/check.bin" "$work/$size.bin" || { echo "$url: wrong bytes" >&2; exit 1; }
  done
  for round in $(seq 1 "$rounds"); do
    results=()
    for i in "${!urls[@]}"; do
      results+=("$(measure "${urls[$i]}" "${pids[$i]}" "${behind[$i]}")")
    done
    read -r direct_rate _ direct_garage <<<"$(measure "$direct" "$GARAGE_PID" "$GARAGE_PID")"
    for i in "${!results[@]}"; do
      read -r rate own garage <<<"${results[$i]}"
      awk -v s="$size" -v r="$round" -v bin="${labels[$i]}" -v q="$rate" -v d="$direct_rate" \
        -v own="$own" -v garage="$garage" -v dg="$direct_garage" 'BEGIN { m = s / 1048576
          printf "| %d MiB | %d | %s | %.0f | %.0f | %.2f | %d, %d; %d |\n", m, r, bin, q, d, q / d, own, garage, dg }'
      printf '%s\t%s\t%s\n' "$size" "${labels[$i]}" "$(awk -v q="$rate" -v d="$direct_rate" \
        'BEGIN { printf "%.2f", q / d }')" >>"$ratios"
    done
  done
done

echo
echo "| size | binary (as given) | median ratio of $rounds rounds | range |"
echo "|---|---|---|---|"
for size in $sizes; do
  for label in "${labels[@]}"; do
    values=$(awk -F '\t' -v s="$size" -v l="$label" '$1 == s && $2 == l { print $3 }' "$ratios" |
      LC_ALL=C sort -g)
    printf '| %d MiB | %s | %s | %s-%s |\n' "$((size / 1048576))" "$label" \
      "$(median <<<"$values")" "$(head -n 1 <<<"$values")" "$(tail -n 1 <<<"$values")"
  done
done
