//! A minimal ring-3 runtime: entry point, arguments, panic handler, and
//! typed wrappers over the raw system calls.

use core::arch::global_asm;

use bedrock_abi::user::{syscall, syscall6};
use bedrock_abi::{Errno, Syscall};

global_asm!(
    r#"
    .section .text._start, "ax"
    .global _start
_start:
    movq %rsp, %rdi
    andq $-16, %rsp
    xorl %ebp, %ebp
    call {start}
    ud2
"#,
    start = sym start,
    options(att_syntax)
);

/// The initial stack: argc, argv pointers, NULL, envp, NULL, auxv.
pub struct Args {
    argc: usize,
    argv: *const *const u8,
    auxv: *const [u64; 2],
}

impl Args {
    pub fn get(&self, i: usize) -> Option<&'static str> {
        if i >= self.argc {
            return None;
        }
        // SAFETY: the kernel put argc valid, NUL-terminated strings here.
        unsafe {
            let p = *self.argv.add(i);
            let mut n = 0;
            while *p.add(n) != 0 {
                n += 1;
            }
            core::str::from_utf8(core::slice::from_raw_parts(p, n)).ok()
        }
    }

    pub fn len(&self) -> usize {
        self.argc
    }

    /// Value of auxiliary vector entry `key`.
    pub fn aux(&self, key: u64) -> Option<u64> {
        let mut p = self.auxv;
        // SAFETY: the auxv is terminated by AT_NULL.
        unsafe {
            while (*p)[0] != 0 {
                if (*p)[0] == key {
                    return Some((*p)[1]);
                }
                p = p.add(1);
            }
        }
        None
    }
}

extern "C" fn start(sp: *const usize) -> ! {
    // SAFETY: System V initial stack layout, built by the kernel loader.
    let args = unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *const *const u8;
        let mut envp = sp.add(2 + argc);
        while *envp != 0 {
            envp = envp.add(1);
        }
        Args { argc, argv, auxv: envp.add(1) as *const [u64; 2] }
    };
    let code = crate::main(&args);
    exit(code)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut w = LogLine::new();
    let _ = core::fmt::write(&mut w, format_args!("panic: {}", info.message()));
    w.flush();
    exit(101)
}

/// Formats into a fixed buffer and sends it to the kernel log.
pub struct LogLine {
    buf: [u8; 256],
    len: usize,
}

impl LogLine {
    pub fn new() -> Self {
        LogLine { buf: [0; 256], len: 0 }
    }
    pub fn flush(&mut self) {
        let _ = bedrock_abi::user::log(&self.buf[..self.len]);
        self.len = 0;
    }
}

impl core::fmt::Write for LogLine {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

#[macro_export]
macro_rules! say {
    ($($t:tt)*) => {{
        let mut w = $crate::rt::LogLine::new();
        let _ = core::fmt::write(&mut w, format_args!($($t)*));
        w.flush();
    }};
}

pub fn exit(code: i32) -> ! {
    bedrock_abi::user::exit(code)
}

/// # Safety
/// See [`bedrock_abi::user::syscall`].
pub unsafe fn call(n: Syscall, args: &[usize]) -> Result<usize, Errno> {
    // SAFETY: forwarded.
    unsafe { syscall(n, args) }
}

/// A raw call with all six registers set (to probe validation).
pub fn call6(n: Syscall, a: [usize; 6]) -> Result<usize, Errno> {
    // SAFETY: used with invalid pointers on purpose: the kernel must check
    // them; no valid memory of ours is passed.
    unsafe { syscall6(n, a) }
}

pub fn vm_map(len: usize, prot: usize) -> Result<usize, Errno> {
    // SAFETY: VmMap takes no pointers.
    unsafe { call(Syscall::VmMap, &[0, len, prot]) }
}

pub fn vm_unmap(addr: usize, len: usize) -> Result<usize, Errno> {
    // SAFETY: VmUnmap takes no pointers; it only removes our own mapping.
    unsafe { call(Syscall::VmUnmap, &[addr, len]) }
}

pub fn silo_info() -> Result<bedrock_abi::SiloInfo, Errno> {
    let mut info = bedrock_abi::SiloInfo::default();
    // SAFETY: `info` is a valid, writable SiloInfo.
    unsafe { call(Syscall::SiloInfo, &[&mut info as *mut bedrock_abi::SiloInfo as usize]) }?;
    Ok(info)
}

pub fn yield_now() {
    // SAFETY: Yield takes no arguments.
    let _ = unsafe { call(Syscall::Yield, &[]) };
}

/// The CPU running the caller.
pub fn get_cpu() -> usize {
    // SAFETY: GetCpu takes no arguments and cannot fail.
    unsafe { call(Syscall::GetCpu, &[]) }.unwrap_or(usize::MAX)
}

/// Restricts thread `id` (0: the caller) to the CPUs in `mask`.
pub fn set_affinity(id: usize, mask: u64) -> Result<usize, Errno> {
    // SAFETY: SetAffinity takes no pointers.
    unsafe { call(Syscall::SetAffinity, &[id, mask as usize]) }
}

pub fn clock(id: bedrock_abi::ClockId) -> u64 {
    // SAFETY: ClockGet takes no pointers.
    unsafe { call(Syscall::ClockGet, &[id as usize]) }.unwrap_or(0) as u64
}

pub fn sleep_ns(ns: u64) {
    // SAFETY: Sleep takes no pointers.
    let _ = unsafe { call(Syscall::Sleep, &[ns as usize]) };
}

pub fn futex_wait(word: &core::sync::atomic::AtomicU32, expected: u32, timeout_ns: u64) -> Result<usize, Errno> {
    // SAFETY: `word` is a valid u32 for the duration of the call.
    unsafe { call(Syscall::FutexWait, &[word.as_ptr() as usize, expected as usize, timeout_ns as usize]) }
}

pub fn futex_wake(word: &core::sync::atomic::AtomicU32, n: usize) -> Result<usize, Errno> {
    // SAFETY: as above.
    unsafe { call(Syscall::FutexWake, &[word.as_ptr() as usize, n]) }
}

/// Starts `f(arg)` on a new thread with a fresh 64 KiB stack.
pub fn thread_spawn(f: extern "C" fn(usize) -> !, arg: usize, tls: usize) -> Result<usize, Errno> {
    let stack = vm_map(64 * 1024, bedrock_abi::prot::READ | bedrock_abi::prot::WRITE)?;
    // rsp as after a `call`: 16-byte aligned minus 8.
    let top = stack + 64 * 1024 - 8;
    // SAFETY: entry and stack are ours; the kernel validates them too.
    unsafe { call(Syscall::ThreadCreate, &[f as usize, top, arg, tls]) }
}

pub fn thread_exit(code: i32) -> ! {
    // SAFETY: no pointers.
    let _ = unsafe { call(Syscall::ThreadExit, &[code as usize]) };
    unreachable!()
}

pub fn thread_join(id: usize) -> Result<usize, Errno> {
    // SAFETY: no pointers.
    unsafe { call(Syscall::ThreadJoin, &[id]) }
}

/// Capability, IPC and scheme wrappers (from the ABI crate).
#[allow(unused_imports)]
pub use bedrock_abi::user::ipc;

/// Returns `Err($why)` from the enclosing function unless `$cond` holds:
/// the test cases' assertion.
#[allow(unused_macros)]
macro_rules! check {
    ($cond:expr, $why:expr) => {
        if !$cond {
            return Err($why);
        }
    };
}
