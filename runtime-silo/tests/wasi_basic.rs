//! WASI preview1 conformance: arguments, environment, clocks, randomness,
//! process, `poll_oneoff`, stdio, sockets, bad descriptors and pointers.

#[path = "wasi_data/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use harness::{Setup, errno, run, run_module};

fn setup() -> Setup {
    Setup::default()
}

#[test]
fn all_imports_link_and_print() {
    run(
        setup(),
        r#"(func (export "_start") (call $print (str "hello\n")))"#,
    )
    .ok("hello\n");
}

#[test]
fn args_sizes_and_contents() {
    let setup = Setup {
        args: vec!["prog".into(), "a b".into(), "ünï".into()],
        ..setup()
    };
    let out = run(
        setup,
        r#"(func (export "_start")
            (call $ok (call $args_sizes_get (i32.const 256) (i32.const 260)))
            (call $expect (i32.load (i32.const 256)) (i32.const 3))
            (call $expect (i32.load (i32.const 260)) (i32.const 15))
            (call $ok (call $args_get (i32.const 512) (i32.const 1024)))
            (call $expect (i32.load (i32.const 512)) (i32.const 1024))
            (call $expect (i32.load (i32.const 516)) (i32.const 1029))
            (call $expect (i32.load (i32.const 520)) (i32.const 1033))
            (call $print (i32.const 1024) (i32.const 15)))"#,
    );
    out.ok("prog\0a b\0ünï\0");
}

#[test]
fn environ_sizes_and_contents() {
    let setup = Setup {
        env: vec![("A".into(), "1".into()), ("B".into(), "x=y".into())],
        ..setup()
    };
    run(
        setup,
        r#"(func (export "_start")
            (call $ok (call $environ_sizes_get (i32.const 256) (i32.const 260)))
            (call $expect (i32.load (i32.const 256)) (i32.const 2))
            (call $expect (i32.load (i32.const 260)) (i32.const 10))
            (call $ok (call $environ_get (i32.const 512) (i32.const 1024)))
            (call $expect (i32.load (i32.const 516)) (i32.const 1028))
            (call $print (i32.const 1024) (i32.const 10)))"#,
    )
    .ok("A=1\0B=x=y\0");
}

#[test]
fn empty_args_and_env() {
    run(
        setup(),
        r#"(func (export "_start")
            (call $ok (call $args_sizes_get (i32.const 256) (i32.const 260)))
            (call $expect (i32.load (i32.const 256)) (i32.const 0))
            (call $expect (i32.load (i32.const 260)) (i32.const 0))
            (call $ok (call $environ_get (i32.const 512) (i32.const 1024)))
            (call $print (str "ok")))"#,
    )
    .ok("ok");
}

#[test]
fn args_bad_pointers_are_fault() {
    let setup = Setup {
        args: vec!["prog".into()],
        ..setup()
    };
    run(
        setup,
        r#"(func (export "_start")
            (call $expect (call $args_sizes_get (i32.const 131070) (i32.const 256)) (i32.const 21))
            (call $expect (call $args_sizes_get (i32.const 256) (i32.const -1)) (i32.const 21))
            (call $expect (call $args_get (i32.const -4) (i32.const 1024)) (i32.const 21))
            (call $expect (call $args_get (i32.const 512) (i32.const 131070)) (i32.const 21))
            (call $expect (call $environ_sizes_get (i32.const 131072) (i32.const 0)) (i32.const 21))
            (call $print (str "ok")))"#,
    )
    .ok("ok");
}

#[test]
fn context_rejects_unrepresentable_config() {
    use runtime_silo::wasi::{WasiConfig, WasiCtx};
    let config = |args: Vec<String>, env: Vec<(String, String)>| WasiConfig {
        args,
        env,
        preopens: vec![],
        stdin: Box::new(std::io::empty()),
        stdout: Box::new(std::io::sink()),
        stderr: Box::new(std::io::sink()),
        max_file_size: runtime_silo::wasi::DEFAULT_MAX_FILE_SIZE,
    };
    assert!(WasiCtx::new(config(vec!["a\0b".into()], vec![])).is_err());
    assert!(WasiCtx::new(config(vec![], vec![("A=B".into(), "1".into())])).is_err());
    assert!(WasiCtx::new(config(vec![], vec![("".into(), "1".into())])).is_err());
    assert!(WasiCtx::new(config(vec![], vec![("A".into(), "\0".into())])).is_err());
    assert!(WasiCtx::new(config(vec!["ok".into()], vec![("A".into(), "1".into())])).is_ok());
}

