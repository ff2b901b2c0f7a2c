//! The scheduler proper: per-CPU state, switching, placement, stealing,
//! sleeping and preemption. Policy decisions come from [`super::policy`].
//!
//! Invariants:
//! - a CPU's state is only touched under its `IrqSpin`, and a CPU never
//!   holds two CPUs' locks at once (stealing releases its own first);
//! - a thread is in at most one run queue, and only while Runnable;
//! - a thread is resumed only after `on_cpu` dropped to false, i.e. after
//!   the CPU that ran it finished saving its context.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::cpuset::CpuSet;
use super::policy;
use super::queue::RunQueue;
use super::thread::{State, Thread};
use crate::acpi::topology::MAX_CPUS;
use crate::arch::x86_64::{apic, interrupts, percpu, switch, tsc};
use crate::mm::kstack::KernelStack;
use crate::mm::paging::MapError;
use crate::sync::IrqSpin;

/// A sleeping thread's place in its CPU's timer list: deadline first (the
/// order the timer wakes them in), then thread and block generation, which
/// make the key unique and let the sleeper take itself out when it is
/// woken early.
type SleepKey = (u64, u64, u32);

struct CpuState {
    queue: RunQueue<Arc<Thread>>,
    current: Option<Arc<Thread>>,
    idle: Option<Arc<Thread>>,
    /// The thread just switched away from; released by `finish_switch`.
    prev: Option<Arc<Thread>>,
    /// `prev` is runnable but may not run here (affinity changed): it is
    /// queued elsewhere once its context is saved.
    migrate_prev: bool,
    /// Threads in a timed wait on this CPU. Each takes its own entry out
    /// when its wait ends, however it ends: an entry left behind would
    /// keep the thread, its kernel stack and its whole silo alive until
    /// the deadline, possibly forever (finding H3 of the security review).
    sleepers: BTreeMap<SleepKey, Arc<Thread>>,
    slice_start: u64,
    /// When the timer interrupt is programmed to fire, if it is.
    timer_at: Option<u64>,
}

impl CpuState {
    const fn new() -> Self {
        CpuState {
            queue: RunQueue::new(),
            current: None,
            idle: None,
            prev: None,
            migrate_prev: false,
            sleepers: BTreeMap::new(),
            slice_start: 0,
            timer_at: None,
        }
    }
}

static CPUS: [IrqSpin<CpuState>; MAX_CPUS] = [const { IrqSpin::new(CpuState::new()) }; MAX_CPUS];
/// Runnable threads per CPU, running one included (read without locks for
/// placement and stealing decisions).
static LOAD: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(0) }; MAX_CPUS];
/// Queued (not running) threads per CPU.
static QUEUED: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(0) }; MAX_CPUS];
static IDLE: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
static NEED_RESCHED: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
/// CPUs whose scheduler runs (placement only targets these).
static READY_CPUS: AtomicUsize = AtomicUsize::new(0);

fn me() -> usize {
    percpu::current().index
}

/// The running thread.
pub fn current() -> Arc<Thread> {
    let ptr = percpu::current_thread() as *const Thread;
    assert!(!ptr.is_null(), "scheduler not running on this CPU");
    // SAFETY: the pointer is the running thread, which is us: the CPU's
    // state holds an Arc to it while it runs, and a thread that can still
    // execute this code cannot have been freed.
    unsafe {
        Arc::increment_strong_count(ptr);
        Arc::from_raw(ptr)
    }
}

/// Interrupts off for a scope, restored after.
struct IrqOff(bool);
impl IrqOff {
    fn new() -> Self {
        IrqOff(interrupts::disable_save())
    }
}
impl Drop for IrqOff {
    fn drop(&mut self) {
        interrupts::restore(self.0);
    }
}

