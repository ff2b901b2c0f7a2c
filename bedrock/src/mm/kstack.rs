//! Kernel stacks for threads, recycled through a cache: a freed stack keeps
//! its mapping and frames and is handed to the next thread, so thread
//! churn costs no page-table edits and no TLB shootdowns.

use alloc::vec::Vec;

use super::kernel_space::alloc_kernel_stack;
use super::paging::MapError;
use crate::sync::IrqSpin;

/// Size of every thread's kernel stack.
pub const THREAD_STACK_SIZE: u64 = 64 * 1024;

static CACHE: IrqSpin<Vec<u64>> = IrqSpin::new(Vec::new());

/// A thread's kernel stack (its top address). Returned to the cache on drop.
#[derive(Debug)]
pub struct KernelStack {
    top: u64,
}

/// Bytes of stacks kept in the cache for reuse (`SysCounters`).
pub fn cached_bytes() -> u64 {
    CACHE.lock().len() as u64 * THREAD_STACK_SIZE
}

impl KernelStack {
    pub fn new() -> Result<Self, MapError> {
        if let Some(top) = CACHE.lock().pop() {
            return Ok(Self { top });
        }
        Ok(Self {
            top: alloc_kernel_stack(THREAD_STACK_SIZE)?,
        })
    }

    pub fn top(&self) -> u64 {
        self.top
    }
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        let mut cache = CACHE.lock();
        // Reserve outside the lock-free path would allocate under the IRQ
        // lock; a push that must grow is rare and bounded by thread count.
        cache.push(self.top);
    }
}
