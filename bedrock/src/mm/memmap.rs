//! The physical memory map: which frames are RAM the kernel may hand out.
//!
//! Firmware maps are unsorted, may overlap, and mix RAM with holes. This
//! module turns them, minus the ranges already in use (low memory, kernel
//! image, boot modules, ...), into a sorted list of disjoint, page-aligned
//! usable ranges, which is all the frame allocator needs.

use super::{PAGE_SIZE, PhysRange, align_down, align_up};
use arrayvec::ArrayVec;

/// Most usable ranges we keep; firmware maps are far smaller in practice.
pub const MAX_RANGES: usize = 128;

/// Kind of a memory-map entry, as the E820/PVH map numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    Usable,
    Reserved,
    AcpiReclaimable,
    AcpiNvs,
    Bad,
    Other(u32),
}

impl RegionKind {
    /// Decodes an E820 type (the PVH memory map uses the same numbers).
    pub const fn from_e820(ty: u32) -> Self {
        match ty {
            1 => Self::Usable,
            2 => Self::Reserved,
            3 => Self::AcpiReclaimable,
            4 => Self::AcpiNvs,
            5 => Self::Bad,
            other => Self::Other(other),
        }
    }
}

/// One firmware memory-map entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub range: PhysRange,
    pub kind: RegionKind,
}

/// A sorted set of disjoint, page-aligned physical ranges.
#[derive(Clone, Debug, Default)]
pub struct RangeSet {
    ranges: ArrayVec<PhysRange, MAX_RANGES>,
}

