//! Helpers shared by the `silo_*` integration tests: WAT building blocks for
//! WASI command modules and small conveniences over the manager.

// Each test binary uses a different subset.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use runtime_silo::silo::{DeployRequest, ExitStatus, Manager, SiloId};

/// WASI imports, one page of memory and two helpers:
/// `$write (fd ptr len)` and `$print_u32 (n)` (decimal and a newline, to
/// stdout). Bytes 0..16 are scratch for iovecs, 64..81 for digits; data may
/// start at 128.
pub const PRELUDE: &str = r#"
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $print_u32 (param $n i32)
    (local $p i32)
    (local.set $p (i32.const 80))
    (i32.store8 (i32.const 80) (i32.const 10))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $digits (local.get $n)))
    (call $write (i32.const 1) (local.get $p) (i32.sub (i32.const 81) (local.get $p))))
"#;

/// A command module: the prelude plus `items` (which must export `_start`).
pub fn command(items: &str) -> String {
    command_importing("", items)
}

/// Like [`command`], with more imports (wasm wants imports first).
pub fn command_importing(imports: &str, items: &str) -> String {
    format!("(module {imports} {PRELUDE} {items})")
}

/// A command that loops forever without calling the host.
pub fn spin() -> String {
    command(r#"(func (export "_start") (loop $forever (br $forever)))"#)
}

/// A command that sleeps in `poll_oneoff` for an hour (a blocking host call).
pub fn sleeper() -> String {
    // One clock subscription at 128 (48 bytes): userdata u64 @0, tag u8 @8
    // (0 = clock), clock id u32 @16 (1 = monotonic), timeout u64 @24 (ns,
    // relative), precision u64 @32, flags u16 @40. Event out at 256.
    command(
        r#"(func (export "_start")
             (i32.store8 (i32.const 136) (i32.const 0))
             (i32.store (i32.const 144) (i32.const 1))
             (i64.store (i32.const 152) (i64.const 3600000000000))
             (drop (call $poll_oneoff (i32.const 128) (i32.const 256) (i32.const 1) (i32.const 320))))"#,
    )
}

/// Iterations of the checksum loop: long enough to overlap with other silos.
pub const CHECKSUM_ITERATIONS: u32 = 10_000_000;

/// A CPU-bound command: reads a u32 seed (4 bytes, little endian) from
/// stdin, runs xorshift32 `CHECKSUM_ITERATIONS` times summing the states,
/// prints the sum.
pub fn checksum_module() -> String {
    command(&format!(
        r#"(func (export "_start")
             (local $x i32) (local $sum i32) (local $i i32)
             (i32.store (i32.const 0) (i32.const 32))
             (i32.store (i32.const 4) (i32.const 4))
             (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
             (local.set $x (i32.load (i32.const 32)))
             (local.set $i (i32.const {CHECKSUM_ITERATIONS}))
             (loop $round
               (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 13))))
               (local.set $x (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 17))))
               (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 5))))
               (local.set $sum (i32.add (local.get $sum) (local.get $x)))
               (local.set $i (i32.sub (local.get $i) (i32.const 1)))
               (br_if $round (local.get $i)))
             (call $print_u32 (local.get $sum)))"#
    ))
}

/// What [`checksum_module`] prints for `seed`.
pub fn checksum(seed: u32) -> u32 {
    let mut x = seed;
    let mut sum = 0u32;
    for _ in 0..CHECKSUM_ITERATIONS {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        sum = sum.wrapping_add(x);
    }
    sum
}

pub fn manager() -> Manager {
    Manager::new().expect("manager")
}

/// Deploys WAT text with default limits.
pub fn deploy(manager: &Manager, name: &str, wat: &str) -> SiloId {
    manager
        .deploy(DeployRequest::new(name, wat))
        .expect("deploy")
}

/// Waits for a silo, failing the test if it takes longer than `timeout`.
pub fn wait(manager: &Manager, id: SiloId, timeout: Duration) -> ExitStatus {
    manager
        .wait_timeout(id, timeout)
        .expect("known silo")
        .unwrap_or_else(|| panic!("silo {id} still running after {timeout:?}"))
}

pub fn stdout(manager: &Manager, id: SiloId) -> String {
    String::from_utf8_lossy(&manager.logs(id).expect("logs").stdout.bytes).into_owned()
}

/// Polls `condition` every millisecond until it holds, failing after `timeout`.
pub fn eventually(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < timeout, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Generous bound for anything that should take milliseconds (debug builds,
/// 2 loaded cores).
pub const PATIENCE: Duration = Duration::from_secs(60);
