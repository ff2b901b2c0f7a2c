//! Futexes: hermit's wait (optional timeout, relative or absolute on the
//! monotonic clock) and wake, over Bedrock's `FutexWait`/`FutexWake`.

use bedrock_abi::user::syscall;
use bedrock_abi::{ClockId, Errno, Syscall};
use hermit_abi::{FUTEX_RELATIVE_TIMEOUT, timespec};

use crate::process::fail;
use crate::timespec::wait_ns;

hermit_fn! {
    /// 0 when woken, `-ETIMEDOUT`, `-EAGAIN` if `*address != expected`.
    fn sys_futex_wait(address: *mut u32, expected: u32, timeout: *const timespec, flags: u32) -> i32 as futex_wait {
        if address.is_null() || flags & !FUTEX_RELATIVE_TIMEOUT != 0 {
            return fail(Errno::Inval);
        }
        let relative = flags & FUTEX_RELATIVE_TIMEOUT != 0;
        let now = if relative || timeout.is_null() { 0 } else { crate::time::now(ClockId::Monotonic) };
        // SAFETY: a valid timespec or null, by the ABI's contract.
        let Some(ns) = wait_ns(unsafe { timeout.as_ref() }, relative, now) else {
            return fail(Errno::Inval);
        };
        if ns == 0 {
            return fail(Errno::TimedOut);
        }
        // SAFETY: the kernel reads the word at `address`, checked.
        match unsafe { syscall(Syscall::FutexWait, &[address as usize, expected as usize, ns as usize]) } {
            Ok(_) => 0,
            Err(e) => fail(e),
        }
    }
}

hermit_fn! {
    /// Wakes up to `count` waiters (`i32::MAX`: all); returns how many.
    fn sys_futex_wake(address: *mut u32, count: i32) -> i32 as futex_wake {
        if address.is_null() || count < 0 {
            return fail(Errno::Inval);
        }
        // SAFETY: the kernel only uses the address as a key.
        match unsafe { syscall(Syscall::FutexWake, &[address as usize, count as usize]) } {
            Ok(n) => n.min(i32::MAX as usize) as i32,
            Err(e) => fail(e),
        }
    }
}