impl RangeSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// The usable RAM of a firmware map: every `Usable` entry shrunk inward
    /// to page boundaries, minus every non-usable entry (a range that
    /// firmware lists twice with different kinds is not trusted as RAM).
    pub fn usable_ram(regions: &[Region]) -> Self {
        let mut set = Self::new();
        for r in regions.iter().filter(|r| r.kind == RegionKind::Usable) {
            let Some(start) = align_up(r.range.start, PAGE_SIZE) else {
                continue;
            };
            let end = align_down(r.range.end, PAGE_SIZE);
            if start < end {
                set.insert(PhysRange::new(start, end));
            }
        }
        for r in regions.iter().filter(|r| r.kind != RegionKind::Usable) {
            set.remove(r.range);
        }
        set
    }

    pub fn ranges(&self) -> &[PhysRange] {
        &self.ranges
    }

    /// Total bytes in the set.
    pub fn total(&self) -> u64 {
        self.ranges.iter().map(PhysRange::len).sum()
    }

    /// End of the highest range (0 when empty).
    pub fn end(&self) -> u64 {
        self.ranges.last().map_or(0, |r| r.end)
    }

    /// True when `range` lies entirely inside one range of the set.
    pub fn contains(&self, range: PhysRange) -> bool {
        self.ranges.iter().any(|r| r.contains_range(&range))
    }

    /// Adds `range`, merging with neighbours. Ranges beyond [`MAX_RANGES`]
    /// are dropped (memory lost, never corrupted).
    pub fn insert(&mut self, range: PhysRange) {
        if range.is_empty() {
            return;
        }
        let mut merged = range;
        let mut out = ArrayVec::<PhysRange, MAX_RANGES>::new();
        for r in &self.ranges {
            if r.end < merged.start || merged.end < r.start {
                continue;
            }
            merged = PhysRange::new(merged.start.min(r.start), merged.end.max(r.end));
        }
        let mut placed = false;
        for r in &self.ranges {
            if merged.contains_range(r) {
                continue;
            }
            if !placed && merged.start < r.start {
                out.push(merged);
                placed = true;
            }
            if out.try_push(*r).is_err() {
                break;
            }
        }
        if !placed {
            let _ = out.try_push(merged);
        }
        self.ranges = out;
    }

    /// Removes `hole` (widened outward to page boundaries) from the set.
    pub fn remove(&mut self, hole: PhysRange) {
        if hole.is_empty() {
            return;
        }
        let hole = PhysRange::new(
            align_down(hole.start, PAGE_SIZE),
            align_up(hole.end, PAGE_SIZE).unwrap_or(align_down(u64::MAX, PAGE_SIZE)),
        );
        let mut out = ArrayVec::<PhysRange, MAX_RANGES>::new();
        for r in &self.ranges {
            if !r.overlaps(&hole) {
                let _ = out.try_push(*r);
                continue;
            }
            if r.start < hole.start {
                let _ = out.try_push(PhysRange::new(r.start, hole.start));
            }
            if hole.end < r.end {
                let _ = out.try_push(PhysRange::new(hole.end, r.end));
            }
        }
        self.ranges = out;
    }

    /// Takes `len` bytes (page multiple) aligned to `align` from the lowest
    /// range that has room below `limit`, removing them from the set.
    pub fn take(&mut self, len: u64, align: u64, limit: u64) -> Option<PhysRange> {
        let align = align.max(PAGE_SIZE);
        let len = align_up(len, PAGE_SIZE)?;
        let found = self.ranges.iter().find_map(|r| {
            let start = align_up(r.start, align)?;
            let end = start.checked_add(len)?;
            (end <= r.end && end <= limit).then(|| PhysRange::new(start, end))
        })?;
        self.remove(found);
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(start: u64, end: u64, ty: u32) -> Region {
        Region {
            range: PhysRange::new(start, end),
            kind: RegionKind::from_e820(ty),
        }
    }

    #[test]
    fn qemu_like_map() {
        // What QEMU's PVH map looks like for -m 256M.
        let map = [
            region(0, 0x9fc00, 1),
            region(0x9fc00, 0xa0000, 2),
            region(0xf0000, 0x100000, 2),
            region(0x100000, 0x1000_0000, 1),
            region(0xfffc_0000, 0x1_0000_0000, 2),
        ];
        let set = RangeSet::usable_ram(&map);
        assert_eq!(
            set.ranges(),
            &[
                PhysRange::new(0, 0x9f000),
                PhysRange::new(0x100000, 0x1000_0000)
            ]
        );
        assert_eq!(set.end(), 0x1000_0000);
    }

    #[test]
    fn unaligned_and_overlapping_entries() {
        let map = [
            region(0x1800, 0x10800, 1),
            region(0x8000, 0x20000, 1),
            region(0xc000, 0xd000, 2),
        ];
        let set = RangeSet::usable_ram(&map);
        assert_eq!(
            set.ranges(),
            &[
                PhysRange::new(0x2000, 0xc000),
                PhysRange::new(0xd000, 0x20000)
            ]
        );
        assert_eq!(set.total(), 0xa000 + 0x13000);
    }

    #[test]
    fn remove_splits_and_widens_to_pages() {
        let mut set = RangeSet::new();
        set.insert(PhysRange::new(0, 0x10000));
        set.remove(PhysRange::new(0x3001, 0x4fff));
        assert_eq!(
            set.ranges(),
            &[PhysRange::new(0, 0x3000), PhysRange::new(0x5000, 0x10000)]
        );
        set.remove(PhysRange::new(0, 0x100000));
        assert!(set.ranges().is_empty());
    }

    #[test]
    fn insert_merges_adjacent() {
        let mut set = RangeSet::new();
        set.insert(PhysRange::new(0x5000, 0x6000));
        set.insert(PhysRange::new(0x1000, 0x2000));
        set.insert(PhysRange::new(0x2000, 0x5000));
        assert_eq!(set.ranges(), &[PhysRange::new(0x1000, 0x6000)]);
    }

    #[test]
    fn take_respects_alignment_and_limit() {
        let mut set = RangeSet::new();
        set.insert(PhysRange::new(0x1000, 0x3000));
        set.insert(PhysRange::new(0x20_1000, 0x60_0000));
        let got = set.take(0x2000, 0x20_0000, u64::MAX).unwrap();
        assert_eq!(got, PhysRange::new(0x40_0000, 0x40_2000));
        assert!(!set.contains(got));
        assert_eq!(set.take(0x1000, 0x1000, 0x1000), None);
        assert_eq!(set.take(0x1_0000_0000, 0x1000, u64::MAX), None);
    }

    #[test]
    fn many_ranges_never_overflow() {
        let mut set = RangeSet::new();
        for i in 0..(MAX_RANGES as u64 * 2) {
            set.insert(PhysRange::new(i * 0x2000, i * 0x2000 + 0x1000));
        }
        assert_eq!(set.ranges().len(), MAX_RANGES);
        assert!(set.ranges().windows(2).all(|w| w[0].end < w[1].start));
    }
}