#[test]
fn clocks() {
    run(
        setup(),
        r#"(func (export "_start")
            (call $ok (call $clock_res_get (i32.const 0) (i32.const 256)))
            (call $expect (i64.gt_u (i64.load (i32.const 256)) (i64.const 0)) (i32.const 1))
            (call $ok (call $clock_res_get (i32.const 1) (i32.const 256)))
            (call $expect (i64.gt_u (i64.load (i32.const 256)) (i64.const 0)) (i32.const 1))
            ;; CPU-time clocks are optional: notsup. Unknown ids: inval.
            (call $expect (call $clock_res_get (i32.const 2) (i32.const 256)) (i32.const 58))
            (call $expect (call $clock_res_get (i32.const 3) (i32.const 256)) (i32.const 58))
            (call $expect (call $clock_res_get (i32.const 4) (i32.const 256)) (i32.const 28))
            (call $expect (call $clock_time_get (i32.const 2) (i64.const 0) (i32.const 256)) (i32.const 58))
            (call $expect (call $clock_time_get (i32.const -1) (i64.const 0) (i32.const 256)) (i32.const 28))
            ;; Realtime is after 2020-01-01.
            (call $ok (call $clock_time_get (i32.const 0) (i64.const 1) (i32.const 256)))
            (call $expect (i64.gt_u (i64.load (i32.const 256)) (i64.const 1577836800000000000)) (i32.const 1))
            ;; Monotonic never goes back.
            (call $ok (call $clock_time_get (i32.const 1) (i64.const 0) (i32.const 256)))
            (call $ok (call $clock_time_get (i32.const 1) (i64.const 0) (i32.const 264)))
            (call $expect (i64.ge_u (i64.load (i32.const 264)) (i64.load (i32.const 256))) (i32.const 1))
            (call $expect (call $clock_time_get (i32.const 1) (i64.const 0) (i32.const 131068)) (i32.const 21))
            (call $expect (call $clock_res_get (i32.const 0) (i32.const -8)) (i32.const 21))
            (call $print (str "ok")))"#,
    )
    .ok("ok");
}

#[test]
fn random_get_fills_buffers() {
    run(
        setup(),
        r#"(func (export "_start")
            (local $i i32) (local $or i64)
            (call $ok (call $random_get (i32.const 1024) (i32.const 64)))
            (loop $l
              (local.set $or (i64.or (local.get $or) (i64.load (i32.add (i32.const 1024) (local.get $i)))))
              (local.set $i (i32.add (local.get $i) (i32.const 8)))
              (br_if $l (i32.lt_u (local.get $i) (i32.const 64))))
            (call $expect (i64.ne (local.get $or) (i64.const 0)) (i32.const 1))
            (call $ok (call $random_get (i32.const 131072) (i32.const 0)))
            (call $expect (call $random_get (i32.const 131000) (i32.const 100)) (i32.const 21))
            (call $print (str "ok")))"#,
    )
    .ok("ok");
}

#[test]
fn sched_yield_and_proc_raise() {
    run(
        setup(),
        r#"(func (export "_start")
            (call $ok (call $sched_yield))
            (call $expect (call $proc_raise (i32.const 6)) (i32.const 52))
            (call $expect (call $proc_raise (i32.const 0)) (i32.const 52))
            (call $expect (call $proc_raise (i32.const 31)) (i32.const 28))
            (call $expect (call $proc_raise (i32.const 256)) (i32.const 28))
            (call $print (str "ok")))"#,
    )
    .ok("ok");
}

#[test]
fn proc_exit_status_and_output_kept() {
    let out = run(
        setup(),
        r#"(func (export "_start")
            (call $print (str "before\n"))
            (call $proc_exit (i32.const 7))
            (call $print (str "after\n")))"#,
    );
    assert_eq!(out.exit, Ok(7));
    assert_eq!(out.stdout, "before\n");
    let out = run(
        setup(),
        r#"(func (export "_start") (call $proc_exit (i32.const 0)) unreachable)"#,
    );
    assert_eq!(out.exit, Ok(0));
}

