//! What the manager knows about one silo, shared with the silo's thread.
//!
//! The silo's thread is the only writer of the phase and of the usage
//! figures; the manager only reads them and raises the kill flag.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use super::logs::{LogBuffer, Logs};
use super::status::{Deadline, ExitStatus};
use super::watchdog::Interruption;
use crate::wasi::InterruptHandle;

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
    /// CPU time of its thread (compilation included), sampled every epoch
    /// tick while it runs and exactly at the end.
    pub cpu_time: Duration,
}

pub(crate) struct SiloRecord {
    pub(crate) id: SiloId,
    pub(crate) name: String,
    kill: AtomicBool,
    /// The wall-clock limit and when it expires, once the silo runs.
    wall_deadline: OnceLock<(Duration, Instant)>,
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
        self.wake();
    }

    pub(crate) fn kill_requested(&self) -> bool {
        self.kill.load(Ordering::Relaxed)
    }

    /// Starts the wall-clock limit now (the first call wins).
    pub(crate) fn start_wall_clock(&self, limit: Duration) {
        let now = Instant::now();
        // A limit past the end of representable time never expires.
        if let Some(deadline) = now.checked_add(limit) {
            let _ = self.wall_deadline.set((limit, deadline));
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

    /// Whether the silo must stop now, and why.
    pub(crate) fn interruption(&self, now: Instant) -> Option<Interruption> {
        if self.kill_requested() {
            return Some(Interruption::Killed);
        }
        let &(limit, deadline) = self.wall_deadline.get()?;
        (now >= deadline).then_some(Interruption::Deadline(Deadline::Wall(limit)))
    }

    /// Called by the epoch timer on every tick: wakes a silo sleeping past
    /// its deadline so that the deadline lands.
    pub(crate) fn sweep(&self, now: Instant) {
        if self.interruption(now).is_some() {
            self.wake();
        }
    }

    pub(crate) fn set_cpu_time(&self, cpu: Duration) {
        let nanos = u64::try_from(cpu.as_nanos()).unwrap_or(u64::MAX);
        self.cpu_time_nanos.store(nanos, Ordering::Relaxed);
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
