(module (memory i64 18446744073709551615))
(assert_return (invoke "f"))
