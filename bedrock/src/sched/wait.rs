//! Wait queues: threads block until a condition holds and someone wakes
//! them. The condition is checked under the queue lock, so a wake-up
//! between the check and the block is never lost.

use alloc::collections::VecDeque;
use alloc::sync::Arc;

use super::thread::Thread;
use crate::sync::IrqSpin;

pub struct WaitQueue {
    /// Each waiter with the block generation a wake must quote.
    waiters: IrqSpin<VecDeque<(Arc<Thread>, u32)>>,
}

impl core::fmt::Debug for WaitQueue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "WaitQueue({} waiters)", self.waiters.lock().len())
    }
}

impl Default for WaitQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl WaitQueue {
    pub const fn new() -> Self {
        WaitQueue {
            waiters: IrqSpin::new(VecDeque::new()),
        }
    }

    /// Blocks the calling thread while `blocked()` is true.
    pub fn wait_while(&self, mut blocked: impl FnMut() -> bool) {
        loop {
            let mut waiters = self.waiters.lock();
            if !blocked() {
                return;
            }
            let me = super::current();
            let generation = me.begin_block();
            waiters.push_back((me, generation));
            drop(waiters);
            super::schedule();
        }
    }

    /// Wakes the longest waiter; true if one was woken.
    pub fn wake_one(&self) -> bool {
        let mut waiters = self.waiters.lock();
        while let Some((t, generation)) = waiters.pop_front() {
            if super::wake(&t, generation) {
                return true;
            }
        }
        false
    }

    /// Wakes every waiter; returns how many.
    pub fn wake_all(&self) -> usize {
        let waiters = core::mem::take(&mut *self.waiters.lock());
        waiters
            .into_iter()
            .filter(|(t, g)| super::wake(t, *g))
            .count()
    }
}
