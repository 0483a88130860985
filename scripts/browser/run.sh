#!/usr/bin/env bash
# The browser test: a page on another origin drives a live quillstore (AUTH_MODE=jwt) through
# the TypeScript client (clients/typescript) in Debian's Chromium, under playwright-core from
# npm (which never downloads a browser here: it is given /usr/bin/chromium). The checks are in
# clients/typescript/test/browser/page.ts, the driver in run.mjs beside it.
#
# Installs Chromium with apt-get when it is missing; when that is impossible, prints
# "==> SKIPPED: the browser test: ..." and exits 0 (scripts/test.sh repeats the line at the
# end). Uses the debug binary the cargo passes built (`cargo build` is a no-op after them).
# Bounded: the driver has its own timeouts (90 s for the checks) and the whole run 240 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib/ts-client.sh
. scripts/lib/ts-client.sh

chromium=${CHROMIUM:-/usr/bin/chromium}

skip() {
  echo "==> SKIPPED: the browser test: $1"
  exit 0
}

if [ ! -x "$chromium" ]; then
  command -v apt-get >/dev/null 2>&1 || skip "$chromium is missing and there is no apt-get to install Debian's chromium"
  [ "$(id -u)" -eq 0 ] || skip "$chromium is missing and installing Debian's chromium needs root"
  echo "==> installing Debian's chromium (apt-get install -y chromium)"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q chromium >/dev/null; then
    # A fresh machine has no package lists yet.
    apt-get update -q >/dev/null || true
    apt-get install -y -q chromium >/dev/null || skip "'apt-get install -y chromium' failed (above)"
  fi
  [ -x "$chromium" ] || skip "Debian's chromium was installed but $chromium is missing"
fi
"$chromium" --version || skip "$chromium does not run (above)"

install_ts_client || skip "the client's npm packages could not be installed (above)"

# QUILLSTORE_BINARY names a binary to test instead of the debug build.
binary=${QUILLSTORE_BINARY:-}
if [ -z "$binary" ]; then
  cargo build --locked --quiet --bin quillstore
  binary=${CARGO_TARGET_DIR:-target}/debug/quillstore
fi
binary=$(realpath "$binary")

timeout --kill-after=10 240 node "$ts_client_dir/test/browser/run.mjs" "$binary" "$chromium"
