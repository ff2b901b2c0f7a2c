//! The micro-benchmarks of `cargo xtask bench`, written once for both
//! sides of the comparison: Bedrock's ring-3 bench program
//! (`usertest bench`) and the Linux anchor's `/init` (`bench/linux`).
//!
//! Each side implements [`Os`] over its own system calls and calls [`run`],
//! so the timed loops, iteration counts, thread choreography and output are
//! identical by construction: the only difference between the two figures
//! of a benchmark is the kernel underneath. Times are TSC cycles read with
//! `rdtsc` in ring 3 on both sides (in one QEMU both guests see the same
//! TSC rate). Every benchmark runs one untimed warm-up round, then
//! [`Config::rounds`] timed rounds; the host takes the median.
//!
//! Output is one [`Record`] per line (see [`line`]), which the host parses
//! out of the serial log whatever prefix the kernel's log adds.
//!
//! The Rust std benchmarks (`std_*`: threads, `Mutex`, `malloc`) are an
//! ordinary std program, `examples/native/std-bench`, built once for each
//! side; [`run`] starts it through [`Os::run_std_bench`] after its own
//! benchmarks. It uses this crate's [`Config`], [`timed_rounds`] and
//! [`Record`], so its figures are taken and printed the same way.
//!
//! Last, [`Os::run_wasm_bench`] runs the runtime silo's guest benchmark
//! (`runtime-silo bench --guest`, [`Config::wasm_bench_args`]): the same
//! wasmtime + Cranelift code, Bedrock's build as a native silo and a static
//! Linux build, compiling and running the same wasm; it prints `BENCH info
//! wasm.*` lines.
#![no_std]

pub mod line;

use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

pub use line::{Line, ParseError, Record};

/// Why a benchmark could not run; printed as a `BENCH error` line.
pub type Error = &'static str;

/// What a peer process does for the IPC benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// Answers each request `v` with `v + 1` (call + reply).
    Echo,
    /// Answers each signal with a signal (notification / eventfd).
    Notify,
}

/// The services a side provides to the benchmarks.
pub trait Os: Sync {
    /// Another process (silo) serving a [`Service`].
    type Peer;
    /// An open in-memory file of the bulk-read benchmark.
    type File;
    /// One round trip of the cheapest real system call (Linux: `getppid`).
    fn null_syscall(&self);
    /// Blocks while `*word == expected`; may return early (spuriously).
    fn futex_wait(&self, word: &AtomicU32, expected: u32);
    /// Wakes one waiter of `word`, if any.
    fn futex_wake(&self, word: &AtomicU32);
    /// Maps `len` bytes (a page multiple) of private, demand-zero,
    /// read-write memory in 4 KiB pages (no huge pages).
    fn map(&self, len: usize) -> Result<*mut u8, Error>;
    /// Unmaps what [`Os::map`] returned.
    fn unmap(&self, ptr: *mut u8, len: usize) -> Result<(), Error>;
    /// CPUs online.
    fn cpus(&self) -> usize;
    /// Restricts the calling thread to `cpu` and returns once it runs there.
    fn pin(&self, cpu: usize) -> Result<(), Error>;
    /// The CPU running the caller, if the OS can tell.
    fn cpu(&self) -> Option<usize>;
    /// Runs `partner` on a new thread while the calling thread runs `me`,
    /// and returns `me`'s result once both have finished.
    fn pair<R>(&self, me: impl FnOnce() -> R, partner: impl FnOnce() + Send) -> Result<R, Error>;
    /// Writes one line of output.
    fn print(&self, line: fmt::Arguments<'_>);
    /// A monotonic clock in nanoseconds (for throughput figures).
    fn now_ns(&self) -> u64;

    /// The mechanisms this side has for [`Service::Echo`] (Linux: pipe and
    /// futex ping-pong; the benchmark reports the fastest).
    fn echo_mechanisms(&self) -> &'static [&'static str];
    /// Starts another process pinned to `cpu` serving `service` (through
    /// echo mechanism `mechanism`, an index into
    /// [`Os::echo_mechanisms`]).
    fn peer_start(
        &self,
        service: Service,
        mechanism: usize,
        cpu: usize,
    ) -> Result<Self::Peer, Error>;
    /// One request and its answer: returns the peer's answer to `value`
    /// (`value + 1` for [`Service::Echo`]; anything for `Notify`).
    fn peer_round_trip(&self, peer: &mut Self::Peer, value: u64) -> Result<u64, Error>;
    /// Stops the peer and waits for it to end.
    fn peer_stop(&self, peer: Self::Peer) -> Result<(), Error>;

