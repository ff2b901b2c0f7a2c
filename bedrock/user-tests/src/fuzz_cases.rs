//! `usertest fuzz ...`: the ring-3 system call fuzzer (issue 13) and the
//! two small programs around it.
//!
//! - `usertest fuzz run [key=value...]` fuzzes. Keys: `seed`, `calls`
//!   (default 200 000: it stops after that many calls of its workers),
//!   `ms` (default 150 000: it fails if the calls are not made by then),
//!   `workers` (default 4), `spawns` (valid silo spawns, default 24),
//!   `avoid=long-waits` (no deadlines years away), `only=`/`skip=` (call
//!   names as the summary prints them, joined by `+`), `trace=N` (log
//!   every call from the N-th on, for a kernel that dies). Initial handle
//!   1 must be a read-only memory object holding this very program (the
//!   children it spawns run from it); its namespace must be `+fuzz` (it
//!   checks that every other name is refused).
//! - `usertest fuzz child MS CODE`: what the fuzzer spawns: sleeps, exits.
//! - `usertest fuzz counters`: reads `SysCounters` (needs `sys` in the
//!   namespace) and checks that the figures hang together.
//!
//! **How it fuzzes.** The workers (threads spread over the CPUs) each
//! loop: pick a call number (every number of the ABI's `Syscall` but
//! `Exit`/`ThreadExit`, plus unknown ones; weighted so that expensive
//! calls are rare), fill all six argument registers with junk, then
//! overwrite the ones the call reads from a per-call shape: handles (live
//! ones from a pool of what the workers made, stale ones they closed,
//! wrong types, garbage), pointers (scratch memory, read-only memory, the
//! last bytes before a guard, page 0, the canonical boundaries
//! `0x7fff_ffff_f000` / `0x0000_8000_0000_0000`, the kernel half,
//! `u64::MAX`), lengths (0, 1, page, page + 1, huge, `u64::MAX`), timeouts
//! (0 to 1 ms; a budget of never-ending ones), rights, protections, CPU
//! masks, and message descriptors and spawn specs built valid, then broken
//! one field at a time. What a call makes (handles, mappings, thread ids)
//! feeds the pools. The main thread counts calls, keeps blocked workers
//! moving (answers pending calls, signals notifications, wakes futexes,
//! closes every pooled handle every 2 s, replaces a worker stuck for
//! good), prints progress every 50 000 calls and a per-call summary, and
//! exits the silo at the end, which ends every thread.
//!
//! **What it checks.** Every result is a success or an errno the ABI
//! defines; successes have the call's shape (a handle, a page-aligned user
//! address, 0...); calls that must fail (unknown numbers, `sys` calls
//! without `sys`, scheme names outside the namespace, device calls without
//! device handles, pointers no access can succeed at, invalid entries, FS
//! bases, lengths and protections) fail, mostly with the exact errno. The
//! silo surviving is the main check: a kernel that writes where it must
//! not, or accepts a register value it cannot load, kills the silo or the
//! machine. The kernel-side scenario (`syscall_fuzz`) then checks that
//! frames, heap, handles, threads, silos and scheme names are back to
//! their baseline.
//!
//! **Never hurting itself.** The kernel writes only into memory the
//! fuzzer does not use: a 64 KiB arena (followed by a 128 KiB `PROT_NONE`
//! guard, longer than any kernel write) and the message descriptors on
//! the workers' own stacks. `VmUnmap`/`VmProtect` and map hints only name
//! the arena, mappings the fuzzer made, or addresses no mapping can
//! have, with lengths that stay inside (or that the kernel must refuse);
//! every mapping the fuzzer relies on exists before the first fuzzed
//! call, so none can be placed in a hole it later unmaps. New threads run
//! a trampoline that touches neither its stack nor FS (so any stack and
//! TLS the kernel accepts is harmless); other entries are ones the kernel
//! must refuse. No `Exit`, no device authority.
//!
//! **Reproducing.** Each worker draws from its own stream of the seed, but
//! what it draws also depends on state the workers share (the pools, the
//! budgets, which waits time out), so on two CPUs a seed replays the same
//! mix, not the same sequence: a failure usually comes back with its seed,
//! and `workers=1`, `only=` and `trace=` narrow it down.

use core::arch::{asm, global_asm};
use core::sync::atomic::Ordering::Relaxed;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize};

use bedrock_abi::ipc::{MAX_DATA, MAX_HANDLES, Message};
use bedrock_abi::silo::{ExitStatus, MAX_IMAGE, MAX_SPAWN_HANDLES, SpawnSpec, pack};
use bedrock_abi::{ClockId, Errno, KernelCounters, Rights, Syscall, decode};

use crate::rt::{self, Args};

const PAGE: u64 = 4096;
/// Highest value the kernel accepts for RIP, RSP or FS base of a new
/// thread (the last user page is never mappable, and above it the
/// address would be non-canonical).
const USER_END: u64 = 0x7fff_ffff_f000;
const NON_CANONICAL: u64 = 0x0000_8000_0000_0000;
/// Largest memory object (`MemCreate` refuses more).
const MAX_OBJECT: u64 = 256 << 20;
/// Largest `LogWrite`/`RandomBytes` transfer.
const MAX_IO: u64 = bedrock_abi::MAX_IO_CHUNK as u64;

/// Pointers at which no access of any length can succeed: page 0 (never
/// mapped), the top user page (never mappable), the non-canonical hole,
/// the kernel half.
const BAD_PTRS: [u64; 13] = [
    0,
    0x10,
    0xff8,
    USER_END,
    USER_END + 0xff8,
    NON_CANONICAL - 8,
    NON_CANONICAL,
    NON_CANONICAL + PAGE,
    0x0fff_ffff_ffff_f000,
    0xffff_8000_0000_0000,
    0xffff_ffff_8000_0000,
    u64::MAX - 7,
    u64::MAX,
];

/// The arena: scratch memory the kernel may write into.
const ARENA: u64 = 16 * PAGE;
/// An arena page made read-only at the start.
const RO_PAGE: u64 = 5 * PAGE;
/// Offsets of the futex words the fuzzer waits on (in the arena).
const FUTEX_WORDS: [u64; 6] = [0, 4, 64, 4092, RO_PAGE, 2 * PAGE + 8];
/// `PROT_NONE` after the arena: longer than any single kernel write
/// (`MAX_IO`), so one that runs off the arena faults.
const GUARD: u64 = 32 * PAGE;

const MAX_WORKERS: usize = 24;
const WORKER_STACK: u64 = 64 * 1024;
const POOL: usize = 48;
const STALE: usize = 32;
const TIDS: usize = 16;
const MAPS: usize = 16;
/// A worker that made no call for this long is stuck (in a wait nothing
/// ends): another one takes over, up to [`MAX_WORKERS`] in all.
const STUCK_MS: u64 = 2_000;
/// How often the main thread closes every handle of the pool.
const PURGE_MS: u64 = 2_000;
/// Most trampoline threads alive at once.
const MAX_TRAMPOLINES: u32 = 12;

/// Kinds of handle, as `HandleInfo` numbers them (`ipc::ObjectType`); 0:
/// unknown.
mod kind {
    pub const ANY: u32 = 0;
    pub const PORT: u32 = 1;
    pub const REPLY: u32 = 2;
    pub const NOTIFY: u32 = 3;
    pub const MEMORY: u32 = 4;
    pub const SILO: u32 = 7;
    pub const THREAD: u32 = 8;
}

/// Read-only bytes for `LogWrite` and as a pointer the kernel may read
/// but never write.
static TEXT: &[u8] = b"fuzz: a line from the syscall fuzzer\n";
/// The one scheme name our namespace (`+fuzz`) lets us serve and look up.
const SERVED: &str = "fuzz";
/// Valid and invalid scheme names for `SchemeRegister`/`SchemeLookup`.
static NAMES: [&[u8]; 9] = [
    b"fuzz",
    b"fuzz-a",
    b"sys",
    b"silo",
    b"toy",
    b"Bad Name",
    b"a/b",
    b"\xff\xfe",
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];

// State shared by the workers and the main thread.
static STOP: AtomicBool = AtomicBool::new(false);
static FAILURES: AtomicU32 = AtomicU32::new(0);
static CALLS: AtomicU64 = AtomicU64::new(0);
static SEED: AtomicU64 = AtomicU64::new(0);
static AVOID_LONG_WAITS: AtomicBool = AtomicBool::new(false);
static TRACE_FROM: AtomicU64 = AtomicU64::new(u64::MAX);
static ONLINE: AtomicU64 = AtomicU64::new(1);
static ARENA_BASE: AtomicU64 = AtomicU64::new(0);
static IMAGE: AtomicU64 = AtomicU64::new(0);
static IMAGE_LEN: AtomicU64 = AtomicU64::new(0);
/// Valid spawns: how many are left, of how many.
static SPAWNS_LEFT: AtomicU32 = AtomicU32::new(0);
static SPAWNS_TOTAL: AtomicU32 = AtomicU32::new(0);
/// Calls to make.
static TARGET: AtomicU64 = AtomicU64::new(0);
/// Trampoline threads alive (the trampoline decrements it as it leaves).
static TRAMPOLINES: AtomicU32 = AtomicU32::new(0);
/// Wakes parked workers (never, in fact: they wait for the silo's end).
static PARK: AtomicU32 = AtomicU32::new(0);

