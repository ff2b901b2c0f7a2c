//! `usertest <case>`: ring-3 programs for the QEMU scenarios. Each case
//! checks what it can itself and exits 0 on success; the kernel-side
//! scenario checks the exit status (and the fault cases' fault report).
#![no_std]
#![no_main]

#[macro_use]
mod rt;
mod ipc_cases;
mod ipc_fast_cases;
mod scheme_cases;
mod silo_cases;
mod bench;
mod device_cases;
mod fuzz_cases;
mod sec_cases;

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use bedrock_abi::{ClockId, Errno, SiloInfo, Syscall, auxv, prot};
use rt::{Args, call6};

fn main(args: &Args) -> i32 {
    let case = args.get(1).unwrap_or("hello");
    let result = match case {
        "hello" => hello(args),
        "fault-pf" => fault_pf(),
        "fault-ud" => fault_ud(),
        "fault-gp" => fault_gp(),
        "fault-de" => fault_de(args),
        "fault-nx" => fault_nx(),
        "badptr" => badptr(),
        "threads" => threads(),
        "futex" => futex(),
        "wx" => wx(),
        "sleep" => sleep(),
        "pie" => pie(args),
        "memory" => memory(),
        "fpu" => fpu(),
        "ipc-server" => ipc_cases::server(args),
        "ipc-client" => ipc_cases::client(args),
        "ipc-denied" => ipc_cases::denied(args),
        "ipc-attenuate" => ipc_cases::attenuate(args),
        "ipc-transfer" => ipc_cases::transfer(args),
        "ipc-crash" => ipc_cases::crash_server(args),
        "ipc-badargs" => ipc_cases::bad_args(args),
        "ipc-bulk" => ipc_cases::bulk(args),
        "ipc-fast-server" => ipc_fast_cases::server(args),
        "ipc-fast" => ipc_fast_cases::client(args),
        "irq-wait" => ipc_cases::irq_wait(args),
        "sys" => sys_info(),
        "shootdown" => shootdown(),
        "sys-denied" => sys_denied(),
        "scheme-server" => scheme_cases::server(args),
        "scheme-client" => scheme_cases::client(args),
        "scheme-outsider" => scheme_cases::outsider(args),
        "scheme-stop" => scheme_cases::stop(args),
        "affinity" => affinity(),
        "bench" => bench::bench(args),
        "silo-spawn" => silo_cases::spawn(args),
        "silo-echo" => silo_cases::echo(args),
        "silo-spin" => silo_cases::spin(args),
        "silo-ns" => silo_cases::ns(args),
        "silo-init" => silo_cases::init(args),
        "bench-peer" => bench::peer(args),
        "device" => device_cases::run(args),
        "fuzz" => fuzz_cases::run(args),
        "sec-canonical" => sec_cases::canonical(args),
        "sec-derive" => sec_cases::derive_chain(args),
        "sec-wake" => sec_cases::early_wake(args),
        "sec-squat" => sec_cases::squat(args),
        "sec-map-race" => sec_cases::map_race(args),
        "sec-unmap-shootdown" => sec_cases::unmap_shootdown(args),
        other => Err(other),
    };
    match result {
        Ok(()) => 0,
        Err(why) => {
            say!("usertest {case}: FAILED: {why}");
            1
        }
    }
}

fn hello(args: &Args) -> Result<(), &'static str> {
    let mut info = SiloInfo::default();
    // SAFETY: `info` is a valid, writable SiloInfo.
    unsafe { rt::call(Syscall::SiloInfo, &[&mut info as *mut SiloInfo as usize]) }.map_err(|_| "silo info")?;
    check!(info.abi_version == bedrock_abi::ABI_VERSION, "ABI version");
    say!("hello from ring 3: silo {} on {} CPUs, {} args", info.silo_id, info.online_cpus, args.len());
    Ok(())
}

fn fault_pf() -> Result<(), &'static str> {
    // SAFETY: deliberately invalid: the kernel must end this silo only.
    unsafe { (0x10 as *mut u64).write_volatile(1) };
    Err("write to page 0 did not fault")
}

fn fault_ud() -> Result<(), &'static str> {
    // SAFETY: deliberately executes an invalid opcode.
    unsafe { core::arch::asm!("ud2") };
    Err("ud2 did not fault")
}

fn fault_gp() -> Result<(), &'static str> {
    // SAFETY: a privileged instruction in ring 3 raises #GP.
    unsafe { core::arch::asm!("hlt") };
    Err("hlt did not fault")
}

