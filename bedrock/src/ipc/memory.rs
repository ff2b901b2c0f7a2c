//! Memory objects: pages that silos map with `MemMap`. Three backings:
//! frames owned by the object (shared memory, for zero-copy bulk
//! transfer), a physically contiguous run it owns (DMA memory, whose
//! physical address a driver gives its device), and a device's physical
//! range (MMIO registers: never freed, mapped uncached, never executable).
//! A mapping holds a reference, so owned memory stays until the last
//! handle and the last mapping are gone.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use bedrock_abi::Errno;

use crate::mm::kernel_space::FRAMES;
use crate::mm::{PAGE_SIZE, PhysRange, phys_to_virt};

/// Largest shared memory object (keeps one silo from taking all RAM in one call).
pub const MAX_SIZE: u64 = 256 << 20;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

#[derive(Debug)]
enum Backing {
    /// Frames allocated one by one, freed with the object.
    Frames(Vec<u64>),
    /// `pages` contiguous frames from `base`, freed with the object.
    Contiguous { base: u64, pages: usize },
    /// Device memory (not RAM): nothing to free.
    Device { base: u64, pages: usize },
}

#[derive(Debug)]
pub struct MemoryObject {
    /// Names the object in VM regions (`Kind::Shared(id)`).
    pub id: u64,
    backing: Backing,
}

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// Zeroes `pages` frames from `base` through the direct map.
///
/// # Safety
/// The frames must be RAM owned by the caller.
unsafe fn zero(base: u64, pages: usize) {
    // SAFETY: per the contract, RAM the caller owns, covered by the direct map.
    unsafe { (phys_to_virt(base) as *mut u8).write_bytes(0, pages * PAGE_SIZE as usize) };
}

impl MemoryObject {
    /// A zeroed object of `size` bytes (a non-zero page multiple).
    pub fn new(size: u64) -> Result<MemoryObject, Errno> {
        if size == 0 || !size.is_multiple_of(PAGE_SIZE) || size > MAX_SIZE {
            return Err(Errno::Inval);
        }
        let pages = (size / PAGE_SIZE) as usize;
        let mut frames = Vec::new();
        frames.try_reserve_exact(pages).map_err(|_| Errno::NoMem)?;
        let mut guard = FRAMES.lock();
        let allocator = guard.as_mut().ok_or(Errno::NoMem)?;
        for _ in 0..pages {
            let Some(f) = allocator.alloc() else {
                for f in frames {
                    allocator.free(f);
                }
                return Err(Errno::NoMem);
            };
            frames.push(f);
        }
        drop(guard);
        for &f in &frames {
            // SAFETY: fresh frames, ours alone.
            unsafe { zero(f, 1) };
        }
        Ok(MemoryObject {
            id: next_id(),
            backing: Backing::Frames(frames),
        })
    }

    /// An object holding a copy of `bytes`, zero-padded to whole pages.
    pub fn from_bytes(bytes: &[u8]) -> Result<MemoryObject, Errno> {
        let size = (bytes.len() as u64).max(1).next_multiple_of(PAGE_SIZE);
        let object = MemoryObject::new(size)?;
        for (i, chunk) in bytes.chunks(PAGE_SIZE as usize).enumerate() {
            let f = object.frame(i).ok_or(Errno::NoMem)?;
            // SAFETY: the object's own frames, not mapped anywhere yet,
            // reached through the direct map; a chunk is at most a page.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    chunk.as_ptr(),
                    phys_to_virt(f) as *mut u8,
                    chunk.len(),
                )
            };
        }
        Ok(object)
    }

    /// DMA memory: `size` bytes (a non-zero page multiple up to
    /// `max_size`) of zeroed, physically contiguous RAM ending below
    /// `limit`.
    pub fn contiguous(size: u64, max_size: u64, limit: u64) -> Result<MemoryObject, Errno> {
        if size == 0 || !size.is_multiple_of(PAGE_SIZE) || size > max_size {
            return Err(Errno::Inval);
        }
        let pages = (size / PAGE_SIZE) as usize;
        let base = FRAMES
            .lock()
            .as_mut()
            .and_then(|f| f.alloc_contiguous_below(pages, PAGE_SIZE, limit))
            .ok_or(Errno::NoMem)?;
        // SAFETY: a fresh run, ours alone.
        unsafe { zero(base, pages) };
        Ok(MemoryObject {
            id: next_id(),
            backing: Backing::Contiguous { base, pages },
        })
    }

    /// Device memory over `range` (page-aligned, checked by the caller
    /// not to be RAM: see `device::check_mmio`).
    pub fn device(range: PhysRange) -> MemoryObject {
        MemoryObject {
            id: next_id(),
            backing: Backing::Device {
                base: range.start,
                pages: (range.len() / PAGE_SIZE) as usize,
            },
        }
    }

    fn pages(&self) -> usize {
        match &self.backing {
            Backing::Frames(f) => f.len(),
            Backing::Contiguous { pages, .. } | Backing::Device { pages, .. } => *pages,
        }
    }

    pub fn size(&self) -> u64 {
        self.pages() as u64 * PAGE_SIZE
    }

    /// Physical frame of page `i`.
    pub fn frame(&self, i: usize) -> Option<u64> {
        match &self.backing {
            Backing::Frames(f) => f.get(i).copied(),
            Backing::Contiguous { base, pages } | Backing::Device { base, pages } => {
                (i < *pages).then(|| base + i as u64 * PAGE_SIZE)
            }
        }
    }

    /// Physical address of the first byte, for contiguous objects only.
    pub fn phys_base(&self) -> Option<u64> {
        match &self.backing {
            Backing::Frames(_) => None,
            Backing::Contiguous { base, .. } | Backing::Device { base, .. } => Some(*base),
        }
    }

    /// Device registers: mapped uncached, never executable.
    pub fn is_device(&self) -> bool {
        matches!(self.backing, Backing::Device { .. })
    }
}

impl Drop for MemoryObject {
    fn drop(&mut self) {
        let mut guard = FRAMES.lock();
        let Some(allocator) = guard.as_mut() else {
            return;
        };
        match &self.backing {
            Backing::Frames(frames) => {
                for &f in frames {
                    allocator.free(f);
                }
            }
            Backing::Contiguous { base, pages } => allocator.free_contiguous(*base, *pages),
            // Device memory was never the allocator's.
            Backing::Device { .. } => {}
        }
    }
}
