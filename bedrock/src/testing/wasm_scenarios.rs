//! Scenarios for the runtime silo: wasmtime + Cranelift JIT in ring 3
//! (`runtime-silo` of the boot archive, a native silo), running the wasm
//! apps and boot manifests packed beside it (`runtime-silo/boot/`).
//!
//! The runtime silo is started as the first silo would be (it gets the boot
//! archive, where it finds the apps) and judges each app against its
//! manifest's expectations: exit code 0 means every app ended as expected.
//! The harness then checks its report lines in the log.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;

use super::Context;
use crate::arch::x86_64::percpu;
use crate::initrd::Archive;
use crate::silo::{self, ExitStatus, Silo};

macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

/// Starts `runtime-silo ARGS...` with the boot archive (handle 1).
fn start(ctx: &Context<'_>, args: &[&str]) -> Result<Arc<Silo>, String> {
    let bytes = crate::kmain::boot_archive(ctx.info).ok_or("no boot archive")?;
    let archive =
        Archive::parse(bytes).map_err(|e| format!("boot module is not an archive: {e}"))?;
    let elf = archive
        .find("runtime-silo")
        .ok_or("no runtime-silo in the boot archive")?
        .data;
    let with = silo::Spawn::first(bytes).map_err(|e| format!("archive object: {e}"))?;
    let mut argv = alloc::vec!["runtime-silo"];
    argv.extend_from_slice(args);
    silo::spawn_elf_with("runtime-silo", elf, &argv, &[], with)
        .map_err(|e| format!("cannot start runtime-silo: {e}"))
}

/// Runs `runtime-silo ARGS...` to its end, which must be `want`.
fn run(ctx: &Context<'_>, args: &[&str], want: ExitStatus) -> Result<(), String> {
    let status = start(ctx, args)?.wait();
    ensure!(
        status == want,
        "runtime-silo {args:?} ended with {status}, expected {want}"
    );
    Ok(())
}

/// `runtime-silo boot /MANIFEST`: every app must end as the manifest says.
fn boot(ctx: &Context<'_>, manifest: &str) -> Result<(), String> {
    run(ctx, &["boot", manifest], ExitStatus::Code(0))
}

/// hello.wasm JIT-compiled and run; a missing app is an error of the
/// runtime (status 1), not of the kernel.
pub fn wasm_hello(ctx: &Context<'_>) -> Result<(), String> {
    run(
        ctx,
        &["run", "/hello.wasm", "from", "ring 3"],
        ExitStatus::Code(0),
    )?;
    run(ctx, &["run", "/no-such-app.wasm"], ExitStatus::Code(1))
}

/// Eight compute silos at once on four CPUs, each checksum right.
pub fn wasm_compute_8_silos_smp4(ctx: &Context<'_>) -> Result<(), String> {
    let online = percpu::online();
    ensure!(online == 4, "{online} CPUs online; run with -smp 4");
    boot(ctx, "/compute8.toml")
}

/// Every trap kind ends its own silo only; a well-behaved app beside them
/// finishes.
pub fn wasm_trap_isolation(ctx: &Context<'_>) -> Result<(), String> {
    boot(ctx, "/traps.toml")
}

/// Infinite loops are stopped by their wall and CPU deadlines while
/// another silo finishes.
pub fn wasm_deadline_kill(ctx: &Context<'_>) -> Result<(), String> {
    boot(ctx, "/deadline.toml")
}

/// Malformed, truncated, invalid and missing code is rejected with a
/// reason; the runtime goes on. A malformed manifest is refused whole.
pub fn wasm_malformed_rejected(ctx: &Context<'_>) -> Result<(), String> {
    boot(ctx, "/malformed.toml")?;
    run(ctx, &["boot", "/bad-manifest.toml"], ExitStatus::Code(1))
}

/// The same app deployed twice: compiled once, the second from the cache.
pub fn wasm_code_cache(ctx: &Context<'_>) -> Result<(), String> {
    boot(ctx, "/cache.toml")
}
