//! The Linux anchor of `cargo xtask bench`: run as `/init` of an initramfs
//! (a static glibc build, see xtask/src/bench/linux.rs), it runs the same
//! benchmarks as Bedrock's `usertest bench` (`bedrock-bench-core`) over
//! Linux system calls, prints their lines on the console and powers the
//! machine off. Run by hand on any Linux (not as PID 1) it just prints.
//!
//! Arguments (after `--` on the kernel command line): `quick` or `full`.

use std::ffi::CStr;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::AtomicU32;

use bedrock_bench_core::{Config, Error, Os, Record, run};

/// Linux through libc, one system call per operation.
struct Linux;

impl Os for Linux {
    fn null_syscall(&self) {
        // SAFETY: getppid takes no arguments and cannot fail. The raw
        // syscall (not glibc's getppid, which might one day cache) makes
        // every call enter the kernel.
        unsafe { libc::syscall(libc::SYS_getppid) };
    }

    fn futex_wait(&self, word: &AtomicU32, expected: u32) {
        // SAFETY: `word` is a live, aligned u32; no timeout. EAGAIN and
        // EINTR are fine: the caller re-checks the word.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                std::ptr::null::<libc::timespec>(),
            )
        };
    }

    fn futex_wake(&self, word: &AtomicU32) {
        // SAFETY: as above; wakes at most one waiter.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                1,
            )
        };
    }

    fn map(&self, len: usize) -> Result<*mut u8, Error> {
        // SAFETY: a fresh anonymous private mapping; nothing is replaced.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err("mmap failed");
        }
        // Debian's kernel has transparent huge pages `always`: without this
        // one fault would fill 2 MiB, and Bedrock's 4 KiB faults would be
        // compared with something else.
        // SAFETY: advice on the mapping just made.
        if unsafe { libc::madvise(ptr, len, libc::MADV_NOHUGEPAGE) } != 0 {
            return Err("madvise(MADV_NOHUGEPAGE) failed");
        }
        Ok(ptr.cast())
    }

    fn unmap(&self, ptr: *mut u8, len: usize) -> Result<(), Error> {
        // SAFETY: `ptr` and `len` come from `map`.
        match unsafe { libc::munmap(ptr.cast(), len) } {
            0 => Ok(()),
            _ => Err("munmap failed"),
        }
    }

    fn cpus(&self) -> usize {
        // SAFETY: sysconf has no memory effects.
        let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        usize::try_from(n).unwrap_or(1).max(1)
    }

    fn pin(&self, cpu: usize) -> Result<(), Error> {
        // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET stays within
        // it for cpu < CPU_SETSIZE, checked first. sched_setaffinity moves
        // the calling thread before it returns.
        unsafe {
            if cpu >= libc::CPU_SETSIZE as usize {
                return Err("CPU number too large");
            }
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err("sched_setaffinity failed");
            }
        }
        Ok(())
    }

    fn cpu(&self) -> Option<usize> {
        // SAFETY: no arguments.
        usize::try_from(unsafe { libc::sched_getcpu() }).ok()
    }

    fn pair<R>(&self, me: impl FnOnce() -> R, partner: impl FnOnce() + Send) -> Result<R, Error> {
        std::thread::scope(|scope| {
            let partner = std::thread::Builder::new()
                .spawn_scoped(scope, partner)
                .map_err(|_| "cannot create the partner thread")?;
            let result = me();
            partner.join().map_err(|_| "the partner thread panicked")?;
            Ok(result)
        })
    }

    fn print(&self, line: std::fmt::Arguments<'_>) {
        let mut out = std::io::stdout().lock();
        // The console is the only output there is; nothing to do on failure.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

fn main() -> ExitCode {
    let is_init = std::process::id() == 1;
    if is_init {
        mount_filesystems();
    }
    print_facts();
    let mode = std::env::args().nth(1);
    let result = match Config::from_arg(mode.as_deref()) {
        Ok(config) => run(&Linux, &config),
        Err(why) => {
            Linux.print(format_args!("{}", Record::Error(why)));
            Err(why)
        }
    };
    if is_init {
        power_off();
    }
    if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `/sys` for the facts below, devtmpfs on `/dev` for everything else a
/// program may open. Best effort: the benchmarks need neither.
fn mount_filesystems() {
    for (what, dir, fstype) in [
        (c"devtmpfs", c"/dev", c"devtmpfs"),
        (c"sysfs", c"/sys", c"sysfs"),
    ] {
        // SAFETY: NUL-terminated strings; mount has no other memory effects.
        let failed = unsafe {
            libc::mkdir(dir.as_ptr(), 0o755);
            libc::mount(
                what.as_ptr(),
                dir.as_ptr(),
                fstype.as_ptr(),
                0,
                std::ptr::null(),
            )
        } != 0;
        if failed {
            let error = std::io::Error::last_os_error();
            let text = format!("mounting {} failed: {error}", dir.to_string_lossy());
            Linux.print(format_args!("{}", Record::Info("setup", &text)));
        }
    }
}

/// The kernel release and the mitigations it chose: they explain figures.
fn print_facts() {
    // SAFETY: uname fills the zeroed struct with NUL-terminated strings.
    let release = unsafe {
        let mut name: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut name) == 0 {
            CStr::from_ptr(name.release.as_ptr())
                .to_string_lossy()
                .into_owned()
        } else {
            "unknown".to_owned()
        }
    };
    Linux.print(format_args!("{}", Record::Info("kernel", &release)));
    for bug in ["meltdown", "spectre_v2"] {
        let path = format!("/sys/devices/system/cpu/vulnerabilities/{bug}");
        if let Ok(text) = std::fs::read_to_string(path) {
            Linux.print(format_args!("{}", Record::Info(bug, &text.trim())));
        }
    }
}

/// PID 1 must not exit (the kernel would panic): power off instead.
fn power_off() {
    // SAFETY: plain system calls without pointers.
    unsafe {
        libc::sync();
        libc::reboot(libc::RB_POWER_OFF);
    }
    // Still here: reboot failed. Returning from main ends PID 1 and the
    // kernel panics, which `panic=-1` and QEMU's -no-reboot turn into an exit.
    let error = std::io::Error::last_os_error();
    let text = format!("power off failed: {error}");
    Linux.print(format_args!("{}", Record::Info("setup", &text)));
}
