// Allocate 1 MiB ArrayBuffers until the runtime cannot: AssemblyScript's
// allocator grows the memory with memory.grow and aborts when it fails.
let kept: ArrayBuffer[] = [];
export function allocate_mebibytes(n: i32): i32 {
  for (let i = 0; i < n; i++) kept.push(new ArrayBuffer(1 << 20));
  return kept.length;
}
export function pages(): i32 { return memory.size(); }
