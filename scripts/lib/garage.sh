# shellcheck shell=bash
# Helpers for scripts that need a throwaway Garage (S3): a single node with its default bucket
# and key, in a temp dir, on free loopback ports.

garage_version=2.5.0

# find_garage: sets GARAGE to the garage binary, installing it from crates.io when missing.
# Returns 1 (with a message) when it cannot be installed.
find_garage() {
  GARAGE=${GARAGE_BIN:-$(command -v garage || echo "$HOME/.cargo/bin/garage")}
  if [[ ! -x $GARAGE ]]; then
    echo "==> installing garage $garage_version (cargo install; takes several minutes, once)" >&2
    cargo install --locked --quiet garage --version "$garage_version" >&2 || return 1
    GARAGE=$HOME/.cargo/bin/garage
  fi
  [[ -x $GARAGE ]]
}

# random_hex N: N random hex characters.
random_hex() {
  od -An -N "$(($1 / 2))" -tx1 /dev/urandom | tr -d ' \n'
}

# free_port: a TCP port that was free a moment ago.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_garage DIR [SOCKET]: starts Garage with its data in DIR, its S3 API on a free port or,
# given SOCKET, on that Unix socket (S3_ENDPOINT is then http://localhost, the host requests
# are signed for: quillstore reaches it with S3_SOCKET); once its bucket answers, sets
# GARAGE_PID, S3_ENDPOINT, S3_REGION, S3_BUCKET, S3_ACCESS_KEY and S3_SECRET_KEY (exported).
# Returns 1 (log in DIR/garage.log) when it does not come up within 30 s.
start_garage() {
  local dir=$1 socket=${2:-} s3_port rpc_port api reach=()
  mkdir -p "$dir/meta" "$dir/data"
  s3_port=$(free_port)
  rpc_port=$(free_port)
  if [[ -n $socket ]]; then
    api=$socket
    S3_ENDPOINT=http://localhost
    reach=(--unix-socket "$socket")
  else
    api=127.0.0.1:$s3_port
    S3_ENDPOINT=http://127.0.0.1:$s3_port
  fi
  cat >"$dir/garage.toml" <<TOML
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"
rpc_secret = "$(random_hex 64)"

[s3_api]
s3_region = "garage"
api_bind_addr = "$api"
root_domain = ".s3.garage.localhost"
TOML
  S3_REGION=garage
  S3_BUCKET=quillstore
  S3_ACCESS_KEY=GK$(random_hex 24)
  S3_SECRET_KEY=$(random_hex 64)
  export S3_ENDPOINT S3_REGION S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY
  RUST_LOG=${GARAGE_LOG:-warn} GARAGE_DEFAULT_ACCESS_KEY=$S3_ACCESS_KEY \
    GARAGE_DEFAULT_SECRET_KEY=$S3_SECRET_KEY GARAGE_DEFAULT_BUCKET=$S3_BUCKET \
    "$GARAGE" -c "$dir/garage.toml" server --single-node --default-bucket >"$dir/garage.log" 2>&1 &
  GARAGE_PID=$!
  export GARAGE_PID
  local deadline=$((SECONDS + 30)) status
  while :; do
    # Garage makes the default bucket before its S3 API listens: any answer means ready.
    status=$(curl -s "${reach[@]}" -o /dev/null -w '%{http_code}' "$S3_ENDPOINT/" || true)
    [[ $status != 000 ]] && return 0
    kill -0 "$GARAGE_PID" 2>/dev/null || return 1
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# stop_garage: SIGTERM, then SIGKILL if it is still there after 10 s (Garage waits for open
# client connections), and wait.
stop_garage() {
  if [[ -n ${GARAGE_PID:-} ]]; then
    kill -TERM "$GARAGE_PID" 2>/dev/null || true
    local waited=0
    while kill -0 "$GARAGE_PID" 2>/dev/null && ((waited < 100)); do
      sleep 0.1
      waited=$((waited + 1))
    done
    kill -KILL "$GARAGE_PID" 2>/dev/null || true
    wait "$GARAGE_PID" 2>/dev/null || true
    GARAGE_PID=
  fi
}
