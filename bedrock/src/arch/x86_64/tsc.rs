//! Time since boot from the TSC.
//!
//! The TSC is first calibrated against the PIT (always present on a PC, no
//! setup needed) so that early log lines carry times, then refined against
//! the HPET or the ACPI PM timer once ACPI is parsed. Refining rebases the
//! clock at the current reading, so `now_ns` never goes backwards.

use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::instructions::port::Port;

use super::cpu::rdtsc;

const PIT_HZ: u64 = 1_193_182;
/// PIT calibration window: 10 ms.
const PIT_TICKS: u16 = (PIT_HZ / 100) as u16;

/// Clock origin: `now_ns = BASE_NS + (tsc - BASE_TSC) * MULT >> 32`.
static BASE_TSC: AtomicU64 = AtomicU64::new(0);
static BASE_NS: AtomicU64 = AtomicU64::new(0);
/// Nanoseconds per TSC tick in 32.32 fixed point; 0 until calibrated
/// (then `now_ns` returns raw ticks).
static MULT: AtomicU64 = AtomicU64::new(0);
static TSC_HZ: AtomicU64 = AtomicU64::new(0);

/// Records the boot TSC (call first thing, so timestamps start near 0).
pub fn mark_boot() {
    BASE_TSC.store(rdtsc(), Ordering::Relaxed);
}

/// A reference clock to calibrate against.
pub trait RefClock {
    /// Current counter value.
    fn read(&mut self) -> u64;
    /// Counter frequency in Hz.
    fn hz(&self) -> u64;
    /// Counter bits before it wraps.
    fn bits(&self) -> u32;
}

/// Counts TSC ticks over about 10 ms of `clock` and sets the frequency.
/// Returns the TSC frequency in Hz.
pub fn calibrate_with(clock: &mut impl RefClock) -> u64 {
    let mask = if clock.bits() >= 64 {
        u64::MAX
    } else {
        (1 << clock.bits()) - 1
    };
    let window = clock.hz() / 100;
    let start = clock.read();
    let tsc0 = rdtsc();
    let mut now = start;
    // Bounded: a dead reference clock leaves the previous calibration.
    for _ in 0..100_000_000u64 {
        now = clock.read();
        if now.wrapping_sub(start) & mask >= window {
            break;
        }
        core::hint::spin_loop();
    }
    let tsc1 = rdtsc();
    let elapsed = now.wrapping_sub(start) & mask;
    if elapsed < window {
        return TSC_HZ.load(Ordering::Relaxed);
    }
    let hz = ((tsc1 - tsc0) as u128 * clock.hz() as u128 / elapsed as u128) as u64;
    set_frequency(hz);
    hz
}

fn set_frequency(hz: u64) {
    let now = now_ns();
    BASE_TSC.store(rdtsc(), Ordering::Relaxed);
    BASE_NS.store(now, Ordering::Relaxed);
    MULT.store(
        ((1_000_000_000u128 << 32) / hz.max(1) as u128) as u64,
        Ordering::Relaxed,
    );
    TSC_HZ.store(hz, Ordering::Relaxed);
}

/// TSC frequency in Hz (0 before calibration).
pub fn frequency() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

/// Measures the TSC against PIT channel 2 (one 10 ms one-shot).
pub fn calibrate_pit() -> u64 {
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
        ch2.write(PIT_TICKS as u8);
        ch2.write((PIT_TICKS >> 8) as u8);
        let start = rdtsc();
        // OUT2 (bit 5) rises when the count reaches zero. Bounded so a
        // machine without a PIT still boots.
        let mut spins = 0u64;
        while gate.read() & 0x20 == 0 && spins < 50_000_000 {
            spins += 1;
        }
        rdtsc() - start
    };
    let hz = ticks * 100;
    set_frequency(hz);
    hz
}

/// Nanoseconds since [`mark_boot`] (TSC ticks until calibrated).
pub fn now_ns() -> u64 {
    let ticks = rdtsc().wrapping_sub(BASE_TSC.load(Ordering::Relaxed));
    match MULT.load(Ordering::Relaxed) {
        0 => ticks,
        mult => BASE_NS.load(Ordering::Relaxed) + ((ticks as u128 * mult as u128) >> 32) as u64,
    }
}

/// The TSC value at which `now_ns()` reaches `ns`.
pub fn ns_to_tsc(ns: u64) -> u64 {
    let base_ns = BASE_NS.load(Ordering::Relaxed);
    let hz = TSC_HZ.load(Ordering::Relaxed).max(1);
    BASE_TSC
        .load(Ordering::Relaxed)
        .saturating_add(crate::time::ns_to_ticks(ns.saturating_sub(base_ns), hz))
}

/// Busy-waits `ns` nanoseconds (for hardware delays before the scheduler).
pub fn spin_ns(ns: u64) {
    let end = now_ns() + ns;
    while now_ns() < end {
        core::hint::spin_loop();
    }
}