/// Live handles the workers made: `handle | kind << 32`, 0 = empty.
static POOL_SLOTS: [AtomicU64; POOL] = [const { AtomicU64::new(0) }; POOL];
/// Handles closed: stale values to pass.
static STALE_SLOTS: [AtomicU32; STALE] = [const { AtomicU32::new(0) }; STALE];
static STALE_NEXT: AtomicUsize = AtomicUsize::new(0);
/// Ids of trampoline threads.
static TID_SLOTS: [AtomicU64; TIDS] = [const { AtomicU64::new(0) }; TIDS];
static WORKER_TIDS: [AtomicU64; MAX_WORKERS] = [const { AtomicU64::new(0) }; MAX_WORKERS];
static PROGRESS: [AtomicU64; MAX_WORKERS] = [const { AtomicU64::new(0) }; MAX_WORKERS];
/// The call each worker is in (number, first argument): where a stuck one
/// is stuck.
static CURRENT: [(AtomicU64, AtomicU64); MAX_WORKERS] =
    [const { (AtomicU64::new(0), AtomicU64::new(0)) }; MAX_WORKERS];
/// Mappings the fuzzer made (scratch, never written through by the
/// kernel: their neighbours are unknown): address and length.
static MAP_ADDR: [AtomicU64; MAPS] = [const { AtomicU64::new(0) }; MAPS];
static MAP_LEN: [AtomicU64; MAPS] = [const { AtomicU64::new(0) }; MAPS];

/// Per call number (unknown ones share the last entry): calls, successes.
const STAT_SLOTS: usize = 73;
static STAT_CALLS: [AtomicU64; STAT_SLOTS] = [const { AtomicU64::new(0) }; STAT_SLOTS];
static STAT_OK: [AtomicU64; STAT_SLOTS] = [const { AtomicU64::new(0) }; STAT_SLOTS];
/// Per call number: TSC cycles spent in the kernel (waits included).
static STAT_CYCLES: [AtomicU64; STAT_SLOTS] = [const { AtomicU64::new(0) }; STAT_SLOTS];

fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: reads the time-stamp counter; no memory access.
    unsafe { asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    (hi as u64) << 32 | lo as u64
}

pub fn run(args: &Args) -> Result<(), &'static str> {
    match args.get(2) {
        None | Some("run") => fuzz(args),
        Some("child") => child(args),
        Some("counters") => counters(),
        Some(_) => Err("unknown fuzz mode"),
    }
}

/// SplitMix64: tiny, fast, and good enough to steer a fuzzer.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        Rng(seed ^ stream.wrapping_mul(0xd1b5_4a32_d192_ed03))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 for `n == 0`).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// A system call with any number and six argument registers; `CallRegs`
/// writes its reply into the argument registers, so all are clobbered.
fn raw(n: u64, a: [u64; 6]) -> Result<usize, Errno> {
    let ret: usize;
    // SAFETY: the kernel writes only where the arguments point, and the
    // fuzzer points it only at its arena and at its own descriptors
    // (passed as pointers, so the compiler treats them as escaped). rcx
    // and r11 are clobbered by `syscall`, the argument registers by
    // `CallRegs`.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") n as usize => ret,
            inlateout("rdi") a[0] => _, inlateout("rsi") a[1] => _, inlateout("rdx") a[2] => _,
            inlateout("r10") a[3] => _, inlateout("r8") a[4] => _, inlateout("r9") a[5] => _,
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    decode(ret)
}

fn sys(n: Syscall, a: [u64; 6]) -> Result<usize, Errno> {
    raw(n as u64, a)
}

// The entry of the threads the fuzzer creates. It uses no stack and no
// FS, so any RSP and FS base the kernel accepts is harmless: `rdi` = arg:
// sleep (low byte) * 100 µs, then exit with code arg >> 8.
global_asm!(
    ".pushsection .text.bedrock_fuzz_trampoline, \"ax\"",
    ".global bedrock_fuzz_trampoline",
    "bedrock_fuzz_trampoline:",
    "mov r12, rdi",
    "movzx edi, r12b",
    "imul rdi, rdi, 100000",
    "mov eax, {sleep}",
    "syscall",
    "lock dec dword ptr [rip + {live}]",
    "mov rdi, r12",
    "shr rdi, 8",
    "mov eax, {exit}",
    "syscall",
    "ud2",
    ".popsection",
    sleep = const Syscall::Sleep as usize,
    exit = const Syscall::ThreadExit as usize,
    live = sym TRAMPOLINES,
);

unsafe extern "C" {
    fn bedrock_fuzz_trampoline();
}

fn trampoline() -> u64 {
    bedrock_fuzz_trampoline as *const () as usize as u64
}

/// What a call must give.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// What the ABI allows for the call (see `check`).
    Any,
    /// This error.
    Err(Errno),
    /// Some error.
    Fail,
}

/// Call numbers and weights: how often each is picked. Cheap calls are
/// common; spawns, large mappings and serial output are rare (and mostly
/// invalid, see their shapes).
const TABLE: &[(Syscall, u32)] = &[
    (Syscall::ThreadCreate, 3),
    (Syscall::ThreadJoin, 2),
    (Syscall::Yield, 2),
    (Syscall::Sleep, 2),
    (Syscall::FutexWait, 4),
    (Syscall::FutexWake, 4),
    (Syscall::ClockGet, 2),
    // Unmaps and protection changes flush the other CPU's TLB: an
    // interrupt round trip, slow under emulation.
    (Syscall::VmMap, 4),
    (Syscall::VmUnmap, 3),
    (Syscall::VmProtect, 3),
    (Syscall::SetFsBase, 3),
    (Syscall::LogWrite, 2),
    (Syscall::RandomBytes, 4),
    (Syscall::SiloInfo, 3),
    (Syscall::SetAffinity, 2),
    (Syscall::GetCpu, 1),
    (Syscall::HandleClose, 6),
    (Syscall::HandleDuplicate, 6),
    (Syscall::HandleRevoke, 3),
    (Syscall::HandleInfo, 4),
    (Syscall::PortCreate, 4),
    (Syscall::PortMint, 4),
    (Syscall::Call, 4),
    (Syscall::Receive, 4),
    (Syscall::Reply, 4),
    (Syscall::NotifyCreate, 3),
    (Syscall::NotifySignal, 3),
    (Syscall::NotifyWait, 3),
    (Syscall::NotifyPoll, 3),
    (Syscall::MemCreate, 3),
    (Syscall::MemMap, 3),
    (Syscall::SchemeRegister, 2),
    (Syscall::SchemeLookup, 1),
    (Syscall::MemSize, 2),
    (Syscall::IrqBind, 1),
    (Syscall::IrqAck, 1),
    (Syscall::SysSilos, 1),
    (Syscall::SysCpus, 1),
    (Syscall::SysCounters, 1),
    (Syscall::PlatformMint, 1),
    (Syscall::MemPhysAddr, 1),
    (Syscall::PortIn, 1),
    (Syscall::PortOut, 1),
    (Syscall::SiloSpawn, 2),
    (Syscall::SiloWait, 2),
    (Syscall::SiloKill, 1),
    (Syscall::ThreadHandle, 2),
    (Syscall::ThreadWait, 2),
    (Syscall::ThreadCpuTime, 2),
    (Syscall::CallRegs, 3),
    (Syscall::ReplyWait, 3),
];
/// Weight of a call number the ABI does not define.
const UNKNOWN_WEIGHT: u32 = 2;
/// Numbers no call has (some between the ranges, some far above; one the
/// ABI defines later is skipped).
const UNKNOWN: [u64; 8] = [29, 31, 69, 99, 999, 1 << 32, 1 << 63, u64::MAX];

/// Call numbers the run makes (bit n; bit [`UNKNOWN_SLOT`]: unknown
/// numbers), from `only=`/`skip=`: all by default.
static ENABLED: [AtomicU64; 2] = [AtomicU64::new(u64::MAX), AtomicU64::new(u64::MAX)];
const UNKNOWN_SLOT: u64 = STAT_SLOTS as u64 - 1;

fn enabled(n: u64) -> bool {
    let n = stat_slot(n) as u64;
    ENABLED[(n / 64) as usize].load(Relaxed) & (1 << (n % 64)) != 0
}

/// `only=`/`skip=`: call names (as the summary prints them, `unknown`
/// for unknown numbers) joined by `+`.
fn select(names: &str, on: bool) -> Result<(), &'static str> {
    for want in names.split('+') {
        let n = (0..UNKNOWN_SLOT)
            .find(|&n| Syscall::from_raw(n as usize).is_some() && is_named(n, want))
            .or((want == "unknown").then_some(UNKNOWN_SLOT))
            .ok_or("only/skip: unknown call name")?;
        let (word, bit) = ((n / 64) as usize, 1u64 << (n % 64));
        if on {
            ENABLED[word].fetch_or(bit, Relaxed);
        } else {
            ENABLED[word].fetch_and(!bit, Relaxed);
        }
    }
    Ok(())
}

/// Says which calls of the ABI the fuzzer has no shape for (a call added
/// since): they are not fuzzed until `TABLE` and `shape` know them.
fn unfuzzed() {
    for n in 0..UNKNOWN_SLOT {
        if let Some(s) = Syscall::from_raw(n as usize)
            && !matches!(s, Syscall::Exit | Syscall::ThreadExit)
            && !TABLE.iter().any(|e| e.0 == s)
        {
            say!("fuzz: call {n} is not fuzzed (no shape for it)");
        }
    }
}

fn stat_slot(n: u64) -> usize {
    match usize::try_from(n).ok().and_then(Syscall::from_raw) {
        Some(_) if n < UNKNOWN_SLOT => n as usize,
        _ => UNKNOWN_SLOT as usize,
    }
}

/// The pool's entries.
fn pool_get(i: usize) -> (u32, u32) {
    let v = POOL_SLOTS[i % POOL].load(Relaxed);
    (v as u32, (v >> 32) as u32)
}

