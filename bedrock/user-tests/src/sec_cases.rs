//! Regression cases for the security review's findings (issue 13,
//! `shared/reviews/security-review.md`): each case is the finding's
//! trigger, run from ring 3 as an attacker would. The kernel must refuse
//! it or survive it; the kernel-side scenarios (`testing/sec_scenarios.rs`)
//! then check that every frame, thread and name came back.

use core::arch::global_asm;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use bedrock_abi::user::{ipc, scheme};
use bedrock_abi::{Errno, Rights, Syscall, prot};

use crate::rt::{self, Args, call6};

type R = Result<(), &'static str>;

const PAGE: usize = 4096;
const RW: usize = prot::READ | prot::WRITE;

// A thread entry that touches neither stack nor memory: ThreadExit(0).
global_asm!(
    ".global sec_exit_entry",
    "sec_exit_entry:",
    "mov eax, {exit}",
    "xor edi, edi",
    "syscall",
    "ud2",
    exit = const Syscall::ThreadExit as usize,
);

unsafe extern "C" {
    fn sec_exit_entry();
}

/// Values no register loaded for ring 3 may take: past the last user
/// page, non-canonical, kernel.
const NOT_USER: [usize; 6] = [
    0x0000_7fff_ffff_f001,
    0x0000_7fff_ffff_ffff,
    0x0000_8000_0000_0000,
    0x0000_8000_0000_1000,
    0xffff_8000_0000_0000,
    usize::MAX,
];

/// H1: FS base, TLS, stack and entry must be canonical user addresses. A
/// non-canonical FS base makes WRMSR fault in ring 0 (on hardware and KVM;
/// TCG may not model it), so the check itself is what is tested here.
pub fn canonical(_: &Args) -> R {
    let entry = sec_exit_entry as usize;
    let stack = rt::vm_map(16 * PAGE, RW).map_err(|_| "map")? + 16 * PAGE - 8;
    for &bad in &NOT_USER {
        check!(call6(Syscall::SetFsBase, [bad, 0, 0, 0, 0, 0]) == Err(Errno::Inval), "SetFsBase took a non-user address");
        check!(call6(Syscall::ThreadCreate, [entry, stack, 0, bad, 0, 0]) == Err(Errno::Inval), "ThreadCreate took a non-user TLS base");
        check!(call6(Syscall::ThreadCreate, [entry, bad, 0, 0, 0, 0]) == Err(Errno::Inval), "ThreadCreate took a non-user stack");
        check!(call6(Syscall::ThreadCreate, [bad, stack, 0, 0, 0, 0]) == Err(Errno::Inval), "ThreadCreate took a non-user entry");
    }
    // The highest legal values work: the FS base is loaded at once and at
    // every switch to a thread created with it.
    const TOP: usize = 0x0000_7fff_ffff_f000;
    check!(call6(Syscall::SetFsBase, [TOP, 0, 0, 0, 0, 0]) == Ok(0), "the top user address refused as FS base");
    check!(call6(Syscall::SetFsBase, [0, 0, 0, 0, 0, 0]) == Ok(0), "FS base 0 refused");
    let t = call6(Syscall::ThreadCreate, [entry, TOP, 0, TOP, 0, 0]).map_err(|_| "thread at the top values")?;
    check!(rt::thread_join(t) == Ok(0), "thread with the top values did not exit cleanly");
    say!("sec-canonical: FS base, TLS, stack and entry past the user end refused");
    Ok(())
}

/// H2: duplicate, close the old, again and again. The chain stops at the
/// kernel's depth limit (`MLink`) instead of growing until its drop
/// overflows the kernel stack.
pub fn derive_chain(_: &Args) -> R {
    let rights = Rights::CALL.union(Rights::DUPLICATE);
    let root = ipc::port_create().map_err(|_| "port")?;
    let mut h = root;
    let mut depth = 0;
    let mut refused = 0;
    for _ in 0..10_000 {
        match ipc::duplicate(h, rights) {
            Ok(next) => {
                if h != root {
                    ipc::close(h).map_err(|_| "close")?;
                }
                h = next;
                depth += 1;
            }
            Err(Errno::MLink) => refused += 1,
            Err(_) => return Err("duplicate failed with another error"),
        }
    }
    check!(depth == bedrock_abi::ipc::MAX_DERIVATION_DEPTH as usize, "the chain did not stop at the depth limit");
    check!(ipc::mint(h, 7, Rights::CALL) == Err(Errno::MLink), "a mint went past the depth limit");
    // The deep handle still works, and wide trees are not limited.
    check!(ipc::info(h).is_ok(), "the deepest handle is unusable");
    for _ in 0..2_000 {
        let d = ipc::duplicate(root, rights).map_err(|_| "wide duplicate")?;
        ipc::close(d).map_err(|_| "close")?;
    }
    // Revoking from the root reaches the bottom of the chain.
    ipc::revoke(root).map_err(|_| "revoke")?;
    check!(ipc::info(h).is_err(), "revocation did not reach the deepest handle");
    ipc::close(h).map_err(|_| "close deepest")?;
    say!("sec-derive: chain stopped at depth {depth}, {refused} deeper duplicates refused");
    Ok(())
}

