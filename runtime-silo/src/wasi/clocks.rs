//! Clocks: `realtime` is the host's wall clock; `monotonic` counts from the
//! creation of the silo's context (its epoch is unspecified by the spec, and
//! a per-silo origin does not leak host uptime).
//!
//! The CPU-time clocks (`process_cputime_id`, `thread_cputime_id`) are
//! optional in preview1; `std` has no portable CPU-time source and a host
//! process-wide figure would be meaningless for a silo, so they report
//! `notsup`. (wasmtime reports `badf` for them; `notsup` says what is meant.)

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::abi::{Clockid, Errno, WasiResult};

/// Resolution reported for the wall clock, in nanoseconds. std's clocks are
/// `clock_gettime`-based on Linux (nanosecond granularity); Bedrock's timer
/// is TSC-based. The spec only asks for an honest upper bound per tick.
const REALTIME_RESOLUTION_NS: u64 = 1_000;
/// Resolution reported for the monotonic clock, in nanoseconds.
const MONOTONIC_RESOLUTION_NS: u64 = 1;

/// Per-context clock state.
pub(crate) struct Clocks {
    /// Monotonic time 0.
    epoch: Instant,
}

impl Clocks {
    pub(crate) fn new() -> Self {
        Clocks {
            epoch: Instant::now(),
        }
    }

    pub(crate) fn resolution(id: Clockid) -> WasiResult<u64> {
        match id {
            Clockid::Realtime => Ok(REALTIME_RESOLUTION_NS),
            Clockid::Monotonic => Ok(MONOTONIC_RESOLUTION_NS),
            Clockid::ProcessCputime | Clockid::ThreadCputime => Err(Errno::Notsup),
        }
    }

    pub(crate) fn now(&self, id: Clockid) -> WasiResult<u64> {
        match id {
            Clockid::Realtime => Ok(realtime_now()),
            Clockid::Monotonic => Ok(duration_ns(self.epoch.elapsed())),
            Clockid::ProcessCputime | Clockid::ThreadCputime => Err(Errno::Notsup),
        }
    }

    /// The instant at which clock `id` reads `timeout` (absolute) or
    /// `timeout` from now (relative). `None` means "never" (beyond what
    /// `Instant` can represent).
    pub(crate) fn deadline(
        &self,
        id: Clockid,
        timeout: u64,
        absolute: bool,
    ) -> WasiResult<Option<Instant>> {
        let now = Instant::now();
        let wait = match (id, absolute) {
            (Clockid::Realtime | Clockid::Monotonic, false) => Duration::from_nanos(timeout),
            (Clockid::Monotonic, true) => {
                return Ok(self.epoch.checked_add(Duration::from_nanos(timeout)));
            }
            (Clockid::Realtime, true) => {
                Duration::from_nanos(timeout.saturating_sub(realtime_now()))
            }
            (Clockid::ProcessCputime | Clockid::ThreadCputime, _) => return Err(Errno::Notsup),
        };
        Ok(now.checked_add(wait))
    }
}

/// Nanoseconds since the Unix epoch (0 if the host clock is before it).
pub(crate) fn realtime_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, duration_ns)
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
