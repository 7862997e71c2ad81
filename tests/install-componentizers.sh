#!/usr/bin/env bash
# Installs the pinned componentizers `wasmig build` uses for Python and JavaScript
# migrations, unless they are already there (then it takes well under a second):
#   componentize-py 0.25.1   with pip, where pip installs commands (on PATH)
#   componentize-js 0.23.0   with npm, into target/tools/componentize-js (outside git)
# Prints the line to export so that wasmig finds componentize-js.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
py_version=0.25.1
js_version=0.23.0

if ! componentize-py --version 2>/dev/null | grep -qF "$py_version"; then
    echo "installing componentize-py $py_version" >&2
    python3 -m pip install --quiet --disable-pip-version-check "componentize-py==$py_version" >&2
fi

js_dir="${CARGO_TARGET_DIR:-$root/target}/tools/componentize-js"
js_manifest="$js_dir/node_modules/@bytecodealliance/componentize-js/package.json"
if ! grep -qF "\"version\": \"$js_version\"" "$js_manifest" 2>/dev/null; then
    echo "installing componentize-js $js_version into $js_dir" >&2
    mkdir -p "$js_dir"
    (cd "$js_dir" && npm install --silent --no-audit --no-fund --no-save \
        "@bytecodealliance/componentize-js@$js_version" >&2)
fi
echo "export WASMIG_COMPONENTIZE_JS=$js_dir/node_modules/.bin/componentize-js"
