//! `std-bench [quick|full]`: the Rust std benchmarks of `cargo xtask bench`
//! — `std::thread` spawn + join, `Mutex` lock + unlock alone and contended
//! by two threads, small `malloc` + `free` — in plain std code, so that the
//! same source measures std on Bedrock (a native silo over the libOS,
//! started by `usertest bench`) and std on Linux (a static glibc executable
//! started by the anchor's `/init`).
//!
//! The only OS-specific code pins the two threads of the contended mutex
//! benchmark to CPUs 0 and 1 ([`cpu`]). Counts, warm-up and timed rounds,
//! timing (`rdtsc`) and the output lines are `bedrock-bench-core`'s, as for
//! the other benchmarks. A failure prints a `BENCH error` line and exits
//! with status 1.

use std::alloc::{self, Layout};
use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use bedrock_bench_core::{Config, Error, Record, Rounds, rdtsc, timed_rounds};
// The libOS defines the hermit ABI std calls; nothing names it otherwise.
#[cfg(target_os = "hermit")]
use bedrock_native_silo as _;

fn main() -> ExitCode {
    let mode = std::env::args().nth(1);
    match Config::from_arg(mode.as_deref()).and_then(|config| run(&config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            println!("{}", Record::Error(why));
            ExitCode::FAILURE
        }
    }
}

/// Every std benchmark, in `BENCHMARKS` order.
fn run(config: &Config) -> Result<(), Error> {
    spawn_join(config)?;
    mutex_uncontended(config)?;
    mutex_contended(config)?;
    malloc_free(config)
}

fn report(name: &str, ops: u32, rounds: &Rounds) {
    let record = Record::Result {
        name,
        ops: u64::from(ops),
        cycles: rounds.cycles(),
    };
    println!("{record}");
}

/// `thread::spawn` of a trivial closure and `join`, one after the other:
/// stack, TLS and kernel thread made, run, ended and reclaimed.
fn spawn_join(config: &Config) -> Result<(), Error> {
    let rounds = timed_rounds(config.rounds, || {
        let start = rdtsc();
        for i in 0..config.spawn_joins {
            // `Builder::spawn` is `thread::spawn` returning the error
            // instead of panicking.
            let handle = thread::Builder::new()
                .spawn(move || black_box(i))
                .map_err(|_| "cannot spawn a thread")?;
            let got = handle.join().map_err(|_| "a spawned thread panicked")?;
            if got != i {
                return Err("a joined thread returned the wrong value");
            }
        }
        Ok(rdtsc() - start)
    })?;
    report("std_spawn_join", config.spawn_joins, &rounds);
    Ok(())
}

/// Lock, increment, unlock, `n` times.
fn hammer(lock: &Mutex<u64>, n: u32) -> Result<(), Error> {
    for _ in 0..n {
        *lock.lock().map_err(|_| "poisoned mutex")? += 1;
    }
    Ok(())
}

/// One thread locking and unlocking a `Mutex` nobody else touches: std's
/// futex mutex never enters the kernel here, so this is the same user code
/// on both sides.
fn mutex_uncontended(config: &Config) -> Result<(), Error> {
    let lock = Mutex::new(0u64);
    let rounds = timed_rounds(config.rounds, || {
        let start = rdtsc();
        hammer(&lock, config.mutex_ops)?;
        Ok(rdtsc() - start)
    })?;
    let total = lock.into_inner().map_err(|_| "poisoned mutex")?;
    if total != u64::from(config.mutex_ops) * (u64::from(config.rounds) + 1) {
        return Err("the uncontended mutex lost updates");
    }
    report("std_mutex_uncontended", config.mutex_ops, &rounds);
    Ok(())
}

/// The main thread on CPU 0 and a second thread on CPU 1 each lock,
/// increment and unlock one `Mutex` half of the round's times, started
/// together. Contention takes std's slow path: spinning, then futex wait
/// and wake in the kernel. The threads are pinned because std would leave
/// placement to the scheduler, which may put both on one CPU (Linux often
/// does), where one runs its half before the other and nothing contends.
/// The round's time runs from the start signal until the later thread has
/// finished; spawning and joining the second thread are not timed.
fn mutex_contended(config: &Config) -> Result<(), Error> {
    if thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return Err("std_mutex_contended needs two CPUs");
    }
    cpu::pin(0)?;
    let half = config.contended_mutex_ops / 2;
    let lock = Mutex::new(0u64);
    let rounds = timed_rounds(config.rounds, || {
        let (ready, go) = (AtomicBool::new(false), AtomicBool::new(false));
        thread::scope(|scope| {
            let other = thread::Builder::new()
                .spawn_scoped(scope, || {
                    cpu::pin(1)?;
                    ready.store(true, Ordering::Release);
                    while !go.load(Ordering::Acquire) {
                        std::hint::spin_loop();
                    }
                    hammer(&lock, half)?;
                    let end = rdtsc();
                    cpu::check(1)?;
                    Ok(end)
                })
                .map_err(|_| "cannot spawn a thread")?;
            // Start both at once: the other thread is running and waiting.
            while !ready.load(Ordering::Acquire) && !other.is_finished() {
                thread::yield_now();
            }
            let start = rdtsc();
            go.store(true, Ordering::Release);
            hammer(&lock, half)?;
            let mine = rdtsc();
            let theirs = other.join().map_err(|_| "the other thread panicked")??;
            cpu::check(0)?;
            Ok(mine.max(theirs) - start)
        })
    })?;
    let total = lock.into_inner().map_err(|_| "poisoned mutex")?;
    if total != u64::from(half) * 2 * (u64::from(config.rounds) + 1) {
        return Err("the contended mutex lost updates");
    }
    report("std_mutex_contended", half * 2, &rounds);
    Ok(())
}