/// Helpers writing `subscription` records.
const POLL: &str = r#"
  (func $sub_clock (param $at i32) (param $userdata i64) (param $id i32) (param $timeout i64) (param $flags i32)
    (i64.store (local.get $at) (local.get $userdata))
    (i32.store8 offset=8 (local.get $at) (i32.const 0))
    (i32.store offset=16 (local.get $at) (local.get $id))
    (i64.store offset=24 (local.get $at) (local.get $timeout))
    (i64.store offset=32 (local.get $at) (i64.const 0))
    (i32.store16 offset=40 (local.get $at) (local.get $flags)))
  (func $sub_fd (param $at i32) (param $userdata i64) (param $tag i32) (param $fd i32)
    (i64.store (local.get $at) (local.get $userdata))
    (i32.store8 offset=8 (local.get $at) (local.get $tag))
    (i32.store offset=16 (local.get $at) (local.get $fd)))
  (func $now (result i64)
    (call $ok (call $clock_time_get (i32.const 1) (i64.const 0) (i32.const 248)))
    (i64.load (i32.const 248)))
  ;; Events are written at 2048 (32 bytes each), the count at 256.
  (func $event_userdata (param $i i32) (result i64) (i64.load (i32.add (i32.const 2048) (i32.mul (local.get $i) (i32.const 32)))))
  (func $event_error (param $i i32) (result i32) (i32.load16_u offset=8 (i32.add (i32.const 2048) (i32.mul (local.get $i) (i32.const 32)))))
  (func $event_type (param $i i32) (result i32) (i32.load8_u offset=10 (i32.add (i32.const 2048) (i32.mul (local.get $i) (i32.const 32)))))
  (func $event_nbytes (param $i i32) (result i64) (i64.load offset=16 (i32.add (i32.const 2048) (i32.mul (local.get $i) (i32.const 32)))))
"#;

fn poll(body: &str) -> harness::Outcome {
    run(
        setup(),
        &format!(
            "{POLL}\n(func (export \"_start\") (local $t0 i64) (local $dt i64)\n{body}\n(call $print (str \"ok\")))"
        ),
    )
}

#[test]
fn poll_clock_really_sleeps() {
    poll(
        r#"(local.set $t0 (call $now))
           (call $sub_clock (i32.const 1024) (i64.const 77) (i32.const 1) (i64.const 50000000) (i32.const 0))
           (call $ok (call $poll_oneoff (i32.const 1024) (i32.const 2048) (i32.const 1) (i32.const 256)))
           (local.set $dt (i64.sub (call $now) (local.get $t0)))
           (call $expect (i64.ge_u (local.get $dt) (i64.const 50000000)) (i32.const 1))
           (call $expect (i32.load (i32.const 256)) (i32.const 1))
           (call $expect64 (call $event_userdata (i32.const 0)) (i64.const 77))
           (call $expect (call $event_error (i32.const 0)) (i32.const 0))
           (call $expect (call $event_type (i32.const 0)) (i32.const 0))"#,
    )
    .ok("ok");
}

#[test]
fn poll_reports_only_the_earliest_clock() {
    poll(
        r#"(local.set $t0 (call $now))
           (call $sub_clock (i32.const 1024) (i64.const 1) (i32.const 1) (i64.const 2000000000) (i32.const 0))
           (call $sub_clock (i32.const 1072) (i64.const 2) (i32.const 0) (i64.const 20000000) (i32.const 0))
           (call $ok (call $poll_oneoff (i32.const 1024) (i32.const 2048) (i32.const 2) (i32.const 256)))
           (local.set $dt (i64.sub (call $now) (local.get $t0)))
           (call $expect (i64.ge_u (local.get $dt) (i64.const 20000000)) (i32.const 1))
           (call $expect (i64.lt_u (local.get $dt) (i64.const 1500000000)) (i32.const 1))
           (call $expect (i32.load (i32.const 256)) (i32.const 1))
           (call $expect64 (call $event_userdata (i32.const 0)) (i64.const 2))"#,
    )
    .ok("ok");
}

