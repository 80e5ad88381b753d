#!/usr/bin/env bash
# Rebuilds the toolchain corpus: real modules built by Debian's clang 14 and
# wasm-ld 14 against wasi-libc, with the memory flags users set. The .wasm
# files are committed, so the tests need no compiler; tests/toolchains.rs
# rebuilds them with this script when clang is here and compares the bytes.
# Usage: build.sh [OUTDIR] (default: this folder). Installs what it needs
# with apt-get when it is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here}"
if ! command -v clang >/dev/null || [ ! -f /usr/lib/wasm32-wasi/libc.a ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends clang lld wasi-libc libclang-rt-dev-wasm32 >/dev/null
fi
cc() { clang --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor "$@"; }
# 2 pages to start, 128 MiB at most (bytes, as the flags take them).
cc -Wl,--initial-memory=131072,--max-memory=134217728 -o "$out/wasm-ld-max-memory.wasm" "$here/src/malloc.c"
# The memory imported from the environment (env.memory), declared 2..3 pages.
cc -Wl,--import-memory,--initial-memory=131072,--max-memory=196608 -o "$out/wasm-ld-import-memory.wasm" "$here/src/malloc.c"
echo "build.sh: $(clang --version | head -1); wrote $out/wasm-ld-max-memory.wasm, $out/wasm-ld-import-memory.wasm"