static WAKE_WORD: AtomicU32 = AtomicU32::new(0);

extern "C" fn long_waiter(_: usize) -> ! {
    // A deadline so far off it saturates: only the early wake ends it.
    let _ = rt::futex_wait(&WAKE_WORD, 0, u64::MAX - 1);
    rt::thread_exit(0)
}

extern "C" fn forever_sleeper(_: usize) -> ! {
    rt::sleep_ns(u64::MAX);
    rt::thread_exit(1)
}

/// H3, M2: timed waits that end early (woken, timed out, killed) leave
/// nothing behind in the kernel's timer lists or wait queues.
pub fn early_wake(args: &Args) -> R {
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let stack = rt::vm_map(16 * PAGE, RW).map_err(|_| "map")? + 16 * PAGE - 8;
    for _ in 0..rounds {
        WAKE_WORD.store(0, Ordering::SeqCst);
        let t = call6(Syscall::ThreadCreate, [long_waiter as usize, stack, 0, 0, 0, 0]).map_err(|_| "spawn")?;
        // Wake it once it waits (a wake before it waits finds no one).
        while rt::futex_wake(&WAKE_WORD, 1) != Ok(1) {
            rt::yield_now();
        }
        check!(rt::thread_join(t) == Ok(0), "early-woken waiter");
    }
    let n = ipc::notify_create().map_err(|_| "notification")?;
    for _ in 0..rounds * 5 {
        check!(ipc::wait(n, 1_000) == Err(Errno::TimedOut), "notification wait did not time out");
    }
    let port = ipc::port_create().map_err(|_| "port")?;
    let mut m = bedrock_abi::ipc::Message::default();
    for _ in 0..rounds {
        check!(ipc::receive(port, &mut m, 1_000) == Err(Errno::TimedOut), "receive did not time out");
    }
    // A sleeper for ever: the silo's end must take it out of its CPU's list.
    rt::thread_spawn(forever_sleeper, 0, 0).map_err(|_| "sleeper")?;
    rt::sleep_ns(1_000_000);
    say!("sec-wake: {rounds} early-woken futex waits, {} timed-out waits; leaving a sleeper behind", rounds * 6);
    Ok(())
}

/// H4: serving a scheme needs `+name` in the namespace; seeing it is not
/// enough, and a silo serves a bounded number of names. Started with the
/// namespace `silo toy +mine +n0 .. +n16`.
pub fn squat(_: &Args) -> R {
    let port = ipc::port_create().map_err(|_| "port")?;
    for name in ["silo", "fs", "net", "sys", "toy", "other"] {
        check!(scheme::register(name, port) == Err(Errno::Acces), "registered a scheme without +name");
    }
    check!(scheme::register("mine", port) == Ok(0), "could not register a granted name");
    let other = ipc::port_create().map_err(|_| "port")?;
    check!(scheme::register("mine", other) == Err(Errno::Exist), "took over a served name");
    let names = [
        "n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "n10", "n11", "n12", "n13", "n14", "n15", "n16",
    ];
    // 16 names per silo: "mine" and n0..n14.
    for name in &names[..15] {
        check!(scheme::register(name, port) == Ok(0), "could not register a granted name");
    }
    check!(scheme::register(names[15], port) == Err(Errno::MFile), "served more than 16 names");
    // A dead server's names count no more and may be served again.
    ipc::close(port).map_err(|_| "close")?;
    check!(scheme::register(names[15], other) == Ok(0), "names of a closed port still counted");
    check!(scheme::register("mine", other) == Ok(0), "the name of a closed port was not freed");
    check!(scheme::lookup("mine").is_ok(), "a server cannot look up its own scheme");
    say!("sec-squat: unauthorised names refused, 16 names per silo, dead names freed");
    Ok(())
}

