//! Small CPU helpers: identification, time stamp counter, halting.

use core::arch::x86_64::{__cpuid, _rdtsc};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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
/// (FXSAVE/FXRSTOR and SIMD exceptions) and SMEP when available (the
/// kernel never executes user pages). XSAVE comes with [`init_xsave`].
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

/// Bytes of the register image of a user thread: the XSAVE area size for
/// the enabled components, or 512 (FXSAVE) without XSAVE.
static FPU_AREA_SIZE: AtomicUsize = AtomicUsize::new(512);
static USE_XSAVE: AtomicBool = AtomicBool::new(false);

/// User-visible state components we enable in XCR0 when supported: x87,
/// SSE, AVX and AVX-512 (opmask, ZMM_Hi256, Hi16_ZMM). Others (MPX, AMX,
/// PKRU) need extra kernel support and stay off.
const XCR0_WANTED: u64 = 0b1110_0111;

/// Set by `fpu=fxsave`: no XSAVE, hence no AVX for user programs (some
/// nested hypervisors cannot emulate XRSTOR).
static XSAVE_DISABLED: AtomicBool = AtomicBool::new(false);

/// Keeps XSAVE (and AVX) off on every CPU; call before [`init_xsave`].
pub fn disable_xsave() {
    XSAVE_DISABLED.store(true, Ordering::Relaxed);
}

/// Enables XSAVE with every wanted component the CPU has, unless
/// disabled (call on each CPU after `init_features`, once the command line
/// is known); without XSAVE, FXSAVE covers x87 and SSE.
pub fn init_xsave() {
    if XSAVE_DISABLED.load(Ordering::Relaxed) {
        return;
    }
    use x86_64::registers::control::{Cr4, Cr4Flags};
    #[allow(unused_unsafe)]
    // SAFETY: CPUID leaf 1 exists on every x86_64 CPU.
    let leaf1 = unsafe { __cpuid(1) };
    if leaf1.ecx & (1 << 26) == 0 {
        return;
    }
    #[allow(unused_unsafe)]
    // SAFETY: leaf 0xD exists when XSAVE does.
    let d0 = unsafe { core::arch::x86_64::__cpuid_count(0xd, 0) };
    let supported = ((d0.edx as u64) << 32) | d0.eax as u64;
    let xcr0 = supported & XCR0_WANTED;
    // SAFETY: OSXSAVE is allowed as XSAVE exists; XCR0 gets only supported
    // bits, always including x87 (bit 0), as XSETBV requires.
    unsafe {
        Cr4::update(|f| f.insert(Cr4Flags::OSXSAVE));
        core::arch::asm!("xsetbv", in("ecx") 0u32, in("eax") xcr0 as u32, in("edx") (xcr0 >> 32) as u32, options(nomem, nostack));
    }
    #[allow(unused_unsafe)]
    // SAFETY: as above; EBX now reports the size for the enabled set.
    let size = unsafe { core::arch::x86_64::__cpuid_count(0xd, 0) }.ebx as usize;
    FPU_AREA_SIZE.store(size.max(576), Ordering::Relaxed);
    USE_XSAVE.store(true, Ordering::Relaxed);
}

/// How user FPU state is saved, for the boot log.
pub fn fpu_mode() -> (&'static str, usize) {
    let size = FPU_AREA_SIZE.load(Ordering::Relaxed);
    (
        if USE_XSAVE.load(Ordering::Relaxed) {
            "XSAVE"
        } else {
            "FXSAVE"
        },
        size,
    )
}

/// The x87/SSE/AVX registers of a user thread while it is off the CPU, in
/// XSAVE format (or FXSAVE without XSAVE), 64-byte aligned.
pub struct FpuState {
    area: core::ptr::NonNull<u8>,
    layout: core::alloc::Layout,
}

// SAFETY: plain owned memory.
unsafe impl Send for FpuState {}

impl FpuState {
    /// The state a new thread starts with: every component in its initial
    /// state (x87 control word 0x37f, all exceptions masked) and MXCSR
    /// 0x1f80 (all SIMD exceptions masked).
    pub fn initial() -> Self {
        let size = FPU_AREA_SIZE.load(Ordering::Relaxed);
        let layout = core::alloc::Layout::from_size_align(size, 64).expect("valid FPU area layout");
        // SAFETY: non-zero size.
        let ptr = unsafe { alloc::alloc::alloc_zeroed(layout) };
        let area = core::ptr::NonNull::new(ptr)
            .unwrap_or_else(|| alloc::alloc::handle_alloc_error(layout));
        // SAFETY: the area is at least 512 bytes; FCW at 0, MXCSR at 24.
        // With XSAVE a zero header (XSTATE_BV = 0) means "initial state".
        unsafe {
            ptr.cast::<u16>().write(0x037f);
            ptr.add(24).cast::<u32>().write(0x1f80);
        }
        FpuState { area, layout }
    }

