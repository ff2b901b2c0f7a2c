//! A per-CPU run queue: one FIFO per priority level and a bitmap of the
//! non-empty levels, so picking the next thread is O(1).
//!
//! Priority 0 is the highest. Within a level threads run round-robin.

use alloc::collections::VecDeque;

/// Number of priority levels.
pub const PRIORITIES: usize = 32;
/// Priority of ordinary threads.
pub const DEFAULT_PRIORITY: u8 = 16;

#[derive(Debug)]
pub struct RunQueue<T> {
    levels: [VecDeque<T>; PRIORITIES],
    /// Bit p set = level p non-empty.
    bitmap: u32,
    len: usize,
}

impl<T> Default for RunQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> RunQueue<T> {
    pub const fn new() -> Self {
        Self {
            levels: [const { VecDeque::new() }; PRIORITIES],
            bitmap: 0,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Best (numerically lowest) priority waiting, if any.
    pub fn best_priority(&self) -> Option<u8> {
        (self.bitmap != 0).then(|| self.bitmap.trailing_zeros() as u8)
    }

    /// Appends `item` at `priority` (clamped to the lowest level).
    pub fn push(&mut self, item: T, priority: u8) {
        let p = (priority as usize).min(PRIORITIES - 1);
        self.levels[p].push_back(item);
        self.bitmap |= 1 << p;
        self.len += 1;
    }

    /// Takes the oldest thread of the best non-empty level.
    pub fn pop(&mut self) -> Option<(T, u8)> {
        let p = self.best_priority()? as usize;
        self.take(p, 0)
    }

    fn take(&mut self, p: usize, i: usize) -> Option<(T, u8)> {
        let item = self.levels[p].remove(i)?;
        if self.levels[p].is_empty() {
            self.bitmap &= !(1 << p);
        }
        self.len -= 1;
        Some((item, p as u8))
    }

    /// Takes one thread another CPU may run (`allowed`), preferring the best
    /// priority and, within it, the most recently queued one (the least
    /// likely to still have warm caches here... and the last to run here).
    pub fn steal(&mut self, mut allowed: impl FnMut(&T) -> bool) -> Option<(T, u8)> {
        let mut levels = self.bitmap;
        while levels != 0 {
            let p = levels.trailing_zeros() as usize;
            levels &= !(1 << p);
            if let Some(i) = self.levels[p].iter().rposition(&mut allowed) {
                return self.take(p, i);
            }
        }
        None
    }

    /// Removes the first item matching `pred` (e.g. a thread being killed).
    pub fn remove(&mut self, mut pred: impl FnMut(&T) -> bool) -> Option<T> {
        for p in 0..PRIORITIES {
            if let Some(i) = self.levels[p].iter().position(&mut pred) {
                return self.take(p, i).map(|(t, _)| t);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_then_fifo() {
        let mut q = RunQueue::new();
        q.push("low-a", 20);
        q.push("high", 3);
        q.push("low-b", 20);
        q.push("clamped", 200);
        assert_eq!(q.len(), 4);
        assert_eq!(q.best_priority(), Some(3));
        assert_eq!(q.pop(), Some(("high", 3)));
        assert_eq!(q.pop(), Some(("low-a", 20)));
        assert_eq!(q.pop(), Some(("low-b", 20)));
        assert_eq!(q.pop(), Some(("clamped", 31)));
        assert_eq!(q.pop(), None);
        assert!(q.is_empty());
        assert_eq!(q.best_priority(), None);
    }

    #[test]
    fn steal_respects_filter_and_takes_newest() {
        let mut q = RunQueue::new();
        for i in 0..5 {
            q.push(i, DEFAULT_PRIORITY);
        }
        assert_eq!(q.steal(|&i| i % 2 == 1), Some((3, DEFAULT_PRIORITY)));
        assert_eq!(q.steal(|&i| i > 10), None);
        assert_eq!(q.len(), 4);
        assert_eq!(q.remove(|&i| i == 0), Some(0));
        assert_eq!(q.pop(), Some((1, DEFAULT_PRIORITY)));
    }
}
