#!/usr/bin/env bash
# Entry point of the all-in-one image (run by tini as PID 1): starts the embedded MongoDB and
# Garage when asked, waits until each is ready (with a time limit), then runs quillstore.
#
# The script stays the parent of all three instead of exec-ing quillstore, so that it can
# stop them in order: on SIGTERM or SIGINT quillstore drains its requests first, then Garage
# and mongod stop, each within a time limit (then SIGKILL). If any of the three exits on its
# own, the others are stopped too and the script exits non-zero, so the container's restart
# policy takes over.
#
# Everything lives under one volume, DATA_DIR (/data):
#   $DATA_DIR/quillstore   quillstore's own DATA_DIR (json metadata, fs blobs)
#   $DATA_DIR/mongodb      the embedded mongod's dbpath
#   $DATA_DIR/garage       Garage's metadata, data, generated config and generated secrets
#
# Each embedded part can be switched off by env:
#   MONGODB_MODE=embedded|external  mongod runs only when embedded and DATA_BACKEND is
#                                   mongodb or dual; external needs MONGODB_URI
#   S3_MODE=embedded|external|disabled  Garage runs only when embedded
#
# Paths, ports and binaries can be overridden (so the script also runs outside a container,
# which is how scripts/check-deploy.sh tests it): QUILLSTORE_BIN, GARAGE_BIN, MONGOD_BIN,
# MONGOSH_BIN, QUILLSTORE_DATA_DIR, MONGODB_DATA_DIR, GARAGE_DATA_DIR, MONGODB_PORT,
# GARAGE_S3_PORT, GARAGE_RPC_PORT, GARAGE_ADMIN_PORT, GARAGE_BIND_ADDR, GARAGE_S3_SOCKET, and
# the time limits
# MONGODB_START_TIMEOUT, GARAGE_START_TIMEOUT (seconds to become ready) and
# MONGODB_STOP_TIMEOUT, GARAGE_STOP_TIMEOUT, QUILLSTORE_STOP_TIMEOUT (seconds to exit after
# SIGTERM). .env.example documents each one.
set -euo pipefail

log() { printf '[start-allinone] %s\n' "$*" >&2; }
die() {
  log "error: $*"
  stop_all
  exit 1
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

data_root=${DATA_DIR:-/data}
DATA_BACKEND=${DATA_BACKEND:-mongodb}
MONGODB_MODE=${MONGODB_MODE:-embedded}
S3_MODE=${S3_MODE:-embedded}
export DATA_BACKEND MONGODB_MODE S3_MODE

quillstore_bin=${QUILLSTORE_BIN:-quillstore}
quillstore_data_dir=${QUILLSTORE_DATA_DIR:-$data_root/quillstore}
healthcheck=${HEALTHCHECK_BIN:-$here/healthcheck.sh}

mongod_bin=${MONGOD_BIN:-mongod}
mongosh_bin=${MONGOSH_BIN:-mongosh}
mongodb_data_dir=${MONGODB_DATA_DIR:-$data_root/mongodb}
mongodb_port=${MONGODB_PORT:-27017}

garage_bin=${GARAGE_BIN:-garage}
garage_data_dir=${GARAGE_DATA_DIR:-$data_root/garage}
garage_bind_addr=${GARAGE_BIND_ADDR:-127.0.0.1}
garage_s3_port=${GARAGE_S3_PORT:-3900}
# Garage's S3 API listens on a Unix socket that quillstore reaches with S3_SOCKET (cheaper
# than a loopback port; no browser reaches either), unless a port is asked for: GARAGE_S3_SOCKET
# unset is a socket in a private temp dir when neither GARAGE_BIND_ADDR nor GARAGE_S3_PORT is
# set; a path is that socket; "off" is the port.
garage_s3_socket=${GARAGE_S3_SOCKET:-}
if [[ -z $garage_s3_socket && -z ${GARAGE_BIND_ADDR:-} && -z ${GARAGE_S3_PORT:-} ]]; then
  garage_s3_socket=auto
fi
socket_dir=
garage_rpc_port=${GARAGE_RPC_PORT:-3901}
garage_admin_port=${GARAGE_ADMIN_PORT:-3903}

# Children by name, and the order they were started in (they are stopped in reverse).
declare -A pids=()
started=()

# start NAME COMMAND...: runs COMMAND in the background and records its pid.
start() {
  local name=$1
  shift
  "$@" &
  pids[$name]=$!
  started+=("$name")
  log "started $name (pid ${pids[$name]})"
}

# stop NAME TIMEOUT: SIGTERM, then SIGKILL if NAME is still running after TIMEOUT seconds.
stop() {
  local name=$1 timeout=$2
  local pid=${pids[$name]:-}
  [[ -n $pid ]] || return 0
  unset "pids[$name]"
  if kill -TERM "$pid" 2>/dev/null; then
    log "stopping $name (pid $pid, up to ${timeout}s)"
    local deadline=$((SECONDS + timeout))
    while kill -0 "$pid" 2>/dev/null; do
      if ((SECONDS >= deadline)); then
        log "$name did not stop within ${timeout}s: killing it"
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.1
    done
  fi
  local status=0
  wait "$pid" 2>/dev/null || status=$?
  log "$name stopped (status $status)"
}

stop_timeout() {
  case $1 in
    quillstore) echo "${QUILLSTORE_STOP_TIMEOUT:-$((${SHUTDOWN_TIMEOUT_SECS:-20} + 5))}" ;;
    garage) echo "${GARAGE_STOP_TIMEOUT:-10}" ;;
    mongod) echo "${MONGODB_STOP_TIMEOUT:-20}" ;;
  esac
}

