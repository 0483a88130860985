#!/usr/bin/env bash
# Streamed S3 GETs (scripts/bench-s3-get.sh: quillstore in front of a local Garage, against
# Garage direct) under each of several TCP congestion controls, the system default switched
# between whole runs of that script, block by block (bbr, cubic, bbr, cubic, ...), so each
# control's rounds are spread over the same stretch of time. The congestion control is the
# sender's: under one that paces (bbr) Garage sends each flow in bursts of about a millisecond
# of its rate, and what quillstore and wrk pay per MiB depends on it (docs/benchmarks.md).
# Ends with, per size, binary and congestion control, the median ratio to Garage direct over
# all rounds, its range, and the median of quillstore's CPU per MiB.
# Needs root: it writes /proc/sys/net/ipv4/tcp_congestion_control, and puts back the default it
# found on exit. While it runs, every new connection of this network namespace takes the
# control of the moment (other jobs on the machine too); setting one as the default also lets
# unprivileged processes choose it until the next boot. Do not run two at once. Under sudo,
# keep the environment and PATH (garage): sudo env PATH="$PATH" WRK_SECONDS=5 scripts/...
#   scripts/bench-s3-get-congestion.sh BLOCKS ROUNDS BINARY...
#     (environment: CONGESTION, default "bbr cubic"; WRK_SECONDS, SIZES, SOCKET and PIN go
#     to bench-s3-get.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
default_file=/proc/sys/net/ipv4/tcp_congestion_control
usage="usage: scripts/bench-s3-get-congestion.sh BLOCKS ROUNDS BINARY..."
(($# >= 3)) || { echo "$usage" >&2; exit 1; }
blocks=$1
rounds=$2
shift 2
[[ $blocks =~ ^[1-9][0-9]*$ && $rounds =~ ^[1-9][0-9]*$ ]] || { echo "$usage" >&2; exit 1; }
[[ $(id -u) == 0 ]] || {
  echo "bench-s3-get-congestion.sh needs root (it writes $default_file)" >&2
  exit 1
}
# The names, each once, in the order given.
controls=$(tr -s '[:blank:]' '\n' <<<"${CONGESTION:-bbr cubic}" | awk 'NF && !seen[$0]++' |
  paste -sd ' ')
[[ -n $controls ]] || { echo "bench-s3-get-congestion.sh: CONGESTION names none" >&2; exit 1; }
available=$(cat /proc/sys/net/ipv4/tcp_available_congestion_control)
for control in $controls; do
  [[ " $available " == *" $control "* ]] || {
    echo "bench-s3-get-congestion.sh: $control is not available here (only: $available;" \
      "a control built as a module needs modprobe tcp_$control)" >&2
    exit 1
  }
done
# shellcheck source=scripts/lib/stats.sh
. scripts/lib/stats.sh
# shellcheck source=scripts/lib/wrk.sh
. scripts/lib/wrk.sh
found=$(cat "$default_file")
rows=$(mktemp)
trap 'rm -f "$rows"; printf %s "$found" >"$default_file" ||
  echo "could not put the congestion control back to $found" >&2' EXIT
# Each one is set once before the first block, so one the kernel refuses (outside the host's
# network namespace only tcp_allowed_congestion_control may be set) stops the script here.
for control in $controls; do
  printf %s "$control" >"$default_file" ||
    { echo "bench-s3-get-congestion.sh: the kernel refuses $control as the default" >&2; exit 1; }
done
printf %s "$found" >"$default_file"
echo "Default before: $(congestion_control). Controls: $controls. Each block, per control:"
echo "scripts/bench-s3-get.sh $rounds $* (WRK_SECONDS=${WRK_SECONDS:-5}" \
  "SIZES=\"${SIZES:-1048576 67108864}\" SOCKET=${SOCKET:-0} PIN=${PIN:-0})"
echo
echo "| block | congestion control | size | round | binary | quillstore MiB/s | Garage direct MiB/s | ratio | CPU µs/MiB: quillstore, Garage behind it; Garage direct |"
echo "|---|---|---|---|---|---|---|---|---|"
for block in $(seq 1 "$blocks"); do
  for control in $controls; do
    printf %s "$control" >"$default_file"
    # The round rows of bench-s3-get.sh ("| 1 MiB | 2 | 1 | ...", seven columns; its summary
    # has four), tagged with the block and the congestion control.
    scripts/bench-s3-get.sh "$rounds" "$@" |
      awk -F '|' -v b="$block" -v c="$control" \
        'NF == 9 && /^\| [0-9]+ MiB \|/ { print "| " b " | " c " " $0; fflush() }' |
      tee -a "$rows"
  done
done
[[ -s $rows ]] || {
  echo "bench-s3-get-congestion.sh: no round rows from bench-s3-get.sh" >&2
  exit 1
}
echo
echo "| size | binary | congestion control | median ratio | range | rounds | quillstore CPU µs/MiB, median |"
echo "|---|---|---|---|---|---|---|"
# Fields of a tagged row, split on "|": 3 control, 4 size, 6 binary, 9 ratio, 10 CPU figures.
field() { awk -F '|' -v n="$1" '{ gsub(/^ +| +$/, "", $n); print $n }'; }
sizes=$(field 4 <"$rows" | awk '!seen[$0]++')
binaries=$(field 6 <"$rows" | awk '!seen[$0]++')
while read -r size; do
  while read -r binary; do
    for control in $controls; do
      chosen=$(awk -F '|' -v OFS='|' -v s="$size" -v b="$binary" -v c="$control" '
        { for (i = 2; i <= 6; i++) gsub(/^ +| +$/, "", $i) }
        $3 == c && $4 == s && $6 == b' "$rows")
      [[ -n $chosen ]] || continue
      ratios=$(field 9 <<<"$chosen" | LC_ALL=C sort -g)
      cpu=$(field 10 <<<"$chosen" | cut -d, -f1 | median)
      printf '| %s | %s | %s | %s | %s-%s | %d | %s |\n' "$size" "$binary" "$control" \
        "$(median <<<"$ratios")" "$(head -n 1 <<<"$ratios")" "$(tail -n 1 <<<"$ratios")" \
        "$(wc -l <<<"$ratios")" "$cpu"
    done
  done <<<"$binaries"
done <<<"$sizes"