fn stale_push(h: u32) {
    let i = STALE_NEXT.fetch_add(1, Relaxed) % STALE;
    STALE_SLOTS[i].store(h, Relaxed);
}

/// Forgets a handle the kernel took away (closed, moved or used up).
fn pool_forget(h: u32) {
    for slot in &POOL_SLOTS {
        let v = slot.load(Relaxed);
        if v != 0 && v as u32 == h && slot.compare_exchange(v, 0, Relaxed, Relaxed).is_ok() {
            stale_push(h);
        }
    }
}

fn record(slots: &[AtomicU64], rng: &mut Rng, v: u64) {
    slots[rng.below(slots.len() as u64) as usize].store(v, Relaxed);
}

/// Waits that may never end: how many are left of [`LONG_WAITS`].
static LONG_WAITS_LEFT: AtomicU32 = AtomicU32::new(LONG_WAITS);
const LONG_WAITS: u32 = 12;

/// Takes one of `total` (`left` of them left) if one is due: spawns and
/// never-ending waits are spread evenly over the run.
fn take_budget(left: &AtomicU32, total: u32) -> bool {
    let have = left.load(Relaxed);
    let due = CALLS.load(Relaxed).saturating_mul(total as u64 + 1) / TARGET.load(Relaxed).max(1);
    have > 0
        && due > u64::from(total - have)
        && left
            .compare_exchange(have, have - 1, Relaxed, Relaxed)
            .is_ok()
}

fn take_long_wait() -> bool {
    take_budget(&LONG_WAITS_LEFT, LONG_WAITS)
}

fn take_spawn() -> bool {
    take_budget(&SPAWNS_LEFT, SPAWNS_TOTAL.load(Relaxed))
}

/// A worker: its random stream and its own message descriptors and spawn
/// spec (the kernel writes into them; nothing else of ours is lent out).
struct Worker {
    index: usize,
    rng: Rng,
    tid: u64,
    arena: u64,
    send: Message,
    recv: Message,
    spec: SpawnSpec,
    strings: [u8; 128],
    /// Handles placed in `send` (moved ones leave our table).
    sent: [u32; MAX_HANDLES],
    sent_count: usize,
    sent_moves: u32,
    /// `MemSize` of the handle a `MemMap` maps, taken just before.
    mem_size_before: Option<u64>,
}

extern "C" fn worker_main(index: usize) -> ! {
    while WORKER_TIDS[index].load(Relaxed) == 0 {
        rt::yield_now();
    }
    let seed = SEED.load(Relaxed);
    let mut w = Worker {
        index,
        rng: Rng::new(seed, index as u64 + 1),
        tid: WORKER_TIDS[index].load(Relaxed),
        arena: ARENA_BASE.load(Relaxed),
        send: Message::default(),
        recv: Message::default(),
        spec: SpawnSpec::default(),
        strings: [0; 128],
        sent: [0; MAX_HANDLES],
        sent_count: 0,
        sent_moves: 0,
        mem_size_before: None,
    };
    while !STOP.load(Relaxed) {
        w.step();
    }
    // Wait for the silo's end without a deadline (no timer to leave
    // behind).
    loop {
        let _ = rt::futex_wait(&PARK, 0, u64::MAX);
    }
}

impl Worker {
    fn step(&mut self) {
        let (n, call) = self.pick();
        let (a, want) = match call {
            Some(s) => self.shape(s),
            None => {
                let mut a = [0u64; 6];
                a.iter_mut().for_each(|x| *x = self.rng.next());
                (a, Want::Err(Errno::NoSys))
            }
        };
        let count = CALLS.fetch_add(1, Relaxed);
        if count >= TRACE_FROM.load(Relaxed) {
            say!(
                "fuzz trace: w{} #{count} {} ({n}) {:#x} {:#x} {:#x} {:#x} {:#x} {:#x}",
                self.index,
                Name(n),
                a[0],
                a[1],
                a[2],
                a[3],
                a[4],
                a[5]
            );
        }
        CURRENT[self.index].0.store(n, Relaxed);
        CURRENT[self.index].1.store(a[0], Relaxed);
        let t0 = rdtsc();
        let result = raw(n, a);
        let slot = stat_slot(n);
        STAT_CYCLES[slot].fetch_add(rdtsc().wrapping_sub(t0), Relaxed);
        STAT_CALLS[slot].fetch_add(1, Relaxed);
        if result.is_ok() {
            STAT_OK[slot].fetch_add(1, Relaxed);
        }
        if let Err(why) = check(call, &a, want, result) {
            fail(self.index, count, n, &a, result, why);
        }
        if let Some(s) = call {
            self.learn(s, &a, result);
        }
        PROGRESS[self.index].fetch_add(1, Relaxed);
    }

    fn pick(&mut self) -> (u64, Option<Syscall>) {
        let weight = |n: u64, w: u32| if enabled(n) { w } else { 0 };
        let total: u32 = TABLE.iter().map(|e| weight(e.0 as u64, e.1)).sum::<u32>()
            + weight(UNKNOWN_SLOT, UNKNOWN_WEIGHT);
        let mut r = self.rng.below(total as u64) as u32;
        for &(s, w) in TABLE {
            let w = weight(s as u64, w);
            if r < w {
                return (s as u64, Some(s));
            }
            r -= w;
        }
        let n = if self.rng.one_in(4) {
            1000 + self.rng.below(1 << 20)
        } else {
            self.rng.pick(&UNKNOWN)
        };
        match usize::try_from(n).ok().and_then(Syscall::from_raw) {
            // A call the ABI added since: not fuzzed blind (see
            // `unfuzzed`), a harmless one instead.
            Some(_) => (Syscall::GetCpu as u64, Some(Syscall::GetCpu)),
            None => (n, None),
        }
    }

    // --- Argument shapes -------------------------------------------------

    /// A handle: usually a live one of `want`'s kind, else any live one
    /// (often of the wrong type), a stale one, or garbage.
    fn handle(&mut self, want: u32) -> u64 {
        match self.rng.below(100) {
            0..50 => {
                let start = self.rng.below(POOL as u64) as usize;
                let mut any = 0;
                for i in 0..POOL {
                    let (h, k) = pool_get(start + i);
                    if h != 0 && (want == kind::ANY || k == want) {
                        return h as u64;
                    }
                    if h != 0 && any == 0 {
                        any = h;
                    }
                }
                any as u64
            }
            50..70 => pool_get(self.rng.below(POOL as u64) as usize).0 as u64,
            70..82 => STALE_SLOTS[self.rng.below(STALE as u64) as usize].load(Relaxed) as u64,
            _ => {
                let live = pool_get(self.rng.below(POOL as u64) as usize).0 as u64;
                let r = self.rng.next();
                self.rng.pick(&[
                    0,
                    1,
                    2,
                    0xf_ffff,
                    0x10_0000,
                    0x7fff_ffff,
                    0x8000_0000,
                    u32::MAX as u64,
                    u64::MAX,
                    live | 1 << 32,
                    live ^ 1 << 20,
                    live + 1,
                    r,
                ])
            }
        }
    }

    /// A byte buffer the kernel may read from (`write == false`) or write
    /// to: in the arena's buffer zone, just before its guard, read-only
    /// memory, our mappings (reads only), or an address no access can
    /// succeed at. The kernel writes at most `MAX_IO` bytes, so any of
    /// these that is writable at all ends in the arena or its guard.
    fn buf(&mut self, write: bool) -> u64 {
        let a = self.arena;
        match self.rng.below(16) {
            0..6 => {
                let align = self.rng.pick(&[1, 8, 8, PAGE]);
                (a + self.rng.below(ARENA)) & !(align - 1)
            }
            6 => a + ARENA - 1 - self.rng.below(64),
            7 => a + RO_PAGE + self.rng.below(PAGE),
            8 => TEXT.as_ptr() as u64,
            9 => IMAGE.load(Relaxed) + self.rng.below(IMAGE_LEN.load(Relaxed)),
            10 if !write => {
                let i = self.rng.below(MAPS as u64) as usize;
                MAP_ADDR[i].load(Relaxed) + self.rng.below(MAP_LEN[i].load(Relaxed))
            }
            10 => a,
            _ => self.rng.pick(&BAD_PTRS),
        }
    }

    /// A descriptor (message, spawn spec) the kernel only reads, that is
    /// not one of ours: anywhere in the arena (whatever the kernel wrote
    /// there), running into the guard, read-only bytes, or a bad address.
    fn read_descriptor(&mut self) -> u64 {
        match self.rng.below(10) {
            0..4 => {
                let align = self.rng.pick(&[1, 8, 8, 64]);
                (self.arena + self.rng.below(ARENA)) & !(align - 1)
            }
            4..7 => self.write_descriptor(),
            _ => IMAGE.load(Relaxed) + self.rng.below(IMAGE_LEN.load(Relaxed)),
        }
    }

    /// A descriptor the kernel would write into, that is not one of ours:
    /// only ones where the write must fault. (A message descriptor in the
    /// arena would make the kernel write received data wherever its
    /// `data` field, bytes the kernel wrote as something else, points.)
    fn write_descriptor(&mut self) -> u64 {
        match self.rng.below(8) {
            0..2 => {
                self.arena + ARENA - 1 - self.rng.below(core::mem::size_of::<Message>() as u64 - 1)
            }
            2 => TEXT.as_ptr() as u64,
            3 => IMAGE.load(Relaxed) + self.rng.below(IMAGE_LEN.load(Relaxed)),
            _ => self.rng.pick(&BAD_PTRS),
        }
    }

