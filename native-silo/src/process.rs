//! Ending the program, and the per-thread errno of the hermit ABI.
//!
//! `sys_exit(status)` ends the whole silo with `status`; `sys_abort` (std
//! calls it after printing a panic, in any thread) with [`ABORT_STATUS`],
//! so a panicking program ends with a failure status the parent and the
//! kernel log see, instead of hanging. Buffered stdio is flushed first.

use core::sync::atomic::Ordering;

use bedrock_abi::user::{log, syscall};
use bedrock_abi::{Errno, Syscall};

use crate::errno::to_hermit;
use crate::tls::Tcb;

/// Status of an aborted program: 128 + SIGABRT, as a shell reports it.
pub const ABORT_STATUS: i32 = 134;

/// Ends the silo; never returns.
fn exit_silo(status: i32) -> ! {
    // SAFETY: Exit takes no pointers.
    let _ = unsafe { syscall(Syscall::Exit, &[status as u32 as usize]) };
    // Exit cannot fail for a live silo; make sure we never come back.
    loop {
        core::hint::spin_loop();
    }
}

/// Reports `msg` to the kernel log and aborts: for failures before or
/// beneath std (no allocation, no TLS needed).
pub fn die(msg: &[u8]) -> ! {
    let _ = log(msg);
    exit_silo(ABORT_STATUS)
}

/// The calling thread's control block.
fn tcb() -> *mut Tcb {
    let tp: usize;
    // SAFETY: reads fs:0, the TCB's self pointer, set up by `start` or
    // `thread` before any code that calls this runs.
    unsafe {
        core::arch::asm!("mov {}, fs:0", out(reg) tp, options(nostack, readonly, preserves_flags))
    };
    tp as *mut Tcb
}

/// Records `e` as the thread's errno and returns the ABI's `-errno`.
pub fn fail(e: Errno) -> i32 {
    let n = to_hermit(e);
    // SAFETY: the TCB belongs to this thread alone.
    unsafe { (*tcb()).errno = n };
    -n
}

hermit_fn! {
    fn sys_get_errno() -> i32 as get_errno {
        // SAFETY: as in `fail`.
        unsafe { (*tcb()).errno }
    }
}

hermit_fn! {
    fn sys_errno() -> i32 as errno {
        // SAFETY: as in `fail`.
        unsafe { (*tcb()).errno }
    }
}

hermit_fn! {
    fn sys_exit(status: i32) -> ! as exit {
        crate::stdio::flush_all();
        exit_silo(status)
    }
}

hermit_fn! {
    fn sys_abort() -> ! as abort {
        crate::stdio::flush_all();
        let _ = log(b"native-silo: aborted\n");
        exit_silo(ABORT_STATUS)
    }
}

hermit_fn! {
    /// The silo id (a silo is this ABI's process).
    fn sys_getpid() -> i32 as getpid {
        crate::start::SILO_ID.load(Ordering::Relaxed) as i32
    }
}
