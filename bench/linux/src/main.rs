//! The Linux anchor of `cargo xtask bench`: run as `/init` of an initramfs
//! (a static glibc build, see xtask/src/bench/linux.rs), it runs the same
//! benchmarks as Bedrock's `usertest bench` (`bedrock-bench-core`) over
//! Linux system calls and prints their lines on the console, then runs the
//! std benchmark program `/std-bench` and the runtime silo's wasm
//! benchmark (`/runtime-silo bench --guest`), and powers the machine off.
//! Run by hand on any Linux (not as PID 1) it just prints (and needs
//! `/std-bench` and `/runtime-silo`).
//!
//! Arguments (after `--` on the kernel command line): `quick` or `full`.

use std::ffi::CStr;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use bedrock_bench_core::{BULK_CHUNK, Config, Error, Os, Record, Service, file_byte, run};

/// Linux through libc, one system call per operation.
struct Linux;

/// The std benchmark program (`examples/native/std-bench`, static), put
/// next to `/init` in the initramfs by xtask.
const STD_BENCH: &str = "/std-bench";
/// The runtime silo (a static Linux build of `runtime-silo`), with
/// `/hello.wasm` and `/compute.wasm` beside it.
const RUNTIME_SILO: &str = "/runtime-silo";

/// The echo mechanisms, in [`Os::echo_mechanisms`] order.
const PIPE: usize = 0;
const FUTEX: usize = 1;
/// Asks a peer to answer once more and end.
const STOP: u64 = u64::MAX;

/// A futex ping-pong's state, in memory both processes map.
#[repr(C)]
struct Shared {
    /// Odd: the peer's move; even: the caller's.
    turn: AtomicU32,
    value: AtomicU64,
}

/// How the caller reaches its peer process.
enum Channel {
    /// Two pipes (request, answer): 8-byte values.
    Pipe { to: libc::c_int, from: libc::c_int },
    /// A shared futex word (not process-private).
    Futex(*mut Shared),
    /// Two eventfds (request, answer).
    Eventfd { to: libc::c_int, from: libc::c_int },
}

pub struct Peer {
    pid: libc::pid_t,
    channel: Channel,
}

pub struct File {
    fd: libc::c_int,
    buf: Vec<u8>,
}

fn check(ret: libc::c_int, why: Error) -> Result<libc::c_int, Error> {
    if ret < 0 { Err(why) } else { Ok(ret) }
}

fn write_u64(fd: libc::c_int, v: u64) -> Result<(), Error> {
    // SAFETY: writes the 8 bytes of a local.
    let n = unsafe { libc::write(fd, (&v as *const u64).cast(), 8) };
    if n == 8 {
        Ok(())
    } else {
        Err("write to peer failed")
    }
}

fn read_u64(fd: libc::c_int) -> Result<u64, Error> {
    let mut v = 0u64;
    // SAFETY: reads into the 8 bytes of a local.
    let n = unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
    if n == 8 {
        Ok(v)
    } else {
        Err("read from peer failed")
    }
}

