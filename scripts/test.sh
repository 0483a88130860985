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
cargo test --locked --all-targets -- --color never
