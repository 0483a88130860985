#!/usr/bin/env bash
# Benchmarks of the JSON API on the embedded json store, each against a baseline measured in
# the same run: a trivial axum handler served and loaded the same way. Writes
# docs/benchmarks-api.md (or $BENCH_OUT); `scripts/bench.sh` covers files. Traffic stays on 127.0.0.1; every load is bounded.
#   scripts/bench-api.sh            # full run (about 2 minutes)
#   BENCH_SECONDS=3 scripts/bench-api.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/server.sh
source scripts/lib/server.sh

seconds=${BENCH_SECONDS:-10}
concurrency=${BENCH_CONCURRENCY:-32}
out=${BENCH_OUT:-docs/benchmarks-api.md}

cargo build --release --locked --bin quillstore --example loadgen --example memory_search >&2
binary=target/release/quillstore
loadgen=target/release/examples/loadgen
work=$(mktemp -d)
trap 'stop_quillstore; rm -rf "$work"' EXIT

results="$work/results.jsonl"
record() { tee -a "$results" >&2; }

echo "==> baseline: trivial axum handler" >&2
"$loadgen" baseline --seconds "$seconds" --concurrency "$concurrency" | record

start_quillstore "$binary" "$work/data" "$work/server.log"
echo "==> POST /api/characters x10000 at $concurrency clients" >&2
"$loadgen" run --label "POST /api/characters" --base "$QS_URL" --method POST --path /api/characters \
  --body '{"name":"Character {n}","description":"A seeded character for the benchmark."}' \
  --requests 10000 --concurrency "$concurrency" --save-ids "$work/ids" | record
echo "==> GET /api/characters/{id} with 10000 stored" >&2
"$loadgen" run --label "GET /api/characters/{id}" --base "$QS_URL" --method GET --path '/api/characters/{id}' \
  --ids "$work/ids" --seconds "$seconds" --concurrency "$concurrency" | record

