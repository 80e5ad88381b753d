// sbrk as wasi-libc has it (libc-bottom-half/sources/sbrk.c): sbrk(0) is
// the end of memory; a positive increment must be a multiple of the page
// size (otherwise abort()), grows the memory by memory.grow and returns
// the old end, or (void*)-1 with errno ENOMEM when memory.grow fails.
#include <unistd.h>
#include <errno.h>
#include <stdint.h>
__attribute__((export_name("sbrk_bytes"))) int32_t sbrk_bytes(int32_t n) { return (int32_t)(intptr_t)sbrk(n); }
__attribute__((export_name("last_errno"))) int32_t last_errno(void) { return errno; }
