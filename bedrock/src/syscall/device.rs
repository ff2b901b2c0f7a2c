//! Device capability system calls: minting from the platform authority,
//! DMA physical addresses and port I/O. Each checks the handle's object
//! type (`Inval`) and rights (`Acces`) before touching anything.

use bedrock_abi::device::allowed_rights;
use bedrock_abi::{Errno, Rights};

use super::SysResult;
use super::ipc::{insert, memory_of, object_of, with_cap};
use crate::cap::Object;
use crate::silo::Silo;

pub fn platform_mint(
    silo: &Silo,
    h: u64,
    kind: u64,
    base: u64,
    len: u64,
    rights: u64,
) -> SysResult {
    let rights =
        Rights::from_bits(u32::try_from(rights).map_err(|_| Errno::Inval)?).ok_or(Errno::Inval)?;
    let allowed = allowed_rights(kind).ok_or(Errno::Inval)?;
    if !allowed.contains(rights) {
        return Err(Errno::Inval);
    }
    // Type first (`Inval`), then rights (`Acces`), before anything is made.
    let platform = object_of(silo, h, rights, |c| match &c.object {
        Object::Platform(p) => Some(p.clone()),
        _ => None,
    })?;
    // Made outside the table lock (DMA memory is zeroed meanwhile).
    let object = platform.mint(kind, base, len)?;
    let line = match &object {
        Object::IrqLine(l) => Some(l.clone()),
        _ => None,
    };
    match with_cap(silo, h, rights, |c| c.derive_new(object, rights)) {
        Ok(cap) => {
            drop(line); // a failed insert then releases the line with the cap
            insert(silo, cap)
        }
        Err(e) => {
            // The handle went meanwhile: give the line back.
            if let Some(line) = line {
                line.release();
            }
            Err(e)
        }
    }
}

pub fn mem_phys_addr(silo: &Silo, h: u64) -> SysResult {
    let object = memory_of(silo, h, Rights::MAP.union(Rights::WRITE))?;
    object.phys_base().map(|a| a as usize).ok_or(Errno::Inval)
}

fn ports_of(
    silo: &Silo,
    h: u64,
    needed: Rights,
) -> Result<alloc::sync::Arc<crate::ipc::device::IoPorts>, Errno> {
    object_of(silo, h, needed, |c| match &c.object {
        Object::IoPorts(p) => Some(p.clone()),
        _ => None,
    })
}

pub fn port_in(silo: &Silo, h: u64, port: u64, width: u64) -> SysResult {
    ports_of(silo, h, Rights::READ)?
        .read(port, width)
        .map(|v| v as usize)
}

pub fn port_out(silo: &Silo, h: u64, port: u64, width: u64, value: u64) -> SysResult {
    ports_of(silo, h, Rights::WRITE)?
        .write(port, width, value)
        .map(|()| 0)
}
