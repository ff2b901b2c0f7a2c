//! Device capabilities for ring-3 drivers: the platform authority that
//! mints them, and I/O port ranges. MMIO ranges and DMA memory are memory
//! objects (`ipc::memory`), so `MemMap` serves them like shared memory.

use alloc::sync::Arc;
use alloc::vec::Vec;

use bedrock_abi::device::{MAX_DMA_SIZE, MINT_DMA, MINT_IO_PORTS, MINT_ISA_IRQ, MINT_MMIO};
use bedrock_abi::{Errno, Rights};

use super::irq_line::IrqLine;
use super::memory::MemoryObject;
use crate::acpi::topology::Topology;
use crate::arch::x86_64::{cpu, portio};
use crate::boot::BootInfo;
use crate::cap::Object;
use crate::device::{PortRange, check_mmio};
use crate::mm::kernel_space::kernel_image;
use crate::mm::memmap::Region;
use crate::mm::{PAGE_SIZE, PhysRange};

/// What minting checks against, fixed at boot.
struct Machine {
    /// The firmware memory map (RAM is never MMIO).
    regions: &'static [Region],
    /// Physical ranges the kernel uses itself: its image, the boot
    /// modules, the local and I/O APIC registers.
    kernel: Vec<PhysRange>,
    phys_limit: u64,
}

static MACHINE: spin::Once<Machine> = spin::Once::new();

/// Records the memory map and the kernel's own devices; call once the
/// topology is known.
pub fn init(info: &'static BootInfo, topology: &Topology) {
    MACHINE.call_once(|| {
        let page =
            |a: u64| PhysRange::new(a & !(PAGE_SIZE - 1), (a & !(PAGE_SIZE - 1)) + PAGE_SIZE);
        let mut kernel = Vec::new();
        kernel.push(kernel_image());
        kernel.extend(info.modules.iter().map(|m| m.range));
        kernel.push(page(topology.local_apic_address));
        kernel.extend(topology.ioapics.iter().map(|io| page(io.address)));
        Machine {
            regions: &info.regions,
            kernel,
            phys_limit: cpu::phys_addr_limit(),
        }
    });
}

/// Rights of the platform authority given to init: every right a device
/// capability can carry, so init can mint any of them.
pub const PLATFORM_RIGHTS: Rights = Rights(
    Rights::READ.0
        | Rights::WRITE.0
        | Rights::MAP.0
        | Rights::WAIT.0
        | Rights::GRANT.0
        | Rights::DUPLICATE.0,
);

/// The platform authority: the root of every device capability. The
/// kernel gives it to init alone; a holder mints MMIO, port, DMA and IRQ
/// capabilities, with at most the authority handle's own rights.
#[derive(Debug)]
pub struct Platform;

impl Platform {
    /// A new object of mint `kind` (`bedrock_abi::device::MINT_*`); see
    /// `Syscall::PlatformMint` for the arguments and errors.
    pub fn mint(&self, kind: u64, base: u64, len: u64) -> Result<Object, Errno> {
        match kind {
            MINT_MMIO => {
                let m = MACHINE.get().ok_or(Errno::NoSys)?;
                let range = check_mmio(base, len, m.regions, &m.kernel, m.phys_limit)?;
                Ok(Object::Memory(Arc::new(MemoryObject::device(range))))
            }
            MINT_IO_PORTS => Ok(Object::IoPorts(Arc::new(IoPorts(PortRange::new(
                base, len,
            )?)))),
            MINT_DMA => {
                let limit = if base == 0 { u64::MAX } else { base };
                let object = MemoryObject::contiguous(len, MAX_DMA_SIZE, limit)?;
                Ok(Object::Memory(Arc::new(object)))
            }
            MINT_ISA_IRQ => {
                if base >= 16 || len != 1 {
                    return Err(Errno::Inval);
                }
                Ok(Object::IrqLine(IrqLine::isa(base as u8)?))
            }
            _ => Err(Errno::Inval),
        }
    }
}

/// A range of I/O ports a driver may read (READ) and write (WRITE).
#[derive(Debug)]
pub struct IoPorts(pub PortRange);

impl IoPorts {
    pub fn read(&self, port: u64, width: u64) -> Result<u32, Errno> {
        let port = self.0.check(port, width)?;
        // SAFETY: the port lies in this range, which excludes the kernel's
        // own devices (`PortRange::new`).
        Ok(unsafe { portio::read(port, width as u8) })
    }

    pub fn write(&self, port: u64, width: u64, value: u64) -> Result<(), Errno> {
        let port = self.0.check(port, width)?;
        let value = u32::try_from(value).map_err(|_| Errno::Inval)?;
        if width < 4 && value >> (width * 8) != 0 {
            return Err(Errno::Inval);
        }
        // SAFETY: as in `read`.
        unsafe { portio::write(port, width as u8, value) };
        Ok(())
    }
}
