#!/usr/bin/env bash
# Fetches real third-party WebAssembly modules from npm (npm pack: pinned
# versions, the registry only) into DIR, one .wasm per line below, named
# PACKAGE--FILE.wasm, for `wasm-matrix audit DIR`. They are not committed:
# the audit of them is in the issue notes and can be rerun with this script.
# Usage: scripts/npm-modules.sh DIR
set -euo pipefail
dir="${1:?usage: scripts/npm-modules.sh DIR}"
mkdir -p "$dir"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
# package@version  path inside the package  (toolchain)
modules=(
  "argon2-browser@1.18.0 dist/argon2.wasm"                          # Emscripten
  "argon2-browser@1.18.0 dist/argon2-simd.wasm"                     # Emscripten, SIMD
  "brotli-wasm@3.0.1 pkg.node/brotli_wasm_bg.wasm"                  # wasm-bindgen
  "esbuild-wasm@0.25.0 esbuild.wasm"                                # Go
  "@ffmpeg/core@0.12.10 dist/umd/ffmpeg-core.wasm"                  # Emscripten
  "@ffmpeg/core-mt@0.12.10 dist/umd/ffmpeg-core.wasm"               # Emscripten, threads (shared memory)
  "@jsquash/png@3.0.1 codec/pkg/squoosh_png_bg.wasm"                # wasm-bindgen
  "sql.js@1.12.0 dist/sql-wasm.wasm"                                # Emscripten
  "@swc/wasm@1.10.0 wasm_bg.wasm"                                   # wasm-bindgen (Rust)
  "tree-sitter-javascript@0.25.0 tree-sitter-javascript.wasm"       # Emscripten SIDE_MODULE
  "web-tree-sitter@0.25.3 tree-sitter.wasm"                         # Emscripten MAIN_MODULE
  "wasm-vips@0.0.13 lib/vips.wasm"                                  # Emscripten, threads
  "@chainsafe/as-sha256@1.2.5 build/optimized.wasm"                 # AssemblyScript
  "@oxc-parser/binding-wasm32-wasi@0.156.0 parser.wasm32-wasi.wasm" # napi-rs (wasm32-wasip1-threads)
)
for m in "${modules[@]}"; do
  set -- $m
  pkg="$1"; path="$2"
  name="${pkg%@*}"; version="${pkg##*@}"
  key="$(echo "${name#@}" | tr '/' '-')-$version"
  if [ ! -d "$tmp/$key" ]; then
    mkdir -p "$tmp/$key"
    (cd "$tmp/$key" && npm pack --silent "$pkg" >/dev/null && tar xzf ./*.tgz)
  fi
  cp "$tmp/$key/package/$path" "$dir/$key--$(basename "$path")"
done
echo "npm-modules.sh: ${#modules[@]} modules in $dir"
