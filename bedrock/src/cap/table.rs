//! A per-silo handle table: small integers that name capabilities.
//!
//! A handle is `index + 1` in the low 20 bits and a generation in the
//! next 11 bits, so a stale handle (its slot closed and reused) is refused
//! instead of naming somebody else's object, and 0 is never valid. Values
//! mean nothing outside their table: there is no global numbering for one
//! silo to guess another's handles from.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Handles in every table (`SysCounters`).
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Handles held in all handle tables together.
pub fn live_handles() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Most handles one table holds.
pub const MAX_HANDLES: usize = (1 << INDEX_BITS) - 1;
const INDEX_BITS: u32 = 20;
const GEN_BITS: u32 = 11;

/// A handle value as user space sees it.
pub type Handle = u32;

/// Why a handle was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableError {
    /// Not a live handle of this table.
    BadHandle(Handle),
    /// The table is full.
    Full,
}

struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

pub struct HandleTable<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    limit: usize,
    live: usize,
}

impl<T> Default for HandleTable<T> {
    fn default() -> Self {
        Self::new(MAX_HANDLES)
    }
}

impl<T> Drop for HandleTable<T> {
    fn drop(&mut self) {
        LIVE.fetch_sub(self.live, Ordering::Relaxed);
    }
}

impl<T> HandleTable<T> {
    /// A table holding at most `limit` (≤ [`MAX_HANDLES`]) handles.
    pub fn new(limit: usize) -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            limit: limit.min(MAX_HANDLES),
            live: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    fn encode(index: u32, generation: u32) -> Handle {
        (index + 1) | (generation << INDEX_BITS)
    }

    fn decode(&self, h: Handle) -> Option<usize> {
        let index = (h & ((1 << INDEX_BITS) - 1)).checked_sub(1)? as usize;
        let generation = (h >> INDEX_BITS) & ((1 << GEN_BITS) - 1);
        let slot = self.slots.get(index)?;
        (h >> (INDEX_BITS + GEN_BITS) == 0 && slot.generation == generation && slot.value.is_some())
            .then_some(index)
    }

    /// Stores `value` and returns its new handle.
    pub fn insert(&mut self, value: T) -> Result<Handle, TableError> {
        if self.live >= self.limit {
            return Err(TableError::Full);
        }
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    value: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.value = Some(value);
        self.live += 1;
        LIVE.fetch_add(1, Ordering::Relaxed);
        Ok(Self::encode(index, slot.generation))
    }

    pub fn get(&self, h: Handle) -> Result<&T, TableError> {
        let i = self.decode(h).ok_or(TableError::BadHandle(h))?;
        self.slots[i].value.as_ref().ok_or(TableError::BadHandle(h))
    }

    /// Removes the handle; its slot's generation moves on so the value
    /// cannot be reached through it again.
    pub fn remove(&mut self, h: Handle) -> Result<T, TableError> {
        let i = self.decode(h).ok_or(TableError::BadHandle(h))?;
        let slot = &mut self.slots[i];
        let value = slot.value.take().ok_or(TableError::BadHandle(h))?;
        slot.generation = (slot.generation + 1) & ((1 << GEN_BITS) - 1);
        self.free.push(i as u32);
        self.live -= 1;
        LIVE.fetch_sub(1, Ordering::Relaxed);
        Ok(value)
    }

    /// Removes every handle whose value fails `keep`.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        for i in 0..self.slots.len() {
            let drop_it = self.slots[i].value.as_ref().is_some_and(|v| !keep(v));
            if drop_it {
                let h = Self::encode(i as u32, self.slots[i].generation);
                let _ = self.remove(h);
            }
        }
    }

    /// Takes every value out (e.g. when the silo ends).
    pub fn drain(&mut self) -> Vec<T> {
        self.free.clear();
        LIVE.fetch_sub(self.live, Ordering::Relaxed);
        self.live = 0;
        let out = self
            .slots
            .iter_mut()
            .filter_map(|s| s.value.take())
            .collect();
        self.slots.clear();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_remove() {
        let mut t = HandleTable::new(8);
        let a = t.insert("a").unwrap();
        let b = t.insert("b").unwrap();
        assert_ne!(a, 0);
        assert_ne!(a, b);
        assert_eq!(t.get(a), Ok(&"a"));
        assert_eq!(t.remove(a), Ok("a"));
        assert_eq!(t.get(a), Err(TableError::BadHandle(a)));
        assert_eq!(t.remove(a), Err(TableError::BadHandle(a)));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn stale_handles_do_not_reach_reused_slots() {
        let mut t = HandleTable::new(8);
        let a = t.insert(1).unwrap();
        t.remove(a).unwrap();
        let c = t.insert(2).unwrap();
        assert_ne!(a, c, "same slot, new generation");
        assert_eq!(t.get(a), Err(TableError::BadHandle(a)));
        assert_eq!(t.get(c), Ok(&2));
    }

    #[test]
    fn garbage_handles_and_limits() {
        let mut t = HandleTable::new(2);
        for h in [0, 1, u32::MAX, 1 << 31, 0xfffff] {
            assert!(t.get(h).is_err());
        }
        let a = t.insert(1).unwrap();
        t.insert(2).unwrap();
        assert_eq!(t.insert(3), Err(TableError::Full));
        assert!(
            t.get(a | (1 << 31)).is_err(),
            "bits above the generation must be zero"
        );
        t.retain(|&v| v == 2);
        assert_eq!(t.len(), 1);
        assert_eq!(t.drain(), vec![2]);
        assert!(t.is_empty());
    }
}
