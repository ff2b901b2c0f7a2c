//! Scenarios that run ring-3 programs: the `usertest` ELF from the boot
//! module archive (packed by xtask), one case per silo.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::Context;
use crate::initrd::Archive;
use crate::mm::kernel_space::FRAMES;
use crate::mm::phys_to_virt;
use crate::silo::{self, ExitStatus, Silo};

macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

/// The `usertest` program from the boot module archive.
fn usertest(ctx: &Context<'_>) -> Result<&'static [u8], String> {
    let m = ctx
        .info
        .modules
        .first()
        .ok_or("no boot module (the initrd archive) was passed")?;
    // SAFETY: validated module memory in RAM, reserved from the allocator,
    // mapped by the direct map for the kernel's lifetime.
    let bytes = unsafe {
        core::slice::from_raw_parts(
            phys_to_virt(m.range.start) as *const u8,
            m.range.len() as usize,
        )
    };
    let archive =
        Archive::parse(bytes).map_err(|e| format!("boot module is not an archive: {e}"))?;
    Ok(archive
        .find("usertest")
        .ok_or("no usertest in the boot archive")?
        .data)
}

fn start(ctx: &Context<'_>, case: &str) -> Result<Arc<Silo>, String> {
    let elf = usertest(ctx)?;
    silo::spawn_elf(
        &format!("usertest-{case}"),
        elf,
        &["usertest", case],
        &["BEDROCK_TEST=1"],
    )
    .map_err(|e| format!("cannot start usertest {case}: {e}"))
}

fn run_ok(ctx: &Context<'_>, case: &str) -> Result<(), String> {
    let status = start(ctx, case)?.wait();
    ensure!(
        status == ExitStatus::Code(0),
        "usertest {case} ended with {status}"
    );
    Ok(())
}

pub fn user_hello(ctx: &Context<'_>) -> Result<(), String> {
    run_ok(ctx, "hello")
}

pub fn syscall_bad_pointers(ctx: &Context<'_>) -> Result<(), String> {
    run_ok(ctx, "badptr")
}

pub fn user_threads_64(ctx: &Context<'_>) -> Result<(), String> {
    run_ok(ctx, "threads")
}

pub fn futex_cross_cpu(ctx: &Context<'_>) -> Result<(), String> {
    run_ok(ctx, "futex")
}

pub fn wx_refused(ctx: &Context<'_>) -> Result<(), String> {
    run_ok(ctx, "wx")
}

pub fn user_sleep(ctx: &Context<'_>) -> Result<(), String> {
    run_ok(ctx, "sleep")
}

pub fn fpu_state_per_thread(ctx: &Context<'_>) -> Result<(), String> {
    run_ok(ctx, "fpu")
}

pub fn static_pie_load(ctx: &Context<'_>) -> Result<(), String> {
    run_ok(ctx, "pie")
}

/// Faulting silos die with the right report; a well-behaved silo running
/// at the same time finishes; the kernel keeps going.
pub fn user_fault_isolation(ctx: &Context<'_>) -> Result<(), String> {
    let cases: [(&str, u8, Option<u64>); 5] = [
        ("fault-pf", 14, Some(0x10)),
        ("fault-ud", 6, None),
        ("fault-gp", 13, None),
        ("fault-de", 0, None),
        ("fault-nx", 14, None),
    ];
    let healthy = start(ctx, "threads")?;
    let faulty: Vec<_> = cases
        .iter()
        .map(|(c, _, _)| start(ctx, c))
        .collect::<Result<_, _>>()?;
    for ((case, vector, addr), s) in cases.iter().zip(&faulty) {
        match s.wait() {
            ExitStatus::Fault {
                vector: v, addr: a, ..
            } => {
                ensure!(v == *vector, "{case}: vector {v}, expected {vector}");
                if let Some(addr) = addr {
                    ensure!(
                        a == *addr,
                        "{case}: fault address {a:#x}, expected {addr:#x}"
                    );
                }
            }
            other => return Err(format!("{case}: ended with {other}, expected a fault")),
        }
    }
    let status = healthy.wait();
    ensure!(
        status == ExitStatus::Code(0),
        "the healthy silo ended with {status}"
    );
    ensure!(silo::count() == 0, "{} silos still alive", silo::count());
    Ok(())
}

/// Silos that touch 4 MiB each and exit give every frame back.
pub fn silo_memory_freed(ctx: &Context<'_>) -> Result<(), String> {
    let free = || FRAMES.lock().as_ref().map_or(0, |f| f.free_frames());
    run_ok(ctx, "memory")?; // warm-up: kernel stacks and heap reach steady state
    let before = free();
    for _ in 0..10 {
        run_ok(ctx, "memory")?;
    }
    let after = free();
    // One heap growth step (256 frames) may happen; a leaked silo would
    // lose over 1000 frames per run.
    ensure!(
        after + 256 >= before,
        "frames leaked: {before} free before, {after} after 10 silos"
    );
    Ok(())
}
