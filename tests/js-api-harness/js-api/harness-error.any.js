// META: global=window,jsshell
// A harness error: the file calls a function that does not exist after
// defining one subtest. The file fails with the exception's text.

test(() => {
  assert_true(typeof WebAssembly.Memory === "function");
}, "the subtest before the error");

noSuchHelper();