    /// A futex word: aligned in the arena or one of our mappings,
    /// misaligned, read-only, or bad.
    fn futex_word(&mut self) -> u64 {
        let a = self.arena;
        match self.rng.below(10) {
            0..6 => a + self.rng.pick(&FUTEX_WORDS),
            6 => a + 1 + self.rng.below(3),
            7 => MAP_ADDR[self.rng.below(MAPS as u64) as usize].load(Relaxed),
            _ => self.rng.pick(&BAD_PTRS),
        }
    }

    /// A length in bytes.
    fn len(&mut self) -> u64 {
        match self.rng.below(4) {
            0 => self.rng.below(PAGE + 2),
            _ => self.rng.pick(&[
                0,
                1,
                8,
                PAGE - 1,
                PAGE,
                PAGE + 1,
                2 * PAGE,
                MAX_IO,
                MAX_IO + 1,
                1 << 20,
                1 << 32,
                1 << 47,
                1 << 63,
                u64::MAX - PAGE + 1,
                u64::MAX,
            ]),
        }
    }

    /// A timeout in nanoseconds: mostly short; rarely none (`u64::MAX`),
    /// and unless long waits are avoided, rarely one far in the future
    /// (a sleeper that outlives the silo).
    /// A wait that may never end (no deadline, or one in years) blocks
    /// its worker for good unless something wakes it: such waits come
    /// from a small budget spread over the run (a worker stuck in one is
    /// replaced). Deadlines far away but not never are left out with
    /// `avoid=long-waits`: a thread woken before them, or ended with its
    /// silo, must not leave its sleeper behind (review finding H3).
    fn timeout(&mut self) -> u64 {
        if self.rng.one_in(64) && take_long_wait() {
            if AVOID_LONG_WAITS.load(Relaxed) {
                return u64::MAX;
            }
            return self
                .rng
                .pick(&[u64::MAX, u64::MAX - 1, 1 << 62, 10_000_000_000]);
        }
        self.rng
            .pick(&[0, 0, 0, 1, 1_000, 10_000, 100_000, 1_000_000])
    }

    fn rights(&mut self) -> u64 {
        let all = Rights::ALL.bits() as u64;
        match self.rng.below(3) {
            0 => self.rng.next() & all,
            _ => self.rng.pick(&[
                0,
                all,
                all + 1,
                Rights::CALL.bits() as u64,
                Rights::RECEIVE.bits() as u64,
                Rights::CALL.union(Rights::GRANT).bits() as u64,
                Rights::READ.union(Rights::MAP).bits() as u64,
                Rights::SIGNAL.union(Rights::WAIT).bits() as u64,
                Rights::GRANT.union(Rights::DUPLICATE).bits() as u64,
                u32::MAX as u64,
                1 << 32,
            ]),
        }
    }

    fn prot(&mut self) -> u64 {
        self.rng
            .pick(&[0, 1, 1, 3, 3, 5, 2, 4, 6, 7, 8, 0x80, u64::MAX])
    }

    /// A thread id: one the fuzzer made, its own, another worker's, the
    /// caller (0), a kernel thread's, or garbage.
    fn tid(&mut self, others: bool) -> u64 {
        match self.rng.below(8) {
            0..3 => TID_SLOTS[self.rng.below(TIDS as u64) as usize].load(Relaxed),
            3 => self.tid,
            4 if others => WORKER_TIDS[self.rng.below(MAX_WORKERS as u64) as usize].load(Relaxed),
            5 => 0,
            6 => 1,
            _ => {
                let r = self.rng.next();
                self.rng.pick(&[2, 1 << 20, u32::MAX as u64, u64::MAX, r])
            }
        }
    }

    fn cpu_mask(&mut self) -> u64 {
        let r = self.rng.next();
        self.rng.pick(&[0, 1, 2, 3, 1, 2, 4, 1 << 63, u64::MAX, r])
    }

    /// A range for `VmUnmap`/`VmProtect`/hints: inside the arena or one of
    /// our mappings, or one the kernel must refuse whatever is mapped
    /// (misaligned, empty, wrapping, past the end of user space). Never a
    /// valid range that could reach memory the fuzzer uses.
    fn range(&mut self) -> (u64, u64) {
        let (base, size) = if self.rng.one_in(3) {
            let i = self.rng.below(MAPS as u64) as usize;
            (MAP_ADDR[i].load(Relaxed), MAP_LEN[i].load(Relaxed))
        } else {
            (self.arena, ARENA)
        };
        if base == 0 || size < PAGE {
            return (
                self.rng.pick(&BAD_PTRS) & !(PAGE - 1),
                self.len() & !(PAGE - 1),
            );
        }
        let pages = size / PAGE;
        let first = self.rng.below(pages);
        let start = base + first * PAGE;
        let len = match self.rng.below(8) {
            0 => 0,
            1 => self.rng.pick(&[1, PAGE - 1, PAGE + 1, 3 * PAGE + 7]),
            2 => self
                .rng
                .pick(&[u64::MAX - PAGE + 1, 1 << 63, NON_CANONICAL - start + PAGE]),
            _ => (1 + self.rng.below(pages - first)) * PAGE,
        };
        let start = if self.rng.one_in(16) {
            start + self.rng.pick(&[1, 8, PAGE - 1])
        } else {
            start
        };
        (start, len)
    }

    /// A hint for `VmMap`/`MemMap`: none, a page of the arena (taken only
    /// if free there, i.e. after a fuzzed unmap), low memory, the top of
    /// user space, or addresses the kernel must not use.
    fn hint(&mut self) -> u64 {
        match self.rng.below(8) {
            0..3 => 0,
            3..5 => self.arena + self.rng.below(ARENA / PAGE) * PAGE,
            5 => self.arena + 8,
            _ => self.rng.pick(&[
                PAGE,
                USER_END - PAGE,
                USER_END,
                NON_CANONICAL,
                0xffff_8000_0000_0000,
                u64::MAX & !(PAGE - 1),
            ]),
        }
    }

    /// Fills `send` or `recv` as a plausible message (data from `buf`,
    /// up to four handles from the pool, random words), now and then with
    /// one field out of range.
    fn message(&mut self, send: bool) -> u64 {
        let mut m = Message {
            label: self.rng.next(),
            words: [
                self.rng.next(),
                self.rng.next(),
                self.rng.next(),
                self.rng.next(),
            ],
            data: self.buf(!send),
            data_len: match self.rng.below(4) {
                0 => 0,
                1 => self.rng.below(MAX_DATA as u64 + 1),
                2 => self.rng.pick(&[1, 64, MAX_DATA as u64]),
                _ => self.len(),
            },
            ..Message::default()
        };
        if send {
            let count = self.rng.pick(&[0, 0, 0, 1, 1, 2, 4, 5]);
            for i in 0..count.min(MAX_HANDLES) {
                m.handles[i] = self.handle(kind::ANY) as u32;
                self.sent[i] = m.handles[i];
            }
            m.handle_count = count as u32;
            m.handle_move = self.rng.below(1 << count.min(MAX_HANDLES)) as u32;
            if self.rng.one_in(32) {
                m.handle_move |= 1 << 5;
            }
            self.sent_count = count.min(MAX_HANDLES);
            self.sent_moves = m.handle_move;
            if self.rng.one_in(4) {
                // The kernel must ignore what a sender puts here.
                m.badge = self.rng.next();
                m.reply = self.rng.next() as u32;
                m.flags = self.rng.next() as u32;
            }
            self.send = m;
            &self.send as *const Message as u64
        } else {
            self.recv = m;
            &mut self.recv as *mut Message as u64
        }
    }

    /// A message pointer: usually one of ours, built by `message`.
    fn message_ptr(&mut self, send: bool) -> u64 {
        match (self.rng.one_in(4), send) {
            (false, _) => self.message(send),
            (true, true) => self.read_descriptor(),
            (true, false) => self.write_descriptor(),
        }
    }

    /// Builds a spawn spec of `usertest fuzz child` from our image: valid
    /// (while the spawn budget lasts), or with one field broken. Returns
    /// the pointer and what the call must give.
    fn spawn_spec(&mut self) -> (u64, Want) {
        if self.rng.one_in(8) {
            return (self.read_descriptor(), Want::Any);
        }
        let ms = self.rng.pick(&["0", "1", "5", "20"]);
        let code = self.rng.pick(&["0", "3", "-1"]);
        let argv_len =
            pack(&["usertest", "fuzz", "child", ms, code], &mut self.strings).unwrap_or(0);
        let base = self.strings.as_ptr() as u64;
        let mut spec = SpawnSpec {
            image: IMAGE.load(Relaxed),
            image_len: IMAGE_LEN.load(Relaxed),
            name: b"fuzz-child".as_ptr() as u64,
            name_len: 10,
            argv: base,
            argv_len: argv_len as u64,
            argc: 5,
            affinity: self.rng.pick(&[0, 0, 1, 2, 3]),
            ..SpawnSpec::default()
        };
        // Namespaces only shrink: ours is `+fuzz`.
        let ns = self.rng.pick::<&[u8]>(&[b"", b"fuzz\0", b"+fuzz\0"]);
        (spec.namespace, spec.namespace_len) = (ns.as_ptr() as u64, ns.len() as u64);
        spec.namespace_count = (!ns.is_empty()) as u32;
        let count = self.rng.pick(&[0, 0, 1, 2]);
        for i in 0..count {
            spec.handles[i] = self.handle(kind::ANY) as u32;
        }
        spec.handle_count = count as u32;
        spec.handle_move = self.rng.below(1 << count) as u32;
        self.sent_count = count;
        self.sent[..count].copy_from_slice(&spec.handles[..count]);
        self.sent_moves = spec.handle_move;
        let want = if self.rng.one_in(2) && take_spawn() {
            Want::Any
        } else {
            self.break_spec(&mut spec);
            Want::Fail
        };
        self.spec = spec;
        (&self.spec as *const SpawnSpec as u64, want)
    }

