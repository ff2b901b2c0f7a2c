//! `poll_oneoff`: waiting on clocks and descriptor readiness.
//!
//! Readiness model: the descriptors we have (stdio streams handed in by the
//! embedder, regular files) cannot be polled without blocking, so an
//! `fd_read`/`fd_write` subscription is reported ready at once, as the spec
//! prescribes for regular files ("this event always triggers for regular
//! files"). For a file being read, `nbytes` is what remains after the
//! current offset; where the amount is unknown (streams, writes) it is 0. A
//! descriptor that cannot be polled yields an event carrying its error
//! (`badf`, `notcapable`), as the `event.error` field is meant for.
//!
//! At most [`MAX_SUBSCRIPTIONS`] subscriptions are accepted per call
//! (`inval` beyond, as Linux's `poll` refuses more descriptors than a
//! process may have): the host memory a call uses is proportional to the
//! count, and is not counted by the silo's memory limit.
//!
//! Clock subscriptions really wait: when nothing is ready, the thread sleeps
//! until the earliest deadline (interruptibly, see [`InterruptHandle`]), then
//! reports every clock that has expired. `precision` is accepted and ignored
//! (the spec lets implementations wait longer, never shorter).

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Instant;

use super::WasiCtx;
use super::abi::{
    Clockid, EVENTTYPE_CLOCK, EVENTTYPE_FD_READ, EVENTTYPE_FD_WRITE, Errno, Rights, Subclockflags,
    WasiResult, layout,
};
use super::fd_table::{MAX_FDS, Object};
use super::memory::GuestMemory;

/// Most subscriptions one `poll_oneoff` call may pass: a read and a write
/// subscription for every descriptor a silo can have, and as many clocks
/// again.
pub const MAX_SUBSCRIPTIONS: u32 = 4 * MAX_FDS as u32;

/// Wakes a context out of a `poll_oneoff` sleep; see
/// [`WasiCtx::interrupt_handle`]. Once interrupted, a context stays
/// interrupted: every later sleep fails at once.
#[derive(Clone, Debug)]
pub struct InterruptHandle {
    state: Arc<(Mutex<bool>, Condvar)>,
}

impl InterruptHandle {
    pub(crate) fn new() -> Self {
        InterruptHandle {
            state: Arc::new((Mutex::new(false), Condvar::new())),
        }
    }

    /// Interrupts the context's current and future sleeps.
    pub fn interrupt(&self) {
        let (flag, wake) = &*self.state;
        *flag.lock().unwrap_or_else(PoisonError::into_inner) = true;
        wake.notify_all();
    }

    /// Sleeps until `deadline` (`None`: until interrupted).
    fn sleep_until(&self, deadline: Option<Instant>) -> Result<(), Interrupted> {
        let (flag, wake) = &*self.state;
        let mut interrupted = flag.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if *interrupted {
                return Err(Interrupted);
            }
            match deadline {
                None => {
                    interrupted = wake
                        .wait(interrupted)
                        .unwrap_or_else(PoisonError::into_inner)
                }
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Ok(());
                    }
                    interrupted = wake
                        .wait_timeout(interrupted, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        }
    }
}

/// The error a guest call ends with when its sleep was interrupted through
/// an [`InterruptHandle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WASI sleep interrupted by the host")
    }
}

impl std::error::Error for Interrupted {}

/// One `event` to write back.
struct Event {
    userdata: u64,
    error: Errno,
    kind: u8,
    nbytes: u64,
}

/// A parsed clock subscription still waiting.
struct Timer {
    index: u32,
    userdata: u64,
    /// `None`: never expires.
    deadline: Option<Instant>,
}

impl WasiCtx {
    /// `poll_oneoff(in, out, nsubscriptions) -> nevents`. Returns `Ok(Err)`
    /// for errno results and `Err` when the sleep was interrupted (a trap).
    pub(crate) fn poll_oneoff(
        &mut self,
        mem: &mut GuestMemory<'_>,
        subscriptions: u32,
        events_out: u32,
        count: u32,
        nevents_out: u32,
    ) -> Result<WasiResult<()>, Interrupted> {
        // Zero subscriptions would block forever: `inval`, as in wasmtime.
        // Too many would make the host allocate without bound (module doc).
        if count == 0 || count > MAX_SUBSCRIPTIONS {
            return Ok(Err(Errno::Inval));
        }
        if let Err(e) = mem
            .check_array(subscriptions, count, layout::SUBSCRIPTION_SIZE)
            .and_then(|()| mem.check_array(events_out, count, layout::EVENT_SIZE))
            .and_then(|()| mem.check(nevents_out, 4))
        {
            return Ok(Err(e));
        }

        // Room for every event up front (expired timers move to `ready`),
        // without aborting the process if the host is short of memory.
        let mut ready: Vec<(u32, Event)> = Vec::new();
        let mut timers: Vec<Timer> = Vec::new();
        let capacity = count as usize;
        if ready.try_reserve_exact(capacity).is_err() || timers.try_reserve_exact(capacity).is_err()
        {
            return Ok(Err(Errno::Nomem));
        }
        for index in 0..count {
            // In bounds: checked above, and index < count.
            let at = subscriptions + index * layout::SUBSCRIPTION_SIZE;
            match self.parse_subscription(mem, at) {
                Ok(Parsed::Ready(event)) => ready.push((index, event)),
                Ok(Parsed::Timer(userdata, deadline)) => timers.push(Timer {
                    index,
                    userdata,
                    deadline,
                }),
                Err(e) => return Ok(Err(e)),
            }
        }

        if ready.is_empty() && !timers.iter().any(|t| expired(t, Instant::now())) {
            let earliest = timers.iter().filter_map(|t| t.deadline).min();
            self.interrupt.sleep_until(earliest)?;
        }
        let now = Instant::now();
        for timer in timers.iter().filter(|t| expired(t, now)) {
            let event = Event {
                userdata: timer.userdata,
                error: Errno::Success,
                kind: EVENTTYPE_CLOCK,
                nbytes: 0,
            };
            ready.push((timer.index, event));
        }
        ready.sort_by_key(|(index, _)| *index);

        let result = (|| {
            for (slot, (_, event)) in (0u32..).zip(&ready) {
                write_event(mem, events_out + slot * layout::EVENT_SIZE, event)?;
            }
            // At most `count` events, which is a u32.
            mem.write_u32(nevents_out, ready.len() as u32)
        })();
        Ok(result)
    }

