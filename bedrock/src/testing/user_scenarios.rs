//! Scenarios that run ring-3 programs: the `usertest` ELF from the boot
//! module archive (packed by xtask), one case per silo.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::Context;
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
    super::boot_program(ctx, "usertest")
}

fn start(ctx: &Context<'_>, case: &str) -> Result<Arc<Silo>, String> {
    start_with(ctx, case, &[])
}

/// Starts `usertest <case> <extra>...`.
fn start_with(ctx: &Context<'_>, case: &str, extra: &[&str]) -> Result<Arc<Silo>, String> {
    let elf = usertest(ctx)?;
    let argv: Vec<&str> = ["usertest", case]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    silo::spawn_elf(&format!("usertest-{case}"), elf, &argv, &["BEDROCK_TEST=1"])
        .map_err(|e| format!("cannot start usertest {case}: {e}"))
}

fn run_ok(ctx: &Context<'_>, case: &str) -> Result<(), String> {
    run_ok_with(ctx, case, &[])
}

fn run_ok_with(ctx: &Context<'_>, case: &str, extra: &[&str]) -> Result<(), String> {
    let status = start_with(ctx, case, extra)?.wait();
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

/// The same with `fpu=fxsave`: FXSAVE alone must keep threads apart too.
pub fn fpu_state_fxsave(ctx: &Context<'_>) -> Result<(), String> {
    ensure!(ctx.cmdline.fpu_fxsave, "boot with fpu=fxsave");
    let (mode, _) = crate::arch::x86_64::cpu::fpu_mode();
    ensure!(
        mode == "FXSAVE",
        "fpu=fxsave ignored: state saved by {mode}"
    );
    run_ok(ctx, "fpu")
}

pub fn static_pie_load(ctx: &Context<'_>) -> Result<(), String> {
    run_ok(ctx, "pie")
}

pub fn user_affinity(ctx: &Context<'_>) -> Result<(), String> {
    run_ok(ctx, "affinity")
}

/// The benchmark program of `cargo xtask bench` runs (with tiny counts);
/// its figures are not judged here.
pub fn user_bench_smoke(ctx: &Context<'_>) -> Result<(), String> {
    // Started as `cargo xtask bench` starts it: as init, with the boot
    // archive, from which it spawns its IPC peers.
    let bench = crate::kmain::start_init(ctx.info, "usertest", &["bench", "quick"])?
        .ok_or("no usertest in the boot archive")?;
    expect_code0("bench", &bench)
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

fn free_frames() -> usize {
    FRAMES.lock().as_ref().map_or(0, |f| f.free_frames())
}

/// Waits (up to 2 s) for the free frame count to come back to within
/// `slack` of `before`, and returns the last count seen. A silo's last
/// thread is still leaving its CPU when `wait` returns; its address space
/// goes right after that.
pub(super) fn frames_back_to(before: usize, slack: usize) -> usize {
    let deadline = crate::arch::x86_64::tsc::now_ns() + 2_000_000_000;
    let mut now = free_frames();
    while now + slack < before && crate::arch::x86_64::tsc::now_ns() < deadline {
        crate::sched::sleep_ns(10_000_000);
        now = free_frames();
    }
    now
}

/// The free frame count once it stops changing (silos finished leaving).
pub(super) fn settled_free_frames() -> usize {
    let mut last = free_frames();
    for _ in 0..100 {
        crate::sched::sleep_ns(20_000_000);
        let now = free_frames();
        if now == last {
            break;
        }
        last = now;
    }
    last
}

/// Silos that touch 4 MiB each and exit give every frame back.
pub fn silo_memory_freed(ctx: &Context<'_>) -> Result<(), String> {
    run_ok(ctx, "memory")?; // warm-up: kernel stacks and heap reach steady state
    let before = settled_free_frames();
    for _ in 0..10 {
        run_ok(ctx, "memory")?;
    }
    let after = frames_back_to(before, 256);
    // One heap growth step (256 frames) may happen; a leaked silo would
    // lose over 1000 frames per run.
    ensure!(
        after + 256 >= before,
        "frames leaked: {before} free before, {after} after 10 silos"
    );
    Ok(())
}

/// A port for a server silo and a client silo: the server's handle can
/// receive, the client's has `client_rights`; the kernel keeps none.
fn port_pair(
    client_rights: bedrock_abi::Rights,
) -> Result<(crate::cap::Cap, crate::cap::Cap), String> {
    use crate::cap::{Cap, Object};
    use bedrock_abi::Rights;
    let port = Cap::new(
        Object::Port(Arc::new(crate::ipc::port::Port::new())),
        Rights::ALL,
    );
    let server = port
        .derive(Rights::RECEIVE, 0)
        .map_err(|e| format!("derive: {e}"))?;
    let client = port
        .derive(client_rights, 0)
        .map_err(|e| format!("derive: {e}"))?;
    Ok((server, client))
}

fn start_with_cap(
    ctx: &Context<'_>,
    case: &str,
    cap: crate::cap::Cap,
) -> Result<Arc<Silo>, String> {
    start_full(
        ctx,
        case,
        silo::Spawn {
            caps: alloc::vec![cap],
            namespace: Vec::new(),
            ..silo::Spawn::default()
        },
    )
}

/// Starts `usertest <case> <first handle>` with `with`.
fn start_full(ctx: &Context<'_>, case: &str, with: silo::Spawn) -> Result<Arc<Silo>, String> {
    let elf = usertest(ctx)?;
    let handle = alloc::format!("{}", bedrock_abi::ipc::FIRST_INITIAL_HANDLE);
    silo::spawn_elf_with(
        &format!("usertest-{case}"),
        elf,
        &["usertest", case, &handle],
        &[],
        with,
    )
    .map_err(|e| format!("cannot start usertest {case}: {e}"))
}

fn expect_code0(case: &str, s: &Arc<Silo>) -> Result<(), String> {
    let status = s.wait();
    ensure!(status == ExitStatus::Code(0), "{case} ended with {status}");
    Ok(())
}

/// Two ELF silos talk through a port: 200 calls with data, and a badge.
pub fn ipc_ping_pong(ctx: &Context<'_>) -> Result<(), String> {
    use bedrock_abi::Rights;
    let (server, client) = port_pair(Rights::CALL.union(Rights::DUPLICATE))?;
    let server = start_with_cap(ctx, "ipc-server", server)?;
    let client = start_with_cap(ctx, "ipc-client", client)?;
    expect_code0("client", &client)?;
    expect_code0("server", &server)
}

/// Register-only calls, a `ReplyWait` server and single-copy data between
/// two silos.
pub fn ipc_fast_path(ctx: &Context<'_>) -> Result<(), String> {
    use bedrock_abi::Rights;
    let (server, client) = port_pair(Rights::CALL)?;
    let server = start_with_cap(ctx, "ipc-fast-server", server)?;
    let client = start_with_cap(ctx, "ipc-fast", client)?;
    expect_code0("client", &client)?;
    expect_code0("server", &server)
}

/// A silo holding a port handle without CALL is refused (and says so).
pub fn cap_denied(ctx: &Context<'_>) -> Result<(), String> {
    use bedrock_abi::Rights;
    let (_, denied) = port_pair(Rights::GRANT)?;
    expect_code0("denied client", &start_with_cap(ctx, "ipc-denied", denied)?)
}

/// An attenuated duplicate cannot call while the original can.
pub fn cap_attenuation(ctx: &Context<'_>) -> Result<(), String> {
    use bedrock_abi::Rights;
    let (server, client) = port_pair(Rights::CALL.union(Rights::DUPLICATE).union(Rights::GRANT))?;
    let server = start_with_cap(ctx, "ipc-server", server)?;
    expect_code0(
        "attenuating client",
        &start_with_cap(ctx, "ipc-attenuate", client)?,
    )?;
    expect_code0("server", &server)
}

/// A handle copied in a message works in the receiver until revoked.
pub fn cap_transfer_revoke(ctx: &Context<'_>) -> Result<(), String> {
    use bedrock_abi::Rights;
    let (server, client) = port_pair(Rights::CALL.union(Rights::GRANT))?;
    let server = start_with_cap(ctx, "ipc-server", server)?;
    expect_code0("client", &start_with_cap(ctx, "ipc-transfer", client)?)?;
    expect_code0("server", &server)
}

/// The server dies in the middle of a call: the caller gets an error.
pub fn ipc_peer_death(ctx: &Context<'_>) -> Result<(), String> {
    use bedrock_abi::Rights;
    let (server, client) = port_pair(Rights::CALL)?;
    let server = start_with_cap(ctx, "ipc-server", server)?;
    let client = start_with_cap(ctx, "ipc-crash", client)?;
    expect_code0("client", &client)?;
    let status = server.wait();
    ensure!(
        matches!(status, ExitStatus::Fault { vector: 14, .. }),
        "server ended with {status}"
    );
    Ok(())
}

/// 16 MiB through a shared memory object, handed over read-only.
pub fn ipc_shared_memory(ctx: &Context<'_>) -> Result<(), String> {
    use bedrock_abi::Rights;
    let before = free_frames();
    let (server, client) = port_pair(Rights::CALL)?;
    let server = start_with_cap(ctx, "ipc-server", server)?;
    expect_code0("client", &start_with_cap(ctx, "ipc-bulk", client)?)?;
    expect_code0("server", &server)?;
    drop(server);
    // 16 MiB is 4096 frames: they must all come back.
    let after = frames_back_to(before, 512);
    ensure!(
        after + 512 >= before,
        "shared memory not freed: {before} free frames before, {after} after"
    );
    Ok(())
}

/// Malformed messages and garbage handles get errors; the kernel is fine.
pub fn ipc_bad_messages(ctx: &Context<'_>) -> Result<(), String> {
    run_ok(ctx, "ipc-badargs")
}

/// A toy scheme server (the ABI crate's server library) serves a 16 MiB
/// file; a client granted the scheme reads it back byte-exact through the
/// bulk path.
pub fn scheme_bulk_16mib(ctx: &Context<'_>) -> Result<(), String> {
    let server = start_scheme_silo(ctx, "scheme-server", &["+toy"])?;
    expect_code0(
        "client",
        &start_scheme_silo(ctx, "scheme-client", &["toy"])?,
    )?;
    expect_code0("stopper", &start_scheme_silo(ctx, "scheme-stop", &["toy"])?)?;
    expect_code0("server", &server)
}

/// A silo whose namespace lacks a served scheme can neither look it up
/// nor open its files, while a silo granted it reaches the server.
pub fn namespace_isolation(ctx: &Context<'_>) -> Result<(), String> {
    let server = start_scheme_silo(ctx, "scheme-server", &["+toy"])?;
    expect_code0("outsider", &start_scheme_silo(ctx, "scheme-outsider", &[])?)?;
    expect_code0("stopper", &start_scheme_silo(ctx, "scheme-stop", &["toy"])?)?;
    expect_code0("server", &server)
}

/// Starts a scheme case with `namespace` (`toy`, `+toy` or none).
fn start_scheme_silo(
    ctx: &Context<'_>,
    case: &str,
    namespace: &[&str],
) -> Result<Arc<Silo>, String> {
    start_full(
        ctx,
        case,
        silo::Spawn {
            caps: Vec::new(),
            namespace: namespace.iter().map(|n| String::from(*n)).collect(),
            affinity: None,
        },
    )
}

/// An IRQ line handed to a ring-3 silo: the RTC's interrupts arrive as
/// notification bits; the silo acknowledges each.
pub fn user_irq_notification(ctx: &Context<'_>) -> Result<(), String> {
    use crate::arch::x86_64::rtc;
    use crate::cap::{Cap, Object};
    // The line is routed to this CPU: stay here while it is in use.
    let me = crate::sched::current();
    me.set_affinity(crate::sched::cpuset::CpuSet::single(
        crate::arch::x86_64::percpu::current().index,
    ));
    crate::sched::yield_now();
    let line =
        crate::ipc::irq_line::IrqLine::isa(rtc::IRQ).map_err(|e| format!("irq line: {e}"))?;
    let driver = start_with_cap(
        ctx,
        "irq-wait",
        Cap::new(Object::IrqLine(line), bedrock_abi::Rights::WAIT),
    )?;
    rtc::set_periodic(Some(10));
    // The RTC raises its next interrupt only after register C is read;
    // the ring-3 driver has no port access, so the kernel re-arms it.
    while driver.status().is_none() {
        rtc::ack();
        crate::sched::sleep_ns(5_000_000);
    }
    rtc::set_periodic(None);
    me.set_affinity(crate::sched::cpuset::CpuSet::ALL);
    expect_code0("irq driver", &driver)
}

/// Introspection for silos granted `sys`, refused to others.
pub fn sys_introspection(ctx: &Context<'_>) -> Result<(), String> {
    let with_sys = silo::Spawn {
        caps: Vec::new(),
        namespace: alloc::vec![String::from("sys")],
        ..silo::Spawn::default()
    };
    expect_code0("sys", &start_full(ctx, "sys", with_sys)?)?;
    expect_code0(
        "sys-denied",
        &start_full(ctx, "sys-denied", silo::Spawn::default())?,
    )
}

/// A page unmapped by a thread on another CPU faults at once for a thread
/// that had it in its TLB (cross-CPU TLB shootdown).
pub fn tlb_shootdown(ctx: &Context<'_>) -> Result<(), String> {
    match start(ctx, "shootdown")?.wait() {
        ExitStatus::Fault { vector: 14, .. } => Ok(()),
        other => Err(format!(
            "shootdown silo ended with {other}, expected a page fault"
        )),
    }
}

/// A silo started with the boot archive spawns children from ring 3 (see
/// usertest `silo-spawn`); here the kernel checks that a killed child's
/// memory comes back while its parent still holds a handle to it.
pub fn silo_spawn(ctx: &Context<'_>) -> Result<(), String> {
    use crate::cap::{Cap, Object};
    use crate::ipc::notification::Notification;
    use bedrock_abi::Rights;
    let archive = crate::kmain::boot_archive(ctx.info).ok_or("no boot archive")?;
    let to_kernel = Arc::new(Notification::new());
    let from_kernel = Arc::new(Notification::new());
    let mut with = silo::Spawn::first(archive).map_err(|e| format!("archive object: {e}"))?;
    with.namespace = alloc::vec![String::from("sys"), String::from("toy")];
    with.caps.push(Cap::new(
        Object::Notification(to_kernel.clone()),
        Rights::SIGNAL,
    ));
    with.caps.push(Cap::new(
        Object::Notification(from_kernel.clone()),
        Rights::WAIT,
    ));
    let elf = usertest(ctx)?;
    let parent = silo::spawn_elf_with(
        "usertest-silo-spawn",
        elf,
        &["usertest", "silo-spawn", "2", "3"],
        &[],
        with,
    )
    .map_err(|e| format!("cannot start usertest silo-spawn: {e}"))?;
    let step = |bits: u64| -> Result<(), String> {
        let deadline = crate::arch::x86_64::tsc::now_ns() + 30_000_000_000;
        match to_kernel.wait(Some(deadline)) {
            Ok(b) if b == bits => Ok(()),
            Ok(b) => Err(format!("parent signalled {b:#x}, expected {bits:#x}")),
            Err(_) => Err(format!(
                "parent never signalled {bits:#x} (ended: {:?})",
                parent.status()
            )),
        }
    };
    // The spinner holds 16 MiB (4096 frames).
    step(1)?;
    let held = free_frames();
    from_kernel.signal(1);
    // Killed and waited for; the parent still holds its handle.
    step(2)?;
    let after = frames_back_to(held + 4096, 512);
    ensure!(
        after + 512 >= held + 4096,
        "killed silo's memory not freed: {held} free frames while it ran, {after} after"
    );
    from_kernel.signal(1);
    expect_code0("silo-spawn", &parent)
}

/// A normal boot's init, as `cargo xtask run` starts it: it checks its
/// handles and runs the demo (`std-hello` in a silo of its own).
pub fn init_demo(ctx: &Context<'_>) -> Result<(), String> {
    let init =
        crate::kmain::start_init(ctx.info, "init", &[])?.ok_or("no init in the boot archive")?;
    expect_code0("init", &init)
}

/// The path a normal boot takes (`kmain::start_init`) with `usertest
/// silo-init` as init: handle 1 is the boot archive, the namespace is the
/// root one, and init can start silos from the archive.
pub fn silo_init_archive(ctx: &Context<'_>) -> Result<(), String> {
    let init = crate::kmain::start_init(ctx.info, "usertest", &["silo-init"])?
        .ok_or("no usertest in the boot archive")?;
    expect_code0("usertest silo-init", &init)
}

/// A ring-3 driver with the platform authority: reads the PCI host
/// bridge's ID through a port range, the HPET through an uncached MMIO
/// mapping, and writes a pattern into DMA memory that the kernel then
/// finds at the physical address the program was told; every bad
/// argument comes back as an error.
pub fn device_caps(ctx: &Context<'_>) -> Result<(), String> {
    use crate::cap::{Cap, Object};
    use crate::ipc::device::{PLATFORM_RIGHTS, Platform};
    use crate::ipc::port::{KMessage, Port};
    use crate::mm::PhysRange;
    use crate::mm::kernel_space::{Caching, map_direct};
    use crate::mm::memmap::RangeSet;
    use crate::mm::paging::Flags;
    use bedrock_abi::Rights;

    let hpet = ctx
        .topology
        .hpet_address
        .ok_or("no HPET in the ACPI tables")?;
    let regs = map_direct(PhysRange::new(hpet, hpet + 8), Caching::Uncached)
        .map_err(|e| format!("cannot map the HPET: {e:?}"))?;
    // SAFETY: the HPET's capabilities register, just mapped uncached.
    let hpet_caps = unsafe { core::ptr::read_volatile(regs as *const u64) };

    let port = Arc::new(Port::new());
    let server = Cap::new(Object::Port(port.clone()), Rights::RECEIVE);
    let platform = || Object::Platform(Arc::new(Platform));
    let caps = alloc::vec![
        Cap::new(platform(), PLATFORM_RIGHTS),
        Cap::new(Object::Port(port.clone()), Rights::CALL),
        Cap::new(platform(), Rights::READ.union(Rights::MAP)),
    ];
    let first = bedrock_abi::ipc::FIRST_INITIAL_HANDLE;
    let argv = [
        String::from("usertest"),
        String::from("device"),
        format!("{first}"),
        format!("{}", first + 1),
        format!("{}", first + 2),
        format!("{hpet_caps:#x}"),
    ];
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let driver = silo::spawn_elf_with(
        "usertest-device",
        usertest(ctx)?,
        &argv,
        &[],
        silo::Spawn {
            caps,
            namespace: Vec::new(),
            affinity: None,
        },
    )
    .map_err(|e| format!("cannot start usertest device: {e}"))?;

    let ram = RangeSet::usable_ram(&ctx.info.regions);
    let allocated = |phys: u64, len: u64| -> Vec<bool> {
        let frames = FRAMES.lock();
        let frames = frames.as_ref().expect("frame allocator");
        (phys..phys + len)
            .step_by(crate::mm::PAGE_SIZE as usize)
            .map(|f| frames.is_allocated(f))
            .collect()
    };
    // Answers the program's three questions, then lets it finish.
    let mut verdicts = Vec::new();
    // The order of the program's questions (labels of `device_cases`).
    for expected in [4, 1, 2, 3u64] {
        let give_up = crate::arch::x86_64::tsc::now_ns() + 30_000_000_000;
        let got = loop {
            let now = crate::arch::x86_64::tsc::now_ns();
            match port.receive(Some(now + 100_000_000)) {
                Ok(got) => break got,
                // A driver that died early never calls: stop waiting.
                Err(e) if driver.status().is_some() || now > give_up => {
                    let status = driver.wait();
                    if let Some(Err(why)) = verdicts.into_iter().find(Result::is_err) {
                        return Err(why);
                    }
                    return Err(format!(
                        "no call {expected} from the driver ({e}); it ended with {status}"
                    ));
                }
                Err(_) => {}
            }
        };
        let [phys, len, seed, _] = got.message.words;
        let label = got.message.label;
        let verdict: Result<(), String> = (|| {
            ensure!(label == expected, "call {label}, expected {expected}");
            if label == 4 {
                // words: user address, expected physical address.
                let (virt, want) = (phys, len);
                let (frame, flags) = driver
                    .aspace
                    .translate(virt)
                    .ok_or("the MMIO page is not mapped")?;
                let uncached = Flags::NO_CACHE.union(Flags::WRITE_THROUGH);
                ensure!(frame == want, "MMIO mapped to {frame:#x}, not {want:#x}");
                ensure!(
                    flags.contains(uncached)
                        && flags.contains(Flags::NO_EXECUTE)
                        && !flags.contains(Flags::WRITABLE),
                    "MMIO page flags {flags:?}: not read-only, uncached and NX"
                );
                return Ok(());
            }
            let range = PhysRange::from_len(phys, len).ok_or("wrapping range")?;
            ensure!(
                len > 0 && len <= 1 << 20 && ram.contains(range),
                "reported DMA range {phys:#x}+{len:#x} is not RAM"
            );
            let taken = allocated(phys, len);
            match label {
                1 => {
                    ensure!(
                        taken.iter().all(|&t| t),
                        "DMA frames at {phys:#x} are not allocated"
                    );
                    // SAFETY: allocated RAM (checked above), covered by the
                    // direct map; the driver is blocked in this call.
                    let words = unsafe {
                        core::slice::from_raw_parts(
                            phys_to_virt(phys) as *const u64,
                            (len / 8) as usize,
                        )
                    };
                    let bad = words.iter().enumerate().find(|&(i, &w)| {
                        w != seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    });
                    ensure!(
                        bad.is_none(),
                        "pattern not at physical {phys:#x}: word {bad:?}"
                    );
                }
                2 => ensure!(
                    taken.iter().all(|&t| t),
                    "DMA memory freed while still mapped"
                ),
                _ => ensure!(
                    taken.iter().all(|&t| !t),
                    "DMA memory not freed after the last handle and mapping"
                ),
            }
            Ok(())
        })();
        let reply = KMessage {
            label: verdict.is_err() as u64,
            ..KMessage::default()
        };
        let _ = got.reply.reply(reply);
        verdicts.push(verdict);
    }
    expect_code0("device driver", &driver)?;
    drop(server);
    verdicts.into_iter().collect::<Result<Vec<()>, String>>()?;
    log::info!("device_caps: DMA pattern found at the reported physical address; kernel fine");
    Ok(())
}
