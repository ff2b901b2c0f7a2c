//! The interrupt flag and the vectors Bedrock assigns.

/// LAPIC timer: preemption and sleep deadlines.
pub const TIMER_VECTOR: u8 = 0x30;
/// Inter-processor "look at your run queue" interrupt.
pub const RESCHED_VECTOR: u8 = 0x31;
/// Inter-processor TLB shootdown.
pub const SHOOTDOWN_VECTOR: u8 = 0x32;

/// Disables interrupts and reports whether they were on.
pub fn disable_save() -> bool {
    let were = x86_64::instructions::interrupts::are_enabled();
    x86_64::instructions::interrupts::disable();
    were
}

/// Turns interrupts back on if `were_enabled`.
pub fn restore(were_enabled: bool) {
    if were_enabled {
        x86_64::instructions::interrupts::enable();
    }
}

pub fn enable() {
    x86_64::instructions::interrupts::enable();
}

pub fn are_enabled() -> bool {
    x86_64::instructions::interrupts::are_enabled()
}

/// Enables interrupts and halts until one arrives, atomically (`sti; hlt`),
/// so a wake-up interrupt between the check and the halt is not lost.
pub fn enable_and_halt() {
    x86_64::instructions::interrupts::enable_and_hlt();
}
