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
# Tests that cannot run in a pass (a json-file inspection in the MongoDB pass, say) record a
# line here; cargo counts them as passed, the closing line counts them as skipped.
skips=$(mktemp)
export QUILLSTORE_TEST_SKIP_LOG=$skips
trap 'rm -f "$log" "$skips"' EXIT
set +e
cargo test --locked --all-targets -- --color never 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# shellcheck source=scripts/lib/garage.sh
. scripts/lib/garage.sh
# shellcheck source=scripts/lib/mongoeco.sh
. scripts/lib/mongoeco.sh
mongo_dir=$(mktemp -d)
trap 'stop_mongoeco; rm -rf "$log" "$skips" "$mongo_dir"' EXIT
# dual_passes VAR=VALUE...: the API suite twice in DATA_BACKEND=dual, json primary with a
# MongoDB secondary and the reverse, with the MongoDB settings given; each pass's time is shown.
dual_passes() {
  local dual started dual_status
  for dual in dual-json-mongodb dual-mongodb-json; do
    echo "==> the API suite in DATA_BACKEND=dual ($dual)"
    started=$SECONDS
    set +e
    env "$@" QUILLSTORE_TEST_BACKEND="$dual" \
      cargo test --locked --test api -- --color never 2>&1 | tee -a "$log"
    dual_status=${PIPESTATUS[0]}
    set -e
    echo "==> the API suite in DATA_BACKEND=dual ($dual) took $((SECONDS - started)) s"
    [ "$dual_status" -eq 0 ] || status=$dual_status
  done
}
if [ -n "${MONGODB_TEST_URI:-}" ]; then
  echo "==> the API suite against MongoDB at MONGODB_TEST_URI"
  set +e
  QUILLSTORE_TEST_BACKEND=mongodb cargo test --locked --test api -- --color never 2>&1 | tee -a "$log"
  mongo_status=${PIPESTATUS[0]}
  set -e
  [ "$mongo_status" -eq 0 ] || status=$mongo_status
  dual_passes MONGODB_TEST_URI="$MONGODB_TEST_URI"
else
  echo "==> SKIPPED: the API suite against a real MongoDB server: MONGODB_TEST_URI is not set (mongod cannot be installed from this machine's package registries; set it to run the suite against one)" | tee -a "$log"
  # Without a real server: the same suite against mongoeco, a MongoDB wire-protocol emulator
  # (PyPI), one test at a time (its transactions collide on any concurrent write).
  if ! install_mongoeco; then
    echo "==> SKIPPED: the API suite against the mongoeco emulator: it could not be installed (above)" | tee -a "$log"
  elif ! start_mongoeco "$mongo_dir"; then
    echo "==> SKIPPED: the API suite against the mongoeco emulator: it did not start; its log:" | tee -a "$log"
    cat "$mongo_dir/mongoeco.log" || true
  else
    echo "==> the API suite against mongoeco, a MongoDB wire-protocol emulator (not mongod), at $MONGOECO_URI"
    set +e
    QUILLSTORE_TEST_BACKEND=mongodb QUILLSTORE_TEST_MONGODB_EMULATOR=mongoeco \
      MONGODB_TEST_URI=$MONGOECO_URI \
      cargo test --locked --test api -- --color never --test-threads=1 2>&1 | tee -a "$log"
    mongo_status=${PIPESTATUS[0]}
    set -e
    [ "$mongo_status" -eq 0 ] || status=$mongo_status
    # One test at a time here too (RUST_TEST_THREADS), the emulator's limit.
    dual_passes QUILLSTORE_TEST_MONGODB_EMULATOR=mongoeco MONGODB_TEST_URI="$MONGOECO_URI" \
      RUST_TEST_THREADS=1
  fi
  stop_mongoeco
fi
# The API suite a second time with the blobs on S3: a real Garage (installed from crates.io
# when missing) on free loopback ports, each test under its own S3_PATH_PREFIX.
garage_dir=$(mktemp -d)
trap 'stop_garage; rm -rf "$log" "$skips" "$mongo_dir" "$garage_dir"' EXIT
if ! find_garage; then
  echo "==> SKIPPED: the API suite against S3: Garage is not installed and 'cargo install garage --locked --version $garage_version' failed" | tee -a "$log"
elif ! start_garage "$garage_dir"; then
  echo "==> SKIPPED: the API suite against S3: Garage did not start; its log:" | tee -a "$log"
  cat "$garage_dir/garage.log" || true
  stop_garage
else
  echo "==> the API suite against S3 (Garage at $S3_ENDPOINT)"
  set +e
  QUILLSTORE_TEST_BLOBS=s3 QUILLSTORE_TEST_S3_ENDPOINT=$S3_ENDPOINT \
    QUILLSTORE_TEST_S3_REGION=$S3_REGION QUILLSTORE_TEST_S3_BUCKET=$S3_BUCKET \
    QUILLSTORE_TEST_S3_ACCESS_KEY=$S3_ACCESS_KEY QUILLSTORE_TEST_S3_SECRET_KEY=$S3_SECRET_KEY \
    cargo test --locked --test api -- --color never 2>&1 | tee -a "$log"
  s3_status=${PIPESTATUS[0]}
  set -e
  [ "$s3_status" -eq 0 ] || status=$s3_status
  stop_garage
fi
unset S3_ENDPOINT S3_REGION S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY
# run_logged COMMAND...: a pass whose output goes to the log too; its failure fails the run.
run_logged() {
  local code
  set +e
  "$@" 2>&1 | tee -a "$log"
  code=${PIPESTATUS[0]}
  set -e
  [ "$code" -eq 0 ] || status=$code
}

echo "==> scripts/fuzz.sh: schemathesis against a running server (with and without a token)"
run_logged scripts/fuzz.sh

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
echo "==> scripts/check-ts-client.sh: the TypeScript client's types against docs/openapi.json, tsc"
run_logged scripts/check-ts-client.sh
echo "==> scripts/browser/run.sh: the TypeScript client in Chromium against a live quillstore"
run_logged scripts/browser/run.sh

skipped_tests=$(wc -l <"$skips")
if [ "$skipped_tests" -gt 0 ]; then
  echo "==> SKIPPED: $skipped_tests test runs did not apply to their pass:"
  sed 's/^/    /' "$skips"
fi
grep '^==> SKIPPED: the ' "$log" || true
# One closing line over every test run: "N passed, N failed, N skipped".
awk -v skipped="$skipped_tests" \
  '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1); if ($(i) ~ /^ignored;?$/) s += $(i-1) } }
     END { printf "%d passed, %d failed, %d skipped\n", p - skipped, f, s + skipped }' "$log"
exit "$status"
