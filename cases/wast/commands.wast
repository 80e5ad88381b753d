;; Every .wast command kind wasm-matrix runs (see README, ".wast scripts").
;; Written for this project; each assertion holds on a conforming engine.

;; module: text, named, and its exports
(module $A
  (memory (export "mem") 1 2)
  (global (export "g") i32 (i32.const 42))
  (global (export "big") i64 (i64.const -1))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "f32") (param f32) (result f32) (local.get 0))
  (func (export "f64") (param f64) (result f64) (local.get 0))
  (func (export "nan32") (result f32) (f32.div (f32.const 0) (f32.const 0)))
  (func (export "nan64") (result f64) (f64.div (f64.const 0) (f64.const 0)))
  (func (export "pair") (result i32 i64) (i32.const 1) (i64.const 2))
  (func $deep (export "spin") (result i32) (call $deep))
)

;; invoke (a bare action) and assert_return with every number form
(invoke "grow" (i32.const 0))
(assert_return (invoke "grow" (i32.const 1)) (i32.const 1))
(assert_return (invoke $A "grow" (i32.const 0)) (i32.const 2))
(assert_return (invoke "f32" (f32.const -0x1.8p+1)) (f32.const -3))
(assert_return (invoke "f64" (f64.const 1e300)) (f64.const 1e300))
(assert_return (invoke "nan32") (f32.const nan:arithmetic))
(assert_return (invoke "nan64") (f64.const nan:arithmetic))
(assert_return (invoke "f64" (f64.const nan)) (f64.const nan:canonical))
(assert_return (invoke "pair") (i32.const 1) (i64.const 2))
(assert_return (invoke "grow" (i32.const 0)) (either (i32.const 2) (i32.const -1)))

;; get
(assert_return (get "g") (i32.const 42))
(assert_return (get $A "big") (i64.const -1))

;; assert_trap on an action, assert_exhaustion
(assert_trap (invoke "load" (i32.const 131072)) "out of bounds memory access")
(assert_exhaustion (invoke "spin") "call stack exhausted")

;; register, and imports from a registered instance and from spectest
(register "A" $A)
(module $B
  (import "A" "mem" (memory 1))
  (import "A" "g" (global i32))
  (import "spectest" "global_i32" (global i32))
  (import "spectest" "print_i32" (func $print (param i32)))
  (func (export "size") (result i32) (memory.size))
  (func (export "sum") (result i32) (call $print (i32.const 1)) (i32.add (global.get 0) (global.get 1)))
)
(assert_return (invoke "size") (i32.const 2))
(assert_return (invoke "sum") (i32.const 708))
(assert_return (invoke $A "grow" (i32.const 0)) (i32.const 2))
(module $C (import "spectest" "memory" (memory 1 2)) (func (export "size") (result i32) (memory.size)))
(assert_return (invoke $C "size") (i32.const 1))

;; module binary (a memory of 1 page exporting "m")
(module binary
  "\00asm" "\01\00\00\00"
  "\05\03\01\00\01"          ;; memory section: one memory, min 1
  "\07\05\01\01m\02\00"      ;; export "m" memory 0
)

;; module quote (well-formed text)
(module quote "(memory 1) (func (export \"one\") (result i32) (i32.const 1))")
(assert_return (invoke "one") (i32.const 1))

;; module definition and module instance
(module definition $D (memory 1) (func (export "size") (result i32) (memory.size)))
(module instance $D1 $D)
(module instance $D2 $D)
(assert_return (invoke $D1 "size") (i32.const 1))
(assert_return (invoke $D2 "size") (i32.const 1))

;; assert_trap on a module (a data segment past the end traps while instantiating)
(assert_trap (module (memory 1) (data (i32.const 65536) "x")) "out of bounds memory access")

;; assert_invalid, assert_malformed (binary), assert_unlinkable
(assert_invalid (module (memory 2 1)) "size minimum must not be greater than maximum")
(assert_invalid (module (func (result i32) (memory.size))) "unknown memory")
(assert_malformed (module binary "\00asm" "\01\00\00") "unexpected end")
(assert_malformed (module binary "\00asm" "\02\00\00\00") "unknown binary version")
(assert_unlinkable (module (import "A" "nope" (memory 1))) "unknown import")
(assert_unlinkable (module (import "A" "mem" (memory 3))) "incompatible import type")
