//! Isolation: whatever one silo does (trap, spin, sleep, exhaust its limits,
//! be garbage) ends only that silo, with a precise status, while the others
//! and the manager carry on.

mod silo_support;

use std::time::{Duration, Instant};

use runtime_silo::silo::{
    Deadline, DeployRequest, ExitStatus, LimitExceeded, Limits, Rejection, Resource, SiloState,
    StdinSource, TrapKind, WasmSource,
};
use silo_support::*;

/// Deploys one checksum silo (seed 7) that must finish correctly.
fn bystander(manager: &runtime_silo::silo::Manager) -> runtime_silo::silo::SiloId {
    let mut request = DeployRequest::new("bystander", checksum_module().as_str());
    request.stdin = StdinSource::Bytes(7u32.to_le_bytes().to_vec());
    manager.deploy(request).expect("deploy")
}

fn assert_bystander_finished(
    manager: &runtime_silo::silo::Manager,
    id: runtime_silo::silo::SiloId,
) {
    assert_eq!(wait(manager, id, PATIENCE), ExitStatus::Exited(0));
    assert_eq!(stdout(manager, id), format!("{}\n", checksum(7)));
}

#[test]
fn each_trap_kind_ends_only_its_silo() {
    let manager = manager();
    let cases = [
        (
            "unreachable",
            TrapKind::Unreachable,
            r#"(func (export "_start") unreachable)"#,
        ),
        (
            "out-of-bounds",
            TrapKind::MemoryOutOfBounds,
            r#"(func (export "_start") (drop (i32.load (i32.const 65535))))"#,
        ),
        (
            "divide-by-zero",
            TrapKind::IntegerDivisionByZero,
            r#"(global $zero (mut i32) (i32.const 0))
               (func (export "_start") (drop (i32.div_u (i32.const 1) (global.get $zero))))"#,
        ),
        (
            "overflow",
            TrapKind::IntegerOverflow,
            r#"(global $min (mut i32) (i32.const 0x80000000))
               (global $minus-one (mut i32) (i32.const -1))
               (func (export "_start") (drop (i32.div_s (global.get $min) (global.get $minus-one))))"#,
        ),
        (
            "bad-conversion",
            TrapKind::BadConversionToInteger,
            r#"(global $nan (mut f32) (f32.const nan))
               (func (export "_start") (drop (i32.trunc_f32_s (global.get $nan))))"#,
        ),
        (
            "stack-overflow",
            TrapKind::StackOverflow,
            r#"(func $down (param i64) (result i64)
                 (i64.add (call $down (i64.add (local.get 0) (i64.const 1))) (i64.const 1)))
               (func (export "_start") (drop (call $down (i64.const 0))))"#,
        ),
        (
            "indirect-call-type-mismatch",
            TrapKind::IndirectCallTypeMismatch,
            r#"(type $returns-i32 (func (result i32)))
               (table 1 funcref) (elem (i32.const 0) $nothing)
               (func $nothing)
               (func (export "_start") (drop (call_indirect (type $returns-i32) (i32.const 0))))"#,
        ),
        (
            "indirect-call-to-null",
            TrapKind::IndirectCallToNull,
            r#"(table 2 funcref)
               (func (export "_start") (call_indirect (i32.const 1)))"#,
        ),
        (
            "table-out-of-bounds",
            TrapKind::TableOutOfBounds,
            r#"(table 1 funcref)
               (func (export "_start") (call_indirect (i32.const 5)))"#,
        ),
    ];
    let bystander = bystander(&manager);
    let silos: Vec<_> = cases
        .iter()
        .map(|(name, _, items)| deploy(&manager, name, &command(items)))
        .collect();
    for ((name, kind, _), id) in cases.iter().zip(silos) {
        match wait(&manager, id, PATIENCE) {
            ExitStatus::Trapped(trap) => {
                assert_eq!(&trap.kind, kind, "{name}");
                assert!(trap.backtrace.is_some(), "{name}: no backtrace");
            }
            other => panic!("{name}: expected a trap, got {other}"),
        }
    }
    assert_bystander_finished(&manager, bystander);
}

#[test]
fn trap_messages_are_clear() {
    let manager = manager();
    let id = deploy(
        &manager,
        "div",
        &command(
            r#"(global $zero (mut i32) (i32.const 0))
           (func (export "_start") (drop (i32.rem_s (i32.const 1) (global.get $zero))))"#,
        ),
    );
    assert_eq!(
        wait(&manager, id, PATIENCE).to_string(),
        "trapped: integer divide by zero"
    );
}

#[test]
fn an_infinite_loop_dies_at_its_wall_deadline_while_another_silo_finishes() {
    let manager = manager();
    let limit = Duration::from_millis(300);
    let mut request = DeployRequest::new("spin", spin().as_str());
    request.limits.wall_time = Some(limit);
    let started = Instant::now();
    let spinner = manager.deploy(request).expect("deploy");
    let bystander = bystander(&manager);
    assert_eq!(
        wait(&manager, spinner, PATIENCE),
        ExitStatus::DeadlineExceeded(Deadline::Wall(limit))
    );
    assert!(started.elapsed() >= limit);
    assert_bystander_finished(&manager, bystander);
}