fn fault_de(args: &Args) -> Result<(), &'static str> {
    let zero = args.len() as u64 - args.len() as u64;
    let q: u64;
    // SAFETY: deliberately divides by zero (#DE).
    unsafe { core::arch::asm!("div {0}", in(reg) zero, inout("rax") 1u64 => q, inout("rdx") 0u64 => _) };
    say!("quotient {q}");
    Err("division by zero did not fault")
}

fn fault_nx() -> Result<(), &'static str> {
    let page = rt::vm_map(4096, prot::READ | prot::WRITE).map_err(|_| "map")?;
    // SAFETY: writes a `ret` into our own RW page, then jumps there: the
    // NX bit must make the fetch fault.
    unsafe {
        (page as *mut u8).write_volatile(0xc3);
        let f: extern "C" fn() = core::mem::transmute(page);
        f();
    }
    Err("executed a non-executable page")
}

/// Every syscall taking a pointer gets bad ones: kernel addresses,
/// non-canonical ones, unmapped ones, ranges that wrap or cross into the
/// kernel half. All must fail with an error, never kill us or the kernel.
fn badptr() -> Result<(), &'static str> {
    const BAD: [usize; 6] = [
        0,
        0x10,
        0xffff_8000_0000_0000,       // kernel direct map
        0xffff_ffff_8010_0000,       // kernel image
        0x0000_8000_0000_0000,       // non-canonical
        0x0000_7fff_ffff_f000,       // last user page, unmapped
    ];
    for &p in &BAD {
        check!(call6(Syscall::LogWrite, [p, 16, 0, 0, 0, 0]) == Err(Errno::Fault), "LogWrite");
        check!(call6(Syscall::RandomBytes, [p, 16, 0, 0, 0, 0]) == Err(Errno::Fault), "RandomBytes");
        check!(call6(Syscall::SiloInfo, [p, 0, 0, 0, 0, 0]) == Err(Errno::Fault), "SiloInfo");
        let futex = call6(Syscall::FutexWait, [p, 0, 1000, 0, 0, 0]);
        check!(futex == Err(Errno::Fault), "FutexWait");
    }
    // Ranges that wrap around or end in kernel space.
    check!(call6(Syscall::LogWrite, [0x0000_7fff_ffff_fff0, 64, 0, 0, 0, 0]) == Err(Errno::Fault), "crossing");
    check!(call6(Syscall::LogWrite, [usize::MAX - 4, 16, 0, 0, 0, 0]) == Err(Errno::Fault), "wrap");
    // Oversized and misaligned arguments.
    check!(call6(Syscall::LogWrite, [0x1000, usize::MAX, 0, 0, 0, 0]) == Err(Errno::Inval), "huge length");
    check!(call6(Syscall::FutexWait, [0x1001, 0, 0, 0, 0, 0]) == Err(Errno::Inval), "misaligned futex");
    check!(call6(Syscall::ClockGet, [99, 0, 0, 0, 0, 0]) == Err(Errno::Inval), "clock id");
    check!(call6(Syscall::VmMap, [0, 4096, 0x80, 0, 0, 0]) == Err(Errno::Inval), "prot bits");
    check!(call6(Syscall::VmMap, [0, 0, prot::READ, 0, 0, 0]) == Err(Errno::Inval), "zero length");
    check!(call6(Syscall::VmMap, [0, 1000, prot::READ, 0, 0, 0]) == Err(Errno::Inval), "unaligned length");
    check!(call6(Syscall::VmUnmap, [0xffff_8000_0000_0000, 4096, 0, 0, 0, 0]).is_err(), "unmap kernel");
    check!(call6(Syscall::VmProtect, [0xffff_8000_0000_0000, 4096, 1, 0, 0, 0]).is_err(), "protect kernel");
    check!(call6(Syscall::ThreadCreate, [0xffff_ffff_8010_0000, 0x1000, 0, 0, 0, 0]) == Err(Errno::Inval), "kernel entry");
    check!(call6(Syscall::ThreadCreate, [0x1000, 0xffff_8000_0000_0000, 0, 0, 0, 0]) == Err(Errno::Inval), "kernel stack");
    check!(call6(Syscall::SetFsBase, [0xffff_8000_0000_0000, 0, 0, 0, 0, 0]) == Err(Errno::Inval), "kernel fs");
    check!(call6(Syscall::ThreadJoin, [123_456, 0, 0, 0, 0, 0]) == Err(Errno::Srch), "join unknown");
    check!(raw_number(999) == Err(Errno::NoSys), "unknown syscall");
    check!(raw_number(usize::MAX) == Err(Errno::NoSys), "huge syscall number");
    say!("badptr: every bad argument was refused");
    Ok(())
}

