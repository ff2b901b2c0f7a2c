//! Kernel initialisation after the PVH entry; the order is documented in
//! [`crate::boot`].

use alloc::boxed::Box;
use alloc::vec::Vec;
use log::{LevelFilter, info, warn};

use crate::acpi::topology::Topology;
use crate::arch::x86_64::hpet::{Hpet, PmTimer};
use crate::arch::x86_64::{apic, gdt, idt, percpu, smp, tsc};
use crate::arch::{cpu, qemu_exit, serial};
use crate::boot::BootInfo;
use crate::boot::cmdline::{Cmdline, LogLevel, Problem};
use crate::boot::pvh::{self, PhysRead, Unreachable};
use crate::mm::kernel_space::{self, Caching, map_direct};
use crate::mm::{PAGE_SIZE, PhysRange, phys_to_virt};
use crate::sched::{self, cpuset::CpuSet, queue::DEFAULT_PRIORITY};
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
    percpu::init_bsp(cpu::apic_id());
    serial::init();
    crate::klog::init(LevelFilter::Info);
    gdt::init_bsp();
    idt::init();
    cpu::init_features();
    cpu::init_mwait();
    crate::arch::x86_64::syscall::init_cpu();
    tsc::calibrate_pit();

    let boot_info = match pvh::parse(&BootWindow, start_info, kernel_space::kernel_image()) {
        Ok(info) => info,
        Err(e) => panic!("cannot boot: {e}"),
    };
    {
        let early = Cmdline::parse(&boot_info.cmdline);
        if let Some(level) = early.log_level {
            log::set_max_level(level_filter(level));
        }
        if early.fpu_fxsave {
            cpu::disable_xsave();
        }
    }
    cpu::init_xsave();
    let memory = kernel_space::init(&boot_info);
    // From here on the heap works; boot data lives as long as the kernel.
    let boot_info: &'static BootInfo = Box::leak(Box::new(boot_info));
    let cmdline: &'static Cmdline<'static> =
        Box::leak(Box::new(Cmdline::parse(&boot_info.cmdline)));

    serial::write_line(format_args!(
        "Bedrock {} x86_64: {} MiB usable, command line \"{}\"",
        crate::VERSION,
        memory.usable_bytes >> 20,
        boot_info.cmdline
    ));
    let (fpu, fpu_bytes) = cpu::fpu_mode();
    info!(
        "{} free frames; user FPU state by {fpu} ({fpu_bytes} bytes)",
        memory.free_frames
    );
    report_boot_problems(boot_info, cmdline);

    let topology: &'static Topology = Box::leak(Box::new(discover_platform(boot_info)));
    crate::time::init();
    let lines = crate::arch::x86_64::ioapic::init(topology);
    info!(
        "ioapic: {} I/O APIC(s), {lines} interrupt lines, all masked",
        topology.ioapics.len()
    );
    crate::ipc::device::init(boot_info, topology);
    start_cpus(topology);

    let main = move || match cmdline.test {
        Some(name) => {
            let ctx = crate::testing::Context {
                info: boot_info,
                cmdline,
                topology,
            };
            crate::testing::run(name, &ctx)
        }
        None => run_init(boot_info, cmdline),
    };
    if let Err(e) = sched::spawn("main", DEFAULT_PRIORITY, CpuSet::ALL, main) {
        panic!("cannot create the main thread: {e:?}");
    }
    sched::idle_loop()
}

/// Starts init (`init=`, default `init`) from the boot archive as the
/// first silo, with the `init.args=` arguments, and powers off when it ends
/// (with a failure status if it failed): until the runtime silo exists,
/// init's exit is the end of the system's work.
fn run_init(info: &BootInfo, cmdline: &Cmdline<'_>) -> ! {
    let name = cmdline.init.unwrap_or("init");
    let args: Vec<&str> = cmdline.init_args().collect();
    let code = match start_init(info, name, &args) {
        Err(e) => {
            log::error!("cannot start {name}: {e}");
            ExitCode::Failure
        }
        Ok(None) => ExitCode::Success,
        Ok(Some(silo)) => {
            let status = silo.wait();
            info!("{name} ended: {status}");
            if status == crate::silo::ExitStatus::Code(0) {
                ExitCode::Success
            } else {
                ExitCode::Failure
            }
        }
    };
    info!("powering off");
    qemu_exit(code);
    cpu::halt_forever()
}

