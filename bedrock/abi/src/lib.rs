//! The Bedrock system-call ABI, shared by the kernel and every ring-3
//! program. This crate is the single place where syscall numbers, error
//! codes and struct layouts are written down.
//!
//! Calling convention (x86_64): `syscall` with the number in `rax` and up to
//! six arguments in `rdi, rsi, rdx, r10, r8, r9`; `rcx` and `r11` are
//! clobbered. The result comes back in `rax`: a value `v` with
//! `v > -4096 as usize` (i.e. -4095..=-1 as a signed number) is an error
//! `-v` ([`Errno`]); anything else is the success value. See [`decode`].
#![no_std]

pub mod auxv;
pub mod device;
pub mod errno;
pub mod ipc;
pub mod rights;
pub mod scheme;
pub mod silo;
pub mod silo_service;
pub mod syscall;
#[cfg(target_arch = "x86_64")]
pub mod user;

pub use errno::Errno;
pub use rights::Rights;
pub use syscall::Syscall;

/// Version of this ABI; bumped on any incompatible change.
pub const ABI_VERSION: u32 = 1;

/// Encodes a syscall result into the `rax` value the kernel returns.
pub const fn encode(result: Result<usize, Errno>) -> usize {
    match result {
        Ok(v) => v,
        Err(e) => (-(e as isize)) as usize,
    }
}

/// Decodes the `rax` value of a syscall.
pub fn decode(raw: usize) -> Result<usize, Errno> {
    if raw > (-4096isize) as usize {
        Err(Errno::from_raw((raw as isize).unsigned_abs() as u32))
    } else {
        Ok(raw)
    }
}

/// Memory protection bits for [`Syscall::VmMap`] and [`Syscall::VmProtect`].
pub mod prot {
    pub const READ: usize = 1;
    pub const WRITE: usize = 2;
    pub const EXEC: usize = 4;
    /// Every defined bit; others are an error (`Errno::Inval`).
    pub const ALL: usize = READ | WRITE | EXEC;
}

/// Clocks for [`Syscall::ClockGet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum ClockId {
    /// Nanoseconds since boot; never goes backwards.
    Monotonic = 0,
    /// Nanoseconds since 1970-01-01 UTC.
    Realtime = 1,
    /// CPU time consumed by the calling thread, in nanoseconds.
    ThreadCpu = 2,
}

impl ClockId {
    pub const fn from_raw(v: usize) -> Option<Self> {
        match v {
            0 => Some(Self::Monotonic),
            1 => Some(Self::Realtime),
            2 => Some(Self::ThreadCpu),
            _ => None,
        }
    }
}

/// Filled by [`Syscall::SiloInfo`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct SiloInfo {
    pub abi_version: u32,
    pub online_cpus: u32,
    pub silo_id: u64,
    /// Live threads of the silo.
    pub threads: u64,
    /// CPU time of all the silo's threads, exited ones included.
    pub cpu_time_ns: u64,
    /// Bytes of memory mapped for the silo (committed pages).
    pub memory_bytes: u64,
}

/// One silo, as [`Syscall::SysSilos`] reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct SiloRecord {
    pub id: u64,
    pub threads: u64,
    pub cpu_time_ns: u64,
    pub memory_bytes: u64,
    /// UTF-8, NUL-padded (cut at 32 bytes).
    pub name: [u8; 32],
}

/// One CPU, as [`Syscall::SysCpus`] reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct CpuRecord {
    pub index: u32,
    pub apic_id: u32,
    /// Time the CPU spent idle since boot.
    pub idle_ns: u64,
}

/// Kernel-wide resource counters, as [`Syscall::SysCounters`] reports
/// them: what a leak test compares before and after a workload. Each is
/// read on its own, so a busy system may show them mutually inconsistent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct KernelCounters {
    /// Physical frames the frame allocator manages.
    pub frames_total: u64,
    /// Of those, free now.
    pub frames_free: u64,
    /// Bytes the kernel heap took from the frame allocator (it keeps them).
    pub heap_claimed_bytes: u64,
    /// Bytes allocated from the kernel heap now.
    pub heap_used_bytes: u64,
    /// Live kernel heap allocations.
    pub heap_allocations: u64,
    /// Bytes of thread kernel stacks kept for reuse (allocated frames that
    /// no thread uses).
    pub stack_cache_bytes: u64,
    /// Handles in all silos' handle tables.
    pub handles: u64,
    /// Kernel threads not yet freed (idle threads, kernel threads and the
    /// threads of silos, including exited ones something still holds).
    pub threads: u64,
    /// Live silos.
    pub silos: u64,
    /// Scheme names served (registered to a port that can still receive).
    pub scheme_names: u64,
}

/// Largest single [`Syscall::LogWrite`] or [`Syscall::RandomBytes`] transfer.
pub const MAX_IO_CHUNK: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn result_encoding_round_trips() {
        for v in [0usize, 1, 4096, usize::MAX - 4095, 0x7fff_ffff_ffff] {
            assert_eq!(decode(encode(Ok(v))), Ok(v));
        }
        for e in [
            Errno::Perm,
            Errno::Fault,
            Errno::Inval,
            Errno::NoSys,
            Errno::TimedOut,
        ] {
            assert_eq!(decode(encode(Err(e))), Err(e));
        }
        assert_eq!(decode(usize::MAX), Err(Errno::Perm));
    }

    #[test]
    fn kernel_counters_have_no_padding() {
        // Ten u64 fields and nothing else: no kernel bytes can leak
        // through padding when the record is copied out whole.
        assert_eq!(core::mem::size_of::<KernelCounters>(), 10 * 8);
    }
}
