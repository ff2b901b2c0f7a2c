//! Scenarios for native silos: Rust std programs (`examples/native`, built
//! for the hermit target over the native-silo libOS) from the boot archive.
//! The programs print what they checked; the harness reads those lines.
//! A program that panics must end its own silo with status 134 (abort)
//! while the kernel goes on.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;

use super::Context;
use crate::arch::x86_64::percpu;
use crate::silo::{self, ExitStatus, Silo};

/// The status of a program that aborted (a panic: the hermit target is
/// panic=abort); the libOS's `ABORT_STATUS`.
const ABORTED: ExitStatus = ExitStatus::Code(134);

macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

/// Program `name` of the boot archive.
fn program(ctx: &Context<'_>, name: &str) -> Result<&'static [u8], String> {
    super::boot_program(ctx, name)
}

/// Starts `argv[0]` from the boot archive with `argv`, `envp` and a
/// namespace of `schemes`.
fn start(
    ctx: &Context<'_>,
    argv: &[&str],
    envp: &[&str],
    schemes: &[&str],
) -> Result<Arc<Silo>, String> {
    let elf = program(ctx, argv[0])?;
    silo::spawn_elf_with(
        argv[0],
        elf,
        argv,
        envp,
        silo::Spawn {
            namespace: schemes.iter().map(|s| String::from(*s)).collect(),
            ..silo::Spawn::default()
        },
    )
    .map_err(|e| format!("cannot start {}: {e}", argv[0]))
}

/// How long a std program of these scenarios may take (each needs well
/// under a second, even under TCG): past this it hangs.
const HANG_NS: u64 = 60_000_000_000;

fn expect(what: &str, s: &Arc<Silo>, want: ExitStatus) -> Result<(), String> {
    let status = super::wait_or_dump(s, HANG_NS)?;
    ensure!(
        status == want,
        "{what} ended with {status}, expected {want}"
    );
    Ok(())
}

/// `std-hello` prints its arguments and environment and exits 0; run
/// again with `panic`, it panics and its silo alone ends, aborted.
pub fn std_hello(ctx: &Context<'_>) -> Result<(), String> {
    let hello = start(
        ctx,
        &["std-hello", "one", "two words"],
        &["GREETING=hi from the kernel", "OTHER=x"],
        &[],
    )?;
    expect("std-hello", &hello, ExitStatus::Code(0))?;
    let panicking = start(ctx, &["std-hello", "panic"], &[], &[])?;
    expect("std-hello panic", &panicking, ABORTED)?;
    // The kernel goes on: another std program runs to completion.
    let again = start(ctx, &["std-hello"], &[], &[])?;
    expect("std-hello after the panic", &again, ExitStatus::Code(0))
}

/// `std-selftest` on four CPUs: threads, channels, contended locks, clocks,
/// random hashing and files through a scheme it serves itself; then a
/// panic in one of its threads must end the silo, not hang it.
pub fn std_selftest_smp4(ctx: &Context<'_>) -> Result<(), String> {
    let online = percpu::online();
    ensure!(online == 4, "{online} CPUs online; run with -smp 4");
    let selftest = start(ctx, &["std-selftest"], &[], &["+stdtest"])?;
    expect("std-selftest", &selftest, ExitStatus::Code(0))?;
    let panicking = start(ctx, &["std-selftest", "panic-thread"], &[], &[])?;
    expect("std-selftest panic-thread", &panicking, ABORTED)?;
    Ok(())
}
