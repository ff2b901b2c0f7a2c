//! The scenarios. Each checks its own results and says why it failed; the
//! host harness additionally checks what it printed and how QEMU exited.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{
    Context, Scenario, sched_scenarios, sec_scenarios, std_scenarios, user_scenarios,
    wasm_scenarios,
};
use crate::arch::serial;
use crate::boot::cmdline::Problem;
use crate::mm::kernel_space::{FRAMES, kernel_image, with_kernel_mapper};
use crate::mm::paging::Flags;
use crate::mm::{HHDM_BASE, PAGE_SIZE, PhysRange, heap, phys_to_virt};

pub const ALL: &[(&str, Scenario)] = &[
    ("boot_banner", boot_banner),
    ("cmdline_unknown_option", cmdline_unknown_option),
    ("frame_stress", frame_stress),
    ("heap_stress", heap_stress),
    ("kernel_mappings", kernel_mappings),
    ("page_fault_report", page_fault_report),
    ("panic_exit", panic_exit),
    ("stack_overflow_report", stack_overflow_report),
    ("boot_module", boot_module),
    ("smp_all_cpus_online", smp_all_cpus_online),
    ("ioapic_rtc_irq", ioapic_rtc_irq),
    (
        "preempt_busy_threads",
        sched_scenarios::preempt_busy_threads,
    ),
    ("sleep_accuracy", sched_scenarios::sleep_accuracy),
    ("thread_join_64", sched_scenarios::thread_join_64),
    (
        "wait_queue_ping_pong",
        sched_scenarios::wait_queue_ping_pong,
    ),
    ("affinity_respected", sched_scenarios::affinity_respected),
    (
        "timed_wait_preempted",
        sched_scenarios::timed_wait_preempted,
    ),
    (
        "wake_while_switching",
        sched_scenarios::wake_while_switching,
    ),
    ("user_hello", user_scenarios::user_hello),
    ("user_fault_isolation", user_scenarios::user_fault_isolation),
    ("syscall_bad_pointers", user_scenarios::syscall_bad_pointers),
    ("user_threads_64", user_scenarios::user_threads_64),
    ("futex_cross_cpu", user_scenarios::futex_cross_cpu),
    ("wx_refused", user_scenarios::wx_refused),
    ("user_sleep", user_scenarios::user_sleep),
    ("static_pie_load", user_scenarios::static_pie_load),
    ("fpu_state_per_thread", user_scenarios::fpu_state_per_thread),
    ("fpu_state_fxsave", user_scenarios::fpu_state_fxsave),
    ("silo_memory_freed", user_scenarios::silo_memory_freed),
    ("ipc_ping_pong", user_scenarios::ipc_ping_pong),
    ("ipc_fast_path", user_scenarios::ipc_fast_path),
    ("cap_denied", user_scenarios::cap_denied),
    ("cap_attenuation", user_scenarios::cap_attenuation),
    ("cap_transfer_revoke", user_scenarios::cap_transfer_revoke),
    ("ipc_peer_death", user_scenarios::ipc_peer_death),
    ("ipc_bad_messages", user_scenarios::ipc_bad_messages),
    ("ipc_shared_memory", user_scenarios::ipc_shared_memory),
    ("scheme_bulk_16mib", user_scenarios::scheme_bulk_16mib),
    ("namespace_isolation", user_scenarios::namespace_isolation),
    (
        "user_irq_notification",
        user_scenarios::user_irq_notification,
    ),
    ("sys_introspection", user_scenarios::sys_introspection),
    ("tlb_shootdown", user_scenarios::tlb_shootdown),
    ("user_affinity", user_scenarios::user_affinity),
    ("user_bench_smoke", user_scenarios::user_bench_smoke),
    ("silo_spawn", user_scenarios::silo_spawn),
    ("silo_init_archive", user_scenarios::silo_init_archive),
    ("init_demo", user_scenarios::init_demo),
    ("device_caps", user_scenarios::device_caps),
    ("syscall_fuzz", super::fuzz_scenarios::syscall_fuzz),
    ("std_hello", std_scenarios::std_hello),
    ("std_selftest_smp4", std_scenarios::std_selftest_smp4),
    ("wasm_hello", wasm_scenarios::wasm_hello),
    (
        "wasm_compute_8_silos_smp4",
        wasm_scenarios::wasm_compute_8_silos_smp4,
    ),
    ("wasm_trap_isolation", wasm_scenarios::wasm_trap_isolation),
    ("wasm_deadline_kill", wasm_scenarios::wasm_deadline_kill),
    (
        "wasm_malformed_rejected",
        wasm_scenarios::wasm_malformed_rejected,
    ),
    ("wasm_code_cache", wasm_scenarios::wasm_code_cache),
    ("wasm_silo_service", wasm_scenarios::wasm_silo_service),
    ("wasm_memory_baseline", wasm_scenarios::wasm_memory_baseline),
    ("sec_shared_map_race", sec_scenarios::sec_shared_map_race),
    (
        "sec_fs_base_canonical",
        sec_scenarios::sec_fs_base_canonical,
    ),
    ("sec_derive_chain", sec_scenarios::sec_derive_chain),
    (
        "sec_early_wake_no_leak",
        sec_scenarios::sec_early_wake_no_leak,
    ),
    ("sec_scheme_squat", sec_scenarios::sec_scheme_squat),
    ("sec_unmap_shootdown", sec_scenarios::sec_unmap_shootdown),
    ("vm_race_stress", sec_scenarios::vm_race_stress),
];

macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

/// xorshift64: deterministic pseudo-random numbers for stress patterns.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The banner was printed before the scenario; check what it summarised.
fn boot_banner(ctx: &Context<'_>) -> Result<(), String> {
    ensure!(
        ctx.cmdline.test == Some("boot_banner"),
        "command line not parsed: {:?}",
        ctx.info.cmdline
    );
    ensure!(!ctx.info.regions.is_empty(), "no memory map");
    Ok(())
}

fn cmdline_unknown_option(ctx: &Context<'_>) -> Result<(), String> {
    ensure!(
        ctx.cmdline
            .problems()
            .contains(&Problem::Unknown("frobnicate=7")),
        "unknown option not recorded: {:?}",
        ctx.cmdline.problems()
    );
    Ok(())
}

const STAMP: u64 = 0x5eed_f00d_cafe_d00d;

/// Takes every free frame (twice: single frames, then 2 MiB runs), checks
/// none is handed out twice or overlaps the kernel or a module, writes to
/// each, and checks every frame comes back.
fn frame_stress(ctx: &Context<'_>) -> Result<(), String> {
    // Heap allocations happen before taking the frame lock: heap growth
    // takes that lock too.
    let forbidden: Vec<PhysRange> = core::iter::once(kernel_image())
        .chain(core::iter::once(PhysRange::new(0, 0x10_0000)))
        .chain(ctx.info.modules.iter().map(|m| m.range))
        .collect();
    let mut runs = Vec::with_capacity(
        ctx.info
            .regions
            .iter()
            .map(|r| r.range.len() as usize)
            .sum::<usize>()
            >> 21,
    );
    let mut guard = FRAMES.lock();
    let fa = guard.as_mut().ok_or("no frame allocator")?;
    let before = fa.free_frames();

    // Round 1: single frames, chained through their first word.
    let mut head = 0u64;
    let mut count = 0usize;
    while let Some(f) = fa.alloc() {
        let page = PhysRange::new(f, f + PAGE_SIZE);
        ensure!(
            !forbidden.iter().any(|r| r.overlaps(&page)),
            "frame {f:#x} is reserved memory"
        );
        let words = phys_to_virt(f) as *mut u64;
        // SAFETY: the frame is ours until freed and mapped in the direct map.
        unsafe {
            ensure!(
                words.add(1).read() != STAMP ^ f,
                "frame {f:#x} handed out twice"
            );
            words.write(head);
            words.add(1).write(STAMP ^ f);
        }
        head = f;
        count += 1;
    }
    ensure!(
        count == before,
        "allocated {count} frames, {before} were free"
    );
    while head != 0 {
        let words = phys_to_virt(head) as *mut u64;
        // SAFETY: still our frame; we wrote both words above.
        let next = unsafe {
            ensure!(
                words.add(1).read() == STAMP ^ head,
                "frame {head:#x} was overwritten"
            );
            words.add(1).write(0);
            words.read()
        };
        fa.free(head);
        head = next;
    }
    ensure!(
        fa.free_frames() == before,
        "leak: {} of {before} frames free",
        fa.free_frames()
    );

    // Round 2: 2 MiB aligned runs.
    while let Some(run) = fa.alloc_contiguous(512, 0x20_0000) {
        ensure!(run.is_multiple_of(0x20_0000), "run {run:#x} misaligned");
        ensure!(
            runs.len() < runs.capacity(),
            "more 2 MiB runs than RAM holds"
        );
        runs.push(run);
    }
    ensure!(!runs.is_empty(), "no 2 MiB run available");
    for run in &runs {
        fa.free_contiguous(*run, 512);
    }
    ensure!(
        fa.free_frames() == before,
        "leak after runs: {} of {before}",
        fa.free_frames()
    );
    let mib = (count as u64 * PAGE_SIZE) >> 20;
    drop(guard);
    log::info!(
        "frame_stress: {count} frames ({mib} MiB) and {} 2 MiB runs round-tripped",
        runs.len()
    );
    Ok(())
}