    /// Opens an in-memory file of `size` bytes whose byte `i` is
    /// [`file_byte`]`(i)`, served the side's natural way (Bedrock: a scheme
    /// server silo with the bulk path; Linux: a tmpfs file).
    fn file_open(&self, size: usize) -> Result<Self::File, Error>;
    /// Reads `len` bytes at `offset` into memory the caller can read and
    /// returns them (Linux: `read` into a buffer; Bedrock: `READ_BULK` into
    /// a shared memory object).
    fn file_read<'f>(
        &self,
        file: &'f mut Self::File,
        offset: u64,
        len: usize,
    ) -> Result<&'f [u8], Error>;
    fn file_close(&self, file: Self::File) -> Result<(), Error>;

    /// Runs the std benchmark program (`std-bench`, see the crate docs) as
    /// a process of its own on every CPU with `mode` ([`Config::mode`]) as
    /// its argument, and waits for it; Ok only if it exited successfully.
    /// Its result lines reach the same console.
    fn run_std_bench(&self, mode: &str) -> Result<(), Error>;

    /// Runs `runtime-silo` with `args` ([`Config::wasm_bench_args`]; `/`
    /// holds `hello.wasm` and `compute.wasm`) as a process of its own on
    /// every CPU and waits for it; Ok only if it exited successfully.
    fn run_wasm_bench(&self, args: &[&str]) -> Result<(), Error>;
}

/// Byte `i` of the bulk-read benchmark's file.
pub fn file_byte(i: u64) -> u8 {
    (i.wrapping_mul(131) ^ (i >> 13)) as u8
}

/// How much work each benchmark does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The program argument that selects it (`full` or `quick`); passed on
    /// to the std program.
    pub mode: &'static str,
    /// Timed rounds per benchmark (after one warm-up round).
    pub rounds: u32,
    /// System calls per round.
    pub syscalls: u32,
    /// Ping-pong round trips per round, both threads on one CPU.
    pub round_trips: u32,
    /// Ping-pong round trips per round, threads on two CPUs.
    pub cross_round_trips: u32,
    /// Pages touched per round.
    pub pages: u32,
    /// IPC round trips per round (same and cross core).
    pub ipc_round_trips: u32,
    /// Notification round trips per round.
    pub notify_round_trips: u32,
    /// Size of the bulk-read file (a multiple of [`BULK_CHUNK`]).
    pub bulk_bytes: usize,
    /// `std::thread` spawn + join pairs per round (std program).
    pub spawn_joins: u32,
    /// `Mutex` lock + unlock pairs per round, one thread (std program).
    pub mutex_ops: u32,
    /// `Mutex` lock + unlock pairs per round over all contending threads
    /// (std program).
    pub contended_mutex_ops: u32,
    /// Small `malloc` + `free` pairs per round (std program).
    pub mallocs: u32,
    /// Repetitions of each runtime-silo measurement (its medians).
    pub wasm_runs: &'static str,
    /// One scale for every compute kernel, or `None` for each kernel's
    /// default (a few hundred milliseconds of native code).
    pub wasm_scale: Option<&'static str>,
}

/// Bytes per read in the bulk-read benchmark.
pub const BULK_CHUNK: usize = 256 << 10;

