//! Silos and threads as capabilities: spawning a silo from ring 3, waiting
//! for it, killing it; thread handles.
//!
//! `SiloSpawn` copies and checks the whole spec (strings, namespace,
//! handles) and loads the ELF image before it takes anything from the
//! caller's table; the handles are then taken and the child started in a
//! step that cannot fail, so a refused spawn leaves the caller as it was.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use bedrock_abi::silo::{
    MAX_IMAGE, MAX_NAMESPACE, MAX_SPAWN_HANDLES, MAX_STRINGS, SpawnSpec, may_grant, unpack,
    valid_name,
};
use bedrock_abi::{Errno, Rights};

use super::SysResult;
use super::ipc::{insert, object_of};
use crate::arch::x86_64::usercopy::{copy_from_user, copy_vec_from_user};
use crate::arch::x86_64::{percpu, tsc};
use crate::cap::{Cap, Object, SiloRef, ThreadRef};
use crate::mm::vmspace::VmError;
use crate::sched::cpuset::CpuSet;
use crate::silo::{ExitStatus, LoadError, Silo, prepare_elf};

/// Rights of the handle `SiloSpawn` returns.
const SILO_RIGHTS: Rights =
    Rights(Rights::WAIT.0 | Rights::KILL.0 | Rights::GRANT.0 | Rights::DUPLICATE.0);
/// Rights of the handle `ThreadHandle` returns.
const THREAD_RIGHTS: Rights = Rights(Rights::WAIT.0 | Rights::GRANT.0 | Rights::DUPLICATE.0);

/// Copies `len` (at most `max`, else `TooBig`) bytes at `ptr`.
fn copy_in(ptr: u64, len: u64, max: u64) -> Result<Vec<u8>, Errno> {
    if len > max {
        return Err(Errno::TooBig);
    }
    copy_vec_from_user(ptr, len as usize)
        .ok_or(Errno::NoMem)?
        .map_err(|_| Errno::Fault)
}

fn load_errno(e: LoadError) -> Errno {
    match e {
        LoadError::Elf(_) => Errno::NoExec,
        LoadError::Vm(VmError::NoSpace { .. } | VmError::TooManyRegions { .. }) => Errno::NoMem,
        // Segments that overlap, or lie where the stack goes.
        LoadError::Vm(_) => Errno::NoExec,
        LoadError::Stack(_) => Errno::TooBig,
        LoadError::Write(_) | LoadError::NoMemory => Errno::NoMem,
    }
}

fn read_spec(addr: u64) -> Result<SpawnSpec, Errno> {
    let mut spec = SpawnSpec::default();
    // SAFETY: SpawnSpec is repr(C) plain integers: any bytes are a valid value.
    let bytes = unsafe {
        core::slice::from_raw_parts_mut(
            &mut spec as *mut SpawnSpec as *mut u8,
            core::mem::size_of::<SpawnSpec>(),
        )
    };
    copy_from_user(bytes, addr).map_err(|_| Errno::Fault)?;
    Ok(spec)
}

pub fn spawn(parent: &Silo, addr: u64) -> SysResult {
    let spec = read_spec(addr)?;
    let count = spec.handle_count as usize;
    if count > MAX_SPAWN_HANDLES || spec.namespace_count as usize > MAX_NAMESPACE {
        return Err(Errno::TooBig);
    }
    if spec.flags != 0 || spec.handle_move >> count != 0 || spec.image_len == 0 {
        return Err(Errno::Inval);
    }
    let name = copy_in(spec.name, spec.name_len, bedrock_abi::silo::MAX_NAME as u64)?;
    let name = core::str::from_utf8(&name).map_err(|_| Errno::Inval)?;
    if !valid_name(name) {
        return Err(Errno::Inval);
    }
    let argv_buf = copy_in(spec.argv, spec.argv_len, MAX_STRINGS as u64)?;
    let argv: Vec<&str> = unpack(&argv_buf, spec.argc)?.collect();
    let envp_buf = copy_in(spec.envp, spec.envp_len, MAX_STRINGS as u64)?;
    let envp: Vec<&str> = unpack(&envp_buf, spec.envc)?.collect();
    let ns_buf = copy_in(spec.namespace, spec.namespace_len, MAX_STRINGS as u64)?;
    let mut namespace: Vec<String> = Vec::new();
    for n in unpack(&ns_buf, spec.namespace_count)? {
        if !may_grant(parent.namespace.iter().map(String::as_str), n) {
            log::warn!(
                "silo {} ({}): cannot grant scheme \"{n}\" to a child: not in its own namespace",
                parent.id,
                parent.name
            );
            return Err(Errno::Acces);
        }
        if !namespace.iter().any(|m| m == n) {
            namespace.push(String::from(n));
        }
    }
    let affinity = match spec.affinity {
        0 => CpuSet::ALL,
        bits => {
            let set = CpuSet::from_bits(bits);
            if set.is_empty() || set.within(percpu::online()) != set {
                return Err(Errno::Inval);
            }
            set
        }
    };
    let wanted = &spec.handles[..count];
    check_handles(parent, wanted)?;
    let image = copy_in(spec.image, spec.image_len, MAX_IMAGE)?;
    let prepared =
        prepare_elf(name, &image, &argv, &envp, namespace, affinity).map_err(load_errno)?;
    drop(image);

    // The commit: under the caller's table lock, the silo handle goes in
    // first (the one step that can fail), then the handles come out.
    let silo_cap = Cap::new(
        Object::Silo(Arc::new(SiloRef::new(prepared.silo()))),
        SILO_RIGHTS,
    );
    let (h, caps) = {
        let mut table = parent.handles.lock();
        let h = table.insert(silo_cap).map_err(|_| Errno::MFile)?;
        match take_handles(&mut table, wanted, spec.handle_move) {
            Ok(caps) => (h, caps),
            Err(e) => {
                drop(table.remove(h));
                return Err(e);
            }
        }
    };
    let child = prepared.start(caps);
    log::info!(
        "silo {} ({}) started silo {} ({})",
        parent.id,
        parent.name,
        child.id,
        child.name
    );
    Ok(h as usize)
}

