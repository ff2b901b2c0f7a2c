//! System call numbers and their arguments.
//!
//! Each variant documents `(arguments) -> result`. Pointer arguments are
//! user addresses; the kernel checks every one and answers
//! [`Errno::Fault`](crate::Errno::Fault) instead of faulting.

/// A system call number (`rax`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
#[non_exhaustive]
pub enum Syscall {
    /// `(code: i32) -> !`: ends the whole silo with `code`.
    Exit = 0,
    /// `(entry: fn(arg), stack_top, arg, tls_base) -> thread id`: starts a
    /// thread in the caller's silo at `entry` with `rdi = arg`, `rsp =
    /// stack_top` (16-byte aligned minus 8, as after a call) and FS base
    /// `tls_base`.
    ThreadCreate = 1,
    /// `(code: i32) -> !`: ends the calling thread; the silo ends with the
    /// code of its last thread.
    ThreadExit = 2,
    /// `(thread id) -> exit code`: waits for a thread of the same silo.
    ThreadJoin = 3,
    /// `() -> 0`.
    Yield = 4,
    /// `(nanoseconds) -> 0`: sleeps at least that long.
    Sleep = 5,
    /// `(addr: *const u32, expected: u32, timeout_ns: u64 or u64::MAX) -> 0`:
    /// blocks while `*addr == expected`, until woken or timed out
    /// (`TimedOut`); `Again` if the value differed.
    FutexWait = 6,
    /// `(addr: *const u32, count) -> woken`: wakes up to `count` waiters.
    FutexWake = 7,
    /// `(clock: ClockId) -> nanoseconds`.
    ClockGet = 8,
    /// `(addr hint or 0, len, prot) -> addr`: reserves demand-zero memory;
    /// pages are allocated on first touch. W and X together are refused.
    VmMap = 9,
    /// `(addr, len) -> 0`.
    VmUnmap = 10,
    /// `(addr, len, prot) -> 0`: W and X together are refused.
    VmProtect = 11,
    /// `(base) -> 0`: sets the calling thread's FS base (TLS).
    SetFsBase = 12,
    /// `(ptr, len) -> len`: writes bytes to the kernel log, tagged with the silo.
    LogWrite = 13,
    /// `(ptr, len) -> len`: fills the buffer with random bytes.
    RandomBytes = 14,
    /// `(info: *mut SiloInfo) -> 0`.
    SiloInfo = 15,
}

impl Syscall {
    const ALL: [Syscall; 16] = [
        Syscall::Exit,
        Syscall::ThreadCreate,
        Syscall::ThreadExit,
        Syscall::ThreadJoin,
        Syscall::Yield,
        Syscall::Sleep,
        Syscall::FutexWait,
        Syscall::FutexWake,
        Syscall::ClockGet,
        Syscall::VmMap,
        Syscall::VmUnmap,
        Syscall::VmProtect,
        Syscall::SetFsBase,
        Syscall::LogWrite,
        Syscall::RandomBytes,
        Syscall::SiloInfo,
    ];

    pub fn from_raw(n: usize) -> Option<Syscall> {
        Self::ALL.get(n).copied().filter(|s| *s as usize == n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_dense_and_round_trip() {
        for (i, s) in Syscall::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
            assert_eq!(Syscall::from_raw(i), Some(*s));
        }
        assert_eq!(Syscall::from_raw(Syscall::ALL.len()), None);
        assert_eq!(Syscall::from_raw(usize::MAX), None);
    }
}
