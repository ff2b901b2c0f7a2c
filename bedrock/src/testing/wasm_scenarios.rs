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
use crate::arch::x86_64::{percpu, tsc};
use crate::silo::{self, ExitStatus, Silo};
use bedrock_abi::silo_service::SCHEME;

macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

/// How long one runtime-silo run may take before it counts as hung (and
/// the kernel's state is dumped): below the harness's timeouts of these
/// scenarios (180 s and more), far above their usual 5-30 s under TCG.
const RUN_NS: u64 = 150_000_000_000;

/// Starts `runtime-silo ARGS...` with the boot archive (handle 1).
fn start(ctx: &Context<'_>, args: &[&str]) -> Result<Arc<Silo>, String> {
    let bytes = crate::kmain::boot_archive(ctx.info).ok_or("no boot archive")?;
    let elf = super::boot_program(ctx, "runtime-silo")?;
    let with = silo::Spawn::first(bytes).map_err(|e| format!("archive object: {e}"))?;
    let mut argv = alloc::vec!["runtime-silo"];
    argv.extend_from_slice(args);
    silo::spawn_elf_with("runtime-silo", elf, &argv, &[], with)
        .map_err(|e| format!("cannot start runtime-silo: {e}"))
}

/// Runs `runtime-silo ARGS...` to its end, which must be `want`.
fn run(ctx: &Context<'_>, args: &[&str], want: ExitStatus) -> Result<(), String> {
    let runtime = start(ctx, args)?;
    let status = super::wait_or_dump(&runtime, RUN_NS)?;
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

/// How long the runtime silo may take to serve `silo:` (wasmtime's engine
/// set up under TCG on a loaded host), and a client to finish.
const SERVICE_START_NS: u64 = 60_000_000_000;
const CLIENT_NS: u64 = 120_000_000_000;

/// Starts `runtime-silo service` and waits until `silo:` is registered.
fn start_service(ctx: &Context<'_>) -> Result<Arc<Silo>, String> {
    let runtime = start(ctx, &["service"])?;
    let give_up = tsc::now_ns() + SERVICE_START_NS;
    while crate::scheme::lookup(SCHEME).is_none() {
        if let Some(status) = runtime.end.get() {
            return Err(format!(
                "runtime-silo ended before serving {SCHEME}: ({status})"
            ));
        }
        ensure!(
            tsc::now_ns() < give_up,
            "runtime-silo did not register {SCHEME}: in time"
        );
        crate::sched::sleep_ns(20_000_000);
    }
    Ok(runtime)
}

/// Runs `silo-client ARGS...` (namespace: `silo` only) to exit code 0.
fn client(ctx: &Context<'_>, args: &[&str]) -> Result<(), String> {
    let elf = super::boot_program(ctx, "silo-client")?;
    let mut argv = alloc::vec!["silo-client"];
    argv.extend_from_slice(args);
    let spawn = silo::Spawn {
        namespace: alloc::vec![String::from(SCHEME)],
        ..silo::Spawn::default()
    };
    let silo = silo::spawn_elf_with("silo-client", elf, &argv, &[], spawn)
        .map_err(|e| format!("cannot start silo-client: {e}"))?;
    let status = super::wait_or_dump(&silo, CLIENT_NS)?;
    ensure!(
        status == ExitStatus::Code(0),
        "silo-client {args:?} ended with {status}"
    );
    Ok(())
}

/// Ends the runtime silo (it serves until killed) and waits for it.
fn stop(runtime: &Silo) {
    runtime.terminate(ExitStatus::Killed);
    runtime.wait();
}

/// A native silo deploys wasm apps through `silo:` (the runtime silo's
/// manager over IPC) with std::fs: output, wait, status, list, kill,
/// remove and refusals, each checked by the client.
pub fn wasm_silo_service(ctx: &Context<'_>) -> Result<(), String> {
    let runtime = start_service(ctx)?;
    let result = client(ctx, &["check"]);
    stop(&runtime);
    result
}

/// Fifty cycles through `silo:` (an app deployed and run to its end, an
/// endless one deployed and killed) leave the runtime silo's memory (the
/// kernel's count of its committed pages) and its thread count where they
/// were after a warm-up: every silo's linear memory, stack and thread went
/// back, killed or not.
pub fn wasm_memory_baseline(ctx: &Context<'_>) -> Result<(), String> {
    /// Heap fragmentation and lazily grown tables may move a few pages.
    const SLACK: u64 = 512 << 10;
    let runtime = start_service(ctx)?;
    let result = (|| {
        client(ctx, &["cycles", "5"])?;
        let (baseline, threads) = (runtime.aspace.committed_bytes(), runtime.live_threads());
        client(ctx, &["cycles", "50"])?;
        // The last silo's thread and the thread that answered the last
        // wait end just after their answers: give them a moment.
        let settle = tsc::now_ns() + 2_000_000_000;
        while runtime.live_threads() != threads && tsc::now_ns() < settle {
            crate::sched::sleep_ns(10_000_000);
        }
        let (after, threads_after) = (runtime.aspace.committed_bytes(), runtime.live_threads());
        log::info!(
            "wasm_memory_baseline: runtime silo {} KiB and {threads} threads after warm-up, {} KiB and {threads_after} threads after 50 more cycles",
            baseline >> 10,
            after >> 10
        );
        ensure!(
            after <= baseline + SLACK,
            "the runtime silo grew from {baseline} to {after} bytes over 50 deploy/exit cycles"
        );
        ensure!(
            threads_after == threads,
            "the runtime silo had {threads} threads after warm-up, {threads_after} after 50 cycles"
        );
        Ok(())
    })();
    stop(&runtime);
    result
}