impl Config {
    /// What `cargo xtask bench` runs: under TCG each benchmark takes well
    /// under a second per round on either side.
    pub const FULL: Config = Config {
        mode: "full",
        rounds: 9,
        syscalls: 50_000,
        round_trips: 2_000,
        cross_round_trips: 1_000,
        pages: 1024,
        ipc_round_trips: 2_000,
        notify_round_trips: 2_000,
        bulk_bytes: 16 << 20,
        spawn_joins: 200,
        mutex_ops: 100_000,
        contended_mutex_ops: 20_000,
        mallocs: 32_768,
        wasm_runs: "3",
        // The kernels' defaults take a few hundred milliseconds natively,
        // tens of seconds under TCG; at scale 2 each run takes 0.02-3 s.
        wasm_scale: Some("2"),
    };
    /// A smoke run that only proves the program works (QEMU scenario).
    pub const QUICK: Config = Config {
        mode: "quick",
        rounds: 3,
        syscalls: 100,
        round_trips: 20,
        cross_round_trips: 20,
        pages: 16,
        ipc_round_trips: 20,
        notify_round_trips: 20,
        bulk_bytes: 2 * BULK_CHUNK,
        spawn_joins: 4,
        mutex_ops: 100,
        contended_mutex_ops: 100,
        mallocs: 256,
        wasm_runs: "1",
        wasm_scale: Some("1"),
    };

    /// The arguments of the runtime silo's guest benchmark (argv[0]
    /// included), the same on both sides.
    pub fn wasm_bench_args(&self) -> ([&'static str; 9], usize) {
        let base = [
            "runtime-silo",
            "bench",
            "--guest",
            "--examples",
            "/",
            "--runs",
            self.wasm_runs,
        ];
        let mut args = [""; 9];
        args[..7].copy_from_slice(&base);
        match self.wasm_scale {
            Some(scale) => {
                args[7] = "--scale";
                args[8] = scale;
                (args, 9)
            }
            None => (args, 7),
        }
    }

    /// The configuration a program argument selects: `quick` or nothing.
    pub fn from_arg(arg: Option<&str>) -> Result<Config, Error> {
        match arg {
            None | Some("full") => Ok(Config::FULL),
            Some("quick") => Ok(Config::QUICK),
            Some(_) => Err("unknown bench mode (expected `quick` or `full`)"),
        }
    }
}

/// Most timed rounds a [`Config`] may ask for.
pub const MAX_ROUNDS: usize = 16;

/// A benchmark, as the host reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Benchmark {
    pub name: &'static str,
    /// What one operation is, for the table and `results.json`.
    pub unit: &'static str,
    /// Whether every run has it (the cross-CPU one needs two CPUs).
    pub always: bool,
    /// Which program measures it.
    pub program: Program,
}

/// The program that measures a benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Program {
    /// [`run`] itself.
    Core,
    /// The std program that [`run`] starts last ([`Os::run_std_bench`]).
    Std,
}

/// Every benchmark, in the order they are printed.
pub const BENCHMARKS: [Benchmark; 12] = [
    Benchmark {
        name: "syscall",
        unit: "cycles per call",
        always: true,
        program: Program::Core,
    },
    Benchmark {
        name: "page_fault",
        unit: "cycles per page",
        always: true,
        program: Program::Core,
    },
    Benchmark {
        name: "ctx_switch",
        unit: "cycles per round trip (2 switches)",
        always: true,
        program: Program::Core,
    },
    Benchmark {
        name: "ctx_switch_cross",
        unit: "cycles per round trip (2 wake-ups)",
        always: false,
        program: Program::Core,
    },
    Benchmark {
        name: "ipc_same_core",
        unit: "cycles per call + reply between two processes",
        always: true,
        program: Program::Core,
    },
    Benchmark {
        name: "ipc_cross_core",
        unit: "cycles per call + reply between two processes",
        always: false,
        program: Program::Core,
    },
    Benchmark {
        name: "notify",
        unit: "cycles per round trip (2 signal-to-wake)",
        always: true,
        program: Program::Core,
    },
    Benchmark {
        name: "bulk_read",
        unit: "cycles per file read",
        always: true,
        program: Program::Core,
    },
    Benchmark {
        name: "std_spawn_join",
        unit: "cycles per std::thread spawn + join",
        always: true,
        program: Program::Std,
    },
    Benchmark {
        name: "std_mutex_uncontended",
        unit: "cycles per Mutex lock + unlock, one thread",
        always: true,
        program: Program::Std,
    },
    Benchmark {
        name: "std_mutex_contended",
        unit: "cycles per Mutex lock + unlock, 2 threads",
        always: true,
        program: Program::Std,
    },
    Benchmark {
        name: "std_malloc",
        unit: "cycles per malloc + free (8..128 bytes)",
        always: true,
        program: Program::Std,
    },
];