#[test]
fn an_infinite_loop_dies_when_its_cpu_budget_is_spent() {
    let manager = manager();
    let budget = Duration::from_millis(100);
    let mut request = DeployRequest::new("spin", spin().as_str());
    request.limits.cpu_time = Some(budget);
    let id = manager.deploy(request).expect("deploy");
    assert_eq!(
        wait(&manager, id, PATIENCE),
        ExitStatus::DeadlineExceeded(Deadline::Cpu(budget))
    );
    assert!(manager.info(id).expect("info").cpu_time >= budget);
}

#[test]
fn kill_stops_an_infinite_loop() {
    let manager = manager();
    let id = deploy(&manager, "spin", &spin());
    let bystander = bystander(&manager);
    eventually("the spinner runs", PATIENCE, || {
        manager.info(id).expect("info").state == SiloState::Running
    });
    manager.kill(id).expect("kill");
    assert_eq!(wait(&manager, id, PATIENCE), ExitStatus::Killed);
    assert_bystander_finished(&manager, bystander);
    // Killing a finished silo is harmless.
    manager.kill(id).expect("kill again");
    assert_eq!(manager.wait(id).expect("wait"), ExitStatus::Killed);
}

#[test]
fn kill_wakes_a_silo_sleeping_in_a_host_call() {
    let manager = manager();
    let id = deploy(&manager, "sleeper", &sleeper());
    eventually("the sleeper runs", PATIENCE, || {
        manager.info(id).expect("info").state == SiloState::Running
    });
    // Let it reach poll_oneoff.
    std::thread::sleep(Duration::from_millis(50));
    let killed_at = Instant::now();
    manager.kill(id).expect("kill");
    assert_eq!(wait(&manager, id, PATIENCE), ExitStatus::Killed);
    assert!(killed_at.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_wall_deadline_wakes_a_silo_sleeping_in_a_host_call() {
    let manager = manager();
    let limit = Duration::from_millis(200);
    let mut request = DeployRequest::new("sleeper", sleeper().as_str());
    request.limits.wall_time = Some(limit);
    let id = manager.deploy(request).expect("deploy");
    assert_eq!(
        wait(&manager, id, PATIENCE),
        ExitStatus::DeadlineExceeded(Deadline::Wall(limit))
    );
}

#[test]
fn a_kill_lands_whether_or_not_the_silo_has_started() {
    let manager = manager();
    // Seconds of work before a trap: the kill, sent right after deploy,
    // lands before instantiation or during the loop, never after the trap.
    let id = deploy(
        &manager,
        "doomed",
        &command(
            r#"(func (export "_start")
                 (local $i i32)
                 (local.set $i (i32.const 0x7fffffff))
                 (loop $work
                   (local.set $i (i32.sub (local.get $i) (i32.const 1)))
                   (br_if $work (local.get $i)))
                 unreachable)"#,
        ),
    );
    manager.kill(id).expect("kill");
    assert_eq!(wait(&manager, id, PATIENCE), ExitStatus::Killed);
}

const PAGE: u64 = 65536;

fn limited(wat: &str, memory_bytes: u64) -> DeployRequest {
    let mut request = DeployRequest::new("limited", wat);
    request.limits = Limits {
        memory_bytes,
        ..Limits::default()
    };
    request
}

#[test]
fn a_trap_after_a_refused_growth_is_reported_as_the_memory_limit() {
    let manager = manager();
    let wat = command(
        r#"(func (export "_start")
             (if (i32.eq (memory.grow (i32.const 100)) (i32.const -1)) (then unreachable)))"#,
    );
    let bystander = bystander(&manager);
    let id = manager.deploy(limited(&wat, 16 * PAGE)).expect("deploy");
    assert_eq!(
        wait(&manager, id, PATIENCE),
        ExitStatus::LimitExceeded(LimitExceeded {
            resource: Resource::Memory,
            limit: 16 * PAGE,
            requested: 101 * PAGE,
        })
    );
    assert_bystander_finished(&manager, bystander);
}

#[test]
fn an_app_may_recover_from_a_refused_growth() {
    let manager = manager();
    let wat = command(
        r#"(func (export "_start")
             (if (i32.eq (memory.grow (i32.const 100)) (i32.const -1))
               (then (call $proc_exit (i32.const 3)))))"#,
    );
    let id = manager.deploy(limited(&wat, 16 * PAGE)).expect("deploy");
    assert_eq!(wait(&manager, id, PATIENCE), ExitStatus::Exited(3));
}

