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

    /// Blocks the calling thread while `blocked()` is true. Returns false
    /// if the wait was cut short because the thread was interrupted.
    pub fn wait_while(&self, blocked: impl FnMut() -> bool) -> bool {
        self.wait_while_until(blocked, None)
    }

    /// Like [`Self::wait_while`], giving up at `deadline_ns` (then false).
    pub fn wait_while_until(
        &self,
        mut blocked: impl FnMut() -> bool,
        deadline_ns: Option<u64>,
    ) -> bool {
        loop {
            let mut waiters = self.waiters.lock();
            if !blocked() {
                return true;
            }
            let me = super::current();
            if me.is_interrupted()
                || deadline_ns.is_some_and(|d| crate::arch::x86_64::tsc::now_ns() >= d)
            {
                return false;
            }
            let generation = me.begin_block();
            waiters.push_back((me.clone(), generation));
            drop(waiters);
            match deadline_ns {
                Some(d) => super::scheduler::block_until(me.clone(), generation, d),
                None => super::schedule(),
            }
            // A waker pops the entry it wakes; after a timeout or an
            // interruption (the silo ending) it is still queued: take it
            // out, or a waiter polling with short timeouts would grow the
            // queue without bound, and the entry would pin the thread and
            // its silo (findings M2, H3).
            self.waiters
                .lock()
                .retain(|(t, g)| !(*g == generation && Arc::ptr_eq(t, &me)));
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