/// The CPU the main thread is pinned to; the same-CPU ping-pong runs here.
const MAIN_CPU: usize = 0;
/// The partner's CPU in the cross-CPU ping-pong.
const OTHER_CPU: usize = 1;
const PAGE_SIZE: usize = 4096;

/// Runs every benchmark and prints its result line, then `BENCH done`. On
/// failure prints a `BENCH error` line and returns the error.
pub fn run<O: Os>(os: &O, config: &Config) -> Result<(), Error> {
    let result = run_all(os, config);
    match result {
        Ok(()) => os.print(format_args!("{}", Record::Done)),
        Err(why) => os.print(format_args!("{}", Record::Error(why))),
    }
    result
}

fn run_all<O: Os>(os: &O, config: &Config) -> Result<(), Error> {
    if config.rounds == 0 || config.rounds as usize > MAX_ROUNDS {
        return Err("rounds must be 1..=MAX_ROUNDS");
    }
    let cpus = os.cpus();
    os.print(format_args!("{}", Record::Info("cpus", &cpus)));
    pin_checked(os, MAIN_CPU)?;
    syscall(os, config)?;
    page_fault(os, config)?;
    ctx_switch(os, config, "ctx_switch", MAIN_CPU, config.round_trips)?;
    if cpus > OTHER_CPU {
        ctx_switch(
            os,
            config,
            "ctx_switch_cross",
            OTHER_CPU,
            config.cross_round_trips,
        )?;
    } else {
        os.print(format_args!(
            "{}",
            Record::Info("skipped", &"ctx_switch_cross (one CPU)")
        ));
    }
    ipc(os, config, "ipc_same_core", MAIN_CPU)?;
    if cpus > OTHER_CPU {
        ipc(os, config, "ipc_cross_core", OTHER_CPU)?;
    } else {
        os.print(format_args!(
            "{}",
            Record::Info("skipped", &"ipc_cross_core (one CPU)")
        ));
    }
    notify(os, config)?;
    bulk_read(os, config)?;
    os.run_std_bench(config.mode)?;
    let (args, n) = config.wasm_bench_args();
    os.run_wasm_bench(&args[..n])
}

/// Call + reply round trips with a peer process on `peer_cpu`, once per
/// echo mechanism; the fastest mechanism's rounds are reported (and named
/// in an info line).
fn ipc<O: Os>(os: &O, config: &Config, name: &'static str, peer_cpu: usize) -> Result<(), Error> {
    let mut best: Option<(u64, usize, Rounds)> = None;
    for (m, _) in os.echo_mechanisms().iter().enumerate() {
        let mut peer = os.peer_start(Service::Echo, m, peer_cpu)?;
        let mut next = 0u64;
        let rounds = timed_rounds(config.rounds, || {
            let start = rdtsc();
            for _ in 0..config.ipc_round_trips {
                let answer = os.peer_round_trip(&mut peer, next)?;
                if answer != next + 1 {
                    return Err("the echo peer answered wrong");
                }
                next = answer;
            }
            Ok(rdtsc() - start)
        });
        os.peer_stop(peer)?;
        let rounds = rounds?;
        let median = rounds.median();
        if best.as_ref().is_none_or(|(b, _, _)| median < *b) {
            best = Some((median, m, rounds));
        }
    }
    let (_, m, rounds) = best.ok_or("no IPC mechanism")?;
    let key = if peer_cpu == MAIN_CPU {
        "ipc_same_core_mechanism"
    } else {
        "ipc_cross_core_mechanism"
    };
    os.print(format_args!(
        "{}",
        Record::Info(key, &os.echo_mechanisms()[m])
    ));
    report(os, name, config.ipc_round_trips, &rounds);
    Ok(())
}

