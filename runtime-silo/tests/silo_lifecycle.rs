//! Life cycle: code cache, memory accounting and release, logs, listing,
//! removal, and component apps.

mod silo_support;

use std::path::PathBuf;
use std::time::Duration;

use runtime_silo::platform;
use runtime_silo::silo::{
    DeployRequest, ExitStatus, Manager, ManagerError, ManagerOptions, Rejection, SiloState,
    TrapKind, WasmSource,
};
use silo_support::*;

const PAGE: u64 = 65536;

fn hello() -> String {
    command(
        r#"(data (i32.const 128) "hello\n")
           (data (i32.const 160) "oops\n")
           (func (export "_start")
             (call $write (i32.const 1) (i32.const 128) (i32.const 6))
             (call $write (i32.const 2) (i32.const 160) (i32.const 5)))"#,
    )
}

#[test]
fn a_second_deploy_of_identical_bytes_skips_compilation() {
    let manager = manager();
    let wat = hello();
    let first = deploy(&manager, "first", &wat);
    assert_eq!(wait(&manager, first, PATIENCE), ExitStatus::Exited(0));
    let before = manager.stats().cache;
    assert_eq!((before.compilations, before.hits), (1, 0));

    let second = deploy(&manager, "second", &wat);
    assert_eq!(wait(&manager, second, PATIENCE), ExitStatus::Exited(0));
    assert_eq!(stdout(&manager, second), "hello\n");
    let after = manager.stats().cache;
    assert_eq!((after.compilations, after.hits), (1, 1));

    // Different bytes, even if equivalent, are compiled anew.
    let third = deploy(&manager, "third", &format!("{wat}\n"));
    assert_eq!(wait(&manager, third, PATIENCE), ExitStatus::Exited(0));
    assert_eq!(manager.stats().cache.compilations, 2);
}

#[test]
fn memory_in_use_is_visible_while_running_and_released_at_exit() {
    let manager = manager();
    let id = deploy(
        &manager,
        "grower",
        &command(
            r#"(func (export "_start")
                 (drop (memory.grow (i32.const 15)))
                 (loop $forever (br $forever)))"#,
        ),
    );
    eventually("the silo holds 16 pages", PATIENCE, || {
        manager.info(id).expect("info").memory_bytes == 16 * PAGE
    });
    assert_eq!(manager.stats().memory_bytes, 16 * PAGE);
    manager.kill(id).expect("kill");
    assert_eq!(wait(&manager, id, PATIENCE), ExitStatus::Killed);
    assert_eq!(manager.info(id).expect("info").memory_bytes, 0);
    assert_eq!(manager.stats().memory_bytes, 0);
}

#[test]
fn memory_returns_to_baseline_after_many_deploy_exit_cycles() {
    const CYCLES: u64 = 40;
    const PAGES: u64 = 64; // 4 MiB, every byte written
    let manager = manager();
    let wat = format!(
        r#"(module (memory {PAGES})
             (func (export "_start")
               (memory.fill (i32.const 0) (i32.const 0xa5) (i32.const {bytes}))))"#,
        bytes = PAGES * PAGE
    );
    let cycle = || {
        let id = deploy(&manager, "filler", &wat);
        assert_eq!(wait(&manager, id, PATIENCE), ExitStatus::Exited(0));
        assert_eq!(manager.stats().memory_bytes, 0);
        manager.remove(id).expect("remove");
    };
    // Warm up: code cache, allocator pools, thread stacks.
    cycle();
    let baseline = platform::resident_memory().expect("resident memory");
    for _ in 0..CYCLES {
        cycle();
    }
    let grown = platform::resident_memory()
        .expect("resident memory")
        .saturating_sub(baseline);
    // Leaking the stores would keep CYCLES * 4 MiB = 160 MiB resident.
    assert!(
        grown < 32 << 20,
        "resident memory grew by {} MiB over {CYCLES} cycles",
        grown >> 20
    );
    assert_eq!(manager.stats().known_silos, 0);
}

#[test]
fn logs_capture_each_stream_within_a_bounded_ring() {
    let manager = Manager::with_options(ManagerOptions {
        log_capacity: 8,
        ..ManagerOptions::default()
    })
    .expect("manager");
    let id = deploy(&manager, "hello", &hello());
    assert_eq!(wait(&manager, id, PATIENCE), ExitStatus::Exited(0));
    let logs = manager.logs(id).expect("logs");
    assert_eq!(logs.stdout.bytes, b"hello\n");
    assert_eq!(logs.stderr.bytes, b"oops\n");

    let chatty = deploy(
        &manager,
        "chatty",
        &command(
            r#"(data (i32.const 128) "0123456789")
               (func (export "_start") (call $write (i32.const 1) (i32.const 128) (i32.const 10)))"#,
        ),
    );
    assert_eq!(wait(&manager, chatty, PATIENCE), ExitStatus::Exited(0));
    let logs = manager.logs(chatty).expect("logs");
    assert_eq!(
        (logs.stdout.bytes.as_slice(), logs.stdout.dropped),
        (&b"23456789"[..], 2)
    );
}

