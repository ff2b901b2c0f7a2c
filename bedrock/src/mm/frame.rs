//! The physical frame allocator: one bit per 4 KiB frame.
//!
//! A bitmap is small (32 KiB per GiB of RAM), needs no memory of its own
//! beyond that, answers "is this frame free" for debugging, and supports
//! physically contiguous, aligned runs (DMA buffers, heap growth). A
//! next-fit hint keeps single-frame allocation O(1) amortised.
//!
//! Invariant: a bit is 0 exactly when the frame is usable RAM that nobody
//! owns. Freeing a frame that is already free is a kernel bug and panics.

use super::memmap::RangeSet;
use super::{PAGE_SIZE, PhysRange};

const BITS: usize = 64;

/// Bitmap words needed to describe physical memory up to `end`.
pub const fn words_for(end: u64) -> usize {
    ((end / PAGE_SIZE) as usize).div_ceil(BITS)
}

pub struct FrameAllocator {
    /// The RAM this allocator manages, to tell holes from owned frames.
    usable: RangeSet,
    /// Bit `i` set = frame `i` used or not RAM.
    bitmap: &'static mut [u64],
    /// Number of frames the bitmap describes.
    frames: usize,
    free: usize,
    total: usize,
    /// Word index where the next single-frame search starts.
    hint: usize,
}

impl core::fmt::Debug for FrameAllocator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FrameAllocator")
            .field("frames", &self.frames)
            .field("free", &self.free)
            .field("total", &self.total)
            .finish()
    }
}

impl FrameAllocator {
    /// Builds an allocator over `usable`, keeping its bitmap in `storage`
    /// (at least [`words_for`]`(usable.end())` words, owned from now on).
    pub fn new(storage: &'static mut [u64], usable: &RangeSet) -> Self {
        let frames = (usable.end() / PAGE_SIZE) as usize;
        assert!(
            storage.len() >= frames.div_ceil(BITS),
            "frame bitmap storage too small"
        );
        storage.fill(u64::MAX);
        let mut this = Self {
            usable: usable.clone(),
            bitmap: storage,
            frames,
            free: 0,
            total: 0,
            hint: 0,
        };
        for r in usable.ranges() {
            for f in (r.start / PAGE_SIZE) as usize..(r.end / PAGE_SIZE) as usize {
                this.clear(f);
            }
            this.total += (r.len() / PAGE_SIZE) as usize;
        }
        this.free = this.total;
        this
    }

    /// Frames still free.
    pub fn free_frames(&self) -> usize {
        self.free
    }

    /// Usable frames this allocator manages.
    pub fn total_frames(&self) -> usize {
        self.total
    }

    fn is_used(&self, f: usize) -> bool {
        self.bitmap[f / BITS] & (1 << (f % BITS)) != 0
    }

    fn set(&mut self, f: usize) {
        self.bitmap[f / BITS] |= 1 << (f % BITS);
    }

    fn clear(&mut self, f: usize) {
        self.bitmap[f / BITS] &= !(1 << (f % BITS));
    }

    /// Allocates one frame anywhere; returns its physical address.
    pub fn alloc(&mut self) -> Option<u64> {
        self.alloc_below(u64::MAX)
    }

    /// Allocates one frame whose address is below `limit` (for structures
    /// that must be reachable before the full direct map exists).
    pub fn alloc_below(&mut self, limit: u64) -> Option<u64> {
        let words = self
            .bitmap
            .len()
            .min(words_for(limit.min(self.frames as u64 * PAGE_SIZE)).max(1));
        let start = if self.hint < words { self.hint } else { 0 };
        let found = (start..words)
            .chain(0..start)
            .find(|&w| self.bitmap[w] != u64::MAX)?;
        let f = found * BITS + (!self.bitmap[found]).trailing_zeros() as usize;
        if f >= self.frames || f as u64 * PAGE_SIZE >= limit {
            return None;
        }
        self.set(f);
        self.free -= 1;
        self.hint = found;
        Some(f as u64 * PAGE_SIZE)
    }

    /// Allocates `count` physically contiguous frames starting at a multiple
    /// of `align` bytes (a power of two, at least a page).
    pub fn alloc_contiguous(&mut self, count: usize, align: u64) -> Option<u64> {
        self.alloc_contiguous_below(count, align, u64::MAX)
    }

    /// Like [`Self::alloc_contiguous`], with the whole run below `limit`
    /// (for devices that address only 32 bits, say).
    pub fn alloc_contiguous_below(&mut self, count: usize, align: u64, limit: u64) -> Option<u64> {
        if count == 0 || count > self.free {
            return None;
        }
        let step = (align.max(PAGE_SIZE) / PAGE_SIZE) as usize;
        let end = self
            .frames
            .min(usize::try_from(limit / PAGE_SIZE).unwrap_or(usize::MAX));
        let mut first = 0;
        while first + count <= end {
            match (first..first + count).rev().find(|&f| self.is_used(f)) {
                // Restart after the used frame, at the next aligned index.
                Some(used) => first = (used + 1).next_multiple_of(step),
                None => {
                    for f in first..first + count {
                        self.set(f);
                    }
                    self.free -= count;
                    return Some(first as u64 * PAGE_SIZE);
                }
            }
        }
        None
    }

    /// Whether the frame at `addr` is managed RAM currently handed out
    /// (for tests that check memory comes back).
    pub fn is_allocated(&self, addr: u64) -> bool {
        let f = (addr / PAGE_SIZE) as usize;
        f < self.frames
            && self.is_used(f)
            && self
                .usable
                .contains(PhysRange::new(addr, addr.saturating_add(1)))
    }

