;; Well-formed text, invalid module: the function returns an i64 where its
;; type says i32, so validation must reject it.
(module
  (func (export "_start") (result i32)
    i64.const 1))
