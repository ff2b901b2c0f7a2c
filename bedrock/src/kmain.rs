//! Kernel initialisation after the PVH entry; the order is documented in
//! [`crate::boot`].

use core::fmt::Write;
use log::{LevelFilter, info, warn};

use crate::arch::x86_64::{gdt, idt, tsc};
use crate::arch::{cpu, qemu_exit, serial};
use crate::boot::BootInfo;
use crate::boot::cmdline::{Cmdline, LogLevel, Problem};
use crate::boot::pvh::{self, PhysRead, Unreachable};
use crate::mm::{kernel_space, phys_to_virt};
use bedrock_testproto::ExitCode;

/// Physical memory as the boot page tables show it: the first 4 GiB
/// through the direct map.
struct BootWindow;

impl PhysRead for BootWindow {
    fn read(&self, phys: u64, buf: &mut [u8]) -> Result<(), Unreachable> {
        let end = phys.checked_add(buf.len() as u64).ok_or(Unreachable)?;
        if end > 4 << 30 {
            return Err(Unreachable);
        }
        // SAFETY: the boot tables map all of [0, 4 GiB) at the direct map.
        // Reading loader-provided memory there cannot fault; the bytes are
        // treated as untrusted by the parser.
        unsafe {
            core::ptr::copy_nonoverlapping(
                phys_to_virt(phys) as *const u8,
                buf.as_mut_ptr(),
                buf.len(),
            );
        }
        Ok(())
    }
}

fn level_filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Error => LevelFilter::Error,
        LogLevel::Warn => LevelFilter::Warn,
        LogLevel::Info => LevelFilter::Info,
        LogLevel::Debug => LevelFilter::Debug,
        LogLevel::Trace => LevelFilter::Trace,
    }
}

/// Called by `pvh_start64` on the boot stack with the physical address of
/// the PVH start info.
pub extern "C" fn kmain(start_info: u64) -> ! {
    tsc::mark_boot();
    serial::init();
    crate::klog::init(LevelFilter::Info);
    gdt::init();
    idt::init();
    let tsc_per_us = tsc::calibrate();

    let boot_info = match pvh::parse(&BootWindow, start_info, kernel_space::kernel_image()) {
        Ok(info) => info,
        Err(e) => panic!("cannot boot: {e}"),
    };
    let cmdline = Cmdline::parse(&boot_info.cmdline);
    if let Some(level) = cmdline.log_level {
        log::set_max_level(level_filter(level));
    }
    let memory = kernel_space::init(&boot_info);

    {
        let mut uart = serial::COM1_UART.lock();
        let _ = writeln!(
            uart,
            "Bedrock {} x86_64: {} MiB usable, command line \"{}\"",
            crate::VERSION,
            memory.usable_bytes >> 20,
            boot_info.cmdline
        );
    }
    info!(
        "tsc {} MHz, {} free frames, boot cpu {}",
        tsc_per_us,
        memory.free_frames,
        cpu::apic_id()
    );
    report_boot_problems(&boot_info, &cmdline);

    if let Some(name) = cmdline.test {
        crate::testing::run(
            name,
            &crate::testing::Context {
                info: &boot_info,
                cmdline: &cmdline,
            },
        );
    }
    info!("boot complete; this kernel has no init to start yet, powering off");
    qemu_exit(ExitCode::Success);
    cpu::halt_forever()
}

/// Logs everything from the loader that was ignored or cut, once.
fn report_boot_problems(info: &BootInfo, cmdline: &Cmdline<'_>) {
    for p in cmdline.problems() {
        match p {
            Problem::Unknown(word) => warn!("unknown command-line option \"{word}\" ignored"),
            Problem::BadValue(word) => warn!("invalid command-line value \"{word}\" ignored"),
        }
    }
    if info.cmdline_invalid {
        warn!("command line unreadable or not UTF-8; booting with none");
    }
    if info.cmdline_truncated {
        warn!(
            "command line longer than {} bytes; cut",
            crate::boot::CMDLINE_MAX
        );
    }
    if info.regions_truncated {
        warn!(
            "memory map longer than {} entries; the rest is ignored",
            crate::boot::MAX_REGIONS
        );
    }
    for (i, problem) in &info.module_problems {
        warn!("boot module {i} rejected: {problem}");
    }
    for m in &info.modules {
        info!(
            "boot module {}: {:#x}..{:#x} ({} bytes)",
            m.index,
            m.range.start,
            m.range.end,
            m.range.len()
        );
    }
}
