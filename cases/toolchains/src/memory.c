// A freestanding module (no libc): its memory's size, a grow from inside
// the module, and an atomic counter (for the --shared-memory builds, which
// need -matomics -mbulk-memory: Debian's wasi-libc is not built with
// atomics, so these link without it).
#include <stdint.h>
static uint32_t counter;
__attribute__((export_name("bump"))) uint32_t bump(void) { return __atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST); }
__attribute__((export_name("pages"))) uint32_t pages(void) { return __builtin_wasm_memory_size(0); }
__attribute__((export_name("grow"))) int32_t grow(uint32_t delta) { return (int32_t)__builtin_wasm_memory_grow(0, delta); }
