//! I/O APICs: where device interrupt lines (global system interrupts, GSIs)
//! are routed to a vector on a CPU. At boot every line is masked; a driver
//! (later: a ring-3 driver holding an IRQ capability) asks for a route.

use alloc::vec::Vec;
use spin::Once;

use crate::acpi::topology::{IrqRoute, Topology};
use crate::mm::PhysRange;
use crate::mm::kernel_space::{Caching, map_direct};
use crate::sync::IrqSpin;

const REG_VERSION: u32 = 0x01;
const REG_REDIRECTION: u32 = 0x10;
const MASKED: u32 = 1 << 16;

struct IoApic {
    /// Uncached mapping of the register window (IOREGSEL at 0, IOWIN at 0x10).
    regs: u64,
    gsi_base: u32,
    lines: u32,
}

impl IoApic {
    fn read(&self, reg: u32) -> u32 {
        // SAFETY: `regs` maps this I/O APIC's registers (see `init`);
        // select-then-access is serialised by the `IOAPICS` lock.
        unsafe {
            (self.regs as *mut u32).write_volatile(reg);
            ((self.regs + 0x10) as *const u32).read_volatile()
        }
    }

    fn write(&self, reg: u32, value: u32) {
        // SAFETY: as in `read`.
        unsafe {
            (self.regs as *mut u32).write_volatile(reg);
            ((self.regs + 0x10) as *mut u32).write_volatile(value);
        }
    }

    fn serves(&self, gsi: u32) -> bool {
        gsi >= self.gsi_base && gsi - self.gsi_base < self.lines
    }
}

static IOAPICS: IrqSpin<Vec<IoApic>> = IrqSpin::new(Vec::new());
static TOPOLOGY: Once<Topology> = Once::new();

/// Maps every I/O APIC of `topology` and masks all its lines.
pub fn init(topology: &Topology) -> usize {
    TOPOLOGY.call_once(|| topology.clone());
    let mut list = IOAPICS.lock();
    for io in &topology.ioapics {
        let Ok(regs) = map_direct(
            PhysRange::new(io.address, io.address + 0x20),
            Caching::Uncached,
        ) else {
            log::warn!(
                "ioapic {}: cannot map its registers at {:#x}",
                io.id,
                io.address
            );
            continue;
        };
        let mut apic = IoApic {
            regs,
            gsi_base: io.gsi_base,
            lines: 0,
        };
        apic.lines = ((apic.read(REG_VERSION) >> 16) & 0xff) + 1;
        for line in 0..apic.lines {
            apic.write(REG_REDIRECTION + 2 * line, MASKED);
            apic.write(REG_REDIRECTION + 2 * line + 1, 0);
        }
        list.push(apic);
    }
    list.iter().map(|a| a.lines as usize).sum()
}

/// Why a route could not be set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// No I/O APIC serves this GSI.
    NoSuchLine(u32),
    /// Vectors below 0x20 are CPU exceptions.
    BadVector(u8),
}

/// Delivers GSI `route.gsi` as `vector` to the CPU with APIC ID `dest`
/// (fixed delivery, physical destination), unmasked.
pub fn route(route: IrqRoute, vector: u8, dest: u32) -> Result<(), RouteError> {
    if vector < 0x20 {
        return Err(RouteError::BadVector(vector));
    }
    let list = IOAPICS.lock();
    let apic = list
        .iter()
        .find(|a| a.serves(route.gsi))
        .ok_or(RouteError::NoSuchLine(route.gsi))?;
    let line = route.gsi - apic.gsi_base;
    let low = vector as u32
        | (u32::from(route.active_low) << 13)
        | (u32::from(route.level_triggered) << 15);
    apic.write(REG_REDIRECTION + 2 * line, MASKED);
    apic.write(REG_REDIRECTION + 2 * line + 1, (dest & 0xff) << 24);
    apic.write(REG_REDIRECTION + 2 * line, low);
    Ok(())
}

/// Masks GSI `gsi` again.
pub fn mask(gsi: u32) -> Result<(), RouteError> {
    let list = IOAPICS.lock();
    let apic = list
        .iter()
        .find(|a| a.serves(gsi))
        .ok_or(RouteError::NoSuchLine(gsi))?;
    apic.write(REG_REDIRECTION + 2 * (gsi - apic.gsi_base), MASKED);
    Ok(())
}

/// The route of ISA IRQ `irq` (interrupt source overrides applied).
pub fn isa_route(irq: u8) -> IrqRoute {
    TOPOLOGY.get().map_or(
        IrqRoute {
            gsi: irq as u32,
            active_low: false,
            level_triggered: false,
        },
        |t| t.isa_route(irq),
    )
}