/// Turns the calling context (a CPU's boot or bring-up stack) into this
/// CPU's idle thread and arms its timer. Call once per CPU, in CPU order.
pub fn init_cpu() {
    let cpu = me();
    apic::timer_init_cpu();
    let idle = Arc::new(Thread::new(
        alloc::format!("idle{cpu}"),
        u8::MAX,
        CpuSet::single(cpu),
        None,
        None,
        None,
        true,
    ));
    idle.set_state(State::Running);
    idle.on_cpu.store(true, Ordering::Relaxed);
    idle.last_cpu.store(cpu, Ordering::Relaxed);
    let mut state = CPUS[cpu].lock();
    state.idle = Some(idle.clone());
    percpu::set_current_thread(Arc::as_ptr(&idle) as usize);
    state.current = Some(idle);
    state.slice_start = tsc::now_ns();
    IDLE[cpu].store(true, Ordering::Release);
    drop(state);
    READY_CPUS.fetch_max(cpu + 1, Ordering::AcqRel);
}

/// The idle loop: run whatever becomes runnable, otherwise halt until an
/// interrupt. Never returns.
pub fn idle_loop() -> ! {
    let cpu = me();
    // After a steal found nothing it may run (the threads queued elsewhere
    // are pinned there), other queues are left alone for a while instead
    // of taking their locks over and over.
    let mut steal_again_at = 0u64;
    loop {
        interrupts::disable_save();
        let steal = tsc::now_ns() >= steal_again_at;
        if work_for(cpu, steal) || wait_for_work(cpu, steal) {
            let before = SWITCHES[cpu].load(Ordering::Relaxed);
            schedule();
            if SWITCHES[cpu].load(Ordering::Relaxed) == before {
                steal_again_at = tsc::now_ns() + STEAL_BACKOFF_NS;
            }
        }
    }
}

/// How long an idle CPU leaves other queues alone after a fruitless steal.
const STEAL_BACKOFF_NS: u64 = 1_000_000;

/// Waits for work with interrupts on; true if some came (returns with
/// interrupts off either way): a short poll of the CPU's queue counters
/// ([`poll_for_work`]), then `hlt` until an interrupt.
fn wait_for_work(cpu: usize, steal: bool) -> bool {
    if poll_for_work(cpu, steal) {
        return true;
    }
    interrupts::enable_and_halt();
    interrupts::disable_save();
    work_for(cpu, steal)
}

/// How long an idle CPU watches its run queue before it halts. A wake-up
/// that comes meanwhile needs no IPI and no halt exit: waking a halted
/// virtual CPU costs the host a thread wake-up (tens of microseconds, far
/// more on a busy host), which dominates cross-CPU IPC round trips. Linux
/// polls briefly before halting for the same reason (its `poll_idle`).
const IDLE_POLL_NS: u64 = 50_000;

/// The CPU is polling or waiting on its queue counter (see
/// [`wait_for_work`]): an enqueue onto it needs no IPI.
static POLLING: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];

/// Context switches per CPU (the idle loop tells a steal that found
/// nothing from one that ran something).
static SWITCHES: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(0) }; MAX_CPUS];

/// Something to run here: our queue, or (with `steal`) another's.
fn work_for(cpu: usize, steal: bool) -> bool {
    if QUEUED[cpu].load(Ordering::SeqCst) > 0 {
        return true;
    }
    let ready = READY_CPUS.load(Ordering::Acquire);
    steal && (0..ready).any(|c| c != cpu && QUEUED[c].load(Ordering::Relaxed) > 0)
}

