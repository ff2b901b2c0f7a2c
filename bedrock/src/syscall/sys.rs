//! Introspection for `top`-like tools and leak tests: silos, CPUs and
//! kernel-wide resource counters. Only silos whose namespace has `sys`
//! may look.

use alloc::vec::Vec;

use bedrock_abi::{CpuRecord, Errno, KernelCounters, SiloRecord};

use super::SysResult;
use crate::arch::x86_64::percpu;
use crate::arch::x86_64::usercopy::copy_to_user;
use crate::silo::Silo;

const MAX_RECORDS: u64 = 4096;

fn allowed(silo: &Silo) -> Result<(), Errno> {
    if silo.sees("sys") {
        Ok(())
    } else {
        Err(Errno::Perm)
    }
}

fn write_records<T: Copy>(addr: u64, records: &[T]) -> Result<(), Errno> {
    // SAFETY: T is a repr(C) record of plain integers and bytes.
    let bytes = unsafe {
        core::slice::from_raw_parts(
            records.as_ptr() as *const u8,
            core::mem::size_of_val(records),
        )
    };
    copy_to_user(addr, bytes).map_err(|_| Errno::Fault)
}

pub fn silos(caller: &Silo, addr: u64, capacity: u64) -> SysResult {
    allowed(caller)?;
    if capacity > MAX_RECORDS {
        return Err(Errno::Inval);
    }
    let all = crate::silo::all();
    let records: Vec<SiloRecord> = all
        .iter()
        .take(capacity as usize)
        .map(|s| {
            let mut name = [0u8; 32];
            let n = s.name.len().min(32);
            name[..n].copy_from_slice(&s.name.as_bytes()[..n]);
            SiloRecord {
                id: s.id,
                threads: s.live_threads() as u64,
                cpu_time_ns: s.cpu_time_ns(),
                memory_bytes: s.aspace.committed_bytes(),
                name,
            }
        })
        .collect();
    write_records(addr, &records)?;
    Ok(all.len())
}

pub fn cpus(caller: &Silo, addr: u64, capacity: u64) -> SysResult {
    allowed(caller)?;
    let online = percpu::online();
    let records: Vec<CpuRecord> = (0..online.min(capacity as usize))
        .filter_map(|i| {
            let cpu = percpu::cpu(i)?;
            Some(CpuRecord {
                index: i as u32,
                apic_id: cpu.apic_id,
                idle_ns: crate::sched::idle_time_ns(i).unwrap_or(0),
            })
        })
        .collect();
    write_records(addr, &records)?;
    Ok(online)
}

/// The kernel's resource counters now (also read by the test scenarios).
pub fn kernel_counters() -> KernelCounters {
    let (frames_total, frames_free) = crate::mm::kernel_space::FRAMES
        .lock()
        .as_ref()
        .map_or((0, 0), |f| (f.total_frames(), f.free_frames()));
    let heap = crate::mm::heap::usage();
    KernelCounters {
        frames_total: frames_total as u64,
        frames_free: frames_free as u64,
        heap_claimed_bytes: heap.claimed,
        heap_used_bytes: heap.allocated,
        heap_allocations: heap.allocations,
        stack_cache_bytes: crate::mm::kstack::cached_bytes(),
        handles: crate::cap::table::live_handles() as u64,
        threads: crate::sched::thread::live_threads() as u64,
        silos: crate::silo::count() as u64,
        scheme_names: crate::scheme::served() as u64,
    }
}

pub fn counters(caller: &Silo, addr: u64) -> SysResult {
    allowed(caller)?;
    write_records(addr, &[kernel_counters()])?;
    Ok(0)
}
