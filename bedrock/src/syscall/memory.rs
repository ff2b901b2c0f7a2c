//! Virtual memory system calls.

use alloc::sync::Arc;

use bedrock_abi::{Errno, prot};

use super::SysResult;
use crate::mm::vmspace::{Kind, Placement, Prot, VmError};
use crate::silo::Silo;

/// The ABI's protection bits are the same as [`Prot`]'s.
fn to_prot(bits: u64) -> Result<Prot, Errno> {
    const _: () = assert!(prot::READ == 1 && prot::WRITE == 2 && prot::EXEC == 4);
    Prot::from_bits(bits).ok_or(Errno::Inval)
}

fn errno(e: VmError) -> Errno {
    match e {
        VmError::NoSpace { .. } | VmError::TooManyRegions { .. } => Errno::NoMem,
        VmError::Occupied { .. } => Errno::Exist,
        VmError::NotMapped { .. } => Errno::NoEnt,
        VmError::Denied { .. } => Errno::Acces,
        _ => Errno::Inval,
    }
}

pub fn map(silo: &Arc<Silo>, hint: u64, len: u64, prot: u64) -> SysResult {
    let prot = to_prot(prot)?;
    let placement = if hint == 0 {
        Placement::Anywhere
    } else {
        Placement::Hint(hint)
    };
    silo.aspace
        .map(placement, len, prot, Kind::Anonymous)
        .map(|a| a as usize)
        .map_err(errno)
}

pub fn unmap(silo: &Arc<Silo>, addr: u64, len: u64) -> SysResult {
    silo.aspace.unmap(addr, len).map(|()| 0).map_err(errno)
}

pub fn protect(silo: &Arc<Silo>, addr: u64, len: u64, prot: u64) -> SysResult {
    let prot = to_prot(prot)?;
    silo.aspace
        .protect(addr, len, prot)
        .map(|()| 0)
        .map_err(errno)
}
