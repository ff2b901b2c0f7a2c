//! CPU affinity masks.

use crate::acpi::topology::MAX_CPUS;

/// A set of CPU indices (bit i = CPU i may run the thread).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuSet(u64);

const _: () = assert!(MAX_CPUS <= 64, "CpuSet is one word");

impl CpuSet {
    pub const ALL: CpuSet = CpuSet(u64::MAX);

    pub const fn single(cpu: usize) -> Self {
        CpuSet(1 << cpu)
    }

    pub const fn from_bits(bits: u64) -> Self {
        CpuSet(bits)
    }

    pub const fn bits(self) -> u64 {
        self.0
    }

    pub const fn contains(self, cpu: usize) -> bool {
        cpu < 64 && self.0 & (1 << cpu) != 0
    }

    /// The set limited to CPUs `0..online`; empty if none of them is in it.
    pub const fn within(self, online: usize) -> Self {
        if online >= 64 {
            self
        } else {
            CpuSet(self.0 & ((1 << online) - 1))
        }
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Lowest CPU in the set.
    pub const fn first(self) -> Option<usize> {
        if self.0 == 0 {
            None
        } else {
            Some(self.0.trailing_zeros() as usize)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets() {
        assert!(CpuSet::ALL.contains(63));
        assert!(!CpuSet::single(2).contains(1));
        assert_eq!(CpuSet::from_bits(0b1010).within(2), CpuSet::from_bits(0b10));
        assert!(CpuSet::from_bits(0b1000).within(2).is_empty());
        assert_eq!(CpuSet::from_bits(0b1100).first(), Some(2));
        assert!(!CpuSet::ALL.contains(64));
    }
}