/// Watches for work for up to [`IDLE_POLL_NS`], interrupts on (timer and
/// shootdown IPIs are served as in a halt); true if some came. Called and
/// returns with interrupts off.
///
/// With MONITOR/MWAIT (on hardware, see `cpu::init_mwait`) each round
/// waits on the CPU's own queue counter, as Linux's mwait idle does: the
/// CPU sleeps until an enqueue writes it (no IPI needed) or an interrupt
/// comes. Otherwise it spins with `pause`; the bound keeps idle virtual
/// CPUs from taking host time from busy ones.
fn poll_for_work(cpu: usize, steal: bool) -> bool {
    let mwait = crate::arch::x86_64::cpu::has_mwait();
    POLLING[cpu].store(true, Ordering::SeqCst);
    let until = tsc::now_ns() + IDLE_POLL_NS;
    let mut found = false;
    while !found && tsc::now_ns() < until {
        if mwait {
            // Returns with interrupts off.
            crate::arch::x86_64::cpu::wait_for_write(QUEUED[cpu].as_ptr().cast(), || {
                work_for(cpu, steal)
            });
        } else {
            interrupts::enable();
            core::hint::spin_loop();
            interrupts::disable_save();
        }
        found = work_for(cpu, steal);
    }
    // An enqueue that saw POLLING set sent no IPI: look once more after
    // clearing it (both sides order through SeqCst on POLLING and QUEUED).
    POLLING[cpu].store(false, Ordering::SeqCst);
    found || work_for(cpu, steal)
}

/// Creates a kernel thread running `f` and makes it runnable.
pub fn spawn(
    name: impl Into<String>,
    priority: u8,
    affinity: CpuSet,
    f: impl FnOnce() + Send + 'static,
) -> Result<Arc<Thread>, MapError> {
    spawn_with(name, priority, affinity, None, f)
}

/// Creates a thread with ring-3 state `user` (its `f` enters ring 3).
pub fn spawn_with(
    name: impl Into<String>,
    priority: u8,
    affinity: CpuSet,
    user: Option<crate::silo::UserContext>,
    f: impl FnOnce() + Send + 'static,
) -> Result<Arc<Thread>, MapError> {
    let thread = create(name, priority, affinity, user, f)?;
    start(thread.clone());
    Ok(thread)
}

/// Creates a thread that runs `f` once [`start`]ed (so that the creator can
/// register it first, e.g. in its silo, without racing its exit).
pub fn create(
    name: impl Into<String>,
    priority: u8,
    affinity: CpuSet,
    user: Option<crate::silo::UserContext>,
    f: impl FnOnce() + Send + 'static,
) -> Result<Arc<Thread>, MapError> {
    let stack = KernelStack::new()?;
    let top = stack.top();
    let entry: Box<dyn FnOnce() + Send> = Box::new(f);
    let thread = Arc::new(Thread::new(
        name.into(),
        priority,
        affinity,
        Some(stack),
        user,
        Some(entry),
        false,
    ));
    let arg = Arc::as_ptr(&thread) as u64;
    // SAFETY: the stack is fresh and ours; `thread_entry` gets a pointer to
    // the thread, which the scheduler keeps alive while it runs.
    let sp = unsafe { switch::prepare_stack(top, thread_entry, arg) };
    // SAFETY: nobody runs or switches to the thread yet.
    unsafe { *thread.saved_rsp.get() = sp };
    Ok(thread)
}

/// Makes a thread from [`create`] runnable.
pub fn start(thread: Arc<Thread>) {
    enqueue(thread);
}

extern "C" fn thread_entry(thread: u64) -> ! {
    finish_switch();
    // SAFETY: `spawn` passed a pointer to the thread, alive while it runs.
    let thread = unsafe { &*(thread as *const Thread) };
    let entry = thread.entry.lock().take();
    interrupts::enable();
    if let Some(f) = entry {
        f();
    }
    exit_current()
}

/// Ends the calling thread. Joiners are woken; the stack is recycled once
/// the last reference to the thread is gone.
pub fn exit_current() -> ! {
    let me = current();
    interrupts::disable_save();
    me.set_state(State::Exited);
    me.exited.wake_all();
    drop(me);
    schedule();
    unreachable!("an exited thread was scheduled again");
}

/// Waits until `thread` has exited.
pub fn join(thread: &Thread) {
    thread.exited.wait_while(|| thread.state() != State::Exited);
}

