//! Shared memory objects: frames that several silos map, for zero-copy
//! bulk transfer. The object owns its frames; a mapping holds a reference,
//! so the memory stays until the last handle and the last mapping are gone.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use bedrock_abi::Errno;

use crate::mm::kernel_space::FRAMES;
use crate::mm::{PAGE_SIZE, phys_to_virt};

/// Largest shared memory object (keeps one silo from taking all RAM in one call).
pub const MAX_SIZE: u64 = 256 << 20;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

#[derive(Debug)]
pub struct MemoryObject {
    /// Names the object in VM regions (`Kind::Shared(id)`).
    pub id: u64,
    frames: Vec<u64>,
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
            // SAFETY: fresh frames, ours alone, mapped by the direct map.
            unsafe { (phys_to_virt(f) as *mut u8).write_bytes(0, PAGE_SIZE as usize) };
        }
        Ok(MemoryObject {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            frames,
        })
    }

    /// An object holding a copy of `bytes`, zero-padded to whole pages.
    pub fn from_bytes(bytes: &[u8]) -> Result<MemoryObject, Errno> {
        let size = (bytes.len() as u64).max(1).next_multiple_of(PAGE_SIZE);
        let object = MemoryObject::new(size)?;
        for (chunk, &f) in bytes.chunks(PAGE_SIZE as usize).zip(&object.frames) {
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

    pub fn size(&self) -> u64 {
        self.frames.len() as u64 * PAGE_SIZE
    }

    /// Physical frame of page `i`.
    pub fn frame(&self, i: usize) -> Option<u64> {
        self.frames.get(i).copied()
    }
}

impl Drop for MemoryObject {
    fn drop(&mut self) {
        if let Some(allocator) = FRAMES.lock().as_mut() {
            for &f in &self.frames {
                allocator.free(f);
            }
        }
    }
}
