#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: checks formatting and lints, then every test.
# Whatever the tests need is installed or started from here.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is required (https://rustup.rs)" >&2
  exit 1
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

if [ -z "${MONGODB_TEST_URI:-}" ]; then
  echo "==> NOTE: MONGODB_TEST_URI is not set: the MongoDB backend is not built yet and no MongoDB suite runs"
fi

echo "==> cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --locked --all-targets -- --color never 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary: "N passed, N failed".
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1); if ($(i) ~ /^ignored;?$/) s += $(i-1) } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