/// Makes a Runnable thread run somewhere: picks a CPU and queues it there,
/// prodding that CPU (or an idle one) with an IPI.
fn enqueue(thread: Arc<Thread>) {
    let _irq = IrqOff::new();
    let ready = READY_CPUS.load(Ordering::Acquire);
    let loads: [usize; MAX_CPUS] = core::array::from_fn(|c| LOAD[c].load(Ordering::Relaxed));
    let cpu = policy::place(thread.affinity(), thread.last_cpu(), &loads[..ready])
        .or_else(|| thread.affinity().within(ready).first())
        .unwrap_or(0);
    let priority = thread.priority();
    let mut state = CPUS[cpu].lock();
    state.queue.push(thread, priority);
    QUEUED[cpu].fetch_add(1, Ordering::SeqCst);
    LOAD[cpu].fetch_add(1, Ordering::AcqRel);
    let current_priority = state.current.as_ref().map_or(u8::MAX, |t| t.priority());
    drop(state);
    if priority < current_priority || IDLE[cpu].load(Ordering::Acquire) {
        kick(cpu);
    }
}

/// Asks `cpu` to look at its run queue: its next preemption point (the
/// end of the IPI for another CPU) switches.
fn kick(cpu: usize) {
    NEED_RESCHED[cpu].store(true, Ordering::Release);
    // A polling CPU watches its queue counters (see `poll_for_work`).
    if cpu != me()
        && !POLLING[cpu].load(Ordering::SeqCst)
        && let Some(target) = percpu::cpu(cpu)
    {
        apic::send_ipi(target.apic_id, interrupts::RESCHED_VECTOR);
    }
}

/// Makes a blocked thread runnable if it is still in wait `generation`.
///
/// A thread woken right after it blocked may still be switching away on
/// its CPU: the waker waits until its context is saved (as Linux's
/// `try_to_wake_up` waits for `on_cpu`) before queueing it. So a queued
/// thread is never still on a CPU, and `schedule` never waits for the
/// thread it picked; before, two CPUs each picking the thread the other
/// was still switching away from waited for each other forever, interrupts
/// off (the `std_selftest_smp4` hang). The exception is the thread this
/// very CPU is running (an interrupt woke it between marking itself blocked
/// and switching): waiting for it here could never end.
pub fn wake(thread: &Arc<Thread>, generation: u32) -> bool {
    if !thread.unblock(generation) {
        return false;
    }
    if percpu::current_thread() != Arc::as_ptr(thread) as usize {
        while thread.on_cpu.load(Ordering::Acquire) {
            core::hint::spin_loop();
        }
    }
    enqueue(thread.clone());
    true
}

/// Makes `thread` notice a pending event (its silo is ending): a blocked
/// wait returns early, a thread running in ring 3 enters the kernel soon.
pub fn interrupt(thread: &Arc<Thread>) {
    thread.set_interrupted();
    wake(thread, thread.block_generation());
    if let Some(cpu) = thread.last_cpu()
        && cpu != me()
        && thread.state() == State::Running
        && let Some(target) = percpu::cpu(cpu)
    {
        apic::send_ipi(target.apic_id, interrupts::RESCHED_VECTOR);
    }
}

/// Gives the CPU to another runnable thread of the same or better priority.
pub fn yield_now() {
    schedule();
}

/// Sleeps until the clock (`tsc::now_ns`) reaches `deadline_ns` (or the
/// thread is interrupted).
pub fn sleep_until(deadline_ns: u64) {
    let _irq = IrqOff::new();
    let me_thread = current();
    if me_thread.is_interrupted() {
        return;
    }
    let generation = me_thread.begin_block();
    block_until(me_thread, generation, deadline_ns);
}

/// Marks the calling thread blocked and returns the generation a waker
/// must quote ([`wake`]). Follow with [`block`] once the thread is
/// registered wherever its waker will find it.
pub fn prepare_block(me: &Thread) -> u32 {
    me.begin_block()
}

/// Gives up the CPU after [`prepare_block`] until woken or `deadline_ns`.
pub fn block(me: Arc<Thread>, generation: u32, deadline_ns: Option<u64>) {
    match deadline_ns {
        Some(d) => block_until(me, generation, d),
        None => {
            drop(me);
            schedule();
        }
    }
}

