;; Null references of the GC proposal's types across the host boundary: an
;; anyref, a typed function reference and a typed struct reference. Results
;; are typed by the export's signature (`(ref null $t)` is a funcref when $t
;; is a function type).

(module
  (type $f (func))
  (type $s (struct (field i32)))
  (func (export "null-any") (result anyref) (ref.null any))
  (func (export "null-eq") (result eqref) (ref.null eq))
  (func (export "null-typed-func") (result (ref null $f)) (ref.null $f))
  (func (export "null-typed-struct") (result (ref null $s)) (ref.null $s))
  (func (export "is-null") (param anyref) (result i32) (ref.is_null (local.get 0)))
)
(assert_return (invoke "null-any") (ref.null any))
(assert_return (invoke "null-eq") (ref.null eq))
(assert_return (invoke "null-typed-func") (ref.null))
(assert_return (invoke "null-typed-struct") (ref.null))
(assert_return (invoke "is-null" (ref.null any)) (i32.const 1))
