//! IRQ line objects: a device interrupt delivered to ring 3 as
//! notification bits. Each interrupt masks the line and signals the bound
//! notification; the driver unmasks it (`IrqAck`) once it has served the
//! device, so a level-triggered line cannot storm the CPU meanwhile.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;

use bedrock_abi::Errno;

use super::notification::Notification;
use crate::acpi::topology::IrqRoute;
use crate::arch::x86_64::{apic, ioapic, irq};
use crate::sync::IrqSpin;

#[derive(Debug)]
pub struct IrqLine {
    route: IrqRoute,
    vector: u8,
    target: IrqSpin<Option<(Arc<Notification>, u64)>>,
}

/// Lines by vector, for the interrupt handler.
static LINES: IrqSpin<BTreeMap<u8, Arc<IrqLine>>> = IrqSpin::new(BTreeMap::new());

fn on_interrupt(vector: u8) {
    let line = LINES.lock().get(&vector).cloned();
    if let Some(line) = line {
        let _ = ioapic::mask(line.route.gsi);
        if let Some((n, bits)) = line.target.lock().as_ref() {
            n.signal(*bits);
        }
    }
}

impl IrqLine {
    /// Takes ISA IRQ `isa` (overrides applied) onto a free device vector,
    /// routed to this CPU and masked until a notification is bound.
    pub fn isa(isa: u8) -> Result<Arc<IrqLine>, Errno> {
        let route = ioapic::isa_route(isa);
        let line = {
            let mut lines = LINES.lock();
            // Two lines on one input would steal each other's routing.
            if lines.values().any(|l| l.route.gsi == route.gsi) {
                return Err(Errno::Busy);
            }
            let vector = (irq::FIRST_DEVICE_VECTOR + 0x10..=irq::LAST_DEVICE_VECTOR)
                .find(|&v| irq::attach(v, on_interrupt).is_ok())
                .ok_or(Errno::Busy)?;
            let line = Arc::new(IrqLine {
                route,
                vector,
                target: IrqSpin::new(None),
            });
            lines.insert(vector, line.clone());
            line
        };
        let vector = line.vector;
        if ioapic::route(route, vector, apic::id()).is_err() || ioapic::mask(route.gsi).is_err() {
            LINES.lock().remove(&vector);
            let _ = irq::detach(vector);
            return Err(Errno::NoEnt);
        }
        Ok(line)
    }

    /// Sends future interrupts to `notification` as `bits`; unmasks.
    pub fn bind(&self, notification: Arc<Notification>, bits: u64) -> Result<(), Errno> {
        if bits == 0 {
            return Err(Errno::Inval);
        }
        *self.target.lock() = Some((notification, bits));
        self.ack()
    }

    /// Unmasks the line after the driver served an interrupt.
    pub fn ack(&self) -> Result<(), Errno> {
        if self.target.lock().is_none() {
            return Err(Errno::Inval);
        }
        ioapic::route(self.route, self.vector, apic::id()).map_err(|_| Errno::Io)
    }

    /// Masks the line and frees its vector (the last handle is gone).
    pub fn release(&self) {
        let _ = ioapic::mask(self.route.gsi);
        LINES.lock().remove(&self.vector);
        let _ = irq::detach(self.vector);
    }
}
