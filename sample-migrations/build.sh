#!/usr/bin/env bash
# Builds the migrations of a wasmig project into the component files wasmig runs.
#
#   build.sh [PROJECT_DIR]      (default: the folder of this script)
#
# Every crate at PROJECT_DIR/migrations/<app>/<ID>_<slug>/Cargo.toml is built for
# wasm32-wasip2 in one cargo invocation, and its component is copied to
# PROJECT_DIR/migrations/<app>/<ID>_<slug>.wasm, where wasmig looks for it. The crates
# must belong to one cargo workspace (here, the wasmig workspace).
set -euo pipefail

target=wasm32-wasip2
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project_dir="$(cd "${1:-$script_dir}" && pwd)"

shopt -s nullglob
manifests=("$project_dir"/migrations/*/*/Cargo.toml)
if ((${#manifests[@]} == 0)); then
    echo "build.sh: no migration crates in $project_dir/migrations/<app>/<ID>_<slug>/" >&2
    exit 1
fi

rustup target list --installed | grep -qx "$target" || rustup target add "$target"

packages=()
libs=()
for manifest in "${manifests[@]}"; do
    crate_dir="$(dirname "$manifest")"
    stem="$(basename "$crate_dir")"
    # wasmig refuses component files not named <ID>_<slug>.wasm; fail here instead.
    if ! [[ $stem =~ ^[0-9]{8,}_[^/]+$ ]]; then
        echo "build.sh: $crate_dir: the folder must be named <ID>_<slug> (ID: 8 or more digits)" >&2
        exit 1
    fi
    # The package name is the first `name =` of the manifest, in its [package] table.
    package="$(sed -n 's/^name *= *"\([^"]*\)".*/\1/p' "$manifest" | head -n 1)"
    if [[ -z $package ]]; then
        echo "build.sh: $manifest: no package name" >&2
        exit 1
    fi
    packages+=(-p "$package")
    libs+=("${package//-/_}")
done

# Where cargo puts artefacts: honours CARGO_TARGET_DIR and cargo configuration.
target_dir="$(cargo metadata --manifest-path "${manifests[0]}" --no-deps --format-version 1 |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
if [[ -z $target_dir ]]; then
    echo "build.sh: cannot find the cargo target directory" >&2
    exit 1
fi

cargo build --manifest-path "${manifests[0]}" --release --target "$target" "${packages[@]}"

for i in "${!manifests[@]}"; do
    crate_dir="$(dirname "${manifests[$i]}")"
    component="$crate_dir.wasm"
    cp "$target_dir/$target/release/${libs[$i]}.wasm" "$component"
    echo "wrote ${component#"$project_dir"/}" >&2
done
