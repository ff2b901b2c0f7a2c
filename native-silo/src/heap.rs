//! `malloc` and friends: the `talc` allocator over arenas of demand-zero
//! memory from `VmMap`. An allocation that does not fit maps a new arena
//! (at least [`MIN_ARENA`], growing with the heap); pages cost frames only
//! once touched. Freed memory goes back to talc, not to the kernel.

use core::alloc::Layout;
use core::ptr::{NonNull, null_mut};
use core::sync::atomic::{AtomicUsize, Ordering};

use bedrock_abi::prot;
use talc::{OomHandler, Span, Talc};

use crate::lock::Mutex;
use crate::vm;

/// Smallest arena mapped at a time.
const MIN_ARENA: usize = 4 << 20;
/// Largest step of the geometric growth (bigger requests get their size).
const MAX_STEP: usize = 1 << 30;

/// Maps arenas on demand.
struct Grow;

/// Bytes of arenas mapped so far.
static MAPPED: AtomicUsize = AtomicUsize::new(0);

impl OomHandler for Grow {
    fn handle_oom(talc: &mut Talc<Self>, layout: Layout) -> Result<(), ()> {
        let have = MAPPED.load(Ordering::Relaxed);
        // Room for the request, its alignment and talc's tags.
        let need = layout.size().checked_add(layout.align() + 64).ok_or(())?;
        let len = need.max(have.clamp(MIN_ARENA, MAX_STEP));
        let addr = vm::map(len, prot::READ | prot::WRITE).map_err(drop)?;
        let len = len.next_multiple_of(vm::PAGE_SIZE);
        MAPPED.fetch_add(len, Ordering::Relaxed);
        // SAFETY: the arena is fresh memory owned by nobody else.
        unsafe { talc.claim(Span::from_base_size(addr as *mut u8, len)) }.map(drop)
    }
}

static HEAP: Mutex<Talc<Grow>> = Mutex::new(Talc::new(Grow));

/// The layout of a request; size 0 is served as 1 byte so that every
/// pointer handed out is distinct and freeable.
fn layout(size: usize, align: usize) -> Option<Layout> {
    Layout::from_size_align(size.max(1), align.max(1)).ok()
}

hermit_fn! {
    fn sys_malloc(size: usize, align: usize) -> *mut u8 as malloc {
        let Some(l) = layout(size, align) else { return null_mut() };
        // SAFETY: a valid, non-zero layout.
        unsafe { HEAP.lock().malloc(l) }.map_or(null_mut(), NonNull::as_ptr)
    }
}

hermit_fn! {
    fn sys_alloc(size: usize, align: usize) -> *mut u8 as alloc {
        // SAFETY: same contract.
        unsafe { sys_malloc(size, align) }
    }
}

hermit_fn! {
    fn sys_alloc_zeroed(size: usize, align: usize) -> *mut u8 as alloc_zeroed {
        // SAFETY: same contract.
        let p = unsafe { sys_malloc(size, align) };
        if !p.is_null() {
            // SAFETY: `p` holds at least `size` bytes (reused memory is
            // not zero, so this is needed).
            unsafe { p.write_bytes(0, size) };
        }
        p
    }
}

hermit_fn! {
    /// Frees what `sys_malloc(size, align)` returned.
    fn sys_free(ptr: *mut u8, size: usize, align: usize) as free {
        let (Some(p), Some(l)) = (NonNull::new(ptr), layout(size, align)) else { return };
        // SAFETY: the caller returns an allocation made with this layout.
        unsafe { HEAP.lock().free(p, l) }
    }
}

hermit_fn! {
    fn sys_dealloc(ptr: *mut u8, size: usize, align: usize) as dealloc {
        // SAFETY: same contract.
        unsafe { sys_free(ptr, size, align) }
    }
}

hermit_fn! {
    /// Resizes in place when it can, else moves; null (old block intact)
    /// when memory runs out.
    fn sys_realloc(ptr: *mut u8, size: usize, align: usize, new_size: usize) -> *mut u8 as realloc {
        let (Some(p), Some(l)) = (NonNull::new(ptr), layout(size, align)) else {
            return null_mut();
        };
        let new_size = new_size.max(1);
        if layout(new_size, align).is_none() {
            return null_mut();
        }
        let mut heap = HEAP.lock();
        if new_size >= l.size() {
            // SAFETY: `p` was allocated with `l`; new_size >= its size.
            unsafe { heap.grow(p, l, new_size) }.map_or(null_mut(), NonNull::as_ptr)
        } else {
            // SAFETY: `p` was allocated with `l`; new_size is smaller and
            // non-zero.
            unsafe { heap.shrink(p, l, new_size) };
            ptr
        }
    }
}