#[test]
fn a_memory_larger_than_the_limit_is_never_instantiated() {
    let manager = manager();
    let wat = r#"(module (memory 32) (func (export "_start")))"#;
    let id = manager.deploy(limited(wat, 16 * PAGE)).expect("deploy");
    assert_eq!(
        wait(&manager, id, PATIENCE),
        ExitStatus::LimitExceeded(LimitExceeded {
            resource: Resource::Memory,
            limit: 16 * PAGE,
            requested: 32 * PAGE,
        })
    );
    assert_eq!(manager.stats().memory_bytes, 0);
}

#[test]
fn table_growth_is_limited() {
    let manager = manager();
    let wat = r#"(module (table 10 funcref)
          (func (export "_start")
            (if (i32.eq (table.grow (ref.null func) (i32.const 100)) (i32.const -1))
              (then unreachable))))"#;
    let mut request = DeployRequest::new("tables", wat);
    request.limits.table_elements = 50;
    let id = manager.deploy(request).expect("deploy");
    assert_eq!(
        wait(&manager, id, PATIENCE),
        ExitStatus::LimitExceeded(LimitExceeded {
            resource: Resource::TableElements,
            limit: 50,
            requested: 110,
        })
    );
}

/// A deploy that must be rejected: its name, code, which rejection and a
/// piece of the message.
type RejectCase = (
    &'static str,
    WasmSource,
    fn(&Rejection) -> bool,
    &'static str,
);

#[test]
fn bad_code_is_rejected_with_a_clear_error() {
    let manager = manager();
    let missing = std::env::temp_dir().join("runtime-silo-test-no-such-file.wasm");
    let cases: [RejectCase; 8] = [
        (
            "garbage",
            WasmSource::from(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0xff, 0xfe][..]),
            |r| matches!(r, Rejection::Malformed(_)),
            "bad magic number",
        ),
        (
            "truncated",
            WasmSource::from(&b"\0asm\x01\0"[..]),
            |r| matches!(r, Rejection::Malformed(_)),
            "too short",
        ),
        (
            "bad-text",
            WasmSource::from("(module (func (i32.frobnicate)))"),
            |r| matches!(r, Rejection::Malformed(_)),
            "nor valid WAT text",
        ),
        (
            "invalid",
            WasmSource::from(r#"(module (func (export "_start") (result i32) i64.const 1))"#),
            |r| matches!(r, Rejection::Invalid(_)),
            "type mismatch",
        ),
        (
            "no-start",
            WasmSource::from(r#"(module (func (export "main")))"#),
            |r| matches!(r, Rejection::MissingEntry(_)),
            "must export `_start`; this one exports [main]",
        ),
        (
            "start-with-result",
            WasmSource::from(r#"(module (func (export "_start") (result i32) i32.const 0))"#),
            |r| matches!(r, Rejection::MissingEntry(_)),
            "`_start` must take and return nothing, found (type (func (result i32)))",
        ),
        (
            "unknown-import",
            WasmSource::from(
                r#"(module (import "wasi_snapshot_preview1" "no_such_call" (func))
                           (func (export "_start")))"#,
            ),
            |r| matches!(r, Rejection::Link(_)),
            "no_such_call",
        ),
        (
            "unreadable",
            WasmSource::Path(missing),
            |r| matches!(r, Rejection::Unreadable(_)),
            "runtime-silo-test-no-such-file.wasm",
        ),
    ];
    let bystander = bystander(&manager);
    for (name, wasm, is_expected, message) in cases {
        let id = manager
            .deploy(DeployRequest::new(name, wasm))
            .expect("deploy");
        match wait(&manager, id, PATIENCE) {
            ExitStatus::Rejected(rejection) => {
                assert!(is_expected(&rejection), "{name}: {rejection:?}");
                assert!(
                    rejection.to_string().contains(message),
                    "{name}: {rejection}"
                );
            }
            other => panic!("{name}: expected a rejection, got {other}"),
        }
    }
    assert_bystander_finished(&manager, bystander);
    // Code that compiles stays cached even if it is then refused (the
    // bystander, no-start, start-with-result, unknown-import); code that does
    // not compile never is.
    assert_eq!(manager.stats().cache.entries, 4);
}

#[test]
fn eight_cpu_bound_silos_run_concurrently_with_correct_results() {
    let manager = manager();
    let wat = checksum_module();
    let silos: Vec<_> = (1..=8u32)
        .map(|seed| {
            let mut request = DeployRequest::new(format!("checksum-{seed}"), wat.as_str());
            request.stdin = StdinSource::Bytes(seed.to_le_bytes().to_vec());
            (seed, manager.deploy(request).expect("deploy"))
        })
        .collect();
    for (seed, id) in silos {
        assert_eq!(
            wait(&manager, id, PATIENCE),
            ExitStatus::Exited(0),
            "seed {seed}"
        );
        assert_eq!(
            stdout(&manager, id),
            format!("{}\n", checksum(seed)),
            "seed {seed}"
        );
    }
    // Eight deploys of the same bytes, at once: compiled once.
    let stats = manager.stats().cache;
    assert_eq!((stats.compilations, stats.hits), (1, 7));
}
