//! Memory and table limits of one silo, and the accounting that makes its
//! memory use visible from outside.
//!
//! The limiter lives in the silo's `Store`, so it is dropped exactly when the
//! store and its memories are: its [`Drop`] gives the silo's bytes back to the
//! manager-wide gauge, which therefore measures the linear memory of live
//! stores only.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::ResourceLimiter;

use super::request::Limits;
use super::status::{LimitExceeded, Resource};

/// A byte counter shared between a silo and the manager: the silo's own
/// figure plus the manager-wide total it contributes to.
#[derive(Debug)]
pub(crate) struct MemoryGauge {
    silo: Arc<AtomicU64>,
    total: Arc<AtomicU64>,
    charged: u64,
}

impl MemoryGauge {
    pub(crate) fn new(silo: Arc<AtomicU64>, total: Arc<AtomicU64>) -> Self {
        Self {
            silo,
            total,
            charged: 0,
        }
    }

    fn charge(&mut self, bytes: u64) {
        self.charged = self.charged.saturating_add(bytes);
        self.silo.fetch_add(bytes, Ordering::Relaxed);
        self.total.fetch_add(bytes, Ordering::Relaxed);
    }

    fn refund(&mut self, bytes: u64) {
        let bytes = bytes.min(self.charged);
        self.charged -= bytes;
        self.silo.fetch_sub(bytes, Ordering::Relaxed);
        self.total.fetch_sub(bytes, Ordering::Relaxed);
    }
}

impl Drop for MemoryGauge {
    fn drop(&mut self) {
        self.refund(self.charged);
    }
}

/// The [`ResourceLimiter`] of one silo.
///
/// Growth is charged when approved. A growth that wasmtime then fails is
/// refunded only when the failure is an OS allocation error (the one failure
/// possible after approval, since maxima are checked here first); any other
/// failure report may not belong to the last approval, and refunding it would
/// let a guest undercount itself past its limit. Erring on the side of
/// overcounting can only make the limit hit earlier.
#[derive(Debug)]
pub(crate) struct SiloLimiter {
    limits: Limits,
    memory: MemoryGauge,
    pending_memory: u64,
    table_elements: u64,
    pending_table: u64,
    refused: Option<LimitExceeded>,
}

impl SiloLimiter {
    pub(crate) fn new(limits: Limits, memory: MemoryGauge) -> Self {
        Self {
            limits,
            memory,
            pending_memory: 0,
            table_elements: 0,
            pending_table: 0,
            refused: None,
        }
    }

    /// The first growth refused because of this silo's limits, if any.
    pub(crate) fn refused(&self) -> Option<LimitExceeded> {
        self.refused
    }

    fn refuse(&mut self, resource: Resource, limit: u64, requested: u64) -> bool {
        self.refused.get_or_insert(LimitExceeded {
            resource,
            limit,
            requested,
        });
        false
    }
}

/// Bytes or elements a growth from `current` to `desired` adds.
fn growth(current: usize, desired: usize) -> u64 {
    u64::try_from(desired.saturating_sub(current)).unwrap_or(u64::MAX)
}

fn exceeds_maximum(desired: usize, maximum: Option<usize>) -> bool {
    maximum.is_some_and(|max| desired > max)
}