#[test]
fn poll_absolute_clocks() {
    poll(
        r#";; Monotonic deadline in the past: immediate.
           (call $sub_clock (i32.const 1024) (i64.const 5) (i32.const 1) (i64.const 0) (i32.const 1))
           (call $ok (call $poll_oneoff (i32.const 1024) (i32.const 2048) (i32.const 1) (i32.const 256)))
           (call $expect (i32.load (i32.const 256)) (i32.const 1))
           ;; Realtime deadline 30 ms ahead: waits.
           (call $ok (call $clock_time_get (i32.const 0) (i64.const 0) (i32.const 264)))
           (local.set $t0 (call $now))
           (call $sub_clock (i32.const 1024) (i64.const 6) (i32.const 0)
             (i64.add (i64.load (i32.const 264)) (i64.const 30000000)) (i32.const 1))
           (call $ok (call $poll_oneoff (i32.const 1024) (i32.const 2048) (i32.const 1) (i32.const 256)))
           (call $expect (i64.ge_u (i64.sub (call $now) (local.get $t0)) (i64.const 25000000)) (i32.const 1))
           (call $expect64 (call $event_userdata (i32.const 0)) (i64.const 6))
           ;; Monotonic deadline 30 ms ahead: waits.
           (local.set $t0 (call $now))
           (call $sub_clock (i32.const 1024) (i64.const 7) (i32.const 1)
             (i64.add (local.get $t0) (i64.const 30000000)) (i32.const 1))
           (call $ok (call $poll_oneoff (i32.const 1024) (i32.const 2048) (i32.const 1) (i32.const 256)))
           (call $expect (i64.ge_u (i64.sub (call $now) (local.get $t0)) (i64.const 30000000)) (i32.const 1))"#,
    )
    .ok("ok");
}

#[test]
fn poll_fd_readiness_is_immediate() {
    poll(
        r#"(local.set $t0 (call $now))
           (call $sub_clock (i32.const 1024) (i64.const 1) (i32.const 1) (i64.const 10000000000) (i32.const 0))
           (call $sub_fd (i32.const 1072) (i64.const 2) (i32.const 1) (i32.const 0))
           (call $sub_fd (i32.const 1120) (i64.const 3) (i32.const 2) (i32.const 1))
           (call $sub_fd (i32.const 1168) (i64.const 4) (i32.const 2) (i32.const 99))
           (call $sub_fd (i32.const 1216) (i64.const 5) (i32.const 1) (i32.const 1))
           (call $ok (call $poll_oneoff (i32.const 1024) (i32.const 2048) (i32.const 5) (i32.const 256)))
           (call $expect (i64.lt_u (i64.sub (call $now) (local.get $t0)) (i64.const 1000000000)) (i32.const 1))
           (call $expect (i32.load (i32.const 256)) (i32.const 4))
           ;; In subscription order: stdin read, stdout write, bad fd, stdout read.
           (call $expect64 (call $event_userdata (i32.const 0)) (i64.const 2))
           (call $expect (call $event_type (i32.const 0)) (i32.const 1))
           (call $expect (call $event_error (i32.const 0)) (i32.const 0))
           (call $expect64 (call $event_userdata (i32.const 1)) (i64.const 3))
           (call $expect (call $event_type (i32.const 1)) (i32.const 2))
           (call $expect (call $event_error (i32.const 1)) (i32.const 0))
           (call $expect64 (call $event_userdata (i32.const 2)) (i64.const 4))
           (call $expect (call $event_error (i32.const 2)) (i32.const 8))
           (call $expect64 (call $event_userdata (i32.const 3)) (i64.const 5))
           (call $expect (call $event_error (i32.const 3)) (i32.const 8))"#,
    )
    .ok("ok");
}

#[test]
fn poll_errors() {
    poll(
        r#";; No subscriptions: inval.
           (call $expect (call $poll_oneoff (i32.const 1024) (i32.const 2048) (i32.const 0) (i32.const 256)) (i32.const 28))
           ;; Unknown event type: inval.
           (call $sub_fd (i32.const 1024) (i64.const 1) (i32.const 3) (i32.const 0))
           (call $expect (call $poll_oneoff (i32.const 1024) (i32.const 2048) (i32.const 1) (i32.const 256)) (i32.const 28))
           ;; Bad clocks and flags are per-event errors, reported at once.
           (call $sub_clock (i32.const 1024) (i64.const 1) (i32.const 9) (i64.const 1000000000) (i32.const 0))
           (call $sub_clock (i32.const 1072) (i64.const 2) (i32.const 2) (i64.const 1000000000) (i32.const 0))
           (call $sub_clock (i32.const 1120) (i64.const 3) (i32.const 1) (i64.const 1000000000) (i32.const 2))
           (call $ok (call $poll_oneoff (i32.const 1024) (i32.const 2048) (i32.const 3) (i32.const 256)))
           (call $expect (i32.load (i32.const 256)) (i32.const 3))
           (call $expect (call $event_error (i32.const 0)) (i32.const 28))
           (call $expect (call $event_error (i32.const 1)) (i32.const 58))
           (call $expect (call $event_error (i32.const 2)) (i32.const 28))
           ;; Out-of-bounds arrays and result pointer: fault.
           (call $expect (call $poll_oneoff (i32.const 131040) (i32.const 2048) (i32.const 1) (i32.const 256)) (i32.const 21))
           (call $expect (call $poll_oneoff (i32.const 1024) (i32.const 131060) (i32.const 1) (i32.const 256)) (i32.const 21))
           (call $expect (call $poll_oneoff (i32.const 1024) (i32.const 2048) (i32.const 1) (i32.const -1)) (i32.const 21))
           (call $expect (call $poll_oneoff (i32.const 1024) (i32.const 2048) (i32.const 4096) (i32.const 256)) (i32.const 21))
           ;; More than MAX_SUBSCRIPTIONS: inval, before the arrays are looked at.
           (call $expect (call $poll_oneoff (i32.const 1024) (i32.const 2048) (i32.const 0x10000000) (i32.const 256)) (i32.const 28))"#,
    )
    .ok("ok");
}