echo "==> message appends at $concurrency clients" >&2
chat=$(curl -fsS -X POST "$QS_URL/api/chats" -H 'content-type: application/json' -d '{"title":"bench"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
"$loadgen" run --label "POST /api/chats/{id}/messages (one chat)" --base "$QS_URL" --method POST \
  --path "/api/chats/$chat/messages" --body '{"role":"user","content":"message {n}"}' \
  --seconds "$seconds" --concurrency "$concurrency" | record

echo "==> message pages: 100-message chat against 100,000-message chat" >&2
for count in 100 100000; do
  python3 - "$count" >"$work/import-$count.jsonl" <<'PY'
import json, sys
count = int(sys.argv[1])
print(json.dumps({"type": "quillstore-chat", "version": 1, "chat": {"title": f"{count} messages"}}))
for seq in range(1, count + 1):
    print(json.dumps({"seq": seq, "role": "user" if seq % 2 else "assistant", "content": f"message {seq} " + "x" * 100}))
PY
  id=$(curl -fsS -X POST "$QS_URL/api/chats/import" --data-binary "@$work/import-$count.jsonl" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  middle=$((count / 2))
  "$loadgen" run --label "GET latest page, $count-message chat" --base "$QS_URL" --method GET \
    --path "/api/chats/$id/messages?latest=true&limit=50" --seconds "$((seconds / 2 + 1))" --concurrency 1 | record
  "$loadgen" run --label "GET middle page, $count-message chat" --base "$QS_URL" --method GET \
    --path "/api/chats/$id/messages?after=$middle&limit=50" --seconds "$((seconds / 2 + 1))" --concurrency 1 | record
done
stop_quillstore

echo "==> import of a 100,000-message SillyTavern chat (fresh server, so peak RSS is the import's)" >&2
python3 scripts/lib/sillytavern-chat.py 100000 >"$work/st-100000.jsonl"
start_quillstore "$binary" "$work/st" "$work/st.log"
seconds_taken=$(curl -fsS -o "$work/st-import.json" -w '%{time_total}' -X POST "$QS_URL/api/chats/import" \
  --data-binary "@$work/st-100000.jsonl")
rss=$(peak_rss_kib "$QS_PID")
stop_quillstore
printf '{"label":"import of a 100,000-message SillyTavern chat","seconds":%s,"import_peak_rss_mib":%s,"bytes":%s}\n' \
  "$seconds_taken" "$((rss / 1024))" "$(stat -c %s "$work/st-100000.jsonl")" | record

# time_startup LABEL DATA_DIR: starts quillstore on DATA_DIR, records the seconds to its
# listening line and the peak RSS then; leaves it running (stop_quillstore after).
time_startup() {
  local label=$1 dir=$2 started ready
  # A fresh log: the listening line of an earlier run must not count as this one's.
  rm -f "$work/startup.log" "$work/startup.log.err"
  sync
  started=$(date +%s.%N)
  RUST_LOG=warn,quillstore::store::json=info start_quillstore "$binary" "$dir" "$work/startup.log"
  ready=$(date +%s.%N)
  # Where the time went (documents against message logs), for the terminal only.
  grep -h "json store opened" "$work/startup.log" "$work/startup.log.err" >&2 || true
  printf '{"label":"%s","seconds":%s,"peak_rss_mib":%s}\n' "$label" \
    "$(awk -v a="$started" -v b="$ready" 'BEGIN { printf "%.3f", b - a }')" \
    "$(($(peak_rss_kib "$QS_PID") / 1024))" | record
}

echo "==> startup with 100,000 documents" >&2
"$loadgen" seed-documents --dir "$work/big" --count 100000
time_startup "first startup with 100,000 character documents, no document index (every file read once, index written)" "$work/big"
stop_quillstore
time_startup "startup with 100,000 character documents" "$work/big"
started_rss=$(($(peak_rss_kib "$QS_PID") / 1024))
# Memory grows with what is used: read 1,000 of the documents whole (their long fields are
# read from their files), then list the first page.
find "$work/big/characters" -name '*.json' -printf '%f\n' | awk 'NR <= 1000 { sub(/\.json$/, ""); print }' >"$work/big-ids"
"$loadgen" run --label "GET /api/characters/{id}, 1,000 of 100,000 (first reads, from disk)" --base "$QS_URL" \
  --method GET --path '/api/characters/{id}' --ids "$work/big-ids" --requests 1000 --concurrency 8 | record
curl -fsS "$QS_URL/api/characters?limit=100" >/dev/null
printf '{"label":"memory with 100,000 character documents","started_rss_mib":%s,"used_rss_mib":%s}\n' \
  "$started_rss" "$(($(peak_rss_kib "$QS_PID") / 1024))" | record
stop_quillstore
rm -rf "$work/big"

echo "==> startup with 1,000,000 messages in 200 chats" >&2
"$loadgen" seed-chats --dir "$work/chats" --chats 200 --messages 5000
echo "    ($(du -sm "$work/chats" | cut -f1) MB on disk)" >&2
time_startup "first startup with 1,000,000 messages in 200 chats, logs without indexes (every log read once, indexes written)" "$work/chats"
stop_quillstore
time_startup "startup with 1,000,000 messages in 200 chats" "$work/chats"
chats=$(curl -fsS "$QS_URL/api/chats?limit=200" | python3 -c 'import json,sys; print(" ".join(c["id"] for c in json.load(sys.stdin)["items"]))')
listed=$(($(peak_rss_kib "$QS_PID") / 1024))
for chat in $(echo "$chats" | tr ' ' '\n' | head -n 10); do
  curl -fsS "$QS_URL/api/chats/$chat/messages?latest=true&limit=50" >/dev/null
done
paged=$(($(peak_rss_kib "$QS_PID") / 1024))
printf '{"label":"memory with 1,000,000 messages in 200 chats","listed_rss_mib":%s,"paged_rss_mib":%s}\n' \
  "$listed" "$paged" | record
stop_quillstore
rm -rf "$work/chats"

echo "==> POST /api/memories/search: 10,000 memories x 1,536 dimensions (plus 10,000 of another character)" >&2
"${CARGO_TARGET_DIR:-target}/release/examples/memory_search" --memories 10000 --dimensions 1536 --searches 200 | record

python3 - "$results" "$out" "$concurrency" "$seconds" <<'PY'
import json, sys, datetime
rows = [json.loads(line) for line in open(sys.argv[1])]
base = rows[0]
lines = [
    "## JSON API on the embedded json store",
    "",
    f"Measured {datetime.date.today()} by `scripts/bench-api.sh` on this machine (2 cores), "
    f"{sys.argv[3]} concurrent clients unless noted, loopback only. Ratios compare with the "
    f"baseline of the same run: a trivial axum JSON handler ({base['rps']:.0f} req/s, "
    f"p99 {base['p99_ms']:.2f} ms). Command: `BENCH_SECONDS={sys.argv[4]} scripts/bench-api.sh`; one run: "
    f"on a machine shared with other builds the figures move between runs.",
    "",
    "| what | requests | errors | req/s | p50 ms | p99 ms | req/s vs baseline |",
    "|---|---|---|---|---|---|---|",
]
for row in rows:
    if "rps" not in row:
        continue
    ratio = row["rps"] / base["rps"] if base["rps"] else 0
    lines.append(f"| {row['label']} | {row['requests']} | {row['errors']} | {row['rps']:.0f} | "
                 f"{row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {ratio:.3f} |")
pages = {row["label"]: row for row in rows if "page" in row.get("label", "")}
for kind in ("latest", "middle"):
    small = pages.get(f"GET {kind} page, 100-message chat")
    large = pages.get(f"GET {kind} page, 100000-message chat")
    if small and large:
        lines.append("")
        lines.append(f"Page latency ({kind} page), 100,000-message chat against 100-message chat: "
                     f"p50 {large['p50_ms'] / small['p50_ms']:.2f}x, p99 {large['p99_ms'] / small['p99_ms']:.2f}x.")
startups = [row for row in rows if "peak_rss_mib" in row]
if startups:
    lines += ["", "| start-up | seconds to listening | peak RSS MiB |", "|---|---|---|"]
    for row in startups:
        lines.append(f"| {row['label']} | {row['seconds']:.2f} | {row['peak_rss_mib']} |")
for row in rows:
    if row.get("label") == "POST /api/memories/search":
        lines.append("")
        lines.append(f"Memory search (`examples/memory_search.rs`, exact cosine top-10, one request at a "
                     f"time): {row['memories']:,} memories of {row['dimensions']:,} dimensions for one "
                     f"character, beside {row['otherCharacterMemories']:,} of another character that it "
                     f"does not read: p50 {row['p50Ms']:.2f} ms, p95 {row['p95Ms']:.2f} ms, max "
                     f"{row['maxMs']:.2f} ms over {row['searches']} searches.")
for row in rows:
    if row.get("label", "").startswith("import of a"):
        lines.append("")
        lines.append(f"Import of a 100,000-message SillyTavern chat ({row['bytes'] / 1048576:.1f} MiB: "
                     f"swipes with `swipe_info`, reasoning, extras): {row['seconds']:.2f} s, "
                     f"server peak RSS {row['import_peak_rss_mib']} MiB.")
for row in rows:
    if "started_rss_mib" in row:
        lines.append("")
        lines.append(f"Memory with 100,000 character documents (started from the document index): peak RSS "
                     f"{row['started_rss_mib']} MiB when listening, {row['used_rss_mib']} MiB after reading "
                     f"1,000 of them by id and a page of 100.")
for row in rows:
    if "listed_rss_mib" in row:
        lines.append("")
        lines.append(f"Memory with 1,000,000 messages in 200 chats: peak RSS {row['listed_rss_mib']} MiB after "
                     f"listing all chats (counts from the index headers), {row['paged_rss_mib']} MiB after "
                     f"reading the latest page of 10 of them (their indexes opened).")
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
