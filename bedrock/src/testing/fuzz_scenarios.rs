//! The ring-3 system call fuzzer's scenario (issue 13): `usertest fuzz`
//! (see `user-tests/src/fuzz_cases.rs`) makes 200 000 calls with a fixed
//! seed from several threads on two CPUs; once it has ended, every kernel
//! resource counter must be back at its baseline.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use bedrock_abi::{KernelCounters, Rights};

use super::Context;
use crate::arch::x86_64::tsc;
use crate::cap::{Cap, Object};
use crate::ipc::memory::MemoryObject;
use crate::mm::PAGE_SIZE;
use crate::mm::kstack::THREAD_STACK_SIZE;
use crate::silo::{self, ExitStatus};
use crate::syscall::kernel_counters;

/// The fuzzer's arguments. `init.args` on the command line adds to them
/// (later ones win): a failure names its seed, and
/// `cargo xtask run -- test=syscall_fuzz init.args=seed=0x...,calls=...`
/// runs it again (also `workers=`, `ms=`, `spawns=`, `avoid=long-waits`,
/// `only=`/`skip=`, `trace=N`: see `fuzz_cases.rs`).
const SEED: u64 = 0x13_f022;
const CALLS: u64 = 200_000;
/// Time the fuzzer may take (it fails if it has not made its calls by
/// then); the harness allows more.
const BUDGET_MS: u64 = 150_000;
/// Kernel heap allocations and bytes that may stay after the run:
/// containers the kernel keeps and that grow with the load do not shrink
/// back (64 futex buckets, hashed by address space, so another silo's run
/// never primes them; run queues; sleeper trees; the kernel-stack cache;
/// the registry entry of the fuzzer's dead scheme until a name is
/// registered again). A leak of one object per call or per thread is
/// hundreds over the run.
const HEAP_SLACK_ALLOCATIONS: u64 = 96;
const HEAP_SLACK_BYTES: u64 = 64 * 1024;
/// How long the fuzzer's resources may take to go once it has ended:
/// timed waits it left behind end within milliseconds, and its children
/// sleep at most 20 ms.
const RELEASE_NS: u64 = 5_000_000_000;

pub fn syscall_fuzz(ctx: &Context<'_>) -> Result<(), String> {
    let elf = super::boot_program(ctx, "usertest")?;
    // The program the fuzzer spawns children from; made before the
    // baseline and kept until the end, so its frames are in both counts.
    let image = Arc::new(MemoryObject::from_bytes(elf).map_err(|e| format!("image object: {e}"))?);
    let seed = ctx
        .cmdline
        .init_args()
        .filter_map(|a| a.strip_prefix("seed="))
        .last()
        .map_or_else(|| format!("{SEED:#x}"), String::from);
    let before = settled();
    log::info!("syscall_fuzz: baseline: {}", show(&before));

    let status = {
        let args = [
            format!("seed={SEED:#x}"),
            format!("calls={CALLS}"),
            format!("ms={BUDGET_MS}"),
        ];
        let argv: Vec<&str> = ["usertest", "fuzz", "run"]
            .into_iter()
            .chain(args.iter().map(String::as_str))
            .chain(ctx.cmdline.init_args())
            .collect();
        let rights = Rights::READ
            .union(Rights::MAP)
            .union(Rights::GRANT)
            .union(Rights::DUPLICATE);
        let with = silo::Spawn {
            caps: alloc::vec![Cap::new(Object::Memory(image.clone()), rights)],
            // No `sys` (its calls must be refused); it may serve `fuzz`
            // and nothing else.
            namespace: alloc::vec![String::from("+fuzz")],
            affinity: None,
        };
        let fuzz = silo::spawn_elf_with("usertest-fuzz", elf, &argv, &[], with)
            .map_err(|e| format!("cannot start usertest fuzz: {e}"))?;
        super::wait_or_dump(&fuzz, (BUDGET_MS + 60_000) * 1_000_000)?
    };
    if status != ExitStatus::Code(0) {
        return Err(format!("the fuzzer (seed {seed}) ended with {status}"));
    }

    let after = released(&before).map_err(|why| format!("seed {seed}: {why}"))?;
    log::info!("syscall_fuzz: after: {}", show(&after));
    log::info!("syscall_fuzz: every counter back to its baseline");

    // The same counters through `SysCounters`, from a silo granted `sys`.
    let with = silo::Spawn {
        namespace: alloc::vec![String::from("sys")],
        ..silo::Spawn::default()
    };
    let reader = silo::spawn_elf_with(
        "usertest-fuzz-counters",
        elf,
        &["usertest", "fuzz", "counters"],
        &[],
        with,
    )
    .map_err(|e| format!("cannot start usertest fuzz counters: {e}"))?;
    let status = reader.wait();
    if status != ExitStatus::Code(0) {
        return Err(format!("usertest fuzz counters ended with {status}"));
    }
    drop(image);
    Ok(())
}