#[test]
fn poll_sleep_is_interruptible() {
    use runtime_silo::wasi::{Interrupted, WasiConfig, WasiCtx, add_to_linker};
    use wasmtime::{Engine, Linker, Module, Store};
    let engine = Engine::default();
    let wat = harness::assemble(&format!(
        "{POLL}\n(func (export \"_start\")
            (call $sub_clock (i32.const 1024) (i64.const 1) (i32.const 1) (i64.const 60000000000) (i32.const 0))
            (drop (call $poll_oneoff (i32.const 1024) (i32.const 2048) (i32.const 1) (i32.const 256))))"
    ));
    let module = Module::new(&engine, wat).unwrap();
    let ctx = WasiCtx::new(WasiConfig {
        args: vec![],
        env: vec![],
        preopens: vec![],
        stdin: Box::new(std::io::empty()),
        stdout: Box::new(std::io::sink()),
        stderr: Box::new(std::io::sink()),
        max_file_size: runtime_silo::wasi::DEFAULT_MAX_FILE_SIZE,
    })
    .unwrap();
    let handle = ctx.interrupt_handle();
    let mut linker = Linker::new(&engine);
    add_to_linker(&mut linker, |c: &mut WasiCtx| c).unwrap();
    let mut store = Store::new(&engine, ctx);
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let start = instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .unwrap();
    let waker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        handle.interrupt();
    });
    let t0 = Instant::now();
    let err = start.call(&mut store, ()).unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert!(err.downcast_ref::<Interrupted>().is_some(), "{err:?}");
    waker.join().unwrap();
}

#[test]
fn stdio_write_read_and_eof() {
    let setup = Setup {
        stdin: b"input data".to_vec(),
        ..setup()
    };
    let out = run(
        setup,
        r#"(func (export "_start")
            ;; Two iovecs to stdout, one to stderr.
            (memory.copy (i32.const 1536) (str "abcde"))
            (i32.store (i32.const 512) (i32.const 1536))
            (i32.store (i32.const 516) (i32.const 3))
            (i32.store (i32.const 520) (i32.const 1539))
            (i32.store (i32.const 524) (i32.const 2))
            (call $ok (call $fd_write (i32.const 1) (i32.const 512) (i32.const 2) (i32.const 256)))
            (call $expect (i32.load (i32.const 256)) (i32.const 5))
            (call $ok (call $write (i32.const 2) (str "to stderr")))
            ;; stdin: 5 bytes, then the rest, then EOF.
            (call $ok (call $read (i32.const 0) (i32.const 1024) (i32.const 5)))
            (call $expect (i32.load (i32.const 40)) (i32.const 5))
            (call $ok (call $read (i32.const 0) (i32.const 1029) (i32.const 100)))
            (call $expect (i32.load (i32.const 40)) (i32.const 5))
            (call $ok (call $read (i32.const 0) (i32.const 1034) (i32.const 100)))
            (call $expect (i32.load (i32.const 40)) (i32.const 0))
            (call $print (str "|"))
            (call $print (i32.const 1024) (i32.const 10)))"#,
    );
    out.ok("abcde|input data");
    assert_eq!(out.stderr, "to stderr");
}

