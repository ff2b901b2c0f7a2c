//! Hosted backend: Linux, through std and rustix, and libc for the one call
//! rustix lacks (another thread's CPU clock).

use std::io;
use std::num::NonZeroUsize;
use std::path::Path;
use std::time::Duration;

use rustix::rand::{GetRandomFlags, getrandom};

pub(super) fn online_cpus() -> NonZeroUsize {
    // Respects sched_setaffinity and cgroup CPU quotas, unlike a raw
    // sysconf(_SC_NPROCESSORS_ONLN).
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

pub(super) fn page_size() -> usize {
    rustix::param::page_size()
}

/// A thread's CPU-time clock id, from `pthread_getcpuclockid`: on Linux it
/// names the thread's kernel task, so any thread of the process may read it.
#[derive(Debug)]
pub(super) struct ThreadClock(libc::clockid_t);

impl ThreadClock {
    pub(super) fn current() -> Self {
        let mut id: libc::clockid_t = 0;
        // SAFETY: `pthread_self` is always valid for the calling thread and
        // `id` is a valid place for the answer.
        let err = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut id) };
        if err == 0 {
            Self(id)
        } else {
            // Cannot fail for the calling thread; the calling thread's clock
            // is the next best answer.
            Self(libc::CLOCK_THREAD_CPUTIME_ID)
        }
    }

    pub(super) fn cpu_time(&self) -> Option<Duration> {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid place for the answer; an id whose thread
        // has ended is answered with EINVAL, not undefined behaviour.
        if unsafe { libc::clock_gettime(self.0, &mut now) } != 0 {
            return None;
        }
        let secs = u64::try_from(now.tv_sec).unwrap_or(0);
        let nanos = u32::try_from(now.tv_nsec).unwrap_or(0);
        Some(Duration::new(secs, nanos))
    }
}

pub(super) fn fill_random(mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match getrandom(&mut *buf, GetRandomFlags::empty()) {
            Ok(filled) => buf = &mut buf[filled..],
            Err(rustix::io::Errno::INTR) => continue,
            Err(errno) => return Err(errno.into()),
        }
    }
    Ok(())
}

pub(super) fn resident_memory() -> Option<u64> {
    // statm: "size resident shared text lib data dt", all in pages.
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let resident_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    resident_pages.checked_mul(u64::try_from(page_size()).ok()?)
}

pub(super) fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    std::fs::read(path)
}

/// Hosted mode has no scheme namespace: the manager is served by `serve`
/// (a line protocol on stdin/stdout) instead.
pub(super) fn serve_silo_service(_service: crate::service::Service) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "the silo: scheme exists on Bedrock only; hosted, use `runtime-silo serve`",
    ))
}
