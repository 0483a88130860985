#!/usr/bin/env bash
# Container health check that needs no curl or wget: one HTTP/1.1 GET over bash's /dev/tcp,
# healthy on a 2xx status. Used by the HEALTHCHECK of both images and by the all-in-one
# start script to wait for Garage.
#
#   healthcheck.sh [PATH] [PORT]
#
# PATH defaults to /api/health/live, PORT to $PORT (quillstore's own variable) or 8080. The
# host is HEALTHCHECK_HOST (127.0.0.1); the whole exchange is bounded by HEALTHCHECK_TIMEOUT
# seconds (5).
set -euo pipefail

path=${1:-/api/health/live}
port=${2:-${PORT:-8080}}
host=${HEALTHCHECK_HOST:-127.0.0.1}

# The child shell gets host, port and path as $0, $1, $2; single quotes are intended.
# shellcheck disable=SC2016
exec timeout "${HEALTHCHECK_TIMEOUT:-5}" bash -c '
  exec 3<>"/dev/tcp/$0/$1" || exit 1
  printf "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$2" "$0" >&3
  read -r _ status _ <&3 || exit 1
  [[ $status == 2[0-9][0-9] ]]
' "$host" "$port" "$path" 2>/dev/null
