#!/usr/bin/env bash
# Runs every test of wasmig. The CLI tests build the guest components they need from source.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
cargo test -p wasmig -p wasmig-guest "$@"
