;; v128, NaN payloads and reference values across the host boundary. The JS
;; API cannot carry a v128 and turns floats into JS numbers (a signalling NaN
;; loses its payload); the harness calls through a wasm module that passes
;; their bits as integers, as the spec's JS test harness does.

(module
  (func (export "f32") (param f32) (result f32) (local.get 0))
  (func (export "v") (param v128) (result v128) (local.get 0))
  (func (export "fnan") (result v128) (f32x4.div (v128.const f32x4 0 0 0 0) (v128.const f32x4 0 0 0 0)))
  (func (export "ext") (param externref) (result externref) (local.get 0))
  (func (export "null-func") (result funcref) (ref.null func))
  (func $f)
  (elem declare func $f)
  (func (export "some-func") (result funcref) (ref.func $f))
  (global (export "snan32") f32 (f32.const nan:0x200000))
  (global (export "snan64") (mut f64) (f64.const -nan:0x4000000000000))
)
;; A signalling NaN's payload, exact on every engine (calls and globals,
;; immutable and mutable).
(assert_return (get "snan32") (f32.const nan:0x200000))
(assert_return (get "snan64") (f64.const -nan:0x4000000000000))
(assert_return (invoke "f32" (f32.const nan:0x200000)) (f32.const nan:0x200000))
(assert_return (invoke "v" (v128.const i32x4 1 2 3 4)) (v128.const i32x4 1 2 3 4))
(assert_return (invoke "v" (v128.const i8x16 -1 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14)) (v128.const i8x16 -1 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14))
(assert_return (invoke "fnan") (v128.const f32x4 nan:arithmetic nan:arithmetic nan:arithmetic nan:arithmetic))
(assert_return (invoke "ext" (ref.extern 7)) (ref.extern 7))
(assert_return (invoke "ext" (ref.null extern)) (ref.null extern))
(assert_return (invoke "null-func") (ref.null func))
(assert_return (invoke "some-func") (ref.func))
