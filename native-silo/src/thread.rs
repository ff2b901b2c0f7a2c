//! Threads for std: `sys_spawn2` maps one region per thread — a guard page,
//! the stack, the TLS block — and starts a Bedrock thread in it;
//! `sys_join` waits with `ThreadJoin`. A thread's region is freed once it
//! has exited: by the joiner, or, for a thread nobody joins, by the next
//! spawn or join that sees its exit flag.
//!
//! The exit flag is set by the last instructions the thread runs in ring 3
//! (an `asm!` block that stores it and enters `ThreadExit` without touching
//! the stack or TLS), so a region is never freed under a running thread.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use bedrock_abi::user::syscall;
use bedrock_abi::{Errno, SiloInfo, Syscall, prot};
use hermit_abi::{Tid, timespec};

use crate::lock::Mutex;
use crate::start::new_tls_block;
use crate::{timespec as ts, vm};

/// Smallest stack given to a thread (std asks for 1 MiB by default).
const MIN_STACK: usize = 64 * 1024;

/// One spawned thread and the memory it runs in.
struct Record {
    tid: Tid,
    /// Set to 1 by the thread's last ring-3 instructions.
    exited: AtomicU32,
    /// The stack region (guard page included).
    stack: usize,
    stack_len: usize,
    /// The TLS mapping.
    tls: usize,
    tls_len: usize,
    func: extern "C" fn(usize),
    arg: usize,
}

/// Live and unreaped threads. Records are boxed so that a thread can hold
/// a pointer to its own.
static THREADS: Mutex<Vec<Box<Record>>> = Mutex::new(Vec::new());

/// Frees the regions of every thread that has exited.
fn reap() {
    let done: Vec<Box<Record>> = {
        let mut threads = THREADS.lock();
        let (done, live) = core::mem::take(&mut *threads)
            .into_iter()
            .partition(|r| r.exited.load(Ordering::Acquire) != 0);
        *threads = live;
        done
    };
    for r in done {
        // SAFETY: the thread has left ring 3 for good (its exit flag is
        // set only by its last instructions), so nothing uses these.
        unsafe {
            let _ = vm::unmap(r.stack, r.stack_len);
            let _ = vm::unmap(r.tls, r.tls_len);
        }
    }
}

/// Where every spawned thread starts (`rdi` = its record).
extern "C" fn thread_main(record: usize) -> ! {
    // SAFETY: the record stays allocated until this thread's exit flag is
    // set, which happens below as its very last act.
    let r = unsafe { &*(record as *const Record) };
    (r.func)(r.arg);
    crate::stdio::flush_all();
    let flag = r.exited.as_ptr();
    // SAFETY: stores the flag and enters ThreadExit(0) without touching
    // memory that the reaper may free afterwards (stack, TLS, record).
    unsafe {
        core::arch::asm!(
            "mov dword ptr [{flag}], 1",
            "syscall",
            "ud2",
            flag = in(reg) flag,
            in("rax") Syscall::ThreadExit as usize,
            in("rdi") 0usize,
            options(noreturn, nostack),
        );
    }
}