#[test]
fn stdio_fdstat_rights_and_flags() {
    run(
        setup(),
        r#"(func (export "_start")
            (call $ok (call $fd_fdstat_get (i32.const 1) (i32.const 256)))
            (call $expect (i32.load8_u (i32.const 256)) (i32.const 0))
            (call $expect (i32.load16_u (i32.const 258)) (i32.const 0))
            (call $expect (i32.wrap_i64 (i64.and (i64.load (i32.const 264)) (i64.const 0x40))) (i32.const 0x40))
            (call $expect (i32.wrap_i64 (i64.and (i64.load (i32.const 264)) (i64.const 0x26))) (i32.const 0))
            (call $ok (call $fd_fdstat_get (i32.const 0) (i32.const 256)))
            (call $expect (i32.wrap_i64 (i64.and (i64.load (i32.const 264)) (i64.const 0x42))) (i32.const 2))
            ;; Streams cannot seek, tell, pread or pwrite: notcapable (wasi-libc turns it into ESPIPE).
            (call $expect (call $fd_seek (i32.const 1) (i64.const 0) (i32.const 1) (i32.const 256)) (i32.const 76))
            (call $expect (call $fd_seek (i32.const 0) (i64.const 5) (i32.const 0) (i32.const 256)) (i32.const 76))
            (call $expect (call $fd_tell (i32.const 1) (i32.const 256)) (i32.const 76))
            (call $expect (call $fd_pwrite (i32.const 1) (i32.const 16) (i32.const 0) (i64.const 0) (i32.const 256)) (i32.const 76))
            (call $expect (call $fd_pread (i32.const 0) (i32.const 16) (i32.const 0) (i64.const 0) (i32.const 256)) (i32.const 76))
            (call $expect (call $fd_read (i32.const 1) (i32.const 16) (i32.const 0) (i32.const 256)) (i32.const 76))
            (call $expect (call $fd_write (i32.const 0) (i32.const 16) (i32.const 0) (i32.const 256)) (i32.const 76))
            (call $expect (call $fd_advise (i32.const 1) (i64.const 0) (i64.const 0) (i32.const 0)) (i32.const 76))
            (call $expect (call $fd_allocate (i32.const 1) (i64.const 0) (i64.const 1)) (i32.const 76))
            (call $expect (call $fd_readdir (i32.const 1) (i32.const 1024) (i32.const 100) (i64.const 0) (i32.const 256)) (i32.const 54))
            (call $expect (call $fd_filestat_set_size (i32.const 1) (i64.const 0)) (i32.const 76))
            (call $expect (call $fd_sync (i32.const 0)) (i32.const 76))
            (call $ok (call $fd_sync (i32.const 1)))
            (call $ok (call $fd_datasync (i32.const 2)))
            ;; filestat of a stream: all zero, unknown type.
            (call $ok (call $fd_filestat_get (i32.const 1) (i32.const 256)))
            (call $expect (i32.load8_u (i32.const 272)) (i32.const 0))
            ;; Flags: append/nonblock can be set; sync flags cannot change; unknown bits are inval.
            (call $ok (call $fd_fdstat_set_flags (i32.const 1) (i32.const 5)))
            (call $ok (call $fd_fdstat_get (i32.const 1) (i32.const 256)))
            (call $expect (i32.load16_u (i32.const 258)) (i32.const 5))
            (call $expect (call $fd_fdstat_set_flags (i32.const 1) (i32.const 16)) (i32.const 28))
            (call $expect (call $fd_fdstat_set_flags (i32.const 1) (i32.const 32)) (i32.const 28))
            (call $expect (call $fd_fdstat_set_flags (i32.const 1) (i32.const 0x10001)) (i32.const 28))
            ;; Not preopens.
            (call $expect (call $fd_prestat_get (i32.const 0) (i32.const 256)) (i32.const 8))
            (call $expect (call $fd_prestat_dir_name (i32.const 1) (i32.const 256) (i32.const 10)) (i32.const 8))
            (call $print (str "ok")))"#,
    )
    .ok("ok");
}

