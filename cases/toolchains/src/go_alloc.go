// For the Go build (build.sh: Debian's Go 1.19, GOOS=js GOARCH=wasm, run by
// Go's own wasm_exec.js): functions the glue steps call through
// globalThis. allocMiB(n) allocates and keeps n blocks of 1 MiB (written,
// so that the runtime commits them) and returns how many MiB the Go heap
// has from the system (runtime.MemStats.Sys >> 20).
package main

import (
	"runtime"
	"syscall/js"
)

var kept [][]byte

func allocMiB(this js.Value, args []js.Value) any {
	n := args[0].Int()
	for i := 0; i < n; i++ {
		b := make([]byte, 1<<20)
		b[0] = 1
		kept = append(kept, b)
	}
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	return int(s.Sys >> 20)
}

func main() {
	js.Global().Set("allocMiB", js.FuncOf(allocMiB))
	select {}
}