    /// Breaks one field of a valid spec so that the spawn must fail.
    fn break_spec(&mut self, s: &mut SpawnSpec) {
        let bad = self.rng.pick(&BAD_PTRS);
        match self.rng.below(17) {
            0 => s.image = bad,
            1 => s.image_len = 0,
            2 => s.image_len = self.rng.pick(&[MAX_IMAGE + 1, u64::MAX, 1 << 47]),
            // Too short to be an ELF, or not an ELF (the arena).
            3 => s.image_len = self.rng.pick(&[1, 64, 100]),
            4 => (s.image, s.image_len) = (self.arena, PAGE),
            5 => s.name = bad,
            6 => s.name_len = self.rng.pick(&[0, 65, u64::MAX]),
            7 => (s.name, s.name_len) = (b"bad\nname".as_ptr() as u64, 8),
            8 => s.argv = bad,
            9 => s.argc += 1 + self.rng.below(3) as u32,
            10 => {
                s.argv_len = self
                    .rng
                    .pick(&[1, s.argv_len.saturating_sub(1), (64 << 10) + 1])
            }
            11 => (s.envp, s.envp_len, s.envc) = (b"A=1".as_ptr() as u64, 3, 1),
            12 => {
                // Namespaces only shrink: an empty one grants nothing.
                let ns = self.rng.pick::<&[u8]>(&[b"sys\0", b"*\0", b"toy\0"]);
                (s.namespace, s.namespace_len, s.namespace_count) =
                    (ns.as_ptr() as u64, ns.len() as u64, 1);
            }
            13 => s.namespace_count = self.rng.pick(&[s.namespace_count + 1, 65, u32::MAX]),
            14 => s.handle_count = self.rng.pick(&[MAX_SPAWN_HANDLES as u32 + 1, u32::MAX]),
            15 => s.flags = 1 + self.rng.below(u32::MAX as u64) as u32,
            _ => {
                s.affinity = self.rng.pick(&[1 << 40, 1 << 63, u64::MAX]);
                if ONLINE.load(Relaxed) >= 40 {
                    s.flags = 1;
                }
            }
        }
    }

    /// The arguments of call `s` and what it must give.
    fn shape(&mut self, s: Syscall) -> ([u64; 6], Want) {
        let mut a = [0u64; 6];
        a.iter_mut().for_each(|x| *x = self.rng.next());
        let mut want = Want::Any;
        self.sent_count = 0;
        match s {
            Syscall::ThreadCreate => {
                let live = TRAMPOLINES.load(Relaxed);
                if self.rng.one_in(3) || live >= MAX_TRAMPOLINES {
                    a[0] = self.rng.pick(&[
                        0,
                        USER_END + 1,
                        NON_CANONICAL - 1,
                        NON_CANONICAL,
                        0xffff_8000_0000_0000,
                        0xffff_ffff_8010_0000,
                        u64::MAX,
                    ]);
                    want = Want::Err(Errno::Inval);
                } else {
                    a[0] = trampoline();
                    TRAMPOLINES.fetch_add(1, Relaxed);
                }
                a[1] = self.register_value();
                a[2] = self.rng.below(64) | (self.rng.below(256) << 8);
                a[3] = self.register_value();
                if a[1] > USER_END || a[3] > USER_END {
                    want = Want::Err(Errno::Inval);
                }
            }
            Syscall::ThreadJoin => {
                a[0] = self.tid(false);
                if a[0] == self.tid {
                    want = Want::Err(Errno::DeadLk);
                }
            }
            Syscall::Sleep => {
                // `Sleep(u64::MAX)` leaves a sleeper that only the
                // silo's end may free (H3 again).
                a[0] = match self.timeout() {
                    u64::MAX if AVOID_LONG_WAITS.load(Relaxed) => 1,
                    t => t,
                };
            }
            Syscall::FutexWait => {
                a[0] = self.futex_word();
                a[1] = self.rng.pick(&[0, 0, 1, u32::MAX as u64, 1 << 32]);
                a[2] = self.timeout();
                want = futex_want(a[0], a[1]);
            }
            Syscall::FutexWake => {
                a[0] = self.futex_word();
                a[1] = self.rng.pick(&[0, 1, 2, u32::MAX as u64, u64::MAX]);
                if a[0] % 4 != 0 {
                    want = Want::Err(Errno::Inval);
                }
            }
            Syscall::ClockGet => {
                a[0] = self.rng.pick(&[0, 1, 2, 3, 1 << 32, u64::MAX]);
                if ClockId::from_raw(a[0] as usize).is_none() {
                    want = Want::Err(Errno::Inval);
                }
            }
            Syscall::VmMap => {
                a[0] = self.hint();
                // Mostly small; now and then large or malformed.
                a[1] = match self.rng.below(16) {
                    0 => self.len(),
                    1 => self.rng.pick(&[1 << 20, 1 << 30]),
                    _ => self.rng.pick(&[PAGE, PAGE, 2 * PAGE, 16 * PAGE]),
                };
                a[2] = self.prot();
                if a[2] > 7 || a[2] & 6 == 6 || a[1] == 0 || a[1] % PAGE != 0 || a[0] % PAGE != 0 {
                    want = Want::Err(Errno::Inval);
                }
            }
            Syscall::VmUnmap => {
                (a[0], a[1]) = self.range();
                want = range_want(a[0], a[1]);
            }
            Syscall::VmProtect => {
                (a[0], a[1]) = self.range();
                a[2] = self.prot();
                // Malformed either way, though a shared mapping's rights
                // may be checked first (`Acces`).
                if range_want(a[0], a[1]) != Want::Any || a[2] > 7 || a[2] & 6 == 6 {
                    want = Want::Fail;
                }
            }
            Syscall::SetFsBase => {
                a[0] = self.register_value();
                want = if a[0] > USER_END {
                    Want::Err(Errno::Inval)
                } else {
                    Want::Any
                };
            }
            Syscall::LogWrite => {
                // Only our text reaches the log: arena bytes would be junk
                // on the serial line.
                match self.rng.below(8) {
                    0 => {
                        (a[0], a[1]) = (TEXT.as_ptr() as u64, self.rng.below(TEXT.len() as u64 + 1))
                    }
                    1 => {
                        (a[0], a[1]) = (self.buf(false), self.rng.pick(&[0, MAX_IO + 1, u64::MAX]))
                    }
                    _ => (a[0], a[1]) = (self.rng.pick(&BAD_PTRS), 1 + self.rng.below(MAX_IO)),
                }
                want = io_want(a[0], a[1], false);
            }
            Syscall::RandomBytes => {
                a[0] = self.buf(true);
                // Mostly short: 64 KiB of random bytes take milliseconds
                // under emulation.
                a[1] = match self.rng.below(8) {
                    0 => self.len(),
                    1 => self.rng.below(2 * PAGE),
                    _ => self.rng.below(256),
                };
                want = io_want(a[0], a[1], true);
            }
            Syscall::SiloInfo => {
                a[0] = self.buf(true);
                want = io_want(
                    a[0],
                    core::mem::size_of::<bedrock_abi::SiloInfo>() as u64,
                    true,
                );
            }
            Syscall::SetAffinity => {
                a[0] = self.tid(true);
                a[1] = self.cpu_mask();
                if a[1] == 0 || a[1].checked_shr(ONLINE.load(Relaxed) as u32).unwrap_or(0) != 0 {
                    want = Want::Err(Errno::Inval);
                }
            }
            Syscall::HandleClose | Syscall::HandleRevoke | Syscall::HandleInfo => {
                a[0] = self.handle(kind::ANY);
                want = handle_want(a[0]);
            }
            Syscall::HandleDuplicate => {
                a[0] = self.handle(kind::ANY);
                a[1] = self.rights();
                want = rights_want(a[1]).unwrap_or(handle_want(a[0]));
            }
            Syscall::PortMint => {
                a[0] = self.handle(kind::PORT);
                let r = self.rng.next();
                a[1] = self.rng.pick(&[0, 1, u64::MAX, r]);
                a[2] = self.rights();
                want = rights_want(a[2]).unwrap_or(handle_want(a[0]));
            }
            Syscall::Call => {
                a[0] = self.handle(kind::PORT);
                a[1] = self.message_ptr(true);
                a[2] = self.message_ptr(false);
            }
            Syscall::CallRegs => {
                a[0] = self.handle(kind::PORT);
            }
            Syscall::Receive => {
                a[0] = self.handle(kind::PORT);
                a[1] = self.message_ptr(false);
                a[2] = self.timeout();
            }
            Syscall::Reply => {
                a[0] = self.handle(kind::REPLY);
                a[1] = self.message_ptr(true);
            }
            Syscall::ReplyWait => {
                a[0] = if self.rng.one_in(3) {
                    0
                } else {
                    self.handle(kind::REPLY)
                };
                a[1] = self.message_ptr(true);
                a[2] = self.handle(kind::PORT);
                a[3] = self.message_ptr(false);
                a[4] = self.timeout();
            }
            Syscall::NotifySignal => {
                a[0] = self.handle(kind::NOTIFY);
                // Bit 63 set would make the waiter's bits look like an
                // errno (a known ABI wart): keep it clear.
                let r = self.rng.next();
                a[1] = self.rng.pick(&[0, 1, 1 << 62, r]) & !(1 << 63);
            }
            Syscall::NotifyWait => {
                a[0] = self.handle(kind::NOTIFY);
                a[1] = self.timeout();
            }
            Syscall::NotifyPoll => a[0] = self.handle(kind::NOTIFY),
            Syscall::MemCreate => {
                a[0] = match self.rng.below(64) {
                    0 => self.rng.pick(&[1 << 20, 4 << 20]),
                    1..8 => self.rng.pick(&[
                        0,
                        1,
                        PAGE - 1,
                        PAGE + 1,
                        MAX_OBJECT + PAGE,
                        1 << 40,
                        u64::MAX,
                    ]),
                    _ => self.rng.pick(&[PAGE, PAGE, 2 * PAGE, 16 * PAGE]),
                };
                if a[0] == 0 || a[0] % PAGE != 0 || a[0] > MAX_OBJECT {
                    want = Want::Err(Errno::Inval);
                }
            }
            Syscall::MemMap => {
                a[0] = self.handle(kind::MEMORY);
                a[1] = self.hint();
                a[2] = self.prot();
                if a[2] > 7 {
                    want = Want::Err(Errno::Inval);
                }
                self.mem_size_before = sys(Syscall::MemSize, [a[0], 0, 0, 0, 0, 0])
                    .ok()
                    .map(|n| n as u64);
            }
            Syscall::MemSize | Syscall::MemPhysAddr => a[0] = self.handle(kind::MEMORY),
            Syscall::SchemeRegister | Syscall::SchemeLookup => {
                let name = self.rng.pick(&NAMES);
                a[2] = self.handle(kind::PORT);
                (a[0], a[1], want) = match self.rng.below(6) {
                    0 => (
                        self.rng.pick(&BAD_PTRS),
                        1 + self.rng.below(8),
                        Want::Err(Errno::Fault),
                    ),
                    1 => (
                        name.as_ptr() as u64,
                        self.rng.pick(&[0, 65, u64::MAX]),
                        Want::Err(Errno::Inval),
                    ),
                    _ => (
                        name.as_ptr() as u64,
                        name.len() as u64,
                        scheme_want(s, name),
                    ),
                };
            }
            Syscall::IrqBind => {
                a[0] = self.handle(kind::ANY);
                a[1] = self.handle(kind::NOTIFY);
                want = Want::Fail;
            }
            Syscall::IrqAck | Syscall::PortIn | Syscall::PortOut => {
                a[0] = self.handle(kind::ANY);
                want = Want::Fail;
            }
            Syscall::PlatformMint => {
                a[0] = self.handle(kind::ANY);
                a[1] = self.rng.pick(&[0, 1, 2, 3, 4, 5]);
                a[2] = self.rng.pick(&[0, 0x1000, 0xcf8, 0xfee0_0000, u64::MAX]);
                a[3] = self.len();
                a[4] = self.rights();
                want = Want::Fail;
            }
            Syscall::SysSilos | Syscall::SysCpus | Syscall::SysCounters => {
                a[0] = self.buf(true);
                a[1] = self.rng.pick(&[0, 1, 16, 1 << 40]);
                want = Want::Err(Errno::Perm);
            }
            Syscall::SiloSpawn => (a[0], want) = self.spawn_spec(),
            Syscall::SiloWait => {
                a[0] = self.handle(kind::SILO);
                a[1] = self.timeout();
            }
            Syscall::SiloKill => a[0] = self.handle(kind::SILO),
            Syscall::ThreadHandle => a[0] = self.tid(true),
            Syscall::ThreadWait => {
                a[0] = self.handle(kind::THREAD);
                a[1] = self.timeout();
            }
            Syscall::ThreadCpuTime => a[0] = self.handle(kind::THREAD),
            _ => {}
        }
        (a, want)
    }

