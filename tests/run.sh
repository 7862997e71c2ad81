#!/usr/bin/env bash
# Runs every test of wasmig: unit tests, then the CLI suite once per database backend.
# The CLI suite builds the guest components it needs from source.
#
# PostgreSQL and MySQL/MariaDB are reached through WASMIG_TEST_POSTGRES_URL and
# WASMIG_TEST_MYSQL_URL (defaults below); each test creates and drops a database of its
# own there. An unreachable server skips that backend with a message, except under CI=true,
# where it fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

export WASMIG_TEST_POSTGRES_URL="${WASMIG_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
export WASMIG_TEST_MYSQL_URL="${WASMIG_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}"

rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

# The SDK on its own: testing it together with the host would unify features of their
# shared dependencies differently from the host-only runs below and rebuild wasmtime.
echo "== the guest SDK"
cargo test -p wasmig-guest "$@"

echo "== the benchmark's own unit tests"
cargo test -p wasmig-bench "$@"

echo "== host unit tests and the CLI suite on SQLite"
WASMIG_TEST_BACKEND=sqlite cargo test -p wasmig "$@"

# host:port of a database URL.
address() {
  local rest="${1#*://}"
  rest="${rest#*@}"
  rest="${rest%%/*}"
  echo "$rest"
}

reachable() {
  local host="${1%:*}" port="${1##*:}"
  timeout 3 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null
}

for backend in postgres mysql; do
  if [ "$backend" = postgres ]; then url="$WASMIG_TEST_POSTGRES_URL"; else url="$WASMIG_TEST_MYSQL_URL"; fi
  addr="$(address "$url")"
  if ! reachable "$addr"; then
    if [ "${CI:-}" = "true" ]; then
      echo "error: the $backend test server at $addr is unreachable, and CI=true requires it" >&2
      exit 1
    fi
    echo "== skipping the CLI suite on $backend: no server at $addr (set WASMIG_TEST_${backend^^}_URL)"
    continue
  fi
  echo "== the CLI suite on $backend ($addr)"
  WASMIG_TEST_BACKEND="$backend" cargo test -p wasmig --test cli "$@"
done
