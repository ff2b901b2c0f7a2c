//! Device resources for ring-3 drivers, the portable part: which physical
//! ranges may be handed out as MMIO and which I/O ports as port ranges.
//! The kernel objects and system calls are in `ipc::device` and
//! `syscall::device`.

use bedrock_abi::Errno;
use bedrock_abi::device::{MAX_MMIO_SIZE, PORT_COUNT};

use crate::mm::memmap::{Region, RegionKind};
use crate::mm::{PAGE_SIZE, PhysRange};

/// I/O ports the kernel drives itself, never handed out: the legacy PICs,
/// the PIT and its gate (TSC calibration), CMOS/RTC (wall clock, IRQ 8),
/// QEMU's isa-debug-exit (the kernel's power-off and test verdict) and
/// COM1 (the kernel log).
pub const KERNEL_PORTS: &[(u16, u16)] = &[
    (0x20, 2),
    (0x40, 4),
    (0x61, 1),
    (0x70, 2),
    (0xa0, 2),
    (0xf4, 4),
    (0x3f8, 8),
];

/// Memory-map kinds that are RAM (or firmware data in RAM): never device
/// memory, whatever the frame allocator does with them.
fn is_ram(kind: RegionKind) -> bool {
    matches!(
        kind,
        RegionKind::Usable | RegionKind::AcpiReclaimable | RegionKind::AcpiNvs | RegionKind::Bad
    )
}

/// Checks that `[base, base + len)` may become an MMIO capability:
/// page-aligned, non-empty, at most [`MAX_MMIO_SIZE`], below `phys_limit`
/// (the CPU's physical address width) — else `Inval`; not overlapping RAM
/// in the firmware map `regions` — else `Perm`; not overlapping `kernel`
/// (the kernel image, boot modules, the APIC registers the kernel drives)
/// — else `Busy`.
pub fn check_mmio(
    base: u64,
    len: u64,
    regions: &[Region],
    kernel: &[PhysRange],
    phys_limit: u64,
) -> Result<PhysRange, Errno> {
    if len == 0 || len > MAX_MMIO_SIZE || !base.is_multiple_of(PAGE_SIZE) {
        return Err(Errno::Inval);
    }
    if !len.is_multiple_of(PAGE_SIZE) {
        return Err(Errno::Inval);
    }
    let range = PhysRange::from_len(base, len).ok_or(Errno::Inval)?;
    if range.end > phys_limit {
        return Err(Errno::Inval);
    }
    if regions
        .iter()
        .any(|r| is_ram(r.kind) && r.range.overlaps(&range))
    {
        return Err(Errno::Perm);
    }
    if kernel.iter().any(|k| k.overlaps(&range)) {
        return Err(Errno::Busy);
    }
    Ok(range)
}

/// A range of I/O ports `[first, first + count)`.
///
/// Port access goes through system calls that check the range, rather
/// than through the TSS I/O permission bitmap: the bitmap would have to be
/// per silo and swapped (8 KiB) on every context switch between silos, and
/// a per-port syscall costs little next to the port access itself (each
/// `in`/`out` is a slow bus cycle, and trapped by a hypervisor anyway).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    first: u16,
    count: u32,
}

impl PortRange {
    /// The range, if it is non-empty, inside the 64 Ki ports (`Inval`) and
    /// clear of [`KERNEL_PORTS`] (`Busy`).
    pub fn new(first: u64, count: u64) -> Result<PortRange, Errno> {
        let end = first.checked_add(count).ok_or(Errno::Inval)?;
        if count == 0 || end > PORT_COUNT as u64 {
            return Err(Errno::Inval);
        }
        if KERNEL_PORTS.iter().any(|&(kfirst, kcount)| {
            let kend = kfirst as u64 + kcount as u64;
            first < kend && (kfirst as u64) < end
        }) {
            return Err(Errno::Busy);
        }
        Ok(PortRange {
            first: first as u16,
            count: count as u32,
        })
    }