fn show(c: &KernelCounters) -> String {
    format!(
        "{} of {} frames free, heap {} bytes used in {} allocations ({} claimed), \
         stack cache {} KiB, {} handles, {} threads, {} silos, {} scheme names",
        c.frames_free,
        c.frames_total,
        c.heap_used_bytes,
        c.heap_allocations,
        c.heap_claimed_bytes,
        c.stack_cache_bytes / 1024,
        c.handles,
        c.threads,
        c.silos,
        c.scheme_names
    )
}

/// The counters once they stop changing (what started before is done).
fn settled() -> KernelCounters {
    let mut last = kernel_counters();
    for _ in 0..100 {
        crate::sched::sleep_ns(20_000_000);
        let now = kernel_counters();
        if now == last {
            break;
        }
        last = now;
    }
    last
}

/// Frames neither free, nor in the heap's arenas, nor in the kernel-stack
/// cache: those two only grow (they are reused, never given back), and
/// their own counters show it.
fn busy_frames(c: &KernelCounters) -> i64 {
    (c.frames_total - c.frames_free) as i64
        - (c.heap_claimed_bytes / PAGE_SIZE) as i64
        - (c.stack_cache_bytes / PAGE_SIZE) as i64
}

/// Each counter that is not back to `before`, with both values.
fn differences(before: &KernelCounters, now: &KernelCounters) -> Vec<String> {
    let mut out = Vec::new();
    for (name, b, n) in [
        ("handles", before.handles, now.handles),
        ("threads", before.threads, now.threads),
        ("silos", before.silos, now.silos),
        ("scheme names", before.scheme_names, now.scheme_names),
    ] {
        if n != b {
            out.push(format!("{name}: {b} before, {n} after"));
        }
    }
    // New kernel stacks (the cache grew) are mapped by kernel page tables
    // that stay: one page table per 30 stacks.
    let new_stacks = now
        .stack_cache_bytes
        .saturating_sub(before.stack_cache_bytes)
        / THREAD_STACK_SIZE;
    let slack = new_stacks.div_ceil(30) as i64 + 1;
    let (b, n) = (busy_frames(before), busy_frames(now));
    if n > b + slack {
        out.push(format!(
            "frames in use (besides heap and stack cache): {b} before, {n} after"
        ));
    }
    if now.heap_allocations > before.heap_allocations + HEAP_SLACK_ALLOCATIONS {
        out.push(format!(
            "kernel heap allocations: {} before, {} after (slack {HEAP_SLACK_ALLOCATIONS})",
            before.heap_allocations, now.heap_allocations
        ));
    }
    if now.heap_used_bytes > before.heap_used_bytes + HEAP_SLACK_BYTES {
        out.push(format!(
            "kernel heap in use: {} bytes before, {} after (slack {HEAP_SLACK_BYTES})",
            before.heap_used_bytes, now.heap_used_bytes
        ));
    }
    out
}

/// Waits (up to [`RELEASE_NS`]) for every counter to come back to
/// `before`; names those that did not.
fn released(before: &KernelCounters) -> Result<KernelCounters, String> {
    let deadline = tsc::now_ns() + RELEASE_NS;
    loop {
        let now = kernel_counters();
        let diffs = differences(before, &now);
        if diffs.is_empty() {
            return Ok(now);
        }
        if tsc::now_ns() > deadline {
            log::warn!("syscall_fuzz: after: {}", show(&now));
            return Err(format!(
                "not back to the baseline {} s after the fuzzer ended: {}",
                RELEASE_NS / 1_000_000_000,
                diffs.join("; ")
            ));
        }
        crate::sched::sleep_ns(20_000_000);
    }
}