fn raw_number(n: usize) -> Result<usize, Errno> {
    let ret: usize;
    // SAFETY: an unknown syscall number must simply be refused.
    unsafe {
        core::arch::asm!("syscall", inlateout("rax") n => ret, lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    bedrock_abi::decode(ret)
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

extern "C" fn worker(arg: usize) -> ! {
    // The TLS base given at creation must be this thread's FS base: its
    // block's first word points to itself, so fs:0 reads the block address.
    let fs: usize;
    // SAFETY: FS points at this thread's block (set up by `threads`).
    unsafe { core::arch::asm!("mov {}, fs:0", out(reg) fs) };
    if fs != arg {
        rt::thread_exit(2);
    }
    COUNTER.fetch_add(1, Ordering::SeqCst);
    rt::thread_exit(0)
}

/// 64 threads, each with its own TLS block whose first word points to
/// itself (as the x86_64 TLS ABI does); all are joined.
fn threads() -> Result<(), &'static str> {
    let tls = rt::vm_map(64 * 64, prot::READ | prot::WRITE).map_err(|_| "tls map")?;
    let mut ids = [0usize; 64];
    for (i, id) in ids.iter_mut().enumerate() {
        let block = tls + i * 64;
        // SAFETY: our own RW mapping.
        unsafe { (block as *mut usize).write(block) };
        *id = rt::thread_spawn(worker, block, block).map_err(|_| "spawn")?;
    }
    for id in ids {
        rt::thread_join(id).map_err(|_| "join")?;
    }
    check!(COUNTER.load(Ordering::SeqCst) == 64, "not every thread ran (or a TLS check failed)");
    say!("threads: 64 threads created and joined");
    Ok(())
}

static TURN: AtomicU32 = AtomicU32::new(0);
const ROUNDS: u32 = 500;

extern "C" fn ponger(_: usize) -> ! {
    for r in 0..ROUNDS {
        while TURN.load(Ordering::SeqCst) != 2 * r + 1 {
            let _ = rt::futex_wait(&TURN, 2 * r, u64::MAX);
        }
        TURN.store(2 * r + 2, Ordering::SeqCst);
        let _ = rt::futex_wake(&TURN, 1);
    }
    rt::thread_exit(0)
}

fn futex() -> Result<(), &'static str> {
    let word = AtomicU32::new(7);
    check!(rt::futex_wait(&word, 8, u64::MAX) == Err(Errno::Again), "value mismatch must be Again");
    let t0 = rt::clock(ClockId::Monotonic);
    check!(rt::futex_wait(&word, 7, 10_000_000) == Err(Errno::TimedOut), "timeout");
    check!(rt::clock(ClockId::Monotonic) - t0 >= 10_000_000, "timed out early");
    check!(rt::futex_wake(&word, 1) == Ok(0), "wake with no waiter");
    let id = rt::thread_spawn(ponger, 0, 0).map_err(|_| "spawn")?;
    let start = rt::clock(ClockId::Monotonic);
    for r in 0..ROUNDS {
        TURN.store(2 * r + 1, Ordering::SeqCst);
        let _ = rt::futex_wake(&TURN, 1);
        while TURN.load(Ordering::SeqCst) != 2 * r + 2 {
            let _ = rt::futex_wait(&TURN, 2 * r + 1, u64::MAX);
        }
    }
    let ns = rt::clock(ClockId::Monotonic) - start;
    rt::thread_join(id).map_err(|_| "join")?;
    say!("futex: {ROUNDS} ping-pong rounds, {} ns per round trip", ns / ROUNDS as u64);
    Ok(())
}

fn wx() -> Result<(), &'static str> {
    check!(rt::vm_map(4096, prot::READ | prot::WRITE | prot::EXEC) == Err(Errno::Inval), "W+X map");
    let page = rt::vm_map(4096, prot::READ | prot::WRITE).map_err(|_| "map")?;
    // SAFETY: our own RW page.
    unsafe {
        // mov eax, 42; ret
        core::ptr::copy_nonoverlapping([0xb8u8, 42, 0, 0, 0, 0xc3].as_ptr(), page as *mut u8, 6);
    }
    let wx = call6(Syscall::VmProtect, [page, 4096, prot::READ | prot::WRITE | prot::EXEC, 0, 0, 0]);
    check!(wx == Err(Errno::Inval), "W+X protect");
    check!(call6(Syscall::VmProtect, [page, 4096, prot::READ | prot::EXEC, 0, 0, 0]) == Ok(0), "RX protect");
    // SAFETY: the page now holds the code above and is executable.
    let f: extern "C" fn() -> u32 = unsafe { core::mem::transmute(page) };
    check!(f() == 42, "JIT-style code returned the wrong value");
    check!(call6(Syscall::VmUnmap, [page, 4096, 0, 0, 0, 0]) == Ok(0), "unmap");
    say!("wx: W^X refused, RW->RX code ran");
    Ok(())
}

