//! Kernel threads: the unit the scheduler runs.

use alloc::boxed::Box;
use alloc::string::String;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use super::cpuset::CpuSet;
use super::outcome::WaitOutcome;
use super::wait::WaitQueue;
use crate::mm::kstack::KernelStack;
use crate::sync::IrqSpin;

/// Thread lifecycle. Transitions:
/// Runnable -> Running (picked) -> Runnable (preempted, yielded)
///                              -> Blocked (waits; a waker makes it Runnable)
///                              -> Exited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    Runnable = 0,
    Running = 1,
    Blocked = 2,
    Exited = 3,
}

impl State {
    fn from_u8(v: u8) -> State {
        match v {
            0 => State::Runnable,
            1 => State::Running,
            2 => State::Blocked,
            _ => State::Exited,
        }
    }
}

pub type ThreadId = u64;

pub struct Thread {
    pub id: ThreadId,
    pub name: String,
    state: AtomicU8,
    /// Bumped each time the thread blocks, so that a late wake-up (a timer
    /// that fired after a wait queue already woke it) cannot end a later,
    /// unrelated wait.
    block_gen: AtomicU32,
    priority: AtomicU8,
    affinity: AtomicU64,
    /// Set while a CPU runs the thread or is still switching away from it:
    /// its saved context is not valid until this is false.
    pub(super) on_cpu: AtomicBool,
    pub(super) last_cpu: AtomicUsize,
    cpu_time_ns: AtomicU64,
    /// Saved kernel stack pointer while not running.
    pub(super) saved_rsp: UnsafeCell<u64>,
    /// None for a CPU's boot context (it runs on the boot or AP stack).
    _stack: Option<KernelStack>,
    /// Top of the kernel stack: where entries from ring 3 land.
    pub(super) kstack_top: u64,
    /// Ring-3 state, for threads of a silo.
    pub user: Option<crate::silo::UserContext>,
    pub(super) entry: IrqSpin<Option<Box<dyn FnOnce() + Send>>>,
    /// Woken when the thread exits.
    pub(super) exited: WaitQueue,
    pub(super) is_idle: bool,
    /// Set when the thread must give up waiting (its silo is ending).
    interrupted: AtomicBool,
    /// The outcome of the futex wait in progress (a thread waits on at most
    /// one futex at a time); the waker's queue entry holds its ticket.
    futex_outcome: WaitOutcome,
}

// SAFETY: `saved_rsp` is written only by the CPU switching away from the
// thread and read only by the CPU switching to it, ordered by `on_cpu`.
unsafe impl Sync for Thread {}

impl core::fmt::Debug for Thread {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Thread")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("state", &self.state())
            .field("block_gen", &self.block_generation())
            .field("on_cpu", &self.on_cpu.load(Ordering::Relaxed))
            .field("last_cpu", &self.last_cpu())
            .field("cpu_time_ns", &self.cpu_time_ns())
            .field("interrupted", &self.is_interrupted())
            .finish()
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
/// Threads made and not yet freed (`SysCounters`).
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Threads not yet freed, exited ones something still holds included.
pub fn live_threads() -> usize {
    LIVE.load(Ordering::Relaxed)
}

impl Drop for Thread {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Thread {
    pub(super) fn new(
        name: String,
        priority: u8,
        affinity: CpuSet,
        stack: Option<KernelStack>,
        user: Option<crate::silo::UserContext>,
        entry: Option<Box<dyn FnOnce() + Send>>,
        is_idle: bool,
    ) -> Thread {
        LIVE.fetch_add(1, Ordering::Relaxed);
        Thread {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name,
            state: AtomicU8::new(State::Runnable as u8),
            block_gen: AtomicU32::new(0),
            priority: AtomicU8::new(priority),
            affinity: AtomicU64::new(affinity.bits()),
            on_cpu: AtomicBool::new(false),
            last_cpu: AtomicUsize::new(usize::MAX),
            cpu_time_ns: AtomicU64::new(0),
            saved_rsp: UnsafeCell::new(0),
            kstack_top: stack.as_ref().map_or(0, |s| s.top()),
            _stack: stack,
            user,
            entry: IrqSpin::new(entry),
            exited: WaitQueue::new(),
            is_idle,
            interrupted: AtomicBool::new(false),
            futex_outcome: WaitOutcome::new(),
        }
    }

    pub fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Acquire))
    }

    pub(super) fn set_state(&self, s: State) {
        self.state.store(s as u8, Ordering::Release);
    }

    /// Marks the thread Blocked and returns the generation a waker must
    /// quote. Only the thread itself calls this.
    pub(super) fn begin_block(&self) -> u32 {
        let generation = self
            .block_gen
            .fetch_add(1, Ordering::AcqRel)
            .wrapping_add(1);
        self.set_state(State::Blocked);
        generation
    }

    /// Blocked -> Runnable if still blocked in wait `generation`. True if this
    /// call did it (so the caller must enqueue the thread).
    pub(super) fn unblock(&self, generation: u32) -> bool {
        self.block_gen.load(Ordering::Acquire) == generation
            && self
                .state
                .compare_exchange(
                    State::Blocked as u8,
                    State::Runnable as u8,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    pub(super) fn block_generation(&self) -> u32 {
        self.block_gen.load(Ordering::Acquire)
    }

    pub(super) fn set_interrupted(&self) {
        self.interrupted.store(true, Ordering::Release);
    }

    /// True once the thread was asked to stop waiting for good.
    pub fn is_interrupted(&self) -> bool {
        self.interrupted.load(Ordering::Acquire)
    }

    /// The thread's futex wait outcome (see `syscall::futex`).
    pub fn futex_outcome(&self) -> &WaitOutcome {
        &self.futex_outcome
    }

    pub fn priority(&self) -> u8 {
        self.priority.load(Ordering::Relaxed)
    }

    pub fn affinity(&self) -> CpuSet {
        CpuSet::from_bits(self.affinity.load(Ordering::Relaxed))
    }

    /// Restricts where the thread may run from its next placement on.
    pub fn set_affinity(&self, set: CpuSet) {
        self.affinity.store(set.bits(), Ordering::Relaxed);
    }

    /// CPU time consumed, in nanoseconds (updated at switches and ticks).
    pub fn cpu_time_ns(&self) -> u64 {
        self.cpu_time_ns.load(Ordering::Relaxed)
    }

    pub(super) fn add_cpu_time(&self, ns: u64) {
        self.cpu_time_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// CPU the thread last ran on.
    pub fn last_cpu(&self) -> Option<usize> {
        let c = self.last_cpu.load(Ordering::Relaxed);
        (c != usize::MAX).then_some(c)
    }
}
