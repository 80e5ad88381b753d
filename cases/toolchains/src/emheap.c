// For the Emscripten builds (build.sh): what an app's allocator does at the
// memory's limit. malloc blocks of N MiB until malloc returns NULL (C's
// malloc returns a null pointer when it cannot allocate; Emscripten's
// ABORTING_MALLOC makes it abort instead); one allocation of N MiB; the
// memory's size in pages. Each block is written and kept, so that the
// compiler keeps the calls.
#include <stdlib.h>
#include <stdint.h>
#include <emscripten.h>
static uint32_t reached;
static char *volatile last;
EMSCRIPTEN_KEEPALIVE int malloc_until_null(uint32_t mib) {
  for (int i = 0; i < 65536; i++) {
    char *p = malloc((size_t)mib << 20);
    if (!p) return 1;
    p[0] = 1;
    last = p;
    reached += mib;
  }
  return 0;
}
EMSCRIPTEN_KEEPALIVE uint32_t mebibytes(void) { return reached; }
// One block of N MiB: 1 if malloc gave it, 0 if it returned NULL.
EMSCRIPTEN_KEEPALIVE int alloc_mib(uint32_t mib) {
  char *p = malloc((size_t)mib << 20);
  if (!p) return 0;
  p[0] = 1;
  last = p;
  return 1;
}
EMSCRIPTEN_KEEPALIVE uint32_t pages(void) { return __builtin_wasm_memory_size(0); }
// A recursion with a 1 KiB frame, `depth` deep: the stack is TOTAL_STACK of
// the linear memory, below the data.
EMSCRIPTEN_KEEPALIVE int recurse(int depth) {
  volatile char frame[1024];
  frame[0] = (char)depth;
  if (depth <= 0) return frame[0];
  return recurse(depth - 1) + frame[0];
}