/// Blocks `thread` (the caller, already marked blocked in `generation`)
/// until a wake-up or `deadline_ns`, whichever comes first.
pub(super) fn block_until(thread: Arc<Thread>, generation: u32, deadline_ns: u64) {
    let _irq = IrqOff::new();
    let cpu = me();
    let key = (deadline_ns, thread.id, generation);
    CPUS[cpu].lock().sleepers.insert(key, thread);
    schedule();
    // Woken by the timer (the entry is gone) or before the deadline (it is
    // still there, on the CPU this thread slept on): take it out.
    let entry = CPUS[cpu].lock().sleepers.remove(&key);
    drop(entry);
}

/// Sleeps for `ns` nanoseconds.
pub fn sleep_ns(ns: u64) {
    sleep_until(tsc::now_ns().saturating_add(ns));
}

/// A CPU worth stealing from, for the idle CPU `thief`.
fn steal_candidate(thief: usize) -> Option<usize> {
    let ready = READY_CPUS.load(Ordering::Acquire);
    let queued: [usize; MAX_CPUS] = core::array::from_fn(|c| QUEUED[c].load(Ordering::Relaxed));
    policy::steal_victim(thief, &queued[..ready])
}

fn steal(thief: usize) -> Option<Arc<Thread>> {
    let victim = steal_candidate(thief)?;
    let mut state = CPUS[victim].lock();
    // A CPU's own preempted thread sits in its queue until its context is
    // saved: leave it there rather than wait for it.
    let (thread, _) = state
        .queue
        .steal(|t| t.affinity().contains(thief) && !t.on_cpu.load(Ordering::Acquire))?;
    QUEUED[victim].fetch_sub(1, Ordering::AcqRel);
    LOAD[victim].fetch_sub(1, Ordering::AcqRel);
    Some(thread)
}

/// Picks the next thread for this CPU and switches to it. The caller has
/// set the current thread's state: Running = it stays runnable (yield,
/// preemption), Blocked/Exited = it leaves the CPU.
pub fn schedule() {
    let _irq = IrqOff::new();
    let cpu = me();
    let now = tsc::now_ns();
    let mut state = CPUS[cpu].lock();
    let prev = state
        .current
        .take()
        .expect("scheduler not running on this CPU");
    prev.add_cpu_time(now.saturating_sub(state.slice_start));
    let mut migrate = false;
    if !prev.is_idle {
        if prev.state() == State::Running && prev.affinity().contains(cpu) {
            prev.set_state(State::Runnable);
            state.queue.push(prev.clone(), prev.priority());
            QUEUED[cpu].fetch_add(1, Ordering::AcqRel);
        } else if prev.state() == State::Running {
            prev.set_state(State::Runnable);
            LOAD[cpu].fetch_sub(1, Ordering::AcqRel);
            migrate = true;
        } else {
            // Blocked or exited: no longer counted here. (A waker that
            // already made it Runnable counted it on its new CPU.)
            LOAD[cpu].fetch_sub(1, Ordering::AcqRel);
        }
    }
    let mut next = state.queue.pop().map(|(t, _)| {
        QUEUED[cpu].fetch_sub(1, Ordering::AcqRel);
        t
    });
    let idle = state.idle.clone().expect("CPU without idle thread");
    drop(state);
    if next.is_none() {
        next = steal(cpu).inspect(|_| {
            LOAD[cpu].fetch_add(1, Ordering::AcqRel);
        });
    }
    let next = next.unwrap_or(idle);
    let switching = !Arc::ptr_eq(&prev, &next);
    if switching {
        SWITCHES[cpu].fetch_add(1, Ordering::Relaxed);
        // The CPU that last ran `next` may still be saving its context.
        while next.on_cpu.load(Ordering::Acquire) {
            core::hint::spin_loop();
        }
        next.on_cpu.store(true, Ordering::Relaxed);
    }
    next.set_state(State::Running);
    next.last_cpu.store(cpu, Ordering::Relaxed);
    IDLE[cpu].store(next.is_idle, Ordering::Release);
    NEED_RESCHED[cpu].store(false, Ordering::Relaxed);

    let mut state = CPUS[cpu].lock();
    state.slice_start = now;
    state.current = Some(next.clone());
    percpu::set_current_thread(Arc::as_ptr(&next) as usize);
    arm_timer(&mut state, now, next.is_idle);
    if !switching {
        return;
    }
    let prev_rsp = prev.saved_rsp.get();
    // SAFETY: `on_cpu` of `next` was false, so its saved stack pointer is
    // complete; nothing else resumes it now that we set `on_cpu`.
    let next_rsp = unsafe { *next.saved_rsp.get() };
    crate::silo::switch_user_state(&prev, &next);
    if next.kstack_top != 0 {
        percpu::set_kernel_stack(next.kstack_top);
    }
    state.prev = Some(prev);
    state.migrate_prev = migrate;
    drop(state);
    drop(next);
    // SAFETY: interrupts are off; `next_rsp` is a saved context (see above)
    // and `prev_rsp` belongs to the thread running now, which stays alive
    // through `state.prev` until `finish_switch`.
    unsafe { switch::switch(prev_rsp, next_rsp) };
    finish_switch();
}

