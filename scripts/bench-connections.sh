#!/usr/bin/env bash
# Connection handling under load, for each binary given (e.g. one built before a change and one
# after): 1,000 concurrent keep-alive clients on GET /api/health/live (req/s, p99), then 2,000
# slow-header connections (request line and part of the headers, then nothing) and how many of
# them the server still holds 3 s after HEADER_READ_TIMEOUT_SECS. Loopback only, bounded in
# count and time. Replaces the "Connections" section of docs/benchmarks-api.md ($BENCH_OUT).
#   scripts/bench-connections.sh                           # the current release build
#   scripts/bench-connections.sh before=/path/to/old after=target/release/quillstore
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/server.sh
source scripts/lib/server.sh

seconds=${BENCH_SECONDS:-10}
clients=${BENCH_CLIENTS:-1000}
slow=${BENCH_SLOW_CONNECTIONS:-2000}
header_timeout=${HEADER_READ_TIMEOUT_SECS:-10}
out=${BENCH_OUT:-docs/benchmarks-api.md}

target=${CARGO_TARGET_DIR:-target}
cargo build --release --locked --bin quillstore --example loadgen >&2
loadgen=$target/release/examples/loadgen
binaries=("$@")
[ ${#binaries[@]} -gt 0 ] || binaries=("current=$target/release/quillstore")

work=$(mktemp -d)
trap 'stop_quillstore; rm -rf "$work"' EXIT
# Every held connection is a descriptor, on both ends.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

results="$work/results.jsonl"
for entry in "${binaries[@]}"; do
  name=${entry%%=*}
  binary=${entry#*=}
  mkdir -p "$work/$name"
  export HEADER_READ_TIMEOUT_SECS=$header_timeout
  start_quillstore "$binary" "$work/$name" "$work/$name.log"
  echo "==> $name: $clients concurrent keep-alive clients" >&2
  "$loadgen" run --label "$name" --base "$QS_URL" --method GET --path /api/health/live \
    --seconds "$seconds" --concurrency "$clients" | tee -a "$results" >&2
  echo "==> $name: $slow slow-header connections" >&2
  python3 - "$QS_URL" "$slow" "$header_timeout" "$name" >>"$results" <<'PY'
import json, socket, sys, time, urllib.request
url, count, timeout, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
host, port = url.split("//")[1].split(":")
held = []
for _ in range(count):
    s = socket.create_connection((host, int(port)))
    s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    s.setblocking(False)
    held.append(s)
started = time.time()
served = urllib.request.urlopen(url + "/api/health/live", timeout=5).status
time.sleep(timeout + 3)
still_open = 0
for s in held:
    try:
        if s.recv(1) != b"":
            still_open += 1
    except BlockingIOError:
        still_open += 1
    except OSError:
        pass
    s.close()
print(json.dumps({"label": name, "slow": count, "still_open": still_open,
                  "after_s": round(time.time() - started, 1), "normal_status": served}))
PY
  stop_quillstore
done

python3 - "$results" "$out" "$clients" "$slow" "$header_timeout" "${binaries[@]%%=*}" <<'PY'
import datetime, json, re, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
clients, slow, timeout = sys.argv[3], sys.argv[4], sys.argv[5]
load = {row["label"]: row for row in rows if "rps" in row}
held = {row["label"]: row for row in rows if "still_open" in row}
names = ", ".join(sys.argv[6:])
lines = [
    "## Connections",
    "",
    f"Measured {datetime.date.today()} by `scripts/bench-connections.sh` ({names}) "
    f"on this machine (2 cores), loopback only: {clients} concurrent keep-alive "
    f"clients on `GET /api/health/live`, then {slow} connections that send a request line and "
    f"part of the headers and then nothing, counted {timeout} + 3 s later "
    f"(`HEADER_READ_TIMEOUT_SECS={timeout}`).",
    "",
    "| binary | req/s | p50 ms | p99 ms | errors | slow-header connections still open | a normal request meanwhile |",
    "|---|---|---|---|---|---|---|",
]
for name, row in load.items():
    h = held.get(name, {})
    lines.append(f"| {name} | {row['rps']:.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | "
                 f"{row['errors']} | {h.get('still_open', '?')} of {h.get('slow', '?')} | "
                 f"{h.get('normal_status', '?')} |")
section = "\n".join(lines) + "\n"
try:
    text = open(sys.argv[2]).read()
except FileNotFoundError:
    text = ""
text = re.sub(r"\n*## Connections\n.*?(?=\n## |\Z)", "", text, flags=re.S).rstrip("\n")
open(sys.argv[2], "w").write((text + "\n\n" if text else "") + section)
print(section)
PY
