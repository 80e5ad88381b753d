// malloc blocks of N MiB until malloc returns NULL: C's malloc returns a null
// pointer when it cannot allocate (wasi-libc's grows the memory with
// memory.grow, which returns -1 at the maximum). Each block is written, so
// that the compiler keeps the calls.
#include <stdlib.h>
#include <stdint.h>
static uint32_t reached;
static char *volatile last;
__attribute__((export_name("malloc_until_null"))) int malloc_until_null(uint32_t mib) {
  for (int i = 0; i < 65536; i++) {
    char *p = malloc((size_t)mib << 20);
    if (!p) return 1;
    p[0] = 1;
    last = p;
    reached += mib;
  }
  return 0;
}
__attribute__((export_name("mebibytes"))) uint32_t mebibytes(void) { return reached; }
