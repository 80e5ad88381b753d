;; Malformed *text* (assert_malformed with module quote): it goes to the
;; engines whose API takes the text format (wasmtime, wasmer and wasmi all
;; compile WAT); the JS API compiles binaries only.

(assert_malformed (module quote "(memory $m 1) (memory $m 1)") "duplicate memory")
(assert_malformed (module quote "(func (i32.load64 (i32.const 0)))") "unknown operator")
(assert_malformed (module quote "(memory 1) (data (i32.const 0) \"\\g\")") "unknown escape")