impl ResourceLimiter for SiloLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.pending_memory = 0;
        if exceeds_maximum(desired, maximum) {
            // The memory's own declared maximum: not a limit of ours, and
            // wasmtime would refuse it after us anyway.
            return Ok(false);
        }
        let delta = growth(current, desired);
        let requested = self.memory.charged.saturating_add(delta);
        if requested > self.limits.memory_bytes {
            return Ok(self.refuse(Resource::Memory, self.limits.memory_bytes, requested));
        }
        self.memory.charge(delta);
        self.pending_memory = delta;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        if error.is::<std::io::Error>() {
            self.memory.refund(std::mem::take(&mut self.pending_memory));
        }
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.pending_table = 0;
        if exceeds_maximum(desired, maximum) {
            return Ok(false);
        }
        let delta = growth(current, desired);
        let requested = self.table_elements.saturating_add(delta);
        if requested > self.limits.table_elements {
            return Ok(self.refuse(
                Resource::TableElements,
                self.limits.table_elements,
                requested,
            ));
        }
        self.table_elements = requested;
        self.pending_table = delta;
        Ok(true)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        if error.is::<std::io::Error>() {
            self.table_elements -= std::mem::take(&mut self.pending_table).min(self.table_elements);
        }
        Ok(())
    }

    fn instances(&self) -> usize {
        self.limits.instances
    }

    fn tables(&self) -> usize {
        self.limits.tables
    }

    fn memories(&self) -> usize {
        self.limits.memories
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: usize = 65536;

    fn limiter(memory_bytes: u64) -> (SiloLimiter, Arc<AtomicU64>, Arc<AtomicU64>) {
        let silo = Arc::new(AtomicU64::new(0));
        let total = Arc::new(AtomicU64::new(0));
        let limits = Limits {
            memory_bytes,
            table_elements: 10,
            ..Limits::default()
        };
        let gauge = MemoryGauge::new(silo.clone(), total.clone());
        (SiloLimiter::new(limits, gauge), silo, total)
    }

    #[test]
    fn charges_approved_growth_and_refunds_on_drop() {
        let (mut l, silo, total) = limiter(4 * PAGE as u64);
        assert!(l.memory_growing(0, PAGE, None).unwrap());
        assert!(l.memory_growing(PAGE, 3 * PAGE, None).unwrap());
        assert_eq!(silo.load(Ordering::Relaxed), 3 * PAGE as u64);
        assert_eq!(total.load(Ordering::Relaxed), 3 * PAGE as u64);
        drop(l);
        assert_eq!(silo.load(Ordering::Relaxed), 0);
        assert_eq!(total.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn refuses_past_the_limit_and_remembers_the_first_refusal() {
        let (mut l, silo, _) = limiter(2 * PAGE as u64);
        assert!(l.memory_growing(0, PAGE, None).unwrap());
        assert!(!l.memory_growing(PAGE, 3 * PAGE, None).unwrap());
        assert!(!l.memory_growing(PAGE, 5 * PAGE, None).unwrap());
        assert_eq!(silo.load(Ordering::Relaxed), PAGE as u64);
        assert_eq!(
            l.refused(),
            Some(LimitExceeded {
                resource: Resource::Memory,
                limit: 2 * PAGE as u64,
                requested: 3 * PAGE as u64
            })
        );
    }

    #[test]
    fn a_declared_maximum_is_not_a_limit_hit() {
        let (mut l, _, _) = limiter(u64::MAX);
        assert!(!l.memory_growing(PAGE, 2 * PAGE, Some(PAGE)).unwrap());
        assert_eq!(l.refused(), None);
    }

    #[test]
    fn only_os_allocation_failures_are_refunded() {
        let (mut l, silo, _) = limiter(u64::MAX);
        assert!(l.memory_growing(0, PAGE, None).unwrap());
        // A failure report that did not follow an approval (e.g. a growth past
        // what the memory type can represent) must not refund the last growth.
        l.memory_grow_failed(wasmtime::format_err!(
            "memory growth exceeds memory type's limits"
        ))
        .unwrap();
        assert_eq!(silo.load(Ordering::Relaxed), PAGE as u64);
        assert!(l.memory_growing(PAGE, 2 * PAGE, None).unwrap());
        l.memory_grow_failed(wasmtime::Error::new(std::io::Error::other("mmap")))
            .unwrap();
        assert_eq!(silo.load(Ordering::Relaxed), PAGE as u64);
    }

    #[test]
    fn table_elements_are_limited() {
        let (mut l, _, _) = limiter(u64::MAX);
        assert!(l.table_growing(0, 8, None).unwrap());
        assert!(!l.table_growing(8, 11, None).unwrap());
        assert_eq!(
            l.refused(),
            Some(LimitExceeded {
                resource: Resource::TableElements,
                limit: 10,
                requested: 11
            })
        );
    }
}
