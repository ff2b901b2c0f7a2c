//! Time since boot from the TSC, calibrated against the PIT.
//!
//! The PIT (8254) runs at a fixed 1.193182 MHz on every PC, so counting TSC
//! ticks over a PIT one-shot of known length gives the TSC frequency. The
//! SMP issue replaces this with HPET/PM-timer calibration and an invariant
//! TSC check; the interface stays `now_ns`.

use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::instructions::port::Port;

use super::cpu::rdtsc;

const PIT_HZ: u64 = 1_193_182;
/// Calibration window: 10 ms.
const CALIBRATION_TICKS: u16 = (PIT_HZ / 100) as u16;

static BOOT_TSC: AtomicU64 = AtomicU64::new(0);
/// TSC ticks per microsecond; 0 until calibrated.
static TSC_PER_US: AtomicU64 = AtomicU64::new(0);

/// Records the boot TSC (call first thing, so timestamps start near 0).
pub fn mark_boot() {
    BOOT_TSC.store(rdtsc(), Ordering::Relaxed);
}

/// Measures the TSC frequency with PIT channel 2. Returns ticks per µs.
pub fn calibrate() -> u64 {
    let mut gate = Port::<u8>::new(0x61);
    let mut cmd = Port::<u8>::new(0x43);
    let mut ch2 = Port::<u8>::new(0x42);
    // SAFETY: PIT channel 2 and the port-0x61 gate are standard PC I/O with
    // no memory effects; channel 2 drives only the (disabled) speaker.
    let ticks = unsafe {
        // Gate on, speaker off; channel 2, lobyte/hibyte, mode 0 (one-shot).
        let g = gate.read();
        gate.write((g & !0x02) | 0x01);
        cmd.write(0b1011_0000);
        ch2.write(CALIBRATION_TICKS as u8);
        ch2.write((CALIBRATION_TICKS >> 8) as u8);
        let start = rdtsc();
        // OUT2 (bit 5) rises when the count reaches zero. Bound the wait so
        // a machine without a PIT still boots (with a guessed frequency).
        let mut spins = 0u64;
        while gate.read() & 0x20 == 0 && spins < 50_000_000 {
            spins += 1;
        }
        rdtsc() - start
    };
    let per_us = (ticks / 10_000).max(1);
    TSC_PER_US.store(per_us, Ordering::Relaxed);
    per_us
}

/// Nanoseconds since [`mark_boot`] (TSC ticks until calibrated).
pub fn now_ns() -> u64 {
    let ticks = rdtsc().wrapping_sub(BOOT_TSC.load(Ordering::Relaxed));
    match TSC_PER_US.load(Ordering::Relaxed) {
        0 => ticks,
        per_us => (ticks as u128 * 1000 / per_us as u128) as u64,
    }
}
