//! What the manager knows about one silo, shared with the silo's thread, and
//! where its kill switch and time limits take effect.
//!
//! The silo's thread is the only writer of the phase and of the memory
//! figure; the manager reads them, raises the kill flag, and on every tick
//! samples the silo thread's CPU clock ([`SiloRecord::sweep`]). Stopping a
//! silo advances the epoch of its own engine: its wasm code traps at the
//! next loop header or function entry (see [`crate::engine`]).

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use wasmtime::Engine;

use super::logs::{LogBuffer, Logs};
use super::status::{Deadline, ExitStatus};
use crate::platform::ThreadClock;
use crate::wasi::InterruptHandle;

/// Why a silo was stopped from outside its own code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interruption {
    Killed,
    Deadline(Deadline),
}

impl Interruption {
    pub(crate) fn status(self) -> ExitStatus {
        match self {
            Self::Killed => ExitStatus::Killed,
            Self::Deadline(deadline) => ExitStatus::DeadlineExceeded(deadline),
        }
    }
}

/// Identifies a silo within its manager; never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SiloId(pub u64);

impl fmt::Display for SiloId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for SiloId {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Self)
    }
}

/// Where a silo is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiloState {
    /// Being read, compiled or instantiated.
    Starting,
    /// Executing wasm (or blocked in a host call).
    Running,
    /// Ended; its store and memory are gone.
    Finished(ExitStatus),
}

impl SiloState {
    /// `starting`, `running` or `finished`.
    pub fn tag(&self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Finished(_) => "finished",
        }
    }
}

/// A snapshot of one silo, as returned by [`Manager::list`](super::Manager::list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiloInfo {
    /// Its id.
    pub id: SiloId,
    /// The name it was deployed with.
    pub name: String,
    /// Its phase, with the exit status once finished.
    pub state: SiloState,
    /// Bytes of linear memory it holds now (0 once finished).
    pub memory_bytes: u64,
    /// CPU time of its thread (compilation included), sampled every tick
    /// while it runs and exactly at the end.
    pub cpu_time: Duration,
}

pub(crate) struct SiloRecord {
    pub(crate) id: SiloId,
    pub(crate) name: String,
    kill: AtomicBool,
    /// The wall-clock limit and when it expires, once the silo runs.
    wall_deadline: OnceLock<(Duration, Instant)>,
    /// The CPU-time limit and the thread's CPU time when it started.
    cpu_limit: OnceLock<(Duration, Duration)>,
    /// The silo thread's CPU clock, until the silo finishes.
    clock: Mutex<Option<ThreadClock>>,
    /// The silo's own engine while its store exists: advancing its epoch
    /// stops the silo's wasm code.
    engine: Mutex<Option<Engine>>,
    /// Wakes the silo out of a blocking WASI sleep, while it has one.
    interrupt: Mutex<Option<InterruptHandle>>,
    /// Linear memory bytes; written by the silo's limiter.
    pub(crate) memory_bytes: Arc<AtomicU64>,
    cpu_time_nanos: AtomicU64,
    state: Mutex<SiloState>,
    finished: Condvar,
    pub(crate) stdout: LogBuffer,
    pub(crate) stderr: LogBuffer,
}

impl SiloRecord {
    pub(crate) fn new(id: SiloId, name: String, log_capacity: usize) -> Self {
        Self {
            id,
            name,
            kill: AtomicBool::new(false),
            wall_deadline: OnceLock::new(),
            cpu_limit: OnceLock::new(),
            clock: Mutex::new(None),
            engine: Mutex::new(None),
            interrupt: Mutex::new(None),
            memory_bytes: Arc::default(),
            cpu_time_nanos: AtomicU64::new(0),
            state: Mutex::new(SiloState::Starting),
            finished: Condvar::new(),
            stdout: LogBuffer::new(log_capacity),
            stderr: LogBuffer::new(log_capacity),
        }
    }

