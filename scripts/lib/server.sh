# shellcheck shell=bash
# Helpers for scripts that run a quillstore binary on a loopback port chosen by the OS.

# start_quillstore BINARY DATA_DIR LOG: starts `serve` in the background, sets QS_PID and
# QS_URL once the server prints its listening line (fails after 60 s).
start_quillstore() {
  local binary=$1 data_dir=$2 log=$3
  # Benchmarks measure raw throughput: the rate limits (on by default) are turned off.
  HOST=127.0.0.1 PORT=0 DATA_DIR=$data_dir AUTH_MODE=none RUST_LOG=${RUST_LOG:-warn} \
    RATE_LIMIT_USER_PER_MINUTE=0 RATE_LIMIT_IP_PER_MINUTE=0 \
    "$binary" serve >"$log" 2>"$log.err" &
  QS_PID=$!
  local waited=0
  until grep -q '^quillstore listening on ' "$log" 2>/dev/null; do
    if ! kill -0 "$QS_PID" 2>/dev/null; then
      echo "quillstore exited early:" >&2
      cat "$log.err" >&2
      return 1
    fi
    sleep 0.05
    waited=$((waited + 1))
    if [ "$waited" -gt 1200 ]; then
      echo "quillstore did not start within 60 s" >&2
      return 1
    fi
  done
  QS_URL=$(sed -n 's/^quillstore listening on //p' "$log" | head -n 1)
  export QS_PID QS_URL
}

# stop_quillstore: SIGTERM and wait.
stop_quillstore() {
  if [ -n "${QS_PID:-}" ]; then
    kill -TERM "$QS_PID" 2>/dev/null || true
    wait "$QS_PID" 2>/dev/null || true
    QS_PID=
  fi
}

# peak_rss_kib PID: the peak resident set size of a running process, in KiB.
peak_rss_kib() {
  awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}
