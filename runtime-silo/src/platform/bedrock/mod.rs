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

use bedrock_abi::user::{self, syscall};
use bedrock_abi::{Errno, SiloInfo, Syscall};
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

/// A capability for one thread, from which `ThreadCpuTime` reads its clock
/// (the running slice included); closed when the clock is dropped.
#[derive(Debug)]
pub(super) struct ThreadClock(Option<u32>);

impl ThreadClock {
    pub(super) fn current() -> Self {
        // Fails only when the handle table is full: the clock then reads
        // as ended, so CPU limits fall back to the final sample.
        Self(user::silo::thread_handle(0).ok())
    }

    pub(super) fn cpu_time(&self) -> Option<Duration> {
        let nanos = user::silo::thread_cpu_time(self.0?).ok()?;
        Some(Duration::from_nanos(nanos))
    }
}

impl Drop for ThreadClock {
    fn drop(&mut self) {
        if let Some(handle) = self.0 {
            let _ = user::ipc::close(handle);
        }
    }
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