/// Signal-to-wake round trips with a peer process on the same CPU.
fn notify<O: Os>(os: &O, config: &Config) -> Result<(), Error> {
    let mut peer = os.peer_start(Service::Notify, 0, MAIN_CPU)?;
    let rounds = timed_rounds(config.rounds, || {
        let start = rdtsc();
        for i in 0..config.notify_round_trips {
            os.peer_round_trip(&mut peer, u64::from(i))?;
        }
        Ok(rdtsc() - start)
    });
    os.peer_stop(peer)?;
    report(os, "notify", config.notify_round_trips, &rounds?);
    Ok(())
}

/// Reads the whole in-memory file in [`BULK_CHUNK`] pieces; the warm-up
/// round checks every byte, the timed ones only read. Also reports the
/// throughput of the median round (`bulk_read_mb_s`, MB = 10^6 bytes).
fn bulk_read<O: Os>(os: &O, config: &Config) -> Result<(), Error> {
    let size = config.bulk_bytes;
    if size == 0 || !size.is_multiple_of(BULK_CHUNK) {
        return Err("bulk size must be a multiple of BULK_CHUNK");
    }
    let mut file = os.file_open(size)?;
    let mut first = true;
    let mut ns = [0u64; MAX_ROUNDS + 1];
    let mut n = 0;
    let rounds = timed_rounds(config.rounds, || {
        let (t0, start) = (os.now_ns(), rdtsc());
        let mut sink = 0u8;
        for offset in (0..size).step_by(BULK_CHUNK) {
            let bytes = os.file_read(&mut file, offset as u64, BULK_CHUNK)?;
            if bytes.len() != BULK_CHUNK {
                return Err("short bulk read");
            }
            if first
                && !bytes
                    .iter()
                    .enumerate()
                    .all(|(i, &b)| b == file_byte((offset + i) as u64))
            {
                return Err("bulk read returned wrong bytes");
            }
            // Touch the data so that no side can skip delivering it.
            sink ^= bytes[0] ^ bytes[BULK_CHUNK - 1];
        }
        core::hint::black_box(sink);
        let cycles = rdtsc() - start;
        if !first {
            ns[n] = os.now_ns() - t0;
            n += 1;
        }
        first = false;
        Ok(cycles)
    });
    os.file_close(file)?;
    let rounds = rounds?;
    report(os, "bulk_read", 1, &rounds);
    let median_ns = median_u64(&mut ns[..n]).max(1);
    let mb_s = size as u64 * 1000 / median_ns;
    os.print(format_args!("{}", Record::Info("bulk_read_mb_s", &mb_s)));
    Ok(())
}

/// The median (upper middle for an even count; 0 for none).
fn median_u64(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

/// Pins the caller and checks that it then runs there.
fn pin_checked<O: Os>(os: &O, cpu: usize) -> Result<(), Error> {
    os.pin(cpu)?;
    match os.cpu() {
        Some(c) if c != cpu => Err("a pinned thread runs on another CPU"),
        _ => Ok(()),
    }
}

/// The TSC, readable in ring 3 on both sides.
#[inline(always)]
pub fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: `rdtsc` only reads the time-stamp counter into edx:eax.
    unsafe {
        core::arch::asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags));
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Cycles of each timed round; `rounds[..n]` are valid.
pub struct Rounds {
    cycles: [u64; MAX_ROUNDS],
    n: usize,
}

impl Rounds {
    /// Each timed round's cycles, in the order they ran.
    pub fn cycles(&self) -> &[u64] {
        &self.cycles[..self.n]
    }

    fn median(&self) -> u64 {
        let mut sorted = self.cycles;
        median_u64(&mut sorted[..self.n])
    }
}

/// Runs `round` once untimed (warm-up: page tables, caches, thread
/// placement settle) and `count` (at most [`MAX_ROUNDS`]) times timed;
/// `round` returns its cycles.
pub fn timed_rounds(
    count: u32,
    mut round: impl FnMut() -> Result<u64, Error>,
) -> Result<Rounds, Error> {
    if count as usize > MAX_ROUNDS {
        return Err("rounds must be 1..=MAX_ROUNDS");
    }
    round()?;
    let mut rounds = Rounds {
        cycles: [0; MAX_ROUNDS],
        n: 0,
    };
    for _ in 0..count {
        rounds.cycles[rounds.n] = round()?;
        rounds.n += 1;
    }
    Ok(rounds)
}