#[test]
fn close_and_renumber_stdio() {
    let out = run(
        setup(),
        r#"(func (export "_start")
            (call $ok (call $write (i32.const 1) (str "one ")))
            ;; stderr takes over descriptor 1.
            (call $ok (call $fd_renumber (i32.const 2) (i32.const 1)))
            (call $ok (call $write (i32.const 1) (str "two ")))
            (call $expect (call $write (i32.const 2) (str "x")) (i32.const 8))
            (call $ok (call $fd_renumber (i32.const 1) (i32.const 1)))
            (call $expect (call $fd_renumber (i32.const 1) (i32.const 2)) (i32.const 8))
            (call $expect (call $fd_renumber (i32.const 7) (i32.const 1)) (i32.const 8))
            (call $ok (call $fd_close (i32.const 1)))
            (call $expect (call $fd_close (i32.const 1)) (i32.const 8))
            (call $expect (call $write (i32.const 1) (str "x")) (i32.const 8)))"#,
    );
    assert_eq!(out.exit, Ok(0));
    assert_eq!(out.stdout, "one ");
    assert_eq!(out.stderr, "two ");
}

#[test]
fn bad_descriptors_are_badf() {
    run(
        setup(),
        r#"(func (export "_start")
            (call $expect (call $write (i32.const 99) (str "x")) (i32.const 8))
            (call $expect (call $write (i32.const -1) (str "x")) (i32.const 8))
            (call $expect (call $fd_close (i32.const 3)) (i32.const 8))
            (call $expect (call $fd_fdstat_get (i32.const 1000000) (i32.const 256)) (i32.const 8))
            (call $expect (call $fd_filestat_get (i32.const 3) (i32.const 256)) (i32.const 8))
            (call $expect (call $fd_seek (i32.const 3) (i64.const 0) (i32.const 0) (i32.const 256)) (i32.const 8))
            (call $expect (call $fd_sync (i32.const 3)) (i32.const 8))
            (call $expect (call $fd_fdstat_set_rights (i32.const 3) (i64.const 0) (i64.const 0)) (i32.const 8))
            (call $expect (call $path_create_directory (i32.const 3) (str "d")) (i32.const 8))
            (call $expect (call $try_open (i32.const 9) (i32.const 0) (str "f") (i32.const 0)
              (i64.const 0) (i64.const 0) (i32.const 0)) (i32.const 8))
            ;; A path function on a non-directory: notdir.
            (call $expect (call $path_unlink_file (i32.const 1) (str "f")) (i32.const 54))
            (call $print (str "ok")))"#,
    )
    .ok("ok");
}

#[test]
fn bad_pointers_are_fault_and_have_no_effect() {
    let setup = Setup {
        stdin: b"keep".to_vec(),
        ..setup()
    };
    run(
        setup,
        r#"(func (export "_start")
            ;; iovec array out of bounds, iovec buffer out of bounds, result out of bounds.
            (call $expect (call $fd_write (i32.const 1) (i32.const 131068) (i32.const 1) (i32.const 256)) (i32.const 21))
            (call $expect (call $fd_write (i32.const 1) (i32.const -8) (i32.const 1) (i32.const 256)) (i32.const 21))
            (call $expect (call $fd_write (i32.const 1) (i32.const 16) (i32.const 0x20000000) (i32.const 256)) (i32.const 21))
            (i32.store (i32.const 512) (i32.const 131000))
            (i32.store (i32.const 516) (i32.const 100))
            (call $expect (call $fd_write (i32.const 1) (i32.const 512) (i32.const 1) (i32.const 256)) (i32.const 21))
            (i32.store (i32.const 512) (i32.const 8192))
            (i32.store (i32.const 516) (i32.const 1))
            (call $expect (call $fd_write (i32.const 1) (i32.const 512) (i32.const 1) (i32.const 131072)) (i32.const 21))
            ;; A failed read consumes nothing.
            (call $expect (call $fd_read (i32.const 0) (i32.const 32) (i32.const 1) (i32.const -1)) (i32.const 21))
            (call $ok (call $read (i32.const 0) (i32.const 1024) (i32.const 10)))
            (call $expect (i32.load (i32.const 40)) (i32.const 4))
            (call $expect (call $fd_fdstat_get (i32.const 1) (i32.const 131060)) (i32.const 21))
            (call $expect (call $fd_filestat_get (i32.const 1) (i32.const 131060)) (i32.const 21))
            (call $print (i32.const 1024) (i32.const 4)))"#,
    )
    .ok("keep");
}

