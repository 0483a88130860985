#!/usr/bin/env bash
# Where a 64 MiB upload to S3 spends its time: quillstore (S3_MODE=external on a local Garage)
# against a direct single presigned PUT (curl), a bare direct multipart upload (8 MiB parts, 3
# in flight, UNSIGNED-PAYLOAD, no checksum: scripts/lib/multipart.py) and boto3's upload_file
# with its defaults (scripts/lib/boto3_upload.py), interleaved, with the CPU seconds
# quillstore and Garage spent on each transfer; then the same 64 MiB read back
# as one stream: quillstore GET /api/files/{id} (FILES_REDIRECT=never) against a direct
# presigned GET (curl).
#   scripts/bench-s3-upload.sh [BINARY] [ROUNDS]     (S3_CHECKSUM=auto|crc32c|sha256|off passed through)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/garage.sh
. scripts/lib/garage.sh
# shellcheck source=scripts/lib/boto3.sh
. scripts/lib/boto3.sh
ensure_boto3
binary=${1:-target/release/quillstore}
rounds=${2:-4}
work=$(mktemp -d)
QPID=
find_garage
start_garage "$work/garage" >/dev/null
trap '[ -n "$QPID" ] && kill "$QPID" 2>/dev/null; stop_garage; rm -rf "$work"' EXIT
env -i PATH="$PATH" HOME="$HOME" HOST=127.0.0.1 PORT=0 DATA_DIR="$work/q" AUTH_MODE=none \
  ALLOWED_MIME_TYPES=application/octet-stream MAX_UPLOAD_SIZE=2GiB RUST_LOG=warn \
  RATE_LIMIT_USER_PER_MINUTE=0 RATE_LIMIT_IP_PER_MINUTE=0 \
  FILES_SIGNING_SECRET=bench-secret-bench-secret-bench-secret FILES_REDIRECT=never \
  S3_MODE=external S3_ENDPOINT="$S3_ENDPOINT" S3_REGION="$S3_REGION" S3_BUCKET="$S3_BUCKET" \
  S3_ACCESS_KEY="$S3_ACCESS_KEY" S3_SECRET_KEY="$S3_SECRET_KEY" S3_PATH_PREFIX=q \
  S3_CHECKSUM="${S3_CHECKSUM:-auto}" "$binary" serve >"$work/q.log" 2>&1 &
QPID=$!
until grep -q '^quillstore listening on ' "$work/q.log"; do sleep 0.1; done
url=$(sed -n 's/^quillstore listening on //p' "$work/q.log")
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
spent() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
echo "| round | transfer | seconds | quillstore CPU s | Garage CPU s |"
echo "|---|---|---|---|---|"
for i in $(seq "$rounds"); do
  head -c $((64 << 20)) /dev/urandom >"$work/f.bin"
  q0=$(cpu "$QPID") g0=$(cpu "$GARAGE_PID")
  t=$(curl -sS --fail -H 'Expect:' -o "$work/answer.json" -w '%{time_total}' \
    -F "file=@$work/f.bin;type=application/octet-stream" "$url/api/files")
  q1=$(cpu "$QPID") g1=$(cpu "$GARAGE_PID")
  d=$(curl -sS --fail -o /dev/null -w '%{time_total}' -T "$work/f.bin" \
    "$(python3 scripts/lib/presign.py PUT "direct/f$i.bin")")
  g2=$(cpu "$GARAGE_PID")
  m=$(python3 scripts/lib/multipart.py "$work/f.bin" "multipart/f$i.bin")
  g3=$(cpu "$GARAGE_PID")
  b=$("$boto3_python" scripts/lib/boto3_upload.py "$work/f.bin" "boto3/f$i.bin")
  g3b=$(cpu "$GARAGE_PID")
  id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' "$work/answer.json")
  q3=$(cpu "$QPID") g4=$(cpu "$GARAGE_PID")
  tg=$(curl -sS --fail -o /dev/null -w '%{time_total}' "$url/api/files/$id")
  q4=$(cpu "$QPID") g5=$(cpu "$GARAGE_PID")
  dg=$(curl -sS --fail -o /dev/null -w '%{time_total}' \
    "$(python3 scripts/lib/presign.py GET "direct/f$i.bin")")
  g6=$(cpu "$GARAGE_PID")
  echo "| $i | quillstore POST /api/files | $t | $(spent "$q0" "$q1") | $(spent "$g0" "$g1") |"
  echo "| $i | direct PUT (curl, presigned) | $d | - | $(spent "$g1" "$g2") |"
  echo "| $i | direct multipart 8 MiB x 3 | $m | - | $(spent "$g2" "$g3") |"
  echo "| $i | direct boto3 upload_file | $b | - | $(spent "$g3" "$g3b") |"
  echo "| $i | quillstore GET /api/files/{id} | $tg | $(spent "$q3" "$q4") | $(spent "$g4" "$g5") |"
  echo "| $i | direct GET (curl, presigned) | $dg | - | $(spent "$g5" "$g6") |"
done