    /// A value for RSP, FS base and the like: every canonical boundary,
    /// our memory, garbage.
    fn register_value(&mut self) -> u64 {
        let r = self.rng.next();
        match self.rng.below(4) {
            0 => self.buf(false),
            _ => self.rng.pick(&[
                0,
                PAGE,
                USER_END - 8,
                USER_END,
                USER_END + 1,
                NON_CANONICAL - 1,
                NON_CANONICAL,
                0xffff_8000_0000_0000,
                u64::MAX,
                r,
            ]),
        }
    }

    // --- Learning from results ---------------------------------------------

    /// Adds a handle the kernel gave us to the pool; the one it replaces
    /// is closed (a reply or receive handle nobody holds any more fails
    /// its callers instead of leaving them blocked).
    fn adopt(&mut self, h: u32, k: u32) {
        let k = if k == kind::ANY {
            // SAFETY-free: a plain call.
            match sys(Syscall::HandleInfo, [h as u64, 0, 0, 0, 0, 0]) {
                Ok(info) => (info >> 32) as u32,
                Err(_) => kind::ANY,
            }
        } else {
            k
        };
        let i = self.rng.below(POOL as u64) as usize;
        let old = POOL_SLOTS[i].swap(h as u64 | (k as u64) << 32, Relaxed);
        if old != 0 {
            let _ = sys(Syscall::HandleClose, [old as u32 as u64, 0, 0, 0, 0, 0]);
            stale_push(old as u32);
        }
    }

    /// Handles we sent away by move are gone from our table.
    fn forget_moved(&mut self) {
        for i in 0..self.sent_count {
            if self.sent_moves & (1 << i) != 0 {
                pool_forget(self.sent[i]);
            }
        }
    }

    fn received(&mut self, m: Message) {
        for i in 0..(m.handle_count as usize).min(MAX_HANDLES) {
            self.adopt(m.handles[i], kind::ANY);
        }
    }

    fn learn(&mut self, s: Syscall, a: &[u64; 6], result: Result<usize, Errno>) {
        let ours_recv = |p: u64, w: &Worker| p == &w.recv as *const Message as u64;
        let Ok(v) = result else {
            if s == Syscall::ThreadCreate && a[0] == trampoline() {
                TRAMPOLINES.fetch_sub(1, Relaxed);
            }
            return;
        };
        match s {
            Syscall::ThreadCreate => record(&TID_SLOTS, &mut self.rng, v as u64),
            Syscall::ThreadHandle => self.adopt(v as u32, kind::THREAD),
            Syscall::HandleClose => pool_forget(a[0] as u32),
            Syscall::HandleDuplicate | Syscall::PortMint => self.adopt(v as u32, kind::ANY),
            Syscall::PortCreate | Syscall::SchemeLookup => self.adopt(v as u32, kind::PORT),
            Syscall::NotifyCreate => self.adopt(v as u32, kind::NOTIFY),
            Syscall::MemCreate => self.adopt(v as u32, kind::MEMORY),
            Syscall::SiloSpawn => {
                self.forget_moved();
                self.adopt(v as u32, kind::SILO);
            }
            Syscall::VmMap | Syscall::MemMap => {
                let len = if s == Syscall::VmMap {
                    a[1]
                } else {
                    // The object's size, unless another worker swapped
                    // the handle meanwhile (then only the first page is
                    // surely ours): a length that overshot the mapping
                    // could later unmap a neighbour we rely on.
                    match (
                        self.mem_size_before,
                        sys(Syscall::MemSize, [a[0], 0, 0, 0, 0, 0]),
                    ) {
                        (Some(before), Ok(after)) if before == after as u64 => before,
                        _ => PAGE,
                    }
                };
                let i = self.rng.below(MAPS as u64) as usize;
                let (old, old_len) = (
                    MAP_ADDR[i].swap(v as u64, Relaxed),
                    MAP_LEN[i].swap(len, Relaxed),
                );
                if old != 0 {
                    // Only ever our own scratch: every mapping made after
                    // the start is one.
                    let _ = sys(Syscall::VmUnmap, [old, old_len, 0, 0, 0, 0]);
                }
            }
            Syscall::Call => {
                self.forget_moved();
                if ours_recv(a[2], self) {
                    self.received(self.recv);
                }
            }
            Syscall::Reply => {
                pool_forget(a[0] as u32);
                self.forget_moved();
            }
            Syscall::Receive | Syscall::ReplyWait => {
                if s == Syscall::ReplyWait && a[0] != 0 {
                    pool_forget(a[0] as u32);
                    self.forget_moved();
                }
                let into = if s == Syscall::Receive { a[1] } else { a[3] };
                if ours_recv(into, self) {
                    let m = self.recv;
                    self.adopt(m.reply, kind::REPLY);
                    self.received(m);
                }
            }
            _ => {}
        }
    }
}

/// `FutexWait` on a word that is misaligned (`Inval`), with a value that
/// is no u32 (`Inval`), or where no read can succeed (`Fault`).
fn futex_want(addr: u64, expected: u64) -> Want {
    if addr % 4 != 0 || expected > u32::MAX as u64 {
        Want::Err(Errno::Inval)
    } else if BAD_PTRS.contains(&addr) {
        Want::Err(Errno::Fault)
    } else {
        Want::Any
    }
}

/// `VmUnmap`/`VmProtect` ranges that are malformed whatever is mapped.
fn range_want(start: u64, len: u64) -> Want {
    let malformed = len == 0
        || len % PAGE != 0
        || start % PAGE != 0
        || start.checked_add(len).is_none_or(|end| end > USER_END);
    if malformed {
        Want::Err(Errno::Inval)
    } else {
        Want::Any
    }
}

/// `LogWrite`/`RandomBytes`/`SiloInfo`: over-long (`Inval`), or a buffer
/// where no access can succeed, or read-only memory to write (`Fault`).
fn io_want(ptr: u64, len: u64, write: bool) -> Want {
    if len > MAX_IO {
        Want::Err(Errno::Inval)
    } else if len > 0 && (BAD_PTRS.contains(&ptr) || (write && ptr == TEXT.as_ptr() as u64)) {
        Want::Err(Errno::Fault)
    } else {
        Want::Any
    }
}

