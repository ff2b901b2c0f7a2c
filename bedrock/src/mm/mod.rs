//! Memory management: the physical memory map, the frame allocator, page
//! tables and (on the target) the kernel heap.
//!
//! Address-space layout (x86_64, 4-level paging):
//! - `0x0000_0000_0000_0000 ..` user space (later issues);
//! - [`HHDM_BASE`] `..` the higher-half direct map of all physical memory,
//!   so the kernel reaches any frame at `HHDM_BASE + phys`;
//! - [`KERNEL_BASE`] `..` the kernel image (top 2 GiB, code model "kernel").

pub mod frame;
pub mod memmap;
pub mod paging;
pub mod vmspace;

#[cfg(kernel)]
pub mod address_space;
#[cfg(kernel)]
pub mod heap;
#[cfg(kernel)]
pub mod kernel_space;
#[cfg(kernel)]
pub mod kstack;

/// Size of a base page and of a physical frame.
pub const PAGE_SIZE: u64 = 4096;
/// Start of the higher-half direct map of physical memory.
pub const HHDM_BASE: u64 = 0xffff_8000_0000_0000;
/// Virtual address the kernel image is linked at (physical 0 maps here).
pub const KERNEL_BASE: u64 = 0xffff_ffff_8000_0000;

/// Rounds `x` down to a multiple of `align` (a power of two).
pub const fn align_down(x: u64, align: u64) -> u64 {
    x & !(align - 1)
}

/// Rounds `x` up to a multiple of `align` (a power of two); `None` on overflow.
pub const fn align_up(x: u64, align: u64) -> Option<u64> {
    match x.checked_add(align - 1) {
        Some(v) => Some(v & !(align - 1)),
        None => None,
    }
}

/// A half-open range of physical addresses `[start, end)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct PhysRange {
    pub start: u64,
    pub end: u64,
}

impl PhysRange {
    pub const fn new(start: u64, end: u64) -> Self {
        Self { start, end }
    }

    /// The range `[start, start + len)`, or `None` if it wraps around.
    pub fn from_len(start: u64, len: u64) -> Option<Self> {
        Some(Self::new(start, start.checked_add(len)?))
    }

    pub const fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    pub const fn contains_range(&self, other: &PhysRange) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    pub const fn overlaps(&self, other: &PhysRange) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// Virtual address of physical address `phys` in the direct map.
pub const fn phys_to_virt(phys: u64) -> u64 {
    HHDM_BASE + phys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_helpers() {
        assert_eq!(align_down(0x1fff, PAGE_SIZE), 0x1000);
        assert_eq!(align_up(0x1001, PAGE_SIZE), Some(0x2000));
        assert_eq!(align_up(0x1000, PAGE_SIZE), Some(0x1000));
        assert_eq!(align_up(u64::MAX, PAGE_SIZE), None);
    }

    #[test]
    fn ranges() {
        let r = PhysRange::new(0x1000, 0x3000);
        assert_eq!(r.len(), 0x2000);
        assert!(r.overlaps(&PhysRange::new(0x2fff, 0x4000)));
        assert!(!r.overlaps(&PhysRange::new(0x3000, 0x4000)));
        assert!(r.contains_range(&PhysRange::new(0x1000, 0x2000)));
        assert_eq!(PhysRange::from_len(u64::MAX, 2), None);
    }
}
