;; Commands the tool cannot express: each becomes an `unsupported` step with
;; the reason (counted in the summary), and the script still runs.

(module (tag $e (param i32)) (func (export "throw") (throw $e (i32.const 1))))
(assert_exception (invoke "throw"))

(thread $T (shared (module $M)) (module (memory 1)))
(wait $T)

(module (memory 1) (func (export "ok") (result i32) (i32.const 1)))
(assert_return (invoke "ok") (i32.const 1))

(assert_suspension (invoke "ok") "unhandled")
