//! Copying between kernel and user memory without trusting the pointer.
//!
//! The copy is one `rep movsb` at a known address. If it faults, the page
//! fault handler first tries to resolve the fault for the current silo
//! (demand-zero pages); if that fails it resumes at the fixup, which makes
//! the copy return an error instead of crashing the kernel. Ranges are
//! checked to lie in the user half before any byte moves, so a user
//! pointer can never make the kernel touch kernel memory.

use core::arch::global_asm;

use super::idt::TrapFrame;

/// First address above user space (the canonical lower half).
pub const USER_END: u64 = 0x0000_8000_0000_0000;

global_asm!(
    r#"
    .section .text.usercopy, "ax"
    .global bedrock_copy_user
bedrock_copy_user:
    movq %rdx, %rcx
    .global bedrock_usercopy_insn
bedrock_usercopy_insn:
    rep movsb
    xorl %eax, %eax
    ret
    .global bedrock_usercopy_fault
bedrock_usercopy_fault:
    movl $1, %eax
    ret
"#,
    options(att_syntax)
);

use alloc::vec::Vec;

unsafe extern "C" {
    fn bedrock_copy_user(dst: *mut u8, src: *const u8, len: usize) -> u32;
    fn bedrock_usercopy_insn();
    fn bedrock_usercopy_fault();
}

/// A user pointer that is out of range or not mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadUserPointer;

/// True when `[addr, addr + len)` lies inside user space.
pub fn user_range_ok(addr: u64, len: usize) -> bool {
    addr.checked_add(len as u64)
        .is_some_and(|end| end <= USER_END)
}

/// Copies `dst.len()` bytes from user address `src`.
pub fn copy_from_user(dst: &mut [u8], src: u64) -> Result<(), BadUserPointer> {
    if !user_range_ok(src, dst.len()) {
        return Err(BadUserPointer);
    }
    // SAFETY: `dst` is a valid kernel buffer; `src` is checked to be in
    // user space, and faults on it are caught (see `fixup`).
    match unsafe { bedrock_copy_user(dst.as_mut_ptr(), src as *const u8, dst.len()) } {
        0 => Ok(()),
        _ => Err(BadUserPointer),
    }
}

/// Copies `len` bytes from user address `src` into a new vector, without
/// zero-filling it first (large copies, e.g. `SiloSpawn` images: a memset
/// of megabytes is far slower than the copy under emulation). `None` if
/// the memory cannot be had.
pub fn copy_vec_from_user(src: u64, len: usize) -> Option<Result<Vec<u8>, BadUserPointer>> {
    if !user_range_ok(src, len) {
        return Some(Err(BadUserPointer));
    }
    let mut buf: Vec<u8> = Vec::new();
    buf.try_reserve_exact(len).ok()?;
    // SAFETY: the vector has room for `len` bytes; `src` is checked to be
    // in user space and faults on it are caught (see `fixup`).
    if unsafe { bedrock_copy_user(buf.as_mut_ptr(), src as *const u8, len) } != 0 {
        return Some(Err(BadUserPointer));
    }
    // SAFETY: the copy initialised all `len` bytes.
    unsafe { buf.set_len(len) };
    Some(Ok(buf))
}

/// Copies `src` to user address `dst`.
pub fn copy_to_user(dst: u64, src: &[u8]) -> Result<(), BadUserPointer> {
    if !user_range_ok(dst, src.len()) {
        return Err(BadUserPointer);
    }
    // SAFETY: as in `copy_from_user`, with roles swapped.
    match unsafe { bedrock_copy_user(dst as *mut u8, src.as_ptr(), src.len()) } {
        0 => Ok(()),
        _ => Err(BadUserPointer),
    }
}

/// Page fault in kernel mode: if it hit the user copy, resolve it for the
/// current silo or redirect the copy to its error return. True if handled.
pub fn fixup(frame: &mut TrapFrame) -> bool {
    if frame.rip != bedrock_usercopy_insn as *const () as u64 {
        return false;
    }
    let addr = x86_64::registers::control::Cr2::read_raw();
    let write = frame.error & 2 != 0;
    if addr < USER_END && crate::silo::resolve_fault(addr, write) {
        return true;
    }
    frame.rip = bedrock_usercopy_fault as *const () as u64;
    true
}
