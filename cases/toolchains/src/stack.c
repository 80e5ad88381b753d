// A recursion whose frames live in linear memory (the shadow stack: an
// address-taken local), next to a data canary.
#include <stdint.h>
static volatile uint32_t canary[64] = { [0 ... 63] = 0x5a5a5a5a };
__attribute__((noinline)) static uint32_t down(uint32_t n) {
  volatile uint8_t frame[240];
  frame[0] = (uint8_t)n;
  frame[239] = 0xee;
  if (n == 0) return frame[0];
  return down(n - 1) + frame[239];
}
__attribute__((export_name("recurse"))) uint32_t recurse(uint32_t n) { return down(n); }
__attribute__((export_name("canary_intact"))) uint32_t canary_intact(void) {
  for (int i = 0; i < 64; i++) if (canary[i] != 0x5a5a5a5a) return 0;
  return 1;
}
