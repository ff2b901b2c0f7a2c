//! Virtual memory for the libOS (heap arenas, thread stacks, TLS blocks)
//! and the hermit ABI's mmap family over `VmMap`/`VmUnmap`/`VmProtect`.

use bedrock_abi::user::syscall;
use bedrock_abi::{Errno, Syscall, prot};

use crate::errno::to_hermit;

pub const PAGE_SIZE: usize = 4096;

/// Reserves `len` bytes (page-rounded) of demand-zero memory.
pub fn map(len: usize, protection: usize) -> Result<usize, Errno> {
    let len = len
        .checked_next_multiple_of(PAGE_SIZE)
        .ok_or(Errno::NoMem)?;
    // SAFETY: VmMap reads no memory of ours.
    unsafe { syscall(Syscall::VmMap, &[0, len, protection]) }
}

/// Gives back `[addr, addr + len)`.
///
/// # Safety
/// Nothing may use that memory any more.
pub unsafe fn unmap(addr: usize, len: usize) -> Result<(), Errno> {
    let len = len.next_multiple_of(PAGE_SIZE);
    // SAFETY: the caller gives the range up.
    unsafe { syscall(Syscall::VmUnmap, &[addr, len]) }.map(drop)
}

/// Changes the protection of `[addr, addr + len)` (`0`: no access).
///
/// # Safety
/// Nothing may rely on the old protection.
pub unsafe fn protect(addr: usize, len: usize, protection: usize) -> Result<(), Errno> {
    // SAFETY: the caller's promise.
    unsafe { syscall(Syscall::VmProtect, &[addr, len, protection]) }.map(drop)
}

hermit_fn! {
    fn sys_getpagesize() -> i32 as getpagesize {
        PAGE_SIZE as i32
    }
}

hermit_fn! {
    /// `mmap(size, prot, &mut out)`: demand-zero memory anywhere.
    fn sys_mmap(size: usize, prot_flags: u32, ret: &mut *mut u8) -> i32 as mmap {
        match map(size, prot_flags as usize & prot::ALL) {
            Ok(addr) => {
                *ret = addr as *mut u8;
                0
            }
            Err(e) => -to_hermit(e),
        }
    }
}

hermit_fn! {
    fn sys_munmap(ptr: *mut u8, size: usize) -> i32 as munmap {
        // SAFETY: the caller unmaps memory it got from sys_mmap.
        match unsafe { unmap(ptr as usize, size) } {
            Ok(()) => 0,
            Err(e) => -to_hermit(e),
        }
    }
}

hermit_fn! {
    fn sys_mprotect(ptr: *mut u8, size: usize, prot_flags: u32) -> i32 as mprotect {
        // SAFETY: the caller's business, as with mprotect(2); the kernel
        // refuses W+X and ranges that are not mapped.
        match unsafe { protect(ptr as usize, size, prot_flags as usize) } {
            Ok(()) => 0,
            Err(e) => -to_hermit(e),
        }
    }
}
