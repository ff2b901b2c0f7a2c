//! Small CPU helpers: identification, time stamp counter, halting.

use core::arch::x86_64::{__cpuid, _rdtsc};

/// Reads the time stamp counter.
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC has no memory effects; every x86_64 CPU has it.
    unsafe { _rdtsc() }
}

/// Initial APIC ID of the running CPU (CPUID.1:EBX[31:24]); the CPU number
/// shown in log lines until per-CPU data exists.
pub fn apic_id() -> u32 {
    // `__cpuid` is a safe function on newer toolchains, unsafe on older ones.
    #[allow(unused_unsafe)]
    // SAFETY: CPUID leaf 1 exists on every x86_64 CPU.
    let leaf = unsafe { __cpuid(1) };
    leaf.ebx >> 24
}

/// Stops this CPU for good: interrupts off, then `hlt` forever.
pub fn halt_forever() -> ! {
    ::x86_64::instructions::interrupts::disable();
    loop {
        ::x86_64::instructions::hlt();
    }
}
