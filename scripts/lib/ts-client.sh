# shellcheck shell=bash
# The TypeScript client's npm dependencies (clients/typescript), installed from its committed
# package-lock.json with `npm ci` (the npm registry only; no install scripts of our own).

ts_client_dir=clients/typescript

# install_ts_client: `npm ci` unless node_modules already matches the lockfile; fails (with a
# message) when node or npm is missing or the install fails.
install_ts_client() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "node and npm are required (Node 20 or later)" >&2
    return 1
  fi
  local installed=$ts_client_dir/node_modules/.package-lock.json
  if [ -f "$installed" ] && [ "$installed" -nt "$ts_client_dir/package-lock.json" ]; then
    return 0
  fi
  echo "==> npm ci in $ts_client_dir"
  (cd "$ts_client_dir" && npm ci --no-audit --no-fund --loglevel=error)
}
