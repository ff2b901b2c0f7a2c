//! The per-store epoch callback: where kill requests and time limits take
//! effect, and where a running silo's CPU time is sampled.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::UpdateDeadline;

use super::record::SiloRecord;
use super::status::{Deadline, ExitStatus};
use crate::platform;

/// Why the watchdog stopped a silo; raised as the error of the wasm call and
/// recognised by the runner.
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

impl fmt::Display for Interruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.status(), f)
    }
}

impl std::error::Error for Interruption {}

/// Runs on the silo's own thread once per epoch tick.
pub(crate) struct Watchdog {
    record: Arc<SiloRecord>,
    cpu_at_start: Duration,
    cpu_time: Option<Duration>,
}

impl Watchdog {
    /// Starts the clocks of the time limits now; must be created on the
    /// silo's thread (CPU time is per thread).
    pub(crate) fn new(
        record: Arc<SiloRecord>,
        wall_time: Option<Duration>,
        cpu_time: Option<Duration>,
    ) -> Self {
        if let Some(limit) = wall_time {
            record.start_wall_clock(limit);
        }
        Self {
            record,
            cpu_at_start: platform::thread_cpu_time(),
            cpu_time,
        }
    }

    /// The decision for one tick: keep going until the next one, or stop.
    pub(crate) fn check(&self) -> Result<(), Interruption> {
        let cpu = platform::thread_cpu_time();
        self.record.set_cpu_time(cpu);
        if let Some(interruption) = self.record.interruption(Instant::now()) {
            return Err(interruption);
        }
        if let Some(limit) = self.cpu_time
            && cpu.saturating_sub(self.cpu_at_start) >= limit
        {
            return Err(Interruption::Deadline(Deadline::Cpu(limit)));
        }
        Ok(())
    }

    /// Installs this watchdog as `store`'s epoch callback, first run one
    /// tick from now.
    pub(crate) fn install<T: 'static>(self, store: &mut wasmtime::Store<T>) {
        store.epoch_deadline_callback(move |_| match self.check() {
            Ok(()) => Ok(UpdateDeadline::Continue(1)),
            Err(interruption) => Err(wasmtime::Error::new(interruption)),
        });
        store.set_epoch_deadline(1);
    }
}
