#!/usr/bin/env bash
# Import and export of a 5 MB PNG character card: a PNG of random pixels (so it does not
# compress) carrying a V3 card with a lorebook in a `ccv3` and a `chara` chunk, imported with
# POST /api/characters/import and exported back with ?format=png|json|charx, each timed over
# RUNS runs (median) with the server's peak RSS; then the peak RSS above idle while a
# character with a 25 MB PNG avatar is exported as PNG and as CharX (streamed exports hold
# pieces, not the image). Loopback only. Replaces the "Character
# cards" section of docs/benchmarks-api.md ($BENCH_OUT).
#   scripts/bench-cards.sh            (environment: RUNS, BENCH_OUT, CARGO_TARGET_DIR, QUILLSTORE_BIN)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/server.sh
source scripts/lib/server.sh

runs=${RUNS:-5}
out=${BENCH_OUT:-docs/benchmarks-api.md}
target=${CARGO_TARGET_DIR:-target}
# QUILLSTORE_BIN: an already built binary to measure (skips the build).
binary=${QUILLSTORE_BIN:-$target/release/quillstore}
[ -n "${QUILLSTORE_BIN:-}" ] || cargo build --release --locked --bin quillstore >&2

work=$(mktemp -d)
trap 'stop_quillstore; rm -rf "$work"' EXIT

python3 - "$work/card.png" <<'PY'
import base64, json, os, struct, sys, zlib
def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
width = height = 1300
raw = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(height))
entries = [{"keys": [f"place {n}"], "content": f"Lore entry {n}. " * 20, "enabled": True,
            "insertion_order": n, "extensions": {}} for n in range(50)]
data = {"name": "Benchmark", "description": "A card for the benchmark. " * 40,
        "personality": "", "scenario": "", "first_mes": "Hello.", "mes_example": "",
        "creator_notes": "", "system_prompt": "", "post_history_instructions": "",
        "alternate_greetings": ["Hi.", "Hey."], "tags": ["bench"], "creator": "bench",
        "character_version": "1", "extensions": {"custom": {"kept": True}},
        "character_book": {"name": "Benchmark lore", "entries": entries, "extensions": {}},
        "group_only_greetings": [], "nickname": "Bench", "creation_date": 1700000000,
        "modification_date": 1700000000}
v3 = {"spec": "chara_card_v3", "spec_version": "3.0", "data": data}
v2 = {"spec": "chara_card_v2", "spec_version": "2.0", "data": data}
text = lambda key, card: chunk(b"tEXt", key + b"\x00" + base64.b64encode(json.dumps(card).encode()))
png = (b"\x89PNG\r\n\x1a\n"
       + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(raw, 1))
       + text(b"chara", v2) + text(b"ccv3", v3) + chunk(b"IEND", b""))
open(sys.argv[1], "wb").write(png)
PY
bytes=$(stat -c %s "$work/card.png")

start_quillstore "$binary" "$work/data" "$work/server.log"
timings="$work/timings"
for run in $(seq "$runs"); do
  curl -fsS -o "$work/character.json" -w 'import %{time_total}\n' -X POST \
    -H 'content-type: image/png' --data-binary "@$work/card.png" \
    "$QS_URL/api/characters/import" >>"$timings"
  id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$work/character.json")
  for format in png json charx; do
    curl -fsS -o "$work/export.$format" -w "export-$format %{time_total}\n" \
      "$QS_URL/api/characters/$id/export?format=$format" >>"$timings"
  done
  echo "    run $run of $runs" >&2
done
rss=$(peak_rss_kib "$QS_PID")
stop_quillstore

# Streaming exports: a character whose avatar is a 25 MB PNG (random pixels, stored), exported
# as PNG and as CharX on a fresh server. Before each export the peak RSS (VmHWM) is reset to
# the current RSS (/proc/PID/clear_refs), so "above idle" is what that one export cost.
python3 - "$work/big.png" <<'PY'
import os, struct, sys, zlib
def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
side = 2900
raw = b"".join(b"\x00" + os.urandom(side * 3) for _ in range(side))
png = (b"\x89PNG\r\n\x1a\n"
       + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(raw, 0)) + chunk(b"IEND", b""))
