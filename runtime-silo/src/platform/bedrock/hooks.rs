//! wasmtime's `custom-virtual-memory` platform hooks (the C functions of
//! `wasmtime-platform.h`) over Bedrock's VM system calls.
//!
//! Linear memories are reserved whole (4 GiB, see `crate::engine`) with no
//! access and opened as they grow; Bedrock's `VmMap` only reserves address
//! space and commits zeroed pages on first touch, so a reservation costs
//! nothing until used. JIT code is written into RW pages and turned RX with
//! `VmProtect`; the kernel refuses W+X, so code is never writable and
//! executable at once. Each hook returns 0 or a positive errno.

use std::cell::Cell;
use std::ptr;

use bedrock_abi::user::syscall;
use bedrock_abi::{Errno, Syscall, prot};

/// Bedrock's page size (4 KiB pages only).
pub(super) const PAGE_SIZE: usize = 4096;

/// What wasmtime's `cvt` turns into "os error N".
fn code(result: Result<usize, Errno>) -> i32 {
    match result {
        Ok(_) => 0,
        Err(e) => e as i32,
    }
}

/// wasmtime's protection bits are Bedrock's (READ 1, WRITE 2, EXEC 4).
fn protection(flags: u32) -> Result<usize, Errno> {
    let bits = flags as usize;
    if bits & !prot::ALL != 0 {
        return Err(Errno::Inval);
    }
    Ok(bits)
}

/// `size` rounded up to whole pages, as mmap(2) and friends do.
fn page_round(size: usize) -> Result<usize, Errno> {
    size.checked_next_multiple_of(PAGE_SIZE).ok_or(Errno::Inval)
}

fn vm_map(size: usize, flags: u32) -> Result<usize, Errno> {
    let bits = protection(flags)?;
    // SAFETY: VmMap reads no memory of ours; it returns fresh address space.
    unsafe { syscall(Syscall::VmMap, &[0, size, bits]) }
}

fn vm_protect(addr: *mut u8, size: usize, flags: u32) -> Result<usize, Errno> {
    let bits = protection(flags)?;
    // wasmtime passes lengths as mprotect(2) takes them: an empty range is
    // a no-op and a partial last page counts whole (code images end
    // anywhere). Bedrock wants non-zero page multiples.
    let size = page_round(size)?;
    if size == 0 {
        return Ok(0);
    }
    // SAFETY: wasmtime changes protections only of mappings it made with
    // these hooks and that it no longer accesses in the old way.
    unsafe { syscall(Syscall::VmProtect, &[addr as usize, size, bits]) }
}

/// A new private mapping of `size` bytes, zeroed, committed lazily.
///
/// # Safety
/// Called by wasmtime with `ret` valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasmtime_mmap_new(size: usize, prot_flags: u32, ret: &mut *mut u8) -> i32 {
    match vm_map(size, prot_flags) {
        Ok(addr) => {
            *ret = addr as *mut u8;
            0
        }
        Err(e) => code(Err(e)),
    }
}

/// Replaces `[addr, addr + size)` by zeroed pages with `prot_flags`.
///
/// Dropping to no access gives the committed frames back to the kernel,
/// and the next touch after reopening commits fresh zeroed pages: the
/// range stays reserved throughout, so no other mapping can land there.
///
/// # Safety
/// `[addr, addr + size)` lies in a mapping wasmtime made and no longer reads.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasmtime_mmap_remap(addr: *mut u8, size: usize, prot_flags: u32) -> i32 {
    let result = vm_protect(addr, size, 0).and_then(|done| {
        if prot_flags == 0 {
            Ok(done)
        } else {
            vm_protect(addr, size, prot_flags)
        }
    });
    code(result)
}

/// Unmaps `[ptr, ptr + size)` and frees its frames.
///
/// # Safety
/// Nothing uses that memory any more.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasmtime_munmap(ptr: *mut u8, size: usize) -> i32 {
    let size = match page_round(size) {
        Ok(0) => return 0,
        Ok(size) => size,
        Err(e) => return code(Err(e)),
    };
    // SAFETY: wasmtime gives the range up (caller's contract).
    code(unsafe { syscall(Syscall::VmUnmap, &[ptr as usize, size]) })
}

/// Changes protections; the kernel refuses W+X (`EINVAL`).
///
/// # Safety
/// As [`wasmtime_mmap_remap`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasmtime_mprotect(ptr: *mut u8, size: usize, prot_flags: u32) -> i32 {
    code(vm_protect(ptr, size, prot_flags))
}

#[unsafe(no_mangle)]
pub extern "C" fn wasmtime_page_size() -> usize {
    PAGE_SIZE
}

/// Copy-on-write memory images: none. Storing NULL tells wasmtime to copy
/// data segments instead (the engine also sets `memory_init_cow(false)`).
///
/// # Safety
/// Called by wasmtime with `ret` valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasmtime_memory_image_new(
    _ptr: *const u8,
    _len: usize,
    ret: &mut *mut u8,
) -> i32 {
    *ret = ptr::null_mut();
    0
}

/// Never called: no image is ever created.
///
/// # Safety
/// No requirement: it only reports failure.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasmtime_memory_image_map_at(
    _image: *mut u8,
    _addr: *mut u8,
    _len: usize,
) -> i32 {
    Errno::NoSys as i32
}

/// Never called with an image (see [`wasmtime_memory_image_new`]).
///
/// # Safety
/// No requirement: there is nothing to free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasmtime_memory_image_free(_image: *mut u8) {}

/// Slots wasmtime uses: 0 for the runtime's activation state, 1 for the
/// component model's async state.
const TLS_SLOTS: usize = 2;

thread_local! {
    /// Per thread through the libOS's static TLS (a block per thread).
    static TLS: [Cell<*mut u8>; TLS_SLOTS] = const { [const { Cell::new(ptr::null_mut()) }; TLS_SLOTS] };
}

/// The calling thread's pointer in `slot` (NULL until set).
#[unsafe(no_mangle)]
pub extern "C" fn wasmtime_tls_get(slot: usize) -> *mut u8 {
    TLS.with(|slots| slots.get(slot).map_or(ptr::null_mut(), Cell::get))
}

/// Sets the calling thread's pointer in `slot`; an unknown slot is ignored
/// (wasmtime uses only the two above).
#[unsafe(no_mangle)]
pub extern "C" fn wasmtime_tls_set(slot: usize, value: *mut u8) {
    TLS.with(|slots| {
        if let Some(cell) = slots.get(slot) {
            cell.set(value);
        }
    });
}