/// Completes a switch on the new thread's stack: the previous thread's
/// context is saved now, so other CPUs may resume it.
fn finish_switch() {
    let mut state = CPUS[me()].lock();
    let prev = state.prev.take();
    let migrate = core::mem::take(&mut state.migrate_prev);
    drop(state);
    if let Some(prev) = prev {
        prev.on_cpu.store(false, Ordering::Release);
        if migrate {
            enqueue(prev);
        }
    }
}

/// Programs the timer for the next event of this CPU: the end of the time
/// slice when something runs, and the earliest sleeper's deadline.
///
/// Programming the timer is a device access (costly in a VM), and most
/// switches would only push the deadline later: when an interrupt is
/// already due no later than the new deadline, it is left alone; its
/// handler re-evaluates and re-arms. An early interrupt costs less than a
/// timer write on every switch.
fn arm_timer(state: &mut CpuState, now: u64, idle: bool) {
    let slice_end = (!idle).then(|| now + policy::TIME_SLICE_NS);
    let sleeper = state.sleepers.first_key_value().map(|(k, _)| k.0);
    let target = slice_end.into_iter().chain(sleeper).min();
    let pending = state.timer_at.filter(|&at| at > now);
    match (target, pending) {
        (Some(at), Some(armed)) if armed <= at => {}
        (Some(at), _) => {
            apic::timer_arm(at);
            state.timer_at = Some(at);
        }
        // Nothing to wake for: a pending interrupt is harmless, leave it.
        (None, _) => {}
    }
}

/// Timer interrupt: wakes due sleepers, charges CPU time and decides on
/// preemption (acted upon in [`preempt_point`]).
pub fn on_timer_interrupt() {
    let cpu = me();
    let now = tsc::now_ns();
    let mut due = alloc::vec::Vec::new();
    let mut state = CPUS[cpu].lock();
    while let Some(entry) = state.sleepers.first_entry()
        && entry.key().0 <= now
    {
        let ((_, _, generation), thread) = entry.remove_entry();
        due.push((thread, generation));
    }
    drop(state);
    for (thread, generation) in due {
        wake(&thread, generation);
    }
    let mut state = CPUS[cpu].lock();
    // This interrupt was the programmed one (or an earlier one): nothing
    // is pending any more, whatever the clocks' rounding says.
    state.timer_at = None;
    if let Some(current) = state.current.clone() {
        let ran = now.saturating_sub(state.slice_start);
        let waiting = state.queue.best_priority();
        if current.is_idle && waiting.is_some()
            || policy::should_preempt(current.priority(), ran, waiting)
        {
            NEED_RESCHED[cpu].store(true, Ordering::Release);
        }
        arm_timer(&mut state, now, current.is_idle);
    }
}

