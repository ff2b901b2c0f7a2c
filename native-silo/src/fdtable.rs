//! The descriptor table: small integers naming open files, lowest free
//! first, as POSIX programs (and std) expect. 0, 1 and 2 are stdio and
//! never in the table.

use alloc::vec::Vec;

/// First descriptor the table hands out.
pub const FIRST_FD: i32 = 3;
/// Most descriptors open at once (`EMFILE` beyond).
pub const MAX_FDS: usize = 1024;

/// Open descriptors and what they refer to.
#[derive(Debug)]
pub struct FdTable<T> {
    slots: Vec<Option<T>>,
}

impl<T> Default for FdTable<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> FdTable<T> {
    pub const fn new() -> Self {
        Self { slots: Vec::new() }
    }

    /// Stores `item` under the lowest free descriptor; `None` when full.
    pub fn insert(&mut self, item: T) -> Option<i32> {
        let index = match self.slots.iter().position(Option::is_none) {
            Some(free) => free,
            None if self.slots.len() < MAX_FDS => {
                self.slots.push(None);
                self.slots.len() - 1
            }
            None => return None,
        };
        self.slots[index] = Some(item);
        Some(index as i32 + FIRST_FD)
    }

    pub fn get(&self, fd: i32) -> Option<&T> {
        self.slots.get(Self::index(fd)?)?.as_ref()
    }

    pub fn remove(&mut self, fd: i32) -> Option<T> {
        let index = Self::index(fd)?;
        let item = self.slots.get_mut(index)?.take();
        while self.slots.last().is_some_and(Option::is_none) {
            self.slots.pop();
        }
        item
    }

    fn index(fd: i32) -> Option<usize> {
        usize::try_from(fd.checked_sub(FIRST_FD)?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_free_descriptor_first() {
        let mut t = FdTable::new();
        assert_eq!(t.insert('a'), Some(3));
        assert_eq!(t.insert('b'), Some(4));
        assert_eq!(t.insert('c'), Some(5));
        assert_eq!(t.remove(4), Some('b'));
        assert_eq!(t.get(4), None);
        assert_eq!(t.insert('d'), Some(4));
        assert_eq!(t.get(5), Some(&'c'));
    }

    #[test]
    fn bad_descriptors_name_nothing() {
        let mut t: FdTable<u8> = FdTable::new();
        for fd in [-1, 0, 1, 2, 3, 99, i32::MIN, i32::MAX] {
            assert_eq!(t.get(fd), None);
            assert_eq!(t.remove(fd), None);
        }
    }

    #[test]
    fn full_table_refuses() {
        let mut t = FdTable::new();
        for _ in 0..MAX_FDS {
            assert!(t.insert(()).is_some());
        }
        assert_eq!(t.insert(()), None);
        assert_eq!(t.remove(7), Some(()));
        assert_eq!(t.insert(()), Some(7));
    }
}
