//! Kernel test mode: `test=<scenario>` on the command line runs one
//! scenario after boot and leaves QEMU with its verdict; `test=list` lists
//! them. The line formats and exit codes come from `bedrock-testproto`,
//! shared with the host harness (`cargo xtask test`).

mod fuzz_scenarios;
mod scenarios;
mod sched_scenarios;
mod sec_scenarios;
mod std_scenarios;
mod user_scenarios;
mod wasm_scenarios;

use alloc::string::String;

use crate::arch::{cpu, qemu_exit, serial};
use crate::boot::BootInfo;
use crate::boot::cmdline::Cmdline;
use bedrock_testproto::{ExitCode, LIST, Line};

/// What a scenario may look at.
pub struct Context<'a> {
    pub info: &'a BootInfo,
    pub cmdline: &'a Cmdline<'a>,
    pub topology: &'a crate::acpi::topology::Topology,
}

/// A scenario returns `Err(reason)` to fail; it may also never return
/// (scenarios that test the fault and panic paths).
pub type Scenario = fn(&Context<'_>) -> Result<(), String>;

/// Waits for `silo` to end, at most `timeout_ns`; if it does not, logs
/// what every CPU, every thread of the silo and every futex waiter is
/// doing (so a hang in CI comes with its diagnosis), then ends the silo.
fn wait_or_dump(
    silo: &crate::silo::Silo,
    timeout_ns: u64,
) -> Result<crate::silo::ExitStatus, String> {
    let deadline = crate::arch::x86_64::tsc::now_ns() + timeout_ns;
    if let Some(status) = silo.end.wait(Some(deadline)) {
        return Ok(status);
    }
    log::warn!(
        "silo {} ({}) did not end within {} ms: state dump",
        silo.id,
        silo.name,
        timeout_ns / 1_000_000
    );
    crate::sched::log_state();
    for t in silo.threads() {
        log::warn!("{t:?}");
    }
    crate::syscall::log_futex_waiters();
    silo.terminate(crate::silo::ExitStatus::Killed);
    Err(alloc::format!(
        "silo {} did not end within {} ms (state dump above)",
        silo.name,
        timeout_ns / 1_000_000
    ))
}

/// Program `name` of the boot archive (`kmain::boot_archive`), for the
/// scenarios that start ring-3 programs.
fn boot_program(ctx: &Context<'_>, name: &str) -> Result<&'static [u8], String> {
    let bytes = crate::kmain::boot_archive(ctx.info)
        .ok_or("no boot module (the initrd archive) was passed")?;
    let archive = crate::initrd::Archive::parse(bytes)
        .map_err(|e| alloc::format!("boot module is not an archive: {e}"))?;
    Ok(archive
        .find(name)
        .ok_or_else(|| alloc::format!("no {name} in the boot archive"))?
        .data)
}

fn say(line: Line<'_>) {
    serial::write_line(format_args!("{line}"));
}

fn finish(code: ExitCode) -> ! {
    qemu_exit(code);
    cpu::halt_forever()
}

pub fn run(name: &str, ctx: &Context<'_>) -> ! {
    if name == LIST {
        for (n, _) in scenarios::ALL {
            say(Line::Listed(n));
        }
        finish(ExitCode::Success);
    }
    let Some((_, scenario)) = scenarios::ALL.iter().find(|(n, _)| *n == name) else {
        say(Line::Failed(name, "no such scenario in this kernel"));
        finish(ExitCode::Failure);
    };
    say(Line::Start(name));
    match scenario(ctx) {
        Ok(()) => {
            say(Line::Ok(name));
            finish(ExitCode::Success)
        }
        Err(reason) => {
            say(Line::Failed(name, &reason));
            finish(ExitCode::Failure)
        }
    }
}
