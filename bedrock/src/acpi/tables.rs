//! Glue to the `acpi` crate: maps tables through the direct map and turns
//! the MADT, HPET and FADT into a [`Topology`].

use alloc::vec::Vec;
use core::ptr::NonNull;

use acpi::fadt::Fadt;
use acpi::hpet::HpetTable;
use acpi::madt::{Madt, MadtEntry};
use acpi::{AcpiError, AcpiHandler, AcpiTables, PhysicalMapping};

use super::topology::{MadtItem, PmTimer, Topology};
use crate::mm::PhysRange;
use crate::mm::kernel_space::{Caching, map_direct};

/// Maps firmware tables at their direct-map address (they often sit in
/// "reserved" memory that the RAM direct map leaves out) and never unmaps
/// them: they are few, small, and read again later (FADT for power-off).
#[derive(Clone, Copy, Debug)]
struct DirectMapHandler;

impl AcpiHandler for DirectMapHandler {
    unsafe fn map_physical_region<T>(&self, phys: usize, size: usize) -> PhysicalMapping<Self, T> {
        let range = PhysRange::from_len(phys as u64, size as u64).expect("ACPI table range wraps");
        let virt = map_direct(range, Caching::WriteBack).expect("cannot map ACPI table");
        let ptr = NonNull::new(virt as *mut T).expect("direct map address is never null");
        // SAFETY: `ptr` maps `size` bytes at `phys`, which the crate says
        // holds a `T`; the mapping stays valid for the kernel's lifetime.
        unsafe { PhysicalMapping::new(phys, ptr, size, size, *self) }
    }

    fn unmap_physical_region<T>(_region: &PhysicalMapping<Self, T>) {}
}

/// Reads the ACPI tables found from the RSDP at `rsdp`.
pub fn discover(rsdp: u64) -> Result<Topology, AcpiError> {
    // SAFETY: `rsdp` comes from the boot loader's start info; the crate
    // validates the RSDP signature and checksums of every table it reads.
    let tables = unsafe { AcpiTables::from_rsdp(DirectMapHandler, rsdp as usize) }?;

    let madt = tables.find_table::<Madt>()?;
    let items: Vec<MadtItem> = madt
        .get()
        .entries()
        .filter_map(|e| match e {
            MadtEntry::LocalApic(l) => Some(MadtItem::LocalApic {
                apic_id: l.apic_id as u32,
                enabled: l.flags & 1 != 0,
                online_capable: l.flags & 2 != 0,
            }),
            MadtEntry::LocalX2Apic(l) => Some(MadtItem::LocalApic {
                apic_id: l.x2apic_id,
                enabled: l.flags & 1 != 0,
                online_capable: l.flags & 2 != 0,
            }),
            MadtEntry::IoApic(io) => Some(MadtItem::IoApic {
                id: io.io_apic_id,
                address: io.io_apic_address,
                gsi_base: io.global_system_interrupt_base,
            }),
            MadtEntry::InterruptSourceOverride(o) if o.bus == 0 => Some(MadtItem::Override {
                irq: o.irq,
                gsi: o.global_system_interrupt,
                flags: o.flags,
            }),
            MadtEntry::LocalApicAddressOverride(a) => {
                Some(MadtItem::LocalApicAddressOverride(a.local_apic_address))
            }
            _ => None,
        })
        .collect();
    let mut topology = Topology::from_madt(madt.get().local_apic_address, items);

    // The crate's HpetInfo asserts on unexpected address spaces; read the
    // generic address structure ourselves (offset 40: space id, 44: address).
    if let Ok(hpet) = tables.find_table::<HpetTable>() {
        let base = hpet.virtual_start().as_ptr() as *const u8;
        // SAFETY: the mapping covers the whole HPET table (56 bytes).
        let (space, addr) = unsafe {
            (
                base.add(40).read(),
                (base.add(44) as *const u64).read_unaligned(),
            )
        };
        if space == 0 && addr != 0 {
            topology.hpet_address = Some(addr);
        }
    }
    if let Ok(fadt) = tables.find_table::<Fadt>()
        && let Ok(Some(block)) = fadt.pm_timer_block()
        && block.address_space == acpi::address::AddressSpace::SystemIo
        && block.address <= u16::MAX as u64
    {
        topology.pm_timer = Some(PmTimer {
            port: block.address as u16,
            wide: { fadt.flags }.pm_timer_is_32_bit(),
        });
    }
    Ok(topology)
}