    /// Saves this CPU's registers here.
    pub fn save(&mut self) {
        let p = self.area.as_ptr();
        if USE_XSAVE.load(Ordering::Relaxed) {
            // SAFETY: the area has the size CPUID reports for XCR0 and is
            // 64-byte aligned; EDX:EAX = all components.
            unsafe {
                core::arch::asm!("xsave64 [{}]", in(reg) p, in("eax") u32::MAX, in("edx") u32::MAX, options(nostack))
            };
        } else {
            // SAFETY: 512 bytes, 16-byte aligned, as FXSAVE needs.
            unsafe { core::arch::asm!("fxsave64 [{}]", in(reg) p, options(nostack)) };
        }
    }

    /// Loads the registers from here.
    pub fn restore(&self) {
        let p = self.area.as_ptr();
        if USE_XSAVE.load(Ordering::Relaxed) {
            // SAFETY: the image came from XSAVE or `initial` (valid header,
            // reserved MXCSR bits clear), so XRSTOR cannot fault.
            unsafe {
                core::arch::asm!("xrstor64 [{}]", in(reg) p, in("eax") u32::MAX, in("edx") u32::MAX, options(nostack))
            };
        } else {
            // SAFETY: as in `save`; a valid FXSAVE image.
            unsafe { core::arch::asm!("fxrstor64 [{}]", in(reg) p, options(nostack)) };
        }
    }
}

impl Drop for FpuState {
    fn drop(&mut self) {
        // SAFETY: allocated in `initial` with this layout.
        unsafe { alloc::alloc::dealloc(self.area.as_ptr(), self.layout) };
    }
}

/// One past the highest physical address the CPU can address
/// (CPUID.80000008h:EAX[7:0]; 36 bits when the leaf is missing).
pub fn phys_addr_limit() -> u64 {
    #[allow(unused_unsafe)]
    // SAFETY: leaf 0x80000000 exists on every x86_64 CPU and says whether
    // 0x80000008 does.
    let max = unsafe { __cpuid(0x8000_0000) }.eax;
    let bits = if max >= 0x8000_0008 {
        #[allow(unused_unsafe)]
        // SAFETY: checked just above.
        let eax = unsafe { __cpuid(0x8000_0008) }.eax;
        (eax & 0xff).clamp(32, 52)
    } else {
        36
    };
    1 << bits
}

/// Whether this CPU has MONITOR/MWAIT (CPUID.01H:ECX bit 3), checked once
/// by the boot CPU (all CPUs of a machine agree).
static HAS_MWAIT: AtomicBool = AtomicBool::new(false);

/// Detects MONITOR/MWAIT for [`wait_for_write`]. Under a hypervisor
/// (CPUID.01H:ECX bit 31) it is left unused: there MWAIT is emulated, and
/// QEMU's TCG leaves its CPU loop on every one (measured: cross-CPU wake-ups
/// several times slower than a `pause` loop).
pub fn init_mwait() {
    #[allow(unused_unsafe)]
    // SAFETY: CPUID leaf 1 exists on every x86_64 CPU.
    let leaf1 = unsafe { core::arch::x86_64::__cpuid(1) };
    let monitor = leaf1.ecx & (1 << 3) != 0;
    let hypervisor = leaf1.ecx & (1 << 31) != 0;
    HAS_MWAIT.store(monitor && !hypervisor, Ordering::Relaxed);
}

pub fn has_mwait() -> bool {
    HAS_MWAIT.load(Ordering::Relaxed)
}

/// Arms the monitor on the cache line of `addr`, then, unless `ready()`
/// already holds, enables interrupts and waits (`sti; mwait`) until that
/// line is written or an interrupt comes. Returns with interrupts off.
/// A write between the arming and the wait ends the wait at once, so a
/// store to `addr` after `ready()` looked is never missed. Only when
/// [`has_mwait`].
pub fn wait_for_write(addr: *const u8, ready: impl FnOnce() -> bool) {
    // SAFETY: MONITOR only reads the address (any mapped kernel address
    // does; it is not dereferenced); ECX/EDX = 0: no extensions or hints.
    unsafe {
        core::arch::asm!("monitor", in("rax") addr, in("ecx") 0, in("edx") 0,
            options(nostack, preserves_flags));
    }
    if ready() {
        return;
    }
    // SAFETY: `sti` takes effect after the next instruction, so an
    // interrupt cannot slip in between it and MWAIT (the same guarantee
    // as `sti; hlt`); EAX = 0: C1, ECX = 0: no extensions. The `cli`
    // restores the caller's interrupts-off state.
    unsafe {
        core::arch::asm!("sti", "mwait", "cli", in("eax") 0, in("ecx") 0,
            options(nostack));
    }
}