    pub fn first(&self) -> u16 {
        self.first
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    /// The port of an access of `width` bytes at `port`: `Inval` for a
    /// width other than 1, 2 or 4, `Acces` unless every byte is in range.
    pub fn check(&self, port: u64, width: u64) -> Result<u16, Errno> {
        if !matches!(width, 1 | 2 | 4) {
            return Err(Errno::Inval);
        }
        let first = self.first as u64;
        let end = first + self.count as u64;
        if port < first || port.checked_add(width).is_none_or(|e| e > end) {
            return Err(Errno::Acces);
        }
        Ok(port as u16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn q35_map() -> [Region; 5] {
        let r = |start, end, ty| Region {
            range: PhysRange::new(start, end),
            kind: RegionKind::from_e820(ty),
        };
        [
            r(0, 0x9fc00, 1),
            r(0x9fc00, 0xa0000, 2),
            r(0x100000, 0x7ffe_0000, 1),
            r(0x7ffe_0000, 0x8000_0000, 2),
            r(0xb000_0000, 0xc000_0000, 2),
        ]
    }

    #[test]
    fn mmio_outside_ram_is_accepted() {
        let map = q35_map();
        let hpet = check_mmio(0xfed0_0000, PAGE_SIZE, &map, &[], 1 << 46).unwrap();
        assert_eq!(hpet, PhysRange::new(0xfed0_0000, 0xfed0_1000));
        // VGA memory below 1 MiB, a reserved (ECAM) window.
        assert!(check_mmio(0xa0000, 0x20000, &map, &[], 1 << 46).is_ok());
        assert!(check_mmio(0xb000_0000, 0x1000_0000, &map, &[], 1 << 46).is_ok());
    }

    #[test]
    fn mmio_over_ram_is_refused() {
        let map = q35_map();
        for (base, len) in [
            (0x100000, PAGE_SIZE),
            (0, PAGE_SIZE),
            // The page holding the end of low RAM (0x9fc00).
            (0x9f000, PAGE_SIZE),
            // Straddling the end of high RAM.
            (0x7ffd_f000, 2 * PAGE_SIZE),
            (0x7000_0000, 0x1000_0000),
        ] {
            assert_eq!(
                check_mmio(base, len, &map, &[], 1 << 46),
                Err(Errno::Perm),
                "{base:#x}+{len:#x}"
            );
        }
        let acpi = [Region {
            range: PhysRange::new(0x1000_0000, 0x1001_0000),
            kind: RegionKind::AcpiNvs,
        }];
        assert_eq!(
            check_mmio(0x1000_0000, PAGE_SIZE, &acpi, &[], GIB),
            Err(Errno::Perm)
        );
    }

    #[test]
    fn mmio_bad_arguments() {
        let map = q35_map();
        let limit = 1 << 36;
        for (base, len) in [
            (0xfed0_0000, 0),
            (0xfed0_0001, PAGE_SIZE),
            (0xfed0_0000, 100),
            (0xc000_0000, MAX_MMIO_SIZE + PAGE_SIZE),
            (!0xfff, 2 * PAGE_SIZE),
            (limit, PAGE_SIZE),
            (limit - PAGE_SIZE, 2 * PAGE_SIZE),
        ] {
            assert_eq!(
                check_mmio(base, len, &map, &[], limit),
                Err(Errno::Inval),
                "{base:#x}+{len:#x}"
            );
        }
        assert!(check_mmio(limit - PAGE_SIZE, PAGE_SIZE, &map, &[], limit).is_ok());
    }

    #[test]
    fn mmio_of_the_kernel_is_busy() {
        let lapic = PhysRange::new(0xfee0_0000, 0xfee0_1000);
        let map = q35_map();
        assert_eq!(
            check_mmio(0xfee0_0000, PAGE_SIZE, &map, &[lapic], 1 << 46),
            Err(Errno::Busy)
        );
        assert_eq!(
            check_mmio(0xfed0_0000, 0x200000, &map, &[lapic], 1 << 46),
            Err(Errno::Busy)
        );
        assert!(check_mmio(0xfed0_0000, PAGE_SIZE, &map, &[lapic], 1 << 46).is_ok());
    }

    #[test]
    fn port_ranges() {
        let pci = PortRange::new(0xcf8, 8).unwrap();
        assert_eq!(pci.check(0xcf8, 4), Ok(0xcf8));
        assert_eq!(pci.check(0xcfc, 4), Ok(0xcfc));
        assert_eq!(pci.check(0xcff, 1), Ok(0xcff));
        assert_eq!(pci.check(0xcfe, 2), Ok(0xcfe));
        assert_eq!(pci.check(0xcfd, 4), Err(Errno::Acces));
        assert_eq!(pci.check(0xcf7, 1), Err(Errno::Acces));
        assert_eq!(pci.check(0xd00, 1), Err(Errno::Acces));
        assert_eq!(pci.check(u64::MAX, 4), Err(Errno::Acces));
        for w in [0, 3, 8, u64::MAX] {
            assert_eq!(pci.check(0xcf8, w), Err(Errno::Inval));
        }
        let top = PortRange::new(0xfff0, 0x10).unwrap();
        assert_eq!(top.check(0xfffc, 4), Ok(0xfffc));
        assert_eq!(top.check(0xfffe, 4), Err(Errno::Acces));
    }

    #[test]
    fn port_range_bounds_and_kernel_ports() {
        assert_eq!(PortRange::new(0xcf8, 0), Err(Errno::Inval));
        assert_eq!(PortRange::new(0xffff, 2), Err(Errno::Inval));
        assert_eq!(PortRange::new(u64::MAX, 2), Err(Errno::Inval));
        assert_eq!(PortRange::new(0x1_0000, 1), Err(Errno::Inval));
        assert!(PortRange::new(0xffff, 1).is_ok());
        assert_eq!(PortRange::new(0x3f8, 8), Err(Errno::Busy));
        assert_eq!(PortRange::new(0x3f0, 9), Err(Errno::Busy));
        assert_eq!(PortRange::new(0x3ff, 1), Err(Errno::Busy));
        assert_eq!(PortRange::new(0, 0x1_0000), Err(Errno::Busy));
        assert_eq!(PortRange::new(0x71, 1), Err(Errno::Busy));
        assert!(PortRange::new(0x72, 2).is_ok());
        assert!(PortRange::new(0x400, 0x100).is_ok());
    }
}