/// The boot archive (boot module 0), if there is one.
pub fn boot_archive(info: &BootInfo) -> Option<&'static [u8]> {
    let m = info.modules.first()?;
    // SAFETY: validated module memory in RAM, reserved from the frame
    // allocator and covered by the direct map for the kernel's lifetime.
    Some(unsafe {
        core::slice::from_raw_parts(
            phys_to_virt(m.range.start) as *const u8,
            m.range.len() as usize,
        )
    })
}

/// Starts program `name` of the boot archive as the first silo with
/// `argv = [name, args...]`: it gets the archive as handle
/// `BOOT_ARCHIVE_HANDLE`, the platform authority as `PLATFORM_HANDLE` and
/// the root namespace, whatever its name.
/// `Ok(None)`: nothing to run (no archive, or no such program).
pub fn start_init(
    info: &BootInfo,
    name: &str,
    args: &[&str],
) -> Result<Option<alloc::sync::Arc<crate::silo::Silo>>, alloc::string::String> {
    let bytes = boot_archive(info);
    let archive = bytes.and_then(|b| {
        crate::initrd::Archive::parse(b)
            .inspect_err(|e| warn!("boot module 0 is not a boot archive: {e}"))
            .ok()
    });
    let (Some(bytes), Some(file)) = (bytes, archive.as_ref().and_then(|a| a.find(name))) else {
        warn!("no \"{name}\" in the boot archive; nothing to run");
        return Ok(None);
    };
    let argv: Vec<&str> = core::iter::once(name).chain(args.iter().copied()).collect();
    let mut with =
        crate::silo::Spawn::first(bytes).map_err(|e| alloc::format!("boot archive handle: {e}"))?;
    // Handle 2 (`PLATFORM_HANDLE`): the platform authority, from which
    // init's drivers get their device capabilities.
    with.caps.push(crate::cap::Cap::new(
        crate::cap::Object::Platform(alloc::sync::Arc::new(crate::ipc::device::Platform)),
        crate::ipc::device::PLATFORM_RIGHTS,
    ));
    crate::silo::spawn_elf_with(name, file.data, &argv, &[], with)
        .map(Some)
        .map_err(|e| alloc::format!("{e}"))
}

/// Reads ACPI and refines the TSC calibration with the best reference
/// clock found. Without ACPI the machine is treated as one CPU.
fn discover_platform(info: &BootInfo) -> Topology {
    let topology = match info.rsdp.map(crate::acpi::discover) {
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            warn!("ACPI tables unusable ({e:?}); running on the boot CPU only");
            Topology::default()
        }
        None => {
            warn!("no ACPI RSDP from the loader; running on the boot CPU only");
            Topology::default()
        }
    };
    let hpet = topology.hpet_address.and_then(|addr| {
        let virt = map_direct(PhysRange::new(addr, addr + 1024), Caching::Uncached).ok()?;
        // SAFETY: `virt` maps the HPET register block (uncached).
        unsafe { Hpet::new(virt) }
    });
    let (source, hz) = match (hpet, topology.pm_timer) {
        (Some(mut hpet), _) => ("HPET", tsc::calibrate_with(&mut hpet)),
        (None, Some(pm)) => (
            "PM timer",
            tsc::calibrate_with(&mut PmTimer::new(pm.port, pm.wide)),
        ),
        (None, None) => ("PIT", tsc::frequency()),
    };
    info!(
        "acpi: {} CPUs, {} I/O APICs, TSC {}.{:03} MHz (calibrated with the {source})",
        topology.cpus.len(),
        topology.ioapics.len(),
        hz / 1_000_000,
        hz / 1000 % 1000
    );
    topology
}

/// Enables the boot CPU's local APIC and starts the other CPUs.
fn start_cpus(topology: &Topology) {
    apic::disable_legacy_pic();
    let lapic = if topology.local_apic_address != 0 {
        topology.local_apic_address
    } else {
        0xfee0_0000
    };
    let mmio = match map_direct(PhysRange::new(lapic, lapic + PAGE_SIZE), Caching::Uncached) {
        Ok(v) => v,
        Err(e) => panic!("cannot map the local APIC: {e:?}"),
    };
    apic::select_mode(mmio);
    apic::init_cpu();
    apic::timer_calibrate();
    sched::init_cpu();
    info!(
        "apic: {} mode, {} timer, boot CPU APIC ID {}",
        if apic::is_x2apic() { "x2APIC" } else { "xAPIC" },
        apic::timer_mode(),
        apic::id()
    );
    if topology.cpus.len() > 1 {
        smp::start_aps(&topology.cpus);
    }
    info!("smp: {} CPUs online", percpu::online());
}

/// Where application processors go once set up: their idle loop.
pub fn ap_main() -> ! {
    sched::init_cpu();
    sched::idle_loop()
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
