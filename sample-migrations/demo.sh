#!/usr/bin/env bash
# The wasmig tour on the sample project: build the host and the sample migrations from
# source, then apply, check, preview and reverse them on the embedded SQLite default.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"

rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
echo "==> building wasmig" >&2
cargo build --quiet --manifest-path "$root/Cargo.toml" -p wasmig
echo "==> building the sample migrations" >&2
bash "$here/build.sh"

target_dir="${CARGO_TARGET_DIR:-$root/target}"
wasmig() { (cd "$here" && "$target_dir/debug/wasmig" "$@"); }
step() { printf '\n==> wasmig %s\n' "$*" >&2; }

rm -f "$here/wasmig.db"
step check;                       wasmig check
step forwards all;                wasmig forwards all
step check --format json;         wasmig check --format json
step backwards blog all --preview; wasmig backwards blog all --preview
step backwards blog -y;           wasmig backwards blog -y
step check blog;                  wasmig check blog
step backwards all -y;            wasmig backwards all -y
step check --fail-on-pending;     wasmig check --fail-on-pending || echo "(exit status $?: migrations are pending)" >&2
