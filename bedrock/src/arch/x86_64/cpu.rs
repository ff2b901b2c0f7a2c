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

/// Enables what ring-3 code and the kernel rely on, on this CPU: SSE
/// (FXSAVE/FXRSTOR and SIMD exceptions), and SMEP when available (the
/// kernel never executes user pages).
pub fn init_features() {
    use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
    #[allow(unused_unsafe)]
    // SAFETY: CPUID leaf 7 is valid when leaf 0 reports it; QEMU and every
    // x86_64 CPU since 2013 do. A missing leaf reads as zeros.
    let leaf7 = unsafe { core::arch::x86_64::__cpuid_count(7, 0) };
    // SAFETY: these bits only enable features the CPU has (SSE is part of
    // x86_64; SMEP is checked); the kernel itself never uses SSE.
    unsafe {
        let mut cr0 = Cr0::read();
        cr0.remove(Cr0Flags::EMULATE_COPROCESSOR | Cr0Flags::TASK_SWITCHED);
        cr0.insert(Cr0Flags::MONITOR_COPROCESSOR);
        Cr0::write(cr0);
        let mut cr4 = Cr4::read();
        cr4.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE);
        if leaf7.ebx & (1 << 7) != 0 {
            cr4.insert(Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION);
        }
        Cr4::write(cr4);
    }
}

/// 512-byte FXSAVE image of the x87/SSE state of a user thread.
#[derive(Clone)]
#[repr(C, align(16))]
pub struct FpuState([u8; 512]);

impl FpuState {
    /// The state a new thread starts with: x87 control word 0x37f (all
    /// exceptions masked), MXCSR 0x1f80 (all SIMD exceptions masked).
    pub fn initial() -> Self {
        let mut s = FpuState([0; 512]);
        s.0[0..2].copy_from_slice(&0x037fu16.to_le_bytes());
        s.0[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
        s.0[28..32].copy_from_slice(&0xffffu32.to_le_bytes()); // MXCSR_MASK
        s
    }

    /// Saves this CPU's x87/SSE registers here.
    pub fn save(&mut self) {
        // SAFETY: the area is 512 bytes, 16-byte aligned, as FXSAVE needs.
        unsafe { core::arch::asm!("fxsave64 [{}]", in(reg) self.0.as_mut_ptr(), options(nostack)) };
    }

    /// Loads the registers from here.
    pub fn restore(&self) {
        // SAFETY: as in `save`; the image came from FXSAVE or `initial`
        // (reserved MXCSR bits zero), so FXRSTOR cannot fault.
        unsafe { core::arch::asm!("fxrstor64 [{}]", in(reg) self.0.as_ptr(), options(nostack)) };
    }
}
