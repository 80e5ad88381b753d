// META: global=jsshell
// A subtest that never settles: testharness.js times it out, the file's
// other subtest still passes. Shells only (global=jsshell).

test(() => {
  assert_true(true);
}, "a quick subtest");

promise_test(() => new Promise(() => {}), "a subtest that never settles");
