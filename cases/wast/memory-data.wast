;; Data segments: placement, the exact end, out of bounds at instantiation,
;; and a segment written into an imported memory before a later one traps.
(module
  (memory (export "mem") 1)
  (data (i32.const 65533) "\aa\bb\cc")
  (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
)
(assert_return (invoke "load8" (i32.const 65533)) (i32.const 0xaa))
(assert_return (invoke "load8" (i32.const 65535)) (i32.const 0xcc))
(register "D")
(assert_trap (module (memory 1) (data (i32.const 65534) "\01\02\03")) "out of bounds memory access")
(assert_trap
  (module
    (import "D" "mem" (memory 1))
    (data (i32.const 0) "\11")
    (data (i32.const 65536) "\22")
  )
  "out of bounds memory access"
)
;; The first segment was written before the second one trapped.
(assert_return (invoke "load8" (i32.const 0)) (i32.const 0x11))