/// CPU time of the calling thread, its current slice included.
pub fn current_cpu_time_ns() -> u64 {
    cpu_time_ns(&current())
}

/// CPU time of `thread`, its current slice included if it is on a CPU now:
/// `schedule` adds a slice only when the thread leaves the CPU, and a thread
/// running alone on its CPU may never leave, yet its clock must advance
/// (CPU-time deadlines are measured with it, also from other threads).
pub fn cpu_time_ns(thread: &Arc<Thread>) -> u64 {
    let _irq = IrqOff::new();
    if let Some(cpu) = thread.last_cpu() {
        let state = CPUS[cpu].lock();
        // `schedule` adds the slice and takes `current` under this lock, so
        // the sum below never counts a slice twice.
        if state
            .current
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, thread))
        {
            let running = tsc::now_ns().saturating_sub(state.slice_start);
            return thread.cpu_time_ns().saturating_add(running);
        }
    }
    thread.cpu_time_ns()
}

/// Called at the end of every interrupt: switches if a reschedule is due.
///
/// A thread between [`prepare_block`] and [`block`] (or inside
/// [`WaitQueue`](super::wait::WaitQueue)'s equivalent) is left alone: it
/// gives up the CPU in a moment anyway, and switching it out now, already
/// marked Blocked, would leave before `block` registers its deadline, so a
/// timed wait would wait for a wake-up only (the lost futex timeout behind
/// the `std_selftest_smp4` hang). The request stays pending for its switch.
pub fn preempt_point() {
    let cpu = me();
    if !NEED_RESCHED[cpu].load(Ordering::Acquire)
        || READY_CPUS.load(Ordering::Acquire) <= cpu
        || current_is_blocking()
    {
        return;
    }
    NEED_RESCHED[cpu].store(false, Ordering::Release);
    schedule();
}

/// The running thread has marked itself Blocked and not yet switched out.
fn current_is_blocking() -> bool {
    let ptr = percpu::current_thread() as *const Thread;
    // SAFETY: as in `current`: the running thread stays alive while it runs.
    !ptr.is_null() && unsafe { (*ptr).state() } == State::Blocked
}

/// CPU time of everything that ran on a CPU other than its idle thread is
/// on the threads; the idle threads' times tell how long each CPU slept.
pub fn idle_time_ns(cpu: usize) -> Option<u64> {
    let _irq = IrqOff::new();
    CPUS.get(cpu)?.lock().idle.as_ref().map(|t| t.cpu_time_ns())
}

/// Logs every CPU's scheduling state: for diagnosing a hang (the test
/// scenarios call it when something does not end in time).
pub fn log_state() {
    let _irq = IrqOff::new();
    let now = tsc::now_ns();
    for cpu in 0..READY_CPUS.load(Ordering::Acquire) {
        let state = CPUS[cpu].lock();
        let current = state.current.as_ref().map(|t| (t.id, t.name.clone()));
        let next_sleeper = state
            .sleepers
            .first_key_value()
            .map(|(&(deadline, id, _), _)| (id, deadline as i64 - now as i64));
        log::warn!(
            "cpu{cpu}: current {current:?}, {} queued (QUEUED {}, LOAD {}), {} sleepers (next {next_sleeper:?} ns), timer in {:?} ns, idle {} polling {} resched {}",
            state.queue.len(),
            QUEUED[cpu].load(Ordering::Relaxed),
            LOAD[cpu].load(Ordering::Relaxed),
            state.sleepers.len(),
            state.timer_at.map(|t| t as i64 - now as i64),
            IDLE[cpu].load(Ordering::Relaxed),
            POLLING[cpu].load(Ordering::Relaxed),
            NEED_RESCHED[cpu].load(Ordering::Relaxed),
        );
    }
}