/// `SchemeRegister`/`SchemeLookup` of a readable `name`: our namespace is
/// `+fuzz`, so only `fuzz` may be served or looked up.
fn scheme_want(s: Syscall, name: &[u8]) -> Want {
    match core::str::from_utf8(name) {
        Ok(n) if n == SERVED => Want::Any,
        Ok(n) if bedrock_abi::scheme::valid_name(n) => match s {
            Syscall::SchemeRegister => Want::Err(Errno::Acces),
            _ => Want::Err(Errno::NoEnt),
        },
        _ => Want::Err(Errno::Inval),
    }
}

/// Rights with an undefined bit (checked before the handle).
fn rights_want(r: u64) -> Option<Want> {
    let defined = u32::try_from(r).ok().and_then(Rights::from_bits).is_some();
    (!defined).then_some(Want::Err(Errno::Inval))
}

/// A handle value that is no handle at all: 0, or wider than 32 bits.
fn handle_want(h: u64) -> Want {
    if h == 0 || h > u32::MAX as u64 {
        Want::Err(Errno::BadF)
    } else {
        Want::Any
    }
}

/// A call number as the summary prints it and `only=`/`skip=` take it:
/// the ABI's name, or `unknown`.
struct Name(u64);

impl core::fmt::Display for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match usize::try_from(self.0).ok().and_then(Syscall::from_raw) {
            Some(s) => write!(f, "{s:?}"),
            None => f.write_str("unknown"),
        }
    }
}

/// Is `want` what `Name(n)` prints?
fn is_named(n: u64, want: &str) -> bool {
    /// Eats `want` as the name is written; `None` at the first mismatch.
    struct Match<'a>(Option<&'a [u8]>);
    impl core::fmt::Write for Match<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            self.0 = self.0.and_then(|rest| rest.strip_prefix(s.as_bytes()));
            Ok(())
        }
    }
    let mut m = Match(Some(want.as_bytes()));
    let _ = core::fmt::write(&mut m, format_args!("{}", Name(n)));
    m.0 == Some(&[])
}

/// Checks a result against the ABI: errors it defines only; for
/// successes, the shape of the call's result; and `want`.
fn check(
    call: Option<Syscall>,
    a: &[u64; 6],
    want: Want,
    r: Result<usize, Errno>,
) -> Result<(), &'static str> {
    match (want, r) {
        (_, Err(Errno::Unknown)) => return Err("an errno the ABI does not define"),
        (Want::Err(e), r) if r != Err(e) => return Err("not the errno the ABI prescribes"),
        (Want::Fail, Ok(_)) => return Err("succeeded where it must fail"),
        (_, Err(_)) => return Ok(()),
        _ => {}
    }
    let Ok(v) = r else { return Ok(()) };
    let v = v as u64;
    let handle = v != 0 && v < 1 << 31 && v & 0xf_ffff != 0;
    let ok = match call {
        None => false,
        Some(s) => match s {
            Syscall::HandleClose
            | Syscall::HandleRevoke
            | Syscall::Yield
            | Syscall::Sleep
            | Syscall::VmUnmap
            | Syscall::VmProtect
            | Syscall::SetFsBase
            | Syscall::SetAffinity
            | Syscall::NotifySignal
            | Syscall::Call
            | Syscall::CallRegs
            | Syscall::Receive
            | Syscall::Reply
            | Syscall::ReplyWait
            | Syscall::SchemeRegister
            | Syscall::SiloKill
            | Syscall::SiloInfo
            | Syscall::FutexWait => v == 0,
            Syscall::HandleDuplicate
            | Syscall::PortCreate
            | Syscall::PortMint
            | Syscall::NotifyCreate
            | Syscall::MemCreate
            | Syscall::SiloSpawn
            | Syscall::SchemeLookup
            | Syscall::ThreadHandle => handle,
            Syscall::VmMap | Syscall::MemMap => v % PAGE == 0 && (PAGE..USER_END).contains(&v),
            Syscall::LogWrite | Syscall::RandomBytes => v == a[1],
            Syscall::FutexWake => v <= a[1],
            Syscall::GetCpu => v < ONLINE.load(Relaxed),
            Syscall::MemSize => v > 0 && v % PAGE == 0 && v <= MAX_OBJECT,
            Syscall::HandleInfo => {
                (1..=9).contains(&(v >> 32)) && v as u32 & !Rights::ALL.bits() == 0
            }
            Syscall::ThreadCreate => v > 0,
            Syscall::ThreadJoin | Syscall::ThreadWait => v <= u32::MAX as u64,
            Syscall::SiloWait => ExitStatus::decode(v).is_some(),
            Syscall::ClockGet
            | Syscall::NotifyWait
            | Syscall::NotifyPoll
            | Syscall::ThreadCpuTime => true,
            // No sys, no namespace, no device handles: these never work.
            _ => false,
        },
    };
    if ok {
        Ok(())
    } else {
        Err("a success the ABI does not allow for this call")
    }
}

fn fail(worker: usize, count: u64, n: u64, a: &[u64; 6], r: Result<usize, Errno>, why: &str) {
    if FAILURES.fetch_add(1, Relaxed) < 8 {
        say!(
            "fuzz: FAILED seed={:#x} w{worker} #{count}: {} ({n}) ({:#x}, {:#x}, {:#x}, {:#x}, {:#x}, {:#x}) -> {r:?}: {why}",
            SEED.load(Relaxed),
            Name(n),
            a[0],
            a[1],
            a[2],
            a[3],
            a[4],
            a[5]
        );
    }
}

fn now_ms() -> u64 {
    rt::clock(ClockId::Monotonic) / 1_000_000
}

struct Config {
    seed: u64,
    calls: u64,
    workers: usize,
    budget_ms: u64,
    spawns: u32,
}

impl Config {
    fn parse(args: &Args) -> Result<Config, &'static str> {
        let mut c = Config {
            seed: 0x5eed,
            calls: 200_000,
            workers: 4,
            budget_ms: 150_000,
            spawns: 24,
        };
        for i in 3..args.len() {
            let arg = args.get(i).ok_or("argument not UTF-8")?;
            let (key, value) = arg.split_once('=').ok_or("arguments are key=value")?;
            if key == "only" || key == "skip" {
                if key == "only" {
                    ENABLED.iter().for_each(|w| w.store(0, Relaxed));
                }
                select(value, key == "only")?;
                continue;
            }
            if key == "avoid" {
                for what in value.split('+') {
                    match what {
                        "long-waits" => AVOID_LONG_WAITS.store(true, Relaxed),
                        _ => return Err("avoid: unknown class (long-waits)"),
                    }
                }
                continue;
            }
            let v = parse_u64(value).ok_or("not a number")?;
            match key {
                "seed" => c.seed = v,
                "calls" => c.calls = v,
                "workers" => c.workers = (v as usize).clamp(1, MAX_WORKERS / 2),
                "ms" => c.budget_ms = v,
                "spawns" => c.spawns = v as u32,
                "trace" => TRACE_FROM.store(v, Relaxed),
                _ => {
                    return Err(
                        "unknown key (seed, calls, workers, ms, spawns, avoid, only, skip, trace)",
                    );
                }
            }
        }
        Ok(c)
    }
}

/// Starts worker `index` on its preallocated stack.
fn start_worker(index: usize, stacks: u64) -> Result<(), &'static str> {
    let top = stacks + (index as u64 + 1) * WORKER_STACK - 8;
    let entry = worker_main as extern "C" fn(usize) -> ! as usize as u64;
    let id = sys(Syscall::ThreadCreate, [entry, top, index as u64, 0, 0, 0])
        .map_err(|_| "cannot start a worker")?;
    WORKER_TIDS[index].store(id as u64, Relaxed);
    // Spread the workers over the CPUs (the fuzz may move them later).
    let cpu = index as u64 % ONLINE.load(Relaxed);
    let _ = sys(Syscall::SetAffinity, [id as u64, 1 << cpu, 0, 0, 0, 0]);
    Ok(())
}

/// A few objects to start from (pool slots 1..6).
fn seed_pool() -> Result<(), &'static str> {
    for (i, (call, size, k)) in [
        (Syscall::PortCreate, 0, kind::PORT),
        (Syscall::PortCreate, 0, kind::PORT),
        (Syscall::NotifyCreate, 0, kind::NOTIFY),
        (Syscall::NotifyCreate, 0, kind::NOTIFY),
        (Syscall::MemCreate, PAGE, kind::MEMORY),
    ]
    .into_iter()
    .enumerate()
    {
        let h = sys(call, [size, 0, 0, 0, 0, 0]).map_err(|_| "cannot make the first objects")?;
        let old = POOL_SLOTS[i + 1].swap(h as u64 | (k as u64) << 32, Relaxed);
        if old != 0 {
            let _ = sys(Syscall::HandleClose, [old as u32 as u64, 0, 0, 0, 0, 0]);
        }
    }
    Ok(())
}

/// Closes every handle of the pool (but our image) and starts it again:
/// ports whose last receive handle goes fail their blocked callers, which
/// nothing else might ever answer (a port whose only receive handle was
/// sent to itself, say).
fn purge() {
    for slot in &POOL_SLOTS[1..] {
        let old = slot.swap(0, Relaxed);
        if old != 0 {
            let _ = sys(Syscall::HandleClose, [old as u32 as u64, 0, 0, 0, 0, 0]);
            stale_push(old as u32);
        }
    }
    let _ = seed_pool();
}

