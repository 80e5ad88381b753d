// An allocator the host is to provide: left undefined at link time
// (wasm-ld --allow-undefined makes it an import, env.host_alloc). The
// program trusts it, as programs trust malloc when they do not check.
#include <stdint.h>
extern void *host_alloc(uint32_t bytes);
__attribute__((export_name("store_through_host_alloc"))) uint32_t store_through_host_alloc(uint32_t bytes) {
  volatile uint32_t *p = host_alloc(bytes);
  p[0] = 0xc0ffee;
  return (uint32_t)(uintptr_t)p;
}
__attribute__((export_name("load"))) uint32_t load(uint32_t addr) { return *(volatile uint32_t *)(uintptr_t)addr; }
