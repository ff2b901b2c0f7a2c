//! Clocks: hermit's `CLOCK_MONOTONIC` and `CLOCK_REALTIME` (and the
//! thread CPU clock) from `ClockGet`.

use bedrock_abi::user::syscall;
use bedrock_abi::{ClockId, Errno, Syscall};
use hermit_abi::{CLOCK_MONOTONIC, CLOCK_REALTIME, clockid_t, timespec};

use crate::process::fail;
use crate::timespec::from_ns;

/// Linux's `CLOCK_THREAD_CPUTIME_ID` (hermit-abi names none).
const CLOCK_THREAD_CPUTIME_ID: clockid_t = 3;

/// Nanoseconds on `clock`.
pub fn now(clock: ClockId) -> u64 {
    // SAFETY: ClockGet takes no pointers.
    unsafe { syscall(Syscall::ClockGet, &[clock as usize]) }.unwrap_or(0) as u64
}

hermit_fn! {
    fn sys_clock_gettime(clockid: clockid_t, tp: *mut timespec) -> i32 as clock_gettime {
        let clock = match clockid {
            CLOCK_MONOTONIC => ClockId::Monotonic,
            CLOCK_REALTIME => ClockId::Realtime,
            CLOCK_THREAD_CPUTIME_ID => ClockId::ThreadCpu,
            _ => return fail(Errno::Inval),
        };
        if tp.is_null() {
            return fail(Errno::Fault);
        }
        // SAFETY: a valid out pointer, by the ABI's contract.
        unsafe { tp.write(from_ns(now(clock))) };
        0
    }
}