#[test]
fn list_shows_every_silo_until_it_is_removed() {
    let manager = manager();
    let done = deploy(&manager, "done", &hello());
    assert_eq!(wait(&manager, done, PATIENCE), ExitStatus::Exited(0));
    let spinning = deploy(&manager, "spinning", &spin());
    eventually("the spinner runs", PATIENCE, || {
        manager.info(spinning).expect("info").state == SiloState::Running
    });

    let list = manager.list();
    assert_eq!(list.len(), 2);
    assert_eq!((list[0].id, list[0].name.as_str()), (done, "done"));
    assert_eq!(list[0].state, SiloState::Finished(ExitStatus::Exited(0)));
    assert_eq!((list[1].id, list[1].name.as_str()), (spinning, "spinning"));
    assert_eq!(list[1].state, SiloState::Running);
    assert_eq!(manager.stats().live_silos, 1);

    assert!(matches!(
        manager.remove(spinning),
        Err(ManagerError::StillRunning(id)) if id == spinning
    ));
    eventually("the spinner has used CPU time", PATIENCE, || {
        manager.info(spinning).expect("info").cpu_time > Duration::ZERO
    });
    manager.kill(spinning).expect("kill");
    assert_eq!(wait(&manager, spinning, PATIENCE), ExitStatus::Killed);
    assert_eq!(manager.remove(done).expect("remove"), ExitStatus::Exited(0));
    assert!(matches!(
        manager.logs(done),
        Err(ManagerError::UnknownSilo(_))
    ));
    assert_eq!(manager.list().len(), 1);
}

fn component_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/hello_component.wat")
}

#[test]
fn a_component_app_runs_with_console_clocks_and_random() {
    let manager = manager();
    let id = manager
        .deploy(DeployRequest::new(
            "component",
            WasmSource::Path(component_path()),
        ))
        .expect("deploy");
    assert_eq!(wait(&manager, id, PATIENCE), ExitStatus::Exited(0));
    assert_eq!(stdout(&manager, id), "hello from a component\n");
}

#[test]
fn a_component_returning_err_fails_with_its_message() {
    let manager = manager();
    let wat = r#"(component
          (core module $m
            (memory (export "memory") 1)
            (data (i32.const 16) "\01\00\00\00\40\00\00\00\05\00\00\00")
            (data (i32.const 64) "nope!")
            (func (export "run") (result i32) (i32.const 16)))
          (core instance $i (instantiate $m))
          (func (export "run") (result (result (error string)))
            (canon lift (core func $i "run") (memory (core memory $i "memory")))))"#;
    let id = deploy(&manager, "failing", wat);
    assert_eq!(
        wait(&manager, id, PATIENCE),
        ExitStatus::Failed("nope!".into())
    );
}

#[test]
fn a_component_of_another_world_is_rejected() {
    let manager = manager();
    let wat = r#"(component
          (core module $m (func (export "run") (result i32) (i32.const 7)))
          (core instance $i (instantiate $m))
          (func (export "run") (result u32) (canon lift (core func $i "run"))))"#;
    let id = deploy(&manager, "other-world", wat);
    match wait(&manager, id, PATIENCE) {
        ExitStatus::Rejected(Rejection::Link(message)) => {
            assert!(message.contains("strat9:silo/app"), "{message}");
        }
        other => panic!("expected a link rejection, got {other}"),
    }
}

#[test]
fn a_trapping_component_ends_with_the_trap() {
    let manager = manager();
    let wat = r#"(component
          (core module $m (memory (export "memory") 1) (func (export "run") (result i32) unreachable))
          (core instance $i (instantiate $m))
          (func (export "run") (result (result (error string)))
            (canon lift (core func $i "run") (memory (core memory $i "memory")))))"#;
    let id = deploy(&manager, "trapping", wat);
    assert!(matches!(
        wait(&manager, id, PATIENCE),
        ExitStatus::Trapped(trap) if trap.kind == TrapKind::Unreachable
    ));
}

#[test]
fn the_instance_limit_applies_to_components() {
    let manager = manager();
    // The hello component instantiates two core modules.
    let mut request = DeployRequest::new("component", WasmSource::Path(component_path()));
    request.limits.instances = 1;
    let id = manager.deploy(request).expect("deploy");
    match wait(&manager, id, PATIENCE) {
        ExitStatus::Rejected(Rejection::Instantiation(message)) => {
            assert!(message.contains("instance"), "{message}");
        }
        other => panic!("expected an instantiation rejection, got {other}"),
    }
}

#[test]
fn a_component_asking_for_too_much_entropy_traps() {
    let manager = manager();
    let wat = r#"(component
          (import "strat9:silo/random@0.1.0" (instance $random
            (export "get-random-bytes" (func (param "len" u64) (result (list u8))))))
          (core module $Libc
            (memory (export "memory") 1)
            (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024)))
          (core instance $libc (instantiate $Libc))
          (core func $get (canon lower (func $random "get-random-bytes")
            (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
          (core module $Main
            (import "host" "get" (func $get (param i64 i32)))
            (func (export "run") (result i32)
              (call $get (i64.const 0x100000000) (i32.const 64))
              (i32.const 0)))
          (core instance $main (instantiate $Main
            (with "host" (instance (export "get" (func $get))))))
          (func (export "run") (result (result (error string)))
            (canon lift (core func $main "run") (memory (core memory $libc "memory")))))"#;
    let id = deploy(&manager, "greedy", wat);
    match wait(&manager, id, PATIENCE) {
        ExitStatus::Trapped(trap) => match trap.kind {
            TrapKind::Host(message) => assert!(message.contains("at most"), "{message}"),
            other => panic!("expected a host error, got {other}"),
        },
        other => panic!("expected a trap, got {other}"),
    }
}