fn report<O: Os>(os: &O, name: &'static str, ops: u32, rounds: &Rounds) {
    os.print(format_args!(
        "{}",
        Record::Result {
            name,
            ops: u64::from(ops),
            cycles: rounds.cycles(),
        }
    ));
}

/// Back-to-back null system calls.
fn syscall<O: Os>(os: &O, config: &Config) -> Result<(), Error> {
    let rounds = timed_rounds(config.rounds, || {
        let start = rdtsc();
        for _ in 0..config.syscalls {
            os.null_syscall();
        }
        Ok(rdtsc() - start)
    })?;
    report(os, "syscall", config.syscalls, &rounds);
    Ok(())
}

/// First writes to fresh demand-zero pages, one byte per page; only the
/// touching is timed, the map and unmap around it are not.
fn page_fault<O: Os>(os: &O, config: &Config) -> Result<(), Error> {
    let pages = config.pages as usize;
    let len = pages * PAGE_SIZE;
    let rounds = timed_rounds(config.rounds, || {
        let base = os.map(len)?;
        let start = rdtsc();
        for page in 0..pages {
            // SAFETY: `base` maps `len` writable bytes, so every page's
            // first byte is ours to write.
            unsafe { base.add(page * PAGE_SIZE).write_volatile(1) };
        }
        let cycles = rdtsc() - start;
        os.unmap(base, len)?;
        Ok(cycles)
    })?;
    report(os, "page_fault", config.pages, &rounds);
    Ok(())
}

/// The two threads' shared state in a ping-pong: `turn` counts moves, odd
/// values are the partner's turn, even ones the main thread's.
struct PingPong {
    turn: AtomicU32,
    /// CPU the partner saw itself on before and after its loop
    /// (`usize::MAX`: unknown).
    partner_cpu: [AtomicUsize; 2],
    partner_pin_failed: AtomicBool,
}

/// A futex ping-pong between the main thread (on [`MAIN_CPU`]) and a
/// partner pinned to `partner_cpu`: per round trip each thread wakes the
/// other once and blocks once.
fn ctx_switch<O: Os>(
    os: &O,
    config: &Config,
    name: &'static str,
    partner_cpu: usize,
    round_trips: u32,
) -> Result<(), Error> {
    let shared = PingPong {
        turn: AtomicU32::new(0),
        partner_cpu: [AtomicUsize::new(usize::MAX), AtomicUsize::new(usize::MAX)],
        partner_pin_failed: AtomicBool::new(false),
    };
    let total = round_trips * (config.rounds + 1);
    let me = || {
        timed_rounds(config.rounds, || {
            let start = rdtsc();
            for _ in 0..round_trips {
                ping(os, &shared.turn);
            }
            Ok(rdtsc() - start)
        })
    };
    let partner = || {
        // Even unpinned the partner must play every move, or `me` waits forever.
        if os.pin(partner_cpu).is_err() {
            shared.partner_pin_failed.store(true, Ordering::Relaxed);
        }
        let seen = || os.cpu().unwrap_or(usize::MAX);
        shared.partner_cpu[0].store(seen(), Ordering::Relaxed);
        for _ in 0..total {
            pong(os, &shared.turn);
        }
        shared.partner_cpu[1].store(seen(), Ordering::Relaxed);
    };
    let rounds = os.pair(me, partner)??;
    if shared.partner_pin_failed.load(Ordering::Relaxed) {
        return Err("cannot pin the ping-pong partner");
    }
    let mut seen = shared.partner_cpu.iter().map(|c| c.load(Ordering::Relaxed));
    if seen.any(|c| c != partner_cpu && c != usize::MAX) {
        return Err("the ping-pong partner ran on another CPU than it was pinned to");
    }
    if os.cpu().is_some_and(|c| c != MAIN_CPU) {
        return Err("the main thread left its CPU");
    }
    report(os, name, round_trips, &rounds);
    Ok(())
}

