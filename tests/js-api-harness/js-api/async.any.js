// META: global=window,dedicatedworker,jsshell
// promise_test: a module that exports a memory, compiled and instantiated
// asynchronously.

// (module (memory (export "mem") 1 2))
const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 4, 1, 1, 1, 2, 7, 7, 1, 3, 109, 101, 109, 2, 0]);

promise_test(async () => {
  const { instance } = await WebAssembly.instantiate(bytes);
  assert_true(instance.exports.mem instanceof WebAssembly.Memory);
  assert_equals(instance.exports.mem.buffer.byteLength, 65536);
  assert_equals(instance.exports.mem.grow(1), 1);
  assert_throws_js(RangeError, () => instance.exports.mem.grow(1));
}, "an instantiated module's exported memory grows to its maximum");