    /// Returns one frame.
    ///
    /// # Panics
    /// If `addr` is unaligned, outside managed memory or already free: all
    /// three mean a kernel bug that must not go unnoticed.
    pub fn free(&mut self, addr: u64) {
        self.free_contiguous(addr, 1);
    }

    /// Returns `count` frames starting at `addr`. Panics like [`Self::free`].
    pub fn free_contiguous(&mut self, addr: u64, count: usize) {
        assert!(
            addr.is_multiple_of(PAGE_SIZE),
            "freeing unaligned frame {addr:#x}"
        );
        let first = (addr / PAGE_SIZE) as usize;
        assert!(
            first
                .checked_add(count)
                .is_some_and(|end| end <= self.frames),
            "freeing frames outside managed memory at {addr:#x}"
        );
        let range = PhysRange::from_len(addr, count as u64 * PAGE_SIZE);
        assert!(
            range.is_some_and(|r| self.usable.contains(r)),
            "freeing frames that are not managed RAM at {addr:#x}"
        );
        for f in first..first + count {
            assert!(
                self.is_used(f),
                "double free of frame {:#x}",
                f as u64 * PAGE_SIZE
            );
            self.clear(f);
        }
        self.free += count;
        self.hint = self.hint.min(first / BITS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::PhysRange;
    use std::collections::HashSet;

    fn allocator(ranges: &[(u64, u64)]) -> FrameAllocator {
        let mut set = RangeSet::new();
        for &(s, e) in ranges {
            set.insert(PhysRange::new(s, e));
        }
        let storage = vec![0u64; words_for(set.end())].leak();
        FrameAllocator::new(storage, &set)
    }

    #[test]
    fn allocates_every_usable_frame_exactly_once() {
        let mut fa = allocator(&[(0x1000, 0x9f000), (0x100000, 0x800000)]);
        let total = fa.total_frames();
        assert_eq!(total, 0x9e + 0x700);
        let mut seen = HashSet::new();
        while let Some(f) = fa.alloc() {
            assert!(
                (0x1000..0x9f000).contains(&f) || (0x100000..0x800000).contains(&f),
                "{f:#x} is not usable"
            );
            assert!(seen.insert(f), "{f:#x} handed out twice");
        }
        assert_eq!(seen.len(), total);
        assert_eq!(fa.free_frames(), 0);
        for f in seen {
            fa.free(f);
        }
        assert_eq!(fa.free_frames(), total);
    }

    #[test]
    fn alloc_below_limit() {
        let mut fa = allocator(&[(0x100000, 0x200000)]);
        assert_eq!(fa.alloc_below(0x100000), None);
        let f = fa.alloc_below(0x102000).unwrap();
        assert!(f < 0x102000);
        let g = fa.alloc_below(0x102000).unwrap();
        assert!(g < 0x102000 && g != f);
        assert_eq!(fa.alloc_below(0x102000), None);
    }

    #[test]
    fn contiguous_runs_are_aligned_and_free() {
        let mut fa = allocator(&[(0x1000, 0x400000)]);
        let one = fa.alloc().unwrap();
        let run = fa.alloc_contiguous(512, 0x200000).unwrap();
        assert_eq!(run, 0x200000);
        assert_ne!(one, run);
        // The second 2 MiB run does not fit (range ends at 4 MiB - 0).
        assert_eq!(fa.alloc_contiguous(512, 0x200000), None);
        let small = fa.alloc_contiguous(3, PAGE_SIZE).unwrap();
        assert!(small + 3 * PAGE_SIZE <= run || small >= run + 0x200000);
        fa.free_contiguous(run, 512);
        assert_eq!(fa.alloc_contiguous(512, 0x200000), Some(0x200000));
    }

    #[test]
    fn contiguous_runs_below_a_limit() {
        // 15 frames, then 16 frames.
        let mut fa = allocator(&[(0x1000, 0x10000), (0x20000, 0x30000)]);
        assert_eq!(fa.alloc_contiguous_below(16, PAGE_SIZE, 0x2f000), None);
        let run = fa.alloc_contiguous_below(16, PAGE_SIZE, 0x30000).unwrap();
        assert_eq!(run, 0x20000);
        // Every frame of the run is taken, those below it are not.
        assert_eq!(
            fa.alloc_contiguous_below(15, PAGE_SIZE, 0x30000),
            Some(0x1000)
        );
        assert_eq!(fa.alloc_contiguous(1, PAGE_SIZE), None);
        assert!(fa.is_allocated(run) && fa.is_allocated(run + 15 * PAGE_SIZE));
        fa.free_contiguous(run, 16);
        assert!(!fa.is_allocated(run) && !fa.is_allocated(run + 15 * PAGE_SIZE));
        assert!(!fa.is_allocated(0x10000) && !fa.is_allocated(!0xfff));
        assert_eq!(fa.alloc_contiguous_below(1, PAGE_SIZE, 0), None);
        assert_eq!(
            fa.alloc_contiguous_below(16, PAGE_SIZE, 0x30000),
            Some(0x20000)
        );
    }

    #[test]
    #[should_panic(expected = "double free")]
    fn double_free_panics() {
        let mut fa = allocator(&[(0x1000, 0x10000)]);
        let f = fa.alloc().unwrap();
        fa.free(f);
        fa.free(f);
    }

    #[test]
    #[should_panic(expected = "not managed RAM")]
    fn freeing_a_hole_panics() {
        let mut fa = allocator(&[(0x1000, 0x2000), (0x3000, 0x4000)]);
        fa.free(0x2000);
    }
}
