//! Notifications: a word of signal bits. Signalling ORs bits in and wakes
//! waiters; waiting returns the bits and clears them. Used for IRQs, timers
//! and event wake-ups, where a message would be too much.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::sched::wait::WaitQueue;

#[derive(Debug, Default)]
pub struct Notification {
    bits: AtomicU64,
    waiters: WaitQueue,
}

/// Why a wait ended without bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitError {
    TimedOut,
    Interrupted,
}

impl Notification {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn signal(&self, bits: u64) {
        if bits != 0 {
            self.bits.fetch_or(bits, Ordering::AcqRel);
            self.waiters.wake_all();
        }
    }

    /// Returns and clears the pending bits (0 if none).
    pub fn poll(&self) -> u64 {
        self.bits.swap(0, Ordering::AcqRel)
    }

    /// Waits until some bit is set (or `deadline_ns`), then returns and
    /// clears the bits.
    pub fn wait(&self, deadline_ns: Option<u64>) -> Result<u64, WaitError> {
        loop {
            let woken = self
                .waiters
                .wait_while_until(|| self.bits.load(Ordering::Acquire) == 0, deadline_ns);
            let bits = self.poll();
            if bits != 0 {
                return Ok(bits);
            }
            if !woken {
                return Err(if crate::sched::current().is_interrupted() {
                    WaitError::Interrupted
                } else {
                    WaitError::TimedOut
                });
            }
            // Another waiter took the bits first: wait again.
        }
    }
}
