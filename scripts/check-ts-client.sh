#!/usr/bin/env bash
# Checks the TypeScript client (clients/typescript): its committed types (src/schema.ts) are
# what openapi-typescript generates from docs/openapi.json today (regenerated into a temp file
# and compared), and tsc type-checks the client and its browser test. Prints a cargo-style
# `test result:` line; exits non-zero on drift or a type error.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/ts-client.sh
. scripts/lib/ts-client.sh

if ! install_ts_client; then
  echo "test result: FAILED. 0 passed; 1 failed; 0 ignored (clients/typescript: npm ci)"
  exit 1
fi
generated=$(mktemp --suffix=.ts)
trap 'rm -f "$generated"' EXIT
passed=0
failed=0

echo "==> clients/typescript: src/schema.ts against docs/openapi.json"
(cd "$ts_client_dir" && npx --no-install openapi-typescript ../../docs/openapi.json \
  --read-write-markers --output "$generated" >/dev/null)
if diff -u "$ts_client_dir/src/schema.ts" "$generated" >"$generated.diff"; then
  passed=$((passed + 1))
else
  head -n 60 "$generated.diff"
  echo "clients/typescript/src/schema.ts is not what docs/openapi.json generates:" \
    "run 'npm run generate' in clients/typescript and commit it" >&2
  failed=$((failed + 1))
fi
rm -f "$generated.diff"

echo "==> clients/typescript: tsc --noEmit (the client, then its browser test)"
if (cd "$ts_client_dir" && npx --no-install tsc --noEmit -p tsconfig.json && npx --no-install tsc -p test/tsconfig.json); then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi

result=ok
[ "$failed" -eq 0 ] || result=FAILED
echo "test result: $result. $passed passed; $failed failed; 0 ignored (clients/typescript)"
[ "$failed" -eq 0 ]
