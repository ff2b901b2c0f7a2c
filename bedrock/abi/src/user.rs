//! Raw system calls for ring-3 programs (x86_64).

use crate::{Errno, Syscall, decode};

/// Issues system call `n` with up to six arguments.
///
/// # Safety
/// The arguments must satisfy the call's contract (see [`Syscall`]):
/// pointers must be valid for the access the call makes.
#[inline]
pub unsafe fn syscall6(n: Syscall, a: [usize; 6]) -> Result<usize, Errno> {
    let ret: usize;
    // SAFETY: the `syscall` instruction clobbers rcx and r11 only; memory
    // effects are the kernel's, covered by the caller's contract.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") n as usize => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    decode(ret)
}

/// A call with fewer arguments (the rest are zero).
///
/// # Safety
/// As [`syscall6`].
#[inline]
pub unsafe fn syscall(n: Syscall, args: &[usize]) -> Result<usize, Errno> {
    let mut a = [0usize; 6];
    a[..args.len().min(6)].copy_from_slice(&args[..args.len().min(6)]);
    // SAFETY: forwarded contract.
    unsafe { syscall6(n, a) }
}

/// Ends the silo.
pub fn exit(code: i32) -> ! {
    // SAFETY: Exit takes no pointers.
    let _ = unsafe { syscall(Syscall::Exit, &[code as usize]) };
    unreachable!("exit returned");
}

/// Writes `msg` to the kernel log.
pub fn log(msg: &[u8]) -> Result<usize, Errno> {
    // SAFETY: `msg` is valid for reads of its length.
    unsafe { syscall(Syscall::LogWrite, &[msg.as_ptr() as usize, msg.len()]) }
}