fn sleep() -> Result<(), &'static str> {
    for ms in [1u64, 20] {
        let t0 = rt::clock(ClockId::Monotonic);
        rt::sleep_ns(ms * 1_000_000);
        let dt = rt::clock(ClockId::Monotonic) - t0;
        check!(dt >= ms * 1_000_000, "woke early");
        check!(dt < ms * 1_000_000 + 50_000_000, "woke far too late");
    }
    check!(rt::clock(ClockId::Realtime) > 1_600_000_000_000_000_000, "realtime clock before 2020");
    Ok(())
}

fn pie(args: &Args) -> Result<(), &'static str> {
    // Linked at 0; the kernel must have moved it to a non-zero base.
    let phdr = args.aux(auxv::AT_PHDR).ok_or("no AT_PHDR")?;
    let base = phdr & !0xfff;
    let here = pie as *const () as u64;
    check!(base >= 0x10_0000, "loaded at (or near) address 0");
    check!(here > base, "code below the load base");
    let entry = args.aux(auxv::AT_ENTRY).ok_or("no AT_ENTRY")?;
    check!(entry > base, "entry below the load base");
    // A relocated pointer in data must point into our code, not near 0.
    static SELF_REF: fn(&Args) -> Result<(), &'static str> = pie;
    check!(SELF_REF as *const () as u64 == here, "R_X86_64_RELATIVE not applied");
    say!("pie: static PIE loaded at {base:#x}");
    Ok(())
}

/// Touches a few MiB (demand-zero), unmaps half and exits with the rest
/// mapped: the kernel must free both.
fn memory() -> Result<(), &'static str> {
    let len = 4 << 20;
    let p = rt::vm_map(len, prot::READ | prot::WRITE).map_err(|_| "map")?;
    for off in (0..len).step_by(4096) {
        // SAFETY: our own RW mapping.
        unsafe {
            check!(((p + off) as *const u8).read_volatile() == 0, "demand page not zeroed");
            ((p + off) as *mut u8).write_volatile(1);
        }
    }
    check!(call6(Syscall::VmUnmap, [p, len / 2, 0, 0, 0, 0]) == Ok(0), "unmap");
    Ok(())
}

static FPU_ERRORS: AtomicU64 = AtomicU64::new(0);

/// Fills xmm0..xmm15 with `seed`-derived values, yields many times, and
/// checks they survived: context switches must save each thread's SIMD
/// registers.
extern "C" fn fpu_worker(seed: usize) -> ! {
    let v = seed as u64;
    for _ in 0..200 {
        let mut out = [0u64; 16];
        // SAFETY: only SSE registers and our own buffer are touched.
        unsafe {
            core::arch::asm!(
                "movq xmm0, {v}", "movq xmm1, {v}", "movq xmm2, {v}", "movq xmm3, {v}",
                "movq xmm4, {v}", "movq xmm5, {v}", "movq xmm6, {v}", "movq xmm7, {v}",
                "movq xmm8, {v}", "movq xmm9, {v}", "movq xmm10, {v}", "movq xmm11, {v}",
                "movq xmm12, {v}", "movq xmm13, {v}", "movq xmm14, {v}", "movq xmm15, {v}",
                "mov eax, 4", "syscall",
                "movq [{o}], xmm0", "movq [{o} + 8], xmm1", "movq [{o} + 16], xmm2", "movq [{o} + 24], xmm3",
                "movq [{o} + 32], xmm4", "movq [{o} + 40], xmm5", "movq [{o} + 48], xmm6", "movq [{o} + 56], xmm7",
                "movq [{o} + 64], xmm8", "movq [{o} + 72], xmm9", "movq [{o} + 80], xmm10", "movq [{o} + 88], xmm11",
                "movq [{o} + 96], xmm12", "movq [{o} + 104], xmm13", "movq [{o} + 112], xmm14", "movq [{o} + 120], xmm15",
                v = in(reg) v,
                o = in(reg) out.as_mut_ptr(),
                out("rax") _, out("rcx") _, out("r11") _,
                out("xmm0") _, out("xmm1") _, out("xmm2") _, out("xmm3") _,
                out("xmm4") _, out("xmm5") _, out("xmm6") _, out("xmm7") _,
                out("xmm8") _, out("xmm9") _, out("xmm10") _, out("xmm11") _,
                out("xmm12") _, out("xmm13") _, out("xmm14") _, out("xmm15") _,
            );
        }
        if out.iter().any(|&x| x != v) {
            FPU_ERRORS.fetch_add(1, Ordering::SeqCst);
        }
    }
    rt::thread_exit(0)
}