/// FUTEX_WAIT/WAKE on memory shared between processes (no PRIVATE flag).
fn shared_futex(word: &AtomicU32, op: libc::c_int, val: u32) {
    // SAFETY: `word` is a live aligned u32 in a shared mapping; no timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            op,
            val,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

/// The peer's side: answers until STOP (after answering it), then exits.
fn serve(service: Service, channel: &Channel) -> ! {
    loop {
        let stop = match *channel {
            Channel::Pipe { to, from } | Channel::Eventfd { to, from } => {
                let Ok(v) = read_u64(from) else { break };
                let stop = v >= STOP - 1;
                let answer = if service == Service::Echo && !stop {
                    v + 1
                } else {
                    1
                };
                if write_u64(to, answer).is_err() {
                    break;
                }
                stop
            }
            Channel::Futex(shared) => {
                // SAFETY: the mapping lives until this process exits.
                let shared = unsafe { &*shared };
                let mut now = shared.turn.load(Ordering::Acquire);
                while now.is_multiple_of(2) {
                    shared_futex(&shared.turn, libc::FUTEX_WAIT, now);
                    now = shared.turn.load(Ordering::Acquire);
                }
                let v = shared.value.load(Ordering::Relaxed);
                shared.value.store(v.wrapping_add(1), Ordering::Relaxed);
                shared.turn.store(now + 1, Ordering::Release);
                shared_futex(&shared.turn, libc::FUTEX_WAKE, 1);
                v == STOP
            }
        };
        if stop {
            break;
        }
    }
    // SAFETY: ends the forked child without running the parent's atexit
    // handlers or flushing its stdio buffers a second time.
    unsafe { libc::_exit(0) }
}

impl Os for Linux {
    type Peer = Peer;
    type File = File;

    fn now_ns(&self) -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: fills the local.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    fn echo_mechanisms(&self) -> &'static [&'static str] {
        &["pipe", "futex"]
    }

    fn peer_start(&self, service: Service, mechanism: usize, cpu: usize) -> Result<Peer, Error> {
        let channel = match (service, mechanism) {
            (Service::Echo, PIPE) => {
                let (mut a, mut b) = ([0; 2], [0; 2]);
                // SAFETY: pipe fills the two-element arrays.
                check(unsafe { libc::pipe(a.as_mut_ptr()) }, "pipe failed")?;
                // SAFETY: as above.
                check(unsafe { libc::pipe(b.as_mut_ptr()) }, "pipe failed")?;
                // Caller: writes a[1], reads b[0]; the peer swaps (below).
                Channel::Pipe {
                    to: a[1],
                    from: b[0],
                }
                .with_peer_ends(a[0], b[1])
            }
            (Service::Echo, FUTEX) => {
                // SAFETY: a fresh shared anonymous mapping, zeroed.
                let ptr = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        4096,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                        -1,
                        0,
                    )
                };
                if ptr == libc::MAP_FAILED {
                    return Err("mmap of the shared futex page failed");
                }
                (Channel::Futex(ptr.cast()), Channel::Futex(ptr.cast()))
            }
            (Service::Echo, _) => return Err("unknown echo mechanism"),
            (Service::Notify, _) => {
                // SAFETY: plain system calls.
                let a = check(unsafe { libc::eventfd(0, 0) }, "eventfd failed")?;
                // SAFETY: as above.
                let b = check(unsafe { libc::eventfd(0, 0) }, "eventfd failed")?;
                (
                    Channel::Eventfd { to: a, from: b },
                    Channel::Eventfd { to: b, from: a },
                )
            }
        };
        let (mine, theirs) = channel;
        // SAFETY: the child only makes system calls and then `_exit`s.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err("fork failed");
        }
        if pid == 0 {
            let _ = self.pin(cpu);
            serve(service, &theirs);
        }
        if let Channel::Pipe { to, from } = theirs {
            close_all(&[to, from]);
        }
        Ok(Peer { pid, channel: mine })
    }

    fn peer_round_trip(&self, peer: &mut Peer, value: u64) -> Result<u64, Error> {
        match peer.channel {
            Channel::Pipe { to, from } => {
                write_u64(to, value)?;
                read_u64(from)
            }
            Channel::Eventfd { to, from } => {
                write_u64(to, 1)?;
                read_u64(from)
            }
            Channel::Futex(shared) => {
                // SAFETY: mapped until `peer_stop`.
                let shared = unsafe { &*shared };
                shared.value.store(value, Ordering::Relaxed);
                let mine = shared.turn.load(Ordering::Acquire);
                shared.turn.store(mine + 1, Ordering::Release);
                shared_futex(&shared.turn, libc::FUTEX_WAKE, 1);
                loop {
                    let now = shared.turn.load(Ordering::Acquire);
                    if now == mine + 2 {
                        return Ok(shared.value.load(Ordering::Relaxed));
                    }
                    shared_futex(&shared.turn, libc::FUTEX_WAIT, now);
                }
            }
        }
    }

    fn peer_stop(&self, mut peer: Peer) -> Result<(), Error> {
        match peer.channel {
            Channel::Eventfd { to, from } => {
                // An eventfd adds up what is written: a huge count is STOP.
                write_u64(to, STOP - 1)?;
                read_u64(from)?;
                close_all(&[to, from]);
            }
            _ => {
                self.peer_round_trip(&mut peer, STOP)?;
            }
        }
        let mut status = 0;
        // SAFETY: waits for our own child.
        if unsafe { libc::waitpid(peer.pid, &mut status, 0) } != peer.pid {
            return Err("waitpid failed");
        }
        match peer.channel {
            Channel::Pipe { to, from } => close_all(&[to, from]),
            // SAFETY: the page mapped in `peer_start`; the child is gone.
            Channel::Futex(shared) => unsafe {
                libc::munmap(shared.cast(), 4096);
            },
            Channel::Eventfd { .. } => {}
        }
        if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
            Ok(())
        } else {
            Err("the peer process failed")
        }
    }

    fn file_open(&self, size: usize) -> Result<File, Error> {
        let path = c"/tmp/bench-file";
        // SAFETY: NUL-terminated path; plain system calls on our own fd.
        let fd = check(
            unsafe {
                libc::open(
                    path.as_ptr(),
                    libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC,
                    0o600,
                )
            },
            "cannot create /tmp/bench-file",
        )?;
        let mut buf = vec![0u8; BULK_CHUNK];
        for offset in (0..size).step_by(BULK_CHUNK) {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = file_byte((offset + i) as u64);
            }
            // SAFETY: writes from our buffer.
            let n = unsafe { libc::write(fd, buf.as_ptr().cast(), BULK_CHUNK) };
            if n != BULK_CHUNK as isize {
                return Err("cannot write /tmp/bench-file");
            }
        }
        Ok(File { fd, buf })
    }

    fn file_read<'f>(
        &self,
        file: &'f mut File,
        offset: u64,
        len: usize,
    ) -> Result<&'f [u8], Error> {
        if len > file.buf.len() {
            file.buf.resize(len, 0);
        }
        // SAFETY: reads into our buffer, at most its length.
        let n = unsafe {
            libc::pread(
                file.fd,
                file.buf.as_mut_ptr().cast(),
                len,
                offset as libc::off_t,
            )
        };
        let n = usize::try_from(n).map_err(|_| "pread failed")?;
        Ok(&file.buf[..n])
    }

    fn file_close(&self, file: File) -> Result<(), Error> {
        close_all(&[file.fd]);
        // SAFETY: NUL-terminated path.
        unsafe { libc::unlink(c"/tmp/bench-file".as_ptr()) };
        Ok(())
    }

    fn run_std_bench(&self, mode: &str) -> Result<(), Error> {
        let mut command = Command::new(STD_BENCH);
        command.arg(mode);
        run_on_every_cpu(command, "the std bench program (/std-bench) failed")
    }

    fn run_wasm_bench(&self, args: &[&str]) -> Result<(), Error> {
        let mut command = Command::new(RUNTIME_SILO);
        command.args(&args[1..]).current_dir("/");
        run_on_every_cpu(
            command,
            "the runtime silo's wasm bench (/runtime-silo) failed",
        )
    }

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