# Stops every child still running, the last started first.
stop_all() {
  trap '' TERM INT
  local index name
  for ((index = ${#started[@]} - 1; index >= 0; index--)); do
    name=${started[index]}
    stop "$name" "$(stop_timeout "$name")"
  done
}

# Called from the traps below.
# shellcheck disable=SC2317
on_signal() {
  log "received SIG$1: stopping"
  stop_all
  log "stopped"
  exit 0
}
trap 'on_signal TERM' TERM
trap 'on_signal INT' INT
# The private dir of Garage's socket goes with the script, however it ends.
trap '[[ -z $socket_dir ]] || rm -rf "$socket_dir"' EXIT

# wait_ready NAME TIMEOUT CHECK...: runs CHECK until it succeeds; fails when NAME exits or
# TIMEOUT seconds pass first.
wait_ready() {
  local name=$1 timeout=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    kill -0 "${pids[$name]}" 2>/dev/null || die "$name exited during startup"
    ((SECONDS < deadline)) || die "$name was not ready within ${timeout}s"
    sleep 0.2
  done
  log "$name is ready"
}

random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# persisted_secret FILE BYTES [PREFIX]: the content of FILE, created with PREFIX and BYTES
# random bytes in hex the first time, so restarts keep the same value.
persisted_secret() {
  local file=$1 bytes=$2 prefix=${3:-}
  if [[ ! -s $file ]]; then
    (
      umask 077
      printf '%s%s\n' "$prefix" "$(random_hex "$bytes")" >"$file.tmp"
      mv "$file.tmp" "$file"
    )
  fi
  tr -d '\n' <"$file"
}

# Called through wait_ready.
# shellcheck disable=SC2317
mongod_ready() {
  if command -v "$mongosh_bin" >/dev/null 2>&1; then
    # mongosh keeps logs under $HOME, which is the /data volume in the image: point it at /tmp.
    HOME=${TMPDIR:-/tmp} DO_NOT_TRACK=1 "$mongosh_bin" --quiet --host 127.0.0.1 \
      --port "$mongodb_port" --eval 'quit(db.adminCommand({ ping: 1 }).ok ? 0 : 1)' \
      >/dev/null 2>&1
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$mongodb_port") 2>/dev/null
  fi
}

start_mongod() {
  command -v "$mongod_bin" >/dev/null 2>&1 || die "MONGODB_MODE=embedded but $mongod_bin is not installed"
  mkdir -p "$mongodb_data_dir"
  local extra=()
  read -r -a extra <<<"${MONGOD_ARGS:-}"
  start mongod "$mongod_bin" --dbpath "$mongodb_data_dir" --bind_ip 127.0.0.1 \
    --port "$mongodb_port" --quiet "${extra[@]}"
  wait_ready mongod "${MONGODB_START_TIMEOUT:-60}" mongod_ready
  MONGODB_URI="mongodb://127.0.0.1:$mongodb_port/"
  export MONGODB_URI
  log "MongoDB on $MONGODB_URI"
}

start_garage() {
  command -v "$garage_bin" >/dev/null 2>&1 || die "S3_MODE=embedded but $garage_bin is not installed"
  mkdir -p "$garage_data_dir/meta" "$garage_data_dir/data"
  S3_REGION=${S3_REGION:-garage}
  S3_BUCKET=${S3_BUCKET:-quillstore}
  S3_ACCESS_KEY=${S3_ACCESS_KEY:-$(persisted_secret "$garage_data_dir/s3-access-key" 12 GK)}
  S3_SECRET_KEY=${S3_SECRET_KEY:-$(persisted_secret "$garage_data_dir/s3-secret-key" 32)}
  local rpc_secret=${GARAGE_RPC_SECRET:-$(persisted_secret "$garage_data_dir/rpc-secret" 32)}
  local config=$garage_data_dir/garage.toml api_bind_addr=$garage_bind_addr:$garage_s3_port
  case $garage_s3_socket in
    "" | off) garage_s3_socket= ;;
    auto)
      socket_dir=$(mktemp -d "${TMPDIR:-/tmp}/quillstore-garage.XXXXXX")
      garage_s3_socket=$socket_dir/s3.sock
      ;;
    /*) ;;
    *) die "GARAGE_S3_SOCKET=$garage_s3_socket: expected an absolute path or off" ;;
  esac
  [[ -z $garage_s3_socket ]] || api_bind_addr=$garage_s3_socket
  # Written on every start so that changed ports or paths apply; it holds no secret (the RPC
  # secret goes through the environment).
  cat >"$config" <<TOML
# Generated by start-allinone.sh on every start; edits are overwritten.
metadata_dir = "$garage_data_dir/meta"
data_dir = "$garage_data_dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$garage_rpc_port"
rpc_public_addr = "127.0.0.1:$garage_rpc_port"

[s3_api]
s3_region = "$S3_REGION"
api_bind_addr = "$api_bind_addr"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$garage_admin_port"
TOML
  start garage env RUST_LOG="${GARAGE_LOG:-warn}" GARAGE_RPC_SECRET="$rpc_secret" \
    GARAGE_DEFAULT_ACCESS_KEY="$S3_ACCESS_KEY" GARAGE_DEFAULT_SECRET_KEY="$S3_SECRET_KEY" \
    GARAGE_DEFAULT_BUCKET="$S3_BUCKET" \
    "$garage_bin" -c "$config" server --single-node --default-bucket
  # Garage creates the default key and bucket before its APIs listen, so a healthy admin API
  # means the bucket exists.
  wait_ready garage "${GARAGE_START_TIMEOUT:-60}" "$healthcheck" /health "$garage_admin_port"
  if [[ -n $garage_s3_socket ]]; then
    # The S3 API binds its socket alongside the admin API: wait for it too.
    wait_ready garage "${GARAGE_START_TIMEOUT:-60}" test -S "$garage_s3_socket"
    S3_ENDPOINT=http://localhost
    S3_SOCKET=$garage_s3_socket
    export S3_SOCKET
  else
    S3_ENDPOINT="http://127.0.0.1:$garage_s3_port"
  fi
  S3_FORCE_PATH_STYLE=true
  S3_CREATE_BUCKET=false
  # Garage listens on the loopback inside the container, which a browser cannot reach: serve
  # every file through quillstore unless the operator says otherwise.
  FILES_REDIRECT=${FILES_REDIRECT:-never}
  export S3_REGION S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY S3_ENDPOINT S3_FORCE_PATH_STYLE \
    S3_CREATE_BUCKET FILES_REDIRECT
  log "Garage S3 API on ${S3_SOCKET:-$S3_ENDPOINT}, bucket $S3_BUCKET"
}

case $MONGODB_MODE in
  embedded | external) ;;
  *) die "MONGODB_MODE=$MONGODB_MODE: expected embedded or external" ;;
esac
case $S3_MODE in
  embedded | external | disabled) ;;
  *) die "S3_MODE=$S3_MODE: expected embedded, external or disabled" ;;
esac
command -v "$quillstore_bin" >/dev/null 2>&1 || die "$quillstore_bin is not installed (set QUILLSTORE_BIN)"
mkdir -p "$quillstore_data_dir"

case $DATA_BACKEND in
  mongodb | dual)
    if [[ $MONGODB_MODE == embedded ]]; then
      start_mongod
    elif [[ -z ${MONGODB_URI:-} ]]; then
      die "MONGODB_MODE=external needs MONGODB_URI"
    fi
    ;;
  *) log "DATA_BACKEND=$DATA_BACKEND: no MongoDB needed" ;;
esac

if [[ $S3_MODE == embedded ]]; then
  start_garage
else
  log "S3_MODE=$S3_MODE: no embedded Garage"
fi

# MongoDB metadata needs ENCRYPTION_MASTER_KEY; this single container keeps one it generated
# on the volume (0600), like quillstore does for the embedded default.
if [ -z "${ENCRYPTION_MASTER_KEY:-}" ]; then
  key_file=$quillstore_data_dir/secrets/encryption-master.key
  if [ ! -s "$key_file" ]; then
    mkdir -p "$(dirname "$key_file")"
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$key_file")
    log "generated ENCRYPTION_MASTER_KEY into $key_file; back it up with the volume"
  fi
  ENCRYPTION_MASTER_KEY=$(cat "$key_file")
  export ENCRYPTION_MASTER_KEY
fi
start quillstore env DATA_DIR="$quillstore_data_dir" "$quillstore_bin" serve

# Runs until a signal arrives (on_signal exits) or one of the children exits by itself.
status=0
exited_pid=
wait -n -p exited_pid "${pids[@]}" || status=$?
exited=unknown
for name in "${!pids[@]}"; do
  if [[ ${pids[$name]} == "$exited_pid" ]]; then
    exited=$name
    unset "pids[$name]"
  fi
done
log "$exited exited by itself (status $status): stopping the others"
stop_all
if [[ $exited == quillstore ]]; then
  exit "$status"
fi
exit $((status == 0 ? 1 : status))
