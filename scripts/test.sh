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


echo "==> cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --locked --all-targets -- --color never 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [ -n "${MONGODB_TEST_URI:-}" ]; then
  echo "==> the API suite against MongoDB (MONGODB_TEST_URI is set)"
  set +e
  QUILLSTORE_TEST_BACKEND=mongodb cargo test --locked --test api -- --color never 2>&1 | tee -a "$log"
  mongo_status=${PIPESTATUS[0]}
  set -e
  [ "$mongo_status" -eq 0 ] || status=$mongo_status
else
  echo "==> SKIPPED: the API suite against MongoDB: MONGODB_TEST_URI is not set (no MongoDB server can be installed from this machine's package registries; set it to run the suite against a server)"
  echo "==> SKIPPED: migrate schema and the json <-> mongodb copies (tests/api/migrate_mongodb.rs) for the same reason"
fi
echo "==> scripts/fuzz.sh: schemathesis against a running server (with and without a token)"
set +e
scripts/fuzz.sh 2>&1 | tee -a "$log"
fuzz_status=${PIPESTATUS[0]}
set -e
[ "$fuzz_status" -eq 0 ] || status=$fuzz_status

echo "==> deployment files and the all-in-one start script"
set +e
scripts/check-deploy.sh
deploy_status=$?
set -e
if [ "$deploy_status" -eq 0 ]; then
  echo "test result: ok. 1 passed; 0 failed; 0 ignored (scripts/check-deploy.sh)" >>"$log"
else
  echo "test result: FAILED. 0 passed; 1 failed; 0 ignored (scripts/check-deploy.sh)" >>"$log"
  status=$deploy_status
fi
# One closing line over every test run: "N passed, N failed".
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1); if ($(i) ~ /^ignored;?$/) s += $(i-1) } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
