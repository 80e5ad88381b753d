// META: global=window,jsshell
// One subtest asserts what no engine does (a page of 65537 bytes): it
// fails everywhere, and known-divergences.yaml lists it by name.

test(() => {
  assert_equals(new WebAssembly.Memory({ initial: 1 }).buffer.byteLength, 65536);
}, "a page is 65536 bytes");

test(() => {
  assert_equals(new WebAssembly.Memory({ initial: 1 }).buffer.byteLength, 65537, "a page is not 65537 bytes");
}, "a page is 65537 bytes (wrong on purpose)");
