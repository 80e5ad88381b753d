// 64 KiB of zero-initialized data (.bss). wasm-ld leaves .bss out of the
// data segments when the module defines its memory (a new memory is all
// zeros); with --import-memory it cannot know the memory is zero and
// writes the zeros as a data segment.
#include <stdint.h>
static volatile uint8_t zeros[64 << 10];
__attribute__((export_name("byte_at"))) uint32_t byte_at(uint32_t i) { return zeros[i]; }
__attribute__((export_name("pages"))) uint32_t pages(void) { return __builtin_wasm_memory_size(0); }