/// Each handle to pass is live, has GRANT and appears once.
fn check_handles(silo: &Silo, wanted: &[u32]) -> Result<(), Errno> {
    let table = silo.handles.lock();
    check_in(&table, wanted)
}

fn check_in(table: &crate::cap::table::HandleTable<Cap>, wanted: &[u32]) -> Result<(), Errno> {
    for (i, &h) in wanted.iter().enumerate() {
        table
            .get(h)
            .map_err(|_| Errno::BadF)?
            .check(Rights::GRANT)?;
        if wanted[..i].contains(&h) {
            return Err(Errno::Inval);
        }
    }
    Ok(())
}

/// Takes the handles out of `table` (moved, or derived copies); all are
/// checked first, so either all are taken or none.
fn take_handles(
    table: &mut crate::cap::table::HandleTable<Cap>,
    wanted: &[u32],
    moves: u32,
) -> Result<Vec<Cap>, Errno> {
    check_in(table, wanted)?;
    let mut copies = Vec::with_capacity(wanted.len());
    for (i, &h) in wanted.iter().enumerate() {
        if moves & (1 << i) == 0 {
            let c = table.get(h).map_err(|_| Errno::BadF)?;
            copies.push(Some(c.derive(c.rights, c.badge)?));
        } else {
            copies.push(None);
        }
    }
    let mut caps = Vec::with_capacity(wanted.len());
    for (&h, copy) in wanted.iter().zip(copies) {
        caps.push(match copy {
            Some(c) => c,
            None => table.remove(h).map_err(|_| Errno::BadF)?,
        });
    }
    Ok(caps)
}

fn silo_of(silo: &Silo, h: u64, needed: Rights) -> Result<Arc<SiloRef>, Errno> {
    object_of(silo, h, needed, |c| match &c.object {
        Object::Silo(s) => Some(s.clone()),
        _ => None,
    })
}

fn thread_of(silo: &Silo, h: u64, needed: Rights) -> Result<Arc<ThreadRef>, Errno> {
    object_of(silo, h, needed, |c| match &c.object {
        Object::Thread(t) => Some(t.clone()),
        _ => None,
    })
}

fn deadline(timeout_ns: u64) -> Option<u64> {
    (timeout_ns != u64::MAX).then(|| tsc::now_ns().saturating_add(timeout_ns))
}

/// A wait that ended without a value: the caller's silo is ending, or time
/// ran out.
fn no_end() -> Errno {
    if crate::sched::current().is_interrupted() {
        Errno::Intr
    } else {
        Errno::TimedOut
    }
}

pub fn wait(silo: &Silo, h: u64, timeout_ns: u64) -> SysResult {
    let target = silo_of(silo, h, Rights::WAIT)?;
    let status = target.end.wait(deadline(timeout_ns)).ok_or_else(no_end)?;
    Ok(bedrock_abi::silo::ExitStatus::from(status).encode() as usize)
}

pub fn kill(silo: &Silo, h: u64) -> SysResult {
    let target = silo_of(silo, h, Rights::KILL)?;
    if let Some(s) = target.silo.upgrade()
        && s.status().is_none()
    {
        log::info!(
            "silo {} ({}) kills silo {} ({})",
            silo.id,
            silo.name,
            s.id,
            s.name
        );
        s.terminate(ExitStatus::Killed);
    }
    Ok(0)
}

pub fn thread_handle(silo: &Arc<Silo>, id: u64) -> SysResult {
    let thread = match id {
        0 => crate::sched::current(),
        id => silo.thread(id).ok_or(Errno::Srch)?,
    };
    let user = thread.user.as_ref().ok_or(Errno::Srch)?;
    let object = ThreadRef {
        silo: silo.id,
        id: thread.id,
        end: user.end.clone(),
    };
    insert(
        silo,
        Cap::new(Object::Thread(Arc::new(object)), THREAD_RIGHTS),
    )
}

pub fn thread_cpu_time(silo: &Silo, h: u64) -> SysResult {
    let target = thread_of(silo, h, Rights::WAIT)?;
    let thread = crate::silo::get(target.silo)
        .and_then(|s| s.thread(target.id))
        .ok_or(Errno::Srch)?;
    Ok(crate::sched::cpu_time_ns(&thread) as usize)
}

pub fn thread_wait(silo: &Silo, h: u64, timeout_ns: u64) -> SysResult {
    let target = thread_of(silo, h, Rights::WAIT)?;
    let code = target.end.wait(deadline(timeout_ns)).ok_or_else(no_end)?;
    Ok(code as u32 as usize)
}
