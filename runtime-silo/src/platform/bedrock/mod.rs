//! Bedrock backend: the runtime silo as a native silo (`x86_64-unknown-hermit`
//! over the native-silo libOS, which provides std), plus the wasmtime
//! platform hooks of [`hooks`] and the read-only boot-archive files of
//! [`boot_files`].

mod boot_files;
mod hooks;
mod service;

use std::io;
use std::num::NonZeroUsize;
use std::time::Duration;

use bedrock_abi::user::syscall;
use bedrock_abi::{ClockId, Errno, SiloInfo, Syscall};
// The libOS defines the hermit ABI std calls; nothing names it otherwise.
use bedrock_native_silo as _;

pub(super) use boot_files::read_file;
pub(super) use service::serve_silo_service;

pub(super) fn online_cpus() -> NonZeroUsize {
    // The libOS answers from `SiloInfo::online_cpus`.
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

pub(super) fn page_size() -> usize {
    hooks::PAGE_SIZE
}

pub(super) fn thread_cpu_time() -> Duration {
    // SAFETY: ClockGet reads no memory of ours.
    let nanos = unsafe { syscall(Syscall::ClockGet, &[ClockId::ThreadCpu as usize]) };
    Duration::from_nanos(nanos.map_or(0, |n| n as u64))
}

pub(super) fn fill_random(mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        // SAFETY: `buf` is valid for writes of its length.
        let filled = unsafe {
            syscall(
                Syscall::RandomBytes,
                &[buf.as_mut_ptr() as usize, buf.len()],
            )
        }
        .map_err(io_error)?;
        let filled = filled.min(buf.len());
        buf = &mut buf[filled..];
    }
    Ok(())
}

pub(super) fn resident_memory() -> Option<u64> {
    let mut info = SiloInfo::default();
    // SAFETY: `info` is a valid, writable `SiloInfo`.
    unsafe { syscall(Syscall::SiloInfo, &[&raw mut info as usize]) }.ok()?;
    Some(info.memory_bytes)
}

/// Bedrock's errno numbers are Linux's, so std can name them.
fn io_error(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}