/// Many allocations of mixed sizes and alignments, a large one that makes
/// the heap grow, a map; contents verified; usage back to the start.
fn heap_stress(_: &Context<'_>) -> Result<(), String> {
    let start = heap::usage();
    {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let mut blocks: Vec<Vec<u8>> = Vec::new();
        for round in 0..4u8 {
            for _ in 0..1000 {
                let len = (rng.next() % 4096) as usize + 1;
                blocks.push(alloc::vec![round ^ (len as u8); len]);
            }
            // Free about half, in a scattered order.
            let mut i = 0;
            blocks.retain(|_| {
                i += 1;
                rng.next().is_multiple_of(2) || i % 7 == 0
            });
        }
        for b in &blocks {
            let v = b[0];
            ensure!(
                b.iter().all(|&x| x == v),
                "heap block of {} bytes corrupted",
                b.len()
            );
        }
        let big = alloc::vec![0xa5u8; 8 << 20];
        ensure!(
            big.iter().step_by(4096).all(|&x| x == 0xa5),
            "8 MiB block corrupted"
        );
        let aligned: Vec<Box<Page>> = (0..64).map(|i| Box::new(Page([i; 4096]))).collect();
        for (i, p) in aligned.iter().enumerate() {
            ensure!(
                (&**p as *const Page as u64).is_multiple_of(4096),
                "page-aligned box misaligned"
            );
            ensure!(p.0.iter().all(|&x| x == i as u8), "aligned box corrupted");
        }
        let map: BTreeMap<u64, u64> = (0..10_000).map(|k| (k, k * k)).collect();
        ensure!(
            map.get(&9_999) == Some(&(9_999 * 9_999)),
            "BTreeMap lookup wrong"
        );
    }
    let end = heap::usage();
    ensure!(
        end.allocated == start.allocated && end.allocations == start.allocations,
        "heap leak: {start:?} -> {end:?}"
    );
    log::info!("heap_stress: ok, heap claimed {} KiB", end.claimed >> 10);
    Ok(())
}

#[repr(align(4096))]
struct Page([u8; 4096]);

/// The kernel page tables enforce what `mm::kernel_space` promises.
fn kernel_mappings(_: &Context<'_>) -> Result<(), String> {
    let text = kernel_mappings as Scenario as usize as u64;
    let rodata = ALL.as_ptr() as u64;
    let data = &FRAMES as *const _ as u64;
    let guard = &raw const crate::arch::x86_64::entry::BOOT_STACK as u64;
    let kernel = kernel_image();
    with_kernel_mapper(|m| {
        let flags = |va: u64| m.translate(va).map(|(_, f)| f);
        let t = flags(text).ok_or("text unmapped")?;
        ensure!(
            !t.contains(Flags::WRITABLE) && !t.contains(Flags::NO_EXECUTE),
            "text flags {t:?}"
        );
        let r = flags(rodata).ok_or("rodata unmapped")?;
        ensure!(
            !r.contains(Flags::WRITABLE) && r.contains(Flags::NO_EXECUTE),
            "rodata flags {r:?}"
        );
        let d = flags(data).ok_or("data unmapped")?;
        ensure!(
            d.contains(Flags::WRITABLE | Flags::NO_EXECUTE),
            "data flags {d:?}"
        );
        ensure!(flags(0).is_none(), "page 0 is mapped");
        ensure!(flags(guard).is_none(), "boot stack guard page is mapped");
        ensure!(flags(guard + PAGE_SIZE).is_some(), "boot stack unmapped");
        let (pa, f) = m
            .translate(HHDM_BASE + kernel.start)
            .ok_or("direct map misses the kernel")?;
        ensure!(
            pa == kernel.start && f.contains(Flags::NO_EXECUTE),
            "direct map wrong"
        );
        let mut va = crate::mm::KERNEL_BASE + kernel.start;
        while va < crate::mm::KERNEL_BASE + kernel.end {
            if let Some(f) = flags(va) {
                ensure!(!f.is_wx(), "kernel page {va:#x} is writable and executable");
            }
            va += PAGE_SIZE;
        }
        Ok(())
    })
}

/// Touches an unmapped kernel address; the fault handler must report it
/// and end the run (the harness checks the report and the exit status).
fn page_fault_report(_: &Context<'_>) -> Result<(), String> {
    let bad = 0xffff_9000_0000_0000 as *const u64;
    // SAFETY: deliberately invalid; the read faults and never returns.
    let v = unsafe { bad.read_volatile() };
    Err(format!("read of an unmapped address returned {v:#x}"))
}

/// Recurses until the boot stack runs into its guard page. The page fault
/// cannot be delivered on the same stack, so the CPU raises a double
/// fault, which runs on its own IST stack and must be reported.
fn stack_overflow_report(_: &Context<'_>) -> Result<(), String> {
    #[allow(unconditional_recursion)]
    fn recurse(depth: u64) -> u64 {
        let pad = core::hint::black_box([depth; 64]);
        pad[(depth % 64) as usize] + core::hint::black_box(recurse)(depth + 1)
    }
    let v = recurse(0);
    Err(format!("unbounded recursion returned {v}"))
}