fn fpu() -> Result<(), &'static str> {
    let mut ids = [0usize; 8];
    for (i, id) in ids.iter_mut().enumerate() {
        *id = rt::thread_spawn(fpu_worker, 0x1111_1111_1111_1111 * (i + 1), 0).map_err(|_| "spawn")?;
    }
    for id in ids {
        rt::thread_join(id).map_err(|_| "join")?;
    }
    check!(FPU_ERRORS.load(Ordering::SeqCst) == 0, "SIMD registers changed across a context switch");
    say!("fpu: 8 threads kept their SIMD registers across 1600 yields");
    Ok(())
}

/// Set by the affinity worker once it runs, and by `affinity` to let it go.
static AFFINITY_READY: AtomicU32 = AtomicU32::new(0);
static AFFINITY_GO: AtomicU32 = AtomicU32::new(0);

/// Pinned to CPU 1 by its creator while it waits; from its next scheduling
/// decision on it must only run there.
extern "C" fn affinity_worker(_: usize) -> ! {
    AFFINITY_READY.store(1, Ordering::SeqCst);
    while AFFINITY_GO.load(Ordering::SeqCst) == 0 {
        let _ = rt::futex_wait(&AFFINITY_GO, 0, u64::MAX);
    }
    rt::yield_now();
    let stayed = stays_on(1);
    rt::thread_exit(if stayed { 0 } else { 1 })
}

/// True if the caller runs on `cpu` across yields and a sleep (a block and
/// a wake-up, which places the thread anew).
fn stays_on(cpu: usize) -> bool {
    for i in 0..100 {
        if rt::get_cpu() != cpu {
            return false;
        }
        if i == 50 {
            rt::sleep_ns(1_000_000);
        } else {
            rt::yield_now();
        }
    }
    rt::get_cpu() == cpu
}

/// SetAffinity: bad masks and foreign threads are refused; the caller and
/// another thread of the silo run only where they are pinned.
fn affinity() -> Result<(), &'static str> {
    let cpus = rt::silo_info().map_err(|_| "silo info")?.online_cpus as usize;
    check!(cpus >= 2, "needs two CPUs online");
    check!(rt::set_affinity(0, 0) == Err(Errno::Inval), "empty mask accepted");
    check!(rt::set_affinity(0, 1 << cpus) == Err(Errno::Inval), "offline CPU accepted");
    check!(rt::set_affinity(0, u64::MAX) == Err(Errno::Inval), "mask of every CPU accepted");
    // Thread 1 is the boot CPU's idle thread, the kernel's first.
    check!(rt::set_affinity(1, 1) == Err(Errno::Srch), "a kernel thread was pinned");
    check!(rt::set_affinity(123_456, 1) == Err(Errno::Srch), "unknown thread");
    for cpu in [1, 0, 1, 0] {
        check!(rt::set_affinity(0, 1 << cpu) == Ok(0), "pinning the caller");
        rt::yield_now();
        check!(stays_on(cpu), "the pinned caller ran on another CPU");
    }
    let id = rt::thread_spawn(affinity_worker, 0, 0).map_err(|_| "spawn")?;
    while AFFINITY_READY.load(Ordering::SeqCst) == 0 {
        rt::yield_now();
    }
    check!(rt::set_affinity(id, 1 << 1) == Ok(0), "pinning another thread of the silo");
    AFFINITY_GO.store(1, Ordering::SeqCst);
    let _ = rt::futex_wake(&AFFINITY_GO, 1);
    check!(rt::thread_join(id) == Ok(0), "the pinned worker ran on another CPU");
    check!(rt::set_affinity(0, (1 << cpus) - 1) == Ok(0), "unpinning");
    say!("affinity: pinned threads stayed on their CPUs, bad masks refused");
    Ok(())
}

