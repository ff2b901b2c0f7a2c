//! Regression scenarios for the security review's findings (issue 13):
//! each starts the matching `usertest sec-*` case (the finding's trigger,
//! from ring 3) and checks that the kernel survived and that what the
//! silo took (frames, kernel heap, scheme names) came back after it died.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::Context;
use super::user_scenarios::{frames_back_to, settled_free_frames};
use crate::mm::heap;
use crate::silo::{self, ExitStatus, Silo};

macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

/// Longest any of these cases may run (TCG, loaded CI machine).
const CASE_NS: u64 = 120_000_000_000;

fn start(
    ctx: &Context<'_>,
    case: &str,
    args: &[&str],
    namespace: &[&str],
) -> Result<Arc<Silo>, String> {
    let elf = super::boot_program(ctx, "usertest")?;
    let argv: Vec<&str> = ["usertest", case]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    silo::spawn_elf_with(
        &format!("usertest-{case}"),
        elf,
        &argv,
        &[],
        silo::Spawn {
            namespace: namespace.iter().map(|n| String::from(*n)).collect(),
            ..silo::Spawn::default()
        },
    )
    .map_err(|e| format!("cannot start usertest {case}: {e}"))
}

fn run_ok(ctx: &Context<'_>, case: &str, args: &[&str], namespace: &[&str]) -> Result<(), String> {
    let s = start(ctx, case, args, namespace)?;
    let status = super::wait_or_dump(&s, CASE_NS)?;
    ensure!(
        status == ExitStatus::Code(0),
        "usertest {case} ended with {status}"
    );
    Ok(())
}

/// Kernel heap bytes in use once a silo's leftovers are gone (the heap
/// shrinks as the last references drop, right after `wait` returns).
fn heap_back_to(before: u64, slack: u64) -> u64 {
    let deadline = crate::arch::x86_64::tsc::now_ns() + 2_000_000_000;
    let mut now = heap::usage().allocated;
    while now > before + slack && crate::arch::x86_64::tsc::now_ns() < deadline {
        crate::sched::sleep_ns(10_000_000);
        now = heap::usage().allocated;
    }
    now
}

/// Runs `case` once to warm up (kernel stacks, heap arenas, log buffers
/// reach their steady state), then again, and checks that frames and heap
/// come back to what they were between the two runs.
fn no_leak(
    ctx: &Context<'_>,
    case: &str,
    warm: &[&str],
    args: &[&str],
    namespace: &[&str],
) -> Result<(), String> {
    run_ok(ctx, case, warm, namespace)?;
    let frames = settled_free_frames();
    let heap = heap::usage().allocated;
    run_ok(ctx, case, args, namespace)?;
    // Slack: one heap growth step (256 frames) and a few KiB of heap
    // (log lines, lazily grown per-CPU vectors). A leaked thread alone
    // holds 16 frames of kernel stack; these cases leak thousands.
    let after = frames_back_to(frames, 256);
    ensure!(
        after + 256 >= frames,
        "frames leaked: {frames} free before, {after} after usertest {case}"
    );
    let heap_after = heap_back_to(heap, 64 * 1024);
    ensure!(
        heap_after <= heap + 64 * 1024,
        "kernel heap leaked: {heap} bytes in use before, {heap_after} after usertest {case}"
    );
    log::info!("{case}: frames {frames} -> {after}, heap {heap} -> {heap_after} bytes");
    Ok(())
}

/// H1: non-canonical FS base, TLS, stack and entry are refused.
pub fn sec_fs_base_canonical(ctx: &Context<'_>) -> Result<(), String> {
    run_ok(ctx, "sec-canonical", &[], &[])
}

/// H2: a duplicate-and-close chain stops at the depth limit; dropping
/// the chain does not overflow the kernel stack; nothing leaks.
pub fn sec_derive_chain(ctx: &Context<'_>) -> Result<(), String> {
    no_leak(ctx, "sec-derive", &[], &[], &[])
}

/// H3, M2: early-woken and timed-out waits and a killed sleeper leave no
/// thread, kernel stack or address space behind.
pub fn sec_early_wake_no_leak(ctx: &Context<'_>) -> Result<(), String> {
    no_leak(ctx, "sec-wake", &["10"], &["1000"], &[])
}

/// H4: scheme names are served only with `+name` in the namespace, at
/// most 16 per silo, and the registry empties again when the silo dies.
pub fn sec_scheme_squat(ctx: &Context<'_>) -> Result<(), String> {
    let before = crate::scheme::served();
    let mut namespace = alloc::vec!["silo", "toy", "+mine"];
    let grants: Vec<String> = (0..17).map(|i| format!("+n{i}")).collect();
    namespace.extend(grants.iter().map(String::as_str));
    run_ok(ctx, "sec-squat", &[], &namespace)?;
    let deadline = crate::arch::x86_64::tsc::now_ns() + 2_000_000_000;
    while crate::scheme::served() != before && crate::arch::x86_64::tsc::now_ns() < deadline {
        crate::sched::sleep_ns(10_000_000);
    }
    let after = crate::scheme::served();
    ensure!(
        after == before,
        "{before} scheme names served before, {after} after the silo died"
    );
    Ok(())
}

/// C1: shared-object maps and protection changes racing anonymous
/// unmap/map of the same range (2 CPUs).
pub fn sec_shared_map_race(ctx: &Context<'_>) -> Result<(), String> {
    no_leak(ctx, "sec-map-race", &["10", "1"], &["300", "1"], &[])
}

/// C1, H5, M3 under load: more rounds and three racing threads on four
/// CPUs; the frame allocator must end where it started.
pub fn vm_race_stress(ctx: &Context<'_>) -> Result<(), String> {
    no_leak(ctx, "sec-map-race", &["10", "3"], &["1000", "3"], &[])
}

/// H5: the last unmap of a shared object while another CPU writes into it
/// and two more take fresh frames; each run must end with the writer's
/// #PF, never with a checker seeing its writes in a freed frame. A race:
/// each run gives the bug one chance, so the scenario runs it ten times.
pub fn sec_unmap_shootdown(ctx: &Context<'_>) -> Result<(), String> {
    let frames = settled_free_frames();
    for run in 0..10 {
        let s = start(ctx, "sec-unmap-shootdown", &[], &[])?;
        match super::wait_or_dump(&s, CASE_NS)? {
            ExitStatus::Fault { vector: 14, .. } => {}
            other => {
                return Err(format!(
                    "run {run}: ended with {other}, expected the writer's #PF"
                ));
            }
        }
    }
    let after = frames_back_to(frames, 256);
    ensure!(
        after + 256 >= frames,
        "frames leaked: {frames} free before, {after} after"
    );
    Ok(())
}
