// A freestanding memory64 module (clang --target=wasm64): pointers and
// sizes are 64-bit, memory.size and memory.grow take and return i64.
#include <stdint.h>
__attribute__((export_name("pages"))) uint64_t pages(void) { return __builtin_wasm_memory_size(0); }
__attribute__((export_name("grow"))) int64_t grow(uint64_t delta) { return (int64_t)__builtin_wasm_memory_grow(0, delta); }
__attribute__((export_name("store"))) void store(uint64_t addr, uint32_t v) { *(volatile uint32_t *)(uintptr_t)addr = v; }
__attribute__((export_name("load"))) uint32_t load(uint64_t addr) { return *(volatile uint32_t *)(uintptr_t)addr; }