/// Introspection: this silo sees itself (and its CPU time and memory) in
/// the silo list, and every CPU in the CPU list.
fn sys_info() -> Result<(), &'static str> {
    let mut silos = [bedrock_abi::SiloRecord::default(); 16];
    let n = call6(Syscall::SysSilos, [silos.as_mut_ptr() as usize, silos.len(), 0, 0, 0, 0]).map_err(|_| "SysSilos")?;
    check!(n >= 1, "no silo listed");
    let mut info = SiloInfo::default();
    // SAFETY: `info` is a valid, writable SiloInfo.
    unsafe { rt::call(Syscall::SiloInfo, &[&mut info as *mut SiloInfo as usize]) }.map_err(|_| "silo info")?;
    let me = silos[..n.min(16)].iter().find(|r| r.id == info.silo_id).ok_or("this silo is not listed")?;
    check!(me.threads == 1 && me.memory_bytes > 0, "own record wrong");
    check!(me.name.starts_with(b"usertest-sys"), "own name wrong");
    let mut cpus = [bedrock_abi::CpuRecord::default(); 64];
    let c = call6(Syscall::SysCpus, [cpus.as_mut_ptr() as usize, cpus.len(), 0, 0, 0, 0]).map_err(|_| "SysCpus")?;
    check!(c == info.online_cpus as usize, "CPU count differs");
    check!(call6(Syscall::SysSilos, [0x10, 4, 0, 0, 0, 0]) == Err(Errno::Fault), "bad buffer");
    check!(call6(Syscall::SysSilos, [silos.as_mut_ptr() as usize, 1 << 40, 0, 0, 0, 0]) == Err(Errno::Inval), "huge capacity");
    say!("sys: {n} silos and {c} CPUs listed");
    Ok(())
}

fn sys_denied() -> Result<(), &'static str> {
    let mut silos = [bedrock_abi::SiloRecord::default(); 4];
    let r = call6(Syscall::SysSilos, [silos.as_mut_ptr() as usize, silos.len(), 0, 0, 0, 0]);
    check!(r == Err(Errno::Perm), "introspection without sys in the namespace");
    Ok(())
}

static SD_PAGE: AtomicU64 = AtomicU64::new(0);
static SD_READY: AtomicU32 = AtomicU32::new(0);
static SD_UNMAPPED: AtomicU32 = AtomicU32::new(0);

/// Pinned to CPU 1: waits until the reader has the page in its TLB,
/// unmaps it, and says so.
extern "C" fn unmapper(_: usize) -> ! {
    let _ = rt::set_affinity(0, 1 << 1);
    rt::sleep_ns(1_000_000);
    while SD_READY.load(Ordering::SeqCst) == 0 {
        core::hint::spin_loop();
    }
    let page = SD_PAGE.load(Ordering::SeqCst) as usize;
    let r = call6(Syscall::VmUnmap, [page, 4096, 0, 0, 0, 0]);
    SD_UNMAPPED.store(if r.is_ok() { 1 } else { 2 }, Ordering::SeqCst);
    rt::thread_exit(0)
}

/// TLB shootdown: this thread (pinned to CPU 0) keeps reading a page while
/// a thread on CPU 1 unmaps it, never leaving the CPU; its next read must
/// fault. With a stale TLB entry it would read freed memory instead. The
/// scenario expects this silo to die with #PF at the page.
fn shootdown() -> Result<(), &'static str> {
    rt::set_affinity(0, 1).map_err(|_| "pin")?;
    let page = rt::vm_map(4096, prot::READ | prot::WRITE).map_err(|_| "map")?;
    SD_PAGE.store(page as u64, Ordering::SeqCst);
    // SAFETY: our own RW page.
    unsafe { (page as *mut u64).write_volatile(0x5eed) };
    rt::thread_spawn(unmapper, 0, 0).map_err(|_| "spawn")?;
    let mut sum = 0u64;
    loop {
        // SAFETY: mapped until the other thread unmaps it; after that the
        // read must fault (that is the test).
        sum = sum.wrapping_add(unsafe { (page as *const u64).read_volatile() });
        SD_READY.store(1, Ordering::SeqCst);
        match SD_UNMAPPED.load(Ordering::SeqCst) {
            0 => continue,
            1 => {
                // SAFETY: unmapped now: this read must fault.
                let v = unsafe { (page as *const u64).read_volatile() };
                say!("shootdown: read {v:#x} (sum {sum}) from an unmapped page");
                return Err("a stale TLB entry survived the unmap");
            }
            _ => return Err("unmap failed"),
        }
    }
}