fn panic_exit(_: &Context<'_>) -> Result<(), String> {
    panic!("deliberate panic from scenario panic_exit");
}

/// FNV-1a, 64 bit: the harness computes the same over the file it passed.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn boot_module(ctx: &Context<'_>) -> Result<(), String> {
    let m = ctx
        .info
        .modules
        .first()
        .ok_or("no boot module was passed")?;
    // SAFETY: the module was validated to lie in RAM, which the direct map
    // covers, and its frames are reserved from the allocator.
    let bytes = unsafe {
        core::slice::from_raw_parts(
            phys_to_virt(m.range.start) as *const u8,
            m.range.len() as usize,
        )
    };
    serial::write_line(format_args!(
        "module {}: {} bytes, fnv1a64={:#018x}",
        m.index,
        bytes.len(),
        fnv1a64(bytes)
    ));
    Ok(())
}

/// Every CPU the firmware lists came online, each with its own APIC ID and
/// per-CPU block.
fn smp_all_cpus_online(ctx: &Context<'_>) -> Result<(), String> {
    use crate::arch::x86_64::percpu;
    let listed = ctx.topology.cpus.len();
    ensure!(
        listed >= 2,
        "the firmware lists {listed} CPU(s); run with -smp 2 or more"
    );
    ensure!(
        percpu::online() == listed,
        "{} of {listed} CPUs online",
        percpu::online()
    );
    let mut ids = Vec::new();
    for i in 0..listed {
        let cpu = percpu::cpu(i).ok_or_else(|| format!("cpu {i} has no per-CPU block"))?;
        ensure!(cpu.index == i, "cpu {i} thinks it is cpu {}", cpu.index);
        ensure!(
            ctx.topology.cpus.contains(&cpu.apic_id),
            "cpu {i} has unlisted APIC ID {}",
            cpu.apic_id
        );
        ensure!(
            !ids.contains(&cpu.apic_id),
            "APIC ID {} used twice",
            cpu.apic_id
        );
        ids.push(cpu.apic_id);
    }
    Ok(())
}

static RTC_TICKS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

fn rtc_tick(_vector: u8) {
    crate::arch::x86_64::rtc::ack();
    RTC_TICKS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
}

/// A device interrupt end to end: the RTC's periodic interrupt (ISA IRQ 8)
/// routed through the I/O APIC to a vector on this CPU, counted by a
/// handler; masking the line stops it.
fn ioapic_rtc_irq(_: &Context<'_>) -> Result<(), String> {
    use crate::arch::x86_64::{apic, ioapic, irq, rtc};
    use core::sync::atomic::Ordering;
    const VECTOR: u8 = 0x40;
    ensure!(
        irq::attach(0x10, rtc_tick) == Err(irq::IrqError::NotADeviceVector(0x10)),
        "an exception vector was accepted for a device"
    );
    irq::attach(VECTOR, rtc_tick).map_err(|e| format!("attach: {e:?}"))?;
    let route = ioapic::isa_route(rtc::IRQ);
    // Pin this thread: the route targets this CPU's APIC.
    let me = crate::sched::current();
    let cpu = crate::arch::x86_64::percpu::current().index;
    me.set_affinity(crate::sched::cpuset::CpuSet::single(cpu));
    ioapic::route(route, VECTOR, apic::id()).map_err(|e| format!("route: {e:?}"))?;
    rtc::set_periodic(Some(10)); // 64 Hz
    crate::sched::sleep_ns(300_000_000);
    let ticks = RTC_TICKS.load(Ordering::Relaxed);
    rtc::set_periodic(None);
    ioapic::mask(route.gsi).map_err(|e| format!("mask: {e:?}"))?;
    crate::sched::sleep_ns(50_000_000);
    let after_mask = RTC_TICKS.load(Ordering::Relaxed);
    crate::sched::sleep_ns(100_000_000);
    let later = RTC_TICKS.load(Ordering::Relaxed);
    irq::detach(VECTOR).map_err(|e| format!("detach: {e:?}"))?;
    me.set_affinity(crate::sched::cpuset::CpuSet::ALL);
    ensure!(
        ticks >= 5,
        "only {ticks} RTC interrupts in 300 ms at 64 Hz (GSI {})",
        route.gsi
    );
    ensure!(
        later == after_mask,
        "interrupts kept arriving after masking ({after_mask} -> {later})"
    );
    log::info!(
        "ioapic_rtc_irq: {ticks} RTC interrupts through GSI {} in 300 ms",
        route.gsi
    );
    Ok(())
}