impl Channel {
    /// The pair (caller's ends, peer's ends) of a two-pipe channel.
    fn with_peer_ends(self, peer_from: libc::c_int, peer_to: libc::c_int) -> (Channel, Channel) {
        (
            self,
            Channel::Pipe {
                to: peer_to,
                from: peer_from,
            },
        )
    }
}

fn close_all(fds: &[libc::c_int]) {
    for &fd in fds {
        // SAFETY: our own descriptors, closed once.
        unsafe { libc::close(fd) };
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
        (c"tmpfs", c"/tmp", c"tmpfs"),
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

/// Runs `command` to its end (`what`: the error if it fails or cannot start) with every CPU
/// allowed: we are pinned to one, which a child would inherit, and its
/// threads may use every CPU, as on Bedrock.
fn run_on_every_cpu(mut command: Command, what: &'static str) -> Result<(), Error> {
    // SAFETY: runs in the forked child before exec and makes one system
    // call (async-signal-safe) on a local set.
    unsafe {
        command.pre_exec(|| {
            let mut all: libc::cpu_set_t = std::mem::zeroed();
            for cpu in 0..libc::CPU_SETSIZE as usize {
                libc::CPU_SET(cpu, &mut all);
            }
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &all) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    match command.status() {
        Ok(status) if status.success() => Ok(()),
        _ => Err(what),
    }
}