const RACE_PAGES: usize = 256;
static RACE_BASE: AtomicUsize = AtomicUsize::new(0);
static RACE_STOP: AtomicU32 = AtomicU32::new(0);
static RACE_BAD: AtomicU32 = AtomicU32::new(0);
static RACE_POKES: AtomicUsize = AtomicUsize::new(0);
static RACE_GO: AtomicU32 = AtomicU32::new(0);

/// The word at `addr` through the kernel (a futex wait that cannot block):
/// `Some(true)` if it is 0, `Some(false)` if not, `None` if not mapped.
/// No direct load, which would kill the silo when the page went meanwhile.
fn word_is_zero(addr: usize) -> Option<bool> {
    match call6(Syscall::FutexWait, [addr, 0, 0, 0, 0, 0]) {
        Err(Errno::TimedOut) | Ok(_) => Some(true),
        Err(Errno::Again) => Some(false),
        _ => None,
    }
}

/// Replaces pages of the shared mapping's range with anonymous ones, again
/// and again: a fresh anonymous page must read zero, never object data.
extern "C" fn poker(seed: usize) -> ! {
    while RACE_GO.load(Ordering::SeqCst) == 0 {
        rt::yield_now();
    }
    let base = RACE_BASE.load(Ordering::SeqCst);
    let mut k = seed;
    while RACE_STOP.load(Ordering::SeqCst) == 0 {
        k = (k * 7 + 3) % RACE_PAGES;
        let va = base + k * PAGE;
        let _ = call6(Syscall::VmUnmap, [va, PAGE, 0, 0, 0, 0]);
        if let Ok(got) = call6(Syscall::VmMap, [va, PAGE, RW, 0, 0, 0]) {
            if word_is_zero(got) == Some(false) {
                RACE_BAD.fetch_add(1, Ordering::SeqCst);
            }
            let _ = call6(Syscall::VmUnmap, [got, PAGE, 0, 0, 0, 0]);
        }
        RACE_POKES.fetch_add(1, Ordering::Relaxed);
    }
    rt::thread_exit(0)
}

/// C1: one thread maps (and re-protects) a shared object over and over at
/// the same address while others unmap and map anonymous pages in that
/// range. Before the fix the object's frames landed in the anonymous
/// regions (read back as object data, then freed by their unmap while the
/// object still owned them). `sec-map-race [rounds] [pokers]`.
pub fn map_race(args: &Args) -> R {
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);
    let pokers: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(1).clamp(1, 8);
    let cpus = rt::silo_info().map_err(|_| "silo info")?.online_cpus as usize;
    let size = RACE_PAGES * PAGE;
    let h = ipc::mem_create(size).map_err(|_| "mem create")?;
    let first = ipc::mem_map(h, RW).map_err(|_| "mem map")?;
    // SAFETY: the object is mapped RW at `first` for `size` bytes.
    unsafe { core::ptr::write_bytes(first as *mut u8, 0xa5, size) };
    RACE_BASE.store(first, Ordering::SeqCst);
    let _ = rt::set_affinity(0, 1);
    // The pokers' stacks are taken while the range is still mapped, so
    // they never lie in it.
    let mut ids = [0usize; 8];
    for (i, id) in ids.iter_mut().enumerate().take(pokers) {
        *id = rt::thread_spawn(poker, i * 31 + 1, 0).map_err(|_| "spawn")?;
        let _ = rt::set_affinity(*id, 1 << (1 + i % (cpus - 1).max(1)));
    }
    call6(Syscall::VmUnmap, [first, size, 0, 0, 0, 0]).map_err(|_| "unmap")?;
    RACE_GO.store(1, Ordering::SeqCst);
    let mut mapped = 0;
    for round in 0..rounds {
        let Ok(at) = call6(Syscall::MemMap, [h as usize, first, RW, 0, 0, 0]) else {
            continue;
        };
        mapped += 1;
        if round % 2 == 1 {
            let _ = call6(Syscall::VmProtect, [at, size, prot::READ, 0, 0, 0]);
            let _ = call6(Syscall::VmProtect, [at, size, RW, 0, 0, 0]);
        }
        let _ = call6(Syscall::VmUnmap, [at, size, 0, 0, 0, 0]);
    }
    RACE_STOP.store(1, Ordering::SeqCst);
    for &id in ids.iter().take(pokers) {
        rt::thread_join(id).map_err(|_| "join")?;
    }
    let bad = RACE_BAD.load(Ordering::SeqCst);
    say!(
        "sec-map-race: {mapped} maps raced {} anonymous remaps; {bad} showed object data",
        RACE_POKES.load(Ordering::Relaxed)
    );
    check!(bad == 0, "an anonymous page was mapped to a shared object's frame");
    // The object is intact: every word still reads 0xa5a5a5a5.
    let at = ipc::mem_map(h, prot::READ).map_err(|_| "final map")?;
    for off in (0..size).step_by(PAGE) {
        // SAFETY: mapped READ just above.
        let v = unsafe { ((at + off) as *const u32).read_volatile() };
        check!(v == 0xa5a5_a5a5, "the object's contents changed");
    }
    Ok(())
}