/// The program's only OS-specific code: pinning the calling thread to a
/// CPU and asking where it runs, which std cannot do.
mod cpu {
    use bedrock_bench_core::Error;

    /// Restricts the calling thread to `cpu` (below 64) and returns once
    /// it runs there.
    pub fn pin(cpu: usize) -> Result<(), Error> {
        set_affinity(cpu)?;
        // Bedrock moves a thread at its next scheduling decision.
        std::thread::yield_now();
        check(cpu)
    }

    /// Fails unless the caller runs on `cpu`.
    pub fn check(cpu: usize) -> Result<(), Error> {
        if current() == cpu {
            Ok(())
        } else {
            Err("a pinned thread runs on another CPU")
        }
    }

    #[cfg(target_os = "hermit")]
    fn set_affinity(cpu: usize) -> Result<(), Error> {
        use bedrock_abi::{Syscall, user::syscall};
        // SAFETY: SetAffinity takes no pointers; thread 0 is the caller.
        unsafe { syscall(Syscall::SetAffinity, &[0, 1 << cpu]) }
            .map(drop)
            .map_err(|_| "SetAffinity failed")
    }

    #[cfg(target_os = "hermit")]
    fn current() -> usize {
        use bedrock_abi::{Syscall, user::syscall};
        // SAFETY: GetCpu takes no pointers.
        unsafe { syscall(Syscall::GetCpu, &[]) }.unwrap_or(usize::MAX)
    }

    #[cfg(target_os = "linux")]
    fn set_affinity(cpu: usize) -> Result<(), Error> {
        // SAFETY: a zeroed cpu_set_t is the empty set and `cpu` < 64 is
        // within it; the call reads the local set only.
        let failed = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0
        };
        if failed {
            Err("sched_setaffinity failed")
        } else {
            Ok(())
        }
    }

    #[cfg(target_os = "linux")]
    fn current() -> usize {
        // SAFETY: no arguments.
        usize::try_from(unsafe { libc::sched_getcpu() }).unwrap_or(usize::MAX)
    }
}

/// Small sizes, as a program's strings, boxes and nodes have.
const SIZES: [usize; 8] = [8, 16, 24, 32, 48, 64, 96, 128];
/// Blocks live at once: allocated in a batch, then freed in order.
const BATCH: usize = 64;

/// `malloc` and `free` through std's system allocator (`std::alloc`, no
/// global allocator of our own: glibc's malloc on Linux, the libOS's
/// `sys_malloc` on Bedrock), in batches of [`BATCH`] blocks of
/// [`SIZES`], each written once so that it is real memory.
fn malloc_free(config: &Config) -> Result<(), Error> {
    let mut layouts = [Layout::new::<u8>(); SIZES.len()];
    for (layout, size) in layouts.iter_mut().zip(SIZES) {
        *layout = Layout::from_size_align(size, 8).map_err(|_| "bad layout")?;
    }
    let batches = (config.mallocs as usize).div_ceil(BATCH);
    let ops = u32::try_from(batches * BATCH).map_err(|_| "too many mallocs")?;
    let mut blocks = [std::ptr::null_mut::<u8>(); BATCH];
    let rounds = timed_rounds(config.rounds, || {
        let start = rdtsc();
        for _ in 0..batches {
            for (i, block) in blocks.iter_mut().enumerate() {
                // SAFETY: every layout has a non-zero size.
                let p = unsafe { alloc::alloc(layouts[i % SIZES.len()]) };
                if p.is_null() {
                    return Err("malloc failed");
                }
                // SAFETY: `p` holds at least 8 writable bytes.
                unsafe { p.write(i as u8) };
                *block = p;
            }
            // Keep the compiler from pairing allocations with frees away.
            black_box(&mut blocks);
            for (i, block) in blocks.iter().enumerate() {
                // SAFETY: allocated above with this layout, freed once.
                unsafe { alloc::dealloc(*block, layouts[i % SIZES.len()]) };
            }
        }
        Ok(rdtsc() - start)
    })?;
    report("std_malloc", ops, &rounds);
    Ok(())
}
