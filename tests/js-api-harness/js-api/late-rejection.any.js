// META: global=jsshell
// A file whose own test passes, and which then leaves a rejected promise
// nobody handles, after its results are in: that failure is this file's (a
// harness error with the rejection's text, its subtest kept), never the
// death of the shell and the blame of the next file.
test(() => {
  assert_true(true);
}, 'passes before the late rejection');
setTimeout(() => {
  Promise.reject(new Error('late on purpose'));
}, 1);
