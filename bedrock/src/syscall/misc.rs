//! Small system calls: exit, sleep, clocks, log, entropy, silo info.

use alloc::vec;

use bedrock_abi::{ClockId, Errno, MAX_IO_CHUNK, SiloInfo};

use super::SysResult;
use crate::arch::x86_64::usercopy::{copy_from_user, copy_to_user};
use crate::arch::x86_64::{percpu, tsc};
use crate::silo::{ExitStatus, Silo};

/// Ends the calling silo. Takes no references: it never returns.
pub fn exit(code: i32) -> ! {
    if let Some(silo) = crate::silo::current() {
        silo.terminate(ExitStatus::Code(code));
    }
    crate::silo::exit_thread(code)
}

pub fn sleep(ns: u64) -> SysResult {
    crate::sched::sleep_ns(ns);
    Ok(0)
}

pub fn clock_get(clock: u64) -> SysResult {
    match ClockId::from_raw(clock as usize).ok_or(Errno::Inval)? {
        ClockId::Monotonic => Ok(tsc::now_ns() as usize),
        ClockId::Realtime => Ok(crate::time::realtime_ns() as usize),
        ClockId::ThreadCpu => Ok(crate::sched::current_cpu_time_ns() as usize),
    }
}

pub fn log_write(silo: &Silo, ptr: u64, len: u64) -> SysResult {
    let len = usize::try_from(len).map_err(|_| Errno::Inval)?;
    if len > MAX_IO_CHUNK {
        return Err(Errno::Inval);
    }
    let mut buf = vec![0u8; len];
    copy_from_user(&mut buf, ptr).map_err(|_| Errno::Fault)?;
    let text = alloc::string::String::from_utf8_lossy(&buf);
    for line in text.lines() {
        log::info!("silo {} ({}): {line}", silo.id, silo.name);
    }
    Ok(len)
}

pub fn random_bytes(ptr: u64, len: u64) -> SysResult {
    let len = usize::try_from(len).map_err(|_| Errno::Inval)?;
    if len > MAX_IO_CHUNK {
        return Err(Errno::Inval);
    }
    let mut buf = vec![0u8; len];
    crate::random::fill(&mut buf);
    copy_to_user(ptr, &buf).map_err(|_| Errno::Fault)?;
    Ok(len)
}

pub fn silo_info(silo: &Silo, ptr: u64) -> SysResult {
    let info = SiloInfo {
        abi_version: bedrock_abi::ABI_VERSION,
        online_cpus: percpu::online() as u32,
        silo_id: silo.id,
        threads: silo.live_threads() as u64,
        cpu_time_ns: silo.cpu_time_ns(),
        memory_bytes: silo.aspace.committed_bytes(),
    };
    // SAFETY: SiloInfo is repr(C) plain data; viewing it as bytes is sound.
    let bytes = unsafe {
        core::slice::from_raw_parts(
            &info as *const SiloInfo as *const u8,
            core::mem::size_of::<SiloInfo>(),
        )
    };
    copy_to_user(ptr, bytes).map_err(|_| Errno::Fault)?;
    Ok(0)
}