    fn state(&self) -> MutexGuard<'_, SiloState> {
        lock(&self.state)
    }

    pub(crate) fn request_kill(&self) {
        self.kill.store(true, Ordering::Relaxed);
        self.stop();
    }

    pub(crate) fn kill_requested(&self) -> bool {
        self.kill.load(Ordering::Relaxed)
    }

    /// Starts sampling the calling thread's CPU clock: the silo's thread
    /// calls this first thing.
    pub(crate) fn attach_clock(&self) {
        *lock(&self.clock) = Some(ThreadClock::current());
    }

    /// Samples the silo thread's CPU clock (the figure only grows).
    pub(crate) fn sample_cpu_time(&self) -> Duration {
        let sample = lock(&self.clock).as_ref().and_then(ThreadClock::cpu_time);
        if let Some(cpu) = sample {
            let nanos = u64::try_from(cpu.as_nanos()).unwrap_or(u64::MAX);
            self.cpu_time_nanos.fetch_max(nanos, Ordering::Relaxed);
        }
        Duration::from_nanos(self.cpu_time_nanos.load(Ordering::Relaxed))
    }

    /// Starts the time limits now (the first call wins).
    pub(crate) fn start_limits(&self, wall_time: Option<Duration>, cpu_time: Option<Duration>) {
        let now = Instant::now();
        // A limit past the end of representable time never expires.
        if let Some(limit) = wall_time
            && let Some(deadline) = now.checked_add(limit)
        {
            let _ = self.wall_deadline.set((limit, deadline));
        }
        if let Some(limit) = cpu_time {
            let _ = self.cpu_limit.set((limit, self.sample_cpu_time()));
        }
    }

    /// Hands the silo's engine to the kill switch and the limits; the silo's
    /// store must already have its epoch deadline set, so that a stop from
    /// here on lands.
    pub(crate) fn arm(&self, engine: &Engine) {
        *lock(&self.engine) = Some(engine.clone());
        // A kill or deadline that came before the engine must still land.
        if self.interruption(Instant::now()).is_some() {
            self.stop();
        }
    }

    /// Lets [`SiloRecord::request_kill`] and [`SiloRecord::sweep`] wake the
    /// silo out of blocking WASI sleeps, which epoch interruption cannot
    /// reach (it only acts while wasm code runs).
    pub(crate) fn attach_interrupt(&self, handle: InterruptHandle) {
        *lock(&self.interrupt) = Some(handle);
        // A kill that came before the handle must still land.
        if self.kill_requested() {
            self.wake();
        }
    }

    fn wake(&self) {
        if let Some(handle) = &*lock(&self.interrupt) {
            handle.interrupt();
        }
    }

    /// Stops the silo wherever it is: in wasm code (its engine's epoch
    /// passes its store's deadline) or asleep in a host call.
    fn stop(&self) {
        if let Some(engine) = &*lock(&self.engine) {
            engine.increment_epoch();
        }
        self.wake();
    }

    /// Whether the silo must stop now, and why (CPU time as last sampled).
    pub(crate) fn interruption(&self, now: Instant) -> Option<Interruption> {
        if self.kill_requested() {
            return Some(Interruption::Killed);
        }
        if let Some(&(limit, deadline)) = self.wall_deadline.get()
            && now >= deadline
        {
            return Some(Interruption::Deadline(Deadline::Wall(limit)));
        }
        let &(limit, start) = self.cpu_limit.get()?;
        let used = Duration::from_nanos(self.cpu_time_nanos.load(Ordering::Relaxed));
        (used.saturating_sub(start) >= limit)
            .then_some(Interruption::Deadline(Deadline::Cpu(limit)))
    }

    /// Called by the manager's timer on every tick: samples the CPU clock
    /// and stops a silo past one of its limits.
    pub(crate) fn sweep(&self, now: Instant) {
        if self.exit_status().is_some() {
            return;
        }
        self.sample_cpu_time();
        if self.interruption(now).is_some() {
            self.stop();
        }
    }

    pub(crate) fn set_running(&self) {
        let mut state = self.state();
        if matches!(*state, SiloState::Starting) {
            *state = SiloState::Running;
        }
    }

    /// Records the exit status (first one wins) and wakes every waiter.
    pub(crate) fn finish(&self, status: ExitStatus) {
        lock(&self.interrupt).take();
        self.sample_cpu_time();
        lock(&self.clock).take();
        lock(&self.engine).take();
        let mut state = self.state();
        if !matches!(*state, SiloState::Finished(_)) {
            *state = SiloState::Finished(status);
        }
        self.finished.notify_all();
    }

    pub(crate) fn exit_status(&self) -> Option<ExitStatus> {
        match &*self.state() {
            SiloState::Finished(status) => Some(status.clone()),
            _ => None,
        }
    }

    /// Blocks until the silo has finished.
    pub(crate) fn wait(&self) -> ExitStatus {
        let mut state = self.state();
        loop {
            if let SiloState::Finished(status) = &*state {
                return status.clone();
            }
            state = self
                .finished
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Blocks until the silo has finished or `timeout` has passed.
    pub(crate) fn wait_timeout(&self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now().checked_add(timeout);
        let mut state = self.state();
        loop {
            if let SiloState::Finished(status) = &*state {
                return Some(status.clone());
            }
            let left = match deadline {
                Some(deadline) => deadline.checked_duration_since(Instant::now())?,
                // A timeout past the end of time: wait for the end.
                None => Duration::MAX,
            };
            state = self
                .finished
                .wait_timeout(state, left)
                .map(|(state, _)| state)
                .unwrap_or_else(|poisoned| poisoned.into_inner().0);
        }
    }

    pub(crate) fn info(&self) -> SiloInfo {
        SiloInfo {
            id: self.id,
            name: self.name.clone(),
            state: self.state().clone(),
            memory_bytes: self.memory_bytes.load(Ordering::Relaxed),
            cpu_time: Duration::from_nanos(self.cpu_time_nanos.load(Ordering::Relaxed)),
        }
    }

    pub(crate) fn logs(&self) -> Logs {
        Logs {
            stdout: self.stdout.snapshot(),
            stderr: self.stderr.snapshot(),
        }
    }
}

/// Every value behind a lock here is replaced by single assignments, never
/// left half-updated, so a poisoned lock is safe to reuse.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
