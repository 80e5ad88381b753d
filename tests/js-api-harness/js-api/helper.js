// An include, as the JS API's own tests have them (`// META: script=/wasm/jsapi/...`).
function pages(memory) {
  return memory.buffer.byteLength / 65536;
}
