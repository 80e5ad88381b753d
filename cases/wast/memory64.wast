;; 64-bit memories: i64 addresses, sizes and grow results, traps past 4 GiB.
(module
  (memory i64 1 70000)
  (func (export "size") (result i64) (memory.size))
  (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0)))
  (func (export "load") (param i64) (result i32) (i32.load (local.get 0)))
)
(assert_return (invoke "size") (i64.const 1))
(assert_return (invoke "grow" (i64.const 1)) (i64.const 1))
(assert_return (invoke "load" (i64.const 131068)) (i32.const 0))
(assert_trap (invoke "load" (i64.const 131069)) "out of bounds memory access")
(assert_trap (invoke "load" (i64.const 0x1_0000_0000)) "out of bounds memory access")
(assert_return (invoke "grow" (i64.const 70000)) (i64.const -1))
(assert_invalid (module (memory i64 2 1)) "size minimum must not be greater than maximum")