/// The main thread's move: hand the turn over and wait for it back.
fn ping<O: Os>(os: &O, turn: &AtomicU32) {
    let mine = turn.load(Ordering::Acquire);
    turn.store(mine + 1, Ordering::Release);
    os.futex_wake(turn);
    loop {
        let now = turn.load(Ordering::Acquire);
        if now == mine + 2 {
            return;
        }
        os.futex_wait(turn, now);
    }
}

/// The partner's move: wait for an odd turn, then hand it back.
fn pong<O: Os>(os: &O, turn: &AtomicU32) {
    let mut now = turn.load(Ordering::Acquire);
    while now.is_multiple_of(2) {
        os.futex_wait(turn, now);
        now = turn.load(Ordering::Acquire);
    }
    turn.store(now + 1, Ordering::Release);
    os.futex_wake(turn);
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;
    use std::sync::{Mutex, mpsc};
    use std::vec::Vec;

    /// A host "OS" good enough to run the choreography (not to measure):
    /// futexes are spins, memory comes from the heap.
    struct Host {
        lines: Mutex<Vec<String>>,
        /// Fault injection: the echo peer answers `v + 2`.
        wrong_echo: bool,
        /// Fault injection: one byte of the file is wrong.
        corrupt_file: bool,
        /// Fault injection: the std program fails.
        std_fails: bool,
    }

    impl Host {
        fn new() -> Host {
            Host {
                lines: Mutex::new(Vec::new()),
                wrong_echo: false,
                corrupt_file: false,
                std_fails: false,
            }
        }
    }

    /// A peer thread answering over channels.
    struct Peer {
        to: mpsc::Sender<u64>,
        from: mpsc::Receiver<u64>,
        thread: std::thread::JoinHandle<()>,
    }

    impl Os for Host {
        type Peer = Peer;
        type File = (Vec<u8>, Vec<u8>);

        fn now_ns(&self) -> u64 {
            std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos() as u64
        }
        fn echo_mechanisms(&self) -> &'static [&'static str] {
            &["channel", "channel-again"]
        }
        fn peer_start(&self, service: Service, _: usize, _: usize) -> Result<Peer, Error> {
            let (to, their_from) = mpsc::channel::<u64>();
            let (their_to, from) = mpsc::channel();
            let step = if self.wrong_echo { 2 } else { 1 };
            let thread = std::thread::spawn(move || {
                for v in their_from {
                    let answer = if service == Service::Echo {
                        v + step
                    } else {
                        0
                    };
                    if their_to.send(answer).is_err() {
                        break;
                    }
                }
            });
            Ok(Peer { to, from, thread })
        }
        fn peer_round_trip(&self, peer: &mut Peer, value: u64) -> Result<u64, Error> {
            peer.to.send(value).map_err(|_| "peer gone")?;
            peer.from.recv().map_err(|_| "peer gone")
        }
        fn peer_stop(&self, peer: Peer) -> Result<(), Error> {
            drop(peer.to);
            peer.thread.join().map_err(|_| "peer panicked")
        }
        fn file_open(&self, size: usize) -> Result<Self::File, Error> {
            let mut bytes: Vec<u8> = (0..size as u64).map(file_byte).collect();
            if self.corrupt_file {
                bytes[size / 2 + 17] ^= 1;
            }
            Ok((bytes, Vec::new()))
        }
        fn file_read<'f>(
            &self,
            file: &'f mut Self::File,
            offset: u64,
            len: usize,
        ) -> Result<&'f [u8], Error> {
            let offset = offset as usize;
            file.1.clear();
            file.1.extend_from_slice(&file.0[offset..offset + len]);
            Ok(&file.1)
        }
        fn file_close(&self, _: Self::File) -> Result<(), Error> {
            Ok(())
        }
        fn run_std_bench(&self, mode: &str) -> Result<(), Error> {
            self.print(format_args!("std bench {mode}"));
            if self.std_fails {
                return Err("the std bench program failed");
            }
            Ok(())
        }
        fn run_wasm_bench(&self, args: &[&str]) -> Result<(), Error> {
            self.print(format_args!("wasm bench {}", args.join(" ")));
            Ok(())
        }
        fn null_syscall(&self) {}
        fn futex_wait(&self, _: &AtomicU32, _: u32) {
            std::thread::yield_now();
        }
        fn futex_wake(&self, _: &AtomicU32) {}
        fn map(&self, len: usize) -> Result<*mut u8, Error> {
            Ok(std::boxed::Box::into_raw(std::vec![0u8; len].into_boxed_slice()).cast())
        }
        fn unmap(&self, ptr: *mut u8, len: usize) -> Result<(), Error> {
            // SAFETY: `ptr` came from `map` with this length.
            drop(unsafe {
                std::boxed::Box::from_raw(core::ptr::slice_from_raw_parts_mut(ptr, len))
            });
            Ok(())
        }
        fn cpus(&self) -> usize {
            2
        }
        fn pin(&self, _: usize) -> Result<(), Error> {
            Ok(())
        }
        fn cpu(&self) -> Option<usize> {
            None
        }
        fn pair<R>(
            &self,
            me: impl FnOnce() -> R,
            partner: impl FnOnce() + Send,
        ) -> Result<R, Error> {
            Ok(std::thread::scope(|s| {
                s.spawn(partner);
                me()
            }))
        }
        fn print(&self, line: fmt::Arguments<'_>) {
            self.lines.lock().unwrap().push(std::format!("{line}"));
        }
    }

    #[test]
    fn quick_run_prints_every_benchmark_then_runs_the_std_and_wasm_programs_then_done() {
        let host = Host::new();
        run(&host, &Config::QUICK).unwrap();
        let lines = host.lines.into_inner().unwrap();
        let names: Vec<_> = lines
            .iter()
            .filter_map(|l| match Line::find(l) {
                Some(Ok(Line::Result { name, ops, cycles })) => {
                    assert!(ops > 0);
                    assert_eq!(cycles.iter().count(), Config::QUICK.rounds as usize);
                    Some(name)
                }
                _ => None,
            })
            .collect();
        let expected: Vec<_> = BENCHMARKS
            .iter()
            .filter(|b| b.program == Program::Core)
            .map(|b| b.name)
            .collect();
        assert_eq!(names, expected);
        let n = lines.len();
        assert_eq!(
            lines[n - 3..],
            [
                "std bench quick",
                "wasm bench runtime-silo bench --guest --examples / --runs 1 --scale 1",
                "BENCH done"
            ]
        );
    }

    #[test]
    fn bad_configs_are_refused_with_an_error_line() {
        let host = Host::new();
        let config = Config {
            rounds: 0,
            ..Config::QUICK
        };
        assert!(run(&host, &config).is_err());
        let lines = host.lines.into_inner().unwrap();
        assert!(lines.last().unwrap().starts_with("BENCH error "));
        assert_eq!(Config::from_arg(Some("quick")), Ok(Config::QUICK));
        assert_eq!(Config::from_arg(None), Ok(Config::FULL));
        assert!(Config::from_arg(Some("fast")).is_err());
        assert!(Config::FULL.rounds as usize <= MAX_ROUNDS);
        for config in [Config::FULL, Config::QUICK] {
            assert_eq!(Config::from_arg(Some(config.mode)), Ok(config));
        }
        assert!(timed_rounds(MAX_ROUNDS as u32 + 1, || Ok(1)).is_err());
        let rounds = timed_rounds(3, || Ok(7)).unwrap();
        assert_eq!(rounds.cycles(), [7, 7, 7]);
    }

    #[test]
    fn std_benchmarks_come_last_and_every_run_has_them() {
        let first_std = BENCHMARKS
            .iter()
            .position(|b| b.program == Program::Std)
            .unwrap();
        assert!(
            BENCHMARKS[first_std..]
                .iter()
                .all(|b| b.program == Program::Std && b.always && b.name.starts_with("std_"))
        );
    }

    #[test]
    fn wrong_answers_and_wrong_bytes_stop_the_run() {
        for host in [
            Host {
                wrong_echo: true,
                ..Host::new()
            },
            Host {
                corrupt_file: true,
                ..Host::new()
            },
            Host {
                std_fails: true,
                ..Host::new()
            },
        ] {
            assert!(run(&host, &Config::QUICK).is_err());
            let lines = host.lines.into_inner().unwrap();
            assert!(lines.last().unwrap().starts_with("BENCH error "));
        }
    }
}
