//! Scenarios for the scheduler: preemption, stealing, sleeping, joining,
//! wait queues across CPUs and affinity. Run with 4 CPUs.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use super::Context;
use crate::arch::x86_64::{percpu, tsc};
use crate::sched::{self, cpuset::CpuSet, queue::DEFAULT_PRIORITY, wait::WaitQueue};

macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

fn spawn(
    name: &str,
    affinity: CpuSet,
    f: impl FnOnce() + Send + 'static,
) -> Result<Arc<sched::thread::Thread>, String> {
    sched::spawn(name, DEFAULT_PRIORITY, affinity, f).map_err(|e| format!("spawn {name}: {e:?}"))
}

/// Twice as many never-yielding threads as CPUs: all of them must make
/// progress (preemption), and every CPU must run some (placement/stealing).
pub fn preempt_busy_threads(_: &Context<'_>) -> Result<(), String> {
    let cpus = percpu::online();
    ensure!(cpus >= 2, "needs at least 2 CPUs, have {cpus}");
    let n = cpus * 2;
    let stop = Arc::new(AtomicBool::new(false));
    let counters: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let cpus_used: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let mut threads = Vec::new();
    for i in 0..n {
        let (stop, counters, used) = (stop.clone(), counters.clone(), cpus_used.clone());
        threads.push(spawn(&format!("busy{i}"), CpuSet::ALL, move || {
            while !stop.load(Ordering::Relaxed) {
                counters[i].fetch_add(1, Ordering::Relaxed);
                used[i].fetch_or(1 << percpu::current().index, Ordering::Relaxed);
            }
        })?);
    }
    // Sample twice: every thread must advance within each window.
    for window in 0..2 {
        let before: Vec<u64> = counters.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        sched::sleep_ns(150_000_000);
        for (i, c) in counters.iter().enumerate() {
            let now = c.load(Ordering::Relaxed);
            ensure!(
                now > before[i],
                "thread busy{i} made no progress in window {window}"
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in &threads {
        sched::join(t);
    }
    let mask = cpus_used
        .iter()
        .fold(0, |m, u| m | u.load(Ordering::Relaxed));
    ensure!(
        mask.count_ones() as usize == cpus,
        "busy threads ran on CPUs {mask:#b} only"
    );
    let times: Vec<u64> = threads
        .iter()
        .map(|t| t.cpu_time_ns() / 1_000_000)
        .collect();
    ensure!(
        times.iter().all(|&ms| ms > 0),
        "a busy thread was charged no CPU time: {times:?} ms"
    );
    log::info!("preempt_busy_threads: {n} threads on {cpus} CPUs, CPU ms {times:?}");
    Ok(())
}

/// Sleeps wake up after, and not much after, their deadline.
pub fn sleep_accuracy(_: &Context<'_>) -> Result<(), String> {
    // TCG runs the guest far slower than real time; allow generous lateness.
    const LATE_NS: u64 = 30_000_000;
    for ms in [1u64, 10, 50] {
        let start = tsc::now_ns();
        sched::sleep_ns(ms * 1_000_000);
        let slept = tsc::now_ns() - start;
        ensure!(
            slept >= ms * 1_000_000,
            "sleep({ms} ms) returned after {slept} ns"
        );
        ensure!(
            slept <= ms * 1_000_000 + LATE_NS,
            "sleep({ms} ms) took {slept} ns"
        );
    }
    // Sleepers on several CPUs, woken in deadline order by their own CPU.
    // Deadlines are absolute and well apart, so thread start-up delays
    // (large under TCG) cannot reorder them.
    let base = tsc::now_ns() + 100_000_000;
    let order = Arc::new(AtomicUsize::new(0));
    let seen: Arc<Vec<AtomicUsize>> = Arc::new((0..4).map(|_| AtomicUsize::new(0)).collect());
    let mut threads = Vec::new();
    for i in 0..4usize {
        let (order, seen) = (order.clone(), seen.clone());
        let cpu = i % percpu::online();
        threads.push(spawn(
            &format!("sleeper{i}"),
            CpuSet::single(cpu),
            move || {
                sched::sleep_until(base + (4 - i as u64) * 50_000_000);
                seen[i].store(order.fetch_add(1, Ordering::SeqCst), Ordering::SeqCst);
            },
        )?);
    }
    for t in &threads {
        sched::join(t);
    }
    let ranks: Vec<usize> = seen.iter().map(|s| s.load(Ordering::SeqCst)).collect();
    ensure!(ranks == [3, 2, 1, 0], "sleepers woke in order {ranks:?}");
    Ok(())
}

/// 64 threads created, run and joined; their results are all there and
/// their stacks are recycled for a second round.
pub fn thread_join_64(_: &Context<'_>) -> Result<(), String> {
    for round in 0..2 {
        let results: Arc<Vec<AtomicU64>> = Arc::new((0..64).map(|_| AtomicU64::new(0)).collect());
        let mut threads = Vec::new();
        for i in 0..64u64 {
            let results = results.clone();
            threads.push(spawn(&format!("worker{i}"), CpuSet::ALL, move || {
                let mut x = i;
                for _ in 0..1000 {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                }
                if i % 3 == 0 {
                    sched::yield_now();
                }
                results[i as usize].store(x | 1, Ordering::SeqCst);
            })?);
        }
        for t in &threads {
            sched::join(t);
            ensure!(
                t.state() == sched::thread::State::Exited,
                "{} not exited after join",
                t.name
            );
        }
        for (i, r) in results.iter().enumerate() {
            ensure!(
                r.load(Ordering::SeqCst) & 1 == 1,
                "round {round}: worker{i} left no result"
            );
        }
    }
    Ok(())
}

/// Two threads pinned to different CPUs hand a token back and forth
/// through wait queues (the pattern futexes will use).
pub fn wait_queue_ping_pong(_: &Context<'_>) -> Result<(), String> {
    const ROUNDS: u64 = 2000;
    let cpus = percpu::online();
    ensure!(cpus >= 2, "needs at least 2 CPUs");
    struct Shared {
        turn: AtomicU64,
        ping: WaitQueue,
        pong: WaitQueue,
    }
    let s = Arc::new(Shared {
        turn: AtomicU64::new(0),
        ping: WaitQueue::new(),
        pong: WaitQueue::new(),
    });
    let other = s.clone();
    let ponger = spawn("ponger", CpuSet::single(1), move || {
        for r in 0..ROUNDS {
            other
                .pong
                .wait_while(|| other.turn.load(Ordering::SeqCst) != 2 * r + 1);
            other.turn.store(2 * r + 2, Ordering::SeqCst);
            other.ping.wake_one();
        }
    })?;
    let me = sched::current();
    me.set_affinity(CpuSet::single(0));
    sched::yield_now();
    let start = tsc::now_ns();
    for r in 0..ROUNDS {
        s.turn.store(2 * r + 1, Ordering::SeqCst);
        s.pong.wake_one();
        s.ping
            .wait_while(|| s.turn.load(Ordering::SeqCst) != 2 * r + 2);
    }
    let ns = tsc::now_ns() - start;
    sched::join(&ponger);
    me.set_affinity(CpuSet::ALL);
    ensure!(s.turn.load(Ordering::SeqCst) == 2 * ROUNDS, "token lost");
    ensure!(
        ponger.last_cpu() == Some(1),
        "ponger ran on {:?}",
        ponger.last_cpu()
    );
    log::info!(
        "wait_queue_ping_pong: {ROUNDS} round trips, {} ns each",
        ns / ROUNDS
    );
    Ok(())
}

/// A thread pinned to one CPU never runs anywhere else, even while that
/// CPU is crowded and others idle.
pub fn affinity_respected(_: &Context<'_>) -> Result<(), String> {
    let cpus = percpu::online();
    ensure!(cpus >= 2, "needs at least 2 CPUs");
    let target = cpus - 1;
    let stray = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for i in 0..3 {
        let stray = stray.clone();
        threads.push(spawn(
            &format!("pinned{i}"),
            CpuSet::single(target),
            move || {
                let end = tsc::now_ns() + 30_000_000;
                while tsc::now_ns() < end {
                    let cpu = percpu::current().index;
                    if cpu != target {
                        stray.fetch_or(1 << cpu, Ordering::Relaxed);
                    }
                }
            },
        )?);
    }
    for t in &threads {
        sched::join(t);
    }
    let stray = stray.load(Ordering::Relaxed);
    ensure!(stray == 0, "pinned threads ran on CPUs {stray:#b}");
    Ok(())
}

/// A timed wait keeps its deadline when the thread is preempted between
/// marking itself blocked and blocking (the window every waiter has after
/// registering with its waker): a thread pinned to one CPU beside a busy
/// one prepares a wait, spins past its time slice so the timer asks for a
/// switch right there, then blocks with a 1 ms deadline. It must come back
/// from the deadline alone (nobody wakes it). Run 20 times.
pub fn timed_wait_preempted(_: &Context<'_>) -> Result<(), String> {
    const ROUNDS: u64 = 20;
    let cpus = percpu::online();
    ensure!(cpus >= 2, "needs at least 2 CPUs");
    let cpu = CpuSet::single(cpus - 1);
    let stop = Arc::new(AtomicBool::new(false));
    let busy = {
        let stop = stop.clone();
        spawn("busy", cpu, move || {
            while !stop.load(Ordering::Relaxed) {
                core::hint::spin_loop();
            }
        })?
    };
    let rounds = Arc::new(AtomicU64::new(0));
    let waiter = {
        let rounds = rounds.clone();
        spawn("waiter", cpu, move || {
            for _ in 0..ROUNDS {
                let me = sched::current();
                let generation = sched::prepare_block(&me);
                let spin_until = tsc::now_ns() + 3 * sched::policy::TIME_SLICE_NS;
                while tsc::now_ns() < spin_until {
                    core::hint::spin_loop();
                }
                sched::block(me, generation, Some(tsc::now_ns() + 1_000_000));
                rounds.fetch_add(1, Ordering::Relaxed);
            }
        })?
    };
    // TCG is slow; each round needs ~13 ms of guest time.
    let give_up = tsc::now_ns() + 5_000_000_000;
    while rounds.load(Ordering::Relaxed) < ROUNDS && tsc::now_ns() < give_up {
        sched::sleep_ns(10_000_000);
    }
    let done = rounds.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    sched::join(&busy);
    ensure!(
        done == ROUNDS,
        "a timed wait never returned after {done} of {ROUNDS} rounds: switched out while blocking, it lost its deadline"
    );
    sched::join(&waiter);
    Ok(())
}

/// Eight unpinned threads pass four tokens round a ring through wait
/// queues for a while: threads are woken while their CPU is still
/// switching away from them, and land on other CPUs, all the time. Every
/// thread must keep going and no token may be lost. (A stress test of
/// wake-ups across CPUs; the switch-crossing deadlock it aims at needs the
/// longer switches of ring-3 threads to show up: `std_selftest_smp4`.)
pub fn wake_while_switching(_: &Context<'_>) -> Result<(), String> {
    const THREADS: usize = 8;
    const TOKENS: u64 = 4;
    let cpus = percpu::online();
    ensure!(cpus >= 4, "needs 4 CPUs, have {cpus}");
    struct Ring {
        tokens: [AtomicU64; THREADS],
        queues: [WaitQueue; THREADS],
        passes: [AtomicU64; THREADS],
        stop: AtomicBool,
    }
    let ring = Arc::new(Ring {
        tokens: core::array::from_fn(|i| AtomicU64::new(u64::from(i % 2 == 0))),
        queues: core::array::from_fn(|_| WaitQueue::new()),
        passes: core::array::from_fn(|_| AtomicU64::new(0)),
        stop: AtomicBool::new(false),
    });
    let mut threads = Vec::new();
    for i in 0..THREADS {
        let ring = ring.clone();
        threads.push(spawn(&format!("ring{i}"), CpuSet::ALL, move || {
            let next = (i + 1) % THREADS;
            loop {
                ring.queues[i].wait_while(|| {
                    ring.tokens[i].load(Ordering::SeqCst) == 0 && !ring.stop.load(Ordering::SeqCst)
                });
                if ring.stop.load(Ordering::SeqCst) {
                    return;
                }
                ring.tokens[i].fetch_sub(1, Ordering::SeqCst);
                ring.passes[i].fetch_add(1, Ordering::Relaxed);
                ring.tokens[next].fetch_add(1, Ordering::SeqCst);
                ring.queues[next].wake_one();
            }
        })?);
    }
    // Sample twice: every thread must advance within each window.
    for window in 0..2 {
        let before: Vec<u64> = ring
            .passes
            .iter()
            .map(|p| p.load(Ordering::Relaxed))
            .collect();
        sched::sleep_ns(300_000_000);
        for (i, p) in ring.passes.iter().enumerate() {
            ensure!(
                p.load(Ordering::Relaxed) > before[i],
                "ring{i} stopped passing tokens in window {window}"
            );
        }
    }
    ring.stop.store(true, Ordering::SeqCst);
    for q in &ring.queues {
        q.wake_all();
    }
    for t in &threads {
        sched::join(t);
    }
    let tokens: u64 = ring.tokens.iter().map(|t| t.load(Ordering::SeqCst)).sum();
    ensure!(tokens == TOKENS, "{tokens} tokens left of {TOKENS}");
    let passes: u64 = ring.passes.iter().map(|p| p.load(Ordering::Relaxed)).sum();
    log::info!("wake_while_switching: {passes} passes");
    Ok(())
}
