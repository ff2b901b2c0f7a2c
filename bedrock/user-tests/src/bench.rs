//! `usertest bench [quick]`: Bedrock's side of `cargo xtask bench`. The
//! benchmarks themselves are `bedrock-bench-core`, shared with the Linux
//! anchor; this file maps its [`Os`] onto Bedrock's system calls.

use core::sync::atomic::AtomicU32;

use bedrock_abi::{Syscall, prot};
use bedrock_bench_core::{Config, Error, Os, Record};

use crate::rt::{self, Args};

/// Bedrock through its raw system calls, one per operation.
struct Bedrock;

impl Os for Bedrock {
    fn null_syscall(&self) {
        // GetCpu does no work beyond the common path: dispatch, the silo
        // lookup, the dying check and SYSRET, like Linux's getppid.
        // SAFETY: GetCpu takes no arguments.
        let _ = unsafe { rt::call(Syscall::GetCpu, &[]) };
    }

    fn futex_wait(&self, word: &AtomicU32, expected: u32) {
        // Again (the word changed) and spurious returns are fine: the
        // caller re-checks the word.
        let _ = rt::futex_wait(word, expected, u64::MAX);
    }

    fn futex_wake(&self, word: &AtomicU32) {
        let _ = rt::futex_wake(word, 1);
    }

    fn map(&self, len: usize) -> Result<*mut u8, Error> {
        // VmMap memory is demand-zero in 4 KiB pages.
        rt::vm_map(len, prot::READ | prot::WRITE)
            .map(|addr| addr as *mut u8)
            .map_err(|_| "VmMap failed")
    }

    fn unmap(&self, ptr: *mut u8, len: usize) -> Result<(), Error> {
        rt::vm_unmap(ptr as usize, len).map(drop).map_err(|_| "VmUnmap failed")
    }

    fn cpus(&self) -> usize {
        rt::silo_info().map_or(1, |info| info.online_cpus as usize)
    }

    fn pin(&self, cpu: usize) -> Result<(), Error> {
        if cpu >= 64 {
            return Err("CPU number too large");
        }
        rt::set_affinity(0, 1 << cpu).map_err(|_| "SetAffinity failed")?;
        // The scheduler moves the caller at its next scheduling decision.
        rt::yield_now();
        Ok(())
    }

    fn cpu(&self) -> Option<usize> {
        Some(rt::get_cpu())
    }

    fn pair<R>(&self, me: impl FnOnce() -> R, partner: impl FnOnce() + Send) -> Result<R, Error> {
        let mut slot = Some(partner);
        let id = spawn_from_slot(&mut slot)?;
        let result = me();
        // The partner has taken `slot` and finished with it once joined.
        rt::thread_join(id).map_err(|_| "cannot join the partner thread")?;
        Ok(result)
    }

    fn print(&self, line: core::fmt::Arguments<'_>) {
        say!("{line}");
    }
}

/// Starts a thread that takes `f` out of `slot` and runs it. The caller
/// must join the thread before `slot` goes away.
fn spawn_from_slot<F: FnOnce() + Send>(slot: &mut Option<F>) -> Result<usize, Error> {
    rt::thread_spawn(run_slot::<F>, slot as *mut Option<F> as usize, 0)
        .map_err(|_| "cannot create the partner thread")
}

extern "C" fn run_slot<F: FnOnce() + Send>(slot: usize) -> ! {
    // SAFETY: `spawn_from_slot` passed its `&mut Option<F>`, which outlives
    // this thread (the spawner joins it) and which only this thread touches
    // until then.
    let f = unsafe { (*(slot as *mut Option<F>)).take() };
    if let Some(f) = f {
        f();
    }
    rt::thread_exit(0)
}

pub fn bench(args: &Args) -> Result<(), &'static str> {
    let config = Config::from_arg(args.get(2)).inspect_err(|why| say!("{}", Record::Error(why)))?;
    bedrock_bench_core::run(&Bedrock, &config)
}
