//! The kernel heap (`GlobalAlloc`), backed by `talc` and growing on demand
//! with physically contiguous frames reached through the direct map.
//!
//! The heap lock keeps interrupts off while held (interrupt handlers may
//! free memory). Lock order: the heap lock is taken before the frame allocator lock
//! (growth); the frame allocator never allocates from the heap.

use core::alloc::Layout;
use talc::{OomHandler, Span, Talc, Talck};

use super::kernel_space::FRAMES;
use super::{PAGE_SIZE, align_up, phys_to_virt};

/// Smallest growth step: fewer, larger arenas keep fragmentation down.
const GROW_MIN: u64 = 1 << 20;

/// Grows the heap from the frame allocator when talc runs out.
pub struct Grow;

impl OomHandler for Grow {
    fn handle_oom(talc: &mut Talc<Self>, layout: Layout) -> Result<(), ()> {
        // Room for the request at its alignment plus talc's bookkeeping.
        let need = align_up(
            layout.size() as u64 + layout.align() as u64 + 256,
            PAGE_SIZE,
        )
        .ok_or(())?;
        let mut frames = FRAMES.lock();
        let frames = frames.as_mut().ok_or(())?;
        let (phys, bytes) = [need.max(GROW_MIN), need]
            .into_iter()
            .find_map(|bytes| {
                let phys = frames.alloc_contiguous((bytes / PAGE_SIZE) as usize, PAGE_SIZE)?;
                Some((phys, bytes))
            })
            .ok_or(())?;
        let base = phys_to_virt(phys) as *mut u8;
        // SAFETY: the frames were just allocated for the heap alone and are
        // mapped read/write in the direct map.
        unsafe { talc.claim(Span::from_base_size(base, bytes as usize)) }.map(|_| ())
    }
}

#[global_allocator]
static HEAP: Talck<crate::sync::IrqRawSpin, Grow> = Talc::new(Grow).lock();

/// Heap usage, for tests and introspection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// Bytes currently allocated.
    pub allocated: u64,
    /// Live allocations.
    pub allocations: u64,
    /// Bytes of memory claimed from the frame allocator.
    pub claimed: u64,
}

pub fn usage() -> Usage {
    let talc = HEAP.lock();
    let c = talc.get_counters();
    Usage {
        allocated: c.allocated_bytes as u64,
        allocations: c.allocation_count as u64,
        claimed: c.claimed_bytes as u64,
    }
}