    fn parse_subscription(&mut self, mem: &GuestMemory<'_>, at: u32) -> WasiResult<Parsed> {
        let userdata = mem.read_u64(at + layout::SUBSCRIPTION_USERDATA)?;
        let tag = mem.read_u8(at + layout::SUBSCRIPTION_TAG)?;
        let failed = |kind, error| {
            Parsed::Ready(Event {
                userdata,
                error,
                kind,
                nbytes: 0,
            })
        };
        match tag {
            EVENTTYPE_CLOCK => {
                let id = mem.read_u32(at + layout::SUBSCRIPTION_CLOCK_ID)?;
                let timeout = mem.read_u64(at + layout::SUBSCRIPTION_CLOCK_TIMEOUT)?;
                let flags = mem.read_u16(at + layout::SUBSCRIPTION_CLOCK_FLAGS)?;
                let deadline = Subclockflags::from_bits(flags).and_then(|flags| {
                    let id = Clockid::from_raw(id)?;
                    self.clocks
                        .deadline(id, timeout, flags.contains(Subclockflags::ABSTIME))
                });
                Ok(match deadline {
                    Ok(deadline) => Parsed::Timer(userdata, deadline),
                    Err(error) => failed(EVENTTYPE_CLOCK, error),
                })
            }
            EVENTTYPE_FD_READ | EVENTTYPE_FD_WRITE => {
                let fd = mem.read_u32(at + layout::SUBSCRIPTION_FD)?;
                Ok(match self.fd_readiness(fd, tag == EVENTTYPE_FD_READ) {
                    Ok(nbytes) => Parsed::Ready(Event {
                        userdata,
                        error: Errno::Success,
                        kind: tag,
                        nbytes,
                    }),
                    Err(error) => failed(tag, error),
                })
            }
            _ => Err(Errno::Inval),
        }
    }

    /// Readiness of `fd` for reading or writing: the byte count to report.
    fn fd_readiness(&mut self, fd: u32, read: bool) -> WasiResult<u64> {
        let descriptor = self.fds.get_mut(fd)?;
        descriptor.require(Rights::POLL_FD_READWRITE)?;
        match (&mut descriptor.object, read) {
            (Object::Stdin(_), true) | (Object::Stdout(_), false) => Ok(0),
            (Object::File(file), true) => {
                let size = file.handle.metadata()?.size;
                Ok(size.saturating_sub(file.position))
            }
            (Object::File(_), false) => Ok(0),
            _ => Err(Errno::Badf),
        }
    }
}

enum Parsed {
    Ready(Event),
    Timer(u64, Option<Instant>),
}

fn expired(timer: &Timer, now: Instant) -> bool {
    timer.deadline.is_some_and(|d| d <= now)
}

fn write_event(mem: &mut GuestMemory<'_>, at: u32, event: &Event) -> WasiResult<()> {
    let mut bytes = [0u8; layout::EVENT_SIZE as usize];
    let field = |offset: u32| offset as usize;
    bytes[field(layout::EVENT_USERDATA)..][..8].copy_from_slice(&event.userdata.to_le_bytes());
    bytes[field(layout::EVENT_ERROR)..][..2].copy_from_slice(&event.error.raw().to_le_bytes());
    bytes[field(layout::EVENT_TYPE)] = event.kind;
    if event.kind != EVENTTYPE_CLOCK {
        bytes[field(layout::EVENT_NBYTES)..][..8].copy_from_slice(&event.nbytes.to_le_bytes());
        // No descriptor we have can be hung up: `fd_readwrite.flags` is 0.
        bytes[field(layout::EVENT_FLAGS)..][..2].copy_from_slice(&0u16.to_le_bytes());
    }
    mem.write_bytes(at, &bytes)
}
