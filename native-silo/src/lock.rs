//! The libOS's own lock (heap, descriptor table, thread records): a futex
//! mutex — unlocked 0, locked 1, locked with waiters 2 — that spins a
//! little before sleeping in the kernel, so a holder preempted mid-section
//! costs waiters a sleep, not a time slice of spinning.

use core::sync::atomic::{AtomicU32, Ordering};

use bedrock_abi::Syscall;
use bedrock_abi::user::syscall;

pub struct FutexRawMutex {
    state: AtomicU32,
}

/// A mutex over [`FutexRawMutex`].
pub type Mutex<T> = lock_api::Mutex<FutexRawMutex, T>;

const SPINS: u32 = 100;

// SAFETY: `lock` returns only once this thread moved the state from 0, and
// `unlock` (called by the holder) sets it back to 0; the futex only parks.
unsafe impl lock_api::RawMutex for FutexRawMutex {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = Self {
        state: AtomicU32::new(0),
    };
    type GuardMarker = lock_api::GuardNoSend;

    fn lock(&self) {
        if self.try_lock() {
            return;
        }
        for _ in 0..SPINS {
            core::hint::spin_loop();
            if self.state.load(Ordering::Relaxed) == 0 && self.try_lock() {
                return;
            }
        }
        while self.state.swap(2, Ordering::Acquire) != 0 {
            // SAFETY: the address is valid and 4-aligned; the kernel only
            // reads it. Errors (value changed, woken) all mean: try again.
            let _ = unsafe {
                syscall(
                    Syscall::FutexWait,
                    &[self.state.as_ptr() as usize, 2, u64::MAX as usize],
                )
            };
        }
    }

    fn try_lock(&self) -> bool {
        self.state
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    unsafe fn unlock(&self) {
        if self.state.swap(0, Ordering::Release) == 2 {
            // SAFETY: as above; waking has no memory effects.
            let _ = unsafe { syscall(Syscall::FutexWake, &[self.state.as_ptr() as usize, 1]) };
        }
    }
}
