#!/usr/bin/env bash
# Requests per second of a 1 KiB file GET (json + fs, the blob from the cache) for one or more
# quillstore binaries, against nginx (Debian's nginx-light, one worker, sendfile) serving the
# same bytes, interleaved round by round so each ratio compares runs seconds apart.
#   scripts/bench-small-get.sh ROUNDS BINARY...   (environment: WRK_SECONDS, default 5;
#                                                  needs: apt-get install -y nginx-light wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=$1
shift
seconds=${WRK_SECONDS:-5}
for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null || { echo "bench-small-get.sh needs $tool" >&2; exit 1; }
done
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/root"
head -c 1024 /dev/urandom >"$work/root/1k.bin"
# nginx's worker drops to an unprivileged user when started as root: it must reach the file.
chmod -R a+rX "$work"

# shellcheck source=scripts/lib/garage.sh
. scripts/lib/garage.sh
# shellcheck source=scripts/lib/nginx.sh
. scripts/lib/nginx.sh
# shellcheck source=scripts/lib/server.sh
. scripts/lib/server.sh
start_nginx "$work/root" "$work/nginx"
nginx_url="$nginx_url/1k.bin"

export ALLOWED_MIME_TYPES=application/octet-stream
urls=()
n=0
for binary in "$@"; do
  n=$((n + 1))
  start_quillstore "$binary" "$work/data-$n" "$work/quillstore-$n.log"
  pids+=("$QS_PID")
  id=$(curl -sS --fail -F "file=@$work/root/1k.bin;type=application/octet-stream" \
    "$QS_URL/api/files" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
  urls+=("$QS_URL/api/files/$id")
done

rate() { wrk -t1 -c8 -d"${seconds}s" "$1" | awk '/^Requests\/sec:/ { print $2 }'; }
echo "| round | binary (as given) | quillstore req/s | nginx req/s | ratio |"
echo "|---|---|---|---|---|"
for round in $(seq 1 "$rounds"); do
  rates=()
  for url in "${urls[@]}"; do rates+=("$(rate "$url")"); done
  nginx_rate=$(rate "$nginx_url")
  for i in "${!rates[@]}"; do
    awk -v r="$round" -v bin="$(( i + 1 ))" -v q="${rates[$i]}" -v n="$nginx_rate" \
      'BEGIN { printf "| %d | %d | %.0f | %.0f | %.2f |\n", r, bin, q, n, q / n }'
  done
done
