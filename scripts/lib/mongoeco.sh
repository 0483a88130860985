# shellcheck shell=bash
# Helpers for scripts/test.sh: mongoeco, a MongoDB wire-protocol emulator from PyPI (not
# mongod; see scripts/mongoeco/server.py), in a venv under the cargo target dir, on a free
# loopback port. It needs Python 3.13 or newer.

# find_python313: sets PYTHON313 to a Python >= 3.13 (on PATH, or installed by pyenv).
find_python313() {
  local candidate
  for candidate in python3.14 python3.13 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[3-9]*/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 13))' 2>/dev/null; then
      PYTHON313=$(command -v "$candidate")
      return 0
    fi
  done
  return 1
}

# install_mongoeco: sets MONGOECO_PYTHON to a venv's python with the pinned mongoeco.
# Returns 1 (with a message) when Python 3.13 or the packages cannot be had.
install_mongoeco() {
  local venv=${CARGO_TARGET_DIR:-target}/mongoeco-venv
  local requirements=scripts/mongoeco/requirements.txt
  MONGOECO_PYTHON=$venv/bin/python
  if [[ -x $MONGOECO_PYTHON ]] && cmp -s "$requirements" "$venv/requirements.txt"; then
    return 0
  fi
  find_python313 || {
    echo "no Python 3.13 or newer (mongoeco needs it)" >&2
    return 1
  }
  echo "==> installing mongoeco into $venv" >&2
  rm -rf "$venv"
  "$PYTHON313" -m venv "$venv" &&
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2 &&
    cp "$requirements" "$venv/requirements.txt"
}

# start_mongoeco DIR: starts the emulator (log in DIR/mongoeco.log); once it accepts
# connections, sets MONGOECO_PID and MONGOECO_URI. Returns 1 when it does not within 30 s.
start_mongoeco() {
  local dir=$1 port
  port=$(free_port)
  "$MONGOECO_PYTHON" scripts/mongoeco/server.py "$port" --replset rs0 >"$dir/mongoeco.log" 2>&1 &
  MONGOECO_PID=$!
  export MONGOECO_URI="mongodb://127.0.0.1:$port/?directConnection=true"
  for _ in $(seq 300); do
    grep -q '^listening ' "$dir/mongoeco.log" 2>/dev/null && return 0
    kill -0 "$MONGOECO_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

stop_mongoeco() {
  if [[ -n ${MONGOECO_PID:-} ]]; then
    kill "$MONGOECO_PID" 2>/dev/null || true
    wait "$MONGOECO_PID" 2>/dev/null || true
    MONGOECO_PID=
  fi
}
