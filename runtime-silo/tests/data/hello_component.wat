;; A `strat9:silo/app` component written by hand (no wasm toolchain needed):
;; prints a greeting through `console`, checks that `clocks` and `random`
;; answer sensibly, and returns `ok`, or `err` with a message if they do not.
(component
  (import "strat9:silo/console@0.1.0" (instance $console
    (type $output-stream (enum "stdout" "stderr"))
    (export "output-stream" (type $os (eq $output-stream)))
    (export "write" (func (param "to" $os) (param "bytes" (list u8))))
  ))
  (import "strat9:silo/clocks@0.1.0" (instance $clocks
    (type $datetime (record (field "seconds" u64) (field "nanoseconds" u32)))
    (export "datetime" (type $dt (eq $datetime)))
    (export "monotonic-now" (func (result u64)))
    (export "wall-now" (func (result $dt)))
  ))
  (import "strat9:silo/random@0.1.0" (instance $random
    (export "get-random-bytes" (func (param "len" u64) (result (list u8))))
  ))

  ;; Memory and allocator live in their own module so that the imports can
  ;; be lowered with them before the main module is instantiated.
  (core module $Libc
    (memory (export "memory") 1)
    (global $next (mut i32) (i32.const 4096))
    ;; A bump allocator: enough for a short-lived app.
    (func (export "realloc")
      (param $old i32) (param $old_size i32) (param $align i32) (param $new_size i32)
      (result i32)
      (local $p i32)
      (local.set $p
        (i32.and
          (i32.add (global.get $next) (i32.sub (local.get $align) (i32.const 1)))
          (i32.sub (i32.const 0) (local.get $align))))
      (global.set $next (i32.add (local.get $p) (local.get $new_size)))
      (local.get $p))
  )
  (core instance $libc (instantiate $Libc))

  (core func $write (canon lower (func $console "write") (memory (core memory $libc "memory"))))
  (core func $monotonic-now (canon lower (func $clocks "monotonic-now")))
  (core func $wall-now (canon lower (func $clocks "wall-now") (memory (core memory $libc "memory"))))
  (core func $get-random-bytes
    (canon lower (func $random "get-random-bytes")
      (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))

  (core module $Main
    (import "host" "write" (func $write (param i32 i32 i32)))
    (import "host" "monotonic-now" (func $monotonic-now (result i64)))
    (import "host" "wall-now" (func $wall-now (param i32)))
    (import "host" "get-random-bytes" (func $get-random-bytes (param i64 i32)))
    (import "libc" "memory" (memory 1))
    (data (i32.const 16) "hello from a component\n")
    (data (i32.const 64) "clock or random check failed")
    ;; Returns a pointer to `result<_, string>`: discriminant at +0, string
    ;; pointer and length at +4 and +8.
    (func (export "run") (result i32)
      (local $t0 i64)
      (local.set $t0 (call $monotonic-now))
      (call $write (i32.const 0) (i32.const 16) (i32.const 23))
      ;; datetime at 256: seconds (u64) at +0, nanoseconds (u32) at +8.
      (call $wall-now (i32.const 256))
      ;; list<u8> at 288: pointer at +0, length at +4.
      (call $get-random-bytes (i64.const 16) (i32.const 288))
      (if (i32.or
            (i32.or
              (i64.lt_u (call $monotonic-now) (local.get $t0))
              (i64.lt_u (i64.load (i32.const 256)) (i64.const 1600000000)))
            (i32.ne (i32.load (i32.const 292)) (i32.const 16)))
        (then
          (i32.store (i32.const 512) (i32.const 1))
          (i32.store (i32.const 516) (i32.const 64))
          (i32.store (i32.const 520) (i32.const 28))
          (return (i32.const 512))))
      (i32.store (i32.const 512) (i32.const 0))
      (i32.const 512))
  )
  (core instance $main (instantiate $Main
    (with "host" (instance
      (export "write" (func $write))
      (export "monotonic-now" (func $monotonic-now))
      (export "wall-now" (func $wall-now))
      (export "get-random-bytes" (func $get-random-bytes))))
    (with "libc" (instance $libc))))

  (func $run (result (result (error string)))
    (canon lift (core func $main "run") (memory (core memory $libc "memory"))))
  (export "run" (func $run))
)