static SD_WRITER_AT: AtomicUsize = AtomicUsize::new(0);
static SD_GO: AtomicU32 = AtomicU32::new(0);
static SD_STOP: AtomicU32 = AtomicU32::new(0);
static SD_DIRTY: AtomicU32 = AtomicU32::new(0);

/// Writes into the shared mapping for ever; it dies with #PF once the
/// mapping is gone (as it must), never writing on through a stale TLB.
extern "C" fn shared_writer(_: usize) -> ! {
    while SD_GO.load(Ordering::SeqCst) == 0 {
        core::hint::spin_loop();
    }
    let base = SD_WRITER_AT.load(Ordering::SeqCst);
    let mut i = 0;
    loop {
        // SAFETY: mapped until the main thread unmaps it; then this store
        // must fault (that is the test).
        unsafe { ((base + (i % RACE_PAGES) * PAGE) as *mut u64).write_volatile(0xdead_beef_dead_beef) };
        i += 1;
    }
}

/// Takes fresh pages all the time: each must be zero when first read. A
/// write through a stale TLB entry into a freed frame shows up here.
extern "C" fn fresh_checker(_: usize) -> ! {
    while SD_STOP.load(Ordering::SeqCst) == 0 {
        let Ok(p) = rt::vm_map(16 * PAGE, RW) else { continue };
        for off in (0..16 * PAGE).step_by(PAGE) {
            // SAFETY: our own fresh mapping, never unmapped by anyone else.
            let v = unsafe { ((p + off) as *const u64).read_volatile() };
            if v != 0 {
                // At once: the writer's fault would end the silo first.
                SD_DIRTY.fetch_add(1, Ordering::SeqCst);
                say!("sec-unmap-shootdown: a fresh page held {v:#x}: a stale TLB entry wrote into a freed frame");
                rt::exit(3);
            }
        }
        let _ = rt::vm_unmap(p, 16 * PAGE);
    }
    rt::thread_exit(0)
}

/// H5: the last unmap of a shared object (whose handle is closed) while a
/// thread on another CPU writes into it; threads on further CPUs take the
/// freed frames at once. The writer must die with #PF at its page; the
/// checkers must never see its writes. The scenario expects the #PF.
pub fn unmap_shootdown(_: &Args) -> R {
    let cpus = rt::silo_info().map_err(|_| "silo info")?.online_cpus as usize;
    check!(cpus >= 3, "needs three CPUs");
    let _ = rt::set_affinity(0, 1);
    let size = RACE_PAGES * PAGE;
    let h = ipc::mem_create(size).map_err(|_| "mem create")?;
    let at = ipc::mem_map(h, RW).map_err(|_| "mem map")?;
    ipc::close(h).map_err(|_| "close")?;
    SD_WRITER_AT.store(at, Ordering::SeqCst);
    let w = rt::thread_spawn(shared_writer, 0, 0).map_err(|_| "writer")?;
    let _ = rt::set_affinity(w, 1 << 1);
    for cpu in 2..cpus.min(4) {
        let c = rt::thread_spawn(fresh_checker, 0, 0).map_err(|_| "checker")?;
        let _ = rt::set_affinity(c, 1 << cpu);
    }
    SD_GO.store(1, Ordering::SeqCst);
    rt::sleep_ns(2_000_000);
    call6(Syscall::VmUnmap, [at, size, 0, 0, 0, 0]).map_err(|_| "unmap")?;
    // The writer faults now, which ends the silo; until then the checkers
    // keep taking the freed frames.
    rt::sleep_ns(200_000_000);
    SD_STOP.store(1, Ordering::SeqCst);
    if SD_DIRTY.load(Ordering::SeqCst) != 0 {
        return Err("a freed frame was written through a stale TLB entry");
    }
    Err("the writer kept writing after its mapping was gone")
}