/// Keeps blocked workers moving: answers calls waiting on our ports,
/// signals our notifications, wakes futex waiters in the arena.
fn unblock(recv: &mut Message, buf: &mut [u8; MAX_DATA]) {
    for i in 0..POOL {
        let (h, k) = pool_get(i);
        if h == 0 {
            continue;
        }
        if k == kind::PORT {
            *recv = Message {
                data: buf.as_mut_ptr() as u64,
                data_len: MAX_DATA as u64,
                ..Message::default()
            };
            let into = recv as *mut Message as u64;
            if sys(Syscall::Receive, [h as u64, into, 0, 0, 0, 0]).is_ok() {
                let reply = Message::default();
                let _ = sys(
                    Syscall::Reply,
                    [
                        recv.reply as u64,
                        &reply as *const Message as u64,
                        0,
                        0,
                        0,
                        0,
                    ],
                );
                for j in 0..(recv.handle_count as usize).min(MAX_HANDLES) {
                    let _ = sys(
                        Syscall::HandleClose,
                        [recv.handles[j] as u64, 0, 0, 0, 0, 0],
                    );
                }
            }
        } else if k == kind::NOTIFY {
            let _ = sys(Syscall::NotifySignal, [h as u64, 1, 0, 0, 0, 0]);
        }
    }
    let a = ARENA_BASE.load(Relaxed);
    for off in FUTEX_WORDS {
        let _ = sys(Syscall::FutexWake, [a + off, u32::MAX as u64, 0, 0, 0, 0]);
    }
    for m in &MAP_ADDR {
        let _ = sys(
            Syscall::FutexWake,
            [m.load(Relaxed), u32::MAX as u64, 0, 0, 0, 0],
        );
    }
}

fn fuzz(args: &Args) -> Result<(), &'static str> {
    let cfg = Config::parse(args)?;
    SEED.store(cfg.seed, Relaxed);
    SPAWNS_LEFT.store(cfg.spawns, Relaxed);
    SPAWNS_TOTAL.store(cfg.spawns, Relaxed);
    TARGET.store(cfg.calls, Relaxed);
    let online = rt::silo_info().map_err(|_| "silo info")?.online_cpus as u64;
    ONLINE.store(online.max(1), Relaxed);

    // Our program, to spawn children from (initial handle 1).
    let image_len = rt::ipc::mem_size(1).map_err(|_| "handle 1 is not our image")?;
    let image = rt::ipc::mem_map(1, bedrock_abi::prot::READ).map_err(|_| "cannot map our image")?;
    IMAGE.store(image as u64, Relaxed);
    IMAGE_LEN.store(image_len as u64, Relaxed);

    // Everything we rely on is mapped now, before the first fuzzed call.
    let rw = bedrock_abi::prot::READ | bedrock_abi::prot::WRITE;
    let arena = rt::vm_map((ARENA + GUARD) as usize, rw).map_err(|_| "arena")? as u64;
    sys(Syscall::VmProtect, [arena + ARENA, GUARD, 0, 0, 0, 0]).map_err(|_| "arena guard")?;
    sys(Syscall::VmProtect, [arena + RO_PAGE, PAGE, 1, 0, 0, 0]).map_err(|_| "read-only page")?;
    ARENA_BASE.store(arena, Relaxed);
    let stacks =
        rt::vm_map(MAX_WORKERS * WORKER_STACK as usize, rw).map_err(|_| "worker stacks")? as u64;

    POOL_SLOTS[0].store(1 | (kind::MEMORY as u64) << 32, Relaxed);
    seed_pool()?;

    say!(
        "fuzz: seed={:#x} target {} calls, {} workers on {online} CPUs, budget {} ms, {} spawns{}",
        cfg.seed,
        cfg.calls,
        cfg.workers,
        cfg.budget_ms,
        cfg.spawns,
        if AVOID_LONG_WAITS.load(Relaxed) {
            ", avoiding long waits"
        } else {
            ""
        }
    );
    unfuzzed();
    let start = now_ms();
    let mut started = 0;
    while started < cfg.workers {
        start_worker(started, stacks)?;
        started += 1;
    }
    let mut last = [0u64; MAX_WORKERS];
    let mut last_change = [start; MAX_WORKERS];
    let mut next_report = 50_000;
    let mut recv = Message::default();
    let mut buf = [0u8; MAX_DATA];
    let mut replaced = 0;
    let mut purged = start;
    let outcome = loop {
        rt::sleep_ns(5_000_000);
        unblock(&mut recv, &mut buf);
        let done = CALLS.load(Relaxed);
        let now = now_ms();
        if now - purged >= PURGE_MS {
            purge();
            purged = now;
        }
        while done >= next_report && next_report <= cfg.calls {
            say!("fuzz: {next_report} calls after {} ms", now - start);
            next_report += 50_000;
        }
        if FAILURES.load(Relaxed) > 0 {
            break Err("a call broke the ABI's rules (see above)");
        }
        if done >= cfg.calls {
            break Ok(());
        }
        if now - start > cfg.budget_ms {
            break Err("the time budget ran out before the target");
        }
        // A worker blocked for good (waiting on itself, say) is replaced,
        // up to a limit.
        let mut moving = 0;
        for i in 0..started {
            let p = PROGRESS[i].load(Relaxed);
            if p != last[i] {
                (last[i], last_change[i]) = (p, now);
            }
            if now - last_change[i] < STUCK_MS {
                moving += 1;
            }
        }
        if moving < cfg.workers && started < MAX_WORKERS {
            start_worker(started, stacks)?;
            last_change[started] = now;
            started += 1;
            replaced += 1;
        }
    };
    STOP.store(true, Relaxed);
    let ms = now_ms() - start;
    let done = CALLS.load(Relaxed);
    let ok: u64 = STAT_OK.iter().map(|c| c.load(Relaxed)).sum();
    say!(
        "fuzz: seed={:#x}: {done} calls in {ms} ms ({} per s), {ok} succeeded, {} workers ({replaced} replacing stuck ones), {} spawns",
        cfg.seed,
        done * 1000 / ms.max(1),
        started,
        cfg.spawns - SPAWNS_LEFT.load(Relaxed)
    );
    report_stats();
    for i in 0..started {
        if now_ms() - last_change[i] >= STUCK_MS {
            let n = CURRENT[i].0.load(Relaxed);
            say!(
                "fuzz: worker {i} stuck in {} ({n}) with first argument {:#x}",
                Name(n),
                CURRENT[i].1.load(Relaxed)
            );
        }
    }
    outcome?;
    say!("fuzz: done: {done} calls, every result within the ABI, silo intact");
    Ok(())
}

/// Per call: successes / calls, a few per line.
fn report_stats() {
    let mut line = crate::rt::LogLine::new();
    let mut on_line = 0;
    for slot in 0..STAT_SLOTS {
        let calls = STAT_CALLS[slot].load(Relaxed);
        if calls == 0 {
            continue;
        }
        let ok = STAT_OK[slot].load(Relaxed);
        let kcycles = STAT_CYCLES[slot].load(Relaxed) / calls / 1000;
        let label = Name(slot as u64);
        if on_line == 0 {
            let _ = core::fmt::Write::write_str(&mut line, "fuzz: ok/calls (k cycles each):");
        }
        let _ = core::fmt::write(&mut line, format_args!(" {label} {ok}/{calls} ({kcycles})"));
        on_line += 1;
        if on_line == 5 {
            line.flush();
            on_line = 0;
        }
    }
    if on_line > 0 {
        line.flush();
    }
}

/// `usertest fuzz child MS CODE`: sleeps, then exits with CODE.
fn child(args: &Args) -> Result<(), &'static str> {
    let ms = args.get(3).and_then(parse_u64).unwrap_or(0);
    let code = args.get(4).and_then(|s| s.parse::<i32>().ok()).unwrap_or(0);
    rt::sleep_ns(ms * 1_000_000);
    rt::exit(code)
}

/// `usertest fuzz counters`: the kernel's counters as ring 3 sees them.
fn counters() -> Result<(), &'static str> {
    let mut c = KernelCounters::default();
    let p = &mut c as *mut KernelCounters as u64;
    check!(
        sys(Syscall::SysCounters, [p, 0, 0, 0, 0, 0]) == Ok(0),
        "SysCounters refused with sys in the namespace"
    );
    let mut silos = [bedrock_abi::SiloRecord::default(); 8];
    let listed = sys(
        Syscall::SysSilos,
        [silos.as_mut_ptr() as u64, silos.len() as u64, 0, 0, 0, 0],
    )
    .map_err(|_| "SysSilos")?;
    let online = rt::silo_info().map_err(|_| "silo info")?.online_cpus as u64;
    check!(
        c.frames_total > 0 && c.frames_free <= c.frames_total,
        "frame counts"
    );
    check!(
        c.heap_used_bytes > 0 && c.heap_used_bytes <= c.heap_claimed_bytes,
        "heap counts"
    );
    check!(
        c.heap_claimed_bytes % PAGE == 0 && c.stack_cache_bytes % PAGE == 0,
        "byte counts not in pages"
    );
    check!(
        c.silos as usize == listed && c.silos >= 1,
        "silo count differs from SysSilos"
    );
    // Every CPU's idle thread and this one, at least.
    check!(c.threads > online, "thread count");
    for bad in [
        0,
        0x10,
        USER_END,
        NON_CANONICAL,
        0xffff_8000_0000_0000,
        u64::MAX,
        TEXT.as_ptr() as u64,
    ] {
        check!(
            sys(Syscall::SysCounters, [bad, 0, 0, 0, 0, 0]) == Err(Errno::Fault),
            "bad buffer accepted"
        );
    }
    say!(
        "fuzz counters: {} of {} frames free, heap {} of {} bytes in {} allocations, {} KiB of cached stacks, {} handles, {} threads, {} silos, {} scheme names",
        c.frames_free,
        c.frames_total,
        c.heap_used_bytes,
        c.heap_claimed_bytes,
        c.heap_allocations,
        c.stack_cache_bytes / 1024,
        c.handles,
        c.threads,
        c.silos,
        c.scheme_names
    );
    Ok(())
}
