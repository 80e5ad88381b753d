// META: global=window,dedicatedworker,jsshell
// META: script=/wasm/jsapi/helper.js
// The JS API's Memory as its spec says (WebAssembly/spec document/js-api):
// every subtest here passes on a conforming engine.

test(() => {
  const m = new WebAssembly.Memory({ initial: 2, maximum: 4 });
  assert_equals(pages(m), 2);
}, "a memory has its initial pages");

test(() => {
  const m = new WebAssembly.Memory({ initial: 1, maximum: 4 });
  const before = m.buffer;
  assert_equals(m.grow(1), 1, "grow returns the old size");
  assert_equals(before.byteLength, 0, "the old buffer is detached");
  assert_equals(pages(m), 2);
}, "grow returns the previous size and detaches the buffer");

test(() => {
  const m = new WebAssembly.Memory({ initial: 2, maximum: 3 });
  assert_throws_js(RangeError, () => m.grow(2));
  assert_equals(pages(m), 2);
}, "grow past the maximum throws a RangeError");

test(() => {
  assert_throws_js(RangeError, () => new WebAssembly.Memory({ initial: 2, maximum: 1 }));
}, "initial above maximum throws a RangeError");
