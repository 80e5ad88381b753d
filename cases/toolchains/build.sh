#!/usr/bin/env bash
# Rebuilds the toolchain corpus: real modules built by real toolchains with
# the memory flags users set. Debian's clang 14 and wasm-ld 14 (against
# wasi-libc, or freestanding), wasm-ld 19 (Debian's lld-19) for the flag
# wasm-ld 14 lacks (--no-growable-memory), and AssemblyScript from npm.
# The .wasm files are committed, so the tests need no compiler;
# tests/toolchains.rs rebuilds them with this script when the toolchains
# are here and compares the bytes.
# Emscripten 3.1.6 (Debian's, with the JS glue it writes: MODULARIZE, for
# web, worker and node), Rust (Debian's rustc 1.63 and its wasm32 std) and
# Go 1.19 (GOOS=js GOARCH=wasm, with Go's own wasm_exec.js) too.
# Usage: build.sh [OUTDIR] (default: this folder). Installs what it needs
# (apt-get, npm) when it is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here}"
src="$here/src"
ld19=/usr/lib/llvm-19/bin/wasm-ld
asc_version=0.28.20
asc_home="${XDG_CACHE_HOME:-$HOME/.cache}/wasm-matrix/assemblyscript-$asc_version"
if ! command -v clang >/dev/null || [ ! -f /usr/lib/wasm32-wasi/libc.a ] || [ ! -x "$ld19" ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends clang lld lld-19 wasi-libc libclang-rt-dev-wasm32 >/dev/null
fi
if ! command -v emcc >/dev/null || [ ! -x /usr/bin/rustc ] || [ ! -d /usr/lib/rustlib/wasm32-unknown-unknown ] || ! command -v go >/dev/null; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends emscripten rustc libstd-rust-dev-wasm32 golang-go >/dev/null
fi
if [ ! -x "$asc_home/node_modules/.bin/asc" ]; then
  npm install --silent --no-audit --no-fund --prefix "$asc_home" "assemblyscript@$asc_version" >/dev/null
fi

# clang 14 runs Binaryen's wasm-opt on what it links when it finds one on
# PATH (the emscripten package brings binaryen): its own folder only, so
# that the bytes do not depend on what else is installed.
tcbin="$(mktemp -d)"; ln -s "$(command -v wasm-ld-14)" "$tcbin/wasm-ld-14"
clang() { PATH="$tcbin:/usr/lib/llvm-14/bin" command clang "$@"; }
# wasi-libc programs (a reactor: no main, exports called by the host).
wasi() { clang --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor "$@"; }
# Freestanding (no libc), every exported symbol named in the source.
bare() { clang --target=wasm32 -nostdlib -O2 -Wl,--no-entry "$@"; }

# 2 pages to start, 128 MiB at most (bytes, as the flags take them).
wasi -Wl,--initial-memory=131072,--max-memory=134217728 -o "$out/wasm-ld-max-memory.wasm" "$src/malloc.c" "$src/sbrk.c"
# 2 pages to start and no maximum (wasm-ld writes none unless asked).
wasi -Wl,--initial-memory=131072 -o "$out/wasm-ld-no-max.wasm" "$src/malloc.c" "$src/sbrk.c"
# The memory imported from the environment (env.memory), declared 2..3 pages.
wasi -Wl,--import-memory,--initial-memory=131072,--max-memory=196608 -o "$out/wasm-ld-import-memory.wasm" "$src/malloc.c"
# A shared memory of 2..4 pages, and one for which no maximum was given.
bare -matomics -mbulk-memory -mmutable-globals -Wl,--shared-memory,--initial-memory=131072,--max-memory=262144 -o "$out/wasm-ld-shared-memory.wasm" "$src/memory.c"
bare -matomics -mbulk-memory -mmutable-globals -Wl,--shared-memory,--initial-memory=131072 -o "$out/wasm-ld-shared-no-max.wasm" "$src/memory.c"
# An 8 KiB stack after the data (the default layout) and before it.
bare -O1 -Wl,-z,stack-size=8192 -o "$out/wasm-ld-stack-after-data.wasm" "$src/stack.c"
bare -O1 -Wl,-z,stack-size=8192,--stack-first -o "$out/wasm-ld-stack-first.wasm" "$src/stack.c"
# An allocator left undefined: an import only because of --allow-undefined.
bare -Wl,--allow-undefined -o "$out/wasm-ld-allow-undefined.wasm" "$src/undefined.c"
# 64 KiB of .bss in a defined memory and in an imported one.
bare -o "$out/wasm-ld-bss.wasm" "$src/bss.c"
bare -Wl,--import-memory -o "$out/wasm-ld-bss-import-memory.wasm" "$src/bss.c"
# memory64: --target=wasm64, 2 pages to start, 4 at most.
clang --target=wasm64 -nostdlib -O2 -Wl,--no-entry,--initial-memory=131072,--max-memory=262144 -o "$out/clang-wasm64.wasm" "$src/mem64.c"
# wasm-ld 19: --no-growable-memory (maximum = initial); wasm-ld 14 has no such flag.
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp" "$tcbin"' EXIT
clang --target=wasm32 -O2 -c -o "$tmp/memory.o" "$src/memory.c"
"$ld19" --no-entry --initial-memory=131072 --no-growable-memory -o "$out/wasm-ld-19-no-growable-memory.wasm" "$tmp/memory.o"
# AssemblyScript: --initialMemory / --maximumMemory are in pages.
asc() { "$asc_home/node_modules/.bin/asc" "$src/heap.ts" -O --initialMemory 2 --maximumMemory 64 "$@"; }
asc -o "$out/as-max-memory.wasm"
asc --importMemory -o "$out/as-import-memory.wasm"
asc --sharedMemory --enable threads -o "$out/as-shared-memory.wasm"

# Emscripten 3.1.6: each build is a .wasm and its glue (.js, a MODULARIZE
# factory named by EXPORT_NAME), from src/emheap.c. Debian's package has a
# prebuilt, frozen cache of the system libraries (EM_CACHE is its own); its
# emcc needs NODE_PATH to find Debian's acorn. Sizes in bytes, as the
# settings take them: 67108864 = 64 MiB (1024 pages), 134217728 = 128 MiB.
export NODE_PATH=/usr/share/nodejs
em() { # NAME SETTINGS...
  local name="$1"; shift
  (cd "$out" && emcc -O2 "$src/emheap.c" -o "$name.js" -s MODULARIZE=1 -s ENVIRONMENT=web,worker,node \
    -s EXPORT_NAME="create_${name//-/_}" "$@")
}
# The guide's table: 64 MiB to start, growth allowed up to 128 MiB (dlmalloc).
em em-max-memory -s INITIAL_MEMORY=67108864 -s MAXIMUM_MEMORY=134217728 -s ALLOW_MEMORY_GROWTH=1
# No growth: the memory is INITIAL_MEMORY for good; ABORTING_MALLOC is 1 by default then.
em em-no-growth -s INITIAL_MEMORY=67108864 -s ALLOW_MEMORY_GROWTH=0
em em-no-growth-nonaborting -s INITIAL_MEMORY=67108864 -s ALLOW_MEMORY_GROWTH=0 -s ABORTING_MALLOC=0
# Growth with ABORTING_MALLOC=1 set again (growth turns it off by default).
em em-growth-aborting -s INITIAL_MEMORY=67108864 -s MAXIMUM_MEMORY=134217728 -s ALLOW_MEMORY_GROWTH=1 -s ABORTING_MALLOC=1
# emmalloc instead of dlmalloc.
em em-emmalloc -s INITIAL_MEMORY=67108864 -s MAXIMUM_MEMORY=134217728 -s ALLOW_MEMORY_GROWTH=1 -s MALLOC=emmalloc
# The memory made by the glue (new WebAssembly.Memory) and imported as env.memory.
em em-imported-memory -s INITIAL_MEMORY=67108864 -s MAXIMUM_MEMORY=134217728 -s ALLOW_MEMORY_GROWTH=1 -s IMPORTED_MEMORY=1
# A 64 KiB stack (TOTAL_STACK, 3.1.6's name for the stack size) in 16 MiB.
em em-stack -s INITIAL_MEMORY=16777216 -s TOTAL_STACK=65536
# Threads: -pthread with a pool of two workers (3.1.6 has no SHARED_MEMORY
# setting: -pthread makes the memory shared, and imported). Its glue needs
# its worker script (em-pthread.worker.js) beside it.
em em-pthread -pthread -s PTHREAD_POOL_SIZE=2 -s INITIAL_MEMORY=67108864 -s MAXIMUM_MEMORY=134217728 -s ALLOW_MEMORY_GROWTH=1 2>/dev/null
# MEMORY64=1 is not built: 3.1.6's frozen cache has no wasm64 libraries, and
# with a cache of its own (EM_FROZEN_CACHE=, 4 minutes of library builds)
# emcc fails at the end running Debian's Node with --experimental-wasm-bigint
# ("bad option"); see README.md (toolchains).

# Rust (Debian's rustc 1.63, wasm32 std from libstd-rust-dev-wasm32):
# wasm32-unknown-unknown with what wasm-pack passes to wasm-ld
# (--max-memory), with --import-memory, and wasm32-wasi.
rust() { /usr/bin/rustc -O -C strip=symbols --crate-type cdylib "$src/rust_alloc.rs" "$@"; }
rust --target wasm32-unknown-unknown -C link-arg=--max-memory=134217728 -o "$out/rust-max-memory.wasm"
rust --target wasm32-unknown-unknown -C link-arg=--import-memory -C link-arg=--max-memory=134217728 -o "$out/rust-import-memory.wasm"
rust --target wasm32-wasi -o "$out/rust-wasi.wasm"

# Go 1.19, GOOS=js GOARCH=wasm, and the wasm_exec.js of the same Go.
gosrc="$(mktemp -d)"; trap 'rm -rf "$tmp" "$tcbin" "$gosrc"' EXIT
cp "$src/go_alloc.go" "$gosrc/main.go"
(cd "$gosrc" && GO111MODULE=off GOOS=js GOARCH=wasm GOCACHE="$gosrc/cache" go build -trimpath -buildvcs=false -ldflags=-buildid= -o "$out/go-js.wasm" main.go)
cp "$(go env GOROOT)/misc/wasm/wasm_exec.js" "$out/go-wasm_exec.js"

echo "build.sh: $(clang --version | head -1), $("$ld19" --version), AssemblyScript $asc_version, $(emcc --version 2>/dev/null | head -1), $(/usr/bin/rustc --version), $(go version); wrote $(cd "$out" && ls *.wasm | wc -l) modules to $out"
