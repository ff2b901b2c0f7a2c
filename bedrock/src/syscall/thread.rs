//! Thread system calls.

use alloc::sync::Arc;

use bedrock_abi::Errno;

use super::SysResult;
use crate::arch::x86_64::percpu;
use crate::mm::vmspace::user_register_ok;
use crate::sched::cpuset::CpuSet;
use crate::silo::{Silo, spawn_user_thread};

pub fn create(silo: &Arc<Silo>, entry: u64, stack: u64, arg: u64, tls: u64) -> SysResult {
    // RIP, RSP and FS base must be canonical user addresses: IRET/SYSRET
    // or WRMSR of anything else faults in the kernel (or runs kernel
    // addresses in ring 3).
    if entry == 0 || !user_register_ok(entry) || !user_register_ok(stack) || !user_register_ok(tls)
    {
        return Err(Errno::Inval);
    }
    let t = spawn_user_thread(silo, entry, stack, arg, tls).map_err(|_| Errno::NoMem)?;
    Ok(t.id as usize)
}

pub fn join(silo: &Arc<Silo>, id: u64) -> SysResult {
    let me = crate::sched::current();
    if me.id == id {
        return Err(Errno::DeadLk);
    }
    drop(me);
    let code = silo.join(id).ok_or(Errno::Srch)?;
    Ok(code as u32 as usize)
}

pub fn set_fs_base(base: u64) -> SysResult {
    if !user_register_ok(base) {
        return Err(Errno::Inval);
    }
    let me = crate::sched::current();
    me.user.as_ref().ok_or(Errno::Perm)?.set_fs_base(base, true);
    Ok(0)
}

/// Pins thread `id` of `silo` (0: the caller) to the CPUs in `mask`. Every
/// CPU named must be online, so that a typo fails now instead of leaving a
/// thread that can never run where it was meant to.
pub fn set_affinity(silo: &Silo, id: u64, mask: u64) -> SysResult {
    let set = CpuSet::from_bits(mask);
    if set.is_empty() || set.within(percpu::online()) != set {
        return Err(Errno::Inval);
    }
    let thread = match id {
        0 => crate::sched::current(),
        id => silo.thread(id).ok_or(Errno::Srch)?,
    };
    thread.set_affinity(set);
    Ok(0)
}