open(sys.argv[1], "wb").write(png)
PY
json_id() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
start_quillstore "$binary" "$work/big-data" "$work/big.log"
avatar=$(curl -fsS -H 'Expect:' -F "file=@$work/big.png;type=image/png" "$QS_URL/api/files" | json_id)
big=$(curl -fsS -H 'content-type: application/json' \
  -d "{\"name\": \"Big\", \"defaultImageId\": \"$avatar\"}" "$QS_URL/api/characters" | json_id)
streaming="$work/streaming"
for format in png charx; do
  echo 5 >"/proc/$QS_PID/clear_refs"
  idle=$(awk '/^VmRSS:/ { print $2 }' "/proc/$QS_PID/status")
  seconds=$(curl -fsS -o "$work/big.$format" -w '%{time_total}' \
    "$QS_URL/api/characters/$big/export?format=$format")
  echo "$format $idle $(peak_rss_kib "$QS_PID") $seconds $(stat -c %s "$work/big.$format")" >>"$streaming"
done
stop_quillstore

python3 - "$timings" "$out" "$bytes" "$((rss / 1024))" "$runs" "$work/export.png" "$streaming" \
  "$(stat -c %s "$work/big.png")" <<'PY'
import datetime, re, statistics, sys
times = {}
for line in open(sys.argv[1]):
    name, seconds = line.split()
    times.setdefault(name, []).append(float(seconds) * 1000)
size, rss, runs = int(sys.argv[3]), sys.argv[4], sys.argv[5]
exported = len(open(sys.argv[6], "rb").read())
lines = [
    "## Character cards",
    "",
    f"Measured {datetime.date.today()} by `scripts/bench-cards.sh` on this machine (2 cores), "
    f"loopback only: a {size / 1e6:.1f} MB PNG card (random pixels, a V3 card with 50 lorebook "
    f"entries in `ccv3` and `chara` chunks), imported and exported {runs} times; medians. "
    f"Server peak RSS over the run: {rss} MiB. The exported PNG is {exported / 1e6:.1f} MB.",
    "",
    "| step | median ms | max ms |",
    "|---|---|---|",
]
for name in ("import", "export-png", "export-json", "export-charx"):
    values = times.get(name, [])
    if values:
        lines.append(f"| {name.replace('-', ' ')} | {statistics.median(values):.1f} | {max(values):.1f} |")
avatar = int(sys.argv[8])
lines += [
    "",
    f"Streaming: a character whose avatar is a {avatar / 1e6:.1f} MB PNG, exported once per "
    "format on a fresh server; peak RSS reset before each export, so \"above idle\" is what "
    "that export held at most (the avatar is read from the blob store and sent on in pieces).",
    "",
    "| export | output MB | idle VmRSS MiB | peak VmHWM MiB | peak above idle MiB | ms |",
    "|---|---|---|---|---|---|",
]
for line in open(sys.argv[7]):
    name, idle, peak, seconds, size = line.split()
    idle, peak = int(idle) / 1024, int(peak) / 1024
    lines.append(f"| {name} | {int(size) / 1e6:.1f} | {idle:.1f} | {peak:.1f} | "
                 f"{peak - idle:.1f} | {float(seconds) * 1000:.0f} |")
section = "\n".join(lines) + "\n"
try:
    text = open(sys.argv[2]).read()
except FileNotFoundError:
    text = ""
text = re.sub(r"\n*## Character cards\n.*?(?=\n## |\Z)", "", text, flags=re.S).rstrip("\n")
open(sys.argv[2], "w").write((text + "\n\n" if text else "") + section)
print(section)
PY
