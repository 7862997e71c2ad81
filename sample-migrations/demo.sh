#!/usr/bin/env bash
# The wasmig tour on the sample project: build the host, install the pinned Python and
# JavaScript componentizers if they are missing, build the sample migrations (Rust, Python
# and JavaScript) with `wasmig build`, then apply, check, preview and reverse them on the
# embedded SQLite default.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"

rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
echo "==> building wasmig" >&2
cargo build --quiet --manifest-path "$root/Cargo.toml" -p wasmig
echo "==> the componentizers for Python and JavaScript" >&2
componentizers="$(bash "$root/tests/install-componentizers.sh")"
eval "$componentizers"

target_dir="${CARGO_TARGET_DIR:-$root/target}"
wasmig() { (cd "$here" && "$target_dir/debug/wasmig" "$@"); }
step() { printf '\n==> wasmig %s\n' "$*" >&2; }

step build;                       wasmig build
rm -f "$here/wasmig.db"
step check;                       wasmig check
step verify;                      wasmig verify
step forwards all;                wasmig forwards all
step check --format json;         wasmig check --format json
step backwards comments all --preview; wasmig backwards comments all --preview
step backwards blog all --preview; wasmig backwards blog all --preview
step backwards comments -y;       wasmig backwards comments -y
step check comments;              wasmig check comments
step backwards all -y;            wasmig backwards all -y
step check --fail-on-pending;     wasmig check --fail-on-pending || echo "(exit status $?: migrations are pending)" >&2
