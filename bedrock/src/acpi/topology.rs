//! The machine's topology as the kernel needs it, built from MADT entries.
//!
//! Firmware tables are input like any other: duplicate APIC IDs, disabled
//! entries and more CPUs than we support are handled here, not trusted.

use alloc::vec::Vec;

/// Most CPUs Bedrock brings online.
pub const MAX_CPUS: usize = 64;

/// One entry of the MADT that matters to us (decoded from the `acpi` crate's
/// types so that this logic is testable on the host).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MadtItem {
    /// A processor's local APIC (xAPIC or x2APIC entry).
    LocalApic {
        apic_id: u32,
        enabled: bool,
        online_capable: bool,
    },
    IoApic {
        id: u8,
        address: u32,
        gsi_base: u32,
    },
    /// ISA IRQ `irq` is wired to global system interrupt `gsi`.
    Override {
        irq: u8,
        gsi: u32,
        flags: u16,
    },
    LocalApicAddressOverride(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoApic {
    pub id: u8,
    pub address: u64,
    pub gsi_base: u32,
}

/// Polarity and trigger mode of an interrupt source override.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqRoute {
    pub gsi: u32,
    pub active_low: bool,
    pub level_triggered: bool,
}

/// Where and how to read the ACPI PM timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PmTimer {
    pub port: u16,
    /// 32-bit counter (else 24-bit).
    pub wide: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    /// APIC IDs of the CPUs to run on, boot CPU included, in MADT order.
    pub cpus: Vec<u32>,
    /// CPUs listed but skipped (duplicate, beyond [`MAX_CPUS`]).
    pub skipped_cpus: usize,
    pub local_apic_address: u64,
    pub ioapics: Vec<IoApic>,
    /// ISA IRQ -> route, for IRQs with an override.
    pub overrides: Vec<(u8, IrqRoute)>,
    pub hpet_address: Option<u64>,
    pub pm_timer: Option<PmTimer>,
}

impl Topology {
    /// Builds the topology from MADT items. `madt_lapic` is the MADT
    /// header's local APIC address.
    pub fn from_madt(madt_lapic: u32, items: impl IntoIterator<Item = MadtItem>) -> Self {
        let mut t = Topology {
            local_apic_address: madt_lapic as u64,
            ..Self::default()
        };
        for item in items {
            match item {
                MadtItem::LocalApic {
                    apic_id,
                    enabled,
                    online_capable,
                } => {
                    if !(enabled || online_capable) {
                        continue;
                    }
                    if t.cpus.contains(&apic_id) || t.cpus.len() == MAX_CPUS {
                        t.skipped_cpus += 1;
                    } else {
                        t.cpus.push(apic_id);
                    }
                }
                MadtItem::IoApic {
                    id,
                    address,
                    gsi_base,
                } => t.ioapics.push(IoApic {
                    id,
                    address: address as u64,
                    gsi_base,
                }),
                MadtItem::Override { irq, gsi, flags } => {
                    // MPS INTI flags: polarity bits 0-1 (3 = active low),
                    // trigger bits 2-3 (3 = level).
                    let route = IrqRoute {
                        gsi,
                        active_low: flags & 0b11 == 0b11,
                        level_triggered: (flags >> 2) & 0b11 == 0b11,
                    };
                    t.overrides.retain(|(i, _)| *i != irq);
                    t.overrides.push((irq, route));
                }
                MadtItem::LocalApicAddressOverride(addr) => t.local_apic_address = addr,
            }
        }
        t
    }

    /// Route of ISA IRQ `irq`: its override, or the identity-mapped,
    /// edge-triggered, active-high default.
    pub fn isa_route(&self, irq: u8) -> IrqRoute {
        self.overrides.iter().find(|(i, _)| *i == irq).map_or(
            IrqRoute {
                gsi: irq as u32,
                active_low: false,
                level_triggered: false,
            },
            |(_, r)| *r,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(apic_id: u32, enabled: bool) -> MadtItem {
        MadtItem::LocalApic {
            apic_id,
            enabled,
            online_capable: false,
        }
    }

    #[test]
    fn qemu_like_madt() {
        let t = Topology::from_madt(
            0xfee0_0000,
            [
                cpu(0, true),
                cpu(1, true),
                MadtItem::IoApic {
                    id: 0,
                    address: 0xfec0_0000,
                    gsi_base: 0,
                },
                MadtItem::Override {
                    irq: 0,
                    gsi: 2,
                    flags: 0,
                },
                MadtItem::Override {
                    irq: 9,
                    gsi: 9,
                    flags: 0b1101,
                },
            ],
        );
        assert_eq!(t.cpus, vec![0, 1]);
        assert_eq!(
            t.ioapics,
            vec![IoApic {
                id: 0,
                address: 0xfec0_0000,
                gsi_base: 0
            }]
        );
        assert_eq!(t.isa_route(0).gsi, 2);
        assert_eq!(
            t.isa_route(9),
            IrqRoute {
                gsi: 9,
                active_low: false,
                level_triggered: true
            }
        );
        assert_eq!(
            t.isa_route(4),
            IrqRoute {
                gsi: 4,
                active_low: false,
                level_triggered: false
            }
        );
    }

    #[test]
    fn untrustworthy_cpu_entries() {
        let mut items = vec![
            cpu(0, true),
            cpu(0, true),
            cpu(7, false),
            MadtItem::LocalApic {
                apic_id: 8,
                enabled: false,
                online_capable: true,
            },
        ];
        items.extend((100..200).map(|i| cpu(i, true)));
        let t = Topology::from_madt(0xfee0_0000, items);
        assert_eq!(&t.cpus[..3], &[0, 8, 100]);
        assert_eq!(t.cpus.len(), MAX_CPUS);
        assert_eq!(t.skipped_cpus, 1 + (100 - (MAX_CPUS - 2)));
    }

    #[test]
    fn address_override_wins() {
        let t = Topology::from_madt(
            0xfee0_0000,
            [MadtItem::LocalApicAddressOverride(0x1_0000_0000)],
        );
        assert_eq!(t.local_apic_address, 0x1_0000_0000);
    }
}
