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
  # serve runs in a command substitution (a subshell): the servers it starts are listed in a file.
  if [ -f "$work/pids" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$work/pids"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/root"
head -c 1024 /dev/urandom >"$work/root/1k.bin"
# nginx's worker drops to an unprivileged user when started as root: it must reach the file.
chmod -R a+rX "$work"

# serve N BINARY: starts quillstore number N; prints the URL of the uploaded file.
serve() {
  local log="$work/quillstore-$1.log" url=""
  env -i PATH="$PATH" HOME="$HOME" HOST=127.0.0.1 PORT=0 DATA_DIR="$work/data-$1" AUTH_MODE=none \
    ALLOWED_MIME_TYPES=application/octet-stream RUST_LOG=warn \
    RATE_LIMIT_USER_PER_MINUTE=0 RATE_LIMIT_IP_PER_MINUTE=0 "$2" serve >"$log" 2>&1 &
  echo $! >>"$work/pids"
  for _ in $(seq 1 100); do
    url=$(sed -n 's/.*listening on \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$log" | head -n 1)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "$2 did not start:" >&2; cat "$log" >&2; exit 1; }
  local id
  id=$(curl -sS --fail -F "file=@$work/root/1k.bin;type=application/octet-stream" "$url/api/files" |
    sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
  echo "$url/api/files/$id"
}

# shellcheck source=scripts/lib/garage.sh
. scripts/lib/garage.sh
# shellcheck source=scripts/lib/nginx.sh
. scripts/lib/nginx.sh
start_nginx "$work/root" "$work/nginx"
nginx_url="$nginx_url/1k.bin"

urls=()
n=0
for binary in "$@"; do
  n=$((n + 1))
  # Not inside the array assignment, whose status set -e would not see.
  url=$(serve "$n" "$binary")
  urls+=("$url")
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