#[test]
fn sockets_give_proper_errnos() {
    run(
        setup(),
        r#"(func (export "_start")
            (call $expect (call $sock_accept (i32.const 1) (i32.const 0) (i32.const 256)) (i32.const 57))
            (call $expect (call $sock_accept (i32.const 42) (i32.const 0) (i32.const 256)) (i32.const 8))
            (call $expect (call $sock_accept (i32.const 1) (i32.const 64) (i32.const 256)) (i32.const 28))
            (call $expect (call $sock_recv (i32.const 0) (i32.const 16) (i32.const 1) (i32.const 0) (i32.const 256) (i32.const 260)) (i32.const 57))
            (call $expect (call $sock_recv (i32.const 0) (i32.const 16) (i32.const 1) (i32.const 4) (i32.const 256) (i32.const 260)) (i32.const 28))
            (call $expect (call $sock_recv (i32.const 42) (i32.const 16) (i32.const 1) (i32.const 0) (i32.const 256) (i32.const 260)) (i32.const 8))
            (call $expect (call $sock_send (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 0) (i32.const 256)) (i32.const 57))
            (call $expect (call $sock_send (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 1) (i32.const 256)) (i32.const 28))
            (call $expect (call $sock_shutdown (i32.const 1) (i32.const 3)) (i32.const 57))
            (call $expect (call $sock_shutdown (i32.const 1) (i32.const 4)) (i32.const 28))
            (call $expect (call $sock_shutdown (i32.const 42) (i32.const 1)) (i32.const 8))
            (call $print (str "ok")))"#,
    )
    .ok("ok");
}

#[test]
fn module_without_memory() {
    // Functions without pointers work; one with pointers traps.
    let wat = r#"(module
        (import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))
        (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (func (export "_start")
            (if (call $yield) (then unreachable))
            (drop (call $write (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0)))))"#;
    let out = run_module(setup(), wat);
    let err = out.exit.unwrap_err();
    assert!(err.contains("memory"), "{err}");
}

#[test]
fn errno_constants_match_the_library() {
    use runtime_silo::wasi::Errno;
    for (value, errno) in [
        (errno::BADF, Errno::Badf),
        (errno::FAULT, Errno::Fault),
        (errno::INVAL, Errno::Inval),
        (errno::NOENT, Errno::Noent),
        (errno::NOTCAPABLE, Errno::Notcapable),
        (errno::PERM, Errno::Perm),
        (errno::LOOP, Errno::Loop),
    ] {
        assert_eq!(value, i32::from(errno.raw()));
    }
}

/// Review L8: the host memory `poll_oneoff` uses is proportional to the
/// subscription count, so counts above `MAX_SUBSCRIPTIONS` (4096) are
/// refused with `inval` before anything is read or allocated, whatever
/// memory the guest has; 4096 still works.
#[test]
fn poll_oneoff_huge_subscription_counts() {
    assert_eq!(runtime_silo::wasi::MAX_SUBSCRIPTIONS, 4096);
    poll(
        r#"(local $i i32)
           ;; 10 pages: 4097 subscriptions (48 bytes) at 128 KiB, events (32) at 384 KiB.
           (call $expect (memory.grow (i32.const 8)) (i32.const 2))
           (loop $fill
             (call $sub_clock (i32.add (i32.const 131072) (i32.mul (local.get $i) (i32.const 48)))
               (i64.extend_i32_u (local.get $i)) (i32.const 1) (i64.const 0) (i32.const 0))
             (local.set $i (i32.add (local.get $i) (i32.const 1)))
             (br_if $fill (i32.le_u (local.get $i) (i32.const 4096))))
           ;; All of them already expired: 4096 events.
           (call $ok (call $poll_oneoff (i32.const 131072) (i32.const 393216) (i32.const 4096) (i32.const 256)))
           (call $expect (i32.load (i32.const 256)) (i32.const 4096))
           (call $expect64 (i64.load (i32.const 524256)) (i64.const 4095))
           ;; One more, fully in bounds: refused.
           (i32.store (i32.const 256) (i32.const 12345))
           (call $expect (call $poll_oneoff (i32.const 131072) (i32.const 393216) (i32.const 4097) (i32.const 256)) (i32.const 28))
           (call $expect (i32.load (i32.const 256)) (i32.const 12345))
           ;; Counts the old code would have allocated for (or faulted on).
           (call $expect (call $poll_oneoff (i32.const 0) (i32.const 0) (i32.const 0x01000000) (i32.const 256)) (i32.const 28))
           (call $expect (call $poll_oneoff (i32.const 0) (i32.const 0) (i32.const -1) (i32.const 256)) (i32.const 28))"#,
    )
    .ok("ok");
}
