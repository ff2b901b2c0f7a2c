//! Kernel locks.
//!
//! [`IrqSpin`] is a spinlock that keeps interrupts off on this CPU while it
//! is held: an interrupt handler that wants the same lock can then never
//! spin on the very CPU that holds it, and a holder is never preempted.
//! Every lock an interrupt handler or the scheduler takes is an `IrqSpin`.

use core::ops::{Deref, DerefMut};

use crate::arch::x86_64::interrupts;

pub struct IrqSpin<T> {
    inner: spin::Mutex<T>,
}

pub struct IrqSpinGuard<'a, T> {
    guard: core::mem::ManuallyDrop<spin::MutexGuard<'a, T>>,
    were_enabled: bool,
}

impl<T> IrqSpin<T> {
    pub const fn new(value: T) -> Self {
        Self {
            inner: spin::Mutex::new(value),
        }
    }

    pub fn lock(&self) -> IrqSpinGuard<'_, T> {
        let were_enabled = interrupts::disable_save();
        IrqSpinGuard {
            guard: core::mem::ManuallyDrop::new(self.inner.lock()),
            were_enabled,
        }
    }
}

impl<T: Default> Default for IrqSpin<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> core::fmt::Debug for IrqSpin<T> {
    /// Does not take the lock (a `Debug` print must never deadlock).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("IrqSpin { .. }")
    }
}

impl<T> Deref for IrqSpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for IrqSpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> Drop for IrqSpinGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the guard is dropped exactly once, here, before
        // interrupts come back on.
        unsafe { core::mem::ManuallyDrop::drop(&mut self.guard) };
        interrupts::restore(self.were_enabled);
    }
}

/// The same discipline as a `lock_api` raw mutex, for allocators that take
/// one (the kernel heap): interrupts stay off while the heap lock is held.
pub struct IrqRawSpin {
    lock: spin::Mutex<()>,
    were_enabled: core::sync::atomic::AtomicBool,
}

// SAFETY: mutual exclusion comes from the inner spin mutex; interrupts are
// off on the holding CPU from lock to unlock.
unsafe impl lock_api::RawMutex for IrqRawSpin {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = IrqRawSpin {
        lock: spin::Mutex::new(()),
        were_enabled: core::sync::atomic::AtomicBool::new(false),
    };
    type GuardMarker = lock_api::GuardNoSend;

    fn lock(&self) {
        let were = interrupts::disable_save();
        core::mem::forget(self.lock.lock());
        self.were_enabled
            .store(were, core::sync::atomic::Ordering::Relaxed);
    }

    fn try_lock(&self) -> bool {
        let were = interrupts::disable_save();
        match self.lock.try_lock() {
            Some(g) => {
                core::mem::forget(g);
                self.were_enabled
                    .store(were, core::sync::atomic::Ordering::Relaxed);
                true
            }
            None => {
                interrupts::restore(were);
                false
            }
        }
    }

    unsafe fn unlock(&self) {
        let were = self
            .were_enabled
            .load(core::sync::atomic::Ordering::Relaxed);
        // SAFETY: the caller holds the lock (lock_api contract).
        unsafe { self.lock.force_unlock() };
        interrupts::restore(were);
    }
}
