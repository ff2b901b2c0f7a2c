//! Reference clocks from ACPI: the HPET main counter and the PM timer,
//! used to calibrate the TSC.

use super::tsc::RefClock;
use x86_64::instructions::port::Port;

/// The HPET's main counter, through its MMIO registers.
pub struct Hpet {
    regs: *mut u64,
    hz: u64,
}

impl Hpet {
    /// Starts the main counter of the HPET whose registers are mapped
    /// (uncached) at `virt`.
    ///
    /// # Safety
    /// `virt` must map the HPET's 1 KiB register block.
    pub unsafe fn new(virt: u64) -> Option<Hpet> {
        let regs = virt as *mut u64;
        // SAFETY: the caller maps the register block; offsets are the
        // HPET spec's general capabilities (0x0) and configuration (0x10).
        let caps = unsafe { regs.read_volatile() };
        let period_fs = caps >> 32;
        if period_fs == 0 || period_fs > 100_000_000 {
            return None; // the spec caps the period at 100 ns
        }
        // SAFETY: as above; setting ENABLE_CNF starts the main counter.
        unsafe {
            let cfg = regs.add(2).read_volatile();
            regs.add(2).write_volatile(cfg | 1);
        }
        Some(Hpet {
            regs,
            hz: 1_000_000_000_000_000 / period_fs,
        })
    }
}

impl RefClock for Hpet {
    fn read(&mut self) -> u64 {
        // SAFETY: main counter register (0xf0) of the mapped block.
        unsafe { self.regs.add(0xf0 / 8).read_volatile() }
    }
    fn hz(&self) -> u64 {
        self.hz
    }
    fn bits(&self) -> u32 {
        64
    }
}

/// The ACPI PM timer: 3.579545 MHz, 24 or 32 bits, in I/O space.
pub struct PmTimer {
    port: Port<u32>,
    bits: u32,
}

impl PmTimer {
    pub fn new(port: u16, wide: bool) -> PmTimer {
        PmTimer {
            port: Port::new(port),
            bits: if wide { 32 } else { 24 },
        }
    }
}

impl RefClock for PmTimer {
    fn read(&mut self) -> u64 {
        // SAFETY: reading the PM timer port has no side effects.
        unsafe { self.port.read() as u64 }
    }
    fn hz(&self) -> u64 {
        3_579_545
    }
    fn bits(&self) -> u32 {
        self.bits
    }
}