fn spawn(
    func: extern "C" fn(usize),
    arg: usize,
    stack_size: usize,
    core_id: isize,
) -> Result<Tid, Errno> {
    reap();
    let stack_len = stack_size.max(MIN_STACK).next_multiple_of(vm::PAGE_SIZE) + vm::PAGE_SIZE;
    let stack = vm::map(stack_len, prot::READ | prot::WRITE)?;
    // The lowest page is the guard: an overflow faults instead of writing
    // into whatever lies below.
    // SAFETY: our fresh mapping; nothing uses its first page.
    if let Err(e) = unsafe { vm::protect(stack, vm::PAGE_SIZE, 0) } {
        // SAFETY: nothing uses the fresh mapping.
        let _ = unsafe { vm::unmap(stack, stack_len) };
        return Err(e);
    }
    let mut record = Box::new(Record {
        tid: 0,
        exited: AtomicU32::new(0),
        stack,
        stack_len,
        tls: 0,
        tls_len: 0,
        func,
        arg,
    });
    let rp = &*record as *const Record as usize;
    let Some((tls, tls_len, tp)) = new_tls_block(rp) else {
        // SAFETY: nothing uses the fresh mapping.
        let _ = unsafe { vm::unmap(stack, stack_len) };
        return Err(Errno::NoMem);
    };
    record.tls = tls;
    record.tls_len = tls_len;
    // rsp as after a call: 16-byte aligned minus 8.
    let top = stack + stack_len - 8;
    let mut threads = THREADS.lock();
    // SAFETY: entry, stack and TLS are ours; the kernel checks them too.
    let created = unsafe {
        syscall(
            Syscall::ThreadCreate,
            &[thread_main as *const () as usize, top, rp, tp],
        )
    };
    let id = match created {
        Ok(id) => id,
        Err(e) => {
            drop(threads);
            // SAFETY: the thread never started.
            unsafe {
                let _ = vm::unmap(stack, stack_len);
                let _ = vm::unmap(record.tls, record.tls_len);
            }
            return Err(e);
        }
    };
    record.tid = id as Tid;
    threads.push(record);
    drop(threads);
    if core_id >= 0 && core_id < 64 {
        // A core that does not exist is ignored, as hermit does.
        // SAFETY: no pointers.
        let _ = unsafe { syscall(Syscall::SetAffinity, &[id, 1 << core_id]) };
    }
    Ok(id as Tid)
}

hermit_fn! {
    /// Starts `func(arg)` on a new thread with at least `stack_size` bytes
    /// of stack; 0 on failure. `prio` is ignored (one priority for all).
    fn sys_spawn2(func: extern "C" fn(usize), arg: usize, _prio: u8, stack_size: usize, core_id: isize) -> Tid as spawn2 {
        spawn(func, arg, stack_size, core_id).unwrap_or(0)
    }
}

hermit_fn! {
    fn sys_spawn(id: *mut Tid, func: extern "C" fn(usize), arg: usize, _prio: u8, core_id: isize) -> i32 as spawn {
        match spawn(func, arg, 1 << 20, core_id) {
            Ok(tid) => {
                if !id.is_null() {
                    // SAFETY: the caller passes a valid out pointer or null.
                    unsafe { id.write(tid) };
                }
                0
            }
            Err(e) => -crate::errno::to_hermit(e),
        }
    }
}

hermit_fn! {
    /// Waits for thread `id` to end and frees its memory.
    fn sys_join(id: Tid) -> i32 as join {
        // SAFETY: no pointers.
        let r = unsafe { syscall(Syscall::ThreadJoin, &[id as usize]) };
        reap();
        match r {
            Ok(_) => 0,
            Err(e) => crate::process::fail(e),
        }
    }
}

hermit_fn! {
    fn sys_yield() as yield_now {
        // SAFETY: no pointers.
        let _ = unsafe { syscall(Syscall::Yield, &[]) };
    }
}

/// Sleeps at least `ns` nanoseconds.
pub fn sleep_ns(ns: u64) {
    // SAFETY: no pointers.
    let _ = unsafe { syscall(Syscall::Sleep, &[ns as usize]) };
}

hermit_fn! {
    fn sys_usleep(usecs: u64) as usleep {
        sleep_ns(usecs.saturating_mul(1000));
    }
}

hermit_fn! {
    fn sys_nanosleep(req: *const timespec) -> i32 as nanosleep {
        // SAFETY: a valid pointer or null, as nanosleep(2) requires.
        match unsafe { req.as_ref() }.and_then(ts::to_ns) {
            Some(ns) => {
                sleep_ns(ns);
                0
            }
            None => crate::process::fail(Errno::Inval),
        }
    }
}

/// CPUs online, at least 1.
fn online_cpus() -> usize {
    let mut info = SiloInfo::default();
    // SAFETY: `info` is a writable SiloInfo.
    match unsafe { syscall(Syscall::SiloInfo, &[&mut info as *mut SiloInfo as usize]) } {
        Ok(_) => (info.online_cpus as usize).max(1),
        Err(_) => 1,
    }
}

hermit_fn! {
    fn sys_available_parallelism() -> usize as available_parallelism {
        online_cpus()
    }
}
